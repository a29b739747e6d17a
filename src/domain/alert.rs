//! When an alert starts and when it clears, pure: a partner learns of a broken postback setup
//! from the receiver, not weeks later from a short payment. Two kinds of trouble per source:
//! silence (no delivery for `alert_after`, after there were some), and a quarantine or
//! authentication-failure rate over a threshold within a window.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use crate::domain::money::Money;
use crate::domain::words::text_enum;

text_enum! {
    /// What an alert is about.
    pub enum AlertKind ("alert kind") {
        /// No delivery for longer than the source's `alert_after`.
        Silence = "silence",
        /// Too many of the window's deliveries were quarantined.
        QuarantineRate = "quarantine_rate",
        /// Too many of the window's requests were refused.
        AuthFailureRate = "auth_failure_rate",
        /// The last cross-check against the network failed.
        CrossCheckFailed = "cross_check_failed",
        /// The last cross-check found payout the network lists and the ledger lacks.
        MoneyMissing = "money_missing",
    }
}

/// The thresholds, from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Per source: alert when nothing arrived for this long (sources not named: never).
    pub silence: BTreeMap<String, Duration>,
    /// The rates are measured over this window, ending now.
    pub window: Duration,
    /// Quarantined deliveries / deliveries, at or above which a source alerts (None: never).
    pub quarantine_rate: Option<f64>,
    /// Refused requests / (deliveries + refused), at or above which a source alerts.
    pub auth_failure_rate: Option<f64>,
    /// A rate counts only over at least this many requests (one bad test is not trouble).
    pub min_requests: i64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            silence: BTreeMap::new(),
            window: Duration::hours(1),
            quarantine_rate: Some(0.5),
            auth_failure_rate: Some(0.5),
            min_requests: 10,
        }
    }
}

/// What one source did, as storage counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// The last delivery ever stored (None: never).
    pub last_delivery: Option<DateTime<Utc>>,
    /// Within the window.
    pub deliveries: i64,
    pub quarantined: i64,
    pub auth_failures: i64,
}

/// An alert that holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub source: String,
    pub kind: AlertKind,
    /// One sentence for a person (the webhook's text, the overview).
    pub message: String,
}

/// `7h 5m`, `45m`, `30s`, `2d 3h`: a duration as a person reads it.
pub fn shown_duration(duration: Duration) -> String {
    let seconds = duration.num_seconds().max(0);
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

fn percent(part: i64, whole: i64) -> i64 {
    (part * 100 + whole / 2) / whole.max(1)
}

/// Every alert that holds at `now`, per source (sources in `activity`; order kept).
pub fn conditions(
    rules: &Rules,
    now: DateTime<Utc>,
    activity: &[(String, Activity)],
) -> Vec<Condition> {
    let mut holding = Vec::new();
    let window = shown_duration(rules.window);
    for (source, seen) in activity {
        if let (Some(after), Some(last)) = (rules.silence.get(source), seen.last_delivery) {
            let quiet = now - last;
            if quiet >= *after {
                holding.push(Condition {
                    source: source.clone(),
                    kind: AlertKind::Silence,
                    message: format!(
                        "no postback from `{source}` for {} (the last arrived {} UTC; alert_after is {})",
                        shown_duration(quiet),
                        last.format("%Y-%m-%d %H:%M"),
                        shown_duration(*after)
                    ),
                });
            }
        }
        if let Some(rate) = rules.quarantine_rate
            && seen.deliveries >= rules.min_requests
            && seen.deliveries > 0
            && seen.quarantined as f64 >= rate * seen.deliveries as f64
        {
            holding.push(Condition {
                source: source.clone(),
                kind: AlertKind::QuarantineRate,
                message: format!(
                    "{} of {} postbacks to `{source}` in the last {window} were quarantined ({}%, alerting from {}%)",
                    seen.quarantined,
                    seen.deliveries,
                    percent(seen.quarantined, seen.deliveries),
                    (rate * 100.0).round()
                ),
            });
        }
        let requests = seen.deliveries + seen.auth_failures;
        if let Some(rate) = rules.auth_failure_rate
            && requests >= rules.min_requests
            && requests > 0
            && seen.auth_failures as f64 >= rate * requests as f64
        {
            holding.push(Condition {
                source: source.clone(),
                kind: AlertKind::AuthFailureRate,
                message: format!(
                    "{} of {requests} requests to `{source}` in the last {window} failed authentication ({}%, alerting from {}%)",
                    seen.auth_failures,
                    percent(seen.auth_failures, requests),
                    (rate * 100.0).round()
                ),
            });
        }
    }
    holding
}

/// What changed since the alerts that were open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Holding now, not open before: each is announced once.
    pub started: Vec<Condition>,
    /// Open before, no longer holding: each is announced once more, as cleared.
    pub cleared: Vec<(String, AlertKind)>,
}

/// Compares what holds now with the alerts open so far.
pub fn changes(open: &[(String, AlertKind)], holding: &[Condition]) -> Changes {
    let open_set: BTreeSet<(&str, AlertKind)> = open
        .iter()
        .map(|(source, kind)| (source.as_str(), *kind))
        .collect();
    let holding_set: BTreeSet<(&str, AlertKind)> = holding
        .iter()
        .map(|condition| (condition.source.as_str(), condition.kind))
        .collect();
    Changes {
        started: holding
            .iter()
            .filter(|condition| !open_set.contains(&(condition.source.as_str(), condition.kind)))
            .cloned()
            .collect(),
        cleared: open
            .iter()
            .filter(|(source, kind)| !holding_set.contains(&(source.as_str(), *kind)))
            .cloned()
            .collect(),
    }
}

