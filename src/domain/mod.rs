//! The rules of the domain, pure: no HTTP, no SQL.

pub mod alert;
pub mod book;
pub mod bucket;
pub mod clock;
pub mod cross_check;
pub mod details;
pub mod event;
pub mod explain;
pub mod inquiry;
pub mod money;
pub mod outcome;
pub mod reconcile;
pub mod words;
