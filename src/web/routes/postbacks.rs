//! `/postbacks/{source}`: authenticate, understand, store, and only then answer success.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::event::Postback;
use crate::intake::auth::{AuthConfig, AuthRequest, strip_query_param};
use crate::intake::delivery::{RawRequest, understand};
use crate::ledger::writer::WriteError;
use crate::storage::auth_failures::{self, NewAuthFailure};
use crate::storage::to_db_time;
use crate::web::startup::AppState;

/// The answer's headers naming the stored delivery, read back by the request log and `send-test`.
pub const DELIVERY_ID_HEADER: &str = "x-delivery-id";
pub const OUTCOME_HEADER: &str = "x-delivery-outcome";

pub async fn receive(
    request: HttpRequest,
    source: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(receiver) = state.sources.get(source.as_str()) else {
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body(format!("no source named `{source}`"));
    };
    let now = state.clock.now();
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
    let peer = request
        .peer_addr()
        .map(|address| address.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let auth_request = AuthRequest {
        peer,
        headers: &headers,
        query_pairs: &query_pairs,
        body: &body,
    };
    let client_ip = match receiver.policy.verify(&auth_request, now) {
        Ok(verified) => verified.client_ip,
        Err(failure) => {
            let client_ip = receiver.policy.client_ip(&auth_request).to_string();
            tracing::warn!(source = %source, client = %client_ip, check = failure.check(), "postback refused");
            crate::telemetry::metrics::auth_failure(&source, failure.check());
            let (db, source, method, check) = (
                state.db.clone(),
                source.into_inner(),
                request.method().to_string(),
                failure.check(),
            );
            // Best effort: a refusal is answered whether or not it could be recorded.
            let _ = web::block(move || {
                let mut conn = db.conn()?;
                auth_failures::record(
                    &mut conn,
                    &NewAuthFailure {
                        occurred_at: to_db_time(now),
                        source: &source,
                        client_addr: Some(&client_ip),
                        failed_check: check,
                        method: &method,
                    },
                )
                .map_err(crate::storage::StorageError::from)
            })
            .await;
            return error_response(&state, StatusCode::UNAUTHORIZED);
        }
    };
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
        let secrets = secrets_of(&receiver.source.auth);
        tracing::debug!(
            source = %source,
            method = %delivery.method,
            query = %redact(&delivery.query, &secrets),
            body = %redact(&String::from_utf8_lossy(&delivery.body), &secrets),
            "postback payload"
        );
    }
    match state.writer.store(delivery).await {
        Ok(stored) => {
            crate::telemetry::metrics::delivery(&source, stored.outcome.as_str());
            tracing::debug!(source = %source, delivery_id = stored.delivery_id, outcome = stored.outcome.as_str(), "postback stored");
            HttpResponse::Ok()
                .content_type("text/plain")
                .insert_header((DELIVERY_ID_HEADER, stored.delivery_id.to_string()))
                .insert_header((OUTCOME_HEADER, stored.outcome.as_str()))
                .body(state.responses.success.clone())
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
            error_response(&state, StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

fn error_response(state: &AppState, status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain")
        .body(state.responses.error.clone())
}

/// The literal secrets a source accepts (hashed `sha256:` values cannot leak and are skipped).
fn secrets_of(auth: &AuthConfig) -> Vec<&str> {
    auth.query_values
        .iter()
        .chain(&auth.header_values)
        .chain(&auth.hmac_secrets)
        .chain(&auth.standard_webhooks_secrets)
        .map(String::as_str)
        .filter(|secret| !secret.is_empty() && !secret.starts_with("sha256:"))
        .collect()
}

/// What a debug log line may show of a payload: the secret query parameter is already stripped;
/// any secret value found anywhere else (a header value pasted into the body, say) is masked, and
/// the text is cut short so one log line never carries a whole large payload.
fn redact(text: &str, secrets: &[&str]) -> String {
    const MAX_CHARS: usize = 2_048;
    let mut shown = text.to_owned();
    for secret in secrets {
        shown = shown.replace(secret, "[redacted]");
        // A bearer token is also sent without its scheme word.
        if let Some(token) = secret
            .strip_prefix("Bearer ")
            .filter(|token| !token.is_empty())
        {
            shown = shown.replace(token, "[redacted]");
        }
    }
    if shown.chars().count() > MAX_CHARS {
        let cut: String = shown.chars().take(MAX_CHARS).collect();
        format!("{cut}… ({} bytes in all)", text.len())
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_masks_secrets_and_bearer_tokens_and_cuts_long_text() {
        let shown = redact(
            "a=ed7e46f&b=s3cret&c=Bearer s3cret",
            &["ed7e46f", "Bearer s3cret"],
        );
        assert_eq!(shown, "a=[redacted]&b=[redacted]&c=[redacted]");
        let long = "x".repeat(5_000);
        assert!(redact(&long, &[]).len() < 2_100);
    }
}
