//! Silence and trouble alerts, for as long as the server runs: evaluated on a timer from what
//! storage counts, by the rule in `domain::alert`. Each start and each clear is written once
//! (the database decides between instances) and announced by the instance that wrote it, on the
//! overview, in `/metrics` and to `[alerts] webhook_url`, never on the receiver's path.

pub mod webhook;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::config::Alerts;
use crate::domain::alert::{
    Activity, AlertKind, LastCheck, changes, cleared_message, conditions, cross_check_conditions,
};
use crate::domain::clock::Clock;
use crate::domain::cross_check::{RunStatus, money_missing};
use crate::storage::{
    AnyConnection, Database, StorageError, activity, alerts, from_db_time, overview,
    reconciliation_differences, reconciliation_runs, to_db_time,
};

/// The network whose cross-check runs raise alerts, and its name in them.
const CROSS_CHECKED: &str = "impact";
const CROSS_CHECKED_NAME: &str = "impact.com";

/// The last cross-check that ended: failed, or the payout it found missing.
fn last_cross_check(
    conn: &mut AnyConnection,
    network: &str,
) -> Result<Option<LastCheck>, StorageError> {
    let Some(run) = reconciliation_runs::latest_ended(conn, network)? else {
        return Ok(None);
    };
    Ok(Some(if run.status == RunStatus::Failed {
        LastCheck::Failed {
            run_id: run.id,
            message: run.message.unwrap_or_default(),
        }
    } else {
        LastCheck::Completed {
            run_id: run.id,
            missing: money_missing(
                reconciliation_differences::totals(conn, run.id)?
                    .into_iter()
                    .map(|total| (total.kind, total.currency, total.open, total.payout_delta)),
            ),
        }
    }))
}

/// One start or clear, to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub source: String,
    pub kind: AlertKind,
    pub started: bool,
    pub message: String,
}

impl Notice {
    /// The webhook's text: one line a person reads in a chat channel.
    pub fn text(&self, link: Option<&str>) -> String {
        let head = if self.started {
            "postback-ledger alert:"
        } else {
            "postback-ledger cleared:"
        };
        match link {
            Some(link) => format!("{head} {} ({link}/)", self.message),
            None => format!("{head} {}", self.message),
        }
    }
}

/// Evaluates the alerts of the configured sources.
pub struct Watcher {
    db: Database,
    alerts: Alerts,
    sources: Vec<String>,
    clock: Clock,
    /// The (source, kind) this instance last showed as active in `/metrics`.
    shown: Mutex<BTreeSet<(String, AlertKind)>>,
}

impl Watcher {
    pub fn new(db: Database, alerts: Alerts, sources: Vec<String>, clock: Clock) -> Watcher {
        Watcher {
            db,
            alerts,
            sources,
            clock,
            shown: Mutex::new(BTreeSet::new()),
        }
    }

    /// One evaluation (blocking: it queries). Returns what this instance is to announce.
    pub fn evaluate(&self) -> Result<Vec<Notice>, StorageError> {
        let now = self.clock.now();
        let rules = &self.alerts.rules;
        let mut conn = self.db.conn()?;
        let since = to_db_time(now - rules.window);
        let mut seen: BTreeMap<&str, Activity> = self
            .sources
            .iter()
            .map(|source| (source.as_str(), Activity::default()))
            .collect();
        for count in activity::deliveries_since(&mut conn, since)? {
            if let Some(seen) = seen.get_mut(count.source.as_str()) {
                seen.deliveries = count.deliveries;
                seen.quarantined = count.quarantined;
            }
        }
        for (source, failures) in activity::auth_failures_since(&mut conn, since)? {
            if let Some(seen) = seen.get_mut(source.as_str()) {
                seen.auth_failures = failures;
            }
        }
        for source in rules.silence.keys() {
            if let Some(seen) = seen.get_mut(source.as_str()) {
                seen.last_delivery = overview::last_delivery(&mut conn, source)?.map(from_db_time);
            }
        }
        let seen: Vec<(String, Activity)> = seen
            .into_iter()
            .map(|(source, activity)| (source.to_owned(), activity))
            .collect();
        let mut holding = conditions(rules, now, &seen);
        if let Some(last) = last_cross_check(&mut conn, CROSS_CHECKED)? {
            holding.extend(cross_check_conditions(CROSS_CHECKED_NAME, &last));
        }
        let open: Vec<(String, AlertKind)> = alerts::open(&mut conn)?
            .into_iter()
            .map(|alert| (alert.source, alert.kind))
            .collect();
        let changed = changes(&open, &holding);
        let at = to_db_time(now);
        let mut notices = Vec::new();
        for condition in changed.started {
            if alerts::start(
                &mut conn,
                &condition.source,
                condition.kind,
                &condition.message,
                at,
            )? {
                notices.push(Notice {
                    source: condition.source,
                    kind: condition.kind,
                    started: true,
                    message: condition.message,
                });
            }
        }
        for (source, kind) in changed.cleared {
            if alerts::clear(&mut conn, &source, kind, at)? {
                notices.push(Notice {
                    message: cleared_message(&source, kind),
                    source,
                    kind,
                    started: false,
                });
            }
        }
        // Active as the database has them after this round, whichever instance opened them.
        let active: BTreeSet<(String, AlertKind)> = alerts::open(&mut conn)?
            .into_iter()
            .map(|alert| (alert.source, alert.kind))
            .collect();
        let mut shown = self
            .shown
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (source, kind) in shown.difference(&active) {
            crate::telemetry::metrics::alert_active(source, kind.as_str(), false);
        }
        for (source, kind) in &active {
            crate::telemetry::metrics::alert_active(source, kind.as_str(), true);
        }
        *shown = active;
        Ok(notices)
    }

    /// Evaluates every `check_every` on the runtime it is called from, announcing each change;
    /// `link` (the public URL) goes with each webhook message.
    pub fn spawn(self, webhook: Option<webhook::Webhook>, link: Option<String>) {
        let every = self.alerts.check_every;
        let watcher = Arc::new(self);
        actix_web::rt::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let evaluating = watcher.clone();
                match tokio::task::spawn_blocking(move || evaluating.evaluate()).await {
                    Ok(Ok(notices)) => {
                        for notice in notices {
                            if notice.started {
                                tracing::warn!(source = %notice.source, kind = notice.kind.as_str(), message = %notice.message, "alert");
                            } else {
                                tracing::info!(source = %notice.source, kind = notice.kind.as_str(), message = %notice.message, "alert cleared");
                            }
                            if let Some(webhook) = &webhook {
                                webhook.send(notice.text(link.as_deref()));
                            }
                        }
                    }
                    Ok(Err(error)) => {
                        crate::telemetry::metrics::database_error("alerts");
                        tracing::warn!(error = %error, "evaluating the alerts failed; trying again at the next check");
                    }
                    Err(error) => {
                        tracing::error!(error = %error, "evaluating the alerts did not run")
                    }
                }
            }
        });
    }
}
