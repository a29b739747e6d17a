//! What the API and the dashboard show of the ledger: stored rows turned into finance's terms.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use std::collections::HashMap;

use crate::domain::bucket::bucket_of;
use crate::domain::event::{ActionStatus, InquiryStatus};
use crate::domain::inquiry::{self, Credit};
use crate::domain::money::Money;
use crate::domain::reconcile::{Flag, flags_from_text, is_locked};
use crate::intake::redact::Redactor;
use crate::storage::action_query::{ActionFilter, Cursor, SortKey, SortValue};
use crate::storage::actions::Action;
use crate::storage::clearings::Clearing;
use crate::storage::inquiries::Inquiry;
use crate::storage::inquiry_events::InquiryEventRow;
use crate::storage::ledger_entries::LedgerEntry;
use crate::storage::{
    AnyConnection, StorageError, actions, catalog_items, clearings, inquiries, inquiry_events,
    jobs, ledger_entries, tracking_value_requests,
};

/// UTC, with the offset written out: `2026-04-08T09:00:00Z`.
pub fn utc(time: NaiveDateTime) -> String {
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
    pub ledger_date: Option<String>,
    /// Approved (locked): not reversed and its locking date has passed, at the time of reading.
    /// `status` stays what the events say; this is derived, never a ledger entry.
    pub locked: bool,
    /// What finance sees: pending, approved (locked, or sent approved), cleared or reversed;
    /// see `dashboard::filter::bucket_of`.
    pub shown_status: String,
    /// When someone marked its flags as looked at.
    pub reviewed_at: Option<String>,
    pub flags: Vec<String>,
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
}

#[derive(Debug, Serialize)]
pub struct ClearingView {
    pub delivery_id: i64,
    pub order_id: Option<String>,
    pub cleared_date: Option<String>,
    pub ledger_date: Option<String>,
    pub matched: String,
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

fn json_or_null(text: Option<&str>) -> serde_json::Value {
    text.and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(serde_json::Value::Null)
}

impl ActionView {
    pub fn new(
        action: Action,
        entries: Option<Vec<LedgerEntry>>,
        now: DateTime<Utc>,
    ) -> ActionView {
        let money = |units: i64| Money::from_minor_units(units).to_string();
        let locked = ActionStatus::parse(&action.status).is_some_and(|status| {
            is_locked(status, action.locking_date.map(|date| date.and_utc()), now)
        });
        ActionView {
            locked,
            shown_status: match ActionStatus::parse(&action.status) {
                Some(status) => bucket_of(
                    status,
                    action.locking_date,
                    action.cleared_date,
                    crate::storage::to_db_time(now),
                )
                .as_str()
                .to_owned(),
                None => action.status.clone(),
            },
            reviewed_at: action.reviewed_at.map(utc),
            ledger_date: action.ledger_date.map(utc),
            clearings: None,
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
    Ok(Some(view))
}

#[derive(Debug, Serialize)]
pub struct ActionTotal {
    pub currency: Option<String>,
    pub actions: i64,
    pub payout: String,
    pub amount: String,
}

#[derive(Debug, Serialize)]
pub struct ActionPage {
    pub actions: Vec<ActionView>,
    /// Pass as `cursor` (with the same filters) for the next page; null on the last.
    pub next_cursor: Option<String>,
    /// Count, payout and amount of the whole filtered set (every page), per currency.
    pub totals: Vec<ActionTotal>,
}

/// A page of the filtered list, each action with its entries, and the filtered set's totals.
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
            currency: total.currency,
            actions: total.actions,
            payout: Money::from_minor_units(total.payout).to_string(),
            amount: Money::from_minor_units(total.amount).to_string(),
        })
        .collect();
    Ok(ActionPage {
        actions,
        next_cursor,
        totals,
    })
}

