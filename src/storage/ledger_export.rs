//! Ledger entries with their action's currency, brand and order id, in id order, for the export.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::{actions, ledger_entries};
use crate::domain::reconcile::EntryKind;

#[derive(Debug, Clone, Queryable)]
pub struct LedgerLine {
    pub id: i64,
    pub recorded_at: NaiveDateTime,
    pub action_id: String,
    pub kind: EntryKind,
    pub payout_delta: i64,
    pub amount_delta: i64,
    pub delivery_id: i64,
    pub payout_currency: Option<String>,
    pub amount_currency: Option<String>,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    pub order_id: Option<String>,
    pub is_test: bool,
    /// The entry's own currency (None: it follows its action's, `payout_currency`).
    pub currency: Option<String>,
    pub month: Option<String>,
    pub concerns: Option<String>,
    pub after_clearing: bool,
}

/// Up to `limit` entries with an id above `after_id`, recorded in `[from, until)` when given;
/// test conversions only with `include_tests`. Keyset by id: the export pages through any size.
pub fn after(
    conn: &mut AnyConnection,
    after_id: i64,
    from: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
    include_tests: bool,
    limit: i64,
) -> QueryResult<Vec<LedgerLine>> {
    let mut query = ledger_entries::table
        .inner_join(actions::table)
        .filter(ledger_entries::id.gt(after_id))
        .into_boxed();
    if let Some(from) = from {
        query = query.filter(ledger_entries::recorded_at.ge(from));
    }
    if let Some(until) = until {
        query = query.filter(ledger_entries::recorded_at.lt(until));
    }
    if !include_tests {
        query = query.filter(actions::is_test.eq(false));
    }
    query
        .order(ledger_entries::id.asc())
        .limit(limit)
        .select((
            ledger_entries::id,
            ledger_entries::recorded_at,
            ledger_entries::action_id,
            ledger_entries::kind,
            ledger_entries::payout_delta,
            ledger_entries::amount_delta,
            ledger_entries::delivery_id,
            actions::payout_currency,
            actions::amount_currency,
            actions::campaign_id,
            actions::campaign_name,
            actions::order_id,
            actions::is_test,
            ledger_entries::currency,
            ledger_entries::month,
            ledger_entries::concerns,
            ledger_entries::after_clearing,
        ))
        .load(conn)
}
