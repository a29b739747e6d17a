//! `check`: verifies the ledger's invariants over the whole database, naming every violation.
//! It always ends with a verdict: sums run in i128, and a part that cannot be read (a running
//! sum that overflowed, say) is itself a violation, not a failure of the command.

use std::collections::{BTreeMap, HashMap};

use super::{
    AnyConnection, StorageError, action_events, actions, clearings, closed_months, ledger_entries,
    statement,
};
use crate::domain::event::ActionStatus;
use crate::domain::money::wide_text;
use crate::domain::reconcile;

const PAGE: i64 = 2_000;

/// Every violation found, in action id order. Empty means the ledger is sound.
pub fn violations(conn: &mut AnyConnection) -> Result<Vec<String>, StorageError> {
    let mut found = match super::running_sums::drift(conn) {
        Ok(drift) => drift,
        Err(error) => vec![format!("the running sums cannot be read: {error}")],
    };
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
        // Per action and currency (None: the entry follows its action's): payout, amount, count.
        let mut sums: HashMap<String, BTreeMap<Option<String>, (i128, i128)>> = HashMap::new();
        let mut counts: HashMap<String, i64> = HashMap::new();
        for entry in ledger_entries::of_actions(conn, &ids)? {
            let sum = sums
                .entry(entry.action_id.clone())
                .or_default()
                .entry(entry.currency.clone())
                .or_default();
            sum.0 += i128::from(entry.payout_delta);
            sum.1 += i128::from(entry.amount_delta);
            *counts.entry(entry.action_id).or_default() += 1;
        }
        let mut events: HashMap<String, Vec<reconcile::RecordedEvent>> = HashMap::new();
        for row in action_events::of_actions(conn, &ids)? {
            events
                .entry(row.action_id.clone())
                .or_default()
                .push(row.recorded());
        }
        for action in actions::of_ids(conn, &ids)? {
            let id = &action.action_id;
            let entries = counts.get(id).copied().unwrap_or_default();
            let own = action.details.payout_currency.clone();
            let (mut payout_sum, mut amount_sum) = (0i128, 0i128);
            for (currency, (payout, amount)) in sums.remove(id).unwrap_or_default() {
                if currency.is_none() || currency == own {
                    payout_sum += payout;
                    amount_sum += amount;
                } else if payout != 0 || amount != 0 {
                    found.push(format!(
                        "action {id}: its {} entries sum to {} (payout) and {} (amount), not 0: its money is in {}",
                        currency.as_deref().unwrap_or_default(),
                        wide_text(payout),
                        wide_text(amount),
                        own.as_deref().unwrap_or("no currency")
                    ));
                }
            }
            let stored = |units: i64| wide_text(i128::from(units));
            if payout_sum != i128::from(action.payout) {
                found.push(format!(
                    "action {id}: entries sum to {} but the payout is {}",
                    wide_text(payout_sum),
                    stored(action.payout)
                ));
            }
            if amount_sum != i128::from(action.amount) {
                found.push(format!(
                    "action {id}: entries sum to an amount of {} but the amount is {}",
                    wide_text(amount_sum),
                    stored(action.amount)
                ));
            }
            if action.status == ActionStatus::Reversed && (action.payout != 0 || payout_sum != 0) {
                found.push(format!(
                    "action {id}: reversed but its payout is {}",
                    stored(action.payout)
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
            match reconcile::position(&set) {
                Ok(implied) => {
                    if implied.payout.minor_units() != action.payout
                        || implied.status.as_str() != action.status
                    {
                        found.push(format!(
                            "action {id}: stored as {} {} but its events imply {} {}",
                            action.status,
                            stored(action.payout),
                            implied.status.as_str(),
                            implied.payout
                        ));
                    }
                }
                Err(overflow) => found.push(format!("action {id}: {overflow}")),
            }
        }
    }
    found.extend(closed_month_violations(conn)?);
    Ok(found)
}

/// Every closed month must still match the facts behind it: the same rows, sums and hashes.
fn closed_month_violations(conn: &mut AnyConnection) -> Result<Vec<String>, StorageError> {
    let mut found = Vec::new();
    for closed in closed_months::all(conn)? {
        let month = &closed.month;
        let stored =
            closed_months::rows_between(conn, month, &crate::domain::book::next_month(month))?;
        let facts = statement::facts_of_month(conn, month)?;
        let now = statement::rows_from_facts(month, &facts);
        if stored != now {
            let key = |row: &closed_months::ClosedRow| {
                format!(
                    "{} {} {}",
                    row.campaign_id.as_deref().unwrap_or("–"),
                    row.currency.as_deref().unwrap_or("–"),
                    row.concerns.as_deref().unwrap_or("")
                )
            };
            let differing: Vec<String> = stored
                .iter()
                .filter(|row| !now.contains(row))
                .map(key)
                .chain(now.iter().filter(|row| !stored.contains(row)).map(key))
                .collect();
            found.push(format!(
                "closed month {month}: the statement stored when it closed no longer matches its entries ({})",
                differing.join("; ")
            ));
        }
    }
    Ok(found)
}
