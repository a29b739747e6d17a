//! The CSV downloads, streamed: chunks are read on the blocking pool and sent through a bounded
//! channel into the response, so a large export never sits in memory whole.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use serde::Deserialize;

use crate::read::export::{ActionsExport, Export, LedgerExport, StatementExport};
use crate::read::filter::{ListQuery, date_range, include_tests};
use crate::read::statement::{Period, StatementQuery};
use crate::storage::Database;
use crate::storage::action_query::ActionFilter;
use crate::web::startup::AppState;

/// Chunks read ahead of a slow client: a little overlap, bounded memory.
const READ_AHEAD: usize = 2;

/// A chunk, the end of the export (None), or the error that stopped it.
type Message = Result<Option<Bytes>, actix_web::Error>;

/// One step of `export` on the blocking pool, with a connection taken for that step only (a slow
/// client must not hold a pooled connection).
async fn step<E: Export>(db: Database, mut export: E) -> Result<(E, Option<Vec<u8>>), String> {
    let result = web::block(move || {
        let chunk = db.conn().and_then(|mut conn| export.next_chunk(&mut conn));
        chunk.map(|chunk| (export, chunk))
    })
    .await;
    match result {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(error)) => Err(error.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

fn unavailable(message: &str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, "5"))
        .content_type("text/plain; charset=utf-8")
        .body(message.to_owned())
}

fn bad_request(message: String) -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type("text/plain; charset=utf-8")
        .body(message)
}

/// Answers with `export` as a CSV attachment named `filename`. The first chunk is read before
/// answering, so a database that does not answer is a 503 rather than an empty file; a failure
/// later ends the response with an error (the client sees a broken download, never a short file
/// that looks whole).
async fn stream_csv<E: Export>(state: &AppState, filename: String, export: E) -> HttpResponse {
    let db = state.db.clone();
    let (export, first) = match step(db.clone(), export).await {
        Ok(started) => started,
        Err(error) => {
            crate::telemetry::metrics::database_error("read");
            tracing::error!(error = %error, "an export could not start");
            return unavailable("The ledger could not be read just now; try again in a moment.");
        }
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Message>(READ_AHEAD);
    if let Some(first) = first {
        let _ = sender.try_send(Ok(Some(Bytes::from(first))));
    }
    actix_web::rt::spawn(async move {
        let mut export = export;
        loop {
            let (message, next) = match step(db.clone(), export).await {
                Ok((next, Some(chunk))) => (Ok(Some(Bytes::from(chunk))), Some(next)),
                Ok((_, None)) => (Ok(None), None),
                Err(error) => {
                    crate::telemetry::metrics::database_error("read");
                    tracing::error!(error = %error, "an export stopped part way");
                    let error =
                        actix_web::error::ErrorServiceUnavailable("the export stopped part way");
                    (Err(error), None)
                }
            };
            // An empty chunk (the last page was exactly full) says nothing; a closed channel
            // means the client went away: stop reading.
            let empty = matches!(&message, Ok(Some(bytes)) if bytes.is_empty());
            if !empty && sender.send(message).await.is_err() {
                return;
            }
            match next {
                Some(next) => export = next,
                None => return,
            }
        }
    });
    let body = futures_util::stream::unfold(Some(receiver), |receiver| async move {
        let mut receiver = receiver?;
        match receiver.recv().await {
            Some(Ok(Some(chunk))) => Some((Ok(chunk), Some(receiver))),
            Some(Ok(None)) => None,
            Some(Err(error)) => Some((Err(error), None)),
            // The reading task ended without saying the export is complete (it panicked):
            // break the download rather than end it as if whole.
            None => Some((
                Err(actix_web::error::ErrorInternalServerError(
                    "the export stopped part way",
                )),
                None,
            )),
        }
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(body)
}

fn today(state: &AppState) -> String {
    state.clock.now().format("%Y-%m-%d").to_string()
}

/// Every action matching the same filters as `/actions` (all statuses unless `status` says),
/// in the list's order.
#[get("/actions.csv")]
pub async fn actions(query: web::Query<ListQuery>, state: web::Data<AppState>) -> HttpResponse {
    let filter = match ActionFilter::parse(&query, None) {
        Ok(filter) => filter,
        Err(error) => return bad_request(error.to_string()),
    };
    let export = ActionsExport::new(filter, state.clock.now());
    stream_csv(&state, format!("actions-{}.csv", today(&state)), export).await
}

#[derive(Debug, Deserialize)]
pub struct LedgerQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub include_tests: Option<String>,
}

/// Every ledger entry, recorded from `from` to `to` (dates, both optional, `to` inclusive).
#[get("/ledger.csv")]
pub async fn ledger(query: web::Query<LedgerQuery>, state: web::Data<AppState>) -> HttpResponse {
    let (from, until) = match date_range(&query.from, &query.to) {
        Ok(range) => range,
        Err(error) => return bad_request(error.to_string()),
    };
    let include_tests = match include_tests(&query.include_tests) {
        Ok(include) => include,
        Err(error) => return bad_request(error.to_string()),
    };
    let export = LedgerExport::new(from, until, include_tests);
    stream_csv(&state, format!("ledger-{}.csv", today(&state)), export).await
}

/// The statement's rows for `year` (default: this year).
#[get("/statement.csv")]
pub async fn statement(
    query: web::Query<StatementQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let period = match Period::parse(&query, crate::storage::to_db_time(state.clock.now())) {
        Ok(period) => period,
        Err(message) => return bad_request(message),
    };
    let filename = format!("statement-{}.csv", period.year);
    stream_csv(&state, filename, StatementExport::new(period)).await
}
