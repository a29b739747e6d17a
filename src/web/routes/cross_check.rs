//! The cross-check over HTTP: the reconciliation runs and their differences as JSON and CSV, the
//! query extractors they share with the `/reconciliation` pages, and every route's registration.

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;

use crate::domain::cross_check::{DifferenceKind, Resolution};
use crate::read::reconciliation::{self as model, DifferencesExport};
use crate::storage::reconciliation_differences::DifferenceFilter;
use crate::web::blocking::with_conn;
use crate::web::error::{ForCaller, RequestError};
use crate::web::query::{API_PAGE, Api, Caller, FromQuery};
use crate::web::startup::AppState;

const MAX_PAGE: i64 = 500;

/// Every route of the cross-check, inside the reader's scope.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(crate::web::pages::reconciliation::runs_page)
        .service(crate::web::pages::reconciliation::run_page)
        .service(crate::web::pages::reconciliation::fill)
        .service(runs)
        .service(run)
        .service(differences)
        .service(differences_csv);
}

fn fields<T: serde::de::DeserializeOwned>(query: &str) -> Result<T, RequestError> {
    web::Query::<T>::from_query(query)
        .map(web::Query::into_inner)
        .map_err(|error| RequestError::bad_input(error.to_string()))
}

#[derive(Deserialize)]
struct RunsQueryText {
    before: Option<String>,
    limit: Option<i64>,
}

/// A page of runs: before which run (newest first) and how many.
pub struct RunsQuery {
    pub before: Option<i64>,
    pub limit: i64,
}

impl FromQuery for RunsQuery {
    fn from_query(query: &str, _: &AppState, caller: Caller) -> Result<Self, RequestError> {
        let query: RunsQueryText = fields(query)?;
        let before = match query.before.as_deref().filter(|text| !text.is_empty()) {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| {
                RequestError::bad_input(format!("before must be a run number, not `{text}`"))
            })?),
        };
        let default = if caller == Caller::Page { 50 } else { API_PAGE };
        Ok(RunsQuery {
            before,
            limit: query.limit.unwrap_or(default).clamp(1, MAX_PAGE),
        })
    }
}

/// The filters of a run's differences as sent (the page builds its links from it).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct DifferenceQueryText {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The page's first row (0-based), when the pager's own links brought it: for its count
    /// and its way back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// A run's differences: `kind`, `currency`, `state` (open or filled), `action_id`, `after` (a
/// difference id, the keyset cursor) and `limit`.
pub struct DifferenceQuery {
    pub text: DifferenceQueryText,
    pub filter: DifferenceFilter,
    pub limit: i64,
}

impl FromQuery for DifferenceQuery {
    fn from_query(query: &str, _: &AppState, caller: Caller) -> Result<Self, RequestError> {
        let text: DifferenceQueryText = fields(query)?;
        let given = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let kind = match given(&text.kind) {
            None => None,
            Some(word) => Some(DifferenceKind::parse_loose(&word).ok_or_else(|| {
                RequestError::bad_input(format!(
                    "kind: {}",
                    word.parse::<DifferenceKind>().unwrap_err()
                ))
            })?),
        };
        let resolution = match given(&text.state) {
            None => None,
            Some(word) if word == "all" => None,
            Some(word) => Some(Resolution::parse_loose(&word).ok_or_else(|| {
                RequestError::bad_input(format!("state must be open, filled or all, not `{word}`"))
            })?),
        };
        let after = match given(&text.after) {
            None => None,
            Some(word) => Some(word.parse().map_err(|_| {
                RequestError::bad_input(format!("after must be a difference id, not `{word}`"))
            })?),
        };
        let default = if caller == Caller::Page {
            100
        } else {
            API_PAGE
        };
        Ok(DifferenceQuery {
            filter: DifferenceFilter {
                kind,
                currency: given(&text.currency).map(|code| code.to_ascii_uppercase()),
                resolution,
                action_id: given(&text.action_id),
                after,
            },
            limit: text.limit.unwrap_or(default).clamp(1, MAX_PAGE),
            text,
        })
    }
}

/// A run number from the path: anything but a whole number names no run.
pub fn run_id(text: &str) -> Result<i64, RequestError> {
    text.parse()
        .map_err(|_| RequestError::not_found("No reconciliation run has this number."))
}

fn no_such_run() -> RequestError {
    RequestError::not_found("No reconciliation run has this number.")
}

/// The runs, newest first, each with its counts and money per kind and currency.
#[get("/api/reconciliation")]
pub async fn runs(
    Api(query): Api<RunsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let zone = state.statement.time_zone;
    let page = with_conn(&state, move |conn| {
        model::runs_page(conn, query.before, query.limit, zone)
    })
    .await
    .for_api()?;
    Ok(HttpResponse::Ok().json(page))
}

#[get("/api/reconciliation/{id}")]
pub async fn run(
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let id = run_id(&id).for_api()?;
    let zone = state.statement.time_zone;
    let view = with_conn(&state, move |conn| model::run(conn, id, zone))
        .await
        .and_then(|found| found.ok_or_else(no_such_run))
        .for_api()?;
    Ok(HttpResponse::Ok().json(view))
}

#[get("/api/reconciliation/{id}/differences")]
pub async fn differences(
    id: web::Path<String>,
    Api(query): Api<DifferenceQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let id = run_id(&id).for_api()?;
    let page = with_conn(&state, move |conn| {
        if crate::storage::reconciliation_runs::find(conn, id)?.is_none() {
            return Ok(None);
        }
        model::differences_page(conn, id, &query.filter, query.limit).map(Some)
    })
    .await
    .and_then(|found| found.ok_or_else(no_such_run))
    .for_api()?;
    Ok(HttpResponse::Ok().json(page))
}

/// Every difference of the run, streamed.
#[get("/reconciliation/{id}/differences.csv")]
pub async fn differences_csv(
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let id = run_id(&id)?;
    let exists = with_conn(&state, move |conn| {
        Ok(crate::storage::reconciliation_runs::find(conn, id)?.is_some())
    })
    .await?;
    if !exists {
        return Err(no_such_run());
    }
    crate::web::routes::exports::stream_csv(
        &state,
        format!("reconciliation-{id}.csv"),
        DifferencesExport::new(id),
    )
    .await
}
