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

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
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

/// `of_actions` on PostgreSQL; `$1` is the array of action ids.
pub const OF_ACTIONS_ON_POSTGRES: &str = "SELECT e.* FROM unnest($1::text[]) AS wanted (action_id)
    CROSS JOIN LATERAL (
        SELECT * FROM action_events WHERE action_id = wanted.action_id OFFSET 0
    ) AS e
    ORDER BY e.action_id, e.delivery_id";

/// Every event of each of `action_ids`, by action and in arrival order: the write path reads
/// a batch's events with this.
pub fn of_actions(
    conn: &mut AnyConnection,
    action_ids: &[String],
) -> QueryResult<Vec<ActionEventRow>> {
    match conn {
        // One index lookup per id. As `action_id = ANY($1)`, PostgreSQL estimates a fixed share
        // of the table per id until the table is analyzed, so on a new ledger it scanned the
        // whole table for every batch (the write path's main cost there). `OFFSET 0` keeps the
        // planner from turning the lookups back into a join over the whole table.
        AnyConnection::Postgresql(c) => diesel::sql_query(OF_ACTIONS_ON_POSTGRES)
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(action_ids)
            .load(c),
        AnyConnection::Sqlite(_) => action_events::table
            .filter(action_events::action_id.eq_any(action_ids))
            .order((
                action_events::action_id.asc(),
                action_events::delivery_id.asc(),
            ))
            .select(ActionEventRow::as_select())
            .load(conn),
    }
}
