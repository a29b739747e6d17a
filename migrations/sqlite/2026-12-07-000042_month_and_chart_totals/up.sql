-- Running sums for the statement, the overview's month figures and its chart, so none of them
-- joins the ledger to the actions on a read (issues 24 and 25):
--
-- * month_totals: per statement month, concerned month, brand, currency and test marker, the
--   five statement columns (tracked, modified, reversed, clawbacks, cleared), the entries and the
--   actions behind them. An action counts once per row: the fact that first puts it in a row
--   adds it (the others find an earlier fact of the same action there).
-- * chart_totals: tracked and reversed payout per UTC quarter hour (every zone's offset is a
--   whole number of quarter hours; the reader folds quarters into the book's days) of the
--   action's event date ('event') and of the entry's recording ('recorded').
--
-- Keys never hold NULL: '' stands for none. Sums are two limbs, as in 000016. A brand's name is
-- the greatest its actions ever carried. `postback-ledger check` recomputes both tables.

CREATE TABLE month_totals (
    month TEXT NOT NULL,
    concerns TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    is_test BOOLEAN NOT NULL,
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
    PRIMARY KEY (month, concerns, campaign_id, currency, is_test)
);

CREATE TABLE chart_totals (
    date_by TEXT NOT NULL,
    quarter TEXT NOT NULL,
    currency TEXT NOT NULL,
    is_test BOOLEAN NOT NULL,
    tracked BIGINT NOT NULL,
    tracked_hi BIGINT NOT NULL,
    reversed BIGINT NOT NULL,
    reversed_hi BIGINT NOT NULL,
    PRIMARY KEY (date_by, quarter, currency, is_test)
);

INSERT INTO month_totals
SELECT month, concerns, campaign_id, currency, is_test, MAX(campaign_name),
       COUNT(DISTINCT action_id), SUM(entry),
       SUM(tracked % 1000000000), SUM(tracked / 1000000000),
       SUM(modified % 1000000000), SUM(modified / 1000000000),
       SUM(reversed % 1000000000), SUM(reversed / 1000000000),
       SUM(clawbacks % 1000000000), SUM(clawbacks / 1000000000),
       SUM(cleared % 1000000000), SUM(cleared / 1000000000)
FROM (
    SELECT COALESCE(e.month, SUBSTR(CAST(e.recorded_at AS TEXT), 1, 7)) AS month,
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

-- The quarter of a timestamp as text: 'YYYY-MM-DD HH:MM', MM one of 00, 15, 30, 45.
INSERT INTO chart_totals
SELECT date_by, quarter, currency, is_test,
       SUM(tracked % 1000000000), SUM(tracked / 1000000000),
       SUM(reversed % 1000000000), SUM(reversed / 1000000000)
FROM (
    SELECT 'recorded' AS date_by,
           SUBSTR(CAST(e.recorded_at AS TEXT), 1, 14) || SUBSTR('00153045', (CAST(SUBSTR(CAST(e.recorded_at AS TEXT), 15, 2) AS INTEGER) / 15) * 2 + 1, 2) AS quarter,
           COALESCE(e.currency, a.payout_currency, '') AS currency, a.is_test,
           CASE WHEN e.kind = 'tracked' THEN e.payout_delta ELSE 0 END AS tracked,
           CASE WHEN e.kind = 'reversed' THEN e.payout_delta ELSE 0 END AS reversed
    FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
    WHERE e.kind IN ('tracked', 'reversed')
    UNION ALL
    SELECT 'event',
           SUBSTR(CAST(a.event_date AS TEXT), 1, 14) || SUBSTR('00153045', (CAST(SUBSTR(CAST(a.event_date AS TEXT), 15, 2) AS INTEGER) / 15) * 2 + 1, 2),
           COALESCE(e.currency, a.payout_currency, ''), a.is_test,
           CASE WHEN e.kind = 'tracked' THEN e.payout_delta ELSE 0 END,
           CASE WHEN e.kind = 'reversed' THEN e.payout_delta ELSE 0 END
    FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
    WHERE e.kind IN ('tracked', 'reversed') AND a.event_date IS NOT NULL
) AS movements
GROUP BY date_by, quarter, currency, is_test;

CREATE TRIGGER month_totals_entry AFTER INSERT ON ledger_entries
BEGIN
    INSERT INTO month_totals
    SELECT COALESCE(NEW.month, SUBSTR(CAST(NEW.recorded_at AS TEXT), 1, 7)),
           COALESCE(NEW.concerns, ''), COALESCE(a.campaign_id, ''),
           COALESCE(NEW.currency, a.payout_currency, ''), a.is_test, a.campaign_name,
           NOT EXISTS (
               SELECT 1 FROM ledger_entries o
               WHERE o.action_id = NEW.action_id AND o.id <> NEW.id
                 AND COALESCE(o.month, SUBSTR(CAST(o.recorded_at AS TEXT), 1, 7))
                     = COALESCE(NEW.month, SUBSTR(CAST(NEW.recorded_at AS TEXT), 1, 7))
                 AND COALESCE(o.concerns, '') = COALESCE(NEW.concerns, '')
                 AND COALESCE(o.currency, a.payout_currency, '')
                     = COALESCE(NEW.currency, a.payout_currency, '')
           ) AND NOT EXISTS (
               SELECT 1 FROM clearances c
               WHERE c.action_id = NEW.action_id
                 AND c.month = COALESCE(NEW.month, SUBSTR(CAST(NEW.recorded_at AS TEXT), 1, 7))
                 AND COALESCE(c.concerns, '') = COALESCE(NEW.concerns, '')
                 AND COALESCE(c.currency, a.payout_currency, '')
                     = COALESCE(NEW.currency, a.payout_currency, '')
           ),
           1,
           CASE WHEN NEW.kind = 'tracked' THEN NEW.payout_delta % 1000000000 ELSE 0 END,
           CASE WHEN NEW.kind = 'tracked' THEN NEW.payout_delta / 1000000000 ELSE 0 END,
           CASE WHEN NEW.kind = 'modified' AND NOT NEW.after_clearing THEN NEW.payout_delta % 1000000000 ELSE 0 END,
           CASE WHEN NEW.kind = 'modified' AND NOT NEW.after_clearing THEN NEW.payout_delta / 1000000000 ELSE 0 END,
           CASE WHEN NEW.kind = 'reversed' AND NOT NEW.after_clearing THEN NEW.payout_delta % 1000000000 ELSE 0 END,
           CASE WHEN NEW.kind = 'reversed' AND NOT NEW.after_clearing THEN NEW.payout_delta / 1000000000 ELSE 0 END,
           CASE WHEN NEW.after_clearing THEN NEW.payout_delta % 1000000000 ELSE 0 END,
           CASE WHEN NEW.after_clearing THEN NEW.payout_delta / 1000000000 ELSE 0 END,
           0, 0
    FROM actions a WHERE a.action_id = NEW.action_id
    ON CONFLICT DO UPDATE SET
        campaign_name = MAX(COALESCE(campaign_name, excluded.campaign_name),
                            COALESCE(excluded.campaign_name, campaign_name)),
        actions = actions + excluded.actions, entries = entries + excluded.entries,
        tracked = tracked + excluded.tracked, tracked_hi = tracked_hi + excluded.tracked_hi,
        modified = modified + excluded.modified, modified_hi = modified_hi + excluded.modified_hi,
        reversed = reversed + excluded.reversed, reversed_hi = reversed_hi + excluded.reversed_hi,
        clawbacks = clawbacks + excluded.clawbacks,
        clawbacks_hi = clawbacks_hi + excluded.clawbacks_hi;
END;

-- An action clears once (clearances.action_id is unique).
CREATE TRIGGER month_totals_clearance AFTER INSERT ON clearances
BEGIN
    INSERT INTO month_totals
    SELECT NEW.month, COALESCE(NEW.concerns, ''), COALESCE(a.campaign_id, ''),
           COALESCE(NEW.currency, a.payout_currency, ''), a.is_test, a.campaign_name,
           NOT EXISTS (
               SELECT 1 FROM ledger_entries o
               WHERE o.action_id = NEW.action_id
                 AND COALESCE(o.month, SUBSTR(CAST(o.recorded_at AS TEXT), 1, 7)) = NEW.month
                 AND COALESCE(o.concerns, '') = COALESCE(NEW.concerns, '')
                 AND COALESCE(o.currency, a.payout_currency, '')
                     = COALESCE(NEW.currency, a.payout_currency, '')
           ),
           0, 0, 0, 0, 0, 0, 0, 0, 0,
           NEW.payout % 1000000000, NEW.payout / 1000000000
    FROM actions a WHERE a.action_id = NEW.action_id
    ON CONFLICT DO UPDATE SET
        campaign_name = MAX(COALESCE(campaign_name, excluded.campaign_name),
                            COALESCE(excluded.campaign_name, campaign_name)),
        actions = actions + excluded.actions,
        cleared = cleared + excluded.cleared, cleared_hi = cleared_hi + excluded.cleared_hi;
END;

CREATE TRIGGER chart_totals_entry AFTER INSERT ON ledger_entries
WHEN NEW.kind IN ('tracked', 'reversed')
BEGIN
    INSERT INTO chart_totals
    SELECT 'recorded',
           SUBSTR(CAST(NEW.recorded_at AS TEXT), 1, 14) || SUBSTR('00153045', (CAST(SUBSTR(CAST(NEW.recorded_at AS TEXT), 15, 2) AS INTEGER) / 15) * 2 + 1, 2),
           COALESCE(NEW.currency, a.payout_currency, ''), a.is_test,
           CASE WHEN NEW.kind = 'tracked' THEN NEW.payout_delta % 1000000000 ELSE 0 END,
           CASE WHEN NEW.kind = 'tracked' THEN NEW.payout_delta / 1000000000 ELSE 0 END,
           CASE WHEN NEW.kind = 'reversed' THEN NEW.payout_delta % 1000000000 ELSE 0 END,
           CASE WHEN NEW.kind = 'reversed' THEN NEW.payout_delta / 1000000000 ELSE 0 END
    FROM actions a WHERE a.action_id = NEW.action_id
    ON CONFLICT DO UPDATE SET
        tracked = tracked + excluded.tracked, tracked_hi = tracked_hi + excluded.tracked_hi,
        reversed = reversed + excluded.reversed, reversed_hi = reversed_hi + excluded.reversed_hi;
    INSERT INTO chart_totals
    SELECT 'event',
           SUBSTR(CAST(a.event_date AS TEXT), 1, 14) || SUBSTR('00153045', (CAST(SUBSTR(CAST(a.event_date AS TEXT), 15, 2) AS INTEGER) / 15) * 2 + 1, 2),
           COALESCE(NEW.currency, a.payout_currency, ''), a.is_test,
           CASE WHEN NEW.kind = 'tracked' THEN NEW.payout_delta % 1000000000 ELSE 0 END,
           CASE WHEN NEW.kind = 'tracked' THEN NEW.payout_delta / 1000000000 ELSE 0 END,
           CASE WHEN NEW.kind = 'reversed' THEN NEW.payout_delta % 1000000000 ELSE 0 END,
           CASE WHEN NEW.kind = 'reversed' THEN NEW.payout_delta / 1000000000 ELSE 0 END
    FROM actions a WHERE a.action_id = NEW.action_id AND a.event_date IS NOT NULL
    ON CONFLICT DO UPDATE SET
        tracked = tracked + excluded.tracked, tracked_hi = tracked_hi + excluded.tracked_hi,
        reversed = reversed + excluded.reversed, reversed_hi = reversed_hi + excluded.reversed_hi;
END;

-- An action whose brand, currency or test marker changed takes its facts from their old rows
-- to their new ones (only facts without a currency of their own follow the action's), one
-- action per row each way.
CREATE TRIGGER month_totals_regroup AFTER UPDATE OF payout_currency, is_test, campaign_id ON actions
WHEN OLD.payout_currency IS NOT NEW.payout_currency OR OLD.is_test IS NOT NEW.is_test
  OR OLD.campaign_id IS NOT NEW.campaign_id
BEGIN
    INSERT INTO month_totals
    SELECT month, concerns, COALESCE(OLD.campaign_id, ''), COALESCE(currency, OLD.payout_currency, ''),
           OLD.is_test, NULL, -1, -SUM(entry),
           -SUM(tracked % 1000000000), -SUM(tracked / 1000000000),
           -SUM(modified % 1000000000), -SUM(modified / 1000000000),
           -SUM(reversed % 1000000000), -SUM(reversed / 1000000000),
           -SUM(clawbacks % 1000000000), -SUM(clawbacks / 1000000000),
           -SUM(cleared % 1000000000), -SUM(cleared / 1000000000)
    FROM (
        SELECT COALESCE(month, SUBSTR(CAST(recorded_at AS TEXT), 1, 7)) AS month,
               COALESCE(concerns, '') AS concerns, currency, 1 AS entry,
               CASE WHEN kind = 'tracked' THEN payout_delta ELSE 0 END AS tracked,
               CASE WHEN kind = 'modified' AND NOT after_clearing THEN payout_delta ELSE 0 END AS modified,
               CASE WHEN kind = 'reversed' AND NOT after_clearing THEN payout_delta ELSE 0 END AS reversed,
               CASE WHEN after_clearing THEN payout_delta ELSE 0 END AS clawbacks,
               0 AS cleared
        FROM ledger_entries WHERE action_id = NEW.action_id
        UNION ALL
        SELECT month, COALESCE(concerns, ''), currency, 0, 0, 0, 0, 0, payout
        FROM clearances WHERE action_id = NEW.action_id
    ) AS facts
    WHERE true
    GROUP BY 1, 2, 3, 4
    ON CONFLICT DO UPDATE SET
        actions = actions + excluded.actions, entries = entries + excluded.entries,
        tracked = tracked + excluded.tracked, tracked_hi = tracked_hi + excluded.tracked_hi,
        modified = modified + excluded.modified, modified_hi = modified_hi + excluded.modified_hi,
        reversed = reversed + excluded.reversed, reversed_hi = reversed_hi + excluded.reversed_hi,
        clawbacks = clawbacks + excluded.clawbacks,
        clawbacks_hi = clawbacks_hi + excluded.clawbacks_hi,
        cleared = cleared + excluded.cleared, cleared_hi = cleared_hi + excluded.cleared_hi;
    INSERT INTO month_totals
    SELECT month, concerns, COALESCE(NEW.campaign_id, ''), COALESCE(currency, NEW.payout_currency, ''),
           NEW.is_test, NEW.campaign_name, 1, SUM(entry),
           SUM(tracked % 1000000000), SUM(tracked / 1000000000),
           SUM(modified % 1000000000), SUM(modified / 1000000000),
           SUM(reversed % 1000000000), SUM(reversed / 1000000000),
           SUM(clawbacks % 1000000000), SUM(clawbacks / 1000000000),
           SUM(cleared % 1000000000), SUM(cleared / 1000000000)
    FROM (
        SELECT COALESCE(month, SUBSTR(CAST(recorded_at AS TEXT), 1, 7)) AS month,
               COALESCE(concerns, '') AS concerns, currency, 1 AS entry,
               CASE WHEN kind = 'tracked' THEN payout_delta ELSE 0 END AS tracked,
               CASE WHEN kind = 'modified' AND NOT after_clearing THEN payout_delta ELSE 0 END AS modified,
               CASE WHEN kind = 'reversed' AND NOT after_clearing THEN payout_delta ELSE 0 END AS reversed,
               CASE WHEN after_clearing THEN payout_delta ELSE 0 END AS clawbacks,
               0 AS cleared
        FROM ledger_entries WHERE action_id = NEW.action_id
        UNION ALL
        SELECT month, COALESCE(concerns, ''), currency, 0, 0, 0, 0, 0, payout
        FROM clearances WHERE action_id = NEW.action_id
    ) AS facts
    WHERE true
    GROUP BY 1, 2, 3, 4
    ON CONFLICT DO UPDATE SET
        campaign_name = MAX(COALESCE(campaign_name, excluded.campaign_name),
                            COALESCE(excluded.campaign_name, campaign_name)),
        actions = actions + excluded.actions, entries = entries + excluded.entries,
        tracked = tracked + excluded.tracked, tracked_hi = tracked_hi + excluded.tracked_hi,
        modified = modified + excluded.modified, modified_hi = modified_hi + excluded.modified_hi,
        reversed = reversed + excluded.reversed, reversed_hi = reversed_hi + excluded.reversed_hi,
        clawbacks = clawbacks + excluded.clawbacks,
        clawbacks_hi = clawbacks_hi + excluded.clawbacks_hi,
        cleared = cleared + excluded.cleared, cleared_hi = cleared_hi + excluded.cleared_hi;
END;

-- An action whose event date, currency or test marker changed moves its tracked and reversed
-- entries on the chart.
CREATE TRIGGER chart_totals_regroup AFTER UPDATE OF event_date, payout_currency, is_test ON actions
WHEN OLD.event_date IS NOT NEW.event_date OR OLD.payout_currency IS NOT NEW.payout_currency
  OR OLD.is_test IS NOT NEW.is_test
BEGIN
    INSERT INTO chart_totals
    SELECT date_by,
           SUBSTR(at, 1, 14) || SUBSTR('00153045', (CAST(SUBSTR(at, 15, 2) AS INTEGER) / 15) * 2 + 1, 2),
           currency, is_test, SUM(tracked % 1000000000), SUM(tracked / 1000000000),
           SUM(reversed % 1000000000), SUM(reversed / 1000000000)
    FROM (
        SELECT 'recorded' AS date_by, CAST(recorded_at AS TEXT) AS at,
               COALESCE(currency, OLD.payout_currency, '') AS currency, OLD.is_test AS is_test,
               CASE WHEN kind = 'tracked' THEN -payout_delta ELSE 0 END AS tracked,
               CASE WHEN kind = 'reversed' THEN -payout_delta ELSE 0 END AS reversed
        FROM ledger_entries WHERE action_id = NEW.action_id AND kind IN ('tracked', 'reversed')
        UNION ALL
        SELECT 'recorded', CAST(recorded_at AS TEXT), COALESCE(currency, NEW.payout_currency, ''),
               NEW.is_test,
               CASE WHEN kind = 'tracked' THEN payout_delta ELSE 0 END,
               CASE WHEN kind = 'reversed' THEN payout_delta ELSE 0 END
        FROM ledger_entries WHERE action_id = NEW.action_id AND kind IN ('tracked', 'reversed')
        UNION ALL
        SELECT 'event', CAST(OLD.event_date AS TEXT), COALESCE(currency, OLD.payout_currency, ''),
               OLD.is_test,
               CASE WHEN kind = 'tracked' THEN -payout_delta ELSE 0 END,
               CASE WHEN kind = 'reversed' THEN -payout_delta ELSE 0 END
        FROM ledger_entries
        WHERE action_id = NEW.action_id AND kind IN ('tracked', 'reversed')
          AND OLD.event_date IS NOT NULL
        UNION ALL
        SELECT 'event', CAST(NEW.event_date AS TEXT), COALESCE(currency, NEW.payout_currency, ''),
               NEW.is_test,
               CASE WHEN kind = 'tracked' THEN payout_delta ELSE 0 END,
               CASE WHEN kind = 'reversed' THEN payout_delta ELSE 0 END
        FROM ledger_entries
        WHERE action_id = NEW.action_id AND kind IN ('tracked', 'reversed')
          AND NEW.event_date IS NOT NULL
    ) AS moves
    WHERE true
    GROUP BY 1, 2, 3, 4
    ON CONFLICT DO UPDATE SET
        tracked = tracked + excluded.tracked, tracked_hi = tracked_hi + excluded.tracked_hi,
        reversed = reversed + excluded.reversed, reversed_hi = reversed_hi + excluded.reversed_hi;
END;
