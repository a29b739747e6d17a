//! Append-only money movements. The database refuses to update or delete them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::prepared::{self, RowsStatement, bind_row};
use super::schema::ledger_entries;
use super::{AnyConnection, per_backend};
use crate::domain::reconcile::EntryKind;

#[derive(Debug)]
pub struct NewLedgerEntry<'a> {
    pub action_id: &'a str,
    pub delivery_id: i64,
    pub kind: EntryKind,
    pub payout_delta: i64,
    pub amount_delta: i64,
    pub recorded_at: NaiveDateTime,
    /// The entry's own currency (None: the action has none yet; it follows the action's).
    pub currency: Option<String>,
    /// The statement month it is booked in (the book's zone; a later open month when its own
    /// is closed) and, then, the month it concerns.
    pub month: String,
    pub concerns: Option<String>,
    /// A change after the action cleared: a clawback.
    pub after_clearing: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = ledger_entries)]
pub struct LedgerEntry {
    pub id: i64,
    pub action_id: String,
    pub delivery_id: i64,
    pub kind: EntryKind,
    pub payout_delta: i64,
    pub amount_delta: i64,
    pub recorded_at: NaiveDateTime,
    pub currency: Option<String>,
    pub month: Option<String>,
    pub concerns: Option<String>,
    pub after_clearing: bool,
}

/// Appends many entries in a few statements, in the order given (their ids follow it).
pub fn insert_all(conn: &mut AnyConnection, rows: &[NewLedgerEntry<'_>]) -> QueryResult<()> {
    for rows in prepared::in_sizes(rows) {
        let statement = RowsStatement::<_>::new(NewLedgerEntry::INSERT, rows, "");
        per_backend!(&mut *conn, c => statement.execute(c))?;
    }
    Ok(())
}

bind_row!(NewLedgerEntry into ledger_entries {
    action_id: Text,
    delivery_id: BigInt,
    kind: Text,
    payout_delta: BigInt,
    amount_delta: BigInt,
    recorded_at: Timestamp,
    currency: Nullable<Text>,
    month: Text,
    concerns: Nullable<Text>,
    after_clearing: Bool,
});

pub fn of_action(conn: &mut AnyConnection, action_id: &str) -> QueryResult<Vec<LedgerEntry>> {
    ledger_entries::table
        .filter(ledger_entries::action_id.eq(action_id))
        .order(ledger_entries::id.asc())
        .select(LedgerEntry::as_select())
        .load(conn)
}

pub fn of_actions(
    conn: &mut AnyConnection,
    action_ids: &[String],
) -> QueryResult<Vec<LedgerEntry>> {
    ledger_entries::table
        .filter(ledger_entries::action_id.eq_any(action_ids))
        .order(ledger_entries::id.asc())
        .select(LedgerEntry::as_select())
        .load(conn)
}

/// Per action: (action id, sum of payout deltas, sum of amount deltas, entries), whatever their
/// currency. Sums are cast to BIGINT: diesel reads SUM over BIGINT as Numeric, which SQLite
/// returns through a float. (`check` sums in i128 per currency instead.)
pub fn sums_for(
    conn: &mut AnyConnection,
    action_ids: &[String],
) -> QueryResult<Vec<(String, i64, i64, i64)>> {
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    ledger_entries::table
        .filter(ledger_entries::action_id.eq_any(action_ids))
        .group_by(ledger_entries::action_id)
        .select((
            ledger_entries::action_id,
            sql::<BigInt>("CAST(SUM(payout_delta) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(amount_delta) AS BIGINT)"),
            sql::<BigInt>("COUNT(*)"),
        ))
        .load(conn)
}

/// Entries whose delivery row is missing: each must point at the request that caused it.
pub fn without_delivery(conn: &mut AnyConnection) -> QueryResult<Vec<(i64, String)>> {
    use super::schema::deliveries;
    ledger_entries::table
        .filter(diesel::dsl::not(diesel::dsl::exists(
            deliveries::table.filter(deliveries::id.eq(ledger_entries::delivery_id)),
        )))
        .select((ledger_entries::id, ledger_entries::action_id))
        .load(conn)
}
