//! What the pages, the JSON API and the CSV exports show, assembled from storage.

pub mod actions;
pub mod arrivals;
pub mod catalog;
pub mod chart;
pub mod csv_format;
pub mod deliveries;
pub mod export;
pub mod filter;
pub mod format;
pub mod inquiries;
pub mod log;
pub mod overview;
pub mod reconciliation;
pub mod statement;
pub mod timeline;
