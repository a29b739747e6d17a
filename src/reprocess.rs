//! `reprocess`: re-reads quarantined deliveries through the current configuration.

use crate::config::Settings;
use crate::delivery::{Reading, read};
use crate::storage::{Database, StorageError, deliveries, ingest};

#[derive(Debug, Default)]
pub struct Report {
    pub examined: usize,
    pub released: usize,
    pub still_quarantined: usize,
    /// One line per delivery: its id and what became of it.
    pub lines: Vec<String>,
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
            let Some(source) = settings.sources.get(&delivery.source) else {
                report.still_quarantined += 1;
                report.lines.push(format!(
                    "delivery {}: source `{}` is no longer configured",
                    delivery.id, delivery.source
                ));
                continue;
            };
            let body = delivery.body.as_deref().unwrap_or_default();
            let Reading {
                understood,
                warnings,
                payload,
            } = read(
                source,
                &delivery.query,
                delivery.content_type.as_deref(),
                body,
            );
            match understood {
                Ok(postback) => {
                    let is_test = matches!(&postback, crate::event::Postback::Action(event) if settings.testing.marks(event));
                    match ingest::release_quarantined(
                        &mut conn,
                        db.backend(),
                        delivery.id,
                        &postback,
                        &warnings,
                        payload.as_deref(),
                        is_test,
                    )? {
                        Some(outcome) => {
                            report.released += 1;
                            report.lines.push(format!(
                                "delivery {}: {}",
                                delivery.id,
                                outcome.as_str()
                            ));
                        }
                        None => report
                            .lines
                            .push(format!("delivery {}: already handled", delivery.id)),
                    }
                }
                Err(reason) => {
                    report.still_quarantined += 1;
                    report.lines.push(format!(
                        "delivery {}: still quarantined ({reason})",
                        delivery.id
                    ));
                }
            }
        }
    }
    Ok(report)
}
