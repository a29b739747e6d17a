//! HTTP routes: each extracts, calls and responds; the work is done elsewhere.

pub mod access;
pub mod api;
pub mod exports;
pub mod health;
pub mod limits;
pub mod pages;
pub mod postbacks;
