//! The overview's sums: payout per bucket and currency, the daily chart, what needs attention.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};

use super::schema::{auth_failures, deliveries, inquiries};
use super::{AnyConnection, load_sql};
use crate::domain::bucket::Bucket;

/// The buckets of `dashboard::filter::bucket_of`, in SQL.
const BUCKET: &str = "CASE WHEN status = 'reversed' THEN 'reversed'
     WHEN ledger_date IS NOT NULL THEN 'cleared'
     WHEN status = 'approved' OR locking_date <= $2 THEN 'approved'
     ELSE 'pending' END";

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct BucketTotal {
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    #[diesel(sql_type = Text)]
    pub bucket: Bucket,
    #[diesel(sql_type = BigInt)]
    pub actions: i64,
    #[diesel(sql_type = BigInt)]
    pub payout: i64,
    #[diesel(sql_type = BigInt)]
    pub amount: i64,
}

/// Count, payout and amount per (currency, bucket) at `now`, from the running sums; test
/// conversions only when asked for. A (currency, bucket) may come in several rows: add them up.
pub fn bucket_totals(
    conn: &mut AnyConnection,
    include_tests: bool,
    now: NaiveDateTime,
) -> QueryResult<Vec<BucketTotal>> {
    running_bucket_totals(conn, include_tests, now, &SumsFilter::default())
}

/// What the running sums can narrow a set by besides the bucket and the test marker: they are
/// kept per currency and per day of the locking date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SumsFilter {
    /// A payout currency, any case.
    pub currency: Option<String>,
    /// Locking dates from this day on.
    pub locking_from: Option<chrono::NaiveDate>,
    /// Locking dates before this day.
    pub locking_until: Option<chrono::NaiveDate>,
}

/// `bucket_totals` of the actions `filter` narrows to.
pub fn bucket_totals_where(
    conn: &mut AnyConnection,
    include_tests: bool,
    now: NaiveDateTime,
    filter: &SumsFilter,
) -> QueryResult<Vec<BucketTotal>> {
    running_bucket_totals(conn, include_tests, now, filter)
}

/// A running sum's two limbs (see the SQLite migration 000016; PostgreSQL's 000040 keeps the
/// same) joined: exact in i128, then
/// within the 64 bits the read models hold (beyond them is an error, never a wrapped figure).
fn joined(hi: i64, lo: i64) -> QueryResult<i64> {
    i64::try_from(i128::from(hi) * 1_000_000_000 + i128::from(lo)).map_err(|_| {
        diesel::result::Error::DeserializationError(
            "a running sum is beyond 64 bits: run `postback-ledger check`".into(),
        )
    })
}

#[derive(QueryableByName)]
struct LimbTotal {
    #[diesel(sql_type = Nullable<Text>)]
    currency: Option<String>,
    #[diesel(sql_type = Text)]
    bucket: Bucket,
    #[diesel(sql_type = BigInt)]
    actions: i64,
    #[diesel(sql_type = BigInt)]
    payout: i64,
    #[diesel(sql_type = BigInt)]
    amount: i64,
    #[diesel(sql_type = BigInt)]
    payout_hi: i64,
    #[diesel(sql_type = BigInt)]
    amount_hi: i64,
}

