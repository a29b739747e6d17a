//! The actions lists (pending, approved, cleared, reversed, all) and an action's detail page.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::{CsrfForm, check_form, or_dash, shown_money, shown_time, time_or_dash, urlencoding};
use crate::domain::bucket::Bucket;
use crate::domain::reconcile::Flags;
use crate::read;
use crate::read::actions::ActionView;
use crate::read::deliveries::DeliveryView;
use crate::read::filter::ListQuery;
use crate::storage::action_query::{ActionFilter, DateField, SortKey};
use crate::storage::{self, deliveries, to_db_time};
use crate::web::access::Chrome;
use crate::web::blocking::with_conn;
use crate::web::error::{ForCaller, RequestError};
use crate::web::query::{ActionList, Page};
use crate::web::startup::AppState;

pub struct Header {
    pub label: &'static str,
    /// The query that sorts by this column (toggling the direction when it is the current one).
    pub link: Option<String>,
    pub aria_sort: Option<&'static str>,
    pub numeric: bool,
}

pub struct ActionRow {
    pub action_id: String,
    pub status: Bucket,
    pub flags: Flags,
    pub payout: String,
    /// What its reversal entries took away, as impact.com's reversed screen shows it.
    pub reversed: Option<String>,
    pub campaign: String,
    pub event_type: String,
    pub order_id: String,
    pub event_date: String,
    pub locking_date: String,
    /// When it cleared (a clearing named it); `–` when not.
    pub cleared: String,
    pub received: String,
    pub is_test: bool,
}

pub struct TotalRow {
    pub currency: String,
    pub actions: i64,
    pub payout: String,
    pub amount: String,
    /// What the reversals took away, as the overview's Reversed card shows it.
    pub reversed: String,
}

#[derive(Template)]
#[template(path = "actions.html")]
struct ActionsPage {
    chrome: Chrome,
    heading: &'static str,
    status: &'static str,
    statuses: [(&'static str, &'static str); 5],
    query: ListQuery,
    filter: ActionFilter,
    totals: Vec<TotalRow>,
    headers: Vec<Header>,
    rows: Vec<ActionRow>,
    next_page: Option<String>,
    csv_query: String,
    date_field: &'static str,
    /// The known brands (value, label) and currencies, offered as choices.
    brands: Vec<(String, String)>,
    currencies: Vec<String>,
}

const PAGE_SIZE: i64 = 50;

fn query_string(query: &ListQuery) -> String {
    serde_urlencoded::to_string(query).unwrap_or_default()
}

fn row(view: &ActionView) -> ActionRow {
    ActionRow {
        action_id: view.action_id.clone(),
        status: view.shown_status,
        flags: view.flags.clone(),
        payout: shown_money(&view.payout, view.details.payout_currency.as_deref()),
        reversed: reversed_payout(view).map(|units| {
            crate::read::format::money(units, view.details.payout_currency.as_deref())
        }),
        campaign: view
            .details
            .campaign_name
            .clone()
            .or_else(|| view.details.campaign_id.clone())
            .unwrap_or_default(),
        event_type: view
            .details
            .action_tracker_name
            .clone()
            .or_else(|| view.details.action_tracker_id.clone())
            .unwrap_or_default(),
        order_id: view.details.order_id.clone().unwrap_or_default(),
        event_date: shown_time(view.details.event_date.as_deref()),
        locking_date: shown_time(view.details.locking_date.as_deref()),
        cleared: shown_time(view.cleared_at.as_deref()),
        received: shown_time(Some(&view.first_seen_at)),
        is_test: view.is_test,
    }
}

/// The payout an action's reversal entries took away (positive), if it has any.
fn reversed_payout(view: &ActionView) -> Option<i64> {
    let reversed: i64 = view
        .entries
        .iter()
        .flatten()
        .filter(|entry| entry.kind == "reversed")
        .filter_map(|entry| {
            entry
                .payout_delta
                .parse::<crate::domain::money::Money>()
                .ok()
        })
        .map(|delta| -delta.minor_units())
        .sum();
    (reversed != 0).then_some(reversed)
}

