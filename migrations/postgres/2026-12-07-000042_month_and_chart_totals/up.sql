-- Running sums for the statement, the overview's month figures and its chart, as SQLite keeps
-- them (its 000042 says what each holds), with PostgreSQL's two differences from 000040: the
-- triggers are per statement over transition tables (one upsert per touched row per batch), and
-- each row is spread over slots by the writer's pid (summed on read).
--
-- An action counts once per month_totals row: the statement that first puts a fact of it there
-- adds it (the writer serializes an action's facts behind its row lock, so two statements never
-- add the same action at once).

CREATE TABLE month_totals (
    month TEXT NOT NULL,
    concerns TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    is_test BOOLEAN NOT NULL,
    slot SMALLINT NOT NULL,
    campaign_name TEXT,
    actions BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    tracked BIGINT NOT NULL,
    tracked_hi BIGINT NOT NULL,
    modified BIGINT NOT NULL,
    modified_hi BIGINT NOT NULL,
    reversed BIGINT NOT NULL,
    reversed_hi BIGINT NOT NULL,
    clawbacks BIGINT NOT NULL,
    clawbacks_hi BIGINT NOT NULL,
    cleared BIGINT NOT NULL,
    cleared_hi BIGINT NOT NULL,
    PRIMARY KEY (month, concerns, campaign_id, currency, is_test, slot)
);

CREATE TABLE chart_totals (
    date_by TEXT NOT NULL,
    quarter TEXT NOT NULL,
    currency TEXT NOT NULL,
    is_test BOOLEAN NOT NULL,
    slot SMALLINT NOT NULL,
    tracked BIGINT NOT NULL,
    tracked_hi BIGINT NOT NULL,
    reversed BIGINT NOT NULL,
    reversed_hi BIGINT NOT NULL,
    PRIMARY KEY (date_by, quarter, currency, is_test, slot)
);

-- A timestamp's UTC quarter hour as text: 'YYYY-MM-DD HH:MM', MM one of 00, 15, 30, 45.
CREATE FUNCTION quarter_of(at TIMESTAMP) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(at, 'YYYY-MM-DD HH24:') || lpad(((EXTRACT(MINUTE FROM at)::int / 15) * 15)::text, 2, '0')
$$;

-- A ledger entry's statement month (entries written before months were stored: their UTC month).
CREATE FUNCTION entry_month(month TEXT, recorded_at TIMESTAMP) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(month, to_char(recorded_at, 'YYYY-MM'))
$$;

INSERT INTO month_totals
SELECT month, concerns, campaign_id, currency, is_test, 0, MAX(campaign_name),
       COUNT(DISTINCT action_id), SUM(entry),
       SUM(tracked % 1000000000), SUM(tracked / 1000000000),
       SUM(modified % 1000000000), SUM(modified / 1000000000),
       SUM(reversed % 1000000000), SUM(reversed / 1000000000),
       SUM(clawbacks % 1000000000), SUM(clawbacks / 1000000000),
       SUM(cleared % 1000000000), SUM(cleared / 1000000000)
FROM (
    SELECT entry_month(e.month, e.recorded_at) AS month,
           COALESCE(e.concerns, '') AS concerns, COALESCE(a.campaign_id, '') AS campaign_id,
           COALESCE(e.currency, a.payout_currency, '') AS currency, a.is_test,
           a.campaign_name, e.action_id, 1 AS entry,
           CASE WHEN e.kind = 'tracked' THEN e.payout_delta ELSE 0 END AS tracked,
           CASE WHEN e.kind = 'modified' AND NOT e.after_clearing THEN e.payout_delta ELSE 0 END AS modified,
           CASE WHEN e.kind = 'reversed' AND NOT e.after_clearing THEN e.payout_delta ELSE 0 END AS reversed,
           CASE WHEN e.after_clearing THEN e.payout_delta ELSE 0 END AS clawbacks,
           0 AS cleared
    FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
    UNION ALL
    SELECT c.month, COALESCE(c.concerns, ''), COALESCE(a.campaign_id, ''),
           COALESCE(c.currency, a.payout_currency, ''), a.is_test, a.campaign_name, c.action_id,
           0, 0, 0, 0, 0, c.payout
    FROM clearances c JOIN actions a ON a.action_id = c.action_id
) AS facts
GROUP BY month, concerns, campaign_id, currency, is_test;