/// The cursor that continues after `last` in the order of `sort`.
pub fn cursor_after(last: &Action, sort: SortKey) -> Cursor {
    Cursor {
        value: match sort {
            SortKey::Received => Some(SortValue::Time(last.first_seen_at)),
            SortKey::EventDate => last.event_date.map(SortValue::Time),
            SortKey::LockingDate => last.locking_date.map(SortValue::Time),
            SortKey::Payout => Some(SortValue::Units(last.payout)),
            SortKey::ActionId => Some(SortValue::Text(last.action_id.clone())),
        },
        action_id: last.action_id.clone(),
    }
}

fn money_text(units: Option<i64>) -> Option<String> {
    units.map(|units| Money::from_minor_units(units).to_string())
}

/// Comments (and other JSON-bearing text) as parsed JSON when they parse, else the text as sent.
fn json_or_text(text: Option<&str>) -> serde_json::Value {
    match text {
        None => serde_json::Value::Null,
        Some(text) => serde_json::from_str(text)
            .unwrap_or_else(|_| serde_json::Value::String(text.to_owned())),
    }
}

#[derive(Debug, Serialize)]
pub struct InquiryEventView {
    pub delivery_id: i64,
    pub status: String,
    pub resolution_status: Option<String>,
    pub inquiry_type: Option<String>,
    pub final_payout: Option<String>,
    pub reject_reason: Option<String>,
    pub resolution_notes: Option<String>,
    pub comments: serde_json::Value,
    pub resolution_date: Option<String>,
    pub received_at: String,
}

