-- Running sums behind the overview and the lists' unfiltered totals, kept by triggers in the
-- writer's own transaction, so reading them does not scan every action (SQLite reads rows at a
-- few hundred thousand a second: 100k actions took over 100 ms). PostgreSQL computes the same
-- sums from the tables (see storage/overview.rs): there several writers would queue on these
-- few hot rows. `postback-ledger check` recomputes both tables and names any difference.

-- Actions per currency, test marker, status, cleared or not, and the UTC day of the locking
-- date ('' when none): the day is what keeps "approved (locked)" derivable at read time.
CREATE TABLE action_totals (
    currency TEXT NOT NULL,
    is_test BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    cleared BOOLEAN NOT NULL,
    locking_day TEXT NOT NULL,
    actions BIGINT NOT NULL,
    payout BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (currency, is_test, status, cleared, locking_day)
);

INSERT INTO action_totals
SELECT COALESCE(payout_currency, ''), is_test, status, cleared_date IS NOT NULL,
       COALESCE(SUBSTR(locking_date, 1, 10), ''), COUNT(*), SUM(payout), SUM(amount)
FROM actions
GROUP BY 1, 2, 3, 4, 5;

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

-- Ledger entries per UTC day recorded, kind, and their action's currency and test marker.
CREATE TABLE entry_totals (
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    is_test BOOLEAN NOT NULL,
    entries BIGINT NOT NULL,
    payout BIGINT NOT NULL,
    PRIMARY KEY (day, kind, currency, is_test)
);

INSERT INTO entry_totals
SELECT SUBSTR(e.recorded_at, 1, 10), e.kind, COALESCE(a.payout_currency, ''), a.is_test,
       COUNT(*), SUM(e.payout_delta)
FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
GROUP BY 1, 2, 3, 4;

CREATE TRIGGER entry_totals_insert AFTER INSERT ON ledger_entries
BEGIN
    INSERT INTO entry_totals
    SELECT SUBSTR(NEW.recorded_at, 1, 10), NEW.kind, COALESCE(a.payout_currency, ''),
           a.is_test, 1, NEW.payout_delta
    FROM actions a WHERE a.action_id = NEW.action_id
    ON CONFLICT DO UPDATE SET entries = entries + 1, payout = payout + excluded.payout;
END;

-- An action's currency or test marker can arrive after its first entries: move its entries'
-- sums from the old group to the new one.
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
