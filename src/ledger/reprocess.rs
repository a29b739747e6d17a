//! `reprocess`: re-reads quarantined deliveries through the current configuration.

use crate::config::{Settings, Testing};
use crate::intake::delivery::Source;
use crate::intake::delivery::{Reading, read};
use crate::ledger::batch;
use crate::storage::deliveries::Delivery;
use crate::storage::{AnyConnection, Backend, Database, StorageError, deliveries};

#[derive(Debug, Default)]
pub struct Report {
    pub examined: usize,
    pub released: usize,
    pub still_quarantined: usize,
    /// One line per delivery: its id and what became of it.
    pub lines: Vec<String>,
}

/// What re-reading one quarantined delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reprocessed {
    /// Read and stored: the new outcome (applied, duplicate, stale or flagged).
    Released(&'static str),
    /// It was no longer quarantined when the write ran (another reprocess got there first).
    AlreadyHandled,
    /// Still unreadable: why.
    StillQuarantined(String),
    /// Its source is no longer configured.
    SourceGone(String),
}

impl Reprocessed {
    /// The report's line for this delivery.
    pub fn describe(&self, delivery_id: i64) -> String {
        match self {
            Reprocessed::Released(outcome) => format!("delivery {delivery_id}: {outcome}"),
            Reprocessed::AlreadyHandled => format!("delivery {delivery_id}: already handled"),
            Reprocessed::StillQuarantined(reason) => {
                format!("delivery {delivery_id}: still quarantined ({reason})")
            }
            Reprocessed::SourceGone(source) => {
                format!("delivery {delivery_id}: source `{source}` is no longer configured")
            }
        }
    }
}

/// Re-reads one quarantined delivery with `source`'s current mapping (None when that source is
/// no longer configured) and stores what it now says. The CLI's run and the dashboard's
/// "Reprocess" button both come through here.
pub fn one(
    conn: &mut AnyConnection,
    backend: Backend,
    delivery: &Delivery,
    source: Option<&Source>,
    testing: &Testing,
) -> Result<Reprocessed, StorageError> {
    let Some(source) = source else {
        return Ok(Reprocessed::SourceGone(delivery.source.clone()));
    };
    let body = delivery.body.as_deref().unwrap_or_default();
    let Reading {
        understood,
        warnings,
        ..
    } = read(
        source,
        &delivery.query,
        delivery.content_type.as_deref(),
        body,
    );
    let postback = match understood {
        Ok(postback) => postback,
        Err(reason) => return Ok(Reprocessed::StillQuarantined(reason.to_string())),
    };
    let is_test =
        matches!(&postback, crate::domain::event::Postback::Action(event) if testing.marks(event));
    Ok(
        match batch::release_quarantined(conn, backend, delivery.id, &postback, &warnings, is_test)?
        {
            Some(outcome) => Reprocessed::Released(outcome.as_str()),
            None => Reprocessed::AlreadyHandled,
        },
    )
}

/// Running it twice changes nothing the second time: released deliveries are no longer
/// quarantined, and the rest are read the same way again.
pub fn quarantined(db: &Database, settings: &Settings) -> Result<Report, StorageError> {
    let mut report = Report::default();
    let mut conn = db.conn()?;
    let mut cursor = 0;
    loop {
        let page = deliveries::quarantined_page(&mut conn, cursor, 200)?;
        let Some(last) = page.last() else { break };
        cursor = last.id;
        for delivery in page {
            report.examined += 1;
            let result = one(
                &mut conn,
                db.backend(),
                &delivery,
                settings.sources.get(&delivery.source),
                &settings.testing,
            )?;
            match result {
                Reprocessed::Released(_) => report.released += 1,
                Reprocessed::AlreadyHandled => {}
                Reprocessed::StillQuarantined(_) | Reprocessed::SourceGone(_) => {
                    report.still_quarantined += 1
                }
            }
            report.lines.push(result.describe(delivery.id));
        }
    }
    Ok(report)
}
