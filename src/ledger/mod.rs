//! The write path: the writer threads, applying a batch of deliveries in one transaction, and
//! the commands that rewrite stored deliveries (reprocess, retention).

pub mod batch;
pub mod close;
pub mod kinds;
pub mod reconciliation;
pub mod refusals;
pub mod reprocess;
pub mod retention;
pub mod writer;
