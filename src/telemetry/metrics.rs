//! Prometheus metrics: the names and one place that records each (`GET /metrics` is in `web`).
//!
//! The `metrics` facade is process-global: several apps in one process (the tests) share one
//! registry, which is why tests look for their own source names rather than exact totals.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const DELIVERIES: &str = "postback_ledger_deliveries_total";
pub const AUTH_FAILURES: &str = "postback_ledger_auth_failures_total";
pub const REQUEST_DURATION: &str = "postback_ledger_http_request_duration_seconds";
pub const WRITE_BATCH_SIZE: &str = "postback_ledger_write_batch_size";
pub const COMMIT_DURATION: &str = "postback_ledger_write_commit_duration_seconds";
pub const QUEUE_DEPTH: &str = "postback_ledger_write_queue_depth";
pub const DATABASE_ERRORS: &str = "postback_ledger_database_errors_total";
pub const LAST_DELIVERY: &str = "postback_ledger_last_delivery_timestamp_seconds";
pub const RAW_PRUNED: &str = "postback_ledger_raw_payloads_pruned_total";
pub const ALERTS_ACTIVE: &str = "postback_ledger_alerts_active";
pub const ALERT_WEBHOOK: &str = "postback_ledger_alert_webhook_total";
pub const OPEN_DIFFERENCES: &str = "postback_ledger_reconciliation_open_differences";
pub const RECONCILIATION_RUNS: &str = "postback_ledger_reconciliation_runs_total";
pub const CROSS_CHECK_ALERTS: &str = "postback_ledger_cross_check_alerts_total";

/// Seconds: a stored postback costs about one fsync, so the interesting range is 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Deliveries per transaction, up to the writer's largest batch (512).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often recorded histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The thread that runs the recorder's upkeep, by this name.
pub const UPKEEP_THREAD: &str = "metrics-upkeep";

/// Installs the recorder once per process and returns the handle that renders it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Full(WRITE_BATCH_SIZE.into()),
                        BATCH_BUCKETS,
                    )
                })
                .expect("bucket lists are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // A program embedding this crate may have installed its own recorder: then ours
            // renders only what is recorded through it, and nothing fails.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            // The recorder keeps every histogram sample until something drains it, so a receiver
            // nobody scrapes would grow with every request. The exporter's own upkeep task
            // comes only with its HTTP listener.
            let upkept = handle.clone();
            std::thread::Builder::new()
                .name(UPKEEP_THREAD.into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkept.run_upkeep();
                    }
                })
                .expect("spawning the metrics upkeep thread");
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(
        DELIVERIES,
        "Postbacks received, by source and outcome (applied, duplicate, stale, flagged, quarantined, not_stored)"
    );
    describe_counter!(
        AUTH_FAILURES,
        "Refused postbacks, by source and the check that failed"
    );
    describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "HTTP request latency, by method, route pattern and status"
    );
    describe_histogram!(WRITE_BATCH_SIZE, "Deliveries stored per transaction");
    describe_histogram!(
        COMMIT_DURATION,
        metrics::Unit::Seconds,
        "Time to store one batch, commit included"
    );
    describe_gauge!(QUEUE_DEPTH, "Deliveries waiting for the writer");
    describe_counter!(
        DATABASE_ERRORS,
        "Database operations that failed, by operation"
    );
    describe_gauge!(
        LAST_DELIVERY,
        metrics::Unit::Seconds,
        "Unix time of the last stored delivery, by source"
    );
    describe_counter!(RAW_PRUNED, "Deliveries whose raw payload retention removed");
    describe_gauge!(
        ALERTS_ACTIVE,
        "1 while an alert is open, by source and kind (silence, quarantine_rate, auth_failure_rate)"
    );
    describe_counter!(
        ALERT_WEBHOOK,
        "Alert webhook attempts, by result (sent, failed, gave_up, dropped)"
    );
    describe_gauge!(
        OPEN_DIFFERENCES,
        "Differences still open in the newest completed reconciliation run, by network"
    );
    describe_counter!(
        RECONCILIATION_RUNS,
        "Reconciliation runs ended, by network, source (api, report) and status"
    );
    describe_counter!(
        CROSS_CHECK_ALERTS,
        "Cross-check alerts raised, by network and kind (sync_failed, money_missing)"
    );
}

pub fn delivery(source: &str, outcome: &'static str) {
    counter!(DELIVERIES, "source" => source.to_owned(), "outcome" => outcome).increment(1);
    if outcome != "not_stored" {
        gauge!(LAST_DELIVERY, "source" => source.to_owned())
            .set(chrono::Utc::now().timestamp_micros() as f64 / 1e6);
    }
}

pub fn auth_failure(source: &str, reason: &'static str) {
    counter!(AUTH_FAILURES, "source" => source.to_owned(), "reason" => reason).increment(1);
}

/// `route` is the matched pattern (`/postbacks/{source}`), never the raw path: bounded labels.
pub fn request(method: &str, route: &str, status: u16, elapsed: Duration) {
    histogram!(
        REQUEST_DURATION,
        "method" => method.to_owned(),
        "route" => route.to_owned(),
        "status" => status.to_string()
    )
    .record(elapsed.as_secs_f64());
}

pub fn batch(size: usize, elapsed: Duration) {
    histogram!(WRITE_BATCH_SIZE).record(size as f64);
    histogram!(COMMIT_DURATION).record(elapsed.as_secs_f64());
}

pub fn queue_depth(depth: usize) {
    gauge!(QUEUE_DEPTH).set(depth as f64);
}

pub fn database_error(operation: &'static str) {
    counter!(DATABASE_ERRORS, "operation" => operation).increment(1);
}

pub fn alert_active(source: &str, kind: &'static str, active: bool) {
    gauge!(ALERTS_ACTIVE, "source" => source.to_owned(), "kind" => kind).set(if active {
        1.0
    } else {
        0.0
    });
}

pub fn alert_webhook(result: &'static str) {
    counter!(ALERT_WEBHOOK, "result" => result).increment(1);
}

pub fn open_differences(network: &str, open: i64) {
    gauge!(OPEN_DIFFERENCES, "network" => network.to_owned()).set(open as f64);
}

pub fn reconciliation_run(network: &str, source: &'static str, status: &'static str) {
    counter!(RECONCILIATION_RUNS, "network" => network.to_owned(), "source" => source, "status" => status)
        .increment(1);
}

pub fn cross_check_alert(network: &str, kind: &'static str) {
    counter!(CROSS_CHECK_ALERTS, "network" => network.to_owned(), "kind" => kind).increment(1);
}

pub fn pruned(count: usize) {
    counter!(RAW_PRUNED).increment(count as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without it, histogram samples pile up for as long as nobody scrapes `/metrics`.
    #[test]
    fn installing_the_recorder_starts_its_upkeep_thread() {
        install();
        let names = || -> Vec<String> {
            std::fs::read_dir("/proc/self/task")
                .expect("a Linux /proc")
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .map(|name| name.trim().to_owned())
                .collect()
        };
        // A new thread names itself once it first runs: give it a moment.
        for _ in 0..100 {
            if names().iter().any(|name| name == UPKEEP_THREAD) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no {UPKEEP_THREAD} thread among {:?}", names());
    }
}
