//! The statement page: per month and brand, tracked, modified, reversed, net and cleared payout
//! per currency, with subtotals and the year's totals.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

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
}

#[get("/statement")]
pub async fn statement(
    request: HttpRequest,
    Page(period): Page<Period>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let statement = with_conn(&state, move |conn| model::read(conn, period))
        .await
        .for_page(&request, &state)?;
    let tests_param = if period.include_tests {
        "&include_tests=true"
    } else {
        ""
    };
    let chrome = Chrome::new(&request, &state.access, "statement");
    Ok(chrome.respond(
        &request,
        &StatementPage {
            chrome: Chrome::new(&request, &state.access, "statement"),
            query: format!("year={}{tests_param}", period.year),
            tests_param,
            statement,
        },
    ))
}
