//! The deliveries log (every request, newest first, refreshing itself), the recent
//! authentication failures beside it, one delivery's raw view, and reprocessing a quarantined one.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use chrono_tz::Tz;
use serde::Deserialize;

use super::{CsrfForm, check_form, shown_time, urlencoding};
use crate::domain::event::SourceKind;
use crate::domain::outcome::Outcome;
use crate::ledger::reprocess::Reprocessed;
use crate::read;
use crate::read::deliveries::DeliveryView;
use crate::read::format;
use crate::read::log::{LogQuery, OUTCOMES};
use crate::storage::auth_failures;
use crate::web::access::Chrome;
use crate::web::blocking::with_conn;
use crate::web::error::{ForCaller, RequestError};
use crate::web::masking;
use crate::web::query::{DeliveryLog, Page};
use crate::web::startup::AppState;

/// How many of the newest authentication failures the log shows beside it.
const FAILURES_SHOWN: i64 = 20;

/// Where a delivery's subject is shown: an action's or an inquiry's page.
fn subject_link(kind: SourceKind, subject_id: &str) -> Option<String> {
    match kind {
        SourceKind::ActionLifecycle
        | SourceKind::TrackingValueRequest
        | SourceKind::NetworkRecord => Some(format!("/actions/{}", urlencoding(subject_id))),
        SourceKind::ActionInquiry => Some(format!("/inquiries/{}", urlencoding(subject_id))),
        _ => None,
    }
}

pub struct DeliveryRow {
    pub id: i64,
    pub received: String,
    pub source: String,
    pub method: String,
    pub outcome: Outcome,
    /// Cut to fit the column; `reason_full` is its title and the delivery page's.
    pub reason: String,
    pub reason_full: String,
    pub dismissed: bool,
    pub flags: Vec<crate::domain::explain::FlagNote>,
    pub subject_id: String,
    pub subject_link: Option<String>,
    pub times_received: i32,
}

impl DeliveryRow {
    fn new(view: &DeliveryView, zone: Tz) -> DeliveryRow {
        let subject_id = view.subject_id.clone().unwrap_or_default();
        DeliveryRow {
            id: view.id,
            received: shown_time(Some(&view.received_at), zone),
            source: view.source.clone(),
            method: view.method.clone(),
            outcome: view.outcome,
            reason: view.reason_short(),
            reason_full: view.reason.clone().unwrap_or_default(),
            dismissed: view.dismissed_at.is_some(),
            flags: view.subject_flags.clone(),
            subject_link: (!subject_id.is_empty())
                .then(|| subject_link(view.kind, &subject_id))
                .flatten(),
            subject_id,
            times_received: view.times_received,
        }
    }
}

pub struct FailureRow {
    pub at: String,
    pub source: String,
    pub client: String,
    pub failed_check: String,
    pub method: String,
    pub times: i32,
}

