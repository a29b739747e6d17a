//! One log line per request with a request id, and the request-duration metric.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

use crate::web::routes::postbacks::{DELIVERY_ID_HEADER, OUTCOME_HEADER};

/// One log line per request: id, method, path (never the query: it may hold a secret), status,
/// duration and, for a stored postback, its delivery id and outcome. The id is also returned as
/// `X-Request-Id`.
pub async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = format!("{:016x}", rand::random::<u64>());
    let method = request.method().to_string();
    let path = request.path().to_owned();
    let result = next.call(request).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let route = response
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned());
            crate::telemetry::metrics::request(&method, &route, status, started.elapsed());
            // A stored postback's line names its delivery, to be found in the inbox.
            let header = |name: &str| response.headers().get(name)?.to_str().ok();
            let (delivery_id, outcome) = (header(DELIVERY_ID_HEADER), header(OUTCOME_HEADER));
            tracing::info!(
                request_id,
                method,
                path,
                status,
                elapsed_ms,
                delivery_id,
                outcome,
                "request"
            );
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static("x-request-id"), value);
            }
            Ok(response)
        }
        Err(error) => {
            tracing::warn!(request_id, method, path, elapsed_ms, error = %error, "request failed");
            Err(error)
        }
    }
}
