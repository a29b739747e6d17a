//! Who may read the ledger and scrape `/metrics`, the pages' frame and CSRF tokens, the
//! stylesheet and script.
//!
//! A reader is either this machine or a signed-in session:
//!
//! - every reader request must name one of the dashboard's hosts in its `Host` header (the
//!   loopback names, the listen address and `[dashboard] hosts`), so a page elsewhere that
//!   rebinds its own name to this machine's address reads nothing;
//! - without a login, a loopback client reads when the listener itself is bound to loopback
//!   (`[dashboard] trust_loopback`, default true) and the request carries no header a proxy or
//!   forwarder adds; a server listening beyond loopback answers readers only with the login;
//! - with a login, every reader signs in; the session is a row of the `sessions` table.

use std::net::{IpAddr, SocketAddr};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, get, web};
use askama::Template;
use ipnet::IpNet;

use crate::config::{DashboardLogin, host_name};
use crate::intake::auth::{BearerTokens, forwarded_client};
use crate::storage::{StorageError, sessions, to_db_time};
use crate::web::error::RequestError;
use crate::web::session::{COOKIE, SessionKey, id_digest};
use crate::web::startup::AppState;

pub struct ReaderAccess {
    pub login: Option<DashboardLogin>,
    /// [`crate::web::session::login_fingerprint`] of `login`.
    pub login_fingerprint: Option<String>,
    pub key: SessionKey,
    /// Who may scrape `/metrics` from elsewhere: its counts tell how much a partner earns.
    pub metrics_tokens: BearerTokens,
    /// Lowercase host names (no port) the dashboard answers to.
    pub hosts: Vec<String>,
    /// Loopback clients read without a login: the listener is bound to loopback and
    /// `[dashboard] trust_loopback` is not false.
    pub trust_loopback: bool,
    /// `[dashboard] secure_cookies`.
    pub secure_cookies: bool,
    /// `[dashboard] trusted_proxies`: their `X-Forwarded-For` and `X-Forwarded-Proto` count.
    pub trusted_proxies: Vec<IpNet>,
    /// Where the server listens, for the refusals that explain themselves.
    pub listen: SocketAddr,
}

/// Headers a proxy, a load balancer or a CDN adds: any of them means the visitor may be someone
/// else than the loopback peer.
pub const FORWARDING_HEADERS: &[&str] = &[
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-server",
    "x-real-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "x-original-forwarded-for",
    "true-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "via",
];

/// The signed-in reader of this request, put in its extensions by [`require_reader`].
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub username: String,
    /// The session cookie's value, which the forms' CSRF tokens are bound to.
    pub cookie: String,
}

/// Why a request is not a reader's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReader {
    /// Its `Host` is not one of the dashboard's.
    ForeignHost,
    /// No login is configured and it is not from this machine (or loopback is not trusted).
    NotLocal,
    /// A login is configured and it has no live session.
    SignedOut,
    /// The sessions could not be read.
    Unavailable,
}

/// Whether the `Host` header names one of the dashboard's hosts (port aside).
pub fn host_allowed(request: &HttpRequest, access: &ReaderAccess) -> bool {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        });
    host.and_then(host_name)
        .is_some_and(|host| access.hosts.contains(&host))
}

/// A request straight from this machine to a loopback listener that trusts it: a loopback peer,
/// one of the dashboard's hosts, and no header a proxy or forwarder adds.
pub fn is_local(request: &HttpRequest, access: &ReaderAccess) -> bool {
    let loopback = request
        .peer_addr()
        .is_some_and(|address| address.ip().to_canonical().is_loopback());
    let forwarded = FORWARDING_HEADERS
        .iter()
        .any(|name| request.headers().contains_key(*name));
    access.trust_loopback && loopback && !forwarded && host_allowed(request, access)
}

/// The visitor's address: the peer, or behind a trusted proxy the address it forwarded.
pub fn client_addr(request: &HttpRequest, access: &ReaderAccess) -> IpAddr {
    let peer = request
        .peer_addr()
        .map(|address| address.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    forwarded_client(
        peer,
        request
            .headers()
            .get_all("x-forwarded-for")
            .map(|value| value.as_bytes()),
        &access.trusted_proxies,
    )
}

/// Whether cookies get the `Secure` flag: configured, or said by a trusted proxy
/// (`X-Forwarded-Proto: https`); never because any client said so.
pub fn secure_cookies(request: &HttpRequest, access: &ReaderAccess) -> bool {
    if access.secure_cookies {
        return true;
    }
    let from_proxy = request.peer_addr().is_some_and(|address| {
        let peer = address.ip().to_canonical();
        access.trusted_proxies.iter().any(|net| net.contains(&peer))
    });
    from_proxy
        && request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|proto| {
                proto
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("https"))
            })
}

