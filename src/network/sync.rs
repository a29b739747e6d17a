//! `sync impact`: a period of impact.com's Actions compared with the ledger as a reconciliation
//! run, window by window, chunk by chunk, and filled when asked. One sync at a time on
//! PostgreSQL (an advisory lock: several instances on a schedule never run it twice at once).

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Settings;
use crate::config::networks::Impact;
use crate::domain::clock::Clock;
use crate::domain::cross_check::{NetworkRecord, RunSource};
use crate::domain::money::Money;
use crate::ledger::reconciliation::{self, CHUNK, FillError, Filled, IMPACT, Period};
use crate::network::alert::{self, Alert};
use crate::network::impact::{ClientError, ImpactClient, MAX_DAYS_BACK, windows};
use crate::storage::reconciliation_runs::{self, Counts};
use crate::storage::{AnyConnection, Backend, Database, StorageError, reconciliation_differences};

/// Which period, and whether to fill.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub apply: bool,
    /// The schedule's: sync only if no sync started within this long (checked once the lock is
    /// held, so two instances that both found it due do not both run it).
    pub unless_started_within: Option<std::time::Duration>,
}

/// What a finished run found (and filled).
#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_id: i64,
    pub period: Period,
    pub counts: Counts,
    /// Differences found, every kind.
    pub differences: i64,
    /// Still open after the run (and the fill, if any).
    pub open: i64,
    /// Payout the network lists that the ledger does not have, per currency.
    pub missing: Vec<(String, Money)>,
    pub filled: Option<Filled>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(
        "impact.com is not configured: add [networks.impact] with account_sid (and auth_token, or POSTBACK_LEDGER_IMPACT_AUTH_TOKEN)"
    )]
    NotConfigured,
    #[error("{0}")]
    Period(String),
    #[error("another sync is running (on this database, from another instance or command)")]
    Busy,
    #[error("a sync started recently; not due yet")]
    NotDue,
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Fill(#[from] FillError),
}

impl From<diesel::result::Error> for SyncError {
    fn from(error: diesel::result::Error) -> Self {
        SyncError::Storage(StorageError::from(error))
    }
}

/// The days a sync checks: `--from`/`--to`, else the last `lookback` days up to today.
pub fn period_of(
    options: &SyncOptions,
    lookback_days: i64,
    today: NaiveDate,
) -> Result<Period, SyncError> {
    let last = options.to.unwrap_or(today);
    let first = options
        .from
        .unwrap_or_else(|| last - chrono::Duration::days(lookback_days.max(1) - 1));
    if first > last {
        return Err(SyncError::Period(format!(
            "--from {first} is after --to {last}"
        )));
    }
    let oldest = today - chrono::Duration::days(MAX_DAYS_BACK);
    if first < oldest {
        return Err(SyncError::Period(format!(
            "impact.com answers for the last three years only: --from must be on or after {oldest}"
        )));
    }
    Ok(Period::of_days(first, last))
}

/// Reads records into chunks and compares each full chunk with the ledger.
pub struct Comparer<'c> {
    conn: &'c mut AnyConnection,
    run_id: i64,
    period: Period,
    clock: Clock,
    chunk: Vec<NetworkRecord>,
    unreadable: i64,
    /// The first few reasons a record could not be read.
    pub reasons: Vec<String>,
    pub counts: Counts,
    pub differences: i64,
    pub error: Option<StorageError>,
}

impl<'c> Comparer<'c> {
    pub fn new(conn: &'c mut AnyConnection, run_id: i64, period: Period, clock: Clock) -> Self {
        Comparer {
            conn,
            run_id,
            period,
            clock,
            chunk: Vec::with_capacity(CHUNK),
            unreadable: 0,
            reasons: Vec::new(),
            counts: Counts::default(),
            differences: 0,
            error: None,
        }
    }

    pub fn conn(&mut self) -> &mut AnyConnection {
        self.conn
    }

    /// One record read (or why not); false once something failed.
    pub fn take(&mut self, record: Result<NetworkRecord, String>) -> bool {
        match record {
            Ok(record) => self.chunk.push(record),
            Err(reason) => {
                self.unreadable += 1;
                if self.reasons.len() < 5 {
                    self.reasons.push(reason);
                }
            }
        }
        if self.chunk.len() + self.unreadable as usize >= CHUNK {
            return self.flush();
        }
        self.error.is_none()
    }

