//! The statement page: per month and brand, tracked, modified, reversed, clawbacks, net and
//! cleared payout per currency, with subtotals and the year's totals; a month that has ended
//! can be closed from here.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::check_form;
use crate::ledger::close::{CloseError, close_month};
use crate::read::statement::{self as model, Period, Statement};
use crate::web::access::Chrome;
use crate::web::blocking::with_conn;
use crate::web::error::{ForCaller, RequestError};
use crate::web::query::Page;
use crate::web::startup::AppState;

#[derive(Template)]
#[template(path = "statement.html")]
struct StatementPage {
    chrome: Chrome,
    statement: Statement,
    /// The period as a query string, for the CSV and JSON links.
    query: String,
    /// `&include_tests=true` when included, so the year links keep it.
    tests_param: &'static str,
    /// The six sums' headers and the classes that hide the less read ones first on a phone.
    sum_labels: [&'static str; 6],
    sum_classes: [&'static str; 6],
    month_classes: [&'static str; 6],
}

#[get("/statement")]
pub async fn statement(
    request: HttpRequest,
    Page(period): Page<Period>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let (zone, now) = (state.statement.time_zone, state.clock.now());
    let statement = with_conn(&state, move |conn| model::read(conn, period, zone, now))
        .await
        .for_page(&request, &state)?;
    let tests_param = if period.include_tests {
        "&include_tests=true"
    } else {
        ""
    };
    let page = StatementPage {
        chrome: Chrome::new(&request, &state.access, "statement"),
        query: format!("year={}{tests_param}", period.year),
        tests_param,
        statement,
        sum_labels: [
            "Tracked",
            "Modified",
            "Reversed",
            "Clawbacks",
            "Net",
            "Cleared",
        ],
        // Net and cleared stay on a phone; modified gives way first.
        sum_classes: ["p2", "p3", "p2", "p2", "", ""],
        // A month's cleared figure gives way too: the line under its table repeats it.
        month_classes: ["p2", "p3", "p2", "p2", "", "p2"],
    };
    // The page's own chrome: the close form's token is bound to the cookie this response sets.
    Ok(page.chrome.respond(&request, &page))
}

#[derive(Debug, Deserialize)]
pub struct CloseForm {
    pub csrf: String,
    pub month: String,
}

/// Closes a month from the statement (the dashboard login, a form token as every form).
#[post("/statement/close")]
pub async fn close(
    request: HttpRequest,
    form: web::Form<CloseForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    check_form(&request, &state, &form.csrf)?;
    let CloseForm { month, .. } = form.into_inner();
    let (zone, now) = (state.statement.time_zone, state.clock.now());
    let year = month.get(..4).unwrap_or_default().to_owned();
    let closing = month.clone();
    let closed = with_conn(&state, move |conn| {
        Ok(close_month(conn, &closing, zone, now, "dashboard"))
    })
    .await
    .for_page(&request, &state)?;
    match closed {
        Ok(_) | Err(CloseError::AlreadyClosed(_)) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/statement?year={year}#month-{month}"),
            ))
            .finish()),
        Err(CloseError::Storage(error)) => {
            Err(RequestError::from(error).for_page(&request, &state))
        }
        Err(error) => Err(RequestError::bad_input(error.to_string()).for_page(&request, &state)),
    }
}
