//! SQLite's checkpoints, copied off the writer's thread: the write-ahead log into the database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::Integer;

use super::{AnyConnection, Database};

/// Log pages at which a committing connection checkpoints by itself (SQLite's default is 1,000).
/// The checkpointer has copied nearly all of them by then; what the writer's checkpoint still
/// copies is the last few milliseconds' worth, and once the whole log is copied the next write
/// starts it over, which only a writer can do.
pub const WRITER_CHECKPOINT_PAGES: u32 = 10_000;

/// How long the checkpointer rests while the log grows, and once it has stopped growing (an
/// idle server need not wake a hundred times a second).
const PAUSE: Duration = Duration::from_millis(10);
const IDLE_PAUSE: Duration = Duration::from_millis(200);

/// What `PRAGMA wal_checkpoint` answers: pages in the log, and how many of them are copied.
#[derive(QueryableByName)]
struct Progress {
    #[diesel(sql_type = Integer)]
    log: i32,
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

/// Checkpoints the log (PASSIVE: never waits for, nor blocks, the writer or readers) again and
/// again until `stop` is set. The writer thread used to do it inside a commit, every 1,000
/// pages: a seventh of its time, and the batch's answers waited for it.
pub fn run_until(db: &Database, stop: &AtomicBool) {
    let mut conn = None;
    let mut pause = PAUSE;
    let mut last_log = -1;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(pause);
        if conn.is_none() {
            conn = db.conn().ok();
        }
        let Some(AnyConnection::Sqlite(c)) = conn.as_deref_mut() else {
            continue;
        };
        match diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result::<Progress>(c) {
            Ok(progress) => {
                // The same log as last time, all of it copied: nothing is being written.
                let quiet = progress.log == last_log && progress.checkpointed == progress.log;
                pause = if quiet { IDLE_PAUSE } else { PAUSE };
                last_log = progress.log;
            }
            Err(error) => {
                // The writer's own checkpoints still bound the log; try again on a new connection.
                tracing::warn!(error = %error, "checkpoint failed");
                conn = None;
            }
        }
    }
}
