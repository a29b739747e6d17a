//! `/setup`: what to paste into impact.com for every source, each template with a copy button,
//! and per source the latest delivery and how it ended, refreshing itself (`/setup/status`), so
//! a partner pressing "Test" in impact.com sees the postback arrive.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use crate::intake::template::{self, Setup};
use crate::read::arrivals::{self, SourceArrival};
use crate::storage::to_db_time;
use crate::web::access::{Chrome, html};
use crate::web::blocking::with_conn;
use crate::web::error::{ForCaller, RequestError};
use crate::web::startup::AppState;

pub struct SourceSetup {
    pub setup: Setup,
    /// Lines of the GET URL and the body template, to size their boxes.
    pub get_rows: usize,
    pub body_rows: usize,
    pub arrival: SourceArrival,
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    chrome: Chrome,
    warning: Option<String>,
    sources: Vec<SourceSetup>,
}

/// Only the arrivals, for the setup page's live refresh.
#[derive(Template)]
#[template(path = "setup_status.html")]
struct StatusPage {
    sources: Vec<StatusItem>,
}

pub struct StatusItem {
    pub arrival: SourceArrival,
}

async fn read_arrivals(
    request: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<Vec<SourceArrival>, RequestError> {
    let now = to_db_time(state.clock.now());
    let (sources, zone) = (state.sources.names(), state.statement.time_zone);
    with_conn(state, move |conn| {
        arrivals::latest(conn, &sources, now, zone)
    })
    .await
    .for_page(request, state)
}

#[get("/setup")]
pub async fn setup(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let arrivals = read_arrivals(&request, &state).await?;
    let base = &state.public_base.url;
    let sources = state
        .sources
        .all()
        .iter()
        .zip(arrivals)
        .map(|(receiver, arrival)| {
            let setup = template::for_source(
                &receiver.source,
                base,
                &state.responses.success,
                &state.responses.error,
            );
            SourceSetup {
                // About 110 characters fit a line of the box at desktop width.
                get_rows: (setup.get_url.len() / 110 + 1).clamp(2, 8),
                body_rows: setup.post_body.lines().count() + 1,
                setup,
                arrival,
            }
        })
        .collect();
    let page = SetupPage {
        chrome: Chrome::new(&request, &state.access, "setup"),
        warning: state.public_base.warning.clone(),
        sources,
    };
    Ok(page.chrome.respond(&request, &page))
}

#[get("/setup/status")]
pub async fn status(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let sources = read_arrivals(&request, &state)
        .await?
        .into_iter()
        .map(|arrival| StatusItem { arrival })
        .collect();
    Ok(html(
        actix_web::http::StatusCode::OK,
        &StatusPage { sources },
    ))
}

/// The copy buttons; the page works without it (the templates can be selected by hand).
#[get("/static/setup.js")]
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../../static/setup.js"))
}
