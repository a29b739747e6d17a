//! The dashboard's HTML pages, one file each: they read their model off the async workers and
//! render a template; an error is the error page (`.for_page(…)`, see [`RequestError`]). Here:
//! what they share (the form check, money and time text).

use actix_web::HttpRequest;
use serde::Deserialize;

use crate::domain::money::Money;
use crate::read::format;
use crate::web::access;
use crate::web::error::RequestError;
use crate::web::startup::AppState;

pub mod actions;
pub mod deliveries;
pub mod inquiries;
pub mod overview;
pub mod reconciliation;
pub mod setup;
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

/// The 403 page when a posted form's token does not belong to this browser.
pub fn check_form(
    request: &HttpRequest,
    state: &AppState,
    token: &str,
) -> Result<(), RequestError> {
    if access::form_token_ok(request, &state.access, token) {
        return Ok(());
    }
    Err(RequestError::forbidden(
        "The form's token does not match this browser; reload the page and try again.",
    )
    .for_page(request, state))
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