/// The sentence an alert clears with.
pub fn cleared_message(source: &str, kind: AlertKind) -> String {
    match kind {
        AlertKind::Silence => format!("postbacks from `{source}` are arriving again"),
        AlertKind::QuarantineRate => {
            format!("postbacks to `{source}` are no longer quarantined at the alerting rate")
        }
        AlertKind::AuthFailureRate => {
            format!("requests to `{source}` no longer fail authentication at the alerting rate")
        }
        AlertKind::CrossCheckFailed => format!("the cross-check against {source} works again"),
        AlertKind::MoneyMissing => {
            format!("the last cross-check against {source} found no payout missing")
        }
    }
}

/// What the last cross-check against a network says: `failed` with its message, or the payout
/// it found missing per currency (none: the ledger has all the network lists).
pub enum LastCheck {
    Failed {
        run_id: i64,
        message: String,
    },
    Completed {
        run_id: i64,
        missing: Vec<(String, Money)>,
    },
}

/// The alerts the last cross-check against `network` (as a person names it) holds open.
pub fn cross_check_conditions(network: &str, last: &LastCheck) -> Vec<Condition> {
    match last {
        LastCheck::Failed { run_id, message } => vec![Condition {
            source: network.to_owned(),
            kind: AlertKind::CrossCheckFailed,
            message: format!("the cross-check against {network} failed (run {run_id}): {message}"),
        }],
        LastCheck::Completed { missing, .. } if missing.is_empty() => Vec::new(),
        LastCheck::Completed { run_id, missing } => {
            let money: Vec<String> = missing
                .iter()
                .map(|(currency, amount)| format!("{amount} {currency}").trim_end().to_owned())
                .collect();
            vec![Condition {
                source: network.to_owned(),
                kind: AlertKind::MoneyMissing,
                message: format!(
                    "{network} lists {} of payout the ledger does not have (reconciliation run {run_id}, /reconciliation/{run_id})",
                    money.join(" and ")
                ),
            }]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 4, 8, hour, minute, 0).unwrap()
    }

    fn silent_after(hours: i64) -> Rules {
        Rules {
            silence: [("actions".to_owned(), Duration::hours(hours))].into(),
            ..Rules::default()
        }
    }

    fn seen(last: Option<DateTime<Utc>>) -> Vec<(String, Activity)> {
        vec![(
            "actions".to_owned(),
            Activity {
                last_delivery: last,
                ..Activity::default()
            },
        )]
    }

    #[test]
    fn silence_starts_after_alert_after_and_never_before_a_first_delivery() {
        let rules = silent_after(6);
        assert!(conditions(&rules, at(20, 0), &seen(None)).is_empty());
        assert!(conditions(&rules, at(14, 59), &seen(Some(at(9, 0)))).is_empty());
        let holding = conditions(&rules, at(15, 5), &seen(Some(at(9, 0))));
        assert_eq!(holding.len(), 1);
        assert_eq!(holding[0].kind, AlertKind::Silence);
        assert!(
            holding[0].message.contains("for 6h 5m") && holding[0].message.contains("09:00"),
            "{}",
            holding[0].message
        );
        // Another source without alert_after never goes silent.
        let other = vec![(
            "other".to_owned(),
            Activity {
                last_delivery: Some(at(0, 0)),
                ..Activity::default()
            },
        )];
        assert!(conditions(&rules, at(23, 0), &other).is_empty());
    }

    #[test]
    fn rates_alert_at_the_threshold_over_enough_requests() {
        let rules = Rules::default();
        let busy = |deliveries, quarantined, auth_failures| {
            vec![(
                "actions".to_owned(),
                Activity {
                    last_delivery: Some(at(9, 0)),
                    deliveries,
                    quarantined,
                    auth_failures,
                },
            )]
        };
        let kinds = |activity: Vec<(String, Activity)>| -> Vec<AlertKind> {
            conditions(&rules, at(9, 0), &activity)
                .into_iter()
                .map(|condition| condition.kind)
                .collect()
        };
        assert_eq!(
            kinds(busy(9, 9, 0)),
            [] as [AlertKind; 0],
            "under min_requests"
        );
        assert_eq!(kinds(busy(10, 4, 0)), [] as [AlertKind; 0]);
        assert_eq!(kinds(busy(10, 5, 0)), [AlertKind::QuarantineRate]);
        assert_eq!(kinds(busy(4, 0, 6)), [AlertKind::AuthFailureRate]);
        assert_eq!(kinds(busy(6, 0, 4)), [] as [AlertKind; 0]);
        let off = Rules {
            quarantine_rate: None,
            auth_failure_rate: None,
            ..Rules::default()
        };
        assert!(conditions(&off, at(9, 0), &busy(100, 100, 100)).is_empty());
    }

    #[test]
    fn an_alert_starts_once_and_clears_once() {
        let rules = silent_after(6);
        let holding = conditions(&rules, at(16, 0), &seen(Some(at(9, 0))));
        let first = changes(&[], &holding);
        assert_eq!(first.started.len(), 1);
        assert!(first.cleared.is_empty());
        let open = vec![("actions".to_owned(), AlertKind::Silence)];
        assert_eq!(
            changes(&open, &holding),
            Changes::default(),
            "still holding: nothing new"
        );
        let after_delivery = conditions(&rules, at(16, 1), &seen(Some(at(16, 0))));
        let cleared = changes(&open, &after_delivery);
        assert!(cleared.started.is_empty());
        assert_eq!(cleared.cleared, open);
    }

    #[test]
    fn durations_read_as_a_person_writes_them() {
        assert_eq!(shown_duration(Duration::seconds(42)), "42s");
        assert_eq!(shown_duration(Duration::minutes(90)), "1h 30m");
        assert_eq!(shown_duration(Duration::hours(6)), "6h");
        assert_eq!(shown_duration(Duration::hours(50)), "2d 2h");
    }
}
