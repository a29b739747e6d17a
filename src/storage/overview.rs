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

/// Tracked and reversed payout per day recorded and currency, from `since` on.
pub fn daily_movements(
    conn: &mut AnyConnection,
    include_tests: bool,
    since: NaiveDateTime,
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
    let rows: Vec<Limbs> = load_sql!(
        conn,
        "SELECT day, NULLIF(currency, '') AS currency,
                CAST(SUM(CASE WHEN kind = 'tracked' THEN payout ELSE 0 END) AS BIGINT) AS tracked,
                CAST(SUM(CASE WHEN kind = 'tracked' THEN payout_hi ELSE 0 END) AS BIGINT) AS tracked_hi,
                CAST(-SUM(CASE WHEN kind = 'reversed' THEN payout ELSE 0 END) AS BIGINT) AS reversed,
                CAST(-SUM(CASE WHEN kind = 'reversed' THEN payout_hi ELSE 0 END) AS BIGINT) AS reversed_hi
         FROM entry_totals
         WHERE day >= $2 AND kind IN ('tracked', 'reversed') AND ($1 OR NOT is_test)
         GROUP BY day, currency
         ORDER BY day, currency"
            .to_owned(),
        |q| q
            .bind::<Bool, _>(include_tests)
            .bind::<Text, _>(since.format("%Y-%m-%d").to_string())
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

/// Which date places a movement on the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementDate {
    /// When the ledger entry was recorded (the postback arrived).
    Recorded,
    /// The action's event date (when the sale happened), whenever its entries arrived.
    Event,
}

/// `daily_movements` per UTC quarter hour (every zone's offset is a whole number of quarter
/// hours), which the reader folds into the book zone's days, by the date `by` names, from
/// `since` on. `day` is then `YYYY-MM-DD HH:M`, the quarter's start (its minute unpadded: 0, 15,
/// 30 or 45).
pub fn quarter_hour_movements(
    conn: &mut AnyConnection,
    include_tests: bool,
    since: NaiveDateTime,
    by: MovementDate,
) -> QueryResult<Vec<DailyMovement>> {
    let date = match by {
        MovementDate::Recorded => "e.recorded_at",
        MovementDate::Event => "a.event_date",
    };
    let quarter = format!(
        "SUBSTR(CAST({date} AS TEXT), 1, 14) || \
         CAST((CAST(SUBSTR(CAST({date} AS TEXT), 15, 2) AS INTEGER) / 15) * 15 AS TEXT)"
    );
    let sql = format!(
        "SELECT {quarter} AS day, COALESCE(e.currency, a.payout_currency) AS currency,
                CAST(COALESCE(SUM(CASE WHEN e.kind = 'tracked' THEN e.payout_delta ELSE 0 END), 0) AS BIGINT) AS tracked,
                CAST(-COALESCE(SUM(CASE WHEN e.kind = 'reversed' THEN e.payout_delta ELSE 0 END), 0) AS BIGINT) AS reversed
         FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
         WHERE {date} >= $2 AND e.kind IN ('tracked', 'reversed') AND ($1 OR NOT a.is_test)
         GROUP BY 1, 2
         ORDER BY 1, 2"
    );
    load_sql!(conn, sql, |q| q
        .bind::<Bool, _>(include_tests)
        .bind::<Timestamp, _>(since))
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
/// (`YYYY-MM`, the book's zone), as the statement sums them; both tables' month indexes serve it.
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
        "SELECT currency,
                CAST(COALESCE(SUM(cleared / 1000000000), 0) AS BIGINT) AS cleared_hi,
                CAST(COALESCE(SUM(cleared % 1000000000), 0) AS BIGINT) AS cleared_lo,
                CAST(COALESCE(SUM(clawbacks / 1000000000), 0) AS BIGINT) AS clawbacks_hi,
                CAST(COALESCE(SUM(clawbacks % 1000000000), 0) AS BIGINT) AS clawbacks_lo
         FROM (
             SELECT COALESCE(c.currency, a.payout_currency) AS currency, c.payout AS cleared,
                    0 AS clawbacks
             FROM clearances c JOIN actions a ON a.action_id = c.action_id
             WHERE c.month = $2 AND ($1 OR NOT a.is_test)
             UNION ALL
             SELECT COALESCE(e.currency, a.payout_currency), 0, e.payout_delta
             FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
             WHERE e.month = $2 AND e.after_clearing AND ($1 OR NOT a.is_test)
         ) AS money
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

/// A group's count and sums, each sum as its two limbs (as the running sums keep them).
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
struct GroupSum {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = BigInt)]
    payout: i64,
    #[diesel(sql_type = BigInt)]
    payout_hi: i64,
    #[diesel(sql_type = BigInt)]
    amount: i64,
    #[diesel(sql_type = BigInt)]
    amount_hi: i64,
}

