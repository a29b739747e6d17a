//! `import actions FILE.csv`: impact.com's Action Listing report compared with the ledger as a
//! reconciliation run, read row by row (a first pass finds the period when none is given).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;

use crate::config::Settings;
use crate::domain::clock::Clock;
use crate::domain::cross_check::RunSource;
use crate::intake::mapping::parse_sent_date;
use crate::intake::network::RecordReader;
use crate::intake::network::action_listing::{self, ColumnError};
use crate::ledger::reconciliation::{self, IMPACT, Period};
use crate::network::sync::{Comparer, RunReport, SyncError, SyncOptions, complete};
use crate::storage::{Database, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}: {source}")]
    Columns { path: String, source: ColumnError },
    #[error(
        "{0}: no row has a readable event date, so the period is unknown: give --from and --to"
    )]
    NoPeriod(String),
    #[error(transparent)]
    Run(#[from] SyncError),
}

impl From<StorageError> for ImportError {
    fn from(error: StorageError) -> Self {
        ImportError::Run(SyncError::Storage(error))
    }
}

fn open(path: &Path) -> Result<csv::Reader<std::fs::File>, ImportError> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_path(path)
        .map_err(|error| read_error(path, error))
}

fn read_error(path: &Path, error: impl std::fmt::Display) -> ImportError {
    ImportError::Read {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

fn headers(
    path: &Path,
    reader: &mut csv::Reader<std::fs::File>,
) -> Result<Vec<String>, ImportError> {
    Ok(reader
        .headers()
        .map_err(|error| read_error(path, error))?
        .iter()
        .map(|header| header.trim_start_matches('\u{feff}').to_owned())
        .collect())
}

/// The first and last event day of the report's rows.
fn span(
    path: &Path,
    columns: &BTreeMap<String, String>,
) -> Result<Option<(NaiveDate, NaiveDate)>, ImportError> {
    let mut reader = open(path)?;
    let headers = headers(path, &mut reader)?;
    let Some(column) = columns
        .get("event_date")
        .and_then(|name| headers.iter().position(|header| header == name))
    else {
        return Ok(None);
    };
    let mut span: Option<(NaiveDate, NaiveDate)> = None;
    for row in reader.records() {
        let row = row.map_err(|error| read_error(path, error))?;
        let Some(day) = row
            .get(column)
            .and_then(|text| parse_sent_date(text).utc)
            .map(|at| at.date_naive())
        else {
            continue;
        };
        span = Some(match span {
            None => (day, day),
            Some((first, last)) => (first.min(day), last.max(day)),
        });
    }
    Ok(span)
}

/// Imports the report at `path` as a reconciliation run of impact.com; `progress` gets a line
/// every so many rows.
pub fn import_actions(
    db: &Database,
    settings: &Settings,
    path: &Path,
    options: &SyncOptions,
    clock: &Clock,
    progress: &mut dyn FnMut(String),
) -> Result<RunReport, ImportError> {
    let configured = settings
        .networks
        .impact
        .as_ref()
        .map(|impact| impact.columns.clone())
        .unwrap_or_default();
    let mut reader = open(path)?;
    let headers = headers(path, &mut reader)?;
    let columns = action_listing::resolve_columns(&headers, &configured).map_err(|source| {
        ImportError::Columns {
            path: path.display().to_string(),
            source,
        }
    })?;
    let period = match (options.from, options.to) {
        (Some(first), Some(last)) if first <= last => Period::of_days(first, last),
        (Some(first), Some(last)) => {
            return Err(SyncError::Period(format!("--from {first} is after --to {last}")).into());
        }
        (from, to) => {
            let (first, last) = span(path, &columns)?
                .ok_or_else(|| ImportError::NoPeriod(path.display().to_string()))?;
            Period::of_days(from.unwrap_or(first), to.unwrap_or(last))
        }
    };
    let record_reader =
        RecordReader::new(columns.clone(), Vec::new()).map_err(|error| read_error(path, error))?;
    let mut conn = db.conn()?;
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    let run_id = reconciliation::start(
        &mut conn,
        IMPACT,
        RunSource::Report,
        period,
        &columns,
        file_name.as_deref(),
        clock.now(),
    )?;
    let mut comparer = Comparer::new(&mut conn, run_id, period, clock.clone());
    let mut rows: u64 = 0;
    let mut failure: Option<ImportError> = None;
    for row in reader.records() {
        let row = match row {
            Ok(row) => row,
            Err(error) => {
                failure = Some(read_error(path, error));
                break;
            }
        };
        rows += 1;
        let fields = action_listing::row_fields(&headers, &row);
        let record = record_reader
            .read(fields)
            .map_err(|reason| format!("row {}: {reason}", rows + 1));
        if !comparer.take(record) {
            break;
        }
        if rows.is_multiple_of(50_000) {
            progress(format!("{rows} row(s) read"));
        }
    }
    comparer.flush();
    if let Some(error) = comparer.error.take() {
        failure = Some(error.into());
    }
    let counts = comparer.counts;
    let message = comparer.message();
    drop(comparer);
    if let Some(error) = failure {
        reconciliation::fail(&mut conn, run_id, &error.to_string(), clock.now())?;
        crate::telemetry::metrics::reconciliation_run(IMPACT, "report", "failed");
        return Err(error);
    }
    progress(format!(
        "{rows} row(s) read, {} in the period {} to {}",
        counts.compared,
        period.first_day(),
        period.last_day()
    ));
    Ok(complete(
        &mut conn,
        db.backend(),
        settings,
        IMPACT,
        RunSource::Report,
        counts,
        run_id,
        period,
        message,
        options.apply,
        clock,
    )?)
}
