//! Limits on the request: a long URL is 414 and large headers 431, checked before any work; a
//! body is read under a size limit (413) and a time limit for the whole of it (408).

use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;

use crate::web::error::RequestError;

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
            .into_response(RequestError::with_status(status, message).error_response())
            .map_into_right_body()),
        None => Ok(next.call(request).await?.map_into_left_body()),
    }
}

/// Why a request's body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefusal {
    /// Larger than the limit (said by `Content-Length`, or found while reading).
    TooLarge,
    /// Not all there within the time allowed for the whole body.
    TooSlow,
    /// The stream broke (a bad chunked encoding, a dropped connection).
    Broken,
}

impl BodyRefusal {
    pub fn status(self) -> StatusCode {
        match self {
            BodyRefusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyRefusal::TooSlow => StatusCode::REQUEST_TIMEOUT,
            BodyRefusal::Broken => StatusCode::BAD_REQUEST,
        }
    }

    pub fn message(self, max_bytes: usize, within: std::time::Duration) -> String {
        match self {
            BodyRefusal::TooLarge => format!("the body is larger than {max_bytes} bytes"),
            BodyRefusal::TooSlow => format!(
                "the body did not arrive within {} seconds",
                within.as_secs()
            ),
            BodyRefusal::Broken => "the body could not be read".to_owned(),
        }
    }
}

/// Reads a whole body of at most `max_bytes` within `within` (counted from now, for the body
/// as a whole: a client sending a byte now and then is cut off all the same).
pub async fn read_body(
    request: &actix_web::HttpRequest,
    payload: actix_web::web::Payload,
    max_bytes: usize,
    within: std::time::Duration,
) -> Result<actix_web::web::Bytes, BodyRefusal> {
    let declared = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_bytes as u64) {
        return Err(BodyRefusal::TooLarge);
    }
    match tokio::time::timeout(within, payload.to_bytes_limited(max_bytes)).await {
        Err(_) => Err(BodyRefusal::TooSlow),
        Ok(Err(_)) => Err(BodyRefusal::TooLarge),
        Ok(Ok(Err(_))) => Err(BodyRefusal::Broken),
        Ok(Ok(Ok(body))) => Ok(body),
    }
}
