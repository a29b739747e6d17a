//! The JSON API over the ledger. Every error is `{"error": "…"}` (see [`RequestError`]).

use actix_web::{HttpResponse, get, web};

use crate::read;
use crate::read::overview::Options;
use crate::read::statement::Period;
use crate::web::blocking::with_conn;
use crate::web::error::{ForCaller, RequestError};
use crate::web::masking;
use crate::web::query::{
    API_PAGE, ActionList, Api, CatalogQuery, DeliveryLog, InquiryList, TrackedAction,
};
use crate::web::startup::AppState;

const MAX_PAGE: i64 = 500;

/// The view as JSON; none found is a 404 naming what was looked for.
fn found<T: serde::Serialize>(
    view: Option<T>,
    missing: &'static str,
) -> Result<HttpResponse, RequestError> {
    match view {
        Some(view) => Ok(HttpResponse::Ok().json(view)),
        None => Err(RequestError::not_found(missing).for_api()),
    }
}

#[get("/api/actions/{action_id}")]
pub async fn action(
    action_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let now = state.clock.now();
    let view = with_conn(&state, move |conn| {
        read::actions::action(conn, &action_id, now)
    })
    .await
    .for_api()?;
    found(view, "no such action")
}

#[get("/api/actions")]
pub async fn actions(
    Api(list): Api<ActionList>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let limit = list.query.limit.unwrap_or(API_PAGE).clamp(1, MAX_PAGE);
    let now = state.clock.now();
    let page = with_conn(&state, move |conn| {
        read::actions::action_page(conn, &list.filter, limit, now)
    })
    .await
    .for_api()?;
    Ok(HttpResponse::Ok().json(page))
}

/// The overview's numbers: per currency and bucket, the daily movements, activity per source and
/// what needs attention. `days` (30 or 90) and `include_tests` as on the page.
#[get("/api/summary")]
pub async fn summary(
    Api(options): Api<Options>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let now = crate::storage::to_db_time(state.clock.now());
    let zone = state.statement.time_zone;
    let sources = crate::web::pages::overview::source_names(&state);
    let overview = with_conn(&state, move |conn| {
        crate::read::overview::read(conn, now, zone, options, &sources)
    })
    .await
    .for_api()?;
    Ok(HttpResponse::Ok().json(overview))
}

#[get("/api/inquiries/{inquiry_id}")]
pub async fn inquiry(
    inquiry_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let now = state.clock.now();
    let view = with_conn(&state, move |conn| {
        read::inquiries::inquiry(conn, &inquiry_id, now)
    })
    .await
    .for_api()?;
    found(view, "no such inquiry")
}

#[get("/api/inquiries")]
pub async fn inquiries(
    Api(list): Api<InquiryList>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let limit = list.limit.unwrap_or(API_PAGE).clamp(1, MAX_PAGE);
    let page = with_conn(&state, move |conn| {
        read::inquiries::inquiry_page(conn, &list.filter, list.cursor.as_deref(), limit)
    })
    .await
    .for_api()?;
    Ok(HttpResponse::Ok().json(page))
}

#[get("/api/catalog-items")]
pub async fn catalog_items(
    Api(query): Api<CatalogQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let limit = query.limit.unwrap_or(API_PAGE).clamp(1, MAX_PAGE);
    let items = with_conn(&state, move |conn| {
        read::catalog::catalog_items(
            conn,
            query.catalog_id.as_deref(),
            query.item_id.as_deref(),
            limit,
        )
    })
    .await
    .for_api()?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

#[get("/api/jobs/{job_id}")]
pub async fn job(
    job_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let view = with_conn(&state, move |conn| read::catalog::job(conn, &job_id))
        .await
        .for_api()?;
    found(view, "no such job")
}

#[get("/api/tracking-values")]
pub async fn tracking_values(
    Api(TrackedAction(action_id)): Api<TrackedAction>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let requests = with_conn(&state, move |conn| {
        read::catalog::tracking_values(conn, &action_id)
    })
    .await
    .for_api()?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "tracking_values": requests })))
}

/// The deliveries log, newest first: `outcome`, `source`, `before` (keyset) and `limit`.
#[get("/api/deliveries")]
pub async fn deliveries(
    Api(log): Api<DeliveryLog>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let page = with_conn(&state, move |conn| {
        read::deliveries::delivery_page(conn, &log.filter)
    })
    .await
    .for_api()?;
    Ok(HttpResponse::Ok().json(masking::page(page, &state.sources.redactor())))
}

#[get("/api/deliveries/{id}")]
pub async fn delivery(
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let id = id
        .parse::<i64>()
        .map_err(|_| RequestError::bad_input("a delivery id is a whole number").for_api())?;
    let view = with_conn(&state, move |conn| read::deliveries::delivery(conn, id))
        .await
        .for_api()?
        .map(|view| masking::delivery(view, &state.sources.redactor()));
    found(view, "no such delivery")
}

/// The statement of a year: per month, brand and currency the tracked, modified, reversed, net
/// and cleared payout, with subtotals per month and totals per currency; `year` (default this
/// year) and `include_tests` as on the page.
#[get("/api/statement")]
pub async fn statement(
    Api(period): Api<Period>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let (zone, now) = (state.statement.time_zone, state.clock.now());
    let statement = with_conn(&state, move |conn| {
        crate::read::statement::read(conn, period, zone, now)
    })
    .await
    .for_api()?;
    Ok(HttpResponse::Ok().json(statement))
}
