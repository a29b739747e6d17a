//! The statement's sums: per statement month (stored with each fact, in the book's zone), the
//! month a later adjustment concerns, brand and currency: the ledger movements by kind, the
//! clawbacks, and what cleared. Sums are read as two limbs (the billions and the rest, each of
//! which a BIGINT sum cannot overflow) and joined in Rust as i128.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};

use super::{AnyConnection, load_sql};

/// A fact's month as stored; entries written before months were stored: their UTC month.
const ENTRY_MONTH: &str = "COALESCE(e.month, SUBSTR(CAST(e.recorded_at AS TEXT), 1, 7))";

/// The five money columns of a statement row, in order.
pub const COLUMNS: [&str; 5] = ["tracked", "modified", "reversed", "clawbacks", "cleared"];

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct MonthlyRow {
    /// `YYYY-MM`, in the book's zone.
    #[diesel(sql_type = Text)]
    pub month: String,
    /// A closed month this row's facts concern (they landed in `month` as adjustments).
    #[diesel(sql_type = Nullable<Text>)]
    pub concerns: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub campaign_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub campaign_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub tracked_hi: i64,
    #[diesel(sql_type = BigInt)]
    pub tracked_lo: i64,
    #[diesel(sql_type = BigInt)]
    pub modified_hi: i64,
    #[diesel(sql_type = BigInt)]
    pub modified_lo: i64,
    #[diesel(sql_type = BigInt)]
    pub reversed_hi: i64,
    #[diesel(sql_type = BigInt)]
    pub reversed_lo: i64,
    #[diesel(sql_type = BigInt)]
    pub clawbacks_hi: i64,
    #[diesel(sql_type = BigInt)]
    pub clawbacks_lo: i64,
    #[diesel(sql_type = BigInt)]
    pub cleared_hi: i64,
    #[diesel(sql_type = BigInt)]
    pub cleared_lo: i64,
    #[diesel(sql_type = BigInt)]
    pub actions: i64,
    #[diesel(sql_type = BigInt)]
    pub entries: i64,
}

const LIMB: i128 = 1_000_000_000;

impl MonthlyRow {
    /// The five sums in ten-thousandths, exact: `hi * 10^9 + lo`.
    pub fn sums(&self) -> [i128; 5] {
        let join = |hi: i64, lo: i64| i128::from(hi) * LIMB + i128::from(lo);
        [
            join(self.tracked_hi, self.tracked_lo),
            join(self.modified_hi, self.modified_lo),
            join(self.reversed_hi, self.reversed_lo),
            join(self.clawbacks_hi, self.clawbacks_lo),
            join(self.cleared_hi, self.cleared_lo),
        ]
    }
}

/// Per statement month in `[from, until)` (`YYYY-MM`), concerned month, brand and currency: the
/// payout deltas of the entries booked in the month by kind (changes after clearing apart, as
/// clawbacks) and the payout of the actions that cleared in it, from the running sums (migration
/// 000042). Movements are booked in the month we learned of them (a December reversal of an
/// October sale lowers December), the way an account statement reads.
pub fn monthly(
    conn: &mut AnyConnection,
    include_tests: bool,
    from: &str,
    until: &str,
) -> QueryResult<Vec<MonthlyRow>> {
    let sums = COLUMNS
        .map(|column| {
            format!(
                "CAST(SUM({column}_hi) AS BIGINT) AS {column}_hi, \
                 CAST(SUM({column}) AS BIGINT) AS {column}_lo"
            )
        })
        .join(", ");
    let sql = format!(
        "SELECT month, NULLIF(concerns, '') AS concerns, NULLIF(campaign_id, '') AS campaign_id,
                MAX(campaign_name) AS campaign_name, NULLIF(currency, '') AS currency, {sums},
                CAST(SUM(actions) AS BIGINT) AS actions, CAST(SUM(entries) AS BIGINT) AS entries
         FROM month_totals
         WHERE month >= $2 AND month < $3 AND ($1 OR NOT is_test)
         GROUP BY month, concerns, campaign_id, currency
         HAVING SUM(actions) <> 0
         ORDER BY month DESC, concerns, campaign_id, currency"
    );
    load_sql!(conn, sql, |q| q
        .bind::<Bool, _>(include_tests)
        .bind::<Text, _>(from)
        .bind::<Text, _>(until))
}

