//! The distinct events received per action: the set its state is computed from.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::prepared::{self, RowsStatement, bind_row};
use super::schema::action_events;
use super::{AnyConnection, per_backend};
use crate::domain::cross_check::Origin;
use crate::domain::event::EventStatus;
use crate::domain::money::Money;
use crate::domain::reconcile::RecordedEvent;

#[derive(Debug)]
pub struct NewActionEvent<'a> {
    pub delivery_id: i64,
    pub action_id: &'a str,
    pub status: EventStatus,
    pub status_raw: Option<&'a str>,
    pub payout: Option<i64>,
    pub delta_payout: Option<i64>,
    pub amount: Option<i64>,
    pub delta_amount: Option<i64>,
    pub received_at: NaiveDateTime,
    pub currency: Option<&'a str>,
    pub event_date: Option<NaiveDateTime>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = action_events)]
pub struct ActionEventRow {
    pub delivery_id: i64,
    pub action_id: String,
    pub status: EventStatus,
    pub status_raw: Option<String>,
    pub payout: Option<i64>,
    pub delta_payout: Option<i64>,
    pub amount: Option<i64>,
    pub delta_amount: Option<i64>,
    pub received_at: NaiveDateTime,
    pub currency: Option<String>,
    pub event_date: Option<NaiveDateTime>,
    pub origin: Origin,
}

/// Inserts many events in a few statements (the write path's batch).
pub fn insert_all(conn: &mut AnyConnection, rows: &[NewActionEvent<'_>]) -> QueryResult<()> {
    for rows in prepared::in_sizes(rows) {
        let statement = RowsStatement::<_>::new(NewActionEvent::INSERT, rows, "");
        per_backend!(&mut *conn, c => statement.execute(c))?;
    }
    Ok(())
}

bind_row!(NewActionEvent into action_events {
    delivery_id: BigInt,
    action_id: Text,
    status: Text,
    status_raw: Nullable<Text>,
    payout: Nullable<BigInt>,
    delta_payout: Nullable<BigInt>,
    amount: Nullable<BigInt>,
    delta_amount: Nullable<BigInt>,
    received_at: Timestamp,
    currency: Nullable<Text>,
    event_date: Nullable<Timestamp>,
    origin: Text,
});

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
        AnyConnection::Sqlite(c) => {
            use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
            type Columns = (
                BigInt,
                Text,
                Text,
                Nullable<Text>,
                Nullable<BigInt>,
                Nullable<BigInt>,
                Nullable<BigInt>,
                Nullable<BigInt>,
                Timestamp,
                Nullable<Text>,
                Nullable<Timestamp>,
                Text,
            );
            const HEAD: &str = "SELECT delivery_id, action_id, status, status_raw, payout, \
                delta_payout, amount, delta_amount, received_at, currency, event_date, origin \
                FROM action_events \
                WHERE action_id IN (";
            const TAIL: &str = ") ORDER BY action_id, delivery_id";
            let ids: Vec<&str> = action_ids.iter().map(String::as_str).collect();
            prepared::load_in(&ids, |ids| {
                RowsStatement::<_, Columns>::new(HEAD, ids, TAIL).load::<ActionEventRow>(c)
            })
        }
    }
}

impl ActionEventRow {
    /// The event as the ledger rule reads it.
    pub fn recorded(&self) -> RecordedEvent {
        RecordedEvent {
            seq: self.delivery_id,
            status: self.status.effective(),
            unknown_status: self.status == EventStatus::Unknown,
            payout: self.payout.map(Money::from_minor_units),
            delta_payout: self.delta_payout.map(Money::from_minor_units),
            amount: self.amount.map(Money::from_minor_units),
            delta_amount: self.delta_amount.map(Money::from_minor_units),
            currency: self.currency.clone(),
            event_date: self.event_date.map(|date| date.and_utc()),
            origin: self.origin,
        }
    }
}