#[derive(Template)]
#[template(path = "deliveries.html")]
struct DeliveriesPage {
    chrome: Chrome,
    outcome: &'static str,
    outcomes: [&'static str; 5],
    source: String,
    sources: Vec<String>,
    dismissed: String,
    q: String,
    /// The test conversions the searched id names: hidden from finance's lists, linked here.
    test_actions: Vec<String>,
    rows: Vec<DeliveryRow>,
    live_url: String,
    next_page: Option<String>,
    failures: Vec<FailureRow>,
}

fn query_string(query: &LogQuery) -> String {
    serde_urlencoded::to_string(query).unwrap_or_default()
}

#[get("/deliveries")]
pub async fn log(
    request: HttpRequest,
    Page(DeliveryLog { query, filter }): Page<DeliveryLog>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let for_read = filter.clone();
    let (page, failures) = with_conn(&state, move |conn| {
        let page = read::deliveries::delivery_page(conn, &for_read)?;
        let failures = auth_failures::recent(conn, FAILURES_SHOWN)?;
        Ok((page, failures))
    })
    .await
    .for_page(&request, &state)?;
    let page = masking::page(page, &state.sources.redactor());
    let next_page = page.next_before.map(|before| {
        let mut next = query.clone();
        next.before = Some(before.to_string());
        query_string(&next)
    });
    let mut sources = super::overview::source_names(&state);
    let source = filter.source.clone().unwrap_or_default();
    if !source.is_empty() && !sources.contains(&source) {
        sources.push(source.clone());
    }
    let zone = state.statement.time_zone;
    let page = DeliveriesPage {
        chrome: Chrome::new(&request, &state.access, "deliveries"),
        outcome: filter.outcome.unwrap_or(""),
        outcomes: OUTCOMES,
        source,
        sources,
        dismissed: query.dismissed.clone().unwrap_or_default(),
        q: filter.q.clone().unwrap_or_default(),
        test_actions: page.test_actions.clone(),
        rows: page
            .deliveries
            .iter()
            .map(|view| DeliveryRow::new(view, zone))
            .collect(),
        live_url: format!("/deliveries?{}", query_string(&query)),
        next_page,
        failures: failures
            .into_iter()
            .map(|failure| FailureRow {
                at: format::time(failure.occurred_at, zone),
                source: failure.source,
                client: failure.client_addr.unwrap_or_default(),
                failed_check: failure.failed_check,
                method: failure.method,
                times: failure.times,
            })
            .collect(),
    };
    // The page's own chrome: its token is bound to the cookie this response sets.
    Ok(page.chrome.respond(&request, &page))
}

/// What the last reprocess of this delivery did, passed back by the redirect as a fixed word.
#[derive(Deserialize)]
pub struct DeliveryQuery {
    pub reprocessed: Option<String>,
    /// What the last dismiss or undismiss did, as a fixed word.
    pub dismissal: Option<String>,
}

/// The delivery's fields as its source's mapping reads them now, for the page.
pub struct FieldsView {
    pub read: Vec<FieldRow>,
    pub extras: Vec<(String, String)>,
}

pub struct FieldRow {
    pub canonical: &'static str,
    pub key: String,
    pub value: String,
}

/// Reads the stored request with the mapping this instance runs with; an error says why the
/// fields cannot be shown (the source is gone, the raw request pruned or not decodable).
fn fields_view(delivery: &DeliveryView, state: &AppState) -> Result<FieldsView, String> {
    if delivery.pruned_at.is_some() {
        return Err("The raw request was pruned: its fields cannot be read again.".to_owned());
    }
    let receiver = state.sources.get(&delivery.source).ok_or_else(|| {
        format!(
            "Its source `{}` is no longer configured: no mapping reads it.",
            delivery.source
        )
    })?;
    let body = delivery.body.as_deref().unwrap_or_default();
    let (read, extras) = crate::intake::delivery::fields_read(
        &receiver.source,
        &delivery.query,
        delivery.content_type.as_deref(),
        body.as_bytes(),
    )
    .map_err(|error| format!("The mapping cannot decode it: {error}."))?;
    let redactor = state.sources.redactor();
    let masked = |text: String| masking::text(&text, &redactor);
    Ok(FieldsView {
        read: read
            .into_iter()
            .map(|field| FieldRow {
                canonical: field.canonical,
                key: field.key,
                value: masked(field.value),
            })
            .collect(),
        extras: extras
            .into_iter()
            .map(|(key, value)| (key, masked(value)))
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "delivery.html")]
struct DeliveryPage {
    chrome: Chrome,
    delivery: DeliveryView,
    received: String,
    last_received: String,
    subject_link: Option<String>,
    notice: Option<&'static str>,
    fields: Result<FieldsView, String>,
}

fn dismissal_notice(word: &str) -> Option<&'static str> {
    match word {
        "dismissed" => {
            Some("Dismissed: kept as it is, but no longer counted as needing attention.")
        }
        "restored" => Some("Brought back: it counts as needing attention again."),
        "not" => Some("Only a quarantined delivery can be dismissed."),
        _ => None,
    }
}

fn reprocess_notice(word: &str) -> Option<&'static str> {
    match word {
        "released" => Some("Reprocessed with the current mapping: it is now read and stored."),
        "handled" => Some("It was no longer quarantined: something else released it first."),
        "still" => Some(
            "Reprocessed with the current mapping: still quarantined, the mapping cannot read it either.",
        ),
        "gone" => Some("Not reprocessed: its source is no longer configured."),
        _ => None,
    }
}

fn no_such_delivery() -> RequestError {
    RequestError::not_found("No delivery has this id.")
}

