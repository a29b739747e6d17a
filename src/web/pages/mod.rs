//! The dashboard's HTML pages, one file each: they read their model off the async workers and
//! render a template. Here: what they share (the error page, the read, money and time text).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::money::Money;
use crate::read::format;
use crate::storage::StorageError;
use crate::web::access::{self, Chrome};
use crate::web::startup::AppState;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    title: &'static str,
    message: String,
}

/// An error as a page: 400 for what the visitor sent, 404, 503 when the database did not answer.
pub fn error_page(
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
pub async fn read<T: Send + 'static>(
    request: &HttpRequest,
    state: &web::Data<AppState>,
    work: impl FnOnce(&mut crate::storage::AnyConnection) -> Result<T, StorageError> + Send + 'static,
) -> Result<T, HttpResponse> {
    let db = state.db.clone();
    match web::block(move || work(&mut *db.conn()?)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            crate::telemetry::metrics::database_error("read");
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

pub mod actions;
pub mod deliveries;
pub mod inquiries;
pub mod overview;
pub mod statement;

/// Money text from the read model (exact decimal) shown with grouping and currency.
pub fn shown_money(text: &str, currency: Option<&str>) -> String {
    match text.parse::<Money>() {
        Ok(money) => format::money(money.minor_units(), currency),
        Err(_) => text.to_owned(),
    }
}

/// An ISO time from the read model as the pages write times.
pub fn shown_time(text: Option<&str>) -> String {
    text.and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map(|time| format::time(time.naive_utc()))
        .unwrap_or_default()
}

/// A path segment, percent-encoded.
pub fn urlencoding(segment: &str) -> String {
    serde_urlencoded::to_string([("", segment)])
        .map(|pair| pair.trim_start_matches('=').replace('+', "%20"))
        .unwrap_or_default()
}

/// The 403 page when a posted form's token does not belong to this browser; None when it does.
pub fn form_refused(request: &HttpRequest, state: &AppState, token: &str) -> Option<HttpResponse> {
    (!access::form_token_ok(request, &state.access, token)).then(|| {
        error_page(
            request,
            state,
            StatusCode::FORBIDDEN,
            "The form's token does not match this browser; reload the page and try again.".into(),
        )
    })
}

/// An optional text for a fields table: `–` when absent.
pub fn or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "–".into())
}

/// An optional ISO time for a fields table: `–` when absent.
pub fn time_or_dash(value: &Option<String>) -> String {
    match value {
        Some(value) => shown_time(Some(value)),
        None => "–".into(),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}