INSERT INTO chart_totals
SELECT date_by, quarter, currency, is_test, 0,
       SUM(tracked % 1000000000), SUM(tracked / 1000000000),
       SUM(reversed % 1000000000), SUM(reversed / 1000000000)
FROM (
    SELECT 'recorded' AS date_by, quarter_of(e.recorded_at) AS quarter,
           COALESCE(e.currency, a.payout_currency, '') AS currency, a.is_test,
           CASE WHEN e.kind = 'tracked' THEN e.payout_delta ELSE 0 END AS tracked,
           CASE WHEN e.kind = 'reversed' THEN e.payout_delta ELSE 0 END AS reversed
    FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
    WHERE e.kind IN ('tracked', 'reversed')
    UNION ALL
    SELECT 'event', quarter_of(a.event_date), COALESCE(e.currency, a.payout_currency, ''),
           a.is_test,
           CASE WHEN e.kind = 'tracked' THEN e.payout_delta ELSE 0 END,
           CASE WHEN e.kind = 'reversed' THEN e.payout_delta ELSE 0 END
    FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
    WHERE e.kind IN ('tracked', 'reversed') AND a.event_date IS NOT NULL
) AS movements
GROUP BY date_by, quarter, currency, is_test;

CREATE FUNCTION month_totals_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH facts AS (
        SELECT e.action_id, entry_month(e.month, e.recorded_at) AS month,
               COALESCE(e.concerns, '') AS concerns, COALESCE(a.campaign_id, '') AS campaign_id,
               COALESCE(e.currency, a.payout_currency, '') AS currency,
               a.payout_currency AS action_currency, a.is_test, a.campaign_name,
               CASE WHEN e.kind = 'tracked' THEN e.payout_delta ELSE 0 END AS tracked,
               CASE WHEN e.kind = 'modified' AND NOT e.after_clearing THEN e.payout_delta ELSE 0 END AS modified,
               CASE WHEN e.kind = 'reversed' AND NOT e.after_clearing THEN e.payout_delta ELSE 0 END AS reversed,
               CASE WHEN e.after_clearing THEN e.payout_delta ELSE 0 END AS clawbacks
        FROM new_rows e JOIN actions a ON a.action_id = e.action_id
    ), per_action AS (
        SELECT f.month, f.concerns, f.campaign_id, f.currency, f.is_test,
               MAX(f.campaign_name) AS campaign_name,
               CASE WHEN EXISTS (
                        SELECT 1 FROM ledger_entries o
                        WHERE o.action_id = f.action_id
                          AND entry_month(o.month, o.recorded_at) = f.month
                          AND COALESCE(o.concerns, '') = f.concerns
                          AND COALESCE(o.currency, f.action_currency, '') = f.currency
                          AND NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.id = o.id))
                    OR EXISTS (
                        SELECT 1 FROM clearances c
                        WHERE c.action_id = f.action_id AND c.month = f.month
                          AND COALESCE(c.concerns, '') = f.concerns
                          AND COALESCE(c.currency, f.action_currency, '') = f.currency)
                    THEN 0 ELSE 1 END AS actions,
               COUNT(*) AS entries,
               SUM(tracked % 1000000000) AS tracked, SUM(tracked / 1000000000) AS tracked_hi,
               SUM(modified % 1000000000) AS modified, SUM(modified / 1000000000) AS modified_hi,
               SUM(reversed % 1000000000) AS reversed, SUM(reversed / 1000000000) AS reversed_hi,
               SUM(clawbacks % 1000000000) AS clawbacks,
               SUM(clawbacks / 1000000000) AS clawbacks_hi
        FROM facts f
        GROUP BY f.month, f.concerns, f.campaign_id, f.currency, f.is_test, f.action_id,
                 f.action_currency
    )
    INSERT INTO month_totals AS t
    SELECT month, concerns, campaign_id, currency, is_test, (pg_backend_pid() % 16),
           MAX(campaign_name), SUM(actions), SUM(entries), SUM(tracked), SUM(tracked_hi),
           SUM(modified), SUM(modified_hi), SUM(reversed), SUM(reversed_hi), SUM(clawbacks),
           SUM(clawbacks_hi), 0, 0
    FROM per_action GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (month, concerns, campaign_id, currency, is_test, slot) DO UPDATE
    SET campaign_name = GREATEST(t.campaign_name, excluded.campaign_name),
        actions = t.actions + excluded.actions, entries = t.entries + excluded.entries,
        tracked = t.tracked + excluded.tracked, tracked_hi = t.tracked_hi + excluded.tracked_hi,
        modified = t.modified + excluded.modified,
        modified_hi = t.modified_hi + excluded.modified_hi,
        reversed = t.reversed + excluded.reversed,
        reversed_hi = t.reversed_hi + excluded.reversed_hi,
        clawbacks = t.clawbacks + excluded.clawbacks,
        clawbacks_hi = t.clawbacks_hi + excluded.clawbacks_hi;

    WITH moves AS (
        SELECT 'recorded' AS date_by, quarter_of(e.recorded_at) AS quarter,
               COALESCE(e.currency, a.payout_currency, '') AS currency, a.is_test,
               CASE WHEN e.kind = 'tracked' THEN e.payout_delta ELSE 0 END AS tracked,
               CASE WHEN e.kind = 'reversed' THEN e.payout_delta ELSE 0 END AS reversed
        FROM new_rows e JOIN actions a ON a.action_id = e.action_id
        WHERE e.kind IN ('tracked', 'reversed')
        UNION ALL
        SELECT 'event', quarter_of(a.event_date), COALESCE(e.currency, a.payout_currency, ''),
               a.is_test,
               CASE WHEN e.kind = 'tracked' THEN e.payout_delta ELSE 0 END,
               CASE WHEN e.kind = 'reversed' THEN e.payout_delta ELSE 0 END
        FROM new_rows e JOIN actions a ON a.action_id = e.action_id
        WHERE e.kind IN ('tracked', 'reversed') AND a.event_date IS NOT NULL
    )
    INSERT INTO chart_totals AS t
    SELECT date_by, quarter, currency, is_test, (pg_backend_pid() % 16),
           SUM(tracked % 1000000000), SUM(tracked / 1000000000),
           SUM(reversed % 1000000000), SUM(reversed / 1000000000)
    FROM moves GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (date_by, quarter, currency, is_test, slot) DO UPDATE
    SET tracked = t.tracked + excluded.tracked, tracked_hi = t.tracked_hi + excluded.tracked_hi,
        reversed = t.reversed + excluded.reversed,
        reversed_hi = t.reversed_hi + excluded.reversed_hi;
    RETURN NULL;
