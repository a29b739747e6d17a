//! Refused postbacks: when, from where and which check failed (never the secret), kept bounded.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::AnyConnection;
use super::schema::auth_failures;

/// The table keeps the newest rows only, so a flood of failures cannot fill the disk.
pub const KEEP: i64 = 10_000;

#[derive(Debug, Insertable)]
#[diesel(table_name = auth_failures)]
pub struct NewAuthFailure<'a> {
    pub occurred_at: NaiveDateTime,
    pub source: &'a str,
    pub client_addr: Option<&'a str>,
    pub failed_check: &'a str,
    pub method: &'a str,
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
}

/// Records a failure and trims the oldest rows beyond [`KEEP`] every hundredth id.
pub fn record(conn: &mut AnyConnection, failure: &NewAuthFailure<'_>) -> QueryResult<()> {
    let id: i64 = diesel::insert_into(auth_failures::table)
        .values(failure)
        .execute(conn)
        .and_then(|_| {
            auth_failures::table
                .select(diesel::dsl::max(auth_failures::id))
                .first::<Option<i64>>(conn)
        })?
        .unwrap_or(0);
    if id % 100 == 0 {
        diesel::delete(auth_failures::table.filter(auth_failures::id.le(id - KEEP)))
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
