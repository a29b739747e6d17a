//! `check`: verifies the ledger's invariants over the whole database, naming every violation.

use std::collections::HashMap;

use super::{AnyConnection, StorageError, action_events, actions, clearings, ledger_entries};
use crate::domain::event::ActionStatus;
use crate::domain::money::Money;
use crate::domain::reconcile;

const PAGE: i64 = 2_000;

/// Every violation found, in action id order. Empty means the ledger is sound.
pub fn violations(conn: &mut AnyConnection) -> Result<Vec<String>, StorageError> {
    let mut found = super::overview::running_totals_drift(conn)?;
    for (entry_id, action_id) in ledger_entries::without_delivery(conn)? {
        found.push(format!(
            "action {action_id}: ledger entry {entry_id} points at no delivery"
        ));
    }
    let mut cursor = String::new();
    loop {
        let ids = actions::ids_after(conn, &cursor, PAGE)?;
        let Some(last) = ids.last() else { break };
        cursor = last.clone();
        let sums: HashMap<String, (i64, i64, i64)> = ledger_entries::sums_for(conn, &ids)?
            .into_iter()
            .map(|(id, payout, amount, count)| (id, (payout, amount, count)))
            .collect();
        let mut events: HashMap<String, Vec<reconcile::RecordedEvent>> = HashMap::new();
        for row in action_events::of_actions(conn, &ids)? {
            events
                .entry(row.action_id.clone())
                .or_default()
                .push(row.recorded());
        }
        for action in actions::of_ids(conn, &ids)? {
            let id = &action.action_id;
            let (payout_sum, amount_sum, entries) = sums.get(id).copied().unwrap_or_default();
            let money = |units: i64| Money::from_minor_units(units);
            if payout_sum != action.payout {
                found.push(format!(
                    "action {id}: entries sum to {} but the payout is {}",
                    money(payout_sum),
                    money(action.payout)
                ));
            }
            if amount_sum != action.amount {
                found.push(format!(
                    "action {id}: entries sum to an amount of {} but the amount is {}",
                    money(amount_sum),
                    money(action.amount)
                ));
            }
            if action.status == ActionStatus::Reversed && (action.payout != 0 || payout_sum != 0) {
                found.push(format!(
                    "action {id}: reversed but its payout is {}",
                    money(action.payout)
                ));
            }
            let set = events.remove(id).unwrap_or_default();
            // A placeholder made by a clearing for an id never tracked: no event, no entry, no
            // money, and a clearing that names it.
            let placeholder = action.flags.contains(&reconcile::Flag::ClearedNeverTracked);
            if placeholder {
                if !set.is_empty() {
                    found.push(format!(
                        "action {id}: flagged cleared_never_tracked but has recorded events"
                    ));
                } else {
                    if entries != 0 || action.payout != 0 || action.amount != 0 {
                        found.push(format!(
                            "action {id}: a clearing placeholder with money or ledger entries"
                        ));
                    }
                    if !clearings::exists_for(conn, id)? {
                        found.push(format!(
                            "action {id}: a clearing placeholder that no clearing names"
                        ));
                    }
                    continue;
                }
            }
            if entries == 0 {
                found.push(format!("action {id}: has no ledger entry"));
            }
            // The stored state must be what the set of its events implies.
            if set.is_empty() {
                found.push(format!("action {id}: has no recorded event"));
                continue;
            }
            let implied = reconcile::position(&set);
            if implied.payout.minor_units() != action.payout
                || implied.status.as_str() != action.status
            {
                found.push(format!(
                    "action {id}: stored as {} {} but its events imply {} {}",
                    action.status,
                    money(action.payout),
                    implied.status.as_str(),
                    implied.payout
                ));
            }
        }
    }
    Ok(found)
}
