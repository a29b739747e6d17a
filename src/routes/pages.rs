//! The dashboard's HTML pages: each reads its model off the async workers and renders a template.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::dashboard::chart;
use crate::dashboard::filter::{ActionFilter, Bucket, ListQuery, SortKey, flag};
use crate::dashboard::format;
use crate::dashboard::overview::{self as overview_model, Overview};
use crate::money::Money;
use crate::read_model::{self, ActionView, DeliveryView};
use crate::routes::access::{self, Chrome};
use crate::startup::AppState;
use crate::storage::{self, StorageError, deliveries, to_db_time};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    title: &'static str,
    message: String,
}

/// An error as a page: 400 for what the visitor sent, 404, 503 when the database did not answer.
fn error_page(
    request: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    message: String,
) -> HttpResponse {
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::BAD_REQUEST => "That query cannot be answered",
        StatusCode::FORBIDDEN => "Refused",
        _ => "The database did not answer",
    };
    let page = ErrorPage {
        chrome: Chrome::new(request, &state.access, ""),
        title,
        message,
    };
    let mut response = access::html(status, &page);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    }
    response
}

/// Runs a read on the blocking pool; a database failure becomes the 503 page.
async fn read<T: Send + 'static>(
    request: &HttpRequest,
    state: &web::Data<AppState>,
    work: impl FnOnce(&mut crate::storage::AnyConnection) -> Result<T, StorageError> + Send + 'static,
) -> Result<T, HttpResponse> {
    let db = state.db.clone();
    match web::block(move || work(&mut *db.conn()?)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            crate::metrics::database_error("read");
            tracing::error!(error = %error, "a page's read failed");
            Err(error_page(
                request,
                state,
                StatusCode::SERVICE_UNAVAILABLE,
                "The ledger could not be read just now; try again in a moment.".into(),
            ))
        }
        Err(_) => Err(error_page(
            request,
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "The read did not run.".into(),
        )),
    }
}

#[derive(Debug, Deserialize)]
pub struct OverviewQuery {
    pub days: Option<u32>,
    pub include_tests: Option<String>,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    overview: Overview,
    width: i64,
    height: i64,
    plot: i64,
    deadline_days: u64,
}

/// The chart covers 30 days unless 90 are asked for; `include_tests` as on the lists.
pub fn overview_options(query: &OverviewQuery) -> Result<(u32, bool), String> {
    let days = match query.days {
        None | Some(30) => 30,
        Some(90) => 90,
        Some(other) => return Err(format!("days must be 30 or 90, not {other}")),
    };
    let include_tests = flag(&query.include_tests)
        .transpose()
        .map_err(|word| format!("include_tests must be true or false, not `{word}`"))?
        .unwrap_or(false);
    Ok((days, include_tests))
}

pub fn source_names(state: &AppState) -> Vec<String> {
    let mut names: Vec<String> = state.sources.keys().cloned().collect();
    names.sort();
    names
}

#[get("/")]
pub async fn overview(
    request: HttpRequest,
    query: web::Query<OverviewQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (days, include_tests) = match overview_options(&query) {
        Ok(options) => options,
        Err(message) => return error_page(&request, &state, StatusCode::BAD_REQUEST, message),
    };
    let now = to_db_time(state.clock.now());
    let sources = source_names(&state);
    let overview = match read(&request, &state, move |conn| {
        overview_model::read(conn, now, days, include_tests, &sources)
    })
    .await
    {
        Ok(overview) => overview,
        Err(response) => return response,
    };
    let chrome = Chrome::new(&request, &state.access, "overview");
    chrome.respond(
        &request,
        &OverviewPage {
            chrome: Chrome::new(&request, &state.access, "overview"),
            overview,
            width: chart::WIDTH,
            height: chart::HEIGHT,
            plot: chart::HEIGHT - 20,
            deadline_days: overview_model::DEADLINE_DAYS,
        },
    )
}

pub struct Header {
    pub label: &'static str,
    /// The query that sorts by this column (toggling the direction when it is the current one).
    pub link: Option<String>,
    pub aria_sort: Option<&'static str>,
    pub numeric: bool,
}

pub struct ActionRow {
    pub action_id: String,
    pub status: String,
    pub flags: Vec<String>,
    pub payout: String,
    pub campaign: String,
    pub event_type: String,
    pub order_id: String,
    pub event_date: String,
    pub locking_date: String,
    pub received: String,
    pub is_test: bool,
}

