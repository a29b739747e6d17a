-- Running sums behind the overview, /api/summary and the lists' unfiltered totals, as SQLite
-- keeps them (its migrations 000011 and 000016), so a page reads a few hundred rows instead of
-- summing every action. Two things differ from SQLite's row triggers:
--
-- * The triggers are per statement, over its transition tables: the writer stores a batch in a
--   few multi-row statements, so a batch applies one upsert per touched sum, not one per action.
-- * Each sum is spread over slots (the backend's pid modulo 16), summed on read. Two writers
--   (or instances) that touch the same sum update different rows and do not queue behind each
--   other's commit; a pid collision only queues, and the lock order inside each upsert is the
--   key order. See docs/performance.md.
--
-- `postback-ledger check` recomputes both tables and names any difference.

CREATE TABLE action_totals (
    currency TEXT NOT NULL,
    is_test BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    cleared BOOLEAN NOT NULL,
    locking_day TEXT NOT NULL,
    slot SMALLINT NOT NULL,
    actions BIGINT NOT NULL,
    payout BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    payout_hi BIGINT NOT NULL,
    amount_hi BIGINT NOT NULL,
    PRIMARY KEY (currency, is_test, status, cleared, locking_day, slot)
);

CREATE TABLE entry_totals (
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    is_test BOOLEAN NOT NULL,
    slot SMALLINT NOT NULL,
    entries BIGINT NOT NULL,
    payout BIGINT NOT NULL,
    payout_hi BIGINT NOT NULL,
    PRIMARY KEY (day, kind, currency, is_test, slot)
);

-- Recomputes both tables from the ledger (the migration, the benchmark's fill).
CREATE FUNCTION rebuild_running_totals() RETURNS void LANGUAGE sql AS $$
    DELETE FROM action_totals;
    INSERT INTO action_totals
    SELECT COALESCE(payout_currency, ''), is_test, status, ledger_date IS NOT NULL,
           COALESCE(to_char(locking_date, 'YYYY-MM-DD'), ''), 0, COUNT(*),
           SUM(payout % 1000000000), SUM(amount % 1000000000),
           SUM(payout / 1000000000), SUM(amount / 1000000000)
    FROM actions GROUP BY 1, 2, 3, 4, 5;
    DELETE FROM entry_totals;
    INSERT INTO entry_totals
    SELECT to_char(e.recorded_at, 'YYYY-MM-DD'), e.kind,
           COALESCE(e.currency, a.payout_currency, ''), a.is_test, 0, COUNT(*),
           SUM(e.payout_delta % 1000000000), SUM(e.payout_delta / 1000000000)
    FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
    GROUP BY 1, 2, 3, 4;
$$;

SELECT rebuild_running_totals();

-- Each function adds signed rows (n = +1 for a row as it is now, -1 as it was) to a table of
-- sums: one upsert per touched sum, in key order; sums that cancel out are not touched.
CREATE FUNCTION action_totals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH signed AS (
        SELECT COALESCE(payout_currency, '') AS currency, is_test, status,
               ledger_date IS NOT NULL AS cleared,
               COALESCE(to_char(locking_date, 'YYYY-MM-DD'), '') AS locking_day,
               1 AS n, payout AS payout, amount AS amount
        FROM new_rows
    )
    INSERT INTO action_totals AS t
    SELECT currency, is_test, status, cleared, locking_day, (pg_backend_pid() % 16), SUM(n),
           SUM(payout % 1000000000), SUM(amount % 1000000000), SUM(payout / 1000000000),
           SUM(amount / 1000000000)
    FROM signed GROUP BY 1, 2, 3, 4, 5
    HAVING SUM(n) <> 0 OR SUM(payout % 1000000000) <> 0 OR SUM(amount % 1000000000) <> 0
        OR SUM(payout / 1000000000) <> 0 OR SUM(amount / 1000000000) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (currency, is_test, status, cleared, locking_day, slot) DO UPDATE
    SET actions = t.actions + excluded.actions, payout = t.payout + excluded.payout,
        amount = t.amount + excluded.amount, payout_hi = t.payout_hi + excluded.payout_hi,
        amount_hi = t.amount_hi + excluded.amount_hi;
    RETURN NULL;
END;
$$;

CREATE FUNCTION action_totals_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH signed AS (
        SELECT COALESCE(payout_currency, '') AS currency, is_test, status,
               ledger_date IS NOT NULL AS cleared,
               COALESCE(to_char(locking_date, 'YYYY-MM-DD'), '') AS locking_day,
               -1 AS n, -payout AS payout, -amount AS amount
        FROM old_rows
    )
    INSERT INTO action_totals AS t
    SELECT currency, is_test, status, cleared, locking_day, (pg_backend_pid() % 16), SUM(n),
           SUM(payout % 1000000000), SUM(amount % 1000000000), SUM(payout / 1000000000),
           SUM(amount / 1000000000)
    FROM signed GROUP BY 1, 2, 3, 4, 5
    HAVING SUM(n) <> 0 OR SUM(payout % 1000000000) <> 0 OR SUM(amount % 1000000000) <> 0
        OR SUM(payout / 1000000000) <> 0 OR SUM(amount / 1000000000) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (currency, is_test, status, cleared, locking_day, slot) DO UPDATE
    SET actions = t.actions + excluded.actions, payout = t.payout + excluded.payout,
        amount = t.amount + excluded.amount, payout_hi = t.payout_hi + excluded.payout_hi,
        amount_hi = t.amount_hi + excluded.amount_hi;
    RETURN NULL;
END;
$$;

-- An update also moves the entries of an action whose currency or test marker changed (only
-- entries without a currency of their own follow their action's; the test marker moves all).
CREATE FUNCTION action_totals_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH signed AS (
        SELECT COALESCE(payout_currency, '') AS currency, is_test, status,
               ledger_date IS NOT NULL AS cleared,
               COALESCE(to_char(locking_date, 'YYYY-MM-DD'), '') AS locking_day,
               -1 AS n, -payout AS payout, -amount AS amount
        FROM old_rows
        UNION ALL
        SELECT COALESCE(payout_currency, '') AS currency, is_test, status,
               ledger_date IS NOT NULL AS cleared,
               COALESCE(to_char(locking_date, 'YYYY-MM-DD'), '') AS locking_day,
               1 AS n, payout AS payout, amount AS amount
        FROM new_rows
    )
    INSERT INTO action_totals AS t
    SELECT currency, is_test, status, cleared, locking_day, (pg_backend_pid() % 16), SUM(n),
           SUM(payout % 1000000000), SUM(amount % 1000000000), SUM(payout / 1000000000),
           SUM(amount / 1000000000)
    FROM signed GROUP BY 1, 2, 3, 4, 5
    HAVING SUM(n) <> 0 OR SUM(payout % 1000000000) <> 0 OR SUM(amount % 1000000000) <> 0
        OR SUM(payout / 1000000000) <> 0 OR SUM(amount / 1000000000) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (currency, is_test, status, cleared, locking_day, slot) DO UPDATE
    SET actions = t.actions + excluded.actions, payout = t.payout + excluded.payout,
        amount = t.amount + excluded.amount, payout_hi = t.payout_hi + excluded.payout_hi,
        amount_hi = t.amount_hi + excluded.amount_hi;
    WITH moved AS (
        SELECT o.action_id, o.payout_currency AS old_currency, o.is_test AS old_test,
               n.payout_currency AS new_currency, n.is_test AS new_test
        FROM old_rows o JOIN new_rows n ON n.action_id = o.action_id
        WHERE o.payout_currency IS DISTINCT FROM n.payout_currency OR o.is_test <> n.is_test
    ), signed AS (
        SELECT to_char(e.recorded_at, 'YYYY-MM-DD') AS day, e.kind,
               COALESCE(e.currency, m.old_currency, '') AS currency, m.old_test AS is_test,
               -1 AS n, -e.payout_delta AS payout
        FROM moved m JOIN ledger_entries e ON e.action_id = m.action_id
        UNION ALL
        SELECT to_char(e.recorded_at, 'YYYY-MM-DD'), e.kind,
               COALESCE(e.currency, m.new_currency, ''), m.new_test, 1, e.payout_delta
        FROM moved m JOIN ledger_entries e ON e.action_id = m.action_id
    )
    INSERT INTO entry_totals AS t
    SELECT day, kind, currency, is_test, (pg_backend_pid() % 16), SUM(n),
           SUM(payout % 1000000000), SUM(payout / 1000000000)
    FROM signed GROUP BY 1, 2, 3, 4
    HAVING SUM(n) <> 0 OR SUM(payout % 1000000000) <> 0 OR SUM(payout / 1000000000) <> 0
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (day, kind, currency, is_test, slot) DO UPDATE
    SET entries = t.entries + excluded.entries, payout = t.payout + excluded.payout,
        payout_hi = t.payout_hi + excluded.payout_hi;
    RETURN NULL;
END;
$$;

CREATE FUNCTION entry_totals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH signed AS (
        SELECT to_char(e.recorded_at, 'YYYY-MM-DD') AS day, e.kind,
               COALESCE(e.currency, a.payout_currency, '') AS currency, a.is_test,
               1 AS n, e.payout_delta AS payout
        FROM new_rows e JOIN actions a ON a.action_id = e.action_id
    )
    INSERT INTO entry_totals AS t
    SELECT day, kind, currency, is_test, (pg_backend_pid() % 16), SUM(n),
           SUM(payout % 1000000000), SUM(payout / 1000000000)
    FROM signed GROUP BY 1, 2, 3, 4
    HAVING SUM(n) <> 0 OR SUM(payout % 1000000000) <> 0 OR SUM(payout / 1000000000) <> 0
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (day, kind, currency, is_test, slot) DO UPDATE
    SET entries = t.entries + excluded.entries, payout = t.payout + excluded.payout,
        payout_hi = t.payout_hi + excluded.payout_hi;
    RETURN NULL;
END;
$$;

-- Transition tables need one trigger per event.
CREATE TRIGGER action_totals_insert AFTER INSERT ON actions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION action_totals_inserted();
CREATE TRIGGER action_totals_update AFTER UPDATE ON actions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION action_totals_updated();
CREATE TRIGGER action_totals_delete AFTER DELETE ON actions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION action_totals_deleted();
CREATE TRIGGER entry_totals_insert AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION entry_totals_inserted();
