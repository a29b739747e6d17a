-- The cross-check against a network's own records (impact.com's API or its Action Listing
-- report). Money is BIGINT ten-thousandths; times are UTC without a zone.

-- Where an action event came from: a postback, or the network's own record filled in by a
-- reconciliation run. A change both report counts once (see domain/cross_check.rs).
ALTER TABLE action_events ADD COLUMN origin TEXT NOT NULL DEFAULT 'postback';

-- One row per sync or import: what it read, for which period, and how it ended.
CREATE TABLE reconciliation_runs (
    id INTEGER PRIMARY KEY,
    network TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    -- Actions whose event date is in [period_start, period_end).
    period_start TIMESTAMP NOT NULL,
    period_end TIMESTAMP NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    applied_at TIMESTAMP,
    records BIGINT NOT NULL DEFAULT 0,
    compared BIGINT NOT NULL DEFAULT 0,
    unreadable BIGINT NOT NULL DEFAULT 0,
    outside BIGINT NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0,
    -- How its records were read: canonical field -> the record's key or the report's column.
    column_map TEXT NOT NULL,
    file_name TEXT,
    -- Why it failed, or what could not be read. Never a credential.
    message TEXT
);
CREATE INDEX reconciliation_runs_network ON reconciliation_runs (network, status, id);

-- Every difference a run found, per action and kind.
CREATE TABLE reconciliation_differences (
    id INTEGER PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES reconciliation_runs (id),
    action_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    currency TEXT,
    event_date TIMESTAMP,
    network_status TEXT,
    ledger_status TEXT,
    network_payout BIGINT,
    ledger_payout BIGINT,
    network_amount BIGINT,
    ledger_amount BIGINT,
    payout_delta BIGINT NOT NULL,
    amount_delta BIGINT NOT NULL,
    network_cleared_at TIMESTAMP,
    fillable BOOLEAN NOT NULL,
    note TEXT NOT NULL,
    resolution TEXT NOT NULL,
    -- The delivery (kind network_record) that filled it.
    delivery_id BIGINT REFERENCES deliveries (id),
    -- The network's record as JSON, credentials removed; none for missing_there.
    record TEXT
);
CREATE UNIQUE INDEX reconciliation_differences_action ON reconciliation_differences (run_id, action_id, kind);
CREATE INDEX reconciliation_differences_list ON reconciliation_differences (run_id, id);
CREATE INDEX reconciliation_differences_kind ON reconciliation_differences (run_id, kind, currency);

-- Scratch: the action ids a running run has read, so a record listed twice is compared once
-- and the ledger's actions the network did not list are found without holding the period in
-- memory. Emptied when the run ends.
CREATE TABLE reconciliation_seen (
    run_id BIGINT NOT NULL,
    action_id TEXT NOT NULL,
    PRIMARY KEY (run_id, action_id)
);
