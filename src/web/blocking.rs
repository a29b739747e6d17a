//! Database work off the async workers: diesel blocks, so it runs on the blocking pool.

use actix_web::web;

use crate::storage::{AnyConnection, StorageError};
use crate::web::error::RequestError;
use crate::web::startup::AppState;

/// Runs `work` on the blocking pool with a pooled connection; a failure is the 503
/// [`RequestError`] (its cause logged and counted there).
pub async fn with_conn<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, StorageError> + Send + 'static,
) -> Result<T, RequestError> {
    let db = state.db.clone();
    Ok(web::block(move || work(&mut *db.conn()?)).await??)
}