/// The live session the request's cookie names, if any: Ok(None) when there is none (or it
/// expired, was ended, or belongs to a login that is no longer configured).
pub async fn signed_in(
    request: &HttpRequest,
    state: &AppState,
) -> Result<Option<SignedIn>, StorageError> {
    let (Some(login), Some(fingerprint)) = (&state.access.login, &state.access.login_fingerprint)
    else {
        return Ok(None);
    };
    let Some(cookie) = request.cookie(COOKIE) else {
        return Ok(None);
    };
    let value = cookie.value().to_owned();
    if value.is_empty() || value.len() > 128 {
        return Ok(None);
    }
    let digest = id_digest(&value);
    let db = state.db.clone();
    let now = to_db_time(chrono::Utc::now());
    let row = web::block(move || -> Result<_, StorageError> {
        Ok(sessions::find_live(&mut *db.conn()?, &digest, now)?)
    })
    .await
    .map_err(|_| StorageError::Corrupt("the session read did not run".into()))??;
    Ok(row
        .filter(|row| row.username == login.username && &row.login_fingerprint == fingerprint)
        .map(|row| SignedIn {
            username: row.username,
            cookie: value,
        }))
}

/// Who is reading: this machine (None) or a session; or why the request is not a reader's.
pub async fn reader(
    request: &HttpRequest,
    state: &AppState,
) -> Result<Option<SignedIn>, NotReader> {
    let access = &state.access;
    if !host_allowed(request, access) {
        return Err(NotReader::ForeignHost);
    }
    match &access.login {
        None if is_local(request, access) => Ok(None),
        None => Err(NotReader::NotLocal),
        Some(_) => match signed_in(request, state).await {
            Ok(Some(session)) => Ok(Some(session)),
            Ok(None) => Err(NotReader::SignedOut),
            Err(error) => {
                tracing::error!(error = %error, "the sessions could not be read");
                Err(NotReader::Unavailable)
            }
        },
    }
}

/// What a request naming a host this dashboard is not is answered (the DNS-rebinding guard).
pub fn foreign_host() -> RequestError {
    RequestError::forbidden(
        "this dashboard does not answer to that host name; add it to [dashboard] hosts if it is this server's",
    )
}

/// What a refused reader is answered.
fn refusal(request: &ServiceRequest, state: &AppState, why: NotReader) -> HttpResponse {
    let api = request.path().starts_with("/api/");
    let error = match why {
        NotReader::ForeignHost => foreign_host(),
        NotReader::NotLocal if !state.access.trust_loopback => RequestError::forbidden(format!(
            "this server listens on {} (beyond loopback) or does not trust loopback clients: the ledger answers only to a login ([dashboard] username and password_hash)",
            state.access.listen
        )),
        NotReader::NotLocal => RequestError::forbidden(
            "the ledger answers only to this machine until a login is configured ([dashboard] username and password_hash)",
        ),
        NotReader::SignedOut if api => {
            RequestError::unauthorized("sign in at /login first").for_api()
        }
        NotReader::SignedOut => {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish();
        }
        NotReader::Unavailable => RequestError::unavailable(
            "the sessions could not be read just now; try again in a moment",
        ),
    };
    error.error_response()
}

/// Guards the dashboard, the JSON API and the exports; a signed-in reader is put in the
/// request's extensions for the pages' frame and forms.
pub async fn require_reader(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let Some(state) = state else {
        return Ok(request
            .into_response(HttpResponse::InternalServerError().finish())
            .map_into_right_body());
    };
    match reader(request.request(), &state).await {
        Ok(session) => {
            if let Some(session) = session {
                request.extensions_mut().insert(session);
            }
            Ok(next.call(request).await?.map_into_left_body())
        }
        Err(why) => {
            let response = refusal(&request, &state, why);
            Ok(request.into_response(response).map_into_right_body())
        }
    }
}

/// Why `/metrics` is not for this request, if it is not: this machine may read it (as a reader
/// may: see [`is_local`]), others need a configured bearer token.
pub fn metrics_refusal(request: &HttpRequest, access: &ReaderAccess) -> Option<HttpResponse> {
    if is_local(request, access) {
        return None;
    }
    if access.metrics_tokens.is_empty() {
        return Some(RequestError::forbidden(
            "the metrics answer only to this machine (on a loopback listener) until a token is configured ([metrics] bearer_tokens)",
        ).error_response());
    }
    let presented = request.headers().get(header::AUTHORIZATION);
    if presented.is_some_and(|value| access.metrics_tokens.accepts(value.as_bytes())) {
        return None;
    }
    let mut response =
        RequestError::unauthorized("a bearer token from [metrics] bearer_tokens is needed")
            .error_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    Some(response)
}

