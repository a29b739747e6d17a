//! SQLite's checkpoints, copied off the writer's thread: the write-ahead log into the database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;

use super::{AnyConnection, Database};

/// Log pages at which a committing connection checkpoints by itself (SQLite's default is 1,000).
/// The checkpointer has copied nearly all of them by then; what the writer's checkpoint still
/// copies is the last few milliseconds' worth, and once the whole log is copied the next write
/// starts it over, which only a writer can do.
pub const WRITER_CHECKPOINT_PAGES: u32 = 10_000;

/// How long the checkpointer rests between checkpoints.
const PAUSE: Duration = Duration::from_millis(10);

/// Checkpoints the log (PASSIVE: never waits for, nor blocks, the writer or readers) again and
/// again until `stop` is set. The writer thread used to do it inside a commit, every 1,000
/// pages: a seventh of its time, and the batch's answers waited for it.
pub fn run_until(db: &Database, stop: &AtomicBool) {
    let mut conn = None;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(PAUSE);
        if conn.is_none() {
            conn = db.conn().ok();
        }
        if let Some(AnyConnection::Sqlite(c)) = conn.as_deref_mut()
            && let Err(error) = c.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")
        {
            // The writer's own checkpoints still bound the log; try again on a new connection.
            tracing::warn!(error = %error, "checkpoint failed");
            conn = None;
        }
    }
}
