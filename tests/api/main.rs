//! One integration test binary: the real app over HTTP, on SQLite and on PostgreSQL.

mod helpers;

mod cli;
mod devtools;
mod health;
mod lifecycle;
mod receiving;
