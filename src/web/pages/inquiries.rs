//! The inquiries list (open and resolved, deadlines, expected vs final payout, credit) and one
//! inquiry's page with its history.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{or_dash, shown_money, shown_time, time_or_dash};
use crate::domain::event::InquiryStatus;
use crate::read;
use crate::read::inquiries::InquiryView;
use crate::read::overview::DEADLINE_DAYS;
use crate::web::access::Chrome;
use crate::web::blocking::with_conn;
use crate::web::error::{ForCaller, RequestError};
use crate::web::query::{InquiryList, Page};
use crate::web::startup::AppState;

const PAGE_SIZE: i64 = 50;

pub struct InquiryRow {
    pub inquiry_id: String,
    pub status: InquiryStatus,
    pub status_sent: String,
    pub inquiry_type: String,
    pub campaign: String,
    pub order_id: String,
    pub deadline: String,
    /// `overdue` or `due soon` for an open inquiry near or past its deadline.
    pub due: Option<&'static str>,
    pub expected: String,
    pub final_payout: String,
    pub linked_action_id: Option<String>,
    pub credit: Option<&'static str>,
    pub flags: Vec<crate::domain::explain::FlagNote>,
}

/// Whether an open inquiry's deadline has passed or falls within [`DEADLINE_DAYS`] of `now`.
fn due(status: InquiryStatus, deadline: Option<&str>, now: DateTime<Utc>) -> Option<&'static str> {
    if status != InquiryStatus::Pending {
        return None;
    }
    let deadline = DateTime::parse_from_rfc3339(deadline?).ok()?;
    if deadline < now {
        Some("overdue")
    } else if deadline <= now + chrono::Duration::days(DEADLINE_DAYS as i64) {
        Some("due soon")
    } else {
        None
    }
}

fn money(text: &Option<String>, currency: Option<&str>) -> String {
    text.as_deref()
        .map(|text| shown_money(text, currency))
        .unwrap_or_else(|| "–".into())
}

fn row(view: &InquiryView, now: DateTime<Utc>, zone: Tz) -> InquiryRow {
    let currency = view.currency.as_deref();
    InquiryRow {
        inquiry_id: view.inquiry_id.clone(),
        status: view.status,
        status_sent: view.resolution_status.clone().unwrap_or_default(),
        inquiry_type: view.inquiry_type.clone().unwrap_or_default(),
        campaign: view
            .campaign_name
            .clone()
            .or_else(|| view.campaign_id.clone())
            .unwrap_or_default(),
        order_id: view.order_id.clone().unwrap_or_default(),
        deadline: shown_time(view.resolution_deadline_date.as_deref(), zone),
        due: due(view.status, view.resolution_deadline_date.as_deref(), now),
        expected: money(&view.expected_payout, currency),
        final_payout: money(&view.final_payout, currency),
        linked_action_id: view.linked_action_id.clone(),
        credit: view.credit.map(|credit| match credit {
            crate::domain::inquiry::Credit::AwaitingCredit => "awaiting credit",
            crate::domain::inquiry::Credit::Credited => "credited",
        }),
        flags: view.flags_explained.clone(),
    }
}

#[derive(Template)]
#[template(path = "inquiries.html")]
struct InquiriesPage {
    chrome: Chrome,
    status: &'static str,
    statuses: [(&'static str, &'static str); 5],
    credit: &'static str,
    credits: [(&'static str, &'static str); 3],
    brand: String,
    /// (value, label) of each brand inquiries name.
    brands: Vec<(String, String)>,
    from: String,
    to: String,
    /// Approved inquiries awaiting credit: one total per currency.
    awaiting: Vec<(String, i64)>,
    json_query: String,
    rows: Vec<InquiryRow>,
    next_page: Option<String>,
}

