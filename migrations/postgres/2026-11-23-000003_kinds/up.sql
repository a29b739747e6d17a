-- The kinds beside action lifecycle: inquiries' normalized status, clearings matched to actions,
-- catalog items, completed jobs and tracking value requests. Money is BIGINT ten-thousandths.

-- The normalized status (pending, approved, declined, incomplete, unknown) beside the raw word.
ALTER TABLE inquiries ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE inquiries ADD COLUMN media_partner_id TEXT;
CREATE INDEX inquiries_status ON inquiries (status, inquiry_id);
ALTER TABLE inquiry_events ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE inquiry_events ADD COLUMN inquiry_type TEXT;
ALTER TABLE inquiry_events ADD COLUMN resolution_date TIMESTAMP;

-- What a cleared id matched: an action (cleared), a reversed action, a placeholder made for an id
-- never tracked, or nothing (an order id no action carries).
ALTER TABLE clearings ADD COLUMN campaign_id TEXT;
ALTER TABLE clearings ADD COLUMN matched TEXT NOT NULL DEFAULT 'cleared';
CREATE INDEX clearings_order ON clearings (campaign_id, order_id);

-- Product catalog items, upserted by (catalog id, item id); the last change wins.
CREATE TABLE catalog_items (
    catalog_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    source TEXT NOT NULL,
    name TEXT,
    price BIGINT,
    currency TEXT,
    stock TEXT,
    change_type TEXT,
    changed_fields TEXT,
    extra TEXT,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    PRIMARY KEY (catalog_id, item_id)
);

-- Completed export jobs with their result URLs (a JSON list of url, minutes and expiry).
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    job_type TEXT,
    account_id TEXT,
    start_date TIMESTAMP,
    end_date TIMESTAMP,
    records_processed TEXT,
    detail_uri TEXT,
    result_uri TEXT,
    result_urls TEXT,
    extra TEXT,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);

-- Tracking value requests, one per delivery, searchable by action id.
CREATE TABLE tracking_value_requests (
    delivery_id BIGINT PRIMARY KEY REFERENCES deliveries (id),
    source TEXT NOT NULL,
    action_id TEXT NOT NULL,
    campaign_id TEXT,
    action_tracker_id TEXT,
    media_partner_id TEXT,
    order_id TEXT,
    amount BIGINT,
    currency TEXT,
    event_date TIMESTAMP,
    click_id TEXT,
    ip_address TEXT,
    items TEXT,
    extra TEXT,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX tracking_value_requests_action ON tracking_value_requests (action_id, delivery_id);

-- Deliveries of these kinds received before they were handled were kept in the inbox only
-- (outcome applied, nothing else stored). Quarantine them so `postback-ledger reprocess` applies
-- them now.
UPDATE deliveries
SET outcome = 'quarantined',
    reason = 'received before this kind of postback was handled: run postback-ledger reprocess'
WHERE kind <> 'action_lifecycle' AND outcome = 'applied';
