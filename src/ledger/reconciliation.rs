//! A reconciliation run: the network's records of a period compared with the ledger, chunk by
//! chunk as they are read (never the whole period in memory), every difference stored, and the
//! fill that brings the ledger to the network's state for the differences it can explain.
//!
//! The fill writes through the same path as postbacks: each record becomes a delivery of kind
//! `network_record` (its JSON kept as the body, credentials removed) applied by
//! `batch::apply_batch`, so the ledger rule, the entries, the locks and the dedup keys are the
//! postbacks' own. A status or payout change is an action event of that origin; a clearing
//! known only from the network is a clearing event of that origin.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::Testing;
use crate::domain::cross_check::{
    self, DifferenceKind, Found, NetworkRecord, Resolution, RunSource, RunStatus,
};
use crate::domain::event::{ClearingEvent, Postback, SentDate, SourceKind};
use crate::domain::money::Money;
use crate::intake::delivery::IncomingDelivery;
use crate::intake::network::RecordReader;
use crate::ledger::batch;
use crate::storage::cross_check::{self as ledger_side, LedgerRow};
use crate::storage::reconciliation_differences::{self as differences, Difference, NewDifference};
use crate::storage::reconciliation_runs::{self as runs, Counts, NewRun, Run};
use crate::storage::{
    self, AnyConnection, Backend, StorageError, reconciliation_seen as seen, to_db_time,
};

/// The network the cross-check reads today.
pub const IMPACT: &str = "impact";

/// The deliveries a fill records come from this source (a name no postback source can have).
pub fn records_source(network: &str) -> String {
    format!("network:{network}")
}

/// Records compared per transaction.
pub const CHUNK: usize = 500;
/// Actions filled per transaction.
const FILL_CHUNK: i64 = 128;
/// Ledger actions read per step when looking for those the network did not list.
const NOT_LISTED_PAGE: i64 = 1_000;

/// The actions whose event date is in `[start, end)`, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

impl Period {
    /// From the first day's midnight to the midnight after the last day.
    pub fn of_days(first: NaiveDate, last: NaiveDate) -> Period {
        let midnight = |day: NaiveDate| day.and_hms_opt(0, 0, 0).expect("midnight exists");
        Period {
            start: midnight(first),
            end: midnight(last.succ_opt().unwrap_or(last)),
        }
    }

    pub fn first_day(&self) -> NaiveDate {
        self.start.date()
    }

    pub fn last_day(&self) -> NaiveDate {
        (self.end - chrono::Duration::microseconds(1)).date()
    }

    /// A record with no event date cannot be placed: it counts as in the period.
    fn holds(&self, at: Option<DateTime<Utc>>) -> bool {
        at.is_none_or(|at| {
            let at = to_db_time(at);
            self.start <= at && at < self.end
        })
    }
}

/// Starts a run; its records will be read with `columns` (stored, so a fill reads them alike).
#[allow(clippy::too_many_arguments)]
pub fn start(
    conn: &mut AnyConnection,
    network: &str,
    source: RunSource,
    period: Period,
    columns: &BTreeMap<String, String>,
    file_name: Option<&str>,
    at: DateTime<Utc>,
) -> Result<i64, StorageError> {
    let columns = serde_json::to_string(columns).unwrap_or_default();
    Ok(runs::insert(
        conn,
        &NewRun {
            network,
            source,
            status: RunStatus::Running,
            period_start: period.start,
            period_end: period.end,
            started_at: to_db_time(at),
            column_map: &columns,
            file_name,
        },
    )?)
}

/// What comparing one chunk found.
#[derive(Debug, Clone, Copy, Default)]
pub struct Compared {
    pub counts: Counts,
    pub differences: usize,
}

fn difference_row<'a>(
    run_id: i64,
    record: &'a NetworkRecord,
    ledger: Option<&'a LedgerRow>,
    state: Option<cross_check::LedgerState>,
    found: &'a Found,
) -> NewDifference<'a> {
    let event = &record.event;
    NewDifference {
        run_id,
        action_id: &event.action_id,
        kind: found.kind,
        currency: record
            .currency()
            .or_else(|| ledger.and_then(|row| row.payout_currency.as_deref())),
        event_date: record
            .event_date()
            .map(to_db_time)
            .or_else(|| ledger.and_then(|row| row.event_date)),
        network_status: event.status_raw.as_deref(),
        ledger_status: state,
        network_payout: event.payout.map(Money::minor_units),
        ledger_payout: ledger.map(|row| row.payout),
        network_amount: event.amount.map(Money::minor_units),
        ledger_amount: ledger.map(|row| row.amount),
        payout_delta: found.payout_delta.minor_units(),
        amount_delta: found.amount_delta.minor_units(),
        network_cleared_at: record.cleared_at.map(to_db_time),
        fillable: found.fillable,
        note: &found.note,
        resolution: Resolution::Open,
        record: Some(&record.raw),
    }
}

