//! The one error a request can end with: its status and message, answered in the caller's own
//! format (JSON for the API, the error page for the dashboard, plain text for CSV downloads and
//! postbacks).
//!
//! An error starts as plain text; `.for_api()` or `.for_page(…)` says who asked (the query
//! extractors in [`crate::web::query`] do it for bad parameters). A database failure becomes a
//! 503 whose cause is logged and counted here, never shown; every 503 carries `Retry-After`.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::storage::StorageError;
use crate::web::access::{self, Chrome, ReaderAccess};
use crate::web::startup::AppState;

/// Seconds a client is asked to wait before retrying a 503: long enough for a restarted
/// database or a drained write queue, short enough for impact.com's retries.
pub const RETRY_AFTER_SECONDS: &str = "5";

/// What a read that failed says, in every format: the cause stays in the log.
const UNAVAILABLE: &str = "The ledger could not be read just now; try again in a moment.";

#[derive(Debug, thiserror::Error)]
#[error("{status}: {message}")]
pub struct RequestError {
    status: StatusCode,
    message: Cow<'static, str>,
    format: Format,
    /// Close the connection after answering: a refused postback's body is never read.
    close: bool,
}

/// The body an error is answered with.
enum Format {
    /// The message as `text/plain`: CSV downloads, postbacks, and any caller not named.
    Text,
    /// `{"error": "…"}`: the JSON API.
    Json,
    /// The error page in the dashboard's frame (navigation, sign-out form).
    Page(Box<Chrome>),
}

impl fmt::Debug for Format {
    // The page's frame holds a CSRF token: not for logs.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Format::Text => "Text",
            Format::Json => "Json",
            Format::Page(_) => "Page",
        })
    }
}

impl RequestError {
    fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> RequestError {
        RequestError {
            status,
            message: message.into(),
            format: Format::Text,
            close: false,
        }
    }

    /// The status a refused body gets (413, 408, 400), with its message.
    pub fn with_status(status: StatusCode, message: impl Into<Cow<'static, str>>) -> RequestError {
        RequestError::new(status, message)
    }

    /// Close the connection after the answer, so a body still coming is never read.
    pub fn closing(mut self) -> RequestError {
        self.close = true;
        self
    }

