//! The overview page: payout per bucket and currency, the chart, activity, attention.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use crate::domain::bucket::Bucket;
use crate::read::chart;
use crate::read::overview::{self as overview_model, Options, Overview};
use crate::storage::to_db_time;
use crate::web::access::Chrome;
use crate::web::blocking::with_conn;
use crate::web::error::{ForCaller, RequestError};
use crate::web::query::Page;
use crate::web::startup::AppState;

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    overview: Overview,
    width: i64,
    height: i64,
    plot: i64,
    left: i64,
    deadline_days: u64,
}

pub fn source_names(state: &AppState) -> Vec<String> {
    state.sources.names()
}

#[get("/")]
pub async fn overview(
    request: HttpRequest,
    Page(options): Page<Options>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let now = to_db_time(state.clock.now());
    let zone = state.statement.time_zone;
    let sources = source_names(&state);
    let overview = with_conn(&state, move |conn| {
        overview_model::read(conn, now, zone, options, &sources)
    })
    .await
    .for_page(&request, &state)?;
    let page = OverviewPage {
        chrome: Chrome::new(&request, &state.access, "overview"),
        overview,
        width: chart::WIDTH,
        height: chart::HEIGHT,
        plot: chart::BASE,
        left: chart::LEFT,
        deadline_days: overview_model::DEADLINE_DAYS,
    };
    Ok(page.chrome.respond(&request, &page))
}
