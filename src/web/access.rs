//! Who may read the ledger (loopback clients only until a login is configured, then a signed
//! session) and scrape `/metrics`. Also the login and logout forms, the pages' frame and CSRF
//! tokens, the stylesheet.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::config::DashboardLogin;
use crate::intake::auth::BearerTokens;
use crate::web::session::{self, COOKIE, SessionKey};
use crate::web::startup::AppState;

/// The login nonce cookie that binds the login form's CSRF token before a session exists.
const LOGIN_COOKIE: &str = "postback_ledger_login";

pub struct ReaderAccess {
    pub login: Option<DashboardLogin>,
    pub key: SessionKey,
    /// Who may scrape `/metrics` from elsewhere: its counts tell how much a partner earns.
    pub metrics_tokens: BearerTokens,
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A request straight from this machine: a loopback peer and no proxy in between (a local
/// reverse proxy would make every visitor look local).
fn is_local(request: &HttpRequest) -> bool {
    let loopback = request
        .peer_addr()
        .is_some_and(|address| address.ip().is_loopback());
    let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|name| request.headers().contains_key(*name));
    loopback && !forwarded
}

/// The signed-in user, if the session cookie is valid.
fn session_user(request: &HttpRequest, access: &ReaderAccess) -> Option<(String, String)> {
    let cookie = request.cookie(COOKIE)?;
    let user = access.key.verify(cookie.value(), now_unix())?;
    Some((user, cookie.value().to_owned()))
}

/// Why `/metrics` is not for this request, if it is not: loopback clients may read it, others
/// need a configured bearer token.
pub fn metrics_refusal(request: &HttpRequest, access: &ReaderAccess) -> Option<HttpResponse> {
    if is_local(request) {
        return None;
    }
    if access.metrics_tokens.is_empty() {
        return Some(HttpResponse::Forbidden().content_type("text/plain").body(
            "the metrics answer only to this machine until a token is configured ([metrics] bearer_tokens)",
        ));
    }
    let presented = request.headers().get(header::AUTHORIZATION);
    if presented.is_some_and(|value| access.metrics_tokens.accepts(value.as_bytes())) {
        return None;
    }
    Some(
        HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .content_type("text/plain")
            .body("a bearer token from [metrics] bearer_tokens is needed"),
    )
}

/// Guards the dashboard, the JSON API and the exports.
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
    let allowed = match &state.access.login {
        None => is_local(request.request()),
        Some(_) => session_user(request.request(), &state.access).is_some(),
    };
    if allowed {
        return Ok(next.call(request).await?.map_into_left_body());
    }
    let api = request.path().starts_with("/api/");
    let refusal = match (&state.access.login, api) {
        (None, _) => HttpResponse::Forbidden().content_type("text/plain").body(
            "the ledger answers only to this machine until a login is configured ([dashboard] username and password_hash)",
        ),
        (Some(_), true) => HttpResponse::Unauthorized().json(serde_json::json!({ "error": "sign in at /login first" })),
        (Some(_), false) => HttpResponse::SeeOther().insert_header((header::LOCATION, "/login")).finish(),
    };
    Ok(request.into_response(refusal).map_into_right_body())
}

pub fn html(status: actix_web::http::StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(error) => {
            tracing::error!(error = %error, "a page did not render");
            HttpResponse::InternalServerError()
                .content_type("text/plain")
                .body("the page did not render")
        }
    }
}

fn cookie<'a>(
    request: &HttpRequest,
    name: &'a str,
    value: String,
    max_age: CookieDuration,
) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(request.connection_info().scheme() == "https")
        .max_age(max_age)
        .finish()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    error: Option<String>,
}

/// Shows the form with a fresh nonce cookie its CSRF token is bound to.
fn login_form(
    request: &HttpRequest,
    key: &SessionKey,
    status: actix_web::http::StatusCode,
    error: Option<String>,
) -> HttpResponse {
    let nonce = crate::intake::auth::generate_secret();
    let page = LoginPage {
        csrf: key.csrf_token(&nonce),
        error,
    };
    let mut response = html(status, &page);
    let _ = response.add_cookie(&cookie(
        request,
        LOGIN_COOKIE,
        nonce,
        CookieDuration::minutes(30),
    ));
    response
}

#[get("/login")]
pub async fn login_page(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    login_form(
        &request,
        &state.access.key,
        actix_web::http::StatusCode::OK,
        None,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

#[post("/login")]
pub async fn login(
    request: HttpRequest,
    form: web::Form<LoginForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let key = &state.access.key;
    let nonce_ok = request
        .cookie(LOGIN_COOKIE)
        .is_some_and(|nonce| key.csrf_matches(nonce.value(), &form.csrf));
    if !nonce_ok {
        return login_form(
            &request,
            key,
            actix_web::http::StatusCode::FORBIDDEN,
            Some("The form expired; please sign in again.".into()),
        );
    }
    let Some(login) = state.access.login.clone() else {
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("no login is configured");
    };
    let form = form.into_inner();
    let user_ok = bool::from(form.username.as_bytes().ct_eq(login.username.as_bytes()));
    // argon2 is deliberately slow: off the async workers. Always run it, so a wrong username
    // takes as long as a wrong password.
    let hash = login.password_hash.clone();
    let password_ok =
        web::block(move || crate::intake::auth::password_matches(&form.password, &hash))
            .await
            .unwrap_or(false);
    if !(user_ok && password_ok) {
        tracing::warn!(client = ?request.peer_addr(), "failed sign-in");
        return login_form(
            &request,
            key,
            actix_web::http::StatusCode::UNAUTHORIZED,
            Some("Wrong username or password.".into()),
        );
    }
    let session = key.issue(&login.username, now_unix());
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .finish();
    let _ = response.add_cookie(&cookie(
        &request,
        COOKIE,
        session,
        CookieDuration::seconds(session::LIFETIME_SECONDS),
    ));
    let _ = response.add_removal_cookie(&Cookie::build(LOGIN_COOKIE, "").path("/").finish());
    response
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

#[post("/logout")]
pub async fn logout(
    request: HttpRequest,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some((_, cookie_value)) = session_user(&request, &state.access) else {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login"))
            .finish();
    };
    if !state.access.key.csrf_matches(&cookie_value, &form.csrf) {
        return HttpResponse::Forbidden()
            .content_type("text/plain")
            .body("the form's CSRF token does not match this session");
    }
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .finish();
    let _ = response.add_removal_cookie(&Cookie::build(COOKIE, "").path("/").finish());
    response
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
        if let Some((username, cookie)) = session_user(request, access) {
            let csrf = access.key.csrf_token(&cookie);
            return Chrome {
                section,
                sign_out: Some(LogoutForm {
                    username,
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
        let mut response = html(actix_web::http::StatusCode::OK, page);
        if let Some(nonce) = &self.form_cookie {
            let _ = response.add_cookie(&cookie(
                request,
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
    let bound = match session_user(request, access) {
        Some((_, cookie)) => Some(cookie),
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
