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

/// How long to rest after a pass: long only when the log is the one seen last time and all of it
/// is copied. A pass that could not run (another connection, the writer at its own threshold,
/// held the checkpoint lock) answers -1 for both counts: a busy server, not a quiet one. Read as
/// quiet, it left the log to the writer, whose checkpoint inside a commit stalls every postback.
fn pause_after(progress: &Progress, last_log: i32) -> Duration {
    let ran = progress.log >= 0;
    let quiet = ran && progress.log == last_log && progress.checkpointed == progress.log;
    if quiet { IDLE_PAUSE } else { PAUSE }
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
                pause = pause_after(&progress, last_log);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(log: i32, checkpointed: i32) -> Progress {
        Progress { log, checkpointed }
    }

    #[test]
    fn a_log_that_neither_grew_nor_has_pages_left_to_copy_is_quiet() {
        assert_eq!(pause_after(&pass(120, 120), 120), IDLE_PAUSE);
        assert_eq!(pause_after(&pass(0, 0), 0), IDLE_PAUSE);
    }

    #[test]
    fn a_log_that_grew_or_is_not_all_copied_is_busy() {
        assert_eq!(pause_after(&pass(130, 130), 120), PAUSE);
        assert_eq!(pause_after(&pass(120, 100), 120), PAUSE);
    }

    #[test]
    fn a_pass_that_could_not_run_is_busy_even_twice_in_a_row() {
        assert_eq!(pause_after(&pass(-1, -1), 500), PAUSE);
        assert_eq!(pause_after(&pass(-1, -1), -1), PAUSE);
    }
}
