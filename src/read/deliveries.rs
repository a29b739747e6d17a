//! A stored delivery as the deliveries log shows it, and pages of the log.

use serde::Serialize;

use crate::domain::event::SourceKind;
use crate::domain::outcome::Outcome;
use crate::read::format::utc;
use crate::storage::{AnyConnection, StorageError};

/// One delivery as the log shows it: the raw request (credentials were removed and secrets
/// masked before it was stored; `web::masking` masks it again as it is shown), how it ended,
/// and what it was about.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub id: i64,
    pub source: String,
    pub kind: SourceKind,
    pub received_at: String,
    pub last_received_at: String,
    pub times_received: i32,
    pub method: String,
    pub content_type: Option<String>,
    pub query: String,
    /// The body as text (invalid UTF-8 shown as �); null when there was none.
    pub body: Option<String>,
    pub client_addr: Option<String>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub warnings: Option<String>,
    /// The action, inquiry or other id it was about, when one was read.
    pub subject_id: Option<String>,
    pub pruned_at: Option<String>,
}

impl From<crate::storage::deliveries::Delivery> for DeliveryView {
    fn from(delivery: crate::storage::deliveries::Delivery) -> DeliveryView {
        DeliveryView {
            id: delivery.id,
            received_at: utc(delivery.received_at),
            last_received_at: utc(delivery.last_received_at),
            times_received: delivery.times_received,
            body: delivery
                .body
                .map(|body| String::from_utf8_lossy(&body).into_owned()),
            pruned_at: delivery.pruned_at.map(utc),
            source: delivery.source,
            kind: delivery.kind,
            method: delivery.method,
            content_type: delivery.content_type,
            query: delivery.query,
            client_addr: delivery.client_addr,
            outcome: delivery.outcome,
            reason: delivery.reason,
            warnings: delivery.warnings,
            subject_id: delivery.subject_id,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DeliveryPage {
    /// Newest first.
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `before` (with the same filters) for the next page; null on the last.
    pub next_before: Option<i64>,
}

/// A page of the deliveries log, newest first, keyset by delivery id.
pub fn delivery_page(
    conn: &mut AnyConnection,
    filter: &crate::read::log::LogFilter,
) -> Result<DeliveryPage, StorageError> {
    let mut rows = crate::storage::deliveries::recent(
        conn,
        filter.outcome,
        filter.source.as_deref(),
        filter.before,
        filter.limit + 1,
    )?;
    let more = rows.len() as i64 > filter.limit;
    rows.truncate(filter.limit as usize);
    Ok(DeliveryPage {
        next_before: rows.last().filter(|_| more).map(|last| last.id),
        deliveries: rows.into_iter().map(DeliveryView::from).collect(),
    })
}

pub fn delivery(conn: &mut AnyConnection, id: i64) -> Result<Option<DeliveryView>, StorageError> {
    Ok(crate::storage::deliveries::find(conn, id)?.map(DeliveryView::from))
}
