//! What the API and the dashboard show of the ledger: stored rows turned into finance's terms.

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::money::Money;
use crate::reconcile::flags_from_text;
use crate::storage::actions::Action;
use crate::storage::ledger_entries::LedgerEntry;
use crate::storage::{AnyConnection, StorageError, actions, ledger_entries};

/// UTC, with the offset written out: `2026-04-08T09:00:00Z`.
fn utc(time: NaiveDateTime) -> String {
    time.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[derive(Debug, Serialize)]
pub struct EntryView {
    pub kind: String,
    pub payout_delta: String,
    pub amount_delta: String,
    pub delivery_id: i64,
    pub recorded_at: String,
}

#[derive(Debug, Serialize)]
pub struct ActionView {
    pub action_id: String,
    pub source: String,
    pub status: String,
    pub status_raw: Option<String>,
    pub payout: String,
    pub amount: String,
    pub payout_currency: Option<String>,
    pub amount_currency: Option<String>,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    pub action_tracker_id: Option<String>,
    pub action_tracker_name: Option<String>,
    pub media_partner_id: Option<String>,
    pub order_id: Option<String>,
    pub shared_id: Option<String>,
    pub sub_id1: Option<String>,
    pub sub_id2: Option<String>,
    pub sub_id3: Option<String>,
    pub click_id: Option<String>,
    pub promo_code: Option<String>,
    pub event_date: Option<String>,
    pub creation_date: Option<String>,
    pub locking_date: Option<String>,
    pub cleared_date: Option<String>,
    pub flags: Vec<String>,
    pub items: serde_json::Value,
    pub extra: serde_json::Value,
    pub first_seen_at: String,
    pub last_seen_at: String,
    /// Sent by `send-test` or carrying the configured test marker.
    pub is_test: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<EntryView>>,
}

fn json_or_null(text: Option<&str>) -> serde_json::Value {
    text.and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(serde_json::Value::Null)
}

impl ActionView {
    pub fn new(action: Action, entries: Option<Vec<LedgerEntry>>) -> ActionView {
        let money = |units: i64| Money::from_minor_units(units).to_string();
        ActionView {
            status: action.status,
            status_raw: action.status_raw,
            payout: money(action.payout),
            amount: money(action.amount),
            payout_currency: action.payout_currency,
            amount_currency: action.amount_currency,
            campaign_id: action.campaign_id,
            campaign_name: action.campaign_name,
            action_tracker_id: action.action_tracker_id,
            action_tracker_name: action.action_tracker_name,
            media_partner_id: action.media_partner_id,
            order_id: action.order_id,
            shared_id: action.shared_id,
            sub_id1: action.sub_id1,
            sub_id2: action.sub_id2,
            sub_id3: action.sub_id3,
            click_id: action.click_id,
            promo_code: action.promo_code,
            event_date: action.event_date.map(utc),
            creation_date: action.creation_date.map(utc),
            locking_date: action.locking_date.map(utc),
            cleared_date: action.cleared_date.map(utc),
            flags: flags_from_text(&action.flags)
                .into_iter()
                .map(|flag| flag.as_str().to_owned())
                .collect(),
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

/// One action with its entries, or None.
pub fn action(
    conn: &mut AnyConnection,
    action_id: &str,
) -> Result<Option<ActionView>, StorageError> {
    let Some(action) = actions::find(conn, action_id)? else {
        return Ok(None);
    };
    let entries = ledger_entries::of_action(conn, action_id)?;
    Ok(Some(ActionView::new(action, Some(entries))))
}

#[derive(Debug, Serialize)]
pub struct ActionPage {
    pub actions: Vec<ActionView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// A page of actions, each with its entries, in action id order after `cursor`; test
/// conversions only when `include_tests`.
pub fn action_page(
    conn: &mut AnyConnection,
    status: Option<&str>,
    include_tests: bool,
    cursor: Option<&str>,
    limit: i64,
) -> Result<ActionPage, StorageError> {
    let rows = actions::page(conn, status, include_tests, cursor, limit + 1)?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<Action> = rows.into_iter().take(limit as usize).collect();
    let ids: Vec<String> = rows.iter().map(|action| action.action_id.clone()).collect();
    let mut entries = ledger_entries::of_actions(conn, &ids)?;
    let next_cursor = if more { ids.last().cloned() } else { None };
    let actions = rows
        .into_iter()
        .map(|action| {
            let (own, rest): (Vec<_>, Vec<_>) = entries
                .drain(..)
                .partition(|entry| entry.action_id == action.action_id);
            entries = rest;
            ActionView::new(action, Some(own))
        })
        .collect();
    Ok(ActionPage {
        actions,
        next_cursor,
    })
}
