//! `sync impact`, `import actions` and `fill`: reconciliation runs from the command line, each
//! printing a line per window (or so many rows), then what it found per kind and currency.
//! Exit codes: 0 nothing left open, 1 differences stay open, 2 configuration, 3 failure.

use std::path::Path;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Args;

use crate::config::Settings;
use crate::domain::clock::Clock;
use crate::ledger::reconciliation::{self, FillError, Filled};
use crate::network::import::{ImportError, import_actions};
use crate::network::sync::{RunReport, SyncError, SyncOptions, sync_impact};
use crate::read::format;
use crate::storage::{Database, StorageError, reconciliation_differences};

#[derive(Debug, Clone, Args)]
pub struct PeriodArgs {
    /// The first day of the period (actions by their event date, UTC). Default: `lookback` ago
    /// (sync), the report's first event date (import).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<NaiveDate>,
    /// The last day of the period. Default: today (sync), the report's last event date (import).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<NaiveDate>,
    /// Fill the ledger from the network's records for the differences they explain.
    #[arg(long)]
    pub apply: bool,
}

impl PeriodArgs {
    fn options(&self) -> SyncOptions {
        SyncOptions {
            from: self.from,
            to: self.to,
            apply: self.apply,
            unless_started_within: None,
        }
    }
}

fn database(settings: &Settings) -> Result<Database, StorageError> {
    let db = Database::connect(&settings.database_url)?;
    db.migrate()?;
    Ok(db)
}

fn print_filled(filled: &Filled) {
    let outcomes: Vec<String> = filled
        .outcomes
        .iter()
        .map(|(outcome, count)| format!("{count} {outcome}"))
        .collect();
    println!(
        "filled {} difference(s) from the network's records ({})",
        filled.differences,
        if outcomes.is_empty() {
            "no delivery".to_owned()
        } else {
            format!("deliveries: {}", outcomes.join(", "))
        }
    );
    if filled.failed > 0 {
        println!(
            "{} difference(s) could not be filled (see the log)",
            filled.failed
        );
    }
}

/// The run's differences per kind and currency, then what was filled and what stays open.
fn print_report(db: &Database, report: &RunReport) -> Result<ExitCode, StorageError> {
    let mut conn = db.conn()?;
    println!(
        "reconciliation run {}: {} record(s) read, {} compared, {} unreadable, {} outside the period {} to {}",
        report.run_id,
        report.counts.records,
        report.counts.compared,
        report.counts.unreadable,
        report.counts.outside,
        report.period.first_day(),
        report.period.last_day()
    );
    let totals = reconciliation_differences::totals(&mut conn, report.run_id)?;
    if totals.is_empty() {
        println!("no differences: the ledger agrees with the network's records");
    }
    for total in &totals {
        let currency = total.currency.as_deref();
        println!(
            "  {:<16} {:>6}  payout {:>16}  amount {:>16}  ({} open)",
            total.kind.as_str(),
            total.differences,
            format::money(total.payout_delta, currency),
            format::money(total.amount_delta, currency),
            total.open
        );
    }
    if let Some(filled) = &report.filled {
        print_filled(filled);
    }
    println!(
        "{} difference(s) open: /reconciliation/{}",
        report.open, report.run_id
    );
    Ok(if report.open == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn failure(message: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

pub fn sync(settings: &Settings, args: &PeriodArgs) -> ExitCode {
    let db = match database(settings) {
        Ok(db) => db,
        Err(error) => return failure(error, 3),
    };
    let mut progress = |line: String| println!("{line}");
    match sync_impact(
        &db,
        settings,
        &args.options(),
        &Clock::system(),
        &mut progress,
    ) {
        Ok(report) => print_report(&db, &report).unwrap_or_else(|error| failure(error, 3)),
        Err(error @ (SyncError::NotConfigured | SyncError::Period(_))) => failure(error, 2),
        Err(error @ SyncError::Client(crate::network::impact::ClientError::NoToken)) => {
            failure(error, 2)
        }
        Err(error) => failure(error, 3),
    }
}

pub fn import(settings: &Settings, file: &Path, args: &PeriodArgs) -> ExitCode {
    let db = match database(settings) {
        Ok(db) => db,
        Err(error) => return failure(error, 3),
    };
    let mut progress = |line: String| println!("{line}");
    match import_actions(
        &db,
        settings,
        file,
        &args.options(),
        &Clock::system(),
        &mut progress,
    ) {
        Ok(report) => print_report(&db, &report).unwrap_or_else(|error| failure(error, 3)),
        Err(
            error @ (ImportError::Columns { .. }
            | ImportError::NoPeriod(_)
            | ImportError::Run(SyncError::Period(_))),
        ) => failure(error, 2),
        Err(error) => failure(error, 3),
    }
}

pub fn fill(settings: &Settings, run: i64) -> ExitCode {
    let db = match database(settings) {
        Ok(db) => db,
        Err(error) => return failure(error, 3),
    };
    let result = db.conn().map_err(FillError::from).and_then(|mut conn| {
        reconciliation::fill(
            &mut conn,
            db.backend(),
            run,
            &settings.testing,
            chrono::Utc::now(),
        )
    });
    match result {
        Ok(filled) => {
            print_filled(&filled);
            println!("{} difference(s) open: /reconciliation/{run}", filled.open);
            if filled.open == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error @ (FillError::NoSuchRun(_) | FillError::NotCompleted(_))) => failure(error, 2),
        Err(error) => failure(error, 3),
    }
}
