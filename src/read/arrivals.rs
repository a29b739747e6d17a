//! Is anything arriving? Per source, its latest delivery and how it ended: what the setup page
//! shows while the partner presses "Test" in impact.com.

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::outcome::Outcome;
use crate::read::format::{self, utc};
use crate::storage::{AnyConnection, StorageError, activity};

#[derive(Debug, Clone, Serialize)]
pub struct Arrival {
    pub delivery_id: i64,
    /// ISO 8601, UTC.
    pub received_at: String,
    #[serde(skip)]
    pub received_shown: String,
    /// `12 s ago`.
    pub ago: String,
    pub method: String,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub subject_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceArrival {
    pub source: String,
    /// None: nothing has arrived yet.
    pub latest: Option<Arrival>,
}

/// The latest delivery of each of `sources`, as of `now`.
pub fn latest(
    conn: &mut AnyConnection,
    sources: &[String],
    now: NaiveDateTime,
    zone: Tz,
) -> Result<Vec<SourceArrival>, StorageError> {
    let mut arrivals = Vec::with_capacity(sources.len());
    for source in sources {
        let latest = activity::latest(conn, source)?.map(|row| Arrival {
            delivery_id: row.id,
            received_at: utc(row.received_at),
            received_shown: format::time(row.received_at, zone),
            ago: format::ago(row.received_at, now),
            method: row.method,
            outcome: row.outcome,
            reason: row.reason,
            subject_id: row.subject_id,
        });
        arrivals.push(SourceArrival {
            source: source.clone(),
            latest,
        });
    }
    Ok(arrivals)
}