impl From<InquiryEventRow> for InquiryEventView {
    fn from(row: InquiryEventRow) -> InquiryEventView {
        InquiryEventView {
            delivery_id: row.delivery_id,
            status: row.status,
            resolution_status: row.resolution_status,
            inquiry_type: row.inquiry_type,
            final_payout: money_text(row.final_payout),
            reject_reason: row.reject_reason,
            resolution_notes: row.resolution_notes,
            comments: json_or_text(row.comments.as_deref()),
            resolution_date: row.resolution_date.map(utc),
            received_at: utc(row.received_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct InquiryView {
    pub inquiry_id: String,
    pub source: String,
    /// pending, approved, declined or incomplete (an unknown word shows as pending, flagged).
    pub status: String,
    /// The word as sent (UNRESOLVED, VALID, …).
    pub resolution_status: Option<String>,
    pub inquiry_type: Option<String>,
    pub expected_payout: Option<String>,
    pub final_payout: Option<String>,
    pub transaction_amount: Option<String>,
    /// The linked action's payout currency (an inquiry does not carry one), when linked.
    pub payout_currency: Option<String>,
    /// For an approved inquiry: `awaiting_credit` until a tracked action for it exists, then
    /// `credited`. Null otherwise.
    pub credit: Option<Credit>,
    /// The action it is linked to: by `ActionId`, else by (campaign, order id).
    pub linked_action_id: Option<String>,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    pub media_partner_id: Option<String>,
    pub order_id: Option<String>,
    pub action_id: Option<String>,
    pub transaction_date: Option<String>,
    pub resolution_deadline_date: Option<String>,
    pub auto_approval_date: Option<String>,
    pub resolution_date: Option<String>,
    pub creation_date: Option<String>,
    pub reject_reason: Option<String>,
    pub inquiry_notes: Option<String>,
    pub resolution_notes: Option<String>,
    pub comments: serde_json::Value,
    pub tracking_link: Option<String>,
    pub flags: Vec<String>,
    pub extra: serde_json::Value,
    pub first_seen_at: String,
    pub last_seen_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<InquiryEventView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_action: Option<ActionView>,
}

/// The action an inquiry is linked to, whichever arrived first: the link is looked up when read.
fn linked_action(
    conn: &mut AnyConnection,
    inquiry: &Inquiry,
) -> Result<Option<Action>, StorageError> {
    if let Some(action_id) = &inquiry.action_id
        && let Some(action) = actions::find(conn, action_id)?
    {
        return Ok(Some(action));
    }
    match &inquiry.order_id {
        Some(order_id) => Ok(
            actions::by_order(conn, inquiry.campaign_id.as_deref(), order_id)?
                .into_iter()
                .next(),
        ),
        None => Ok(None),
    }
}

impl InquiryView {
    fn new(inquiry: Inquiry, linked: Option<&Action>) -> InquiryView {
        let tracked = linked.is_some_and(|action| {
            !flags_from_text(&action.flags).contains(&Flag::ClearedNeverTracked)
        });
        let status = InquiryStatus::parse(&inquiry.status).unwrap_or(InquiryStatus::Pending);
        InquiryView {
            credit: inquiry::credit(status, tracked),
            linked_action_id: linked.map(|action| action.action_id.clone()),
            payout_currency: linked.and_then(|action| action.payout_currency.clone()),
            status: inquiry.status,
            resolution_status: inquiry.resolution_status,
            inquiry_type: inquiry.inquiry_type,
            expected_payout: money_text(inquiry.expected_payout),
            final_payout: money_text(inquiry.final_payout),
            transaction_amount: money_text(inquiry.transaction_amount),
            campaign_id: inquiry.campaign_id,
            campaign_name: inquiry.campaign_name,
            media_partner_id: inquiry.media_partner_id,
            order_id: inquiry.order_id,
            action_id: inquiry.action_id,
            transaction_date: inquiry.transaction_date.map(utc),
            resolution_deadline_date: inquiry.resolution_deadline_date.map(utc),
            auto_approval_date: inquiry.auto_approval_date.map(utc),
            resolution_date: inquiry.resolution_date.map(utc),
            creation_date: inquiry.creation_date.map(utc),
            reject_reason: inquiry.reject_reason,
            inquiry_notes: inquiry.inquiry_notes,
            resolution_notes: inquiry.resolution_notes,
            comments: json_or_text(inquiry.comments.as_deref()),
            tracking_link: inquiry.tracking_link,
            flags: crate::domain::inquiry::flags_from_text(&inquiry.flags)
                .into_iter()
                .map(|flag| flag.as_str().to_owned())
                .collect(),
            extra: json_or_null(inquiry.extra.as_deref()),
            first_seen_at: utc(inquiry.first_seen_at),
            last_seen_at: utc(inquiry.last_seen_at),
            history: None,
            linked_action: None,
            inquiry_id: inquiry.inquiry_id,
            source: inquiry.source,
        }
    }
}

/// One inquiry with its history and linked action, or None.
pub fn inquiry(
    conn: &mut AnyConnection,
    inquiry_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<InquiryView>, StorageError> {
    let Some(inquiry) = inquiries::find(conn, inquiry_id)? else {
        return Ok(None);
    };
    let linked = linked_action(conn, &inquiry)?;
    let history = inquiry_events::of_inquiry(conn, inquiry_id)?;
    let mut view = InquiryView::new(inquiry, linked.as_ref());
    view.history = Some(history.into_iter().map(InquiryEventView::from).collect());
    if let Some(action) = linked {
        let entries = ledger_entries::of_action(conn, &action.action_id)?;
        view.linked_action = Some(ActionView::new(action, Some(entries), now));
    }
    Ok(Some(view))
}

#[derive(Debug, Serialize)]
pub struct InquiryPage {
    pub inquiries: Vec<InquiryView>,
    pub next_cursor: Option<String>,
}

/// A page of inquiries in inquiry id order after `cursor`, each with its credit.
pub fn inquiry_page(
    conn: &mut AnyConnection,
    status: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<InquiryPage, StorageError> {
    let rows = inquiries::page(conn, status, cursor, limit + 1)?;
    let more = rows.len() as i64 > limit;
    let mut views = Vec::new();
    let mut next_cursor = None;
    for inquiry in rows.into_iter().take(limit as usize) {
        if more {
            next_cursor = Some(inquiry.inquiry_id.clone());
        }
        let linked = linked_action(conn, &inquiry)?;
        views.push(InquiryView::new(inquiry, linked.as_ref()));
    }
    Ok(InquiryPage {
        inquiries: views,
        next_cursor,
    })
}

#[derive(Debug, Serialize)]
pub struct CatalogItemView {
    pub catalog_id: String,
    pub item_id: String,
    pub source: String,
    pub name: Option<String>,
    pub price: Option<String>,
    pub currency: Option<String>,
    pub stock: Option<String>,
    pub change_type: Option<String>,
    /// The fields the last change altered (empty for the first sighting).
    pub changed_fields: serde_json::Value,
    pub extra: serde_json::Value,
    pub delivery_id: i64,
    pub first_seen_at: String,
    pub last_seen_at: String,
}

pub fn catalog_items(
    conn: &mut AnyConnection,
    catalog_id: Option<&str>,
    item_id: Option<&str>,
    limit: i64,
) -> Result<Vec<CatalogItemView>, StorageError> {
    Ok(catalog_items::search(conn, catalog_id, item_id, limit)?
        .into_iter()
        .map(|item| CatalogItemView {
            price: money_text(item.price),
            changed_fields: json_or_null(item.changed_fields.as_deref()),
            extra: json_or_null(item.extra.as_deref()),
            first_seen_at: utc(item.first_seen_at),
            last_seen_at: utc(item.last_seen_at),
            catalog_id: item.catalog_id,
            item_id: item.item_id,
            source: item.source,
            name: item.name,
            currency: item.currency,
            stock: item.stock,
            change_type: item.change_type,
            delivery_id: item.delivery_id,
        })
        .collect())
}

#[derive(Debug, Serialize)]
pub struct JobView {
    pub job_id: String,
    pub source: String,
    pub job_type: Option<String>,
    pub account_id: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub records_processed: Option<String>,
    pub detail_uri: Option<String>,
    pub result_uri: Option<String>,
    /// Each download URL with its validity in minutes and when it expires.
    pub result_urls: serde_json::Value,
    pub extra: serde_json::Value,
    pub delivery_id: i64,
    pub first_seen_at: String,
    pub last_seen_at: String,
}

pub fn job(conn: &mut AnyConnection, job_id: &str) -> Result<Option<JobView>, StorageError> {
    Ok(jobs::find(conn, job_id)?.map(|job| JobView {
        start_date: job.start_date.map(utc),
        end_date: job.end_date.map(utc),
        result_urls: json_or_null(job.result_urls.as_deref()),
        extra: json_or_null(job.extra.as_deref()),
        first_seen_at: utc(job.first_seen_at),
        last_seen_at: utc(job.last_seen_at),
        job_id: job.job_id,
        source: job.source,
        job_type: job.job_type,
        account_id: job.account_id,
        records_processed: job.records_processed,
        detail_uri: job.detail_uri,
        result_uri: job.result_uri,
        delivery_id: job.delivery_id,
    }))
}

#[derive(Debug, Serialize)]
pub struct TrackingValueView {
    pub delivery_id: i64,
    pub source: String,
    pub action_id: String,
    pub campaign_id: Option<String>,
    pub action_tracker_id: Option<String>,
    pub media_partner_id: Option<String>,
    pub order_id: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub event_date: Option<String>,
    pub click_id: Option<String>,
    pub ip_address: Option<String>,
    pub items: serde_json::Value,
    pub extra: serde_json::Value,
    pub received_at: String,
}

pub fn tracking_values(
    conn: &mut AnyConnection,
    action_id: &str,
) -> Result<Vec<TrackingValueView>, StorageError> {
    Ok(tracking_value_requests::of_action(conn, action_id)?
        .into_iter()
        .map(|row| TrackingValueView {
            amount: money_text(row.amount),
            event_date: row.event_date.map(utc),
            items: json_or_null(row.items.as_deref()),
            extra: json_or_null(row.extra.as_deref()),
            received_at: utc(row.received_at),
            delivery_id: row.delivery_id,
            source: row.source,
            action_id: row.action_id,
            campaign_id: row.campaign_id,
            action_tracker_id: row.action_tracker_id,
            media_partner_id: row.media_partner_id,
            order_id: row.order_id,
            currency: row.currency,
            click_id: row.click_id,
            ip_address: row.ip_address,
        })
        .collect())
}

/// One delivery as the log shows it: the raw request (credentials were removed and secrets
/// masked before it was stored, and are masked again as it is shown: a secret configured since,
/// or a row stored before the rule, shows none either), how it ended, and what it was about.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub id: i64,
    pub source: String,
    pub kind: String,
    pub received_at: String,
    pub last_received_at: String,
    pub times_received: i32,
    pub method: String,
    pub content_type: Option<String>,
    pub query: String,
    /// The body as text (invalid UTF-8 shown as �); null when there was none.
    pub body: Option<String>,
    pub client_addr: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub warnings: Option<String>,
    /// The action, inquiry or other id it was about, when one was read.
    pub subject_id: Option<String>,
    pub pruned_at: Option<String>,
}

impl From<crate::storage::deliveries::Delivery> for DeliveryView {
    fn from(delivery: crate::storage::deliveries::Delivery) -> DeliveryView {
        DeliveryView {
            id: delivery.id,
            received_at: utc(delivery.received_at),
            last_received_at: utc(delivery.last_received_at),
            times_received: delivery.times_received,
            body: delivery
                .body
                .map(|body| String::from_utf8_lossy(&body).into_owned()),
            pruned_at: delivery.pruned_at.map(utc),
            source: delivery.source,
            kind: delivery.kind,
            method: delivery.method,
            content_type: delivery.content_type,
            query: delivery.query,
            client_addr: delivery.client_addr,
            outcome: delivery.outcome,
            reason: delivery.reason,
            warnings: delivery.warnings,
            subject_id: delivery.subject_id,
        }
    }
}

impl DeliveryView {
    /// The view with every secret masked by the one rule (see [`crate::intake::redact`]).
    pub fn masked(mut self, redactor: &Redactor) -> DeliveryView {
        let text = |text: String| redactor.text(&text).into_owned();
        self.query = redactor.query(&self.query);
        self.body = self.body.map(text);
        self.reason = self.reason.map(text);
        self.warnings = self.warnings.map(text);
        self
    }
}

#[derive(Debug, Serialize)]
pub struct DeliveryPage {
    /// Newest first.
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `before` (with the same filters) for the next page; null on the last.
    pub next_before: Option<i64>,
}

/// A page of the deliveries log, newest first, keyset by delivery id.
pub fn delivery_page(
    conn: &mut AnyConnection,
    filter: &crate::read::log::LogFilter,
    redactor: &Redactor,
) -> Result<DeliveryPage, StorageError> {
    let mut rows = crate::storage::deliveries::recent(
        conn,
        filter.outcome,
        filter.source.as_deref(),
        filter.before,
        filter.limit + 1,
    )?;
    let more = rows.len() as i64 > filter.limit;
    rows.truncate(filter.limit as usize);
    Ok(DeliveryPage {
        next_before: rows.last().filter(|_| more).map(|last| last.id),
        deliveries: rows
            .into_iter()
            .map(|row| DeliveryView::from(row).masked(redactor))
            .collect(),
    })
}

pub fn delivery(
    conn: &mut AnyConnection,
    id: i64,
    redactor: &Redactor,
) -> Result<Option<DeliveryView>, StorageError> {
    Ok(crate::storage::deliveries::find(conn, id)?
        .map(|row| DeliveryView::from(row).masked(redactor)))
}
