//! Clearing events, one row per cleared id, with what the id matched.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::prepared::{self, RowsStatement};
use super::schema::clearings;
use super::{AnyConnection, per_backend};
use crate::domain::event::ClearingMatch;

#[derive(Debug, Insertable)]
#[diesel(table_name = clearings)]
pub struct NewClearing<'a> {
    pub delivery_id: i64,
    pub action_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub campaign_id: Option<&'a str>,
    pub cleared_date: Option<NaiveDateTime>,
    pub ledger_date: Option<NaiveDateTime>,
    pub matched: ClearingMatch,
    pub received_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = clearings)]
pub struct Clearing {
    pub id: i64,
    pub delivery_id: i64,
    pub action_id: Option<String>,
    pub order_id: Option<String>,
    pub campaign_id: Option<String>,
    pub cleared_date: Option<NaiveDateTime>,
    pub ledger_date: Option<NaiveDateTime>,
    pub matched: ClearingMatch,
    pub received_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, new: &NewClearing<'_>) -> QueryResult<usize> {
    diesel::insert_into(clearings::table)
        .values(new)
        .execute(conn)
}

pub fn of_action(conn: &mut AnyConnection, action_id: &str) -> QueryResult<Vec<Clearing>> {
    clearings::table
        .filter(clearings::action_id.eq(action_id))
        .order(clearings::id.asc())
        .select(Clearing::as_select())
        .load(conn)
}

/// Which of `action_ids` some clearing names (`exists_for` for a whole batch).
pub fn named_among(conn: &mut AnyConnection, action_ids: &[&str]) -> QueryResult<Vec<String>> {
    const HEAD: &str = "SELECT DISTINCT action_id FROM clearings WHERE action_id IN (";
    prepared::load_in(action_ids, |ids| {
        let statement = RowsStatement::<_, diesel::sql_types::Text>::new(HEAD, ids, ")");
        per_backend!(&mut *conn, c => statement.load::<String>(c))
    })
}

/// Does any clearing name this action? (A placeholder's only evidence.)
pub fn exists_for(conn: &mut AnyConnection, action_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        clearings::table.filter(clearings::action_id.eq(action_id)),
    ))
    .get_result(conn)
}
