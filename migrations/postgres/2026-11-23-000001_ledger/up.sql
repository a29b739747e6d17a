-- The whole ledger. Money is BIGINT in ten-thousandths of a currency unit (scale 4): exact on
-- both backends. Times are UTC, without a zone, truncated to microseconds.

-- The inbox: every authenticated request, raw (credentials removed), deduplicated by dedup_key.
CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    dedup_key TEXT NOT NULL UNIQUE,
    received_at TIMESTAMP NOT NULL,
    last_received_at TIMESTAMP NOT NULL,
    times_received INTEGER NOT NULL DEFAULT 1,
    method TEXT NOT NULL,
    content_type TEXT,
    query TEXT NOT NULL,
    body BYTEA,
    client_addr TEXT,
    outcome TEXT NOT NULL,
    reason TEXT,
    warnings TEXT,
    subject_id TEXT,
    payload TEXT,
    pruned_at TIMESTAMP
);
CREATE INDEX deliveries_received_at ON deliveries (received_at, id);
CREATE INDEX deliveries_outcome ON deliveries (outcome, id);
CREATE INDEX deliveries_subject ON deliveries (subject_id);

-- One row per action: the reconciled state.
CREATE TABLE actions (
    action_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    status_raw TEXT,
    payout BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    payout_currency TEXT,
    amount_currency TEXT,
    campaign_id TEXT,
    campaign_name TEXT,
    action_tracker_id TEXT,
    action_tracker_name TEXT,
    media_partner_id TEXT,
    order_id TEXT,
    shared_id TEXT,
    sub_id1 TEXT,
    sub_id2 TEXT,
    sub_id3 TEXT,
    click_id TEXT,
    promo_code TEXT,
    event_date TIMESTAMP,
    creation_date TIMESTAMP,
    locking_date TIMESTAMP,
    cleared_date TIMESTAMP,
    ledger_date TIMESTAMP,
    flags TEXT NOT NULL DEFAULT '',
    items TEXT,
    extra TEXT,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    reviewed_at TIMESTAMP
);
CREATE INDEX actions_status ON actions (status, action_id);
CREATE INDEX actions_event_date ON actions (event_date, action_id);
CREATE INDEX actions_order_id ON actions (order_id);
CREATE INDEX actions_shared_id ON actions (shared_id);
CREATE INDEX actions_click_id ON actions (click_id);
CREATE INDEX actions_campaign ON actions (campaign_id);

-- The distinct events received per action: the set the state is computed from.
CREATE TABLE action_events (
    delivery_id BIGINT PRIMARY KEY REFERENCES deliveries (id),
    action_id TEXT NOT NULL REFERENCES actions (action_id),
    status TEXT NOT NULL,
    status_raw TEXT,
    payout BIGINT,
    delta_payout BIGINT,
    amount BIGINT,
    delta_amount BIGINT,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX action_events_action ON action_events (action_id, delivery_id);

-- Append-only money movements; per action they sum to its payout and amount.
CREATE TABLE ledger_entries (
    id BIGSERIAL PRIMARY KEY,
    action_id TEXT NOT NULL REFERENCES actions (action_id),
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
    kind TEXT NOT NULL,
    payout_delta BIGINT NOT NULL,
    amount_delta BIGINT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX ledger_entries_action ON ledger_entries (action_id, id);
CREATE INDEX ledger_entries_recorded_at ON ledger_entries (recorded_at);

CREATE FUNCTION ledger_entries_are_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_are_append_only();

-- Action inquiries and every change they went through.
CREATE TABLE inquiries (
    inquiry_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    resolution_status TEXT,
    inquiry_type TEXT,
    expected_payout BIGINT,
    final_payout BIGINT,
    transaction_amount BIGINT,
    campaign_id TEXT,
    campaign_name TEXT,
    order_id TEXT,
    action_id TEXT,
    transaction_date TIMESTAMP,
    resolution_deadline_date TIMESTAMP,
    auto_approval_date TIMESTAMP,
    resolution_date TIMESTAMP,
    creation_date TIMESTAMP,
    reject_reason TEXT,
    inquiry_notes TEXT,
    resolution_notes TEXT,
    comments TEXT,
    tracking_link TEXT,
    flags TEXT NOT NULL DEFAULT '',
    extra TEXT,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);
CREATE INDEX inquiries_action ON inquiries (action_id);
CREATE INDEX inquiries_order ON inquiries (campaign_id, order_id);

CREATE TABLE inquiry_events (
    delivery_id BIGINT PRIMARY KEY REFERENCES deliveries (id),
    inquiry_id TEXT NOT NULL REFERENCES inquiries (inquiry_id),
    resolution_status TEXT,
    final_payout BIGINT,
    reject_reason TEXT,
    resolution_notes TEXT,
    comments TEXT,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX inquiry_events_inquiry ON inquiry_events (inquiry_id, delivery_id);

-- Clearing events, one row per cleared id.
CREATE TABLE clearings (
    id BIGSERIAL PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
    action_id TEXT,
    order_id TEXT,
    cleared_date TIMESTAMP,
    ledger_date TIMESTAMP,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX clearings_action ON clearings (action_id);

-- Refused requests, bounded by pruning to the newest rows.
CREATE TABLE auth_failures (
    id BIGSERIAL PRIMARY KEY,
    occurred_at TIMESTAMP NOT NULL,
    source TEXT NOT NULL,
    client_addr TEXT,
    failed_check TEXT NOT NULL,
    method TEXT NOT NULL
);
CREATE INDEX auth_failures_occurred_at ON auth_failures (occurred_at);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