/// Compares a chunk of records with the ledger as it is `now`, in one transaction: records the
/// ids as read (a record listed again is not compared twice), reads the ledger's state of the
/// new ones at once, and stores every difference. `unreadable` records were counted by the
/// caller and are added to the run's counts here.
pub fn compare(
    conn: &mut AnyConnection,
    run_id: i64,
    period: Period,
    records: &[NetworkRecord],
    unreadable: i64,
    now: DateTime<Utc>,
) -> Result<Compared, StorageError> {
    storage::write_transaction(conn, |conn| {
        let mut counts = Counts {
            records: records.len() as i64 + unreadable,
            unreadable,
            ..Counts::default()
        };
        let mut in_period: Vec<&NetworkRecord> = Vec::with_capacity(records.len());
        let mut ids: Vec<&str> = Vec::with_capacity(records.len());
        let mut listed: HashSet<&str> = HashSet::with_capacity(records.len());
        for record in records {
            if !period.holds(record.event_date()) {
                counts.outside += 1;
                continue;
            }
            if listed.insert(record.event.action_id.as_str()) {
                ids.push(&record.event.action_id);
                in_period.push(record);
            }
        }
        let new: HashSet<String> = seen::insert_new(conn, run_id, &ids)?.into_iter().collect();
        let new_ids: Vec<&str> = ids.iter().copied().filter(|id| new.contains(*id)).collect();
        let ledger: BTreeMap<String, LedgerRow> = if new_ids.is_empty() {
            BTreeMap::new()
        } else {
            ledger_side::ledger_rows(conn, &new_ids)?
                .into_iter()
                .map(|row| (row.action_id.clone(), row))
                .collect()
        };
        let mut found_all: Vec<(&NetworkRecord, Option<&LedgerRow>, Vec<Found>)> = Vec::new();
        for record in in_period {
            if !new.contains(&record.event.action_id) {
                continue;
            }
            counts.compared += 1;
            let row = ledger.get(&record.event.action_id);
            let side = row.map(LedgerRow::side);
            let found = cross_check::compare(record, side.as_ref(), now);
            found_all.push((record, row, found));
        }
        let mut rows = Vec::new();
        for (record, row, found) in &found_all {
            let state = row.map(|row| row.side().state(now));
            for one in found {
                rows.push(difference_row(run_id, record, *row, state, one));
            }
        }
        differences::insert_all(conn, &rows)?;
        runs::add_counts(conn, run_id, counts)?;
        Ok(Compared {
            counts,
            differences: rows.len(),
        })
    })
}

/// Finds the ledger's actions of the period the run did not read (page by page, along the
/// event date index), stores them as `missing_there`, forgets what the run read, and marks it
/// completed. Returns the number of actions the network did not list.
pub fn finish(
    conn: &mut AnyConnection,
    run_id: i64,
    period: Period,
    message: Option<&str>,
    now: DateTime<Utc>,
) -> Result<usize, StorageError> {
    let mut cursor: Option<(String, String)> = None;
    let mut not_listed = 0;
    loop {
        let page = ledger_side::not_read_after(
            conn,
            run_id,
            period.start,
            period.end,
            cursor
                .as_ref()
                .map(|(date, id)| (date.as_str(), id.as_str())),
            NOT_LISTED_PAGE,
        )?;
        let Some(last) = page.last() else { break };
        cursor = Some((last.cursor.clone(), last.ledger.action_id.clone()));
        let rows: Vec<LedgerRow> = page.into_iter().map(|read| read.ledger).collect();
        let found: Vec<(Found, cross_check::LedgerState)> = rows
            .iter()
            .map(|row| {
                let side = row.side();
                (cross_check::missing_there(&side), side.state(now))
            })
            .collect();
        let differences_found: Vec<NewDifference<'_>> = rows
            .iter()
            .zip(&found)
            .map(|(row, (found, state))| NewDifference {
                run_id,
                action_id: &row.action_id,
                kind: found.kind,
                currency: row.payout_currency.as_deref(),
                event_date: row.event_date,
                network_status: None,
                ledger_status: Some(*state),
                network_payout: None,
                ledger_payout: Some(row.payout),
                network_amount: None,
                ledger_amount: Some(row.amount),
                payout_delta: found.payout_delta.minor_units(),
                amount_delta: found.amount_delta.minor_units(),
                network_cleared_at: None,
                fillable: false,
                note: &found.note,
                resolution: Resolution::Open,
                record: None,
            })
            .collect();
        differences::insert_all(conn, &differences_found)?;
        not_listed += rows.len();
        if (rows.len() as i64) < NOT_LISTED_PAGE {
            break;
        }
    }
    seen::clear(conn, run_id)?;
    runs::finish(conn, run_id, RunStatus::Completed, to_db_time(now), message)?;
    Ok(not_listed)
}

