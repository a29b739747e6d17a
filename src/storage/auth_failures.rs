//! Refused postbacks: when, from where and which check failed (never the secret), how many
//! times in that second, kept bounded.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::schema::auth_failures;
use super::{AnyConnection, per_backend};

/// The table keeps the newest rows only, so a flood of failures cannot fill the disk.
pub const KEEP: i64 = 10_000;

// None is NULL, not DEFAULT, so that SQLite can insert many rows in one statement.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = auth_failures, treat_none_as_default_value = false)]
pub struct NewAuthFailure<'a> {
    pub occurred_at: NaiveDateTime,
    pub source: &'a str,
    pub client_addr: Option<&'a str>,
    pub failed_check: &'a str,
    pub method: &'a str,
    /// How many refusals alike this row stands for (the last at `occurred_at`).
    pub times: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = auth_failures)]
pub struct AuthFailureRow {
    pub id: i64,
    pub occurred_at: NaiveDateTime,
    pub source: String,
    pub client_addr: Option<String>,
    pub failed_check: String,
    pub method: String,
    pub times: i32,
}

/// Records failures in one statement and trims the oldest rows beyond [`KEEP`].
pub fn record_all(conn: &mut AnyConnection, failures: &[NewAuthFailure<'_>]) -> QueryResult<()> {
    if failures.is_empty() {
        return Ok(());
    }
    for chunk in failures.chunks(super::prepared::MAX_ROWS) {
        per_backend!(&mut *conn, c => diesel::insert_into(auth_failures::table)
            .values(chunk)
            .execute(c))?;
    }
    let newest: Option<i64> = auth_failures::table
        .select(diesel::dsl::max(auth_failures::id))
        .first(conn)?;
    if let Some(newest) = newest.filter(|id| *id > KEEP) {
        diesel::delete(auth_failures::table.filter(auth_failures::id.le(newest - KEEP)))
            .execute(conn)?;
    }
    Ok(())
}

pub fn recent(conn: &mut AnyConnection, limit: i64) -> QueryResult<Vec<AuthFailureRow>> {
    auth_failures::table
        .order(auth_failures::id.desc())
        .limit(limit)
        .select(AuthFailureRow::as_select())
        .load(conn)
}