#[get("/inquiries")]
pub async fn inquiries(
    request: HttpRequest,
    Page(list): Page<InquiryList>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let status = list.filter.status;
    let word = status.map_or("all", |status| status.as_str());
    let credit = list.filter.credit.map_or("any", |credit| credit.as_str());
    let limit = list.limit.unwrap_or(PAGE_SIZE).clamp(1, 500);
    let (filter, cursor) = (list.filter.clone(), list.cursor.clone());
    let (page, brands) = with_conn(&state, move |conn| {
        let page = read::inquiries::inquiry_page(conn, &filter, cursor.as_deref(), limit)?;
        Ok((page, crate::storage::inquiries::brands(conn)?))
    })
    .await
    .for_page(&request, &state)?;
    let (now, zone) = (state.clock.now(), state.statement.time_zone);
    let mut query = list.query.clone();
    query.cursor = None;
    let json_query = serde_urlencoded::to_string(&query).unwrap_or_default();
    let next_page = page.next_cursor.as_ref().map(|cursor| {
        let mut next = query.clone();
        next.cursor = Some(cursor.clone());
        serde_urlencoded::to_string(&next).unwrap_or_default()
    });
    let brand = list.filter.brand.clone().unwrap_or_default();
    let mut brands: Vec<(String, String)> = brands
        .into_iter()
        .filter_map(|(id, name)| {
            let value = id.clone().or_else(|| name.clone())?;
            let label = match (name, id) {
                (Some(name), Some(id)) => format!("{name} ({id})"),
                (Some(only), None) | (None, Some(only)) => only,
                (None, None) => return None,
            };
            Some((value, label))
        })
        .collect();
    if !brand.is_empty()
        && !brands
            .iter()
            .any(|(value, _)| value.eq_ignore_ascii_case(&brand))
    {
        brands.push((brand.clone(), brand.clone()));
    }
    let page = InquiriesPage {
        chrome: Chrome::new(&request, &state.access, "inquiries"),
        status: word,
        statuses: [
            ("all", "All"),
            ("pending", "Open (pending)"),
            ("approved", "Approved"),
            ("declined", "Declined"),
            ("incomplete", "Incomplete"),
        ],
        credit,
        credits: [
            ("any", "Any"),
            ("awaiting_credit", "Awaiting credit"),
            ("credited", "Credited"),
        ],
        brand,
        brands,
        from: list.query.from.clone().unwrap_or_default(),
        to: list.query.to.clone().unwrap_or_default(),
        awaiting: page
            .awaiting_credit
            .iter()
            .map(|total| {
                (
                    shown_money(&total.total, total.currency.as_deref()),
                    total.inquiries,
                )
            })
            .collect(),
        json_query,
        rows: page
            .inquiries
            .iter()
            .map(|view| row(view, now, zone))
            .collect(),
        next_page,
    };
    // The page's own chrome: its token is bound to the cookie this response sets.
    Ok(page.chrome.respond(&request, &page))
}

pub struct HistoryRow {
    pub delivery_id: i64,
    pub status: String,
    pub status_sent: String,
    pub final_payout: String,
    pub notes: String,
    pub received_at: String,
}

#[derive(Template)]
#[template(path = "inquiry.html")]
struct InquiryPage {
    chrome: Chrome,
    row: InquiryRow,
    fields: Vec<(&'static str, String)>,
    comments: Vec<String>,
    history: Vec<HistoryRow>,
}

#[get("/inquiries/{inquiry_id}")]
pub async fn inquiry(
    request: HttpRequest,
    inquiry_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let (now, zone) = (state.clock.now(), state.statement.time_zone);
    let view = with_conn(&state, move |conn| {
        read::inquiries::inquiry(conn, &inquiry_id, now)
    })
    .await
    .and_then(|found| found.ok_or_else(|| RequestError::not_found("No inquiry has this id.")))
    .for_page(&request, &state)?;
    let currency = view.currency.as_deref();
    let fields = vec![
        ("Source", view.source.clone()),
        ("Media partner id", or_dash(&view.media_partner_id)),
        ("Action id as sent", or_dash(&view.action_id)),
        (
            "Transaction date",
            time_or_dash(&view.transaction_date, zone),
        ),
        (
            "Transaction amount",
            money(&view.transaction_amount, currency),
        ),
        ("Created", time_or_dash(&view.creation_date, zone)),
        (
            "Auto-approval date",
            time_or_dash(&view.auto_approval_date, zone),
        ),
        ("Resolution date", time_or_dash(&view.resolution_date, zone)),
        ("Reject reason", or_dash(&view.reject_reason)),
        ("Inquiry notes", or_dash(&view.inquiry_notes)),
        ("Resolution notes", or_dash(&view.resolution_notes)),
        ("Tracking link", or_dash(&view.tracking_link)),
        (
            "First received",
            shown_time(Some(&view.first_seen_at), zone),
        ),
        ("Last received", shown_time(Some(&view.last_seen_at), zone)),
    ];
    let history = view
        .history
        .iter()
        .flatten()
        .map(|event| HistoryRow {
            delivery_id: event.delivery_id,
            status: event.status.clone(),
            status_sent: event.resolution_status.clone().unwrap_or_default(),
            final_payout: money(&event.final_payout, currency),
            notes: event
                .reject_reason
                .iter()
                .chain(event.resolution_notes.iter())
                .cloned()
                .collect::<Vec<_>>()
                .join(" · "),
            received_at: shown_time(Some(&event.received_at), zone),
        })
        .collect();
    let page = InquiryPage {
        chrome: Chrome::new(&request, &state.access, "inquiries"),
        row: row(&view, now, zone),
        fields,
        comments: read::inquiries::comment_lines(&view.comments),
        history,
    };
    // The page's own chrome: its token is bound to the cookie this response sets.
    Ok(page.chrome.respond(&request, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_inquiry_is_due_soon_within_the_window_and_overdue_after_it() {
        let now: DateTime<Utc> = "2026-04-24T00:00:00Z".parse().unwrap();
        let soon = Some("2026-05-01T00:00:00Z");
        assert_eq!(due(InquiryStatus::Pending, soon, now), Some("due soon"));
        assert_eq!(
            due(InquiryStatus::Pending, Some("2026-05-01T00:00:01Z"), now),
            None
        );
        assert_eq!(
            due(InquiryStatus::Pending, Some("2026-04-23T00:00:00Z"), now),
            Some("overdue")
        );
        assert_eq!(
            due(InquiryStatus::Approved, Some("2026-04-23T00:00:00Z"), now),
            None
        );
        assert_eq!(due(InquiryStatus::Pending, None, now), None);
    }
}
