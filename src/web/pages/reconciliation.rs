//! `/reconciliation`: the runs of the cross-check against the network's own records, one run's
//! differences with filters and links to the actions, and the button that fills the ledger from
//! the network's records (a form, CSRF-checked like the others).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{CsrfForm, Pager, Position, check_form, urlencoding};
use crate::domain::cross_check::{DifferenceKind, Resolution, RunStatus};
use crate::ledger::reconciliation::{self, FillError};
use crate::read::reconciliation::{self as model, DifferenceView, RunView, RunsPage};
use crate::web::access::Chrome;
use crate::web::blocking::with_conn;
use crate::web::error::{ForCaller, RequestError};
use crate::web::query::Page;
use crate::web::routes::cross_check::{DifferenceQuery, DifferenceQueryText, RunsQuery, run_id};
use crate::web::startup::AppState;

#[derive(Template)]
#[template(path = "reconciliation.html")]
struct RunsTemplate {
    chrome: Chrome,
    page: RunsPage,
}

#[get("/reconciliation")]
pub async fn runs_page(
    request: HttpRequest,
    Page(query): Page<RunsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let zone = state.statement.time_zone;
    let page = with_conn(&state, move |conn| {
        model::runs_page(conn, query.before, query.limit, zone)
    })
    .await
    .for_page(&request, &state)?;
    let page = RunsTemplate {
        chrome: Chrome::new(&request, &state.access, "reconciliation"),
        page,
    };
    // The page's own chrome: its token is bound to the cookie this response sets.
    Ok(page.chrome.respond(&request, &page))
}

/// What the last fill did, passed back by its redirect.
#[derive(Deserialize)]
struct Notice {
    filled: Option<String>,
}

#[derive(Template)]
#[template(path = "reconciliation_run.html")]
struct RunTemplate {
    chrome: Chrome,
    run: RunView,
    differences: Vec<DifferenceView>,
    kinds: &'static [DifferenceKind],
    kind: String,
    currency: String,
    state: String,
    action_id: String,
    pager: Pager,
    notice: Option<String>,
    can_fill: bool,
}

fn action_link(action_id: &str) -> String {
    format!("/actions/{}", urlencoding(action_id))
}

#[get("/reconciliation/{id}")]
pub async fn run_page(
    request: HttpRequest,
    id: web::Path<String>,
    Page(query): Page<DifferenceQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let id = run_id(&id).for_page(&request, &state)?;
    let filter = query.filter.clone();
    let (limit, zone) = (query.limit, state.statement.time_zone);
    let position = Position::new(filter.after.is_some(), query.text.start, limit);
    let (start, back) = (position.start, position.back);
    let found = with_conn(&state, move |conn| {
        let Some(run) = model::run(conn, id, zone)? else {
            return Ok(None);
        };
        let page = model::differences_page(conn, id, &filter, limit)?;
        let previous = match back {
            Some(back) => model::after_for_offset(conn, id, &filter, back)?,
            None => None,
        };
        Ok(Some((run, page, previous)))
    })
    .await
    .and_then(|found| {
        found.ok_or_else(|| RequestError::not_found("No reconciliation run has this number."))
    })
    .for_page(&request, &state)?;
    let (run, page, previous) = found;
    let link = |after: Option<i64>, start: Option<i64>| {
        let mut link: DifferenceQueryText = query.text.clone();
        link.after = after.map(|after| after.to_string());
        link.start = start;
        format!(
            "/reconciliation/{}?{}",
            run.id,
            serde_urlencoded::to_string(&link).unwrap_or_default()
        )
    };
    let rows = page.differences.len() as i64;
    let pager = Pager {
        first: start.map(|start| start + 1),
        rows,
        total: page.total,
        next: page
            .next_after
            .map(|after| link(Some(after), start.map(|start| start + rows))),
        previous: position.previous(previous, link),
    };
    let notice = web::Query::<Notice>::from_query(request.query_string())
        .ok()
        .and_then(|notice| notice.into_inner().filled)
        .map(|count| format!("Filled {count} difference(s) from the network's records."));
    let text = &query.text;
    let page = RunTemplate {
        chrome: Chrome::new(&request, &state.access, "reconciliation"),
        can_fill: run.status == RunStatus::Completed && run.fillable > 0,
        run,
        differences: page.differences,
        kinds: DifferenceKind::ALL,
        kind: text.kind.clone().unwrap_or_default(),
        currency: text.currency.clone().unwrap_or_default(),
        state: text.state.clone().unwrap_or_default(),
        action_id: text.action_id.clone().unwrap_or_default(),
        pager,
        notice,
    };
    Ok(page.chrome.respond(&request, &page))
}

/// Fills the run's explainable differences, then shows the run.
#[post("/reconciliation/{id}/fill")]
pub async fn fill(
    request: HttpRequest,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    check_form(&request, &state, &form.csrf)?;
    let id = run_id(&id).for_page(&request, &state)?;
    let backend = state.db.backend();
    let testing = state.testing.clone();
    let now = state.clock.now();
    let filled = with_conn(&state, move |conn| {
        Ok(reconciliation::fill(conn, backend, id, &testing, now))
    })
    .await
    .for_page(&request, &state)?;
    let filled = match filled {
        Ok(filled) => filled,
        Err(FillError::Storage(error)) => {
            return Err(RequestError::from(error).for_page(&request, &state));
        }
        Err(error @ FillError::NoSuchRun(_)) => {
            return Err(RequestError::not_found(error.to_string()).for_page(&request, &state));
        }
        Err(error) => {
            return Err(RequestError::bad_input(error.to_string()).for_page(&request, &state));
        }
    };
    tracing::info!(
        run_id = id,
        filled = filled.differences,
        open = filled.open,
        "filled from the dashboard"
    );
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/reconciliation/{id}?filled={}", filled.differences),
        ))
        .finish())
}

impl RunTemplate {
    fn link(&self, action_id: &str) -> String {
        action_link(action_id)
    }

    fn open_word(&self) -> &'static str {
        Resolution::Open.as_str()
    }
}
