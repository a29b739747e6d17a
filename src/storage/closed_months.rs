//! Closed months: the statement as it stood when closed, each row sealed with a hash of the
//! facts behind it. Append-only; the write path reads which months are closed once per batch.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::Text;
use serde::Serialize;

use super::schema::{closed_months, closed_statement_rows};
use super::{AdvisoryLock, AnyConnection, load_sql};

/// The setting that holds the book's time zone (written by `serve` from the configuration).
pub const TIME_ZONE_SETTING: &str = "statement.time_zone";

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = closed_months)]
pub struct ClosedMonth {
    pub month: String,
    pub time_zone: String,
    pub closed_at: NaiveDateTime,
    pub closed_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = closed_statement_rows)]
pub struct ClosedRow {
    pub month: String,
    pub concerns: Option<String>,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    pub currency: Option<String>,
    pub tracked: String,
    pub modified: String,
    pub reversed: String,
    pub clawbacks: String,
    pub cleared: String,
    pub actions: i64,
    pub entries: i64,
    pub hash: String,
}

#[derive(QueryableByName)]
struct Fact {
    #[diesel(sql_type = Text)]
    what: String,
    #[diesel(sql_type = Text)]
    value: String,
}

/// The book's time zone as stored (None: never set) and its closed months, in one round trip.
/// On PostgreSQL, first a shared lock that `close` takes exclusively: a batch never books into
/// a month being closed.
pub fn book_facts(conn: &mut AnyConnection) -> QueryResult<(Option<String>, Vec<String>)> {
    if let AnyConnection::Postgresql(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock_shared($1)")
            .bind::<diesel::sql_types::BigInt, _>(AdvisoryLock::ClosingMonth.key())
            .execute(c)?;
    }
    let facts: Vec<Fact> = load_sql!(
        conn,
        format!(
            "SELECT 'closed' AS what, month AS value FROM closed_months
             UNION ALL
             SELECT 'zone' AS what, value FROM settings WHERE key = '{TIME_ZONE_SETTING}'"
        ),
        |q| q
    )?;
    let mut zone = None;
    let mut closed = Vec::new();
    for fact in facts {
        if fact.what == "zone" {
            zone = Some(fact.value);
        } else {
            closed.push(fact.value);
        }
    }
    Ok((zone, closed))
}

/// On PostgreSQL, waits for every batch writing now and keeps new ones out until commit.
pub fn lock_for_closing(conn: &mut AnyConnection) -> QueryResult<()> {
    if let AnyConnection::Postgresql(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(AdvisoryLock::ClosingMonth.key())
            .execute(c)?;
    }
    Ok(())
}

pub fn find(conn: &mut AnyConnection, month: &str) -> QueryResult<Option<ClosedMonth>> {
    closed_months::table
        .find(month)
        .select(ClosedMonth::as_select())
        .first(conn)
        .optional()
}

pub fn all(conn: &mut AnyConnection) -> QueryResult<Vec<ClosedMonth>> {
    closed_months::table
        .order(closed_months::month.asc())
        .select(ClosedMonth::as_select())
        .load(conn)
}

/// Stores the month and its rows.
pub fn insert(
    conn: &mut AnyConnection,
    month: &ClosedMonth,
    rows: &[ClosedRow],
) -> QueryResult<()> {
    diesel::insert_into(closed_months::table)
        .values((
            closed_months::month.eq(&month.month),
            closed_months::time_zone.eq(&month.time_zone),
            closed_months::closed_at.eq(month.closed_at),
            closed_months::closed_by.eq(&month.closed_by),
        ))
        .execute(conn)?;
    for row in rows {
        diesel::insert_into(closed_statement_rows::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// The stored rows of closed months in `[from, until)` (`YYYY-MM`), in the order stored.
pub fn rows_between(
    conn: &mut AnyConnection,
    from: &str,
    until: &str,
) -> QueryResult<Vec<ClosedRow>> {
    closed_statement_rows::table
        .filter(closed_statement_rows::month.ge(from))
        .filter(closed_statement_rows::month.lt(until))
        .order(closed_statement_rows::id.asc())
        .select(ClosedRow::as_select())
        .load(conn)
}

#[derive(QueryableByName)]
struct Month {
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    month: Option<String>,
}

/// The earliest statement month any entry or clearance is booked in.
pub fn earliest_fact_month(conn: &mut AnyConnection) -> QueryResult<Option<String>> {
    let rows: Vec<Month> = load_sql!(
        conn,
        "SELECT MIN(month) AS month FROM (
             SELECT MIN(COALESCE(month, SUBSTR(CAST(recorded_at AS TEXT), 1, 7))) AS month
             FROM ledger_entries
             UNION ALL
             SELECT MIN(month) FROM clearances
         ) AS months"
            .to_owned(),
        |q| q
    )?;
    Ok(rows.into_iter().next().and_then(|row| row.month))
}