pub struct TotalRow {
    pub currency: String,
    pub actions: i64,
    pub payout: String,
    pub amount: String,
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
    locking_dates: bool,
    totals: Vec<TotalRow>,
    headers: Vec<Header>,
    rows: Vec<ActionRow>,
    next_page: Option<String>,
    csv_query: String,
}

const PAGE_SIZE: i64 = 50;

fn query_string(query: &ListQuery) -> String {
    serde_urlencoded::to_string(query).unwrap_or_default()
}

/// Money text from the read model (exact decimal) shown with grouping and currency.
fn shown_money(text: &str, currency: Option<&str>) -> String {
    match text.parse::<Money>() {
        Ok(money) => format::money(money.minor_units(), currency),
        Err(_) => text.to_owned(),
    }
}

/// An ISO time from the read model as the pages write times.
fn shown_time(text: Option<&str>) -> String {
    text.and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map(|time| format::time(time.naive_utc()))
        .unwrap_or_default()
}

fn row(view: &ActionView) -> ActionRow {
    ActionRow {
        action_id: view.action_id.clone(),
        status: view.shown_status.clone(),
        flags: view.flags.clone(),
        payout: shown_money(&view.payout, view.payout_currency.as_deref()),
        campaign: view
            .campaign_name
            .clone()
            .or_else(|| view.campaign_id.clone())
            .unwrap_or_default(),
        event_type: view
            .action_tracker_name
            .clone()
            .or_else(|| view.action_tracker_id.clone())
            .unwrap_or_default(),
        order_id: view.order_id.clone().unwrap_or_default(),
        event_date: shown_time(view.event_date.as_deref()),
        locking_date: shown_time(view.locking_date.as_deref()),
        received: shown_time(Some(&view.first_seen_at)),
        is_test: view.is_test,
    }
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
        sortable("Received", Some(SortKey::Received), false),
    ]
}

#[get("/actions")]
pub async fn actions(
    request: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let query = query.into_inner();
    let filter = match ActionFilter::parse(&query, Some(Bucket::Pending)) {
        Ok(filter) => filter,
        Err(error) => {
            return error_page(&request, &state, StatusCode::BAD_REQUEST, error.to_string());
        }
    };
    let (heading, status, section) = match filter.bucket {
        Some(Bucket::Pending) => ("Pending actions", "pending", "pending"),
        Some(Bucket::Approved) => ("Approved actions", "approved", "approved"),
        Some(Bucket::Cleared) => ("Cleared actions", "cleared", "all"),
        Some(Bucket::Reversed) => ("Reversed actions", "reversed", "reversed"),
        None => ("All actions", "all", "all"),
    };
    let now = state.clock.now();
    let for_read = filter.clone();
    let page = match read(&request, &state, move |conn| {
        read_model::action_page(conn, &for_read, PAGE_SIZE, now)
    })
    .await
    {
        Ok(page) => page,
        Err(response) => return response,
    };
    let next_page = page.next_cursor.as_ref().map(|cursor| {
        let mut next = query.clone();
        next.cursor = Some(cursor.clone());
        query_string(&next)
    });
    let mut whole = query.clone();
    whole.cursor = None;
    whole.limit = None;
    whole.status = Some(status.into());
    let chrome = Chrome::new(&request, &state.access, section);
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
        locking_dates: query.date_field.as_deref() == Some("locking"),
        totals: page
            .totals
            .iter()
            .map(|total| TotalRow {
                currency: total.currency.clone().unwrap_or_else(|| "–".into()),
                actions: total.actions,
                payout: shown_money(&total.payout, total.currency.as_deref()),
                amount: shown_money(&total.amount, None),
            })
            .collect(),
        headers: headers(&query, &filter),
        rows: page.actions.iter().map(row).collect(),
        next_page,
        csv_query: query_string(&whole),
        query,
        filter,
        chrome: Chrome::new(&request, &state.access, section),
    };
    chrome.respond(&request, &page)
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
    pub kind: String,
    pub payout_delta: String,
    pub amount_delta: String,
    pub recorded_at: String,
    pub delivery_id: i64,
}

