//! postback-ledger: receives affiliate-network postbacks and keeps the payout ledger they imply.

pub mod decode;
pub mod money;