END;
$$;

-- An action clears once (clearances.action_id is unique).
CREATE FUNCTION month_totals_clearances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH per_action AS (
        SELECT c.month, COALESCE(c.concerns, '') AS concerns,
               COALESCE(a.campaign_id, '') AS campaign_id,
               COALESCE(c.currency, a.payout_currency, '') AS currency, a.is_test,
               a.campaign_name,
               CASE WHEN EXISTS (
                        SELECT 1 FROM ledger_entries o
                        WHERE o.action_id = c.action_id
                          AND entry_month(o.month, o.recorded_at) = c.month
                          AND COALESCE(o.concerns, '') = COALESCE(c.concerns, '')
                          AND COALESCE(o.currency, a.payout_currency, '')
                              = COALESCE(c.currency, a.payout_currency, ''))
                    THEN 0 ELSE 1 END AS actions,
               c.payout
        FROM new_rows c JOIN actions a ON a.action_id = c.action_id
    )
    INSERT INTO month_totals AS t
    SELECT month, concerns, campaign_id, currency, is_test, (pg_backend_pid() % 16),
           MAX(campaign_name), SUM(actions), 0, 0, 0, 0, 0, 0, 0, 0, 0,
           SUM(payout % 1000000000), SUM(payout / 1000000000)
    FROM per_action GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (month, concerns, campaign_id, currency, is_test, slot) DO UPDATE
    SET campaign_name = GREATEST(t.campaign_name, excluded.campaign_name),
        actions = t.actions + excluded.actions,
        cleared = t.cleared + excluded.cleared, cleared_hi = t.cleared_hi + excluded.cleared_hi;
    RETURN NULL;
