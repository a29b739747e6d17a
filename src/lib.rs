//! postback-ledger: receives affiliate-network postbacks and keeps the payout ledger they imply.

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod decode;
pub mod delivery;
pub mod event;
pub mod inquiry;
pub mod kind_mapping;
pub mod mapping;
pub mod metrics;
pub mod money;
pub mod read_model;
pub mod reconcile;
pub mod reprocess;
pub mod retention;
pub mod routes;
pub mod send_test;
pub mod session;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod writer;
