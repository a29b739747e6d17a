//! One integration test binary: the real app over HTTP, on SQLite and on PostgreSQL.

mod helpers;

mod cli;
mod health;
mod kinds;
mod lifecycle;
mod receiving;
