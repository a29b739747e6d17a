//! The statement page: per month and brand, tracked, modified, reversed, net and cleared payout
//! per currency, with subtotals and the year's totals.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::{error_page, read};
use crate::read::statement::{self as model, Period, Statement, StatementQuery};
use crate::storage::to_db_time;
use crate::web::access::Chrome;
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
    query: web::Query<StatementQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let period = match Period::parse(&query, to_db_time(state.clock.now())) {
        Ok(period) => period,
        Err(message) => return error_page(&request, &state, StatusCode::BAD_REQUEST, message),
    };
    let statement = match read(&request, &state, move |conn| model::read(conn, period)).await {
        Ok(statement) => statement,
        Err(response) => return response,
    };
    let tests_param = if period.include_tests {
        "&include_tests=true"
    } else {
        ""
    };
    let chrome = Chrome::new(&request, &state.access, "statement");
    chrome.respond(
        &request,
        &StatementPage {
            chrome: Chrome::new(&request, &state.access, "statement"),
            query: format!("year={}{tests_param}", period.year),
            tests_param,
            statement,
        },
    )
}