/// Every stored field of an action, labelled, for the detail page.
fn fields(view: &ActionView) -> Vec<(&'static str, String)> {
    let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "–".into());
    let time = |value: &Option<String>| match value {
        Some(value) => shown_time(Some(value)),
        None => "–".into(),
    };
    vec![
        ("Action id", view.action_id.clone()),
        ("Source", view.source.clone()),
        ("Status (events)", view.status.clone()),
        ("Status as sent", text(&view.status_raw)),
        ("Shown as", view.shown_status.clone()),
        (
            "Payout",
            shown_money(&view.payout, view.payout_currency.as_deref()),
        ),
        (
            "Sale amount",
            shown_money(&view.amount, view.amount_currency.as_deref()),
        ),
        ("Brand / campaign id", text(&view.campaign_id)),
        ("Brand / campaign", text(&view.campaign_name)),
        ("Event type id", text(&view.action_tracker_id)),
        ("Event type", text(&view.action_tracker_name)),
        ("Media partner id", text(&view.media_partner_id)),
        ("Order id", text(&view.order_id)),
        ("Shared id", text(&view.shared_id)),
        ("Sub id 1", text(&view.sub_id1)),
        ("Sub id 2", text(&view.sub_id2)),
        ("Sub id 3", text(&view.sub_id3)),
        ("Click id", text(&view.click_id)),
        ("Promo code", text(&view.promo_code)),
        ("Event date", time(&view.event_date)),
        ("Creation date", time(&view.creation_date)),
        ("Locking date", time(&view.locking_date)),
        ("Cleared date", time(&view.cleared_date)),
        ("Ledger date", time(&view.ledger_date)),
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
) -> HttpResponse {
    let now = state.clock.now();
    let found = match read(&request, &state, move |conn| {
        let Some(view) = read_model::action(conn, &action_id, now)? else {
            return Ok(None);
        };
        let deliveries = deliveries::of_subject(conn, &view.action_id)?;
        Ok(Some((view, deliveries)))
    })
    .await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Some((view, deliveries)) = found else {
        return error_page(
            &request,
            &state,
            StatusCode::NOT_FOUND,
            "No action has this id.".into(),
        );
    };
    let currency = view.payout_currency.clone();
    let timeline = view
        .entries
        .iter()
        .flatten()
        .map(|entry| TimelineEntry {
            kind: entry.kind.clone(),
            payout_delta: shown_money(&entry.payout_delta, currency.as_deref()),
            amount_delta: shown_money(&entry.amount_delta, view.amount_currency.as_deref()),
            recorded_at: shown_time(Some(&entry.recorded_at)),
            delivery_id: entry.delivery_id,
        })
        .collect();
    let chrome = Chrome::new(&request, &state.access, "all");
    let page = ActionPage {
        chrome: Chrome::new(&request, &state.access, "all"),
        payout: shown_money(&view.payout, currency.as_deref()),
        reviewed_at: view.reviewed_at.as_deref().map(|at| shown_time(Some(at))),
        timeline,
        fields: fields(&view),
        deliveries: deliveries.into_iter().map(DeliveryView::from).collect(),
        action: view,
    };
    chrome.respond(&request, &page)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

#[post("/actions/{action_id}/review")]
pub async fn mark_reviewed(
    request: HttpRequest,
    action_id: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !access::form_token_ok(&request, &state.access, &form.csrf) {
        return error_page(
            &request,
            &state,
            StatusCode::FORBIDDEN,
            "The form's token does not match this browser; reload the page and try again.".into(),
        );
    }
    let action_id = action_id.into_inner();
    let at = to_db_time(state.clock.now());
    let id = action_id.clone();
    match read(&request, &state, move |conn| {
        Ok(storage::actions::mark_reviewed(conn, &id, at)?)
    })
    .await
    {
        Ok(true) => HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/actions/{}", urlencoding(&action_id)),
            ))
            .finish(),
        Ok(false) => error_page(
            &request,
            &state,
            StatusCode::NOT_FOUND,
            "No action has this id.".into(),
        ),
        Err(response) => response,
    }
}

/// A path segment, percent-encoded.
pub fn urlencoding(segment: &str) -> String {
    serde_urlencoded::to_string([("", segment)])
        .map(|pair| pair.trim_start_matches('=').replace('+', "%20"))
        .unwrap_or_default()
}
