-- What the dashboard's lists, searches and sums read by: keyset orders (newest received, by
-- status), the ids a partner searches by, the campaign and event type filters, the clearing
-- month, the overview's attention counts and the last delivery per source.
CREATE INDEX actions_first_seen ON actions (first_seen_at, action_id);
CREATE INDEX actions_status_first_seen ON actions (status, first_seen_at, action_id);
CREATE INDEX actions_locking_date ON actions (locking_date, action_id);
CREATE INDEX actions_cleared_date ON actions (cleared_date);
-- The ids a partner searches by are mostly empty: indexed only where present, so that
-- statistics (ANALYZE) do not make an index of NULLs look useless to the planner.
DROP INDEX actions_shared_id;
DROP INDEX actions_click_id;
CREATE INDEX actions_shared_id ON actions (shared_id) WHERE shared_id IS NOT NULL;
CREATE INDEX actions_click_id ON actions (click_id) WHERE click_id IS NOT NULL;
CREATE INDEX actions_sub_id1 ON actions (sub_id1) WHERE sub_id1 IS NOT NULL;
CREATE INDEX actions_sub_id2 ON actions (sub_id2) WHERE sub_id2 IS NOT NULL;
CREATE INDEX actions_sub_id3 ON actions (sub_id3) WHERE sub_id3 IS NOT NULL;
CREATE INDEX actions_campaign_name ON actions (campaign_name);
CREATE INDEX actions_tracker_id ON actions (action_tracker_id);
CREATE INDEX actions_tracker_name ON actions (action_tracker_name);
CREATE INDEX actions_needing_review ON actions (action_id) WHERE flags <> '' AND reviewed_at IS NULL;
CREATE INDEX ledger_entries_kind ON ledger_entries (kind, action_id);
CREATE INDEX deliveries_source ON deliveries (source, received_at);
CREATE INDEX inquiries_deadline ON inquiries (status, resolution_deadline_date);
