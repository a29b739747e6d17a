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
    /// The currency its amounts are in: the linked action's, else one the inquiry was sent with
    /// (a `Currency` key kept among its extras), else the one its brand's actions are paid in.
    pub currency: Option<String>,
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

/// A currency the inquiry itself carried: a `Currency` key (any case) kept among its extras.
fn own_currency(extra: &serde_json::Value) -> Option<String> {
    extra
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("currency"))
        .and_then(|(_, value)| value.as_str())
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .map(str::to_ascii_uppercase)
}

/// Brand currencies looked up once per page.
#[derive(Default)]
struct BrandCurrencies(std::collections::HashMap<String, Option<String>>);

impl BrandCurrencies {
    fn of(
        &mut self,
        conn: &mut AnyConnection,
        campaign_id: &str,
    ) -> Result<Option<String>, StorageError> {
        if let Some(known) = self.0.get(campaign_id) {
            return Ok(known.clone());
        }
        let currency = actions::currency_of_campaign(conn, campaign_id)?;
        self.0.insert(campaign_id.to_owned(), currency.clone());
        Ok(currency)
    }
}

/// The view with its currency settled (see `InquiryView::currency`).
fn view_of(
    conn: &mut AnyConnection,
    inquiry: Inquiry,
    linked: Option<&Action>,
    brands: &mut BrandCurrencies,
) -> Result<InquiryView, StorageError> {
    let campaign = inquiry.campaign_id.clone();
    let mut view = InquiryView::new(inquiry, linked);
    view.currency = match (&view.payout_currency, own_currency(&view.extra), campaign) {
        (Some(linked), _, _) => Some(linked.clone()),
        (None, Some(own), _) => Some(own),
        (None, None, Some(campaign)) => brands.of(conn, &campaign)?,
        (None, None, None) => None,
    };
    Ok(view)
}