    /// Compares what is waiting.
    pub fn flush(&mut self) -> bool {
        if self.error.is_some() {
            return false;
        }
        if self.chunk.is_empty() && self.unreadable == 0 {
            return true;
        }
        let records = std::mem::take(&mut self.chunk);
        match reconciliation::compare(
            self.conn,
            self.run_id,
            self.period,
            &records,
            self.unreadable,
            self.clock.now(),
        ) {
            Ok(compared) => {
                self.counts.add(compared.counts);
                self.differences += compared.differences as i64;
                self.unreadable = 0;
                true
            }
            Err(error) => {
                self.error = Some(error);
                false
            }
        }
    }

    /// What could not be read, for the run's message.
    pub fn message(&self) -> Option<String> {
        (!self.reasons.is_empty()).then(|| {
            format!(
                "{} record(s) could not be read, for example: {}",
                self.counts.unreadable,
                self.reasons.join("; ")
            )
        })
    }
}

/// Ends a run whose records were all compared: the ledger's actions the network did not list,
/// the alert when money is missing, the fill when asked.
#[allow(clippy::too_many_arguments)]
pub fn complete(
    conn: &mut AnyConnection,
    backend: Backend,
    settings: &Settings,
    network: &str,
    source: RunSource,
    comparer_counts: Counts,
    run_id: i64,
    period: Period,
    message: Option<String>,
    apply: bool,
    clock: &Clock,
) -> Result<RunReport, SyncError> {
    reconciliation::finish(conn, run_id, period, message.as_deref(), clock.now())?;
    crate::telemetry::metrics::reconciliation_run(network, source.as_str(), "completed");
    let missing = reconciliation::money_missing(conn, run_id)?;
    if !missing.is_empty() {
        alert::raise(&Alert::MoneyMissing {
            network: network.to_owned(),
            run_id,
            missing: missing.clone(),
        });
    }
    let filled = if apply {
        Some(reconciliation::fill(
            conn,
            backend,
            run_id,
            &settings.testing,
            clock.now(),
        )?)
    } else {
        None
    };
    let totals = reconciliation_differences::totals(conn, run_id)?;
    let open = reconciliation_differences::count_open(conn, run_id)?;
    crate::telemetry::metrics::open_differences(network, open);
    Ok(RunReport {
        run_id,
        period,
        counts: comparer_counts,
        differences: totals.iter().map(|total| total.differences).sum(),
        open,
        missing,
        filled,
    })
}

/// The configured impact.com section, or why there is none.
pub fn impact_of(settings: &Settings) -> Result<&Impact, SyncError> {
    settings
        .networks
        .impact
        .as_ref()
        .ok_or(SyncError::NotConfigured)
}

/// Runs a sync of impact.com; `progress` gets a line per window. A failure is also raised as an
/// alert (and recorded on the run, when one had started); a sync refused because another runs
/// is not a failure.
pub fn sync_impact(
    db: &Database,
    settings: &Settings,
    options: &SyncOptions,
    clock: &Clock,
    progress: &mut dyn FnMut(String),
) -> Result<RunReport, SyncError> {
    let prepared = (|| {
        let impact = impact_of(settings)?;
        let client = ImpactClient::new(impact)?;
        let period = period_of(options, impact.lookback_days, clock.now().date_naive())?;
        Ok::<_, SyncError>((client, period))
    })();
    let (client, period) = prepared.map_err(|error| failed(error, None))?;
    let mut lock = db.conn().map_err(|error| failed(error.into(), None))?;
    match reconciliation_runs::try_lock_sync(&mut lock) {
        Ok(true) => {}
        Ok(false) => return Err(SyncError::Busy),
        Err(error) => return Err(failed(StorageError::from(error).into(), None)),
    }
    let result = match recently_started(db, options, clock) {
        Ok(true) => Err(SyncError::NotDue),
        Ok(false) => locked_sync(db, settings, options, clock, progress, &client, period),
        Err(error) => Err(failed(error.into(), None)),
    };
    if let Err(error) = reconciliation_runs::unlock_sync(&mut lock) {
        tracing::warn!(error = %error, "the sync's lock was not released; it ends with its connection");
    }
    result
}

/// Did a sync start within `unless_started_within`?
fn recently_started(
    db: &Database,
    options: &SyncOptions,
    clock: &Clock,
) -> Result<bool, StorageError> {
    let Some(within) = options.unless_started_within else {
        return Ok(false);
    };
    let mut conn = db.conn()?;
    let last = reconciliation_runs::last_started(&mut conn, IMPACT, RunSource::Api)?;
    let within = chrono::Duration::from_std(within).unwrap_or(chrono::Duration::MAX);
    Ok(last.is_some_and(|last| crate::storage::from_db_time(last) + within > clock.now()))
}

