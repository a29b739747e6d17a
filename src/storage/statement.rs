//! The statement's sums: ledger movements per month, campaign and currency, and what cleared.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};

use super::{AnyConnection, load_sql};

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct MonthlyMovement {
    /// `YYYY-MM`, UTC.
    #[diesel(sql_type = Text)]
    pub month: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub campaign_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub campaign_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub tracked: i64,
    #[diesel(sql_type = BigInt)]
    pub modified: i64,
    #[diesel(sql_type = BigInt)]
    pub reversed: i64,
    #[diesel(sql_type = BigInt)]
    pub cleared: i64,
}

/// Per month, campaign and currency in `[from, until)`: the payout deltas of the ledger entries
/// recorded that month by kind, and the payout of the actions that cleared that month. Movements
/// are booked in the month we learned of them (a December reversal of an October sale lowers
/// December), the way an account statement reads.
pub fn monthly(
    conn: &mut AnyConnection,
    include_tests: bool,
    from: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<Vec<MonthlyMovement>> {
    load_sql!(
        conn,
        "SELECT month, campaign_id, MAX(campaign_name) AS campaign_name, currency,
                CAST(SUM(tracked) AS BIGINT) AS tracked, CAST(SUM(modified) AS BIGINT) AS modified,
                CAST(SUM(reversed) AS BIGINT) AS reversed, CAST(SUM(cleared) AS BIGINT) AS cleared
         FROM (
             SELECT SUBSTR(CAST(e.recorded_at AS TEXT), 1, 7) AS month, a.campaign_id,
                    a.campaign_name, a.payout_currency AS currency,
                    CASE WHEN e.kind = 'tracked' THEN e.payout_delta ELSE 0 END AS tracked,
                    CASE WHEN e.kind = 'modified' THEN e.payout_delta ELSE 0 END AS modified,
                    CASE WHEN e.kind = 'reversed' THEN e.payout_delta ELSE 0 END AS reversed,
                    0 AS cleared
             FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
             WHERE e.recorded_at >= $2 AND e.recorded_at < $3 AND ($1 OR NOT a.is_test)
             UNION ALL
             SELECT SUBSTR(CAST(cleared_date AS TEXT), 1, 7), campaign_id, campaign_name,
                    payout_currency, 0, 0, 0, payout
             FROM actions
             WHERE cleared_date >= $2 AND cleared_date < $3 AND status <> 'reversed'
               AND ($1 OR NOT is_test)
         ) AS movements
         GROUP BY month, campaign_id, currency
         ORDER BY month DESC, campaign_id, currency"
            .to_owned(),
        |q| q
            .bind::<Bool, _>(include_tests)
            .bind::<Timestamp, _>(from)
            .bind::<Timestamp, _>(until)
    )
}