/// Comments as lines of text: impact.com sends them as a JSON list of `{user, text}` (or other
/// shapes); each comment is `user: text`, anything else its text.
pub fn comment_lines(comments: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    fn line(value: &Value) -> Option<String> {
        match value {
            Value::Null => None,
            Value::String(text) => Some(text.clone()),
            Value::Object(fields) => {
                let field = |names: &[&str]| {
                    fields
                        .iter()
                        .find(|(key, _)| names.iter().any(|name| key.eq_ignore_ascii_case(name)))
                        .and_then(|(_, value)| match value {
                            Value::String(text) => Some(text.clone()),
                            Value::Null => None,
                            other => Some(other.to_string()),
                        })
                };
                let text = field(&["text", "comment", "message", "body"]);
                let user = field(&["user", "author", "name", "by"]);
                match (user, text) {
                    (Some(user), Some(text)) => Some(format!("{user}: {text}")),
                    (None, Some(text)) => Some(text),
                    _ => Some(
                        fields
                            .iter()
                            .map(|(key, value)| match value {
                                Value::String(text) => format!("{key}: {text}"),
                                other => format!("{key}: {other}"),
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                }
            }
            other => Some(other.to_string()),
        }
    }
    match comments {
        Value::Array(items) => items.iter().filter_map(line).collect(),
        other => line(other).into_iter().collect(),
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
            currency: None,
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
    let mut view = view_of(
        conn,
        inquiry,
        linked.as_ref(),
        &mut BrandCurrencies::default(),
    )?;
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
    /// Approved inquiries still awaiting credit (no tracked action for them yet), per currency:
    /// over every inquiry the brand and date filters keep, not only this page.
    pub awaiting_credit: Vec<AwaitingTotal>,
}

/// One currency's approved-awaiting-credit total: the final payouts (else the expected ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwaitingTotal {
    /// Null when neither the inquiries nor their brand name one.
    pub currency: Option<String>,
    pub total: String,
    pub inquiries: i64,
}

/// The inquiries list's filters beyond the stored ones: credit is derived when read.
#[derive(Debug, Clone, Default)]
pub struct InquiryFilter {
    pub status: Option<InquiryStatus>,
    pub credit: Option<Credit>,
    pub brand: Option<String>,
    pub from: Option<chrono::NaiveDateTime>,
    pub until: Option<chrono::NaiveDateTime>,
}

/// How many stored inquiries one pass reads while filtering by credit or summing.
const BATCH: i64 = 500;

/// A page of inquiries in inquiry id order after `cursor`, each with its credit and currency.
pub fn inquiry_page(
    conn: &mut AnyConnection,
    filter: &InquiryFilter,
    cursor: Option<&str>,
    limit: i64,
) -> Result<InquiryPage, StorageError> {
    // Only an approved inquiry has a credit.
    let status = match filter.credit {
        Some(_) => Some(InquiryStatus::Approved),
        None => filter.status,
    };
    let select = inquiries::InquirySelection {
        status,
        brand: filter.brand.as_deref(),
        from: filter.from,
        until: filter.until,
    };
    let mut brands = BrandCurrencies::default();
    let mut views = Vec::new();
    let mut after = cursor.map(str::to_owned);
    let mut more = false;
    // Without a credit filter one read is the page; with one, read on until the page is full.
    'reading: loop {
        let batch = if filter.credit.is_some() {
            BATCH
        } else {
            limit + 1
        };
        let rows = inquiries::page(conn, &select, after.as_deref(), batch)?;
        let exhausted = (rows.len() as i64) < batch;
        after = rows.last().map(|row| row.inquiry_id.clone());
        for inquiry in rows {
            let linked = linked_action(conn, &inquiry)?;
            let view = view_of(conn, inquiry, linked.as_ref(), &mut brands)?;
            if filter.credit.is_some() && view.credit != filter.credit {
                continue;
            }
            if views.len() as i64 == limit {
                more = true;
                break 'reading;
            }
            views.push(view);
        }
        if exhausted || filter.credit.is_none() {
            break;
        }
    }
    let next_cursor = views
        .last()
        .filter(|_| more)
        .map(|view| view.inquiry_id.clone());
    let awaiting_credit = awaiting_credit(conn, &select, &mut brands)?;
    Ok(InquiryPage {
        inquiries: views,
        next_cursor,
        awaiting_credit,
    })
}

/// The approved inquiries awaiting credit among those `select` keeps (its status aside), summed
/// per currency.
fn awaiting_credit(
    conn: &mut AnyConnection,
    select: &inquiries::InquirySelection<'_>,
    brands: &mut BrandCurrencies,
) -> Result<Vec<AwaitingTotal>, StorageError> {
    let select = inquiries::InquirySelection {
        status: Some(InquiryStatus::Approved),
        ..*select
    };
    let mut sums: std::collections::BTreeMap<Option<String>, (i128, i64)> = Default::default();
    let mut after: Option<String> = None;
    loop {
        let rows = inquiries::page(conn, &select, after.as_deref(), BATCH)?;
        let exhausted = (rows.len() as i64) < BATCH;
        after = rows.last().map(|row| row.inquiry_id.clone());
        for inquiry in rows {
            let units = inquiry
                .final_payout
                .or(inquiry.expected_payout)
                .unwrap_or(0);
            let linked = linked_action(conn, &inquiry)?;
            let view = view_of(conn, inquiry, linked.as_ref(), brands)?;
            if view.credit == Some(Credit::AwaitingCredit) {
                let sum = sums.entry(view.currency).or_default();
                sum.0 += i128::from(units);
                sum.1 += 1;
            }
        }
        if exhausted {
            break;
        }
    }
    Ok(sums
        .into_iter()
        .map(|(currency, (units, inquiries))| AwaitingTotal {
            currency,
            total: crate::domain::money::wide_text(units),
            inquiries,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn comments_read_as_lines_of_text() {
        let sent = json!([{"user": "support_agent", "text": "Verifying click logs now."}, {"text": "No user."}, "plain"]);
        assert_eq!(
            comment_lines(&sent),
            [
                "support_agent: Verifying click logs now.",
                "No user.",
                "plain"
            ]
        );
        assert_eq!(comment_lines(&json!("one line")), ["one line"]);
        assert!(comment_lines(&serde_json::Value::Null).is_empty());
        assert_eq!(comment_lines(&json!({"at": 3})), ["at: 3"]);
    }

    #[test]
    fn an_inquiry_may_carry_its_own_currency_among_its_extras() {
        assert_eq!(
            own_currency(&json!({"currency": " eur "})).as_deref(),
            Some("EUR")
        );
        assert_eq!(own_currency(&json!({"Other": "x"})), None);
        assert_eq!(own_currency(&serde_json::Value::Null), None);
    }
}
