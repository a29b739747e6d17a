//! `/postbacks/{source}`: authenticate, understand, store, and only then answer success.
//!
//! In this order: the source and every credential that is not in the body (IP allowlist, query
//! secret, header) are checked before the body is read, so a stranger's slow or large body is
//! never waited for; the body is read under a size and a time limit; then the signatures; a
//! Standard Webhooks message already stored is answered as the duplicate it is; then the request
//! is understood, its secrets masked, and stored. An unknown source is answered as a failed
//! authentication (a scanner learns nothing), except to the dashboard's own readers.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use crate::domain::event::Postback;
use crate::intake::auth::{AuthRequest, strip_query_param};
use crate::intake::delivery::{RawRequest, understand};
use crate::ledger::writer::WriteError;
use crate::storage::{StorageError, to_db_time, webhook_messages};
use crate::web::error::RequestError;
use crate::web::limits::read_body;
use crate::web::startup::AppState;

/// The answer's headers naming the stored delivery, read back by the request log and `send-test`.
pub const DELIVERY_ID_HEADER: &str = "x-delivery-id";
pub const OUTCOME_HEADER: &str = "x-delivery-outcome";

/// The check name a request to a source that does not exist is counted under.
pub const UNKNOWN_SOURCE: &str = "unknown_source";

pub async fn receive(
    request: HttpRequest,
    source: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RequestError> {
    let now = state.clock.now();
    let peer = request
        .peer_addr()
        .map(|address| address.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let Some(receiver) = state.sources.get(source.as_str()) else {
        if crate::web::access::reader(&request, &state).await.is_ok() {
            return Err(RequestError::not_found(format!(
                "no source named `{source}`"
            )));
        }
        return Err(refused(
            &state,
            &request,
            now,
            &source,
            &peer.to_string(),
            UNKNOWN_SOURCE,
        ));
    };
    let query = request.query_string();
    // Only the secret parameter is checked: a GET postback's seventy other fields are decoded
    // once, by `understand`.
    let secret_param = receiver.policy.secret_query_param();
    let query_pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| Some(name.as_ref()) == secret_param)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let headers: Vec<(String, Vec<u8>)> = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.path(), |target| target.as_str());
    let mut auth_request = AuthRequest {
        peer,
        method: request.method().as_str(),
        target,
        headers: &headers,
        query_pairs: &query_pairs,
        body: &[],
    };
    let client_ip = match receiver.policy.verify_credentials(&auth_request) {
        Ok(verified) => verified.client_ip,
        Err(failure) => {
            let client = receiver.policy.client_ip(&auth_request).to_string();
            return Err(refused(
                &state,
                &request,
                now,
                &source,
                &client,
                failure.check(),
            ));
        }
    };
    let body = match read_body(&request, payload, state.max_body_bytes, state.body_timeout).await {
        Ok(body) => body,
        Err(refusal) => {
            tracing::warn!(source = %source, client = %client_ip, status = refusal.status().as_u16(), "postback body not read");
            let message = refusal.message(state.max_body_bytes, state.body_timeout);
            return Err(RequestError::with_status(refusal.status(), message).closing());
        }
    };
    auth_request.body = &body;
    if let Err(failure) = receiver.policy.verify_signatures(&auth_request, now) {
        return Err(refused(
            &state,
            &request,
            now,
            &source,
            &client_ip.to_string(),
            failure.check(),
        ));
    }
    // A Standard Webhooks message is the same message on each retry: once stored, it is not
    // stored again while a replay could still pass the timestamp check.
    let message = receiver
        .policy
        .webhook_message_id(&auth_request)
        .zip(receiver.policy.webhook_tolerance_seconds())
        .map(|(id, tolerance)| (hex::encode(Sha256::digest(id)), tolerance));
    if let Some((digest, tolerance)) = &message {
        match stored_message(&state, &source, digest, now, *tolerance).await {
            Ok(Some(delivery_id)) => {
                crate::telemetry::metrics::delivery(&source, "duplicate");
                tracing::info!(source = %source, delivery_id, "a Standard Webhooks message already stored; answered as a duplicate");
                return Ok(stored_answer(&state, delivery_id, "duplicate"));
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(source = %source, error = %error, "the webhook message ids could not be read; answered 503");
                return Err(not_stored(&state));
            }
        }
    }
    let stored_query = match secret_param {
        Some(param) => strip_query_param(query, param),
        None => query.to_owned(),
    };
    let content_type = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let mut delivery = understand(
        &receiver.source,
        RawRequest {
            method: request.method().as_str(),
            query: &stored_query,
            content_type,
            body: &body,
            client_addr: Some(client_ip.to_string()),
            received_at: now,
        },
    );
    if let Ok(Postback::Action(event)) = &delivery.understood {
        delivery.is_test = state.testing.marks(event);
    }
    crate::web::empty_postbacks::note(&state, &mut delivery).await;
    if tracing::enabled!(tracing::Level::DEBUG) {
        // What `understand` kept is already masked; the rule is applied once more to what is
        // logged, so this line can never show more than the stored delivery.
        let redactor = &receiver.source.redactor;
        tracing::debug!(
            source = %source,
            method = %delivery.method,
            query = %shorten(&redactor.query(&delivery.query)),
            body = %shorten(&redactor.text(&String::from_utf8_lossy(&delivery.body))),
            "postback payload"
        );
    }
    match state.writer.store(delivery).await {
        Ok(stored) => {
            crate::telemetry::metrics::delivery(&source, stored.outcome.as_str());
            tracing::debug!(source = %source, delivery_id = stored.delivery_id, outcome = stored.outcome.as_str(), "postback stored");
            if let Some((digest, tolerance)) = message {
                remember_message(&state, &source, digest, stored.delivery_id, now, tolerance).await;
            }
            Ok(stored_answer(
                &state,
                stored.delivery_id,
                stored.outcome.as_str(),
            ))
        }
        Err(error) => {
            crate::telemetry::metrics::delivery(&source, "not_stored");
            match &error {
                WriteError::QueueFull => {
                    tracing::warn!(source = %source, "write queue full; answered 503")
                }
                other => {
                    tracing::error!(source = %source, error = %other, "postback not stored; answered 503")
                }
            }
            Err(not_stored(&state))
        }
    }
}

