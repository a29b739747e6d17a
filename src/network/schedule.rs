//! `serve` runs the sync on its own every `[networks.impact] sync_every`, over the last
//! `lookback`: a thread that wakes now and then, and syncs when the newest run (of any instance,
//! read from the database) is older than `sync_every`. On PostgreSQL the sync's advisory lock
//! lets one instance at a time run it; the others find it busy, or find it done.

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::Settings;
use crate::domain::clock::Clock;
use crate::domain::cross_check::RunSource;
use crate::ledger::reconciliation::IMPACT;
use crate::network::sync::{SyncError, SyncOptions, sync_impact};
use crate::storage::{Database, StorageError, from_db_time, reconciliation_runs};

/// Keeps the schedule running; dropping it (the application ending) stops the thread at its next
/// wake.
pub struct Schedule {
    _alive: Arc<()>,
    pub thread: JoinHandle<()>,
}

/// How often the thread looks: a quarter of the interval, between 200 ms and 30 s.
fn tick(every: Duration) -> Duration {
    (every / 4).clamp(Duration::from_millis(200), Duration::from_secs(30))
}

/// Is a sync due at `now`: none yet, or the newest started `every` ago or more?
fn due(db: &Database, every: Duration, clock: &Clock) -> Result<bool, StorageError> {
    let mut conn = db.conn()?;
    let last = reconciliation_runs::last_started(&mut conn, IMPACT, RunSource::Api)?;
    let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX);
    Ok(last.is_none_or(|last| from_db_time(last) + every <= clock.now()))
}

/// Starts the schedule when `[networks.impact] sync_every` is set.
pub fn start(settings: &Settings, db: Database, clock: Clock) -> Option<Schedule> {
    let every = settings.networks.impact.as_ref()?.sync_every?;
    let settings = settings.clone();
    let alive = Arc::new(());
    let watch: Weak<()> = Arc::downgrade(&alive);
    let thread = std::thread::Builder::new()
        .name("cross-check".into())
        .spawn(move || {
            let apply = settings
                .networks
                .impact
                .as_ref()
                .is_some_and(|impact| impact.apply);
            let options = SyncOptions {
                apply,
                unless_started_within: Some(every),
                ..SyncOptions::default()
            };
            while watch.upgrade().is_some() {
                match due(&db, every, &clock) {
                    Ok(true) => {
                        let mut progress = |line: String| tracing::info!("cross-check: {line}");
                        match sync_impact(&db, &settings, &options, &clock, &mut progress) {
                            Ok(report) => tracing::info!(
                                run_id = report.run_id,
                                differences = report.differences,
                                open = report.open,
                                "cross-check against impact.com done"
                            ),
                            Err(SyncError::Busy | SyncError::NotDue) => {
                                tracing::debug!("cross-check: another instance is syncing")
                            }
                            // Already logged and alerted by the sync.
                            Err(_) => {}
                        }
                    }
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(error = %error, "cross-check: cannot tell whether a sync is due")
                    }
                }
                std::thread::sleep(tick(every));
            }
        })
        .expect("spawning the cross-check thread");
    Some(Schedule {
        _alive: alive,
        thread,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_looks_often_enough_but_not_constantly() {
        assert_eq!(tick(Duration::from_secs(86_400)), Duration::from_secs(30));
        assert_eq!(tick(Duration::from_secs(2)), Duration::from_millis(500));
        assert_eq!(tick(Duration::from_millis(100)), Duration::from_millis(200));
    }
}
