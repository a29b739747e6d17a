//! One integration test binary: the real app over HTTP, on SQLite and on PostgreSQL.

mod helpers;

mod access;
mod cli;
mod devtools;
mod hardening;
mod health;
mod lifecycle;
mod receiving;
