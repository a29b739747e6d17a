//! `GET /metrics`: the recorder's text, to this machine or a bearer token.

use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::telemetry::metrics::queue_depth;
use crate::web::startup::AppState;

#[get("/metrics")]
pub async fn render(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(refusal) = crate::web::access::metrics_refusal(&request, &state.access) {
        return refusal;
    }
    queue_depth(state.writer.queue_depth());
    // The open differences of the newest run, whichever instance ran it.
    if let Ok(open) = crate::web::blocking::with_conn(&state, |conn| {
        crate::read::reconciliation::open_now(conn, &["impact"])
    })
    .await
    {
        for (network, count) in open {
            crate::telemetry::metrics::open_differences(&network, count);
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