/// Raises the alert of a failed sync and hands the error back.
fn failed(error: SyncError, run_id: Option<i64>) -> SyncError {
    alert::raise(&Alert::SyncFailed {
        network: IMPACT.to_owned(),
        run_id,
        message: error.to_string(),
    });
    error
}

fn stale_cutoff(backend: Backend, now: DateTime<Utc>) -> DateTime<Utc> {
    match backend {
        // The lock is held: no other sync can be running.
        Backend::Postgres => now,
        // No lock across processes: only a run far older than any sync is taken for dead.
        Backend::Sqlite => now - chrono::Duration::hours(6),
    }
}

fn locked_sync(
    db: &Database,
    settings: &Settings,
    options: &SyncOptions,
    clock: &Clock,
    progress: &mut dyn FnMut(String),
    client: &ImpactClient,
    period: Period,
) -> Result<RunReport, SyncError> {
    let now = clock.now();
    let reader = client.record_reader();
    let started = (|| {
        let mut conn = db.conn()?;
        reconciliation::abandon_stale(&mut conn, IMPACT, stale_cutoff(db.backend(), now), now)?;
        let run_id = reconciliation::start(
            &mut conn,
            IMPACT,
            RunSource::Api,
            period,
            &reader.complete_columns(),
            None,
            now,
        )?;
        Ok::<_, StorageError>((conn, run_id))
    })();
    let (mut conn, run_id) = started.map_err(|error| failed(error.into(), None))?;
    let mut comparer = Comparer::new(&mut conn, run_id, period, clock.clone());
    let mut failure: Option<SyncError> = None;
    for window in windows(period.first_day(), period.last_day()) {
        let before = comparer.counts.records;
        let mut each = |fields| {
            let record = reader.read(fields).map_err(|reason| reason.to_string());
            comparer.take(record)
        };
        let listed = client.list_actions(window, &mut each);
        comparer.flush();
        if let Some(error) = comparer.error.take() {
            failure = Some(error.into());
            break;
        }
        match listed {
            Ok(stats) => {
                let requests = Counts {
                    requests: i64::from(stats.requests),
                    ..Counts::default()
                };
                if let Err(error) =
                    reconciliation_runs::add_counts(comparer.conn(), run_id, requests)
                {
                    failure = Some(StorageError::from(error).into());
                    break;
                }
                comparer.counts.add(requests);
                progress(format!(
                    "{window}: {} page(s), {} action(s), {} difference(s) so far",
                    stats.pages,
                    comparer.counts.records - before,
                    comparer.differences
                ));
            }
            Err(error) => {
                failure = Some(error.into());
                break;
            }
        }
    }
    let counts = comparer.counts;
    let message = comparer.message();
    drop(comparer);
    if let Some(error) = failure {
        let text = error.to_string();
        if let Err(also) = reconciliation::fail(&mut conn, run_id, &text, clock.now()) {
            tracing::error!(run_id, error = %also, "a failed run could not be marked failed");
        }
        crate::telemetry::metrics::reconciliation_run(IMPACT, "api", "failed");
        return Err(failed(error, Some(run_id)));
    }
    complete(
        &mut conn,
        db.backend(),
        settings,
        IMPACT,
        RunSource::Api,
        counts,
        run_id,
        period,
        message,
        options.apply,
        clock,
    )
    .map_err(|error| failed(error, Some(run_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_period_is_the_lookback_unless_given_and_at_most_three_years_back() {
        let today = day("2026-12-10");
        let period = period_of(&SyncOptions::default(), 90, today).unwrap();
        assert_eq!(period.first_day(), day("2026-09-12"));
        assert_eq!(period.last_day(), today);
        let given = SyncOptions {
            from: Some(day("2026-01-01")),
            to: Some(day("2026-01-31")),
            ..SyncOptions::default()
        };
        let period = period_of(&given, 90, today).unwrap();
        assert_eq!(
            (period.first_day(), period.last_day()),
            (day("2026-01-01"), day("2026-01-31"))
        );
        let backwards = SyncOptions {
            from: Some(day("2026-02-01")),
            to: Some(day("2026-01-31")),
            ..SyncOptions::default()
        };
        assert!(period_of(&backwards, 90, today).is_err());
        let ancient = SyncOptions {
            from: Some(day("2020-01-01")),
            ..SyncOptions::default()
        };
        let error = period_of(&ancient, 90, today).unwrap_err().to_string();
        assert!(error.contains("three years"), "{error}");
    }
}
