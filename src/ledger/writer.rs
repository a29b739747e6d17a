//! Group commit: request handlers hand deliveries to the writer threads (one on SQLite), each of
//! which stores as many as are waiting in one transaction and answers each with its own outcome.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::domain::event::Quarantine;
use crate::domain::outcome::Stored;
use crate::intake::delivery::IncomingDelivery;
use crate::ledger::batch;
use crate::storage::{Backend, Database, PooledConn, StorageError, checkpoint};

/// How many deliveries may wait for the writer before new ones are refused with 503.
pub const DEFAULT_QUEUE_CAPACITY: usize = 4_096;
/// The most deliveries stored in one transaction.
pub const DEFAULT_MAX_BATCH: usize = 512;
/// Writer threads on PostgreSQL (its pool has 12 connections; the API and /readyz need some).
/// Two overlap one's round trips with the other's work; more made batches smaller, so more
/// commits and round trips per delivery for no more throughput (docs/performance.md).
pub const POSTGRES_WRITERS: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("the write queue is full")]
    QueueFull,
    #[error("not stored: {0}")]
    NotStored(String),
    #[error("the writer has stopped")]
    Stopped,
}

struct Job {
    delivery: IncomingDelivery,
    reply: oneshot::Sender<Reply>,
}

/// The outcome, with the delivery handed back: freeing its many small allocations is left to
/// the request handler, off the one thread every write waits for.
type Reply = (Result<Stored, WriteError>, IncomingDelivery);

/// The handle request handlers hold. Dropping every clone lets the writer finish and stop.
#[derive(Clone)]
pub struct Writer {
    jobs: SyncSender<Job>,
    depth: Arc<AtomicUsize>,
}

