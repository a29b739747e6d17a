//! An action as the API, pages and exports show it: its state in finance's terms, its entries
//! and clearings; and a filtered page of actions with its totals.

use chrono::{DateTime, Utc};
use serde::Serialize;

use std::collections::HashMap;

use crate::domain::bucket::{Bucket, bucket_of};
use crate::domain::details::ActionDetails;
use crate::domain::event::{ActionStatus, ClearingMatch};
use crate::domain::money::Money;
use crate::domain::reconcile::{EntryKind, Flags, is_locked};
use crate::read::format::{json_or_null, utc};
use crate::storage::action_query::{ActionFilter, Cursor, SortKey, SortValue};
use crate::storage::actions::Action;
use crate::storage::clearings::Clearing;
use crate::storage::ledger_entries::LedgerEntry;
use crate::storage::{AnyConnection, StorageError, actions, clearings, ledger_entries};

#[derive(Debug, Serialize)]
pub struct EntryView {
    pub kind: EntryKind,
    pub payout_delta: String,
    pub amount_delta: String,
    /// The entry's own currency (null: it follows the action's).
    pub currency: Option<String>,
    /// The statement month it is booked in, and the closed month it concerns if it landed later.
    pub month: Option<String>,
    pub concerns: Option<String>,
    /// A change after the action cleared: a clawback.
    pub after_clearing: bool,
    pub delivery_id: i64,
    pub recorded_at: String,
}

#[derive(Debug, Serialize)]
pub struct ActionView {
    pub action_id: String,
    pub source: String,
    pub status: ActionStatus,
    pub status_raw: Option<String>,
    pub payout: String,
    pub amount: String,
    /// Dates as UTC text.
    #[serde(flatten)]
    pub details: ActionDetails<String, String>,
    pub ledger_date: Option<String>,
    /// When it cleared: a clearing named it (its LedgerDate, else its arrival). `cleared_date`
    /// is only the date impact.com scheduled it to clear.
    pub cleared_at: Option<String>,
    /// Approved (locked): not reversed and its locking date has passed, at the time of reading.
    /// `status` stays what the events say; this is derived, never a ledger entry.
    pub locked: bool,
    /// What finance sees: pending, approved (locked, or sent approved), cleared or reversed;
    /// see `dashboard::filter::bucket_of`.
    pub shown_status: Bucket,
    /// When someone marked its flags as looked at.
    pub reviewed_at: Option<String>,
    pub flags: Flags,
    /// Each flag in words, with what to do (`domain::explain`).
    pub flags_explained: Vec<crate::domain::explain::FlagNote>,
    pub items: serde_json::Value,
    pub extra: serde_json::Value,
    pub first_seen_at: String,
    pub last_seen_at: String,
    /// Sent by `send-test` or carrying the configured test marker.
    pub is_test: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<EntryView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clearings: Option<Vec<ClearingView>>,
    /// What cleared, as booked when it cleared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clearance: Option<ClearanceView>,
    /// One chronological list of what happened to it (`read::timeline`); one action only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<crate::read::timeline::TimelineItem>>,
}