/// A refusal: logged, counted (written later, in batches: see `ledger::refusals`), and
/// answered 401 with the configured error text, the same for an unknown source as for a failed
/// check. The body, if any is still coming, is not read: the connection is closed.
fn refused(
    state: &AppState,
    request: &HttpRequest,
    now: DateTime<Utc>,
    source: &str,
    client: &str,
    check: &'static str,
) -> RequestError {
    tracing::warn!(source = %source, client = %client, check, "postback refused");
    crate::telemetry::metrics::auth_failure(
        if check == UNKNOWN_SOURCE {
            "(unknown)"
        } else {
            source
        },
        check,
    );
    state
        .refusals
        .record(now, source, client, check, request.method().as_str());
    RequestError::unauthorized(state.responses.error.clone()).closing()
}

fn stored_answer(state: &AppState, delivery_id: i64, outcome: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain")
        .insert_header((DELIVERY_ID_HEADER, delivery_id.to_string()))
        .insert_header((OUTCOME_HEADER, outcome.to_owned()))
        .body(state.responses.success.clone())
}

/// How long a message id is remembered: a replay passes the timestamp check until the
/// tolerance has passed after its timestamp, which was up to the tolerance before it arrived
/// (a tolerance beyond a year is remembered for two years and a minute).
fn remembered_for(tolerance_seconds: u64) -> chrono::Duration {
    const YEAR: u64 = 365 * 24 * 3600;
    let tolerance = tolerance_seconds.min(YEAR) as i64;
    chrono::Duration::seconds(tolerance * 2 + 60)
}

async fn stored_message(
    state: &AppState,
    source: &str,
    digest: &str,
    now: DateTime<Utc>,
    tolerance_seconds: u64,
) -> Result<Option<i64>, StorageError> {
    let (db, source, digest) = (state.db.clone(), source.to_owned(), digest.to_owned());
    let since = to_db_time(now - remembered_for(tolerance_seconds));
    web::block(move || {
        Ok(webhook_messages::delivery_of(
            &mut *db.conn()?,
            &source,
            &digest,
            since,
        )?)
    })
    .await
    .map_err(|_| StorageError::Corrupt("the read did not run".into()))?
}

/// Best effort: the delivery is stored either way, and a replay of the same body would still
/// be a duplicate by its dedup key.
async fn remember_message(
    state: &AppState,
    source: &str,
    digest: String,
    delivery_id: i64,
    now: DateTime<Utc>,
    tolerance_seconds: u64,
) {
    let (db, source) = (state.db.clone(), source.to_owned());
    let forget_before = to_db_time(now - remembered_for(tolerance_seconds));
    let result = web::block(move || -> Result<(), StorageError> {
        Ok(webhook_messages::remember(
            &mut *db.conn()?,
            &source,
            &digest,
            delivery_id,
            to_db_time(now),
            forget_before,
        )?)
    })
    .await;
    if !matches!(result, Ok(Ok(()))) {
        tracing::warn!(
            delivery_id,
            "a Standard Webhooks message id could not be remembered"
        );
    }
}

/// Not stored: impact.com retries on a 5xx, told when by `Retry-After`.
fn not_stored(state: &AppState) -> RequestError {
    RequestError::unavailable(state.responses.error.clone())
}

/// At most this much of a payload goes into one debug log line.
const LOGGED_CHARS: usize = 2_048;

/// The text cut short so one log line never carries a whole large payload.
fn shorten(text: &str) -> String {
    if text.chars().count() > LOGGED_CHARS {
        let cut: String = text.chars().take(LOGGED_CHARS).collect();
        format!("{cut}… ({} bytes in all)", text.len())
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_payload_is_cut_in_the_log() {
        let long = "x".repeat(5_000);
        let shown = shorten(&long);
        assert!(
            shown.len() < 2_100 && shown.ends_with("(5000 bytes in all)"),
            "{shown}"
        );
        assert_eq!(shorten("short"), "short");
    }

    #[test]
    fn a_message_id_is_remembered_twice_the_tolerance_and_a_minute() {
        assert_eq!(remembered_for(300), chrono::Duration::seconds(660));
        assert!(remembered_for(u64::MAX) > chrono::Duration::days(365));
    }
}
