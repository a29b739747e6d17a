-- A book finance can close (issue 22). Additive: an existing ledger upgrades in place.

-- Each entry carries its own currency (NULL: written before entries kept one; it follows its
-- action's), the statement month it is booked in, in the configured time zone (NULL: written
-- before; its UTC month), the closed month it concerns when it landed in a later open month,
-- and whether it came after the action cleared (a clawback).
ALTER TABLE ledger_entries ADD COLUMN currency TEXT;
ALTER TABLE ledger_entries ADD COLUMN month TEXT;
ALTER TABLE ledger_entries ADD COLUMN concerns TEXT;
ALTER TABLE ledger_entries ADD COLUMN after_clearing BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX ledger_entries_month ON ledger_entries (month);

-- The currency and event date of each event: the action's currency comes from its set.
ALTER TABLE action_events ADD COLUMN currency TEXT;
ALTER TABLE action_events ADD COLUMN event_date TIMESTAMP;

-- `ledger_date` is when the action cleared (a clearing named it: its LedgerDate, else the
-- clearing's arrival); set for every cleared action, so "cleared" is `ledger_date IS NOT NULL`.
-- `cleared_date` stays what impact.com sends: the date scheduled to clear.
CREATE INDEX actions_ledger_date ON actions (ledger_date, action_id);

-- What cleared, booked once per action: its payout and amount at that moment, pointing at the
-- clearing delivery (origin 'clearing'; the network's records will add their own origin).
CREATE TABLE clearances (
    id BIGSERIAL PRIMARY KEY,
    action_id TEXT NOT NULL UNIQUE REFERENCES actions (action_id),
    delivery_id BIGINT REFERENCES deliveries (id),
    origin TEXT NOT NULL,
    cleared_at TIMESTAMP NOT NULL,
    payout BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT,
    month TEXT NOT NULL,
    concerns TEXT,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX clearances_month ON clearances (month);
CREATE FUNCTION booked_facts_never_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: a booked fact or a closed month never changes', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER clearances_no_update BEFORE UPDATE OR DELETE ON clearances
    FOR EACH ROW EXECUTE FUNCTION booked_facts_never_change();

-- Actions a clearing named before clearings were booked: booked now, at what they are now.
INSERT INTO clearances (action_id, delivery_id, origin, cleared_at, payout, amount, currency,
                        month, concerns, recorded_at)
SELECT a.action_id, c.delivery_id, 'clearing', COALESCE(c.ledger_date, c.received_at),
       a.payout, a.amount, a.payout_currency,
       SUBSTR(CAST(COALESCE(c.ledger_date, c.received_at) AS TEXT), 1, 7), NULL, c.received_at
FROM clearings c JOIN actions a ON a.action_id = c.action_id
WHERE c.id IN (SELECT MIN(id) FROM clearings WHERE action_id IS NOT NULL GROUP BY action_id);
UPDATE actions
SET ledger_date = (SELECT cleared_at FROM clearances WHERE clearances.action_id = actions.action_id)
WHERE ledger_date IS NULL AND action_id IN (SELECT action_id FROM clearances);

-- Closed months: the statement as it stood, each row with a hash of the entries and clearances
-- behind it. Sums are exact decimal text (they may exceed BIGINT). Never changed.
CREATE TABLE closed_months (
    month TEXT PRIMARY KEY,
    time_zone TEXT NOT NULL,
    closed_at TIMESTAMP NOT NULL,
    closed_by TEXT NOT NULL
);
CREATE TABLE closed_statement_rows (
    id BIGSERIAL PRIMARY KEY,
    month TEXT NOT NULL REFERENCES closed_months (month),
    concerns TEXT,
    campaign_id TEXT,
    campaign_name TEXT,
    currency TEXT,
    tracked TEXT NOT NULL,
    modified TEXT NOT NULL,
    reversed TEXT NOT NULL,
    clawbacks TEXT NOT NULL,
    cleared TEXT NOT NULL,
    actions BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX closed_statement_rows_month ON closed_statement_rows (month, id);
CREATE TRIGGER closed_months_never_change BEFORE UPDATE OR DELETE ON closed_months
    FOR EACH ROW EXECUTE FUNCTION booked_facts_never_change();
CREATE TRIGGER closed_statement_rows_never_change BEFORE UPDATE OR DELETE ON closed_statement_rows
    FOR EACH ROW EXECUTE FUNCTION booked_facts_never_change();
