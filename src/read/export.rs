//! The CSV exports read chunk by chunk (actions, ledger entries, statement): each step reads at
//! most `CHUNK` rows and returns them as CSV, so an export of any size holds one chunk in memory.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::csv_format::{Sheet, money, optional, text, time};
use super::statement::{self, Period};
use crate::domain::details::ActionDetails;
use crate::read::actions::ActionView;
use crate::read::actions::cursor_after;
use crate::storage::action_query::ActionFilter;
use crate::storage::ledger_export::{self, LedgerLine};
use crate::storage::{AnyConnection, StorageError, actions};

/// Rows read per step.
pub const CHUNK: i64 = 1_000;

/// One export in progress; the route runs `next_chunk` on the blocking pool until it answers
/// None. The first chunk always carries the header row, even when nothing matches.
pub trait Export: Send + 'static {
    fn next_chunk(&mut self, conn: &mut AnyConnection) -> Result<Option<Vec<u8>>, StorageError>;
}

/// Whether the header was written and whether the last (short) chunk was read.
#[derive(Debug, Default)]
struct Progress {
    started: bool,
    done: bool,
}

impl Progress {
    /// The CSV of one chunk of `read` rows (the header first time); a chunk shorter than
    /// `CHUNK` is the last.
    fn chunk(&mut self, header: &[&str], read: usize, write: impl FnOnce(&mut Sheet)) -> Vec<u8> {
        let mut sheet = Sheet::default();
        if !self.started {
            sheet.row(header);
            self.started = true;
        }
        write(&mut sheet);
        self.done = (read as i64) < CHUNK;
        sheet.into_bytes()
    }
}

/// The details beside the money columns rather than among the other details.
const CURRENCIES: [&str; 2] = ["payout_currency", "amount_currency"];

/// A detail's column: its field name, but for impact.com's name of an action tracker.
fn detail_column(name: &'static str) -> &'static str {
    match name {
        "action_tracker_id" => "event_type_id",
        "action_tracker_name" => "event_type_name",
        other => other,
    }
}

/// The actions export's header, in the order `action_record` writes.
pub static ACTION_HEADER: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut header = vec![
        "action_id",
        "status",
        "event_status",
        "status_as_sent",
        "payout",
        "payout_currency",
        "amount",
        "amount_currency",
    ];
    header.extend(
        ActionDetails::<String, String>::TEXTS
            .iter()
            .filter(|name| !CURRENCIES.contains(name))
            .map(|name| detail_column(name)),
    );
    header.extend(ActionDetails::<String, String>::DATES);
    header.extend([
        "ledger_date",
        "cleared_at",
        "first_received_at",
        "last_received_at",
        "flags",
        "is_test",
    ]);
    header
});

/// One action as a CSV record; `view` carries the status finance sees at the time of reading.
pub fn action_record(view: &ActionView) -> Vec<String> {
    let optional = |value: Option<&String>| optional(value.map(String::as_str)).into_owned();
    let details = &view.details;
    let mut record = vec![
        text(&view.action_id).into_owned(),
        view.shown_status.to_string(),
        view.status.to_string(),
        optional(view.status_raw.as_ref()),
        view.payout.clone(),
        optional(details.payout_currency.as_ref()),
        view.amount.clone(),
        optional(details.amount_currency.as_ref()),
    ];
    record.extend(
        details
            .texts()
            .into_iter()
            .filter(|(name, _)| !CURRENCIES.contains(name))
            .map(|(_, value)| optional(value)),
    );
    record.extend(
        details
            .dates()
            .into_iter()
            .map(|(_, date)| date.cloned().unwrap_or_default()),
    );
    record.extend([
        view.ledger_date.clone().unwrap_or_default(),
        view.cleared_at.clone().unwrap_or_default(),
        view.first_seen_at.clone(),
        view.last_seen_at.clone(),
        view.flags.to_string().replace(',', " "),
        view.is_test.to_string(),
    ]);
    record
}

/// Every action matching the list's filters, in the list's order, paged by its keyset cursor.
pub struct ActionsExport {
    filter: ActionFilter,
    now: DateTime<Utc>,
    progress: Progress,
}

impl ActionsExport {
    pub fn new(filter: ActionFilter, now: DateTime<Utc>) -> ActionsExport {
        ActionsExport {
            filter,
            now,
            progress: Progress::default(),
        }
    }
}

impl Export for ActionsExport {
    fn next_chunk(&mut self, conn: &mut AnyConnection) -> Result<Option<Vec<u8>>, StorageError> {
        if self.progress.done {
            return Ok(None);
        }
        let at = crate::storage::to_db_time(self.now);
        let rows = actions::list(conn, &self.filter, at, CHUNK)?;
        if let Some(last) = rows.last() {
            self.filter.cursor = Some(cursor_after(last, self.filter.sort));
        }
        let read = rows.len();
        let now = self.now;
        Ok(Some(self.progress.chunk(&ACTION_HEADER, read, |sheet| {
            for action in rows {
                sheet.row(action_record(&ActionView::new(action, None, now)));
            }
        })))
    }
}

pub const LEDGER_HEADER: [&str; 16] = [
    "entry_id",
    "recorded_at",
    "action_id",
    "kind",
    "payout_delta",
    "payout_currency",
    "amount_delta",
    "amount_currency",
    "campaign_id",
    "campaign_name",
    "order_id",
    "delivery_id",
    "is_test",
    "month",
    "concerns",
    "after_clearing",
];

