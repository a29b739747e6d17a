//! An inquiry as shown: its state, its credit and linked action, its history; pages of them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::event::InquiryStatus;
use crate::domain::inquiry::{self, Credit, InquiryFlags};
use crate::domain::reconcile::Flag;
use crate::read::actions::ActionView;
use crate::read::format::{json_or_null, json_or_text, money_text, utc};
use crate::storage::actions::Action;
use crate::storage::inquiries::Inquiry;
use crate::storage::inquiry_events::InquiryEventRow;
use crate::storage::{
    AnyConnection, StorageError, actions, inquiries, inquiry_events, ledger_entries,
};

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
    pub status: InquiryStatus,
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
    pub flags: InquiryFlags,
    /// Each flag in words, with what to do (`domain::explain`).
    pub flags_explained: Vec<crate::domain::explain::FlagNote>,
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
        let tracked =
            linked.is_some_and(|action| !action.flags.contains(&Flag::ClearedNeverTracked));
        InquiryView {
            credit: inquiry::credit(inquiry.status, tracked),
            linked_action_id: linked.map(|action| action.action_id.clone()),
            payout_currency: linked.and_then(|action| action.details.payout_currency.clone()),
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
            flags_explained: crate::domain::explain::inquiry_flags(&inquiry.flags),
            flags: inquiry.flags,
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
    let status = status.and_then(InquiryStatus::parse);
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
