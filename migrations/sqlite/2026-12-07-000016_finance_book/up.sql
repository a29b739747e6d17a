-- A book finance can close (issue 22). Additive: an existing ledger upgrades in place.

-- Each entry carries its own currency (NULL: written before entries kept one; it follows its
-- action's), the statement month it is booked in, in the configured time zone (NULL: written
-- before; its UTC month), the closed month it concerns when it landed in a later open month,
-- and whether it came after the action cleared (a clawback).
ALTER TABLE ledger_entries ADD COLUMN currency TEXT;
ALTER TABLE ledger_entries ADD COLUMN month TEXT;
ALTER TABLE ledger_entries ADD COLUMN concerns TEXT;
ALTER TABLE ledger_entries ADD COLUMN after_clearing BOOLEAN NOT NULL DEFAULT 0;
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
    id INTEGER PRIMARY KEY,
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
CREATE TRIGGER clearances_no_update BEFORE UPDATE ON clearances
BEGIN
    SELECT RAISE(ABORT, 'clearances is append-only');
END;
CREATE TRIGGER clearances_no_delete BEFORE DELETE ON clearances
BEGIN
    SELECT RAISE(ABORT, 'clearances is append-only');
END;

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
    id INTEGER PRIMARY KEY,
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
CREATE TRIGGER closed_months_no_update BEFORE UPDATE ON closed_months
BEGIN
    SELECT RAISE(ABORT, 'a closed month never changes');
END;
CREATE TRIGGER closed_months_no_delete BEFORE DELETE ON closed_months
BEGIN
    SELECT RAISE(ABORT, 'a closed month never changes');
END;
CREATE TRIGGER closed_statement_rows_no_update BEFORE UPDATE ON closed_statement_rows
BEGIN
    SELECT RAISE(ABORT, 'a closed month never changes');
END;
CREATE TRIGGER closed_statement_rows_no_delete BEFORE DELETE ON closed_statement_rows
BEGIN
    SELECT RAISE(ABORT, 'a closed month never changes');
END;

-- The running sums follow: an action is cleared when it has `ledger_date` (not a scheduled
-- date), and an entry counts in its own currency. Each sum is kept as two limbs, the billions
-- (`*_hi`, v / 10^9) and the rest (v % 10^9), so SQLite's integer arithmetic never overflows
-- into a REAL: the reader joins them in i128.
ALTER TABLE action_totals ADD COLUMN payout_hi BIGINT NOT NULL DEFAULT 0;
ALTER TABLE action_totals ADD COLUMN amount_hi BIGINT NOT NULL DEFAULT 0;
ALTER TABLE entry_totals ADD COLUMN payout_hi BIGINT NOT NULL DEFAULT 0;

DROP TRIGGER action_totals_insert;
DROP TRIGGER action_totals_update;
DROP TRIGGER action_totals_delete;
DELETE FROM action_totals;
INSERT INTO action_totals (currency, is_test, status, cleared, locking_day, actions, payout,
                           amount, payout_hi, amount_hi)
SELECT COALESCE(payout_currency, ''), is_test, status, ledger_date IS NOT NULL,
       COALESCE(SUBSTR(locking_date, 1, 10), ''), COUNT(*), SUM(payout % 1000000000),
       SUM(amount % 1000000000), SUM(payout / 1000000000), SUM(amount / 1000000000)
FROM actions
GROUP BY 1, 2, 3, 4, 5;

CREATE TRIGGER action_totals_insert AFTER INSERT ON actions
BEGIN
    INSERT INTO action_totals (currency, is_test, status, cleared, locking_day, actions, payout,
                               amount, payout_hi, amount_hi)
    VALUES (COALESCE(NEW.payout_currency, ''), NEW.is_test, NEW.status,
            NEW.ledger_date IS NOT NULL, COALESCE(SUBSTR(NEW.locking_date, 1, 10), ''),
            1, NEW.payout % 1000000000, NEW.amount % 1000000000, NEW.payout / 1000000000,
            NEW.amount / 1000000000)
    ON CONFLICT DO UPDATE SET actions = actions + 1, payout = payout + excluded.payout,
                              amount = amount + excluded.amount,
                              payout_hi = payout_hi + excluded.payout_hi,
                              amount_hi = amount_hi + excluded.amount_hi;
END;

CREATE TRIGGER action_totals_update
AFTER UPDATE OF payout_currency, is_test, status, ledger_date, locking_date, payout, amount ON actions
WHEN OLD.payout_currency IS NOT NEW.payout_currency OR OLD.is_test IS NOT NEW.is_test
  OR OLD.status IS NOT NEW.status OR OLD.ledger_date IS NOT NEW.ledger_date
  OR OLD.locking_date IS NOT NEW.locking_date OR OLD.payout IS NOT NEW.payout
  OR OLD.amount IS NOT NEW.amount
