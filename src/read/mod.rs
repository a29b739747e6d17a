//! What the pages, the JSON API and the CSV exports show, assembled from storage.

pub mod chart;
pub mod csv_format;
pub mod export;
pub mod filter;
pub mod format;
pub mod log;
pub mod model;
pub mod overview;
pub mod statement;