pub fn ledger_record(line: &LedgerLine) -> Vec<String> {
    let optional = |value: &Option<String>| optional(value.as_deref()).into_owned();
    vec![
        line.id.to_string(),
        time(Some(line.recorded_at)),
        text(&line.action_id).into_owned(),
        line.kind.to_string(),
        money(line.payout_delta),
        optional(
            &line
                .currency
                .clone()
                .or_else(|| line.payout_currency.clone()),
        ),
        money(line.amount_delta),
        optional(&line.amount_currency),
        optional(&line.campaign_id),
        optional(&line.campaign_name),
        optional(&line.order_id),
        line.delivery_id.to_string(),
        line.is_test.to_string(),
        line.month
            .clone()
            .unwrap_or_else(|| time(Some(line.recorded_at))[..7].to_owned()),
        optional(&line.concerns),
        line.after_clearing.to_string(),
    ]
}

/// Every ledger entry recorded in `[from, until)`, in id order.
pub struct LedgerExport {
    after_id: i64,
    from: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
    include_tests: bool,
    progress: Progress,
}

impl LedgerExport {
    pub fn new(
        from: Option<NaiveDateTime>,
        until: Option<NaiveDateTime>,
        include_tests: bool,
    ) -> LedgerExport {
        LedgerExport {
            after_id: 0,
            from,
            until,
            include_tests,
            progress: Progress::default(),
        }
    }
}

impl Export for LedgerExport {
    fn next_chunk(&mut self, conn: &mut AnyConnection) -> Result<Option<Vec<u8>>, StorageError> {
        if self.progress.done {
            return Ok(None);
        }
        let lines = ledger_export::after(
            conn,
            self.after_id,
            self.from,
            self.until,
            self.include_tests,
            CHUNK,
        )?;
        if let Some(last) = lines.last() {
            self.after_id = last.id;
        }
        Ok(Some(self.progress.chunk(
            &LEDGER_HEADER,
            lines.len(),
            |sheet| {
                for line in &lines {
                    sheet.row(ledger_record(line));
                }
            },
        )))
    }
}

pub const STATEMENT_HEADER: [&str; 15] = [
    "month",
    "closed",
    "concerns",
    "campaign_id",
    "campaign_name",
    "currency",
    "tracked",
    "modified",
    "reversed",
    "clawbacks",
    "net",
    "cleared",
    "actions",
    "entries",
    "hash",
];

/// The statement's rows (no subtotals: a spreadsheet sums them). A year has a few hundred rows at
/// most, so it is read in one step.
pub struct StatementExport {
    period: Period,
    zone: chrono_tz::Tz,
    now: DateTime<Utc>,
    progress: Progress,
}

impl StatementExport {
    pub fn new(period: Period, zone: chrono_tz::Tz, now: DateTime<Utc>) -> StatementExport {
        StatementExport {
            period,
            zone,
            now,
            progress: Progress::default(),
        }
    }
}

impl Export for StatementExport {
    fn next_chunk(&mut self, conn: &mut AnyConnection) -> Result<Option<Vec<u8>>, StorageError> {
        if self.progress.done {
            return Ok(None);
        }
        let statement = statement::read(conn, self.period, self.zone, self.now)?;
        let chunk = self.progress.chunk(&STATEMENT_HEADER, 0, |sheet| {
            for month in &statement.months {
                for row in &month.rows {
                    let sums = row.sums;
                    let wide = |units: statement::Units| crate::domain::money::wide_text(units.0);
                    sheet.row([
                        month.month.clone(),
                        month.closed.to_string(),
                        optional(row.concerns.as_deref()).into_owned(),
                        optional(row.campaign_id.as_deref()).into_owned(),
                        optional(row.campaign_name.as_deref()).into_owned(),
                        text(&row.currency).into_owned(),
                        wide(sums.tracked),
                        wide(sums.modified),
                        wide(sums.reversed),
                        wide(sums.clawbacks),
                        wide(sums.net),
                        wide(sums.cleared),
                        row.actions.to_string(),
                        row.entries.to_string(),
                        row.hash.clone().unwrap_or_default(),
                    ]);
                }
            }
        });
        Ok(Some(chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reconcile::EntryKind;
    use chrono::NaiveDate;

    #[test]
    fn a_ledger_record_keeps_money_exact_and_neutralises_text_from_the_network() {
        let line = LedgerLine {
            id: 7,
            recorded_at: NaiveDate::from_ymd_opt(2026, 4, 8)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap(),
            action_id: "=cmd|' /C calc'!A0".into(),
            kind: EntryKind::Reversed,
            payout_delta: -105_000,
            amount_delta: 0,
            delivery_id: 3,
            payout_currency: Some("USD".into()),
            amount_currency: None,
            campaign_id: Some("9876".into()),
            campaign_name: Some("@Brand".into()),
            order_id: Some("-ORD".into()),
            is_test: false,
            currency: None,
            month: Some("2026-04".into()),
            concerns: None,
            after_clearing: false,
        };
        let record = ledger_record(&line);
        assert_eq!(record.len(), LEDGER_HEADER.len());
        assert_eq!(
            record,
            [
                "7",
                "2026-04-08T09:00:00Z",
                "'=cmd|' /C calc'!A0",
                "reversed",
                "-10.50",
                "USD",
                "0.00",
                "",
                "9876",
                "'@Brand",
                "'-ORD",
                "3",
                "false",
                "2026-04",
                "",
                "false"
            ]
        );
    }

    #[test]
    fn the_header_comes_once_and_a_short_chunk_is_the_last() {
        let mut progress = Progress::default();
        let first = progress.chunk(&["a", "b"], CHUNK as usize, |sheet| sheet.row(["1", "2"]));
        assert_eq!(first, b"a,b\n1,2\n");
        assert!(!progress.done);
        let last = progress.chunk(&["a", "b"], 1, |sheet| sheet.row(["3", "4"]));
        assert_eq!(last, b"3,4\n");
        assert!(progress.done);
    }
}
