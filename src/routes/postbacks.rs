//! `/postbacks/{source}`: authenticate, understand, store, and only then answer success.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::{AuthRequest, strip_query_param};
use crate::delivery::{RawRequest, understand};
use crate::startup::AppState;
use crate::storage::auth_failures::{self, NewAuthFailure};
use crate::storage::to_db_time;
use crate::writer::WriteError;

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
    let query_pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
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
    let stored_query = match receiver.policy.secret_query_param() {
        Some(param) => strip_query_param(query, param),
        None => query.to_owned(),
    };
    let content_type = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let delivery = understand(
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
    match state.writer.store(delivery).await {
        Ok(stored) => {
            tracing::info!(source = %source, delivery_id = stored.delivery_id, outcome = stored.outcome.as_str(), "postback stored");
            HttpResponse::Ok()
                .content_type("text/plain")
                .insert_header(("X-Delivery-Id", stored.delivery_id.to_string()))
                .insert_header(("X-Delivery-Outcome", stored.outcome.as_str()))
                .body(state.responses.success.clone())
        }
        Err(error) => {
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
