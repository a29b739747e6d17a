//! The login and logout forms.
//!
//! A sign-in is checked in this order, the cheap checks first: the host, the form's one-time
//! token (its nonce cookie, issued at most 30 minutes ago and never used before), the backoff
//! of the address and of the user ([`crate::web::throttle`]), then the password, by argon2,
//! at most [`MAX_VERIFICATIONS`] at once (each takes about 19 MiB for a moment). A success
//! opens a session: a random id in the cookie, its digest in the `sessions` table.

use std::time::{Duration, Instant};

use actix_web::cookie::{Cookie, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, get, post, web};
use askama::Template;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::storage::{StorageError, sessions, to_db_time};
use crate::web::access::{self, SignedIn, cookie, host_allowed};
use crate::web::error::RequestError;
use crate::web::session::{
    self, COOKIE, LOGIN_FORM_SECONDS, id_digest, login_nonce_is_fresh, new_login_nonce,
    new_session_id,
};
use crate::web::startup::AppState;
use crate::web::throttle::{Throttle, describe_wait};

/// The login nonce cookie that binds the login form's CSRF token before a session exists.
const LOGIN_COOKIE: &str = "postback_ledger_login";

/// Password checks that may run at once: argon2 takes about 19 MiB each while it runs.
pub const MAX_VERIFICATIONS: usize = 2;
/// How long a sign-in waits for its turn before it is asked to try again.
const VERIFICATION_QUEUE_WAIT: Duration = Duration::from_secs(10);

/// What sign-ins share: the backoff and the verifications' turns.
pub struct LoginGuard {
    pub throttle: Throttle,
    verifications: Semaphore,
}

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard {
            throttle: Throttle::default(),
            verifications: Semaphore::new(MAX_VERIFICATIONS),
        }
    }
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
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
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
) -> HttpResponse {
    let nonce = new_login_nonce(now_unix());
    let page = LoginPage {
        csrf: state.access.key.csrf_token(&nonce),
        error,
    };
    let mut response = access::html(status, &page);
    let _ = response.add_cookie(&cookie(
        request,
        &state.access,
        LOGIN_COOKIE,
        nonce,
        CookieDuration::seconds(LOGIN_FORM_SECONDS),
    ));
    response
}

#[get("/login")]
pub async fn login_page(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !host_allowed(&request, &state.access) {
        return access::foreign_host().error_response();
    }
    login_form(&request, &state, StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

/// "Too many attempts": the form again, with when to retry, and `Retry-After`.
fn too_many(request: &HttpRequest, state: &AppState, wait: Duration) -> HttpResponse {
    let mut response = login_form(
        request,
        state,
        StatusCode::TOO_MANY_REQUESTS,
        Some(format!(
            "Too many sign-in attempts. Retry in {}.",
            describe_wait(wait)
        )),
    );
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(value) = header::HeaderValue::from_str(&seconds.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[post("/login")]
pub async fn login(
    request: HttpRequest,
    form: web::Form<LoginForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !host_allowed(&request, &state.access) {
        return access::foreign_host().error_response();
    }
    let key = &state.access.key;
    let form_ok = request.cookie(LOGIN_COOKIE).is_some_and(|nonce| {
        let nonce = nonce.value();
        login_nonce_is_fresh(nonce, now_unix())
            && key.csrf_matches(nonce, &form.csrf)
            && state.login.throttle.use_form(
                nonce,
                Duration::from_secs(LOGIN_FORM_SECONDS as u64 + 60),
                Instant::now(),
            )
    });
    if !form_ok {
        return login_form(
            &request,
            &state,
            StatusCode::FORBIDDEN,
            Some("The form expired or was already sent; please sign in again.".into()),
        );
    }
    let Some(login) = state.access.login.clone() else {
        return RequestError::not_found("no login is configured").error_response();
    };
    let form = form.into_inner();
    let address = access::client_addr(&request, &state.access);
    let user_ok = bool::from(form.username.as_bytes().ct_eq(login.username.as_bytes()));
    // Only the configured user is counted per user: other names are wrong whatever the password.
    let user = user_ok.then_some(login.username.as_str());
    let wait = state.login.throttle.wait(address, user, Instant::now());
    if !wait.is_zero() {
        tracing::warn!(client = %address, "sign-in refused: too many failures");
        return too_many(&request, &state, wait);
    }
    let Ok(Ok(turn)) =
        tokio::time::timeout(VERIFICATION_QUEUE_WAIT, state.login.verifications.acquire()).await
    else {
        let mut response = login_form(
            &request,
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            Some("Too many sign-ins at once. Retry in a few seconds.".into()),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return response;
    };
    // argon2 is deliberately slow: off the async workers. Always run it, so a wrong username
    // takes as long as a wrong password.
    let hash = login.password_hash.clone();
    let password_ok =
        web::block(move || crate::intake::auth::password_matches(&form.password, &hash))
            .await
            .unwrap_or(false);
    drop(turn);
    if !(user_ok && password_ok) {
        state.login.throttle.failed(address, user, Instant::now());
        tracing::warn!(client = %address, "failed sign-in");
        return login_form(
            &request,
            &state,
            StatusCode::UNAUTHORIZED,
            Some("Wrong username or password.".into()),
        );
    }
    state.login.throttle.succeeded(address, &login.username);
    let id = new_session_id();
    let now = chrono::Utc::now();
    let (db, digest, username, fingerprint) = (
        state.db.clone(),
        id_digest(&id),
        login.username.clone(),
        state.access.login_fingerprint.clone().unwrap_or_default(),
    );
    let opened = web::block(move || -> Result<(), StorageError> {
        let mut conn = db.conn()?;
        sessions::delete_expired(&mut conn, to_db_time(now))?;
        sessions::insert(
            &mut conn,
            &sessions::NewSession {
                id_digest: &digest,
                username: &username,
                login_fingerprint: &fingerprint,
                created_at: to_db_time(now),
                expires_at: to_db_time(now + chrono::Duration::seconds(session::LIFETIME_SECONDS)),
            },
        )?;
        Ok(())
    })
    .await;
    if !matches!(opened, Ok(Ok(()))) {
        tracing::error!("a session could not be stored");
        let mut response = login_form(
            &request,
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            Some("The session could not be stored just now; try again in a moment.".into()),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return response;
    }
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .finish();
    let _ = response.add_cookie(&cookie(
        &request,
        &state.access,
        COOKIE,
        id,
        CookieDuration::seconds(session::LIFETIME_SECONDS),
    ));
    let _ = response.add_removal_cookie(&Cookie::build(LOGIN_COOKIE, "").path("/").finish());
    response
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// Ends the session: its row is deleted, so the cookie opens nothing any more, wherever a copy
/// of it is.
#[post("/logout")]
pub async fn logout(
    request: HttpRequest,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let session = request.extensions().get::<SignedIn>().cloned();
    let Some(session) = session else {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login"))
            .finish();
    };
    if !state.access.key.csrf_matches(&session.cookie, &form.csrf) {
        return RequestError::forbidden("the form's CSRF token does not match this session")
            .error_response();
    }
    let (db, digest) = (state.db.clone(), id_digest(&session.cookie));
    let ended = web::block(move || -> Result<usize, StorageError> {
        Ok(sessions::delete(&mut *db.conn()?, &digest)?)
    })
    .await;
    if !matches!(ended, Ok(Ok(_))) {
        return RequestError::unavailable(
            "the session could not be ended just now; try again in a moment",
        )
        .error_response();
    }
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .finish();
    let _ = response.add_removal_cookie(&Cookie::build(COOKIE, "").path("/").finish());
    response
}