/// One fact behind a statement row: an entry or a clearance, with what seals it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Fact {
    /// `entry` or `clearance`.
    #[diesel(sql_type = Text)]
    pub what: String,
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub action_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub concerns: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub campaign_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub campaign_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    /// The entry's kind, or `cleared`.
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Bool)]
    pub after_clearing: bool,
    #[diesel(sql_type = BigInt)]
    pub payout: i64,
    #[diesel(sql_type = BigInt)]
    pub amount: i64,
    #[diesel(sql_type = Timestamp)]
    pub recorded_at: NaiveDateTime,
}

/// Every fact booked in `month` (test conversions left out: a closed statement is finance's),
/// entries then clearances, each by id: what `close` seals and `check` verifies.
pub fn facts_of_month(conn: &mut AnyConnection, month: &str) -> QueryResult<Vec<Fact>> {
    let sql = format!(
        "SELECT 'entry' AS what, e.id, e.action_id, e.concerns, a.campaign_id, a.campaign_name,
                COALESCE(e.currency, a.payout_currency) AS currency, e.kind, e.after_clearing,
                e.payout_delta AS payout, e.amount_delta AS amount, e.recorded_at
         FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
         WHERE {ENTRY_MONTH} = $1 AND NOT a.is_test
         UNION ALL
         SELECT 'clearance', c.id, c.action_id, c.concerns, a.campaign_id, a.campaign_name,
                COALESCE(c.currency, a.payout_currency), 'cleared', FALSE, c.payout, c.amount,
                c.recorded_at
         FROM clearances c JOIN actions a ON a.action_id = c.action_id
         WHERE c.month = $1 AND NOT a.is_test
         ORDER BY 1 DESC, 2"
    );
    load_sql!(conn, sql, |q| q.bind::<Text, _>(month))
}

/// A closed statement's rows as `close` stores them and `check` recomputes them: the facts of
/// a month grouped by concerned month, brand and currency, summed in i128, each row sealed with
/// a hash of its facts.
pub fn rows_from_facts(month: &str, facts: &[Fact]) -> Vec<super::closed_months::ClosedRow> {
    use std::collections::{BTreeMap, BTreeSet};

    use crate::domain::money::wide_text;

    #[derive(Default)]
    struct Row {
        name: Option<String>,
        sums: [i128; 5],
        actions: BTreeSet<String>,
        entries: i64,
        lines: Vec<String>,
    }
    type Key = (Option<String>, Option<String>, Option<String>);
    let mut rows: BTreeMap<Key, Row> = BTreeMap::new();
    for fact in facts {
        let row = rows
            .entry((
                fact.concerns.clone(),
                fact.campaign_id.clone(),
                fact.currency.clone(),
            ))
            .or_default();
        if fact.campaign_name > row.name {
            row.name = fact.campaign_name.clone();
        }
        let column = match (fact.what.as_str(), fact.kind.as_str(), fact.after_clearing) {
            ("clearance", _, _) => 4,
            (_, _, true) => 3,
            (_, "tracked", _) => 0,
            (_, "modified", _) => 1,
            _ => 2,
        };
        row.sums[column] += i128::from(fact.payout);
        row.actions.insert(fact.action_id.clone());
        if fact.what == "entry" {
            row.entries += 1;
        }
        row.lines.push(format!(
            "{}:{}:{}:{}:{}:{}:{}:{}",
            fact.what,
            fact.id,
            fact.action_id,
            fact.kind,
            fact.after_clearing,
            fact.payout,
            fact.amount,
            fact.currency.as_deref().unwrap_or_default()
        ));
    }
    rows.into_iter()
        .map(|((concerns, campaign_id, currency), row)| {
            let [tracked, modified, reversed, clawbacks, cleared] = row.sums.map(wide_text);
            super::closed_months::ClosedRow {
                month: month.to_owned(),
                concerns,
                campaign_id,
                campaign_name: row.name,
                currency,
                tracked,
                modified,
                reversed,
                clawbacks,
                cleared,
                actions: row.actions.len() as i64,
                entries: row.entries,
                hash: crate::domain::book::seal(row.lines.iter().map(String::as_str)),
            }
        })
        .collect()
}
