//! Scratch rows of a running reconciliation run: the action ids it has read, so a record listed
//! twice is compared once and the ledger's actions the network did not list are found by a
//! query, not held in memory. A run empties its own rows when it ends.

use diesel::prelude::*;

use super::prepared::{self, RowsStatement, bind_row};
use super::schema::reconciliation_seen;
use super::{AnyConnection, per_backend};

pub struct Seen<'a> {
    pub run_id: i64,
    pub action_id: &'a str,
}

bind_row!(Seen into reconciliation_seen {
    run_id: BigInt,
    action_id: Text,
});

/// Records the ids as read by the run; returns those it had not read before. Each id at most
/// once per call.
pub fn insert_new(
    conn: &mut AnyConnection,
    run_id: i64,
    action_ids: &[&str],
) -> QueryResult<Vec<String>> {
    const TAIL: &str = " ON CONFLICT (run_id, action_id) DO NOTHING RETURNING action_id";
    let rows: Vec<Seen<'_>> = action_ids
        .iter()
        .map(|action_id| Seen { run_id, action_id })
        .collect();
    let mut new = Vec::with_capacity(rows.len());
    for rows in prepared::in_sizes(&rows) {
        let statement = RowsStatement::<_, diesel::sql_types::Text>::new(Seen::INSERT, rows, TAIL);
        new.extend(per_backend!(&mut *conn, c => statement.load::<String>(c))?);
    }
    Ok(new)
}

/// Forgets what the run read.
pub fn clear(conn: &mut AnyConnection, run_id: i64) -> QueryResult<usize> {
    diesel::delete(reconciliation_seen::table.filter(reconciliation_seen::run_id.eq(run_id)))
        .execute(conn)
}
