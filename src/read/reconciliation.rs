//! What the reconciliation pages, API and CSV show: the runs (when, period, source, counts,
//! money per kind and currency), a run's differences with filters, the overview's "last checked
//! against impact.com", and the open differences `/metrics` counts.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use serde::Serialize;

use super::csv_format::{Sheet, money, optional, text, time};
use super::export::{CHUNK, Export};
use super::format::{self, json_or_null, money_text, utc};
use crate::domain::cross_check::{DifferenceKind, Resolution, RunStatus};
use crate::storage::reconciliation_differences::{
    self as differences, Difference, DifferenceFilter, KindTotal,
};
use crate::storage::reconciliation_runs::{self as runs, Run};
use crate::storage::{AnyConnection, StorageError};

/// One kind's differences in one currency, money as exact decimals.
#[derive(Debug, Clone, Serialize)]
pub struct KindTotalView {
    pub kind: DifferenceKind,
    pub currency: String,
    pub differences: i64,
    pub open: i64,
    /// Network minus ledger.
    pub payout: String,
    pub amount: String,
    /// Of the open ones, the payout at stake either way.
    pub open_payout: String,
    #[serde(skip)]
    pub payout_shown: String,
    #[serde(skip)]
    pub amount_shown: String,
}

impl From<KindTotal> for KindTotalView {
    fn from(total: KindTotal) -> Self {
        let currency = total.currency.unwrap_or_default();
        KindTotalView {
            kind: total.kind,
            differences: total.differences,
            open: total.open,
            payout: money(total.payout_delta),
            amount: money(total.amount_delta),
            open_payout: money(total.open_payout),
            payout_shown: format::money(total.payout_delta, Some(&currency)),
            amount_shown: format::money(total.amount_delta, Some(&currency)),
            currency,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub id: i64,
    pub network: String,
    pub source: &'static str,
    pub status: RunStatus,
    /// The first and last day of the period (event dates, UTC).
    pub period_from: String,
    pub period_to: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub applied_at: Option<String>,
    pub records: i64,
    pub compared: i64,
    pub unreadable: i64,
    pub outside: i64,
    pub requests: i64,
    pub file_name: Option<String>,
    pub message: Option<String>,
    pub differences: i64,
    pub open: i64,
    /// Open differences a fill can explain.
    pub fillable: i64,
    pub totals: Vec<KindTotalView>,
    #[serde(skip)]
    pub started_shown: String,
}

fn run_view(conn: &mut AnyConnection, run: Run, zone: Tz) -> Result<RunView, StorageError> {
    let totals = differences::totals(conn, run.id)?;
    let fillable = differences::count_open_fillable(conn, run.id)?;
    Ok(RunView {
        id: run.id,
        network: run.network,
        source: run.source.as_str(),
        status: run.status,
        period_from: run.period_start.date().to_string(),
        period_to: (run.period_end - chrono::Duration::microseconds(1))
            .date()
            .to_string(),
        started_at: utc(run.started_at),
        started_shown: format::time(run.started_at, zone),
        finished_at: run.finished_at.map(utc),
        applied_at: run.applied_at.map(utc),
        records: run.records,
        compared: run.compared,
        unreadable: run.unreadable,
        outside: run.outside,
        requests: run.requests,
        file_name: run.file_name,
        message: run.message,
        differences: totals.iter().map(|total| total.differences).sum(),
        open: totals.iter().map(|total| total.open).sum(),
        fillable,
        totals: totals.into_iter().map(KindTotalView::from).collect(),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct RunsPage {
    pub runs: Vec<RunView>,
    /// Pass as `before` for the next (older) page; None on the last.
    pub next_before: Option<i64>,
}

pub fn runs_page(
    conn: &mut AnyConnection,
    before: Option<i64>,
    limit: i64,
    zone: Tz,
) -> Result<RunsPage, StorageError> {
    let found = runs::recent(conn, before, limit + 1)?;
    let more = found.len() as i64 > limit;
    let mut views = Vec::new();
    for run in found.into_iter().take(limit as usize) {
        views.push(run_view(conn, run, zone)?);
    }
    Ok(RunsPage {
        next_before: more.then(|| views.last().map(|run| run.id)).flatten(),
        runs: views,
    })
}

pub fn run(conn: &mut AnyConnection, id: i64, zone: Tz) -> Result<Option<RunView>, StorageError> {
    match runs::find(conn, id)? {
        Some(run) => Ok(Some(run_view(conn, run, zone)?)),
        None => Ok(None),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DifferenceView {
    pub id: i64,
    pub action_id: String,
    pub kind: DifferenceKind,
    pub currency: Option<String>,
    pub event_date: Option<String>,
    pub network_status: Option<String>,
    /// pending, locked (by its date), approved or reversed; None when the ledger has no event.
    pub ledger_status: Option<&'static str>,
    pub network_payout: Option<String>,
    pub ledger_payout: Option<String>,
    pub network_amount: Option<String>,
    pub ledger_amount: Option<String>,
    pub payout_delta: String,
    pub amount_delta: String,
    pub network_cleared_at: Option<String>,
    pub fillable: bool,
    pub note: String,
    pub resolution: Resolution,
    /// The delivery (kind network_record) that filled it.
    pub delivery_id: Option<i64>,
    /// The network's record, as JSON (credentials removed).
    pub record: serde_json::Value,
    #[serde(skip)]
    pub shown: Shown,
}

/// The same, as the page writes it.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    pub network_payout: String,
    pub ledger_payout: String,
    pub payout_delta: String,
    pub event_date: String,
}

fn shown_money(units: Option<i64>, currency: Option<&str>) -> String {
    units.map_or_else(|| "–".to_owned(), |units| format::money(units, currency))
}

impl From<Difference> for DifferenceView {
    fn from(row: Difference) -> Self {
        let currency = row.currency.as_deref();
        let shown = Shown {
            network_payout: shown_money(row.network_payout, currency),
            ledger_payout: shown_money(row.ledger_payout, currency),
            payout_delta: format::money(row.payout_delta, currency),
            event_date: row
                .event_date
                .map_or_else(|| "–".to_owned(), |at| at.date().to_string()),
        };
        DifferenceView {
            id: row.id,
            kind: row.kind,
            event_date: row.event_date.map(utc),
            network_status: row.network_status,
            ledger_status: row.ledger_status.map(|state| state.as_str()),
            network_payout: money_text(row.network_payout),
            ledger_payout: money_text(row.ledger_payout),
            network_amount: money_text(row.network_amount),
            ledger_amount: money_text(row.ledger_amount),
            payout_delta: money(row.payout_delta),
            amount_delta: money(row.amount_delta),
            network_cleared_at: row.network_cleared_at.map(utc),
            fillable: row.fillable,
            note: row.note,
            resolution: row.resolution,
            delivery_id: row.delivery_id,
            record: json_or_null(row.record.as_deref()),
            action_id: row.action_id,
            currency: row.currency,
            shown,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DifferencesPage {
    pub differences: Vec<DifferenceView>,
    /// Pass as `after` for the next page; None on the last.
    pub next_after: Option<i64>,
    /// How many differences the filters name, on every page.
    pub total: i64,
}

pub fn differences_page(
    conn: &mut AnyConnection,
    run_id: i64,
    filter: &DifferenceFilter,
    limit: i64,
) -> Result<DifferencesPage, StorageError> {
    let mut rows = differences::page(conn, run_id, filter, limit + 1)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok(DifferencesPage {
        next_after: more.then(|| rows.last().map(|row| row.id)).flatten(),
        differences: rows.into_iter().map(DifferenceView::from).collect(),
        total: differences::count(conn, run_id, filter)?,
    })
}

/// The `after` that lists the filtered differences from row `offset` (0-based) on: None for
/// the first row, or when there are not that many.
pub fn after_for_offset(
    conn: &mut AnyConnection,
    run_id: i64,
    filter: &DifferenceFilter,
    offset: i64,
) -> Result<Option<i64>, StorageError> {
    if offset <= 0 {
        return Ok(None);
    }
    Ok(differences::id_at(conn, run_id, filter, offset - 1)?)
}

/// The overview's line: when the ledger was last checked against a network, and what is open.
#[derive(Debug, Clone, Serialize)]
pub struct LastCheck {
    pub network: String,
    pub run_id: i64,
    pub finished_at: String,
    /// `6 h ago`.
    pub ago: String,
    pub open: i64,
    /// Per currency, the payout at stake in the open differences.
    pub open_payout: BTreeMap<String, String>,
    /// `3 differences (41.20 USD)`, or `no differences`.
    #[serde(skip)]
    pub shown: String,
}

/// The newest completed run of `network`, as of `now`.
pub fn last_check(
    conn: &mut AnyConnection,
    network: &str,
    now: NaiveDateTime,
) -> Result<Option<LastCheck>, StorageError> {
    let Some(run) = runs::latest_completed(conn, network)? else {
        return Ok(None);
    };
    let finished = run.finished_at.unwrap_or(run.started_at);
    let mut open = 0;
    let mut at_stake: BTreeMap<String, i64> = BTreeMap::new();
    for total in differences::totals(conn, run.id)? {
        open += total.open;
        if total.open_payout != 0 {
            *at_stake
                .entry(total.currency.unwrap_or_default())
                .or_default() += total.open_payout;
        }
    }
    let money_shown: Vec<String> = at_stake
        .iter()
        .map(|(currency, units)| format::money(*units, Some(currency)))
        .collect();
    let shown = match (open, money_shown.is_empty()) {
        (0, _) => "no differences".to_owned(),
        (1, true) => "1 difference".to_owned(),
        (n, true) => format!("{n} differences"),
        (1, false) => format!("1 difference ({})", money_shown.join(", ")),
        (n, false) => format!("{n} differences ({})", money_shown.join(", ")),
    };
    Ok(Some(LastCheck {
        network: run.network,
        run_id: run.id,
        finished_at: utc(finished),
        ago: format::ago(finished, now),
        open,
        open_payout: at_stake
            .into_iter()
            .map(|(currency, units)| (currency, money(units)))
            .collect(),
        shown,
    }))
}

/// Open differences of each network's newest completed run: the `/metrics` gauge.
pub fn open_now(
    conn: &mut AnyConnection,
    networks: &[&str],
) -> Result<Vec<(String, i64)>, StorageError> {
    let mut open = Vec::new();
    for network in networks {
        if let Some(run) = runs::latest_completed(conn, network)? {
            open.push((network.to_string(), differences::count_open(conn, run.id)?));
        }
    }
    Ok(open)
}

/// Every difference of a run, as CSV, a chunk at a time.
pub struct DifferencesExport {
    run_id: i64,
    after: i64,
    started: bool,
    done: bool,
}

impl DifferencesExport {
    pub fn new(run_id: i64) -> Self {
        DifferencesExport {
            run_id,
            after: 0,
            started: false,
            done: false,
        }
    }
}

pub const DIFFERENCES_HEADER: [&str; 19] = [
    "run_id",
    "difference_id",
    "action_id",
    "kind",
    "currency",
    "event_date",
    "network_status",
    "ledger_status",
    "network_payout",
    "ledger_payout",
    "payout_delta",
    "network_amount",
    "ledger_amount",
    "amount_delta",
    "network_cleared_at",
    "fillable",
    "resolution",
    "delivery_id",
    "note",
];

impl Export for DifferencesExport {
    fn next_chunk(&mut self, conn: &mut AnyConnection) -> Result<Option<Vec<u8>>, StorageError> {
        if self.done {
            return Ok(None);
        }
        let rows = differences::chunk_after(conn, self.run_id, self.after, CHUNK)?;
        let mut sheet = Sheet::default();
        if !self.started {
            sheet.row(DIFFERENCES_HEADER);
            self.started = true;
        }
        self.done = (rows.len() as i64) < CHUNK;
        let units = |value: Option<i64>| value.map(money).unwrap_or_default();
        for row in &rows {
            sheet.row([
                self.run_id.to_string(),
                row.id.to_string(),
                text(&row.action_id).into_owned(),
                row.kind.as_str().to_owned(),
                optional(row.currency.as_deref()).into_owned(),
                time(row.event_date),
                optional(row.network_status.as_deref()).into_owned(),
                row.ledger_status
                    .map(|state| state.as_str().to_owned())
                    .unwrap_or_default(),
                units(row.network_payout),
                units(row.ledger_payout),
                money(row.payout_delta),
                units(row.network_amount),
                units(row.ledger_amount),
                money(row.amount_delta),
                time(row.network_cleared_at),
                row.fillable.to_string(),
                row.resolution.as_str().to_owned(),
                row.delivery_id.map(|id| id.to_string()).unwrap_or_default(),
                text(&row.note).into_owned(),
            ]);
        }
        if let Some(last) = rows.last() {
            self.after = last.id;
        }
        Ok(Some(sheet.into_bytes()))
    }
}
