//! The CSV downloads, streamed: chunks are read on the blocking pool and sent through a bounded
//! channel into the response, so a large export never sits in memory whole. An error before the
//! first chunk is plain text (see [`RequestError`]): a spreadsheet has no use for JSON or a page.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};

use crate::read::export::{ActionsExport, Export, LedgerExport, StatementExport};
use crate::read::statement::Period;
use crate::storage::Database;
use crate::web::error::RequestError;
use crate::web::query::{ActionList, Csv, LedgerRange};
use crate::web::startup::AppState;

/// Chunks read ahead of a slow client: a little overlap, bounded memory.
const READ_AHEAD: usize = 2;

/// A chunk, the end of the export (None), or the error that stopped it.
type Message = Result<Option<Bytes>, actix_web::Error>;

/// One step of `export` on the blocking pool, with a connection taken for that step only (a slow
/// client must not hold a pooled connection).
/// A failure is the 503 [`RequestError`], its cause logged and counted there.
async fn step<E: Export>(
    db: Database,
    mut export: E,
) -> Result<(E, Option<Vec<u8>>), RequestError> {
    let chunk = web::block(move || {
        let chunk = db.conn().and_then(|mut conn| export.next_chunk(&mut conn));
        chunk.map(|chunk| (export, chunk))
    })
    .await??;
    Ok(chunk)
}

/// Answers with `export` as a CSV attachment named `filename`. The first chunk is read before
/// answering, so a database that does not answer is a 503 rather than an empty file; a failure
/// later ends the response with an error (the client sees a broken download, never a short file
/// that looks whole).
pub(crate) async fn stream_csv<E: Export>(
    state: &AppState,
    filename: String,
    export: E,
) -> Result<HttpResponse, RequestError> {
    let db = state.db.clone();
    let (export, first) = step(db.clone(), export).await?;
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
                Err(_) => {
                    // The cause is logged already; the client sees a broken download.
                    tracing::error!("an export stopped part way");
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
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(body))
}

fn today(state: &AppState) -> String {
    state.clock.now().format("%Y-%m-%d").to_string()
}

/// Every action matching the same filters as `/actions` (all statuses unless `status` says),
/// in the list's order.
#[get("/actions.csv")]
pub async fn actions(
    Csv(list): Csv<ActionList>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let export = ActionsExport::new(list.filter, state.clock.now());
    stream_csv(&state, format!("actions-{}.csv", today(&state)), export).await
}

/// Every ledger entry, recorded from `from` to `to` (dates, both optional, `to` inclusive).
#[get("/ledger.csv")]
pub async fn ledger(
    Csv(range): Csv<LedgerRange>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let export = LedgerExport::new(range.from, range.until, range.include_tests);
    stream_csv(&state, format!("ledger-{}.csv", today(&state)), export).await
}

/// The statement's rows for `year` (default: this year).
#[get("/statement.csv")]
pub async fn statement(
    Csv(period): Csv<Period>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let filename = format!("statement-{}.csv", period.year);
    let export = StatementExport::new(period, state.statement.time_zone, state.clock.now());
    stream_csv(&state, filename, export).await
}
