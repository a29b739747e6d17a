//! Retention: raw payloads of old deliveries are forgotten; what the ledger needs is kept.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::storage::{Database, StorageError, deliveries, to_db_time};

/// Rows pruned per transaction: short transactions keep SQLite's single writer (and the
/// receiver's group commit) from waiting behind one long update.
const CHUNK: i64 = 1_000;

/// Reads an age such as `90d`, `12h`, `30m` or `45s`.
pub fn parse_age(text: &str) -> Result<chrono::Duration, String> {
    crate::domain::clock::parse_duration(text)
}

/// Prunes the raw payloads of deliveries first received before `cutoff`; returns how many.
pub fn prune(db: &Database, cutoff: DateTime<Utc>) -> Result<usize, StorageError> {
    let mut conn = db.conn()?;
    let (cutoff, now) = (to_db_time(cutoff), to_db_time(Utc::now()));
    let mut total = 0;
    loop {
        let pruned = deliveries::prune_raw(&mut conn, cutoff, now, CHUNK)?;
        total += pruned;
        if (pruned as i64) < CHUNK {
            break;
        }
    }
    crate::telemetry::metrics::pruned(total);
    Ok(total)
}

/// `[retention] raw_days`: prunes at start and then once a day, for as long as the server runs.
pub fn prune_daily(db: Database, days: u32) {
    actix_web::rt::spawn(async move {
        let mut every_day = tokio::time::interval(Duration::from_secs(24 * 60 * 60));
        loop {
            every_day.tick().await;
            let db = db.clone();
            let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
            match tokio::task::spawn_blocking(move || prune(&db, cutoff)).await {
                Ok(Ok(pruned)) => tracing::info!(pruned, days, "raw payloads pruned"),
                Ok(Err(error)) => {
                    crate::telemetry::metrics::database_error("prune");
                    tracing::error!(error = %error, "pruning raw payloads failed")
                }
                Err(error) => tracing::error!(error = %error, "pruning raw payloads did not run"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_with_their_unit() {
        assert_eq!(parse_age("90d").unwrap(), chrono::Duration::days(90));
        assert_eq!(parse_age("12h").unwrap(), chrono::Duration::hours(12));
        assert_eq!(parse_age("0s").unwrap(), chrono::Duration::zero());
        assert!(parse_age("90").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("9w").is_err());
    }
}
