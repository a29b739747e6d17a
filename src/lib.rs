//! postback-ledger: receives affiliate-network postbacks and keeps the payout ledger they imply.
//!
//! The layers, arrows pointing one way (each depends only on those listed before it):
//!
//! - [`domain`]: the rules, pure: money, events, the ledger and inquiry rules, outcomes, buckets.
//! - [`telemetry`]: logs and the metrics recorder.
//! - [`intake`]: a request becomes a typed event: authentication, decoding, field mapping.
//! - [`storage`]: SQL only, one file per table or report, on SQLite or PostgreSQL.
//! - [`ledger`]: the write path: the writer threads, applying a batch, reprocess, retention, and
//!   the reconciliation run (compare with a network's records, fill).
//! - [`network`]: a network's own records fetched and read: impact.com's API client, `sync`,
//!   `import` of a report, the schedule, the cross-check's alerts.
//! - [`read`]: what the pages, the API and the exports show, per subject.
//! - [`config`]: the configuration file and its defaults, resolved into sources and settings.
//! - [`alerts`]: silence and trouble alerts, evaluated on a timer and sent to a webhook.
//! - [`web`]: the HTTP server: startup, routes, pages, access, sessions.
//! - [`cli`]: the commands (`serve`, `check`, `send-test`, …).

pub mod domain;
pub mod telemetry;

pub mod intake;
pub mod storage;

pub mod ledger;
pub mod network;
pub mod read;

pub mod config;

pub mod alerts;

pub mod cli;
pub mod web;
