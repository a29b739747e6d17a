//! The overview's sums: payout per bucket and currency, the daily chart, what needs attention.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};

use super::schema::{auth_failures, deliveries, inquiries};
use super::{AnyConnection, load_sql};

/// The buckets of `dashboard::filter::bucket_of`, in SQL.
const BUCKET: &str = "CASE WHEN status = 'reversed' THEN 'reversed'
     WHEN cleared_date IS NOT NULL THEN 'cleared'
     WHEN status = 'approved' OR locking_date <= $2 THEN 'approved'
     ELSE 'pending' END";

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct BucketTotal {
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    #[diesel(sql_type = Text)]
    pub bucket: String,
    #[diesel(sql_type = BigInt)]
    pub actions: i64,
    #[diesel(sql_type = BigInt)]
    pub payout: i64,
}

/// Count and payout per (currency, bucket) at `now`; test conversions only when asked for.
pub fn bucket_totals(
    conn: &mut AnyConnection,
    include_tests: bool,
    now: NaiveDateTime,
) -> QueryResult<Vec<BucketTotal>> {
    let sql = format!(
        "SELECT payout_currency AS currency, {BUCKET} AS bucket, COUNT(*) AS actions,
                CAST(COALESCE(SUM(payout), 0) AS BIGINT) AS payout
         FROM actions WHERE ($1 OR NOT is_test)
         GROUP BY payout_currency, {BUCKET}
         ORDER BY payout_currency, bucket"
    );
    load_sql!(conn, sql, |q| q
        .bind::<Bool, _>(include_tests)
        .bind::<Timestamp, _>(now))
}

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct CurrencySum {
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub payout: i64,
}

/// The payout reversed away from the actions now reversed, per currency (a reversed action's
/// own payout is 0; what it lost is in its reversal entries).
pub fn reversed_payout(
    conn: &mut AnyConnection,
    include_tests: bool,
) -> QueryResult<Vec<CurrencySum>> {
    load_sql!(
        conn,
        "SELECT a.payout_currency AS currency, CAST(-COALESCE(SUM(e.payout_delta), 0) AS BIGINT) AS payout
         FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
         WHERE e.kind = 'reversed' AND a.status = 'reversed' AND ($1 OR NOT a.is_test)
         GROUP BY a.payout_currency ORDER BY a.payout_currency"
            .to_owned(),
        |q| q.bind::<Bool, _>(include_tests)
    )
}

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DailyMovement {
    /// `YYYY-MM-DD`, UTC.
    #[diesel(sql_type = Text)]
    pub day: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    /// Payout of the tracked entries recorded that day.
    #[diesel(sql_type = BigInt)]
    pub tracked: i64,
    /// Payout taken away by the reversal entries recorded that day (positive).
    #[diesel(sql_type = BigInt)]
    pub reversed: i64,
}

/// Tracked and reversed payout per day recorded and currency, from `since` on.
pub fn daily_movements(
    conn: &mut AnyConnection,
    include_tests: bool,
    since: NaiveDateTime,
) -> QueryResult<Vec<DailyMovement>> {
    load_sql!(
        conn,
        "SELECT SUBSTR(CAST(e.recorded_at AS TEXT), 1, 10) AS day, a.payout_currency AS currency,
                CAST(COALESCE(SUM(CASE WHEN e.kind = 'tracked' THEN e.payout_delta ELSE 0 END), 0) AS BIGINT) AS tracked,
                CAST(-COALESCE(SUM(CASE WHEN e.kind = 'reversed' THEN e.payout_delta ELSE 0 END), 0) AS BIGINT) AS reversed
         FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
         WHERE e.recorded_at >= $2 AND e.kind IN ('tracked', 'reversed') AND ($1 OR NOT a.is_test)
         GROUP BY SUBSTR(CAST(e.recorded_at AS TEXT), 1, 10), a.payout_currency
         ORDER BY day, currency"
            .to_owned(),
        |q| q.bind::<Bool, _>(include_tests).bind::<Timestamp, _>(since)
    )
}

/// When each named source last delivered anything (None: never).
pub fn last_delivery(conn: &mut AnyConnection, source: &str) -> QueryResult<Option<NaiveDateTime>> {
    deliveries::table
        .filter(deliveries::source.eq(source))
        .select(diesel::dsl::max(deliveries::received_at))
        .first(conn)
}

/// What needs a person: quarantined deliveries, flagged actions nobody marked reviewed, recent
/// authentication failures, open inquiries whose deadline is near.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attention {
    pub quarantined: i64,
    pub flagged: i64,
    pub auth_failures: i64,
    pub inquiries_due: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

pub fn attention(
    conn: &mut AnyConnection,
    failures_since: NaiveDateTime,
    deadline_before: NaiveDateTime,
) -> QueryResult<Attention> {
    let quarantined = deliveries::table
        .filter(deliveries::outcome.eq("quarantined"))
        .count()
        .get_result(conn)?;
    // Written out so the partial index `actions_needing_review` serves it.
    let flagged: Vec<Count> = load_sql!(
        conn,
        "SELECT COUNT(*) AS count FROM actions WHERE flags <> '' AND reviewed_at IS NULL"
            .to_owned(),
        |q| q
    )?;
    let auth_failures = auth_failures::table
        .filter(auth_failures::occurred_at.ge(failures_since))
        .count()
        .get_result(conn)?;
    let inquiries_due = inquiries::table
        .filter(inquiries::status.eq("pending"))
        .filter(inquiries::resolution_deadline_date.le(deadline_before))
        .count()
        .get_result(conn)?;
    Ok(Attention {
        quarantined,
        flagged: flagged.first().map_or(0, |row| row.count),
        auth_failures,
        inquiries_due,
    })
}
