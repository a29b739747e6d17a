//! Closing a month: its statement is stored as it stands, each row sealed with a hash of the
//! facts behind it, and never changes afterwards; later facts for it land in the first open
//! month as adjustments (see `domain::book::Book::place`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::book::{ended_days_ago, month_bounds, month_of, next_month, parse_month};
use crate::storage::closed_months::{self, ClosedMonth};
use crate::storage::{self, AnyConnection, Database, StorageError, statement, to_db_time};

#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    #[error("`{0}` is not a month like 2026-11")]
    NotAMonth(String),
    #[error("{0} has not ended yet in {1}: a month is closed once it is over")]
    NotEnded(String, String),
    #[error("{0} is already closed")]
    AlreadyClosed(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<diesel::result::Error> for CloseError {
    fn from(error: diesel::result::Error) -> Self {
        CloseError::Storage(StorageError::Query(error))
    }
}

/// Closes `month` at `now` in `zone`: its rows as they stand, sealed. Returns how many rows.
pub fn close_month(
    conn: &mut AnyConnection,
    month: &str,
    zone: Tz,
    now: DateTime<Utc>,
    closed_by: &str,
) -> Result<usize, CloseError> {
    let month = month.trim();
    if parse_month(month).is_none() {
        return Err(CloseError::NotAMonth(month.to_owned()));
    }
    if !ended_days_ago(month, now, zone, 0) {
        return Err(CloseError::NotEnded(
            month.to_owned(),
            zone.name().to_owned(),
        ));
    }
    storage::write_transaction(conn, |conn| {
        closed_months::lock_for_closing(conn).map_err(StorageError::from)?;
        if closed_months::find(conn, month)
            .map_err(StorageError::from)?
            .is_some()
        {
            return Err(CloseError::AlreadyClosed(month.to_owned()));
        }
        let facts = statement::facts_of_month(conn, month).map_err(StorageError::from)?;
        let rows = statement::rows_from_facts(month, &facts);
        closed_months::insert(
            conn,
            &ClosedMonth {
                month: month.to_owned(),
                time_zone: zone.name().to_owned(),
                closed_at: to_db_time(now),
                closed_by: closed_by.to_owned(),
            },
            &rows,
        )
        .map_err(StorageError::from)?;
        Ok(rows.len())
    })
}

/// The months `close_after_days` closes at `now`: every open month up to the last one that
/// ended `days` days ago, from the earliest with a fact (empty months too, so a late fact never
/// lands in a past month that was left open).
pub fn due(
    conn: &mut AnyConnection,
    zone: Tz,
    now: DateTime<Utc>,
    days: u32,
) -> Result<Vec<String>, StorageError> {
    let mut last = month_of(now, zone);
    while !ended_days_ago(&last, now, zone, days) {
        let Some((start, _)) = month_bounds(&last, zone) else {
            return Ok(Vec::new());
        };
        last = month_of(start - chrono::Duration::seconds(1), zone);
    }
    let closed: Vec<String> = closed_months::all(conn)?
        .into_iter()
        .map(|month| month.month)
        .collect();
    let Some(first) = closed_months::earliest_fact_month(conn)? else {
        return Ok(Vec::new());
    };
    let mut due = Vec::new();
    let mut month = first;
    while month <= last && parse_month(&month).is_some() {
        if !closed.contains(&month) {
            due.push(month.clone());
        }
        month = next_month(&month);
    }
    Ok(due)
}

/// Closes what is due, every hour (the first time at start), for `[statement] close_after_days`.
pub fn close_periodically(db: Database, zone: Tz, days: u32, clock: crate::domain::clock::Clock) {
    actix_web::rt::spawn(async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(60 * 60));
        loop {
            every_hour.tick().await;
            let db = db.clone();
            let now = clock.now();
            let closing =
                tokio::task::spawn_blocking(move || -> Result<Vec<String>, CloseError> {
                    let mut conn = db.conn()?;
                    let mut closed = Vec::new();
                    for month in due(&mut conn, zone, now, days)? {
                        match close_month(&mut conn, &month, zone, now, "close_after_days") {
                            Ok(_) | Err(CloseError::AlreadyClosed(_)) => closed.push(month),
                            Err(error) => return Err(error),
                        }
                    }
                    Ok(closed)
                });
            match closing.await {
                Ok(Ok(months)) if !months.is_empty() => {
                    tracing::info!(?months, "months closed (close_after_days)")
                }
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::error!(error = %error, "closing months failed"),
                Err(error) => tracing::error!(error = %error, "closing months did not run"),
            }
        }
    });
}