BEGIN
    UPDATE action_totals
    SET actions = actions - 1, payout = payout - OLD.payout % 1000000000,
        amount = amount - OLD.amount % 1000000000,
        payout_hi = payout_hi - OLD.payout / 1000000000,
        amount_hi = amount_hi - OLD.amount / 1000000000
    WHERE currency = COALESCE(OLD.payout_currency, '') AND is_test = OLD.is_test
      AND status = OLD.status AND cleared = (OLD.ledger_date IS NOT NULL)
      AND locking_day = COALESCE(SUBSTR(OLD.locking_date, 1, 10), '');
    INSERT INTO action_totals (currency, is_test, status, cleared, locking_day, actions, payout,
                               amount, payout_hi, amount_hi)
    VALUES (COALESCE(NEW.payout_currency, ''), NEW.is_test, NEW.status,
            NEW.ledger_date IS NOT NULL, COALESCE(SUBSTR(NEW.locking_date, 1, 10), ''),
            1, NEW.payout % 1000000000, NEW.amount % 1000000000, NEW.payout / 1000000000,
            NEW.amount / 1000000000)
    ON CONFLICT DO UPDATE SET actions = actions + 1, payout = payout + excluded.payout,
                              amount = amount + excluded.amount,
                              payout_hi = payout_hi + excluded.payout_hi,
                              amount_hi = amount_hi + excluded.amount_hi;
END;

CREATE TRIGGER action_totals_delete AFTER DELETE ON actions
BEGIN
    UPDATE action_totals
    SET actions = actions - 1, payout = payout - OLD.payout % 1000000000,
        amount = amount - OLD.amount % 1000000000,
        payout_hi = payout_hi - OLD.payout / 1000000000,
        amount_hi = amount_hi - OLD.amount / 1000000000
    WHERE currency = COALESCE(OLD.payout_currency, '') AND is_test = OLD.is_test
      AND status = OLD.status AND cleared = (OLD.ledger_date IS NOT NULL)
      AND locking_day = COALESCE(SUBSTR(OLD.locking_date, 1, 10), '');
END;

DROP TRIGGER entry_totals_insert;
DROP TRIGGER entry_totals_regroup;
DELETE FROM entry_totals;
INSERT INTO entry_totals (day, kind, currency, is_test, entries, payout, payout_hi)
SELECT SUBSTR(e.recorded_at, 1, 10), e.kind, COALESCE(e.currency, a.payout_currency, ''),
       a.is_test, COUNT(*), SUM(e.payout_delta % 1000000000), SUM(e.payout_delta / 1000000000)
FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
GROUP BY 1, 2, 3, 4;

CREATE TRIGGER entry_totals_insert AFTER INSERT ON ledger_entries
BEGIN
    INSERT INTO entry_totals (day, kind, currency, is_test, entries, payout, payout_hi)
    SELECT SUBSTR(NEW.recorded_at, 1, 10), NEW.kind,
           COALESCE(NEW.currency, a.payout_currency, ''), a.is_test, 1,
           NEW.payout_delta % 1000000000, NEW.payout_delta / 1000000000
    FROM actions a WHERE a.action_id = NEW.action_id
    ON CONFLICT DO UPDATE SET entries = entries + 1, payout = payout + excluded.payout,
                              payout_hi = payout_hi + excluded.payout_hi;
END;

-- Only entries without a currency of their own follow their action's; the test marker moves
-- every entry of the action.
CREATE TRIGGER entry_totals_regroup AFTER UPDATE OF payout_currency, is_test ON actions
WHEN OLD.payout_currency IS NOT NEW.payout_currency OR OLD.is_test IS NOT NEW.is_test
BEGIN
    INSERT INTO entry_totals (day, kind, currency, is_test, entries, payout, payout_hi)
    SELECT SUBSTR(recorded_at, 1, 10), kind, COALESCE(currency, OLD.payout_currency, ''),
           OLD.is_test, -COUNT(*), -SUM(payout_delta % 1000000000),
           -SUM(payout_delta / 1000000000)
    FROM ledger_entries WHERE action_id = NEW.action_id GROUP BY 1, 2, 3
    ON CONFLICT DO UPDATE SET entries = entries + excluded.entries,
                              payout = payout + excluded.payout,
                              payout_hi = payout_hi + excluded.payout_hi;
    INSERT INTO entry_totals (day, kind, currency, is_test, entries, payout, payout_hi)
    SELECT SUBSTR(recorded_at, 1, 10), kind, COALESCE(currency, NEW.payout_currency, ''),
           NEW.is_test, COUNT(*), SUM(payout_delta % 1000000000),
           SUM(payout_delta / 1000000000)
    FROM ledger_entries WHERE action_id = NEW.action_id GROUP BY 1, 2, 3
    ON CONFLICT DO UPDATE SET entries = entries + excluded.entries,
                              payout = payout + excluded.payout,
                              payout_hi = payout_hi + excluded.payout_hi;
END;
