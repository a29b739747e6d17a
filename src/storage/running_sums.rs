//! `check`'s view of the running sums (migrations 000016, 000040, 000042): each table recomputed
//! from the tables it sums, every group that differs named.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::{AnyConnection, load_sql};

/// A group's key and values as text (`n n ... lo hi lo hi`), equal on both sides exactly when
/// the sums agree: the limbs of a sum are the sums of its facts' limbs.
#[derive(QueryableByName)]
struct Group {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    sums: String,
}

/// A running sum table: what it counts, what it sums (each as two limbs), and the two queries
/// giving `key, values` from it and from the tables.
struct Aggregate {
    table: &'static str,
    counts: &'static [&'static str],
    sums: &'static [&'static str],
    stored: String,
    recomputed: String,
}

/// `a || ' ' || b ...` of the values, as text in either dialect.
fn values(columns: &[String]) -> String {
    columns
        .iter()
        .map(|column| format!("CAST({column} AS TEXT)"))
        .collect::<Vec<_>>()
        .join(" || ' ' || ")
}

/// Sums of columns `names` and their `_hi` limbs, kept: `SUM(x), SUM(x_hi)`.
fn kept(counts: &[&str], sums: &[&str]) -> String {
    let mut columns: Vec<String> = counts.iter().map(|c| format!("SUM({c})")).collect();
    for sum in sums {
        columns.push(format!("SUM({sum})"));
        columns.push(format!("SUM({sum}_hi)"));
    }
    values(&columns)
}

/// The same from facts: `SUM(v % 10^9), SUM(v / 10^9)` of each summed expression.
fn summed(counts: &[&str], sums: &[&str]) -> String {
    let mut columns: Vec<String> = counts.iter().map(|c| (*c).to_owned()).collect();
    for sum in sums {
        columns.push(format!("SUM({sum} % 1000000000)"));
        columns.push(format!("SUM({sum} / 1000000000)"));
    }
    values(&columns)
}

/// A kept group that holds nothing (every value 0) is no group: the tables have none.
fn having_any(counts: &[&str], sums: &[&str]) -> String {
    let mut columns: Vec<String> = counts.iter().map(|c| format!("SUM({c}) <> 0")).collect();
    for sum in sums {
        columns.push(format!("SUM({sum}) <> 0 OR SUM({sum}_hi) <> 0"));
    }
    columns.join(" OR ")
}