/// From the running sums (on PostgreSQL spread over slots: the GROUP BY adds them), whose
/// locking day decides the bucket on every day but today; the actions locking today are read
/// one by one (the locking date index finds them).
fn running_bucket_totals(
    conn: &mut AnyConnection,
    include_tests: bool,
    now: NaiveDateTime,
    filter: &SumsFilter,
) -> QueryResult<Vec<BucketTotal>> {
    let today = now.date();
    let day = |date: chrono::NaiveDate| date.format("%Y-%m-%d").to_string();
    let midnight_of = |date: chrono::NaiveDate| date.and_hms_opt(0, 0, 0).expect("midnight exists");
    let midnight = today.and_hms_opt(0, 0, 0).expect("midnight exists");
    let sql = format!(
        "SELECT NULLIF(currency, '') AS currency,
                CASE WHEN status = 'reversed' THEN 'reversed'
                     WHEN cleared THEN 'cleared'
                     WHEN status = 'approved' OR (locking_day <> '' AND locking_day < $3)
                          THEN 'approved'
                     ELSE 'pending' END AS bucket,
                CAST(SUM(actions) AS BIGINT) AS actions, CAST(SUM(payout) AS BIGINT) AS payout,
                CAST(SUM(amount) AS BIGINT) AS amount,
                CAST(SUM(payout_hi) AS BIGINT) AS payout_hi,
                CAST(SUM(amount_hi) AS BIGINT) AS amount_hi
         FROM action_totals WHERE ($1 OR NOT is_test) AND locking_day <> $3
             AND ($6 IS NULL OR LOWER(currency) = $6)
             AND ($7 IS NULL OR (locking_day <> '' AND locking_day >= $7))
             AND ($8 IS NULL OR (locking_day <> '' AND locking_day < $8))
         GROUP BY 1, 2
         UNION ALL
         SELECT payout_currency, {BUCKET}, COUNT(*), CAST(SUM(payout % 1000000000) AS BIGINT),
                CAST(SUM(amount % 1000000000) AS BIGINT),
                CAST(SUM(payout / 1000000000) AS BIGINT), CAST(SUM(amount / 1000000000) AS BIGINT)
         FROM actions
         WHERE ($1 OR NOT is_test) AND locking_date >= $4 AND locking_date < $5
             AND ($6 IS NULL OR LOWER(payout_currency) = $6)
             AND ($9 IS NULL OR locking_date >= $9) AND ($10 IS NULL OR locking_date < $10)
         GROUP BY 1, 2"
    );
    let rows: Vec<LimbTotal> = load_sql!(conn, sql, |q| q
        .bind::<Bool, _>(include_tests)
        .bind::<Timestamp, _>(now)
        .bind::<Text, _>(today.format("%Y-%m-%d").to_string())
        .bind::<Timestamp, _>(midnight)
        .bind::<Timestamp, _>(midnight + chrono::Duration::days(1))
        .bind::<Nullable<Text>, _>(filter.currency.as_ref().map(|c| c.to_ascii_lowercase()))
        .bind::<Nullable<Text>, _>(filter.locking_from.map(day))
        .bind::<Nullable<Text>, _>(filter.locking_until.map(day))
        .bind::<Nullable<Timestamp>, _>(filter.locking_from.map(midnight_of))
        .bind::<Nullable<Timestamp>, _>(filter.locking_until.map(midnight_of)))?;
    rows.into_iter()
        .filter(|row| row.actions != 0)
        .map(|row| {
            Ok(BucketTotal {
                payout: joined(row.payout_hi, row.payout)?,
                amount: joined(row.amount_hi, row.amount)?,
                currency: row.currency,
                bucket: row.bucket,
                actions: row.actions,
            })
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct CurrencySum {
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub payout: i64,
}

/// The payout reversals took away, per currency (a reversed action's own payout is 0; what it
/// lost is in its reversal entries).
pub fn reversed_payout(
    conn: &mut AnyConnection,
    include_tests: bool,
) -> QueryResult<Vec<CurrencySum>> {
    #[derive(QueryableByName)]
    struct Limbs {
        #[diesel(sql_type = Nullable<Text>)]
        currency: Option<String>,
        #[diesel(sql_type = BigInt)]
        payout: i64,
        #[diesel(sql_type = BigInt)]
        payout_hi: i64,
    }
    let rows: Vec<Limbs> = load_sql!(
        conn,
        "SELECT NULLIF(currency, '') AS currency,
                CAST(-COALESCE(SUM(payout), 0) AS BIGINT) AS payout,
                CAST(-COALESCE(SUM(payout_hi), 0) AS BIGINT) AS payout_hi
         FROM entry_totals WHERE kind = 'reversed' AND ($1 OR NOT is_test)
         GROUP BY currency ORDER BY currency"
            .to_owned(),
        |q| q.bind::<Bool, _>(include_tests)
    )?;
    rows.into_iter()
        .map(|row| {
            Ok(CurrencySum {
                payout: joined(row.payout_hi, row.payout)?,
                currency: row.currency,
            })
        })
        .collect()
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

/// Which date places a movement on the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementDate {
    /// When the ledger entry was recorded (the postback arrived).
    Recorded,
    /// The action's event date (when the sale happened), whenever its entries arrived.
    Event,
}

/// Tracked and reversed payout per UTC quarter hour (every zone's offset is a whole number of
/// quarter hours), which the reader folds into the book zone's days, by the date `by` names,
/// from `since` (a quarter's start) on, from the running sums (migration 000042). `day` is then
/// `YYYY-MM-DD HH:MM`, the quarter's start.
pub fn quarter_hour_movements(
    conn: &mut AnyConnection,
    include_tests: bool,
    since: NaiveDateTime,
    by: MovementDate,
) -> QueryResult<Vec<DailyMovement>> {
    #[derive(QueryableByName)]
    struct Limbs {
        #[diesel(sql_type = Text)]
        day: String,
        #[diesel(sql_type = Nullable<Text>)]
        currency: Option<String>,
        #[diesel(sql_type = BigInt)]
        tracked: i64,
        #[diesel(sql_type = BigInt)]
        tracked_hi: i64,
        #[diesel(sql_type = BigInt)]
        reversed: i64,
        #[diesel(sql_type = BigInt)]
        reversed_hi: i64,
    }
    let date_by = match by {
        MovementDate::Recorded => "recorded",
        MovementDate::Event => "event",
    };
    let rows: Vec<Limbs> = load_sql!(
        conn,
        "SELECT quarter AS day, NULLIF(currency, '') AS currency,
                CAST(SUM(tracked) AS BIGINT) AS tracked,
                CAST(SUM(tracked_hi) AS BIGINT) AS tracked_hi,
                CAST(-SUM(reversed) AS BIGINT) AS reversed,
                CAST(-SUM(reversed_hi) AS BIGINT) AS reversed_hi
         FROM chart_totals
         WHERE date_by = $2 AND quarter >= $3 AND ($1 OR NOT is_test)
         GROUP BY quarter, currency
         ORDER BY 1, 2"
            .to_owned(),
        |q| q
            .bind::<Bool, _>(include_tests)
            .bind::<Text, _>(date_by)
            .bind::<Text, _>(since.format("%Y-%m-%d %H:%M").to_string())
    )?;
    rows.into_iter()
        .map(|row| {
            Ok(DailyMovement {
                tracked: joined(row.tracked_hi, row.tracked)?,
                reversed: joined(row.reversed_hi, row.reversed)?,
                day: row.day,
                currency: row.currency,
            })
        })
        .collect()
}

/// What a month paid and took back, per currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthMoney {
    pub currency: Option<String>,
    /// Payout of the actions a clearing named in the month, as booked then.
    pub cleared: i64,
    /// Changes after clearing booked in the month (negative when money was taken back).
    pub clawbacks: i64,
}

/// Per currency, the clearances and the clawbacks booked in statement month `month`
/// (`YYYY-MM`, the book's zone), as the statement sums them, from the running sums.
pub fn month_money(
    conn: &mut AnyConnection,
    include_tests: bool,
    month: &str,
) -> QueryResult<Vec<MonthMoney>> {
    #[derive(QueryableByName)]
    struct Limbs {
        #[diesel(sql_type = Nullable<Text>)]
        currency: Option<String>,
        #[diesel(sql_type = BigInt)]
        cleared_hi: i64,
        #[diesel(sql_type = BigInt)]
        cleared_lo: i64,
        #[diesel(sql_type = BigInt)]
        clawbacks_hi: i64,
        #[diesel(sql_type = BigInt)]
        clawbacks_lo: i64,
    }
    let rows: Vec<Limbs> = load_sql!(
        conn,
        "SELECT NULLIF(currency, '') AS currency,
                CAST(SUM(cleared_hi) AS BIGINT) AS cleared_hi,
                CAST(SUM(cleared) AS BIGINT) AS cleared_lo,
                CAST(SUM(clawbacks_hi) AS BIGINT) AS clawbacks_hi,
                CAST(SUM(clawbacks) AS BIGINT) AS clawbacks_lo
         FROM month_totals WHERE month = $2 AND ($1 OR NOT is_test)
         GROUP BY currency"
            .to_owned(),
        |q| q.bind::<Bool, _>(include_tests).bind::<Text, _>(month)
    )?;
    rows.into_iter()
        .map(|row| {
            Ok(MonthMoney {
                cleared: joined(row.cleared_hi, row.cleared_lo)?,
                clawbacks: joined(row.clawbacks_hi, row.clawbacks_lo)?,
                currency: row.currency,
            })
        })
        .collect()
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
        .filter(deliveries::dismissed_at.is_null())
        .count()
        .get_result(conn)?;
    // Written out so the partial index `actions_needing_review` serves it.
    let flagged: Vec<Count> = load_sql!(
        conn,
        "SELECT COUNT(*) AS count FROM actions WHERE flags <> '' AND reviewed_at IS NULL"
            .to_owned(),
        |q| q
    )?;
    // A row stands for `times` refusals alike.
    let auth_failures = auth_failures::table
        .filter(auth_failures::occurred_at.ge(failures_since))
        .select(diesel::dsl::sql::<BigInt>(
            "CAST(COALESCE(SUM(times), 0) AS BIGINT)",
        ))
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