impl Writer {
    /// `threads` writers take batches from one queue. On SQLite one is right (the database has
    /// one writer); on PostgreSQL a writer spends most of its time waiting for round trips, so
    /// several overlap them, and the ordered action locks of `batch::apply_batch` keep them
    /// from deadlocking each other. The handle ends when all of them have drained the queue.
    pub fn start(
        db: Database,
        capacity: usize,
        max_batch: usize,
        threads: usize,
    ) -> (Writer, JoinHandle<()>) {
        let (jobs, queue) = sync_channel(capacity);
        let queue = Arc::new(Mutex::new(queue));
        let depth = Arc::new(AtomicUsize::new(0));
        let writers: Vec<JoinHandle<()>> = (0..threads.max(1))
            .map(|n| {
                let (db, queue, depth) = (db.clone(), queue.clone(), depth.clone());
                std::thread::Builder::new()
                    .name(format!("ledger-writer-{n}"))
                    .spawn(move || run(db, queue, max_batch, depth))
                    .expect("spawning a writer thread")
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let checkpointer = (db.backend() == Backend::Sqlite).then(|| {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("wal-checkpoint".into())
                .spawn(move || checkpoint::run_until(&db, &stop))
                .expect("spawning the checkpointer")
        });
        let handle = std::thread::Builder::new()
            .name("ledger-writers".into())
            .spawn(move || {
                for writer in writers {
                    if writer.join().is_err() {
                        panic!("a writer thread panicked");
                    }
                }
                stop.store(true, Ordering::Relaxed);
                if let Some(checkpointer) = checkpointer {
                    let _ = checkpointer.join();
                }
            })
            .expect("spawning the writers' joiner");
        (Writer { jobs, depth }, handle)
    }

    /// Stores one delivery; resolves once its transaction has committed (or failed).
    pub async fn store(&self, delivery: IncomingDelivery) -> Result<Stored, WriteError> {
        let (reply, answer) = oneshot::channel();
        // Counted before sending: counted after, the writer could take the job first and
        // subtract below zero (the counter would wrap and the gauge read 1.8e19).
        crate::telemetry::metrics::queue_depth(self.depth.fetch_add(1, Ordering::Relaxed) + 1);
        if let Err(error) = self.jobs.try_send(Job { delivery, reply }) {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            return Err(match error {
                TrySendError::Full(_) => WriteError::QueueFull,
                TrySendError::Disconnected(_) => WriteError::Stopped,
            });
        }
        answer
            .await
            .map_or(Err(WriteError::Stopped), |(result, _delivery)| result)
    }

    /// Deliveries waiting for the writer now.
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }
}

/// Takes what is waiting, up to `max_batch`, holding the queue only while taking it.
fn next_batch(queue: &Mutex<Receiver<Job>>, max_batch: usize) -> Option<Vec<Job>> {
    let queue = queue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let first = queue.recv().ok()?;
    let mut batch = vec![first];
    while batch.len() < max_batch {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

fn run(db: Database, queue: Arc<Mutex<Receiver<Job>>>, max_batch: usize, depth: Arc<AtomicUsize>) {
    // The writer keeps its connection, and with it the statements it keeps prepared, until a
    // batch fails (the connection may be what failed: the next batch takes a new one).
    let mut kept: Option<PooledConn> = None;
    // Ends when every Writer is dropped and the queue is drained: nothing accepted is abandoned.
    while let Some(batch) = next_batch(&queue, max_batch) {
        let waiting = depth
            .fetch_sub(batch.len(), Ordering::Relaxed)
            .saturating_sub(batch.len());
        crate::telemetry::metrics::queue_depth(waiting);
        let (deliveries, replies): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|job| (job.delivery, job.reply))
            .unzip();
        let started = std::time::Instant::now();
        match store_batch(&db, &mut kept, &deliveries)
            .map(|results| keep_raw_what_failed(&db, &mut kept, &deliveries, results))
        {
            Ok(results) => {
                crate::telemetry::metrics::batch(deliveries.len(), started.elapsed());
                tracing::debug!(
                    batch = deliveries.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "batch committed"
                );
                for ((reply, result), delivery) in replies.into_iter().zip(results).zip(deliveries)
                {
                    let result = result.map_err(|error| {
                        crate::telemetry::metrics::database_error("store_delivery");
                        tracing::error!(error = %error, "a delivery was not stored");
                        WriteError::NotStored(error.to_string())
                    });
                    let _ = reply.send((result, delivery));
                }
            }
            Err(error) => {
                crate::telemetry::metrics::database_error("store_batch");
                tracing::error!(error = %error, batch = deliveries.len(), "a batch was not stored");
                for (reply, delivery) in replies.into_iter().zip(deliveries) {
                    let _ = reply.send((Err(WriteError::NotStored(error.to_string())), delivery));
                }
            }
        }
    }
}

/// The most of a database error a quarantine reason keeps.
const REASON_CHARS: usize = 300;

/// Deliveries the database refused in their parsed form (a value it cannot hold, a constraint)
/// are stored again raw and quarantined with the reason, so nothing authenticated is lost to
/// the form it was read into: `reprocess` can read them again. A delivery that cannot be stored
/// even so (the database is down) keeps its error, and is answered 503.
fn keep_raw_what_failed(
    db: &Database,
    kept: &mut Option<PooledConn>,
    deliveries: &[IncomingDelivery],
    mut results: Vec<Result<Stored, StorageError>>,
) -> Vec<Result<Stored, StorageError>> {
    let failed: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(index, result)| result.is_err() && deliveries[*index].understood.is_ok())
        .map(|(index, _)| index)
        .collect();
    if failed.is_empty() {
        return results;
    }
    let raw: Vec<IncomingDelivery> = failed
        .iter()
        .map(|&index| {
            let reason = results[index]
                .as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default();
            kept_raw(&deliveries[index], &reason)
        })
        .collect();
    match store_batch(db, kept, &raw) {
        Ok(stored) => {
            for (index, result) in failed.into_iter().zip(stored) {
                if let Ok(stored) = &result {
                    tracing::warn!(
                        delivery_id = stored.delivery_id,
                        source = %deliveries[index].source,
                        "a delivery could not be stored as read; stored raw and quarantined"
                    );
                    results[index] = result;
                }
            }
        }
        Err(error) => {
            tracing::error!(error = %error, "deliveries not stored as read could not be stored raw either")
        }
    }
    results
}

/// The delivery as it arrived, quarantined with why its parsed form was not stored; its text
/// without NUL (the body is bytes and keeps every byte).
fn kept_raw(delivery: &IncomingDelivery, error: &str) -> IncomingDelivery {
    let text = |text: &str| text.replace('\0', "");
    let mut reason: String = error.chars().take(REASON_CHARS).collect();
    reason = text(&reason);
    IncomingDelivery {
        source: text(&delivery.source),
        kind: delivery.kind,
        received_at: delivery.received_at,
        method: text(&delivery.method),
        content_type: delivery.content_type.as_deref().map(text),
        query: text(&delivery.query),
        body: delivery.body.clone(),
        client_addr: delivery.client_addr.as_deref().map(text),
        dedup_key: delivery.dedup_key.clone(),
        legacy_key: delivery.legacy_key.clone(),
        understood: Err(Quarantine::NotStorable(reason)),
        warnings: delivery.warnings.iter().map(|w| text(w)).collect(),
        is_test: delivery.is_test,
    }
}

/// Applies the batch on the kept connection; if that fails, once more on a new one (the kept
/// one may have been broken by a database restart: the batch was rolled back, and a commit that
/// did go through is found again by the dedup keys). Keeps the connection that worked.
fn store_batch(
    db: &Database,
    kept: &mut Option<PooledConn>,
    deliveries: &[IncomingDelivery],
) -> Result<Vec<Result<Stored, StorageError>>, StorageError> {
    if let Some(mut conn) = kept.take() {
        match batch::apply_batch(&mut conn, db.backend(), deliveries) {
            Ok(results) => {
                *kept = Some(conn);
                return Ok(results);
            }
            Err(error) => {
                tracing::warn!(error = %error, "a batch failed; trying it on a new connection")
            }
        }
    }
    let mut conn = db.conn()?;
    let results = batch::apply_batch(&mut conn, db.backend(), deliveries)?;
    *kept = Some(conn);
    Ok(results)
}
