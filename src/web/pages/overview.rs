//! The overview page: payout per bucket and currency, the chart, activity, attention.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::bucket::Bucket;
use crate::read::chart;
use crate::read::filter::flag;
use crate::read::overview::{self as overview_model, Options, Overview};
use crate::storage::to_db_time;
use crate::web::access::Chrome;
use crate::web::blocking::with_conn;
use crate::web::error::{ForCaller, RequestError};
use crate::web::query::Page;
use crate::web::startup::AppState;

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
    Page(options): Page<Options>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let now = to_db_time(state.clock.now());
    let sources = source_names(&state);
    let overview = with_conn(&state, move |conn| {
        overview_model::read(conn, now, options.days, options.include_tests, &sources)
    })
    .await
    .for_page(&request, &state)?;
    let page = OverviewPage {
        chrome: Chrome::new(&request, &state.access, "overview"),
        overview,
        width: chart::WIDTH,
        height: chart::HEIGHT,
        plot: chart::HEIGHT - 20,
        deadline_days: overview_model::DEADLINE_DAYS,
    };
    Ok(page.chrome.respond(&request, &page))
}
