//! What the dashboard pages, the exports and their JSON twins show: filters, formatting, the
//! chart, and the read models that assemble them from storage.

pub mod chart;
pub mod csv_format;
pub mod export;
pub mod filter;
pub mod format;
pub mod log;
pub mod overview;
pub mod statement;
