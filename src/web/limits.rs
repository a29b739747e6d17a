//! Limits on the request head, checked before any work: a long URL is 414, large headers 431.

use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;

/// impact.com's longest GET templates stay far below this; browsers stop near 8 KiB as well.
pub const MAX_URI_BYTES: usize = 8 * 1024;
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

pub async fn limit_request_head(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let uri_bytes = request.uri().to_string().len();
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let refusal = if uri_bytes > MAX_URI_BYTES {
        Some((
            StatusCode::URI_TOO_LONG,
            format!("the URL is longer than {MAX_URI_BYTES} bytes"),
        ))
    } else if header_bytes > MAX_HEADER_BYTES {
        Some((
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the headers are larger than {MAX_HEADER_BYTES} bytes"),
        ))
    } else {
        None
    };
    match refusal {
        Some((status, message)) => Ok(request
            .into_response(
                HttpResponse::build(status)
                    .content_type("text/plain")
                    .body(message),
            )
            .map_into_right_body()),
        None => Ok(next.call(request).await?.map_into_left_body()),
    }
}