/// Ends a run that could not finish; what it compared stays, its scratch rows go.
pub fn fail(
    conn: &mut AnyConnection,
    run_id: i64,
    message: &str,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    seen::clear(conn, run_id)?;
    runs::finish(
        conn,
        run_id,
        RunStatus::Failed,
        to_db_time(now),
        Some(message),
    )?;
    Ok(())
}

/// Runs of `network` left running by a process that ended, started before `cutoff`: failed now.
pub fn abandon_stale(
    conn: &mut AnyConnection,
    network: &str,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize, StorageError> {
    let stale = runs::running_before(conn, network, to_db_time(cutoff))?;
    for run_id in &stale {
        fail(
            conn,
            *run_id,
            "the run stopped before it ended (its process ended)",
            now,
        )?;
    }
    Ok(stale.len())
}

pub fn money_missing(
    conn: &mut AnyConnection,
    run_id: i64,
) -> Result<Vec<(String, Money)>, StorageError> {
    Ok(cross_check::money_missing(
        differences::totals(conn, run_id)?
            .into_iter()
            .map(|total| (total.kind, total.currency, total.open, total.payout_delta)),
    ))
}

/// What a fill did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filled {
    /// Differences now filled.
    pub differences: usize,
    /// Deliveries of kind `network_record` written (or found already written), per outcome.
    pub outcomes: BTreeMap<&'static str, usize>,
    /// Differences whose record could not be read again or whose delivery failed.
    pub failed: usize,
    /// Differences still open, explainable or not.
    pub open: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum FillError {
    #[error("no reconciliation run {0}")]
    NoSuchRun(i64),
    #[error("reconciliation run {0} has not completed: only a completed run is filled")]
    NotCompleted(i64),
    #[error("the run's column map cannot be read again: {0}")]
    Columns(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn dedup_key(source: &str, purpose: &str, raw: &str, event: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [source, purpose, raw, event] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

/// The deliveries that fill one action's differences, with the differences each fills.
fn deliveries_for(
    run: &Run,
    reader: &RecordReader,
    group: &[Difference],
    testing: &Testing,
    now: DateTime<Utc>,
) -> Result<Vec<(IncomingDelivery, Vec<i64>)>, String> {
    let Some(raw) = group
        .iter()
        .find_map(|difference| difference.record.clone())
    else {
        return Err("no record kept".into());
    };
    let fields: crate::intake::decode::Fields =
        serde_json::from_str(&raw).map_err(|error| error.to_string())?;
    let record = reader.read(fields).map_err(|error| error.to_string())?;
    let source = records_source(&run.network);
    let method = match run.source {
        RunSource::Api => "API",
        RunSource::Report => "REPORT",
    };
    let note = vec![format!(
        "filled from {}'s record by reconciliation run {}",
        run.network, run.id
    )];
    let delivery =
        |purpose: &str, understood: Postback, summary: String, is_test: bool| IncomingDelivery {
            source: source.clone(),
            kind: SourceKind::NetworkRecord,
            received_at: now,
            method: method.to_owned(),
            content_type: Some("application/json".to_owned()),
            query: String::new(),
            body: raw.clone().into_bytes(),
            client_addr: None,
            dedup_key: dedup_key(&source, purpose, &raw, &summary),
            legacy_key: None,
            understood: Ok(understood),
            warnings: note.clone(),
            is_test,
        };
    let mut made = Vec::new();
    let changes: Vec<i64> = group
        .iter()
        .filter(|difference| difference.kind != DifferenceKind::ClearedDiffers)
        .map(|difference| difference.id)
        .collect();
    if !changes.is_empty() {
        let before = group.iter().find_map(|difference| {
            Some((
                Money::from_minor_units(difference.ledger_payout?),
                Money::from_minor_units(difference.ledger_amount?),
            ))
        });
        let event = cross_check::fill_event(&record, before);
        let summary = format!(
            "{:?} {:?} {:?} {:?} {:?}",
            event.status, event.payout, event.delta_payout, event.amount, event.delta_amount
        );
        let is_test = testing.marks(&event);
        made.push((
            delivery(
                "action",
                Postback::Action(Box::new(event)),
                summary,
                is_test,
            ),
            changes,
        ));
    }
    let clearing: Vec<i64> = group
        .iter()
        .filter(|difference| difference.kind == DifferenceKind::ClearedDiffers)
        .map(|difference| difference.id)
        .collect();
    if let (false, Some(cleared)) = (clearing.is_empty(), record.cleared_at) {
        let date = SentDate {
            utc: Some(cleared),
            text: cleared.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        };
        let event = ClearingEvent {
            action_ids: vec![record.event.action_id.clone()],
            order_ids: Vec::new(),
            cleared_date: Some(date.clone()),
            ledger_date: Some(date),
            campaign_id: record.event.details.campaign_id.clone(),
            extra: BTreeMap::new(),
        };
        made.push((
            delivery(
                "clearing",
                Postback::Clearing(Box::new(event)),
                cleared.to_rfc3339(),
                false,
            ),
            clearing,
        ));
    }
    Ok(made)
}

/// Fills the open differences of a completed run that a network record can explain: each
/// action's record becomes deliveries of kind `network_record` applied by the postbacks' write
/// path, a few actions per transaction, and each difference so filled points at its delivery.
/// Filling again changes nothing: the deliveries' dedup keys are the same.
pub fn fill(
    conn: &mut AnyConnection,
    backend: Backend,
    run_id: i64,
    testing: &Testing,
    now: DateTime<Utc>,
) -> Result<Filled, FillError> {
    let run = runs::find(conn, run_id)?.ok_or(FillError::NoSuchRun(run_id))?;
    if run.status != RunStatus::Completed {
        return Err(FillError::NotCompleted(run_id));
    }
    let columns: BTreeMap<String, String> = serde_json::from_str(&run.column_map)
        .map_err(|error| FillError::Columns(error.to_string()))?;
    let reader =
        RecordReader::new(columns, Vec::new()).map_err(|e| FillError::Columns(e.to_string()))?;
    let mut filled = Filled::default();
    let mut cursor = String::new();
    loop {
        let page = differences::fillable_after(conn, run.id, &cursor, FILL_CHUNK)?;
        let Some(last) = page.last() else { break };
        cursor = last.action_id.clone();
        let mut batch: Vec<IncomingDelivery> = Vec::new();
        let mut fills: Vec<Vec<i64>> = Vec::new();
        for group in page.chunk_by(|a, b| a.action_id == b.action_id) {
            match deliveries_for(&run, &reader, group, testing, now) {
                Ok(made) => {
                    for (delivery, ids) in made {
                        batch.push(delivery);
                        fills.push(ids);
                    }
                }
                Err(error) => {
                    tracing::warn!(run_id, action_id = %group[0].action_id, error = %error, "a difference was not filled");
                    filled.failed += group.len();
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        let results = batch::apply_batch(conn, backend, &batch)?;
        for (result, ids) in results.into_iter().zip(fills) {
            match result {
                Ok(stored) => {
                    differences::mark_filled(conn, &ids, stored.delivery_id)?;
                    filled.differences += ids.len();
                    *filled.outcomes.entry(stored.outcome.as_str()).or_default() += 1;
                }
                Err(error) => {
                    tracing::warn!(run_id, error = %error, "a fill was not stored");
                    filled.failed += ids.len();
                }
            }
        }
    }
    runs::set_applied(conn, run.id, to_db_time(now))?;
    filled.open = differences::count_open(conn, run.id)?;
    if let Some(latest) = runs::latest_completed(conn, &run.network)?
        && latest.id == run.id
    {
        crate::telemetry::metrics::open_differences(&run.network, filled.open);
    }
    Ok(filled)
}

impl From<diesel::result::Error> for FillError {
    fn from(error: diesel::result::Error) -> Self {
        FillError::Storage(StorageError::from(error))
    }
}
