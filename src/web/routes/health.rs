//! `/healthz` (the process runs) and `/readyz` (the database answers).

use actix_web::{HttpResponse, get, web};

use crate::web::error::RequestError;
use crate::web::startup::AppState;

#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, RequestError> {
    let db = state.db.clone();
    match web::block(move || db.ping()).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().content_type("text/plain").body("ready")),
        Ok(Err(error)) => Err(RequestError::unavailable(format!("not ready: {error}"))),
        Err(_) => Err(RequestError::unavailable(
            "not ready: the check did not run",
        )),
    }
}
