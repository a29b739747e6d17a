//! An action's history as one chronological list: its ledger entries (tracked, modified,
//! reversed, clawbacks), the locking date passing, the scheduled and the actual clearing, the
//! clearings received and the network-record fills, each with the delivery or reconciliation
//! run behind it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::event::{ActionStatus, SourceKind};
use crate::read::actions::ActionView;
use crate::read::format::utc;
use crate::storage::{AnyConnection, StorageError, deliveries, reconciliation_differences};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineItem {
    /// When, as UTC text.
    pub at: String,
    /// tracked, modified, reversed, clawback, locked, locks, clearing_scheduled, cleared,
    /// clearing_received or filled.
    pub kind: &'static str,
    /// What happened, in words.
    pub label: String,
    /// The payout and sale amount it moved (entries and the clearing only).
    pub payout: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub delivery_id: Option<i64>,
    /// The reconciliation run that wrote it, for a fill from the network's records.
    pub run_id: Option<i64>,
    /// Still ahead at the time of reading (a locking or scheduled clearing date).
    pub upcoming: bool,
}

impl TimelineItem {
    fn new(at: &str, kind: &'static str, label: impl Into<String>) -> TimelineItem {
        TimelineItem {
            at: at.to_owned(),
            kind,
            label: label.into(),
            payout: None,
            amount: None,
            currency: None,
            delivery_id: None,
            run_id: None,
            upcoming: false,
        }
    }
}

fn instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// The timeline of an action read with its entries, clearings and clearance
/// (`read::actions::action`).
pub fn of_action(
    conn: &mut AnyConnection,
    view: &ActionView,
    now: DateTime<Utc>,
) -> Result<Vec<TimelineItem>, StorageError> {
    let received = deliveries::kinds_of_subject(conn, &view.action_id)?;
    let mut fills: Vec<i64> = received
        .iter()
        .filter(|(_, kind, _)| *kind == SourceKind::NetworkRecord)
        .map(|(id, _, _)| *id)
        .collect();
    if let Some(delivery) = view
        .clearance
        .as_ref()
        .and_then(|booked| booked.delivery_id)
    {
        fills.push(delivery);
    }
    let runs: HashMap<i64, i64> = reconciliation_differences::runs_of_fills(conn, &fills)?
        .into_iter()
        .collect();
    Ok(build(view, &received, &runs, now))
}

/// Pure: the list from what was read.
fn build(
    view: &ActionView,
    received: &[(i64, SourceKind, chrono::NaiveDateTime)],
    runs: &HashMap<i64, i64>,
    now: DateTime<Utc>,
) -> Vec<TimelineItem> {
    let currency = view.details.payout_currency.clone();
    let mut items = Vec::new();
    let mut with_entries = std::collections::HashSet::new();
    for entry in view.entries.iter().flatten() {
        with_entries.insert(entry.delivery_id);
        let run = runs.get(&entry.delivery_id).copied();
        let (kind, mut label) = match (entry.after_clearing, entry.kind.as_str()) {
            (true, "reversed") => ("clawback", "Reversed after clearing: a clawback".to_owned()),
            (true, _) => (
                "clawback",
                "Changed after clearing: a clawback or top-up".to_owned(),
            ),
            (false, "tracked") => ("tracked", "Tracked".to_owned()),
            (false, "modified") => ("modified", "Modified".to_owned()),
            (false, _) => ("reversed", "Reversed".to_owned()),
        };
        if let Some(run) = run {
            label.push_str(&format!(", filled from the network's record by run {run}"));
        }
        if let Some(month) = &entry.concerns {
            label.push_str(&format!(" (concerns closed month {month})"));
        }
        let mut item = TimelineItem::new(&entry.recorded_at, kind, label);
        item.payout = Some(entry.payout_delta.clone());
        item.amount = Some(entry.amount_delta.clone());
        item.currency = entry.currency.clone().or_else(|| currency.clone());
        item.delivery_id = Some(entry.delivery_id);
        item.run_id = run;
        items.push(item);
    }
    // A fill that moved no money (a status or date only) still happened.
    for (id, kind, at) in received {
        if *kind == SourceKind::NetworkRecord && !with_entries.contains(id) {
            let run = runs.get(id).copied();
            let mut item = TimelineItem::new(
                &utc(*at),
                "filled",
                "Filled from the network's record (no money moved)",
            );
            item.delivery_id = Some(*id);
            item.run_id = run;
            items.push(item);
        }
    }
    if let Some(locking) = view.details.locking_date.as_deref()
        && view.status != ActionStatus::Reversed
    {
        let ahead = instant(locking).is_some_and(|at| at > now);
        let mut item = if ahead {
            TimelineItem::new(
                locking,
                "locks",
                "Locks: changes after this date are flagged",
            )
        } else {
            TimelineItem::new(
                locking,
                "locked",
                "Locked: the locking date passed, approved",
            )
        };
        item.upcoming = ahead;
        items.push(item);
    }
    if let Some(scheduled) = view.details.cleared_date.as_deref() {
        let mut item = TimelineItem::new(
            scheduled,
            "clearing_scheduled",
            "Scheduled to clear (impact.com's ClearedDate)",
        );
        item.upcoming = instant(scheduled).is_some_and(|at| at > now);
        items.push(item);
    }
    let cleared_by = view
        .clearance
        .as_ref()
        .and_then(|booked| booked.delivery_id);
    if let Some(booked) = &view.clearance {
        let run = booked
            .delivery_id
            .and_then(|delivery| runs.get(&delivery).copied());
        let mut label = format!("Cleared, booked in {}", booked.month);
        if run.is_some() || booked.origin == crate::storage::clearances::ORIGIN_NETWORK {
            label.push_str(", from the network's record");
        }
        let mut item = TimelineItem::new(&booked.cleared_at, "cleared", label);
        item.payout = Some(booked.payout.clone());
        item.amount = Some(booked.amount.clone());
        item.currency = booked.currency.clone().or_else(|| currency.clone());
        item.delivery_id = booked.delivery_id;
        item.run_id = run;
        items.push(item);
    }
    for clearing in view.clearings.iter().flatten() {
        if Some(clearing.delivery_id) == cleared_by {
            continue;
        }
        let mut item = TimelineItem::new(
            &clearing.received_at,
            "clearing_received",
            "A clearing named it",
        );
        item.delivery_id = Some(clearing.delivery_id);
        items.push(item);
    }
    // Chronological; on the same instant, in the order built (entries before dates).
    items.sort_by_key(|item| instant(&item.at));
    items
}
