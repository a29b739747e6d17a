//! The network's own records, fetched and read: impact.com's Partner API client (`impact`), the
//! `sync` that compares a period of it with the ledger, the `import` of an Action Listing report,
//! the schedule `serve` runs the sync on, and the alerts a sync raises. The run itself (compare,
//! store, fill) is the ledger's: `ledger::reconciliation`.

pub mod alert;
pub mod impact;
pub mod import;
pub mod schedule;
pub mod sync;