fn aggregates(conn: &AnyConnection) -> Vec<Aggregate> {
    // The same key text from both sides, in each dialect's words.
    let (test, a_test, cleared, locking_day, entry_day) = match conn {
        AnyConnection::Sqlite(_) => (
            "is_test",
            "a.is_test",
            "(ledger_date IS NOT NULL)",
            "COALESCE(SUBSTR(locking_date, 1, 10), '')",
            "SUBSTR(e.recorded_at, 1, 10)",
        ),
        AnyConnection::Postgresql(_) => (
            "CAST(is_test AS TEXT)",
            "CAST(a.is_test AS TEXT)",
            "CAST(ledger_date IS NOT NULL AS TEXT)",
            "COALESCE(to_char(locking_date, 'YYYY-MM-DD'), '')",
            "to_char(e.recorded_at, 'YYYY-MM-DD')",
        ),
    };
    let stored_cleared = match conn {
        AnyConnection::Sqlite(_) => "cleared",
        AnyConnection::Postgresql(_) => "CAST(cleared AS TEXT)",
    };
    // Written here as the migrations' triggers would not: from the timestamp's text.
    let quarter = |at: &str| {
        format!(
            "SUBSTR(CAST({at} AS TEXT), 1, 14) || SUBSTR('00153045', \
             (CAST(SUBSTR(CAST({at} AS TEXT), 15, 2) AS INTEGER) / 15) * 2 + 1, 2)"
        )
    };
    let entry_month = "COALESCE(e.month, SUBSTR(CAST(e.recorded_at AS TEXT), 1, 7))";
    let tracked = "CASE WHEN e.kind = 'tracked' THEN e.payout_delta ELSE 0 END";
    let reversed = "CASE WHEN e.kind = 'reversed' THEN e.payout_delta ELSE 0 END";

    let action_sums: &[&str] = &["payout", "amount"];
    let entry_sums: &[&str] = &["payout"];
    let month_sums: &[&str] = &["tracked", "modified", "reversed", "clawbacks", "cleared"];
    let chart_sums: &[&str] = &["tracked", "reversed"];
    vec![
        Aggregate {
            table: "action_totals",
            counts: &["actions"],
            sums: action_sums,
            // PostgreSQL spreads a sum over slots: the GROUP BY adds them up.
            stored: format!(
                "SELECT currency || '/' || {test} || '/' || status || '/' || {stored_cleared} || '/' || locking_day AS key,
                        {} AS sums
                 FROM action_totals GROUP BY 1 HAVING {}",
                kept(&["actions"], action_sums),
                having_any(&["actions"], action_sums)
            ),
            recomputed: format!(
                "SELECT COALESCE(payout_currency, '') || '/' || {test} || '/' || status || '/' || {cleared} || '/' || {locking_day} AS key,
                        {} AS sums
                 FROM actions GROUP BY 1",
                summed(&["COUNT(*)"], action_sums)
            ),
        },
        Aggregate {
            table: "entry_totals",
            counts: &["entries"],
            sums: entry_sums,
            stored: format!(
                "SELECT day || '/' || kind || '/' || currency || '/' || {test} AS key, {} AS sums
                 FROM entry_totals GROUP BY 1 HAVING {}",
                kept(&["entries"], entry_sums),
                having_any(&["entries"], entry_sums)
            ),
            recomputed: format!(
                "SELECT {entry_day} || '/' || e.kind || '/' || COALESCE(e.currency, a.payout_currency, '') || '/' || {a_test} AS key,
                        {} AS sums
                 FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id GROUP BY 1",
                summed(&["COUNT(*)"], &["e.payout_delta"])
            ),
        },
        Aggregate {
            table: "month_totals",
            counts: &["actions", "entries"],
            sums: month_sums,
            stored: format!(
                "SELECT month || '/' || concerns || '/' || campaign_id || '/' || currency || '/' || {test} AS key,
                        {} AS sums
                 FROM month_totals GROUP BY 1 HAVING {}",
                kept(&["actions", "entries"], month_sums),
                having_any(&["actions", "entries"], month_sums)
            ),
            recomputed: format!(
                "SELECT key, {} AS sums FROM (
                     SELECT {entry_month} || '/' || COALESCE(e.concerns, '') || '/' || COALESCE(a.campaign_id, '') || '/' || COALESCE(e.currency, a.payout_currency, '') || '/' || {a_test} AS key,
                            e.action_id, 1 AS entry, {tracked} AS tracked,
                            CASE WHEN e.kind = 'modified' AND NOT e.after_clearing THEN e.payout_delta ELSE 0 END AS modified,
                            CASE WHEN e.kind = 'reversed' AND NOT e.after_clearing THEN e.payout_delta ELSE 0 END AS reversed,
                            CASE WHEN e.after_clearing THEN e.payout_delta ELSE 0 END AS clawbacks,
                            0 AS cleared
                     FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
                     UNION ALL
                     SELECT c.month || '/' || COALESCE(c.concerns, '') || '/' || COALESCE(a.campaign_id, '') || '/' || COALESCE(c.currency, a.payout_currency, '') || '/' || {a_test},
                            c.action_id, 0, 0, 0, 0, 0, c.payout
                     FROM clearances c JOIN actions a ON a.action_id = c.action_id
                 ) AS facts GROUP BY key",
                summed(&["COUNT(DISTINCT action_id)", "SUM(entry)"], month_sums)
            ),
        },
        Aggregate {
            table: "chart_totals",
            counts: &[],
            sums: chart_sums,
            stored: format!(
                "SELECT date_by || '/' || quarter || '/' || currency || '/' || {test} AS key,
                        {} AS sums
                 FROM chart_totals GROUP BY 1 HAVING {}",
                kept(&[], chart_sums),
                having_any(&[], chart_sums)
            ),
            recomputed: format!(
                "SELECT key, {} AS sums FROM (
                     SELECT 'recorded/' || {} || '/' || COALESCE(e.currency, a.payout_currency, '') || '/' || {a_test} AS key,
                            {tracked} AS tracked, {reversed} AS reversed
                     FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
                     WHERE e.kind IN ('tracked', 'reversed')
                     UNION ALL
                     SELECT 'event/' || {} || '/' || COALESCE(e.currency, a.payout_currency, '') || '/' || {a_test},
                            {tracked}, {reversed}
                     FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
                     WHERE e.kind IN ('tracked', 'reversed') AND a.event_date IS NOT NULL
                 ) AS movements GROUP BY key",
                summed(&[], chart_sums),
                quarter("e.recorded_at"),
                quarter("a.event_date")
            ),
        },
    ]
}

/// Where the running sums differ from the tables they sum (empty when they agree), every table,
/// each group named.
pub fn drift(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    let mut drift = Vec::new();
    for aggregate in aggregates(conn) {
        let stored: Vec<Group> = load_sql!(conn, aggregate.stored.clone(), |q| q)?;
        let recomputed: Vec<Group> = load_sql!(conn, aggregate.recomputed.clone(), |q| q)?;
        let by_key = |rows: Vec<Group>| {
            rows.into_iter()
                .map(|row| (row.key, row.sums))
                .collect::<BTreeMap<_, _>>()
        };
        let (stored, recomputed) = (by_key(stored), by_key(recomputed));
        let keys: BTreeSet<&String> = stored.keys().chain(recomputed.keys()).collect();
        for key in keys {
            let (kept, summed) = (stored.get(key), recomputed.get(key));
            if kept != summed {
                drift.push(format!(
                    "{} {key}: the running sum is {} but the tables sum to {}",
                    aggregate.table,
                    describe(&aggregate, kept),
                    describe(&aggregate, summed)
                ));
            }
        }
    }
    Ok(drift)
}

/// A group's values as `check` names them (limbs joined exactly).
fn describe(aggregate: &Aggregate, values: Option<&String>) -> String {
    let Some(values) = values else {
        return "nothing".to_owned();
    };
    let numbers: Vec<i128> = values
        .split(' ')
        .map(|value| value.parse().unwrap_or_default())
        .collect();
    let (counts, limbs) = numbers.split_at(aggregate.counts.len().min(numbers.len()));
    let mut parts: Vec<String> = aggregate
        .counts
        .iter()
        .zip(counts)
        .map(|(name, count)| format!("{count} {name}"))
        .collect();
    for (name, pair) in aggregate.sums.iter().zip(limbs.chunks(2)) {
        let [lo, hi] = pair else { continue };
        parts.push(format!("{name} {}", hi * 1_000_000_000 + lo));
    }
    parts.join(", ")
}