/// Unicode's bidirectional controls: shown as text (`[U+202E]`) so that no stored value can
/// reorder what a page shows around it.
const BIDI_CONTROLS: &[char] = &[
    '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];

/// The page's text with every bidi control shown as its code point.
pub fn escape_bidi(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(BIDI_CONTROLS) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if BIDI_CONTROLS.contains(&c) {
            out.push_str(&format!("[U+{:04X}]", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A page as HTML: every page of the dashboard is answered through here.
pub fn html(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(escape_bidi(&body).into_owned()),
        Err(error) => {
            tracing::error!(error = %error, "a page did not render");
            HttpResponse::InternalServerError()
                .content_type("text/plain")
                .body("the page did not render")
        }
    }
}

/// A cookie of the dashboard's: HTTP only, same site, `Secure` as [`secure_cookies`] says.
pub fn cookie<'a>(
    request: &HttpRequest,
    access: &ReaderAccess,
    name: &'a str,
    value: String,
    max_age: CookieDuration,
) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure_cookies(request, access))
        .max_age(max_age)
        .finish()
}

pub struct LogoutForm {
    pub username: String,
    pub csrf: String,
}

/// The frame around every page: the navigation with the current section, the sign-out form, and
/// the CSRF token the page's own forms carry.
pub struct Chrome {
    pub section: &'static str,
    pub sign_out: Option<LogoutForm>,
    pub csrf: String,
    /// Set on the response when the token is bound to a fresh form cookie.
    form_cookie: Option<String>,
}

/// Binds forms without a login (loopback-only mode) to a random cookie, as the session does
/// when there is one.
const FORM_COOKIE: &str = "postback_ledger_form";

impl Chrome {
    pub fn new(request: &HttpRequest, access: &ReaderAccess, section: &'static str) -> Chrome {
        // Cloned out first: reading a cookie borrows the extensions mutably.
        let session = request.extensions().get::<SignedIn>().cloned();
        if let Some(session) = session {
            let csrf = access.key.csrf_token(&session.cookie);
            return Chrome {
                section,
                sign_out: Some(LogoutForm {
                    username: session.username,
                    csrf: csrf.clone(),
                }),
                csrf,
                form_cookie: None,
            };
        }
        let (nonce, fresh) = match request.cookie(FORM_COOKIE) {
            Some(cookie) => (cookie.value().to_owned(), false),
            None => (crate::intake::auth::generate_secret(), true),
        };
        Chrome {
            section,
            sign_out: None,
            csrf: access.key.csrf_token(&nonce),
            form_cookie: fresh.then_some(nonce),
        }
    }

    /// The page as HTML, setting the form cookie when the token needs one.
    pub fn respond(&self, request: &HttpRequest, page: &impl Template) -> HttpResponse {
        let mut response = html(StatusCode::OK, page);
        if let Some(nonce) = &self.form_cookie
            && let Some(state) = request.app_data::<web::Data<AppState>>()
        {
            let _ = response.add_cookie(&cookie(
                request,
                &state.access,
                FORM_COOKIE,
                nonce.clone(),
                CookieDuration::days(30),
            ));
        }
        response
    }
}

/// Whether a posted form's token belongs to this browser's session (or form cookie).
pub fn form_token_ok(request: &HttpRequest, access: &ReaderAccess, token: &str) -> bool {
    // Cloned out first: reading a cookie borrows the extensions mutably.
    let session = request.extensions().get::<SignedIn>().cloned();
    let bound = match session {
        Some(session) => Some(session.cookie),
        None if access.login.is_none() => request
            .cookie(FORM_COOKIE)
            .map(|cookie| cookie.value().to_owned()),
        None => None,
    };
    bound.is_some_and(|bound| access.key.csrf_matches(&bound, token))
}

#[get("/static/style.css")]
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../static/style.css"))
}

/// The pages' one script: optional niceties (live refresh), served from here under the strict CSP.
#[get("/static/live.js")]
pub async fn live_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../static/live.js"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_controls_are_shown_as_their_code_points() {
        assert_eq!(
            escape_bidi("abc\u{202E}fed\u{2066}x\u{200F}"),
            "abc[U+202E]fed[U+2066]x[U+200F]"
        );
        assert!(matches!(
            escape_bidi("plain é ü ✓"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
