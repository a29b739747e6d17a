//! postback-ledger: receives affiliate-network postbacks and keeps the payout ledger they imply.

pub mod auth;
pub mod decode;
pub mod event;
pub mod mapping;
pub mod money;
pub mod reconcile;
