-- Restores the running sums' earlier triggers (cleared by scheduled date, entries in their
-- action's currency); the booked facts and closed months are dropped.
DROP TRIGGER entry_totals_regroup;
DROP TRIGGER entry_totals_insert;
DROP TRIGGER action_totals_delete;
DROP TRIGGER action_totals_update;
DROP TRIGGER action_totals_insert;
UPDATE entry_totals SET payout = payout + payout_hi * 1000000000;
UPDATE action_totals SET payout = payout + payout_hi * 1000000000,
                         amount = amount + amount_hi * 1000000000;
ALTER TABLE entry_totals DROP COLUMN payout_hi;
ALTER TABLE action_totals DROP COLUMN amount_hi;
ALTER TABLE action_totals DROP COLUMN payout_hi;
DROP TABLE closed_statement_rows;
DROP TABLE closed_months;
DROP TABLE clearances;
DROP INDEX actions_ledger_date;
ALTER TABLE action_events DROP COLUMN event_date;
ALTER TABLE action_events DROP COLUMN currency;
DROP INDEX ledger_entries_month;
DROP TRIGGER ledger_entries_no_update;
DROP TRIGGER ledger_entries_no_delete;
ALTER TABLE ledger_entries DROP COLUMN after_clearing;
ALTER TABLE ledger_entries DROP COLUMN concerns;
ALTER TABLE ledger_entries DROP COLUMN month;
ALTER TABLE ledger_entries DROP COLUMN currency;
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only');
END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only');
END;
CREATE TRIGGER action_totals_insert AFTER INSERT ON actions
BEGIN
    INSERT INTO action_totals
    VALUES (COALESCE(NEW.payout_currency, ''), NEW.is_test, NEW.status,
            NEW.cleared_date IS NOT NULL, COALESCE(SUBSTR(NEW.locking_date, 1, 10), ''),
            1, NEW.payout, NEW.amount)
    ON CONFLICT DO UPDATE SET actions = actions + 1, payout = payout + excluded.payout,
                              amount = amount + excluded.amount;
END;
CREATE TRIGGER action_totals_update
AFTER UPDATE OF payout_currency, is_test, status, cleared_date, locking_date, payout, amount ON actions
WHEN OLD.payout_currency IS NOT NEW.payout_currency OR OLD.is_test IS NOT NEW.is_test
  OR OLD.status IS NOT NEW.status OR OLD.cleared_date IS NOT NEW.cleared_date
  OR OLD.locking_date IS NOT NEW.locking_date OR OLD.payout IS NOT NEW.payout
  OR OLD.amount IS NOT NEW.amount
BEGIN
    UPDATE action_totals
    SET actions = actions - 1, payout = payout - OLD.payout, amount = amount - OLD.amount
    WHERE currency = COALESCE(OLD.payout_currency, '') AND is_test = OLD.is_test
      AND status = OLD.status AND cleared = (OLD.cleared_date IS NOT NULL)
      AND locking_day = COALESCE(SUBSTR(OLD.locking_date, 1, 10), '');
    INSERT INTO action_totals
    VALUES (COALESCE(NEW.payout_currency, ''), NEW.is_test, NEW.status,
            NEW.cleared_date IS NOT NULL, COALESCE(SUBSTR(NEW.locking_date, 1, 10), ''),
            1, NEW.payout, NEW.amount)
    ON CONFLICT DO UPDATE SET actions = actions + 1, payout = payout + excluded.payout,
                              amount = amount + excluded.amount;
END;
CREATE TRIGGER action_totals_delete AFTER DELETE ON actions
BEGIN
    UPDATE action_totals
    SET actions = actions - 1, payout = payout - OLD.payout, amount = amount - OLD.amount
    WHERE currency = COALESCE(OLD.payout_currency, '') AND is_test = OLD.is_test
      AND status = OLD.status AND cleared = (OLD.cleared_date IS NOT NULL)
      AND locking_day = COALESCE(SUBSTR(OLD.locking_date, 1, 10), '');
END;
CREATE TRIGGER entry_totals_insert AFTER INSERT ON ledger_entries
BEGIN
    INSERT INTO entry_totals
    SELECT SUBSTR(NEW.recorded_at, 1, 10), NEW.kind, COALESCE(a.payout_currency, ''),
           a.is_test, 1, NEW.payout_delta
    FROM actions a WHERE a.action_id = NEW.action_id
    ON CONFLICT DO UPDATE SET entries = entries + 1, payout = payout + excluded.payout;
END;
CREATE TRIGGER entry_totals_regroup AFTER UPDATE OF payout_currency, is_test ON actions
WHEN OLD.payout_currency IS NOT NEW.payout_currency OR OLD.is_test IS NOT NEW.is_test
BEGIN
    INSERT INTO entry_totals
    SELECT SUBSTR(recorded_at, 1, 10), kind, COALESCE(OLD.payout_currency, ''), OLD.is_test,
           -COUNT(*), -SUM(payout_delta)
    FROM ledger_entries WHERE action_id = NEW.action_id GROUP BY 1, 2
    ON CONFLICT DO UPDATE SET entries = entries + excluded.entries,
                              payout = payout + excluded.payout;
    INSERT INTO entry_totals
    SELECT SUBSTR(recorded_at, 1, 10), kind, COALESCE(NEW.payout_currency, ''), NEW.is_test,
           COUNT(*), SUM(payout_delta)
    FROM ledger_entries WHERE action_id = NEW.action_id GROUP BY 1, 2
    ON CONFLICT DO UPDATE SET entries = entries + excluded.entries,
                              payout = payout + excluded.payout;
END;