    /// 400: what the caller sent cannot be understood; the message says what to change.
    pub fn bad_input(message: impl Into<Cow<'static, str>>) -> RequestError {
        RequestError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401: the caller did not prove who it is (a postback's credentials).
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> RequestError {
        RequestError::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403: the caller is known but may not do this (a form token from another browser).
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> RequestError {
        RequestError::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> RequestError {
        RequestError::new(StatusCode::NOT_FOUND, message)
    }

    /// 503: worth retrying in a moment (a postback's configured error text, a full queue).
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> RequestError {
        RequestError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// 500: a fault of this server, not of the request.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> RequestError {
        RequestError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Answer as the JSON API does.
    pub fn for_api(mut self) -> RequestError {
        self.format = Format::Json;
        self
    }

    /// Answer with the error page, framed for this visitor (their sign-out form and token).
    pub fn for_page(self, request: &HttpRequest, state: &AppState) -> RequestError {
        self.framed(request, &state.access)
    }

    fn framed(mut self, request: &HttpRequest, access: &ReaderAccess) -> RequestError {
        self.format = Format::Page(Box::new(Chrome::new(request, access, "")));
        self
    }

    /// The error page's heading.
    fn title(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "That query cannot be answered",
            StatusCode::FORBIDDEN => "Refused",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::SERVICE_UNAVAILABLE => "The database did not answer",
            other => other.canonical_reason().unwrap_or("Something went wrong"),
        }
    }
}

/// A database failure: logged with its cause and counted, answered as a 503 that names no
/// table, query or connection string.
impl From<StorageError> for RequestError {
    fn from(error: StorageError) -> RequestError {
        crate::telemetry::metrics::database_error("read");
        tracing::error!(error = %error, "a read failed");
        RequestError::unavailable(UNAVAILABLE)
    }
}

/// The blocking pool did not run (or finish) the work: the same 503, the database not blamed.
impl From<actix_web::error::BlockingError> for RequestError {
    fn from(error: actix_web::error::BlockingError) -> RequestError {
        tracing::error!(error = %error, "a read did not run");
        RequestError::unavailable(UNAVAILABLE)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: &'a Chrome,
    title: &'static str,
    message: &'a str,
}

impl ResponseError for RequestError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = match &self.format {
            Format::Text => HttpResponse::build(self.status)
                .content_type("text/plain; charset=utf-8")
                .body(self.message.clone().into_owned()),
            Format::Json => {
                HttpResponse::build(self.status).json(serde_json::json!({ "error": self.message }))
            }
            Format::Page(chrome) => access::html(
                self.status,
                &ErrorPage {
                    chrome,
                    title: self.title(),
                    message: &self.message,
                },
            ),
        };
        if self.close {
            response
                .head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

/// Says who asked, on a handler's result, so its error is answered in their format.
pub trait ForCaller<T> {
    fn for_api(self) -> Result<T, RequestError>;
    fn for_page(self, request: &HttpRequest, state: &AppState) -> Result<T, RequestError>;
}

impl<T> ForCaller<T> for Result<T, RequestError> {
    fn for_api(self) -> Result<T, RequestError> {
        self.map_err(RequestError::for_api)
    }

    fn for_page(self, request: &HttpRequest, state: &AppState) -> Result<T, RequestError> {
        self.map_err(|error| error.for_page(request, state))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;
    use actix_web::test::TestRequest;

    use super::*;
    use crate::intake::auth::BearerTokens;
    use crate::web::session::SessionKey;

    fn access() -> ReaderAccess {
        ReaderAccess {
            login: None,
            login_fingerprint: None,
            key: SessionKey::new(vec![7; 32]),
            metrics_tokens: BearerTokens::new(&[]).unwrap(),
            hosts: Vec::new(),
            trust_loopback: true,
            secure_cookies: false,
            trusted_proxies: Vec::new(),
            listen: "127.0.0.1:8080".parse().unwrap(),
        }
    }

    type Constructor = fn(&'static str) -> RequestError;

    /// The error in each format: text (the default), JSON, the page.
    fn in_every_format(make: impl Fn() -> RequestError) -> [(&'static str, RequestError); 3] {
        let request = TestRequest::default().to_http_request();
        [
            ("text", make()),
            ("json", make().for_api()),
            ("page", make().framed(&request, &access())),
        ]
    }

    /// Status, content type, `Retry-After` and body of the answer.
    fn answer(error: &RequestError) -> (u16, String, Option<String>, String) {
        let response = error.error_response();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        let content_type = header(header::CONTENT_TYPE).unwrap_or_default();
        let retry_after = header(header::RETRY_AFTER);
        let status = response.status().as_u16();
        let body = response.into_body().try_into_bytes().unwrap();
        (
            status,
            content_type,
            retry_after,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[test]
    fn each_constructor_names_its_status_and_only_a_503_asks_to_retry() {
        let constructors: [(Constructor, u16); 6] = [
            (RequestError::bad_input, 400),
            (RequestError::unauthorized, 401),
            (RequestError::forbidden, 403),
            (RequestError::not_found, 404),
            (RequestError::internal, 500),
            (RequestError::unavailable, 503),
        ];
        for (make, status) in constructors {
            for (format, error) in in_every_format(|| make("no")) {
                let (answered, _, retry_after, _) = answer(&error);
                assert_eq!(answered, status, "{format}");
                assert_eq!(error.status_code().as_u16(), status, "{format}");
                let expected = (status == 503).then(|| RETRY_AFTER_SECONDS.to_owned());
                assert_eq!(retry_after, expected, "{format} {status}");
            }
        }
    }

    #[test]
    fn each_format_carries_the_message_in_its_own_body() {
        let [(_, text), (_, json), (_, page)] =
            in_every_format(|| RequestError::bad_input("year must be a year like 2026, not `<x>`"));
        let (_, content_type, _, body) = answer(&text);
        assert_eq!(content_type, "text/plain; charset=utf-8");
        assert_eq!(body, "year must be a year like 2026, not `<x>`");

        let (_, content_type, _, body) = answer(&json);
        assert_eq!(content_type, "application/json");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({ "error": "year must be a year like 2026, not `<x>`" })
        );

        let (_, content_type, _, body) = answer(&page);
        assert_eq!(content_type, "text/html; charset=utf-8");
        assert!(
            body.contains("<h1>That query cannot be answered</h1>"),
            "{body}"
        );
        assert!(body.contains("not `&#60;x&#62;`"), "escaped: {body}");
        assert!(
            body.contains(r#"<nav aria-label="Sections" id="sections">"#),
            "the frame: {body}"
        );
    }

    #[test]
    fn the_page_is_titled_by_its_status() {
        for (make, title) in [
            (
                RequestError::bad_input as fn(&'static str) -> _,
                "That query cannot be answered",
            ),
            (RequestError::forbidden, "Refused"),
            (RequestError::not_found, "Not found"),
            (RequestError::unavailable, "The database did not answer"),
            (RequestError::unauthorized, "Unauthorized"),
        ] {
            let [_, _, (_, page)] = in_every_format(|| make("why"));
            let (_, _, _, body) = answer(&page);
            assert!(
                body.contains(&format!("<h1>{title}</h1>")),
                "{title}: {body}"
            );
        }
    }

    #[test]
    fn a_storage_failure_is_a_503_that_does_not_say_what_failed() {
        let failure = || StorageError::Corrupt("row 42 of secret_table".into());
        for (format, error) in in_every_format(|| RequestError::from(failure())) {
            let (status, _, retry_after, body) = answer(&error);
            assert_eq!(status, 503, "{format}");
            assert_eq!(
                retry_after.as_deref(),
                Some(RETRY_AFTER_SECONDS),
                "{format}"
            );
            assert!(body.contains(UNAVAILABLE), "{format}: {body}");
            assert!(!body.contains("secret_table"), "{format}: {body}");
        }
    }

    /// What `/postbacks/{source}` will need when it adopts this type: the configured text, plain.
    #[test]
    fn a_postback_refusal_or_outage_is_the_configured_text() {
        let (status, content_type, retry_after, body) =
            answer(&RequestError::unavailable(String::from("ERROR")));
        assert_eq!((status, retry_after.as_deref()), (503, Some("5")));
        assert_eq!(
            (content_type.as_str(), body.as_str()),
            ("text/plain; charset=utf-8", "ERROR")
        );
        let (status, _, retry_after, body) =
            answer(&RequestError::unauthorized(String::from("ERROR")));
        assert_eq!((status, retry_after, body.as_str()), (401, None, "ERROR"));
    }

    #[test]
    fn a_result_is_answered_for_its_caller_only_when_it_failed() {
        let ok: Result<u8, RequestError> = Ok(1);
        assert_eq!(ok.for_api().unwrap(), 1);
        let failed: Result<u8, RequestError> = Err(RequestError::not_found("no such action"));
        let (status, content_type, _, body) = answer(&failed.for_api().unwrap_err());
        assert_eq!((status, content_type.as_str()), (404, "application/json"));
        assert_eq!(body, r#"{"error":"no such action"}"#);
    }
}
