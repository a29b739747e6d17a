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
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