fn headers(query: &ListQuery, filter: &ActionFilter) -> Vec<Header> {
    let sortable = |label, key: Option<SortKey>, numeric| {
        let Some(key) = key else {
            return Header {
                label,
                link: None,
                aria_sort: None,
                numeric,
            };
        };
        let current = filter.sort == key;
        let descending = if current {
            !filter.descending
        } else {
            key != SortKey::ActionId
        };
        let mut link = query.clone();
        link.sort = Some(key.as_str().into());
        link.dir = Some(if descending { "desc" } else { "asc" }.into());
        link.cursor = None;
        Header {
            label,
            link: Some(query_string(&link)),
            aria_sort: current.then_some(if filter.descending {
                "descending"
            } else {
                "ascending"
            }),
            numeric,
        }
    };
    vec![
        sortable("Action id", Some(SortKey::ActionId), false),
        sortable("Status", None, false),
        sortable("Payout", Some(SortKey::Payout), true),
        sortable("Brand / campaign", None, false),
        sortable("Event type", None, false),
        sortable("Order id", None, false),
        sortable("Event date", Some(SortKey::EventDate), false),
        sortable("Locking date", Some(SortKey::LockingDate), false),
        sortable("Cleared", None, false),
        sortable("Received", Some(SortKey::Received), false),
    ]
}

#[get("/actions")]
pub async fn actions(
    request: HttpRequest,
    Page(ActionList { query, filter }): Page<ActionList>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let (heading, status, section) = match filter.bucket {
        Some(Bucket::Pending) => ("Pending actions", "pending", "pending"),
        Some(Bucket::Approved) => ("Approved actions", "approved", "approved"),
        Some(Bucket::Cleared) => ("Cleared actions", "cleared", "cleared"),
        Some(Bucket::Reversed) => ("Reversed actions", "reversed", "reversed"),
        None => ("All actions", "all", "all"),
    };
    let now = state.clock.now();
    let for_read = filter.clone();
    let (page, (known_brands, currencies)) = with_conn(&state, move |conn| {
        Ok((
            read::actions::action_page(conn, &for_read, PAGE_SIZE, now)?,
            storage::actions::known_brands_and_currencies(conn)?,
        ))
    })
    .await
    .for_page(&request, &state)?;
    let brands = known_brands
        .into_iter()
        .map(|(id, name)| {
            let value = id.clone().or_else(|| name.clone()).unwrap_or_default();
            let label = match (id, name) {
                (Some(id), Some(name)) => format!("{name} ({id})"),
                (id, name) => id.or(name).unwrap_or_default(),
            };
            (value, label)
        })
        .collect();
    let next_page = page.next_cursor.as_ref().map(|cursor| {
        let mut next = query.clone();
        next.cursor = Some(cursor.clone());
        query_string(&next)
    });
    let mut whole = query.clone();
    whole.cursor = None;
    whole.limit = None;
    whole.status = Some(status.into());
    let page = ActionsPage {
        heading,
        status,
        statuses: [
            ("pending", "Pending"),
            ("approved", "Approved (locked)"),
            ("cleared", "Cleared"),
            ("reversed", "Reversed"),
            ("all", "All"),
        ],
        totals: page
            .totals
            .iter()
            .map(|total| TotalRow {
                currency: total.currency.clone().unwrap_or_else(|| "–".into()),
                actions: total.actions,
                payout: shown_money(&total.payout, total.currency.as_deref()),
                amount: shown_money(&total.amount, None),
                reversed: shown_money(&total.reversed, total.currency.as_deref()),
            })
            .collect(),
        headers: headers(&query, &filter),
        rows: page.actions.iter().map(row).collect(),
        next_page,
        csv_query: query_string(&whole),
        date_field: match filter.date_field {
            DateField::Event => "event",
            DateField::Locking => "locking",
            DateField::Cleared => "cleared",
            DateField::ScheduledClear => "scheduled_clear",
            DateField::Ledger => "ledger",
        },
        brands,
        currencies,
        query,
        filter,
        chrome: Chrome::new(&request, &state.access, section),
    };
    // The page's own chrome: its token is bound to the cookie this response sets.
    Ok(page.chrome.respond(&request, &page))
}

