//! The JSON API over the ledger.

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;

use crate::domain::event::InquiryStatus;
use crate::read::filter::ListQuery;
use crate::read::model;
use crate::storage::StorageError;
use crate::storage::action_query::ActionFilter;
use crate::web::startup::AppState;

/// A page of inquiries: their status, where the previous page ended, how many.
#[derive(Debug, Deserialize)]
pub struct InquiryQuery {
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

const MAX_PAGE: i64 = 500;

#[get("/api/actions/{action_id}")]
pub async fn action(action_id: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let now = state.clock.now();
    let result = web::block(move || model::action(&mut *db.conn()?, &action_id, now)).await;
    reply(result, |view| match view {
        Some(view) => HttpResponse::Ok().json(view),
        None => not_found("no such action"),
    })
}

#[get("/api/actions")]
pub async fn actions(query: web::Query<ListQuery>, state: web::Data<AppState>) -> HttpResponse {
    let query = query.into_inner();
    let filter = match ActionFilter::parse(&query, None) {
        Ok(filter) => filter,
        Err(error) => return bad_request(&error.to_string()),
    };
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let db = state.db.clone();
    let now = state.clock.now();
    let result =
        web::block(move || model::action_page(&mut *db.conn()?, &filter, limit, now)).await;
    reply(result, |page| HttpResponse::Ok().json(page))
}

/// The overview's numbers: per currency and bucket, the daily movements, activity per source and
/// what needs attention. `days` (30 or 90) and `include_tests` as on the page.
#[get("/api/summary")]
pub async fn summary(
    query: web::Query<crate::web::pages::overview::OverviewQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (days, include_tests) = match crate::web::pages::overview::overview_options(&query) {
        Ok(options) => options,
        Err(message) => return bad_request(&message),
    };
    let now = crate::storage::to_db_time(state.clock.now());
    let sources = crate::web::pages::overview::source_names(&state);
    let db = state.db.clone();
    let result = web::block(move || {
        crate::read::overview::read(&mut *db.conn()?, now, days, include_tests, &sources)
    })
    .await;
    reply(result, |overview| HttpResponse::Ok().json(overview))
}

#[get("/api/inquiries/{inquiry_id}")]
pub async fn inquiry(inquiry_id: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let now = state.clock.now();
    let result = web::block(move || model::inquiry(&mut *db.conn()?, &inquiry_id, now)).await;
    reply(result, |view| match view {
        Some(view) => HttpResponse::Ok().json(view),
        None => not_found("no such inquiry"),
    })
}

#[get("/api/inquiries")]
pub async fn inquiries(
    query: web::Query<InquiryQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let query = query.into_inner();
    let status = match crate::domain::inquiry::status_filter(query.status.as_deref()) {
        Ok(status) => status,
        Err(message) => return bad_request(&message),
    };
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let db = state.db.clone();
    let result = web::block(move || {
        model::inquiry_page(
            &mut *db.conn()?,
            status.map(InquiryStatus::as_str),
            query.cursor.as_deref(),
            limit,
        )
    })
    .await;
    reply(result, |page| HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize)]
pub struct CatalogQuery {
    pub catalog_id: Option<String>,
    pub item_id: Option<String>,
    pub limit: Option<i64>,
}

#[get("/api/catalog-items")]
pub async fn catalog_items(
    query: web::Query<CatalogQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let db = state.db.clone();
    let result = web::block(move || {
        model::catalog_items(
            &mut *db.conn()?,
            query.catalog_id.as_deref(),
            query.item_id.as_deref(),
            limit,
        )
    })
    .await;
    reply(result, |items| {
        HttpResponse::Ok().json(serde_json::json!({ "items": items }))
    })
}

#[get("/api/jobs/{job_id}")]
pub async fn job(job_id: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let result = web::block(move || model::job(&mut *db.conn()?, &job_id)).await;
    reply(result, |view| match view {
        Some(view) => HttpResponse::Ok().json(view),
        None => not_found("no such job"),
    })
}

#[derive(Debug, Deserialize)]
pub struct TrackingValueQuery {
    pub action_id: Option<String>,
}

#[get("/api/tracking-values")]
pub async fn tracking_values(
    query: web::Query<TrackingValueQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(action_id) = query.into_inner().action_id.filter(|id| !id.is_empty()) else {
        return HttpResponse::BadRequest()
            .json(serde_json::json!({ "error": "action_id is required" }));
    };
    let db = state.db.clone();
    let result = web::block(move || model::tracking_values(&mut *db.conn()?, &action_id)).await;
    reply(result, |requests| {
        HttpResponse::Ok().json(serde_json::json!({ "tracking_values": requests }))
    })
}

fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(serde_json::json!({ "error": message }))
}

fn not_found(message: &str) -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({ "error": message }))
}

/// A read that could not reach the database is a 503 the client may retry.
fn reply<T>(
    result: Result<Result<T, StorageError>, actix_web::error::BlockingError>,
    respond: impl FnOnce(T) -> HttpResponse,
) -> HttpResponse {
    match result {
        Ok(Ok(value)) => respond(value),
        Ok(Err(error)) => {
            crate::telemetry::metrics::database_error("read");
            tracing::error!(error = %error, "read failed");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "error": "the database did not answer" }))
        }
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "error": "the read did not run" })),
    }
}

/// The deliveries log, newest first: `outcome`, `source`, `before` (keyset) and `limit`.
#[get("/api/deliveries")]
pub async fn deliveries(
    query: web::Query<crate::read::log::LogQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let filter = match crate::read::log::LogFilter::parse(&query, 100) {
        Ok(filter) => filter,
        Err(message) => return bad_request(&message),
    };
    let (db, redactor) = (state.db.clone(), state.redactor.clone());
    let result =
        web::block(move || model::delivery_page(&mut *db.conn()?, &filter, &redactor)).await;
    reply(result, |page| HttpResponse::Ok().json(page))
}

#[get("/api/deliveries/{id}")]
pub async fn delivery(id: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let Ok(id) = id.parse::<i64>() else {
        return bad_request("a delivery id is a whole number");
    };
    let (db, redactor) = (state.db.clone(), state.redactor.clone());
    let result = web::block(move || model::delivery(&mut *db.conn()?, id, &redactor)).await;
    reply(result, |view| match view {
        Some(view) => HttpResponse::Ok().json(view),
        None => not_found("no such delivery"),
    })
}

/// The statement of a year: per month, brand and currency the tracked, modified, reversed, net
/// and cleared payout, with subtotals per month and totals per currency; `year` (default this
/// year) and `include_tests` as on the page.
#[get("/api/statement")]
pub async fn statement(
    query: web::Query<crate::read::statement::StatementQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    use crate::read::statement::{Period, read};
    let period = match Period::parse(&query, crate::storage::to_db_time(state.clock.now())) {
        Ok(period) => period,
        Err(message) => return bad_request(&message),
    };
    let db = state.db.clone();
    let result = web::block(move || read(&mut *db.conn()?, period)).await;
    reply(result, |statement| HttpResponse::Ok().json(statement))
}
