//! One integration test binary: the real app over HTTP, on SQLite and on PostgreSQL.

mod helpers;

mod access;
mod alerts;
mod batching;
mod book;
mod browser;
mod cli;
mod connect;
mod cross_check;
mod dashboard;
mod dashboard_logs;
mod devtools;
mod durability;
mod errors;
mod exports;
mod hardening;
mod health;
mod kinds;
mod layers;
mod lifecycle;
mod login;
mod readers;
mod receiving;
mod refusals;
mod running_sums;
mod secrets;
mod signatures;
mod slow_bodies;
mod storing;
mod triage;

// Shared with the benchmark (benches/load.rs): the real binary as a child process, and the
// seed-shaped workload.
#[path = "../support/server.rs"]
mod server;
// A local stand-in for impact.com's Partner API (also the cross-check benchmark's).
#[path = "../support/impact_api.rs"]
mod impact_api;
#[path = "../support/workload.rs"]
mod workload;