#[derive(Template)]
#[template(path = "action.html")]
struct ActionPage {
    chrome: Chrome,
    action: ActionView,
    payout: String,
    reviewed_at: Option<String>,
    timeline: Vec<TimelineEntry>,
    fields: Vec<(&'static str, String)>,
    deliveries: Vec<DeliveryView>,
}

pub struct TimelineEntry {
    pub kind: &'static str,
    /// The kind as one short word, for its tag.
    pub word: &'static str,
    pub label: String,
    /// Payout and sale amount moved, with their currency; empty for a date.
    pub payout: String,
    pub amount: String,
    pub at: String,
    pub delivery_id: Option<i64>,
    pub run_id: Option<i64>,
    pub upcoming: bool,
}

/// Every stored field of an action, labelled, for the detail page.
fn fields(view: &ActionView) -> Vec<(&'static str, String)> {
    vec![
        ("Action id", view.action_id.clone()),
        ("Source", view.source.clone()),
        ("Status (events)", view.status.to_string()),
        ("Status as sent", or_dash(&view.status_raw)),
        ("Shown as", view.shown_status.to_string()),
        (
            "Payout",
            shown_money(&view.payout, view.details.payout_currency.as_deref()),
        ),
        (
            "Sale amount",
            shown_money(&view.amount, view.details.amount_currency.as_deref()),
        ),
        ("Brand / campaign id", or_dash(&view.details.campaign_id)),
        ("Brand / campaign", or_dash(&view.details.campaign_name)),
        ("Event type id", or_dash(&view.details.action_tracker_id)),
        ("Event type", or_dash(&view.details.action_tracker_name)),
        ("Media partner id", or_dash(&view.details.media_partner_id)),
        ("Order id", or_dash(&view.details.order_id)),
        ("Shared id", or_dash(&view.details.shared_id)),
        ("Sub id 1", or_dash(&view.details.sub_id1)),
        ("Sub id 2", or_dash(&view.details.sub_id2)),
        ("Sub id 3", or_dash(&view.details.sub_id3)),
        ("Click id", or_dash(&view.details.click_id)),
        ("Promo code", or_dash(&view.details.promo_code)),
        ("Event date", time_or_dash(&view.details.event_date)),
        ("Creation date", time_or_dash(&view.details.creation_date)),
        ("Locking date", time_or_dash(&view.details.locking_date)),
        // impact.com's ClearedDate is when it is scheduled to clear; cleared is a clearing's word.
        (
            "Scheduled to clear",
            time_or_dash(&view.details.cleared_date),
        ),
        ("Cleared", time_or_dash(&view.cleared_at)),
        ("First received", shown_time(Some(&view.first_seen_at))),
        ("Last received", shown_time(Some(&view.last_seen_at))),
        (
            "Test conversion",
            if view.is_test { "yes" } else { "no" }.into(),
        ),
        (
            "Items",
            if view.items.is_null() {
                "–".into()
            } else {
                view.items.to_string()
            },
        ),
        (
            "Other fields",
            if view.extra.is_null() {
                "–".into()
            } else {
                view.extra.to_string()
            },
        ),
    ]
}

#[get("/actions/{action_id}")]
pub async fn action(
    request: HttpRequest,
    action_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let now = state.clock.now();
    let (view, deliveries) = with_conn(&state, move |conn| {
        let Some(view) = read::actions::action(conn, &action_id, now)? else {
            return Ok(None);
        };
        let deliveries = deliveries::of_subject(conn, &view.action_id)?;
        Ok(Some((view, deliveries)))
    })
    .await
    .and_then(|found| found.ok_or_else(no_such_action))
    .for_page(&request, &state)?;
    let currency = view.details.payout_currency.clone();
    let amount_currency = view.details.amount_currency.clone();
    let timeline = view
        .timeline
        .iter()
        .flatten()
        .map(|item| TimelineEntry {
            kind: item.kind,
            word: match item.kind {
                "clearing_scheduled" => "scheduled",
                "clearing_received" => "clearing",
                other => other,
            },
            label: item.label.clone(),
            payout: item
                .payout
                .as_deref()
                .map(|payout| shown_money(payout, item.currency.as_deref()))
                .unwrap_or_default(),
            amount: item
                .amount
                .as_deref()
                .map(|amount| shown_money(amount, amount_currency.as_deref()))
                .unwrap_or_default(),
            at: shown_time(Some(&item.at)),
            delivery_id: item.delivery_id,
            run_id: item.run_id,
            upcoming: item.upcoming,
        })
        .collect();
    let page = ActionPage {
        chrome: Chrome::new(&request, &state.access, "all"),
        payout: shown_money(&view.payout, currency.as_deref()),
        reviewed_at: view.reviewed_at.as_deref().map(|at| shown_time(Some(at))),
        timeline,
        fields: fields(&view),
        deliveries: deliveries.into_iter().map(DeliveryView::from).collect(),
        action: view,
    };
    // The page's own chrome: its token is bound to the cookie this response sets.
    Ok(page.chrome.respond(&request, &page))
}

#[post("/actions/{action_id}/review")]
pub async fn mark_reviewed(
    request: HttpRequest,
    action_id: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    check_form(&request, &state, &form.csrf)?;
    let action_id = action_id.into_inner();
    let at = to_db_time(state.clock.now());
    let id = action_id.clone();
    let marked = with_conn(&state, move |conn| {
        Ok(storage::actions::mark_reviewed(conn, &id, at)?)
    })
    .await
    .for_page(&request, &state)?;
    if !marked {
        return Err(no_such_action().for_page(&request, &state));
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/actions/{}", urlencoding(&action_id)),
        ))
        .finish())
}

fn no_such_action() -> RequestError {
    RequestError::not_found("No action has this id.")
}