END;
$$;

-- Actions whose brand, currency, test marker or event date changed take their facts from their
-- old rows to their new ones (only facts without a currency of their own follow the action's),
-- one action per month_totals row each way.
CREATE FUNCTION month_and_chart_totals_regroup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH moved AS (
        SELECT o.action_id, -1 AS n, o.campaign_id, o.campaign_name, o.payout_currency,
               o.is_test, o.event_date
        FROM old_rows o JOIN new_rows w ON w.action_id = o.action_id
        WHERE o.payout_currency IS DISTINCT FROM w.payout_currency OR o.is_test <> w.is_test
           OR o.campaign_id IS DISTINCT FROM w.campaign_id
        UNION ALL
        SELECT w.action_id, 1, w.campaign_id, w.campaign_name, w.payout_currency, w.is_test,
               w.event_date
        FROM old_rows o JOIN new_rows w ON w.action_id = o.action_id
        WHERE o.payout_currency IS DISTINCT FROM w.payout_currency OR o.is_test <> w.is_test
           OR o.campaign_id IS DISTINCT FROM w.campaign_id
    ), facts AS (
        SELECT m.action_id, m.n, entry_month(e.month, e.recorded_at) AS month,
               COALESCE(e.concerns, '') AS concerns, COALESCE(m.campaign_id, '') AS campaign_id,
               COALESCE(e.currency, m.payout_currency, '') AS currency, m.is_test,
               m.campaign_name, 1 AS entry,
               CASE WHEN e.kind = 'tracked' THEN e.payout_delta ELSE 0 END AS tracked,
               CASE WHEN e.kind = 'modified' AND NOT e.after_clearing THEN e.payout_delta ELSE 0 END AS modified,
               CASE WHEN e.kind = 'reversed' AND NOT e.after_clearing THEN e.payout_delta ELSE 0 END AS reversed,
               CASE WHEN e.after_clearing THEN e.payout_delta ELSE 0 END AS clawbacks,
               0 AS cleared
        FROM moved m JOIN ledger_entries e ON e.action_id = m.action_id
        UNION ALL
        SELECT m.action_id, m.n, c.month, COALESCE(c.concerns, ''), COALESCE(m.campaign_id, ''),
               COALESCE(c.currency, m.payout_currency, ''), m.is_test, m.campaign_name,
               0, 0, 0, 0, 0, c.payout
        FROM moved m JOIN clearances c ON c.action_id = m.action_id
    ), per_action AS (
        SELECT month, concerns, campaign_id, currency, is_test, n,
               CASE WHEN n > 0 THEN MAX(campaign_name) END AS campaign_name,
               SUM(entry) * n AS entries,
               SUM(tracked % 1000000000) * n AS tracked, SUM(tracked / 1000000000) * n AS tracked_hi,
               SUM(modified % 1000000000) * n AS modified, SUM(modified / 1000000000) * n AS modified_hi,
               SUM(reversed % 1000000000) * n AS reversed, SUM(reversed / 1000000000) * n AS reversed_hi,
               SUM(clawbacks % 1000000000) * n AS clawbacks,
               SUM(clawbacks / 1000000000) * n AS clawbacks_hi,
               SUM(cleared % 1000000000) * n AS cleared, SUM(cleared / 1000000000) * n AS cleared_hi
        FROM facts GROUP BY month, concerns, campaign_id, currency, is_test, action_id, n
    )
    INSERT INTO month_totals AS t
    SELECT month, concerns, campaign_id, currency, is_test, (pg_backend_pid() % 16),
           MAX(campaign_name), SUM(n), SUM(entries), SUM(tracked), SUM(tracked_hi),
           SUM(modified), SUM(modified_hi), SUM(reversed), SUM(reversed_hi), SUM(clawbacks),
           SUM(clawbacks_hi), SUM(cleared), SUM(cleared_hi)
    FROM per_action GROUP BY 1, 2, 3, 4, 5
    HAVING SUM(n) <> 0 OR SUM(entries) <> 0 OR SUM(tracked) <> 0 OR SUM(tracked_hi) <> 0
        OR SUM(modified) <> 0 OR SUM(modified_hi) <> 0 OR SUM(reversed) <> 0
        OR SUM(reversed_hi) <> 0 OR SUM(clawbacks) <> 0 OR SUM(clawbacks_hi) <> 0
        OR SUM(cleared) <> 0 OR SUM(cleared_hi) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (month, concerns, campaign_id, currency, is_test, slot) DO UPDATE
    SET campaign_name = GREATEST(t.campaign_name, excluded.campaign_name),
        actions = t.actions + excluded.actions, entries = t.entries + excluded.entries,
        tracked = t.tracked + excluded.tracked, tracked_hi = t.tracked_hi + excluded.tracked_hi,
        modified = t.modified + excluded.modified,
        modified_hi = t.modified_hi + excluded.modified_hi,
        reversed = t.reversed + excluded.reversed,
        reversed_hi = t.reversed_hi + excluded.reversed_hi,
        clawbacks = t.clawbacks + excluded.clawbacks,
        clawbacks_hi = t.clawbacks_hi + excluded.clawbacks_hi,
        cleared = t.cleared + excluded.cleared, cleared_hi = t.cleared_hi + excluded.cleared_hi;

    WITH moved AS (
        SELECT o.action_id, -1 AS n, o.payout_currency, o.is_test, o.event_date
        FROM old_rows o JOIN new_rows w ON w.action_id = o.action_id
        WHERE o.payout_currency IS DISTINCT FROM w.payout_currency OR o.is_test <> w.is_test
           OR o.event_date IS DISTINCT FROM w.event_date
        UNION ALL
        SELECT w.action_id, 1, w.payout_currency, w.is_test, w.event_date
        FROM old_rows o JOIN new_rows w ON w.action_id = o.action_id
        WHERE o.payout_currency IS DISTINCT FROM w.payout_currency OR o.is_test <> w.is_test
           OR o.event_date IS DISTINCT FROM w.event_date
    ), moves AS (
        SELECT 'recorded' AS date_by, quarter_of(e.recorded_at) AS quarter,
               COALESCE(e.currency, m.payout_currency, '') AS currency, m.is_test,
               CASE WHEN e.kind = 'tracked' THEN m.n * e.payout_delta ELSE 0 END AS tracked,
               CASE WHEN e.kind = 'reversed' THEN m.n * e.payout_delta ELSE 0 END AS reversed
        FROM moved m JOIN ledger_entries e ON e.action_id = m.action_id
        WHERE e.kind IN ('tracked', 'reversed')
        UNION ALL
        SELECT 'event', quarter_of(m.event_date), COALESCE(e.currency, m.payout_currency, ''),
               m.is_test,
               CASE WHEN e.kind = 'tracked' THEN m.n * e.payout_delta ELSE 0 END,
               CASE WHEN e.kind = 'reversed' THEN m.n * e.payout_delta ELSE 0 END
        FROM moved m JOIN ledger_entries e ON e.action_id = m.action_id
        WHERE e.kind IN ('tracked', 'reversed') AND m.event_date IS NOT NULL
    )
    INSERT INTO chart_totals AS t
    SELECT date_by, quarter, currency, is_test, (pg_backend_pid() % 16),
           SUM(tracked % 1000000000), SUM(tracked / 1000000000),
           SUM(reversed % 1000000000), SUM(reversed / 1000000000)
    FROM moves GROUP BY 1, 2, 3, 4
    HAVING SUM(tracked % 1000000000) <> 0 OR SUM(tracked / 1000000000) <> 0
        OR SUM(reversed % 1000000000) <> 0 OR SUM(reversed / 1000000000) <> 0
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (date_by, quarter, currency, is_test, slot) DO UPDATE
    SET tracked = t.tracked + excluded.tracked, tracked_hi = t.tracked_hi + excluded.tracked_hi,
        reversed = t.reversed + excluded.reversed,
        reversed_hi = t.reversed_hi + excluded.reversed_hi;
    RETURN NULL;
END;
$$;

CREATE TRIGGER month_totals_entries AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION month_totals_entries();
CREATE TRIGGER month_totals_clearances AFTER INSERT ON clearances
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION month_totals_clearances();
CREATE TRIGGER month_and_chart_totals_regroup AFTER UPDATE ON actions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION month_and_chart_totals_regroup();