/// A delivery id from the path: anything but a whole number names no delivery.
fn delivery_id(id: &str) -> Result<i64, RequestError> {
    id.parse().map_err(|_| no_such_delivery())
}

#[get("/deliveries/{id}")]
pub async fn show(
    request: HttpRequest,
    id: web::Path<String>,
    query: web::Query<DeliveryQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let id = delivery_id(&id).for_page(&request, &state)?;
    let delivery = with_conn(&state, move |conn| read::deliveries::delivery(conn, id))
        .await
        .and_then(|found| found.ok_or_else(no_such_delivery))
        .for_page(&request, &state)?;
    let delivery = masking::delivery(delivery, &state.sources.redactor());
    let zone = state.statement.time_zone;
    let page = DeliveryPage {
        chrome: Chrome::new(&request, &state.access, "deliveries"),
        received: shown_time(Some(&delivery.received_at), zone),
        last_received: shown_time(Some(&delivery.last_received_at), zone),
        subject_link: delivery
            .subject_id
            .as_deref()
            .and_then(|subject| subject_link(delivery.kind, subject)),
        notice: query
            .reprocessed
            .as_deref()
            .and_then(reprocess_notice)
            .or_else(|| query.dismissal.as_deref().and_then(dismissal_notice)),
        fields: fields_view(&delivery, &state),
        delivery,
    };
    // The page's own chrome: its token is bound to the cookie this response sets.
    Ok(page.chrome.respond(&request, &page))
}

/// Re-reads one quarantined delivery with the mapping this instance runs with, then shows it.
#[post("/deliveries/{id}/reprocess")]
pub async fn reprocess(
    request: HttpRequest,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    check_form(&request, &state, &form.csrf)?;
    let id = delivery_id(&id).for_page(&request, &state)?;
    let for_work = state.clone();
    let result = with_conn(&state, move |conn| {
        let Some(delivery) = crate::storage::deliveries::find(conn, id)? else {
            return Ok(None);
        };
        let receiver = for_work.sources.get(&delivery.source);
        let source = receiver.as_deref().map(|receiver| &receiver.source);
        crate::ledger::reprocess::one(
            conn,
            for_work.db.backend(),
            &delivery,
            source,
            &for_work.testing,
        )
        .map(Some)
    })
    .await
    .and_then(|found| found.ok_or_else(no_such_delivery))
    .for_page(&request, &state)?;
    tracing::info!(delivery_id = id, result = %result.describe(id), "reprocessed from the dashboard");
    let word = match result {
        Reprocessed::Released(_) => "released",
        Reprocessed::AlreadyHandled => "handled",
        Reprocessed::StillQuarantined(_) => "still",
        Reprocessed::SourceGone(_) => "gone",
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/deliveries/{id}?reprocessed={word}"),
        ))
        .finish())
}

/// Sets a quarantined delivery aside (junk, a probe): it stays stored and listed, but leaves what
/// needs attention. `undismiss` brings it back.
#[post("/deliveries/{id}/dismiss")]
pub async fn dismiss(
    request: HttpRequest,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    set_dismissed(request, id, form, state, true).await
}

#[post("/deliveries/{id}/undismiss")]
pub async fn undismiss(
    request: HttpRequest,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    set_dismissed(request, id, form, state, false).await
}

async fn set_dismissed(
    request: HttpRequest,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
    aside: bool,
) -> Result<HttpResponse, RequestError> {
    check_form(&request, &state, &form.csrf)?;
    let id = delivery_id(&id).for_page(&request, &state)?;
    let at = aside.then(|| crate::storage::to_db_time(state.clock.now()));
    let changed = with_conn(&state, move |conn| {
        if crate::storage::deliveries::find(conn, id)?.is_none() {
            return Ok(None);
        }
        Ok(Some(crate::storage::deliveries::set_dismissed(
            conn, id, at,
        )?))
    })
    .await
    .and_then(|found| found.ok_or_else(no_such_delivery))
    .for_page(&request, &state)?;
    let word = match (changed, aside) {
        (0, _) => "not",
        (_, true) => "dismissed",
        (_, false) => "restored",
    };
    tracing::info!(
        delivery_id = id,
        result = word,
        "dismissal from the dashboard"
    );
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/deliveries/{id}?dismissal={word}"),
        ))
        .finish())
}
