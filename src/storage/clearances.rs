//! What cleared: one booked fact per action (payout and amount at that moment, in its currency),
//! pointing at the clearing delivery. Append-only.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::prepared::{self, RowsStatement};
use super::schema::clearances;
use super::{AnyConnection, per_backend};

/// Where the knowledge that an action cleared came from.
pub const ORIGIN_CLEARING: &str = "clearing";
pub const ORIGIN_NETWORK: &str = "network_record";

#[derive(Debug, Insertable)]
#[diesel(table_name = clearances)]
pub struct NewClearance<'a> {
    pub action_id: &'a str,
    pub delivery_id: Option<i64>,
    pub origin: &'a str,
    pub cleared_at: NaiveDateTime,
    pub payout: i64,
    pub amount: i64,
    pub currency: Option<&'a str>,
    pub month: &'a str,
    pub concerns: Option<&'a str>,
    pub recorded_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = clearances)]
pub struct Clearance {
    pub id: i64,
    pub action_id: String,
    pub delivery_id: Option<i64>,
    pub origin: String,
    pub cleared_at: NaiveDateTime,
    pub payout: i64,
    pub amount: i64,
    pub currency: Option<String>,
    pub month: String,
    pub concerns: Option<String>,
    pub recorded_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, new: &NewClearance<'_>) -> QueryResult<usize> {
    diesel::insert_into(clearances::table)
        .values(new)
        .execute(conn)
}

pub fn of_action(conn: &mut AnyConnection, action_id: &str) -> QueryResult<Option<Clearance>> {
    clearances::table
        .filter(clearances::action_id.eq(action_id))
        .select(Clearance::as_select())
        .first(conn)
        .optional()
}

/// Which of `action_ids` cleared, and when the clearing was booked: one query for a batch.
pub fn booked_among(
    conn: &mut AnyConnection,
    action_ids: &[&str],
) -> QueryResult<Vec<(String, NaiveDateTime)>> {
    const HEAD: &str = "SELECT action_id, recorded_at FROM clearances WHERE action_id IN (";
    type Columns = (diesel::sql_types::Text, diesel::sql_types::Timestamp);
    prepared::load_in(action_ids, |ids| {
        let statement = RowsStatement::<_, Columns>::new(HEAD, ids, ")");
        per_backend!(&mut *conn, c => statement.load::<(String, NaiveDateTime)>(c))
    })
}

/// Every clearance booked in `month`, by id.
pub fn in_month(conn: &mut AnyConnection, month: &str) -> QueryResult<Vec<Clearance>> {
    clearances::table
        .filter(clearances::month.eq(month))
        .order(clearances::id.asc())
        .select(Clearance::as_select())
        .load(conn)
}
