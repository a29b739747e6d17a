//! The distinct events received per action: the set its state is computed from.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::action_events;
use super::{AnyConnection, per_backend};

// NULL rather than DEFAULT for None: SQLite has no DEFAULT in a multi-row VALUES.
#[derive(Debug, Insertable)]
#[diesel(table_name = action_events, treat_none_as_default_value = false)]
pub struct NewActionEvent<'a> {
    pub delivery_id: i64,
    pub action_id: &'a str,
    pub status: &'a str,
    pub status_raw: Option<&'a str>,
    pub payout: Option<i64>,
    pub delta_payout: Option<i64>,
    pub amount: Option<i64>,
    pub delta_amount: Option<i64>,
    pub received_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = action_events)]
pub struct ActionEventRow {
    pub delivery_id: i64,
    pub action_id: String,
    pub status: String,
    pub status_raw: Option<String>,
    pub payout: Option<i64>,
    pub delta_payout: Option<i64>,
    pub amount: Option<i64>,
    pub delta_amount: Option<i64>,
    pub received_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, new: &NewActionEvent<'_>) -> QueryResult<usize> {
    diesel::insert_into(action_events::table)
        .values(new)
        .execute(conn)
}

/// Inserts many events in a few statements (the write path's batch).
pub fn insert_all(conn: &mut AnyConnection, rows: &[NewActionEvent<'_>]) -> QueryResult<()> {
    for rows in rows.chunks(super::MAX_ROWS_PER_STATEMENT) {
        per_backend!(&mut *conn, c => diesel::insert_into(action_events::table)
            .values(rows)
            .execute(c))?;
    }
    Ok(())
}

/// Every event of an action in arrival order.
pub fn of_action(conn: &mut AnyConnection, action_id: &str) -> QueryResult<Vec<ActionEventRow>> {
    action_events::table
        .filter(action_events::action_id.eq(action_id))
        .order(action_events::delivery_id.asc())
        .select(ActionEventRow::as_select())
        .load(conn)
}

pub fn of_actions(
    conn: &mut AnyConnection,
    action_ids: &[String],
) -> QueryResult<Vec<ActionEventRow>> {
    action_events::table
        .filter(action_events::action_id.eq_any(action_ids))
        .order((
            action_events::action_id.asc(),
            action_events::delivery_id.asc(),
        ))
        .select(ActionEventRow::as_select())
        .load(conn)
}
