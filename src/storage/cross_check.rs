//! What the cross-check reads of the ledger: the state of the actions a network lists, and the
//! actions of a period that it did not list. This is the one place that says what "cleared
//! here" means for the cross-check: a clearing is booked for the action (a clearance, whether a
//! clearing postback or the network's own record named it).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};

use super::schema::{actions, clearances};
use super::{AnyConnection, from_db_time, load_sql};
use crate::domain::cross_check::LedgerSide;
use crate::domain::event::ActionStatus;
use crate::domain::money::Money;
use crate::domain::reconcile::{Flag, Flags};

/// One action as the cross-check compares it.
#[derive(Debug, Clone, Queryable, QueryableByName)]
pub struct LedgerRow {
    #[diesel(sql_type = Text)]
    pub action_id: String,
    #[diesel(sql_type = Text)]
    pub status: ActionStatus,
    #[diesel(sql_type = BigInt)]
    pub payout: i64,
    #[diesel(sql_type = BigInt)]
    pub amount: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub payout_currency: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub locking_date: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub event_date: Option<NaiveDateTime>,
    #[diesel(sql_type = Text)]
    pub flags: Flags,
    #[diesel(sql_type = Bool)]
    pub cleared: bool,
}

impl LedgerRow {
    pub fn side(&self) -> LedgerSide {
        LedgerSide {
            status: self.status,
            payout: Money::from_minor_units(self.payout),
            amount: Money::from_minor_units(self.amount),
            currency: self.payout_currency.clone(),
            locking_date: self.locking_date.map(from_db_time),
            cleared: self.cleared,
            tracked: !self.flags.contains(&Flag::ClearedNeverTracked),
        }
    }
}

/// The stored actions among `action_ids` (a few hundred at a time).
pub fn ledger_rows(conn: &mut AnyConnection, action_ids: &[&str]) -> QueryResult<Vec<LedgerRow>> {
    let cleared =
        diesel::dsl::exists(clearances::table.filter(clearances::action_id.eq(actions::action_id)));
    actions::table
        .filter(actions::action_id.eq_any(action_ids))
        .select((
            actions::action_id,
            actions::status,
            actions::payout,
            actions::amount,
            actions::payout_currency,
            actions::locking_date,
            actions::event_date,
            actions::flags,
            cleared,
        ))
        .load(conn)
}

/// An action of the period the run has not read, with where the next page starts.
#[derive(Debug, Clone, QueryableByName)]
pub struct NotRead {
    #[diesel(embed)]
    pub ledger: LedgerRow,
    /// Its event date as the database holds it: the page cursor. (SQLite keeps times as text,
    /// in whatever format wrote them; comparing the stored text itself keeps the walk exact.)
    #[diesel(sql_type = Text)]
    pub cursor: String,
}

/// The ledger's actions with an event date in `[start, end)` that run `run_id` has not read,
/// after `cursor` (a `NotRead::cursor`, and an action id; None: from the start) in (event date,
/// action id) order; test conversions left out. Walks the event date index, one page at a time.
pub fn not_read_after(
    conn: &mut AnyConnection,
    run_id: i64,
    start: NaiveDateTime,
    end: NaiveDateTime,
    cursor: Option<(&str, &str)>,
    limit: i64,
) -> QueryResult<Vec<NotRead>> {
    let cursor_value = match conn {
        AnyConnection::Postgresql(_) => "$3::timestamp",
        AnyConnection::Sqlite(_) => "$3",
    };
    let after = match cursor {
        Some(_) => format!(
            "AND (a.event_date > {cursor_value} OR (a.event_date = {cursor_value} AND a.action_id > $4))"
        ),
        // $3 and $4 are bound either way, so both forms take the same binds.
        None => "AND ($3 = $3 AND $4 = $4)".to_owned(),
    };
    let sql = format!(
        "SELECT a.action_id, a.status, a.payout, a.amount, a.payout_currency, a.locking_date,
                a.event_date, a.flags,
                EXISTS (SELECT 1 FROM clearances c WHERE c.action_id = a.action_id) AS cleared,
                CAST(a.event_date AS TEXT) AS cursor
         FROM actions a
         WHERE a.event_date >= $1 AND a.event_date < $2
           {after}
           AND a.is_test = FALSE
           AND NOT EXISTS (
               SELECT 1 FROM reconciliation_seen s WHERE s.run_id = $5 AND s.action_id = a.action_id
           )
         ORDER BY a.event_date, a.action_id
         LIMIT $6"
    );
    let (date, id) = cursor.unwrap_or(("", ""));
    load_sql!(conn, sql, |q| q
        .bind::<Timestamp, _>(start)
        .bind::<Timestamp, _>(end)
        .bind::<Text, _>(date)
        .bind::<Text, _>(id)
        .bind::<BigInt, _>(run_id)
        .bind::<BigInt, _>(limit))
}