/// Where the running sums differ from the tables they sum (empty when they agree), both
/// tables, each named. For `check`.
pub fn running_totals_drift(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    // The same key text from both sides, in each dialect's words.
    let (test, cleared, locking_day, entry_day) = match conn {
        AnyConnection::Sqlite(_) => (
            "is_test",
            "(ledger_date IS NOT NULL)",
            "COALESCE(SUBSTR(locking_date, 1, 10), '')",
            "SUBSTR(e.recorded_at, 1, 10)",
        ),
        AnyConnection::Postgresql(_) => (
            "CAST(is_test AS TEXT)",
            "CAST(ledger_date IS NOT NULL AS TEXT)",
            "COALESCE(to_char(locking_date, 'YYYY-MM-DD'), '')",
            "to_char(e.recorded_at, 'YYYY-MM-DD')",
        ),
    };
    let stored_cleared = cleared
        .replace("(ledger_date IS NOT NULL)", "cleared")
        .replace("ledger_date IS NOT NULL", "cleared");
    let action_key = format!(
        "COALESCE(payout_currency, '') || '/' || {test} || '/' || status || '/' || {cleared} || '/' || {locking_day}"
    );
    let a_test = test.replace("is_test", "a.is_test");
    let pairs = [
        (
            "action_totals",
            // PostgreSQL spreads a sum over slots: add them up.
            format!(
                "SELECT currency || '/' || {test} || '/' || status || '/' || {stored_cleared} || '/' || locking_day AS key,
                        CAST(SUM(actions) AS BIGINT) AS count, CAST(SUM(payout) AS BIGINT) AS payout,
                        CAST(SUM(payout_hi) AS BIGINT) AS payout_hi, CAST(SUM(amount) AS BIGINT) AS amount,
                        CAST(SUM(amount_hi) AS BIGINT) AS amount_hi
                 FROM action_totals GROUP BY 1
                 HAVING SUM(actions) <> 0 OR SUM(payout) <> 0 OR SUM(amount) <> 0
                     OR SUM(payout_hi) <> 0 OR SUM(amount_hi) <> 0"
            ),
            format!(
                "SELECT {action_key} AS key, COUNT(*) AS count,
                        CAST(SUM(payout % 1000000000) AS BIGINT) AS payout,
                        CAST(SUM(payout / 1000000000) AS BIGINT) AS payout_hi,
                        CAST(SUM(amount % 1000000000) AS BIGINT) AS amount,
                        CAST(SUM(amount / 1000000000) AS BIGINT) AS amount_hi
                 FROM actions GROUP BY 1"
            ),
        ),
        (
            "entry_totals",
            format!(
                "SELECT day || '/' || kind || '/' || currency || '/' || {test} AS key,
                        CAST(SUM(entries) AS BIGINT) AS count, CAST(SUM(payout) AS BIGINT) AS payout,
                        CAST(SUM(payout_hi) AS BIGINT) AS payout_hi,
                        CAST(0 AS BIGINT) AS amount, CAST(0 AS BIGINT) AS amount_hi
                 FROM entry_totals GROUP BY 1
                 HAVING SUM(entries) <> 0 OR SUM(payout) <> 0 OR SUM(payout_hi) <> 0"
            ),
            format!(
                "SELECT {entry_day} || '/' || e.kind || '/' || COALESCE(e.currency, a.payout_currency, '') || '/' || {a_test} AS key,
                        COUNT(*) AS count, CAST(SUM(e.payout_delta % 1000000000) AS BIGINT) AS payout,
                        CAST(SUM(e.payout_delta / 1000000000) AS BIGINT) AS payout_hi,
                        CAST(0 AS BIGINT) AS amount, CAST(0 AS BIGINT) AS amount_hi
                 FROM ledger_entries e JOIN actions a ON a.action_id = e.action_id
                 GROUP BY 1"
            ),
        ),
    ];
    let mut drift = Vec::new();
    for (table, stored, recomputed) in pairs {
        let stored: Vec<GroupSum> = load_sql!(conn, stored, |q| q)?;
        let recomputed: Vec<GroupSum> = load_sql!(conn, recomputed, |q| q)?;
        let by_key = |rows: Vec<GroupSum>| {
            rows.into_iter()
                .map(|row| (row.key.clone(), row))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let (stored, recomputed) = (by_key(stored), by_key(recomputed));
        let keys: std::collections::BTreeSet<&String> =
            stored.keys().chain(recomputed.keys()).collect();
        for key in keys {
            let (kept, summed) = (stored.get(key), recomputed.get(key));
            if kept != summed {
                drift.push(format!(
                    "{table} {key}: the running sum is {} but the tables sum to {}",
                    describe(kept),
                    describe(summed)
                ));
            }
        }
    }
    Ok(drift)
}

/// A group's count and sums as `check` names them (limbs joined exactly).
fn describe(row: Option<&GroupSum>) -> String {
    let Some(row) = row else {
        return "nothing".to_owned();
    };
    let wide = |hi: i64, lo: i64| i128::from(hi) * 1_000_000_000 + i128::from(lo);
    format!(
        "{} rows, payout {}, amount {}",
        row.count,
        wide(row.payout_hi, row.payout),
        wide(row.amount_hi, row.amount)
    )
}
