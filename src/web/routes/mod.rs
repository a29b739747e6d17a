//! HTTP routes: each extracts, calls and responds; the work is done elsewhere.

pub mod api;
pub mod cross_check;
pub mod exports;
pub mod health;
pub mod postbacks;
