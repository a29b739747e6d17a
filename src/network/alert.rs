//! What a cross-check tells someone: a sync that failed, or one that found money the ledger is
//! missing. Each is logged (at warning level, without credentials) and counted in `/metrics`
//! (`postback_ledger_cross_check_alerts_total`) as it happens; the alert watcher (`alerts`)
//! reads the last run, so the overview and `[alerts] webhook_url` hear of it once when it starts
//! and once when a later run clears it.

use crate::domain::money::Money;

/// Something a cross-check found that a person should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// A sync did not complete.
    SyncFailed {
        network: String,
        run_id: Option<i64>,
        message: String,
    },
    /// The network lists payout the ledger does not have (missing actions, higher payouts).
    MoneyMissing {
        network: String,
        run_id: i64,
        missing: Vec<(String, Money)>,
    },
}

impl Alert {
    pub fn kind(&self) -> &'static str {
        match self {
            Alert::SyncFailed { .. } => "sync_failed",
            Alert::MoneyMissing { .. } => "money_missing",
        }
    }

    pub fn network(&self) -> &str {
        match self {
            Alert::SyncFailed { network, .. } | Alert::MoneyMissing { network, .. } => network,
        }
    }

    /// One line, as a chat message reads it (`{"text": …}` for a Slack webhook).
    pub fn text(&self) -> String {
        let shown = |network: &str| match network {
            "impact" => "impact.com".to_owned(),
            other => other.to_owned(),
        };
        match self {
            Alert::SyncFailed {
                network,
                run_id,
                message,
            } => match run_id {
                Some(run_id) => format!(
                    "The cross-check against {} failed (run {run_id}): {message}",
                    shown(network)
                ),
                None => format!(
                    "The cross-check against {} failed: {message}",
                    shown(network)
                ),
            },
            Alert::MoneyMissing {
                network,
                run_id,
                missing,
            } => {
                let money: Vec<String> = missing
                    .iter()
                    .map(|(currency, amount)| format!("{amount} {currency}").trim_end().to_owned())
                    .collect();
                format!(
                    "{} lists {} of payout the ledger does not have (reconciliation run {run_id}, /reconciliation/{run_id})",
                    shown(network),
                    money.join(" and ")
                )
            }
        }
    }
}

/// Raises an alert: logged and counted; see the module's seam note.
pub fn raise(alert: &Alert) {
    tracing::warn!(
        alert = alert.kind(),
        network = alert.network(),
        "{}",
        alert.text()
    );
    crate::telemetry::metrics::cross_check_alert(alert.network(), alert.kind());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_says_what_happened_in_one_line() {
        let failed = Alert::SyncFailed {
            network: "impact".into(),
            run_id: Some(7),
            message: "impact.com refused the credentials (401)".into(),
        };
        assert_eq!(
            failed.text(),
            "The cross-check against impact.com failed (run 7): impact.com refused the credentials (401)"
        );
        let missing = Alert::MoneyMissing {
            network: "impact".into(),
            run_id: 8,
            missing: vec![
                ("EUR".into(), "32.25".parse().unwrap()),
                ("USD".into(), "43.00".parse().unwrap()),
            ],
        };
        assert_eq!(missing.kind(), "money_missing");
        assert_eq!(
            missing.text(),
            "impact.com lists 32.25 EUR and 43.00 USD of payout the ledger does not have (reconciliation run 8, /reconciliation/8)"
        );
    }
}