#[derive(Debug, Serialize)]
pub struct ClearanceView {
    pub origin: String,
    pub delivery_id: Option<i64>,
    pub cleared_at: String,
    pub payout: String,
    pub amount: String,
    pub currency: Option<String>,
    pub month: String,
    pub concerns: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ClearingView {
    pub delivery_id: i64,
    pub order_id: Option<String>,
    pub cleared_date: Option<String>,
    pub ledger_date: Option<String>,
    pub matched: ClearingMatch,
    pub received_at: String,
}

impl From<Clearing> for ClearingView {
    fn from(clearing: Clearing) -> ClearingView {
        ClearingView {
            delivery_id: clearing.delivery_id,
            order_id: clearing.order_id,
            cleared_date: clearing.cleared_date.map(utc),
            ledger_date: clearing.ledger_date.map(utc),
            matched: clearing.matched,
            received_at: utc(clearing.received_at),
        }
    }
}

impl ActionView {
    pub fn new(
        action: Action,
        entries: Option<Vec<LedgerEntry>>,
        now: DateTime<Utc>,
    ) -> ActionView {
        let money = |units: i64| Money::from_minor_units(units).to_string();
        ActionView {
            locked: is_locked(
                action.status,
                action.details.locking_date.map(|date| date.and_utc()),
                now,
            ),
            shown_status: bucket_of(
                action.status,
                action.details.locking_date,
                action.cleared_at(),
                crate::storage::to_db_time(now),
            ),
            cleared_at: action.cleared_at().map(utc),
            reviewed_at: action.reviewed_at.map(utc),
            ledger_date: action.ledger_date.map(utc),
            clearings: None,
            clearance: None,
            timeline: None,
            status: action.status,
            status_raw: action.status_raw,
            payout: money(action.payout),
            amount: money(action.amount),
            details: action.details.map(Clone::clone, |date| utc(*date)),
            flags_explained: crate::domain::explain::action_flags(&action.flags),
            flags: action.flags,
            items: json_or_null(action.items.as_deref()),
            extra: json_or_null(action.extra.as_deref()),
            first_seen_at: utc(action.first_seen_at),
            last_seen_at: utc(action.last_seen_at),
            is_test: action.is_test,
            entries: entries.map(|entries| {
                entries
                    .into_iter()
                    .map(|entry| EntryView {
                        kind: entry.kind,
                        payout_delta: money(entry.payout_delta),
                        amount_delta: money(entry.amount_delta),
                        currency: entry.currency,
                        month: entry.month,
                        concerns: entry.concerns,
                        after_clearing: entry.after_clearing,
                        delivery_id: entry.delivery_id,
                        recorded_at: utc(entry.recorded_at),
                    })
                    .collect()
            }),
            action_id: action.action_id,
            source: action.source,
        }
    }
}

/// One action with its entries and clearings, or None.
pub fn action(
    conn: &mut AnyConnection,
    action_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<ActionView>, StorageError> {
    let Some(action) = actions::find(conn, action_id)? else {
        return Ok(None);
    };
    let entries = ledger_entries::of_action(conn, action_id)?;
    let mut view = ActionView::new(action, Some(entries), now);
    view.clearings = Some(
        clearings::of_action(conn, action_id)?
            .into_iter()
            .map(ClearingView::from)
            .collect(),
    );
    view.clearance =
        crate::storage::clearances::of_action(conn, action_id)?.map(|booked| ClearanceView {
            origin: booked.origin,
            delivery_id: booked.delivery_id,
            cleared_at: utc(booked.cleared_at),
            payout: Money::from_minor_units(booked.payout).to_string(),
            amount: Money::from_minor_units(booked.amount).to_string(),
            currency: booked.currency,
            month: booked.month,
            concerns: booked.concerns,
        });
    view.timeline = Some(crate::read::timeline::of_action(conn, &view, now)?);
    Ok(Some(view))
}

#[derive(Debug, Serialize)]
pub struct ActionTotal {
    pub currency: Option<String>,
    pub actions: i64,
    pub payout: String,
    pub amount: String,
    /// What the reversals of these actions took away (positive), as the overview's Reversed
    /// card shows it: a reversed action's own payout is 0.
    pub reversed: String,
}

#[derive(Debug, Serialize)]
pub struct ActionPage {
    pub actions: Vec<ActionView>,
    /// Pass as `cursor` (with the same filters) for the next page; null on the last.
    pub next_cursor: Option<String>,
    /// Count, payout and amount of the whole filtered set (every page), per currency.
    pub totals: Vec<ActionTotal>,
    /// The test conversions (hidden unless `include_tests`) whose action or order id is the id
    /// searched for (`q`); empty without a search or when tests are listed.
    pub test_actions: Vec<String>,
}

/// A page of the filtered list, each action with its entries, and the filtered set's totals.
/// The cursor that lists the filtered actions from row `offset` (0-based) on: None for the
/// first row, or when there are not that many.
pub fn cursor_at(
    conn: &mut AnyConnection,
    filter: &ActionFilter,
    offset: i64,
    now: DateTime<Utc>,
) -> Result<Option<String>, StorageError> {
    if offset <= 0 {
        return Ok(None);
    }
    let mut from_start = filter.clone();
    from_start.cursor = None;
    let at = crate::storage::to_db_time(now);
    let before = actions::list_from(conn, &from_start, at, offset - 1, 1)?;
    Ok(before
        .first()
        .map(|row| cursor_after(row, filter.sort).encode()))
}

pub fn action_page(
    conn: &mut AnyConnection,
    filter: &ActionFilter,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<ActionPage, StorageError> {
    let at = crate::storage::to_db_time(now);
    let mut rows = actions::list(conn, filter, at, limit + 1)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = match rows.last() {
        Some(last) if more => Some(cursor_after(last, filter.sort).encode()),
        _ => None,
    };
    let ids: Vec<String> = rows.iter().map(|action| action.action_id.clone()).collect();
    let mut entries: HashMap<String, Vec<LedgerEntry>> = HashMap::new();
    for entry in ledger_entries::of_actions(conn, &ids)? {
        entries
            .entry(entry.action_id.clone())
            .or_default()
            .push(entry);
    }
    let actions = rows
        .into_iter()
        .map(|action| {
            let own = entries.remove(&action.action_id).unwrap_or_default();
            ActionView::new(action, Some(own), now)
        })
        .collect();
    let totals = actions::totals(conn, filter, at)?
        .into_iter()
        .map(|total| ActionTotal {
            reversed: Money::from_minor_units(total.reversed).to_string(),
            currency: total.currency,
            actions: total.actions,
            payout: Money::from_minor_units(total.payout).to_string(),
            amount: Money::from_minor_units(total.amount).to_string(),
        })
        .collect();
    let test_actions = match &filter.search {
        Some(id) if !filter.include_tests => actions::tests_named(conn, id)?,
        _ => Vec::new(),
    };
    Ok(ActionPage {
        actions,
        next_cursor,
        totals,
        test_actions,
    })
}

/// The cursor that continues after `last` in the order of `sort`.
pub fn cursor_after(last: &Action, sort: SortKey) -> Cursor {
    Cursor {
        value: match sort {
            SortKey::Received => Some(SortValue::Time(last.first_seen_at)),
            SortKey::EventDate => last.details.event_date.map(SortValue::Time),
            SortKey::LockingDate => last.details.locking_date.map(SortValue::Time),
            SortKey::Payout => Some(SortValue::Units(last.payout)),
            SortKey::ActionId => Some(SortValue::Text(last.action_id.clone())),
        },
        action_id: last.action_id.clone(),
    }
}
