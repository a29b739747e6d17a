//! The throughput benchmark: `cargo bench --bench load [-- --postgres URL]`.
//!
//! Starts the real binary (`serve`, release build) on a fresh database, drives it over loopback
//! with the seed payload shapes at each concurrency, measures `/healthz` on the same server in
//! the same run, then proves that every acknowledged postback is in the ledger and that
//! `postback-ledger check` passes. Repeats the whole run and prints the medians.

#[path = "support/client.rs"]
mod client;
#[path = "../tests/support/fresh_postgres.rs"]
mod fresh_postgres;
#[path = "../tests/support/server.rs"]
mod server;
#[path = "../tests/support/workload.rs"]
mod workload;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client::Connection;
use fresh_postgres::FreshPostgres;
use server::{SECRET, Server, threads_cpu_ns};
use workload::{ActionHistory, Workload};

const USAGE: &str = "usage: cargo bench --bench load -- [--postgres URL | --both URL] [--runs N] [--seconds S] [--concurrency 16,64] [--client-threads N]

  --postgres URL      benchmark PostgreSQL: a fresh database is created next to URL's (and dropped);
                      also $BENCH_POSTGRES_URL. Default: SQLite in a temporary directory.
  --both URL          SQLite and PostgreSQL (as --postgres URL) in one invocation, a run of each in
                      turn, so their ratio is measured on one machine state
  --runs N            whole runs, each on a fresh database; medians are reported (default 3)
  --seconds S         seconds of postbacks per concurrency level (default 4; /healthz gets half)
  --concurrency LIST  concurrent senders per level (default 16,64)
  --client-threads N  threads of the load generator (default 1, leaving the cores to the server)
  --preload N         before each run, write N tracked actions straight through the storage module
                      (512 per transaction), to measure how throughput grows with the ledger's size
  --soak-seconds S    instead of the levels, one long run at the highest concurrency, printing the
                      server's current RSS and the throughput every 10 s (the issue's soak: 600)";

struct Options {
    postgres: Option<String>,
    /// SQLite too, alternating with PostgreSQL.
    both: bool,
    runs: usize,
    seconds: f64,
    levels: Vec<usize>,
    client_threads: usize,
    preload: usize,
    soak_seconds: f64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        postgres: std::env::var("BENCH_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty()),
        both: false,
        runs: 3,
        seconds: 4.0,
        levels: vec![16, 64],
        client_threads: 1,
        preload: 0,
        soak_seconds: 0.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            // cargo bench passes --bench to every bench target.
            "--bench" => {}
            "--postgres" => options.postgres = Some(value("--postgres")?),
            "--both" => {
                options.postgres = Some(value("--both")?);
                options.both = true;
            }
            "--runs" => options.runs = value("--runs")?.parse().map_err(|e| format!("{e}"))?,
            "--seconds" => {
                options.seconds = value("--seconds")?.parse().map_err(|e| format!("{e}"))?
            }
            "--concurrency" => {
                options.levels = value("--concurrency")?
                    .split(',')
                    .map(|n| n.trim().parse().map_err(|e| format!("{e}")))
                    .collect::<Result<_, _>>()?
            }
            "--client-threads" => {
                options.client_threads = value("--client-threads")?
                    .parse()
                    .map_err(|e| format!("{e}"))?
            }
            "--preload" => {
                options.preload = value("--preload")?.parse().map_err(|e| format!("{e}"))?
            }
            "--soak-seconds" => {
                options.soak_seconds = value("--soak-seconds")?
                    .parse()
                    .map_err(|e| format!("{e}"))?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if options.runs == 0 || options.levels.is_empty() || options.client_threads == 0 {
        return Err("--runs, --concurrency and --client-threads must be positive".into());
    }
    Ok(options)
}

#[derive(Debug, Clone, Default)]
struct Level {
    concurrency: usize,
    postbacks_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    healthz_per_s: f64,
    refused_503: u64,
    /// The server's CPU time per stored postback, in µs: its writer threads, SQLite's
    /// checkpointer, the rest.
    writer_us: f64,
    checkpointer_us: f64,
    handlers_us: f64,
    /// This process's CPU time per stored postback: the load generator shares the cores.
    client_us: f64,
    /// PostgreSQL's processes' CPU time per stored postback (every process named `postgres` on
    /// this machine: other work on the same server counts too).
    postgres_us: f64,
    /// The writer's transactions: how many deliveries each stored on average, and how long each
    /// took from start to commit, in ms (from the server's `/metrics`).
    mean_batch: f64,
    mean_batch_ms: f64,
    /// What the writer wrote per batch, in write-ahead log frames (a 4 KiB page and its 24-byte
    /// header; SQLite only).
    log_frames_per_batch: f64,
}

struct Run {
    levels: Vec<Level>,
    peak_rss_mib: f64,
    problems: Vec<String>,
}

/// What the senders of one level bring back.
#[derive(Default)]
struct Tally {
    acknowledged: u64,
    latencies_us: Vec<u32>,
    delivery_ids: Vec<i64>,
    /// Actions with an event that never got a 200.
    uncertain: HashSet<usize>,
    refused_503: u64,
    /// Acknowledged postbacks by the outcome the server named (`x-delivery-outcome`).
    outcomes: BTreeMap<String, u64>,
    errors: Vec<String>,
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_postback-ledger"));
    let backends: Vec<Option<&str>> = match (&options.postgres, options.both) {
        (Some(url), true) => vec![None, Some(url.as_str())],
        (postgres, false) => vec![postgres.as_deref()],
        (None, true) => unreachable!("--both takes a URL"),
    };
    let name = |postgres: Option<&str>| {
        if postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    };
    println!(
        "postback-ledger load benchmark: {}, {} run(s), {} s per level, concurrency {:?}, {} client thread(s), {} cores",
        backends
            .iter()
            .map(|b| name(*b))
            .collect::<Vec<_>>()
            .join(" and "),
        options.runs,
        options.seconds,
        options.levels,
        options.client_threads,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // runs[backend][run]: each run of every backend in turn, so a change in the machine's load
    // falls on both.
    let mut runs: Vec<Vec<Run>> = backends.iter().map(|_| Vec::new()).collect();
    for run in 1..=options.runs {
        for (b, postgres) in backends.iter().enumerate() {
            // Other work on the machine moves every figure: say how busy it was.
            let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
            let load = load.split_whitespace().next().unwrap_or("?");
            println!(
                "run {run} ({}): load average before it {load}",
                name(*postgres)
            );
            runs[b].push(one_run(&options, *postgres, &binary, run));
        }
    }
    for (b, postgres) in backends.iter().enumerate() {
        print_medians(name(*postgres), &runs[b]);
    }
    if let [sqlite, postgres] = &runs[..] {
        println!();
        println!("PostgreSQL's postbacks/s over SQLite's, per pair of runs (median, range):");
        for n in 0..sqlite[0].levels.len() {
            let ratios: Vec<f64> = sqlite
                .iter()
                .zip(postgres)
                .map(|(s, p)| p.levels[n].postbacks_per_s / s.levels[n].postbacks_per_s)
                .collect();
            let (low, high) = ratios
                .iter()
                .fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(*r), h.max(*r)));
            println!(
                "c={}: {:.2} ({low:.2}–{high:.2})",
                sqlite[0].levels[n].concurrency,
                median(ratios.clone())
            );
        }
    }
    let runs: Vec<Run> = runs.into_iter().flatten().collect();
    let problems: Vec<&String> = runs.iter().flat_map(|run| &run.problems).collect();
    if problems.is_empty() {
        println!(
            "every run verified: acknowledged postbacks all stored, payouts as implied, check ok"
        );
        ExitCode::SUCCESS
    } else {
        for problem in problems.iter().take(20) {
            println!("PROBLEM: {problem}");
        }
        println!("{} problem(s)", problems.len());
        ExitCode::from(1)
    }
}

fn print_medians(backend: &str, runs: &[Run]) {
    println!();
    println!("medians of {} run(s), {backend}:", runs.len());
    println!(
        "| concurrency | postbacks/s | p50 ms | p99 ms | /healthz req/s | postbacks / healthz | writer CPU µs/postback | checkpointer CPU µs/postback | handlers CPU µs/postback | load generator CPU µs/postback | PostgreSQL CPU µs/postback | peak RSS MiB |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let rss = median(runs.iter().map(|run| run.peak_rss_mib).collect());
    for n in 0..runs[0].levels.len() {
        let level = runs[0].levels[n].concurrency;
        let of =
            |pick: fn(&Level) -> f64| median(runs.iter().map(|r| pick(&r.levels[n])).collect());
        let ratio = median(
            runs.iter()
                .map(|r| r.levels[n].postbacks_per_s / r.levels[n].healthz_per_s)
                .collect(),
        );
        println!(
            "| {level} | {:.0} | {:.1} | {:.1} | {:.0} | {ratio:.2} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {rss:.0} |",
            of(|l| l.postbacks_per_s),
            of(|l| l.p50_ms),
            of(|l| l.p99_ms),
            of(|l| l.healthz_per_s),
            of(|l| l.writer_us),
            of(|l| l.checkpointer_us),
            of(|l| l.handlers_us),
            of(|l| l.client_us),
            of(|l| l.postgres_us),
        );
    }
}

/// CPU time so far of every process named `postgres` on this machine, in ns (each backend is
/// one thread: its `schedstat`).
fn postgres_cpu_ns() -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let path = entry.path();
        let is_postgres = std::fs::read_to_string(path.join("comm"))
            .is_ok_and(|comm| comm.trim_end() == "postgres");
        if is_postgres && let Ok(schedstat) = std::fs::read_to_string(path.join("schedstat")) {
            total += schedstat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

fn one_run(options: &Options, postgres: Option<&str>, binary: &Path, run: usize) -> Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let fresh = postgres.map(|admin| FreshPostgres::create(admin, run));
    let url = match &fresh {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}", dir.path().join("ledger.db").display()),
    };
    if options.preload > 0 {
        preload(&url, options.preload);
    }
    let server = Server::start(binary, dir.path(), &url);
    // Migrated and otherwise empty (or preloaded): what the postbacks add is measured from here.
    let bytes_before = bytes_on_disk(&url, dir.path());
    let runtime = if options.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(options.client_threads);
        builder
    }
    .enable_all()
    .build()
    .expect("a tokio runtime");
    let seconds = Duration::from_secs_f64(options.seconds);
    let mut levels = Vec::new();
    let mut acknowledged_ids = Vec::new();
    let mut actions: Vec<ActionHistory> = Vec::new();
    let mut uncertain = HashSet::new();
    let mut problems = Vec::new();
    // A soak is one long level cut into 10-second slices, each reporting RSS and throughput.
    let slices: Vec<(usize, Duration)> = if options.soak_seconds > 0.0 {
        let top = *options.levels.iter().max().expect("a level");
        let count = (options.soak_seconds / 10.0).ceil().max(1.0) as usize;
        (0..count)
            .map(|_| {
                (
                    top,
                    Duration::from_secs_f64(options.soak_seconds / count as f64),
                )
            })
            .collect()
    } else {
        options
            .levels
            .iter()
            .map(|&level| (level, seconds))
            .collect()
    };
    for (slice, &(concurrency, seconds)) in slices.iter().enumerate() {
        let workload = Arc::new(Mutex::new(Workload::new(
            &format!("{run}000.{concurrency}.{slice}"),
            (run * 1_000 + concurrency) as u64,
        )));
        let batches_before = runtime.block_on(batch_totals(&server.base));
        let written_before = server.writer_bytes_written();
        let started = Instant::now();
        let cpu_before = server.cpu_ns();
        let client_before = client_cpu_ns();
        let postgres_before = postgres_cpu_ns();
        let tally = runtime.block_on(drive_postbacks(
            &server.base,
            workload.clone(),
            concurrency,
            seconds,
        ));
        let elapsed = started.elapsed().as_secs_f64();
        let cpu_after = server.cpu_ns();
        let written_after = server.writer_bytes_written();
        let batches_after = runtime.block_on(batch_totals(&server.base));
        let batches = batches_after.since(&batches_before);
        let client_after = client_cpu_ns();
        let postgres_after = postgres_cpu_ns();
        let per_postback = |before: u64, after: u64| {
            (after - before) as f64 / 1e3 / tally.acknowledged.max(1) as f64
        };
        let healthz_per_s = runtime.block_on(drive_healthz(&server.base, concurrency, seconds / 2));
        let mut latencies = tally.latencies_us;
        latencies.sort_unstable();
        let level = Level {
            concurrency,
            postbacks_per_s: tally.acknowledged as f64 / elapsed,
            p50_ms: percentile(&latencies, 0.50),
            p99_ms: percentile(&latencies, 0.99),
            healthz_per_s,
            refused_503: tally.refused_503,
            writer_us: per_postback(cpu_before[0], cpu_after[0]),
            checkpointer_us: per_postback(cpu_before[1], cpu_after[1]),
            handlers_us: per_postback(cpu_before[2], cpu_after[2]),
            client_us: per_postback(client_before, client_after),
            postgres_us: match postgres {
                Some(_) => per_postback(postgres_before, postgres_after.max(postgres_before)),
                None => 0.0,
            },
            mean_batch: batches.deliveries / batches.count.max(1.0),
            mean_batch_ms: batches.seconds * 1e3 / batches.count.max(1.0),
            log_frames_per_batch: (written_after - written_before) as f64
                / 4120.0
                / batches.count.max(1.0),
        };
        println!(
            "run {run} c={concurrency:<4} {:>8.0} postbacks/s  p50 {:>5.1} ms  p99 {:>5.1} ms  /healthz {:>8.0} req/s  ratio {:.2}  server CPU/postback: writer {:.0} µs, checkpointer {:.0} µs, handlers {:.0} µs; load generator {:.0} µs, PostgreSQL {:.0} µs  ({} answered 503 and retried)",
            level.postbacks_per_s,
            level.p50_ms,
            level.p99_ms,
            level.healthz_per_s,
            level.postbacks_per_s / level.healthz_per_s,
            level.writer_us,
            level.checkpointer_us,
            level.handlers_us,
            level.client_us,
            level.postgres_us,
            level.refused_503
        );
        let outcomes: Vec<String> = tally
            .outcomes
            .iter()
            .map(|(outcome, count)| format!("{outcome} {count}"))
            .collect();
        // On PostgreSQL the writer's writes are its messages to the server: nothing to show.
        let frames = match postgres {
            None => format!(", {:.0} log frames written", level.log_frames_per_batch),
            Some(_) => String::new(),
        };
        println!(
            "      writer batches: {:.1} deliveries each, {:.2} ms from start to commit{frames}; outcomes: {}",
            level.mean_batch,
            level.mean_batch_ms,
            outcomes.join(", ")
        );
        if options.soak_seconds > 0.0 {
            // SQLite's write-ahead log must stay bounded too (checkpoints restart it).
            let log = std::fs::metadata(dir.path().join("ledger.db-wal"))
                .map(|meta| format!(", write-ahead log {:.1} MiB", meta.len() as f64 / 1048576.0))
                .unwrap_or_default();
            println!(
                "soak {:>5.0} s: RSS now {:.1} MiB{log}",
                (slice + 1) as f64 * seconds.as_secs_f64(),
                server.current_rss_kib().unwrap_or(0) as f64 / 1024.0
            );
        }
        problems.extend(tally.errors);
        let offset = actions.len();
        uncertain.extend(tally.uncertain.into_iter().map(|index| index + offset));
        actions.extend(workload.lock().unwrap().actions.iter().cloned());
        acknowledged_ids.extend(tally.delivery_ids);
        levels.push(level);
    }
    let peak_rss_mib = server.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
    let status = server.terminate();
    if !status.success() {
        problems.push(format!("the server exited with {status} after SIGTERM"));
    }
    let added = bytes_on_disk(&url, dir.path()).saturating_sub(bytes_before);
    println!(
        "run {run}: {:.0} bytes on disk per acknowledged postback ({:.1} MiB for {})",
        added as f64 / acknowledged_ids.len().max(1) as f64,
        added as f64 / 1048576.0,
        acknowledged_ids.len()
    );
    let found = workload::verify_ledger(&url, &acknowledged_ids, &actions, &uncertain);
    let check = Command::new(binary)
        .arg("check")
        .env("POSTBACK_LEDGER_DATABASE_URL", &url)
        .env_remove("POSTBACK_LEDGER_CONFIG")
        .current_dir(dir.path())
        .output()
        .expect("the check runs");
    println!(
        "run {run}: peak RSS {peak_rss_mib:.1} MiB; {} acknowledged deliveries, {} actions: {}; check: {}",
        acknowledged_ids.len(),
        actions.iter().filter(|a| a.sent > 0).count(),
        if found.is_empty() {
            "all stored, payouts as implied".to_owned()
        } else {
            format!("{} problem(s)", found.len())
        },
        String::from_utf8_lossy(&check.stdout)
            .lines()
            .last()
            .unwrap_or("")
    );
    problems.extend(found);
    if !check.status.success() {
        problems.push(format!(
            "postback-ledger check failed: {}",
            String::from_utf8_lossy(&check.stdout)
        ));
    }
    Run {
        levels,
        peak_rss_mib,
        problems,
    }
}

/// The database's size: SQLite's file and its logs, or PostgreSQL's `pg_database_size`.
fn bytes_on_disk(url: &str, dir: &Path) -> u64 {
    use diesel::{Connection, RunQueryDsl};
    if !url.starts_with("postgres") {
        return std::fs::read_dir(dir)
            .expect("the run's directory")
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with("ledger.db"))
            .filter_map(|entry| entry.metadata().ok())
            .map(|meta| meta.len())
            .sum();
    }
    #[derive(diesel::QueryableByName)]
    struct Size {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    let mut conn = diesel::PgConnection::establish(url).expect("PostgreSQL answers");
    let size: Size = diesel::sql_query("SELECT pg_database_size(current_database()) AS bytes")
        .get_result(&mut conn)
        .expect("the database's size");
    size.bytes as u64
}

/// `concurrency` senders take requests from the workload until the time is up. A 503 is retried
/// after a pause, as impact.com would; every attempt's latency is recorded.
async fn drive_postbacks(
    base: &str,
    workload: Arc<Mutex<Workload>>,
    concurrency: usize,
    duration: Duration,
) -> Tally {
    let deadline = Instant::now() + duration;
    let mut senders = Vec::new();
    for _ in 0..concurrency {
        let (mut connection, workload) = (Connection::new(base), workload.clone());
        senders.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let request = workload.lock().unwrap().next_request();
                let mut stored = false;
                for _ in 0..200 {
                    let sent = Instant::now();
                    let answer = connection.postback(SECRET, &request).await;
                    tally
                        .latencies_us
                        .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    match answer {
                        Ok(answer) if answer.status == 200 => {
                            tally.acknowledged += 1;
                            tally.delivery_ids.extend(answer.delivery_id);
                            *tally
                                .outcomes
                                .entry(answer.outcome.unwrap_or_default())
                                .or_default() += 1;
                            stored = true;
                            break;
                        }
                        Ok(answer) if answer.status == 503 => {
                            tally.refused_503 += 1;
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        Ok(answer) => {
                            tally
                                .errors
                                .push(format!("a postback was answered {}", answer.status));
                            break;
                        }
                        Err(error) => {
                            tally.errors.push(format!("a postback failed: {error}"));
                            break;
                        }
                    }
                }
                if !stored {
                    tally.uncertain.insert(request.action);
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for sender in senders {
        let tally = sender.await.expect("a sender finished");
        total.acknowledged += tally.acknowledged;
        total.latencies_us.extend(tally.latencies_us);
        total.delivery_ids.extend(tally.delivery_ids);
        total.uncertain.extend(tally.uncertain);
        total.refused_503 += tally.refused_503;
        for (outcome, count) in tally.outcomes {
            *total.outcomes.entry(outcome).or_default() += count;
        }
        total.errors.extend(tally.errors);
    }
    total
}

/// The writer's batch histograms' totals, as `/metrics` shows them.
#[derive(Debug, Default)]
struct BatchTotals {
    count: f64,
    deliveries: f64,
    seconds: f64,
}

impl BatchTotals {
    fn since(&self, before: &BatchTotals) -> BatchTotals {
        BatchTotals {
            count: self.count - before.count,
            deliveries: self.deliveries - before.deliveries,
            seconds: self.seconds - before.seconds,
        }
    }
}

async fn batch_totals(base: &str) -> BatchTotals {
    use postback_ledger::telemetry::metrics::{COMMIT_DURATION, WRITE_BATCH_SIZE};
    let Ok((200, body)) = Connection::new(base).get("/metrics").await else {
        return BatchTotals::default();
    };
    let text = String::from_utf8_lossy(&body);
    let value = |name: String| {
        text.lines()
            .find_map(|line| line.strip_prefix(&name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    };
    BatchTotals {
        count: value(format!("{WRITE_BATCH_SIZE}_count")),
        deliveries: value(format!("{WRITE_BATCH_SIZE}_sum")),
        seconds: value(format!("{COMMIT_DURATION}_sum")),
    }
}

/// Requests per second the same server answers on `/healthz` at the same concurrency.
async fn drive_healthz(base: &str, concurrency: usize, duration: Duration) -> f64 {
    let started = Instant::now();
    let deadline = started + duration;
    let mut senders = Vec::new();
    for _ in 0..concurrency {
        let mut connection = Connection::new(base);
        senders.push(tokio::spawn(async move {
            let mut answered = 0u64;
            while Instant::now() < deadline {
                if matches!(connection.get("/healthz").await, Ok((200, _))) {
                    answered += 1;
                }
            }
            answered
        }));
    }
    let mut answered = 0;
    for sender in senders {
        answered += sender.await.expect("a sender finished");
    }
    answered as f64 / started.elapsed().as_secs_f64()
}

/// Writes `count` tracked actions (small payloads) through the same storage code the server uses,
/// 512 per transaction, so the run starts on a ledger of that size.
fn preload(url: &str, count: usize) {
    use postback_ledger::config::{FileConfig, resolve};
    use postback_ledger::intake::delivery::{RawRequest, understand};
    use postback_ledger::ledger::batch;
    use postback_ledger::storage::Database;
    let started = Instant::now();
    let source = resolve(FileConfig::default())
        .expect("the default configuration")
        .sources["actions"]
        .clone();
    let db = Database::connect(url).expect("the database answers");
    db.migrate().expect("migrations");
    let mut conn = db.conn().expect("a connection");
    let now = chrono::Utc::now();
    for first in (0..count).step_by(512) {
        let batch: Vec<_> = (first..count.min(first + 512))
            .map(|n| {
                let query = format!(
                    "ActionId=preload.{n}&Payout={}&Status=PENDING&Oid=ORD-preload.{n}",
                    workload::money(100 + (n % 19_900) as i64)
                );
                understand(
                    &source,
                    RawRequest {
                        method: "GET",
                        query: &query,
                        content_type: None,
                        body: b"",
                        client_addr: None,
                        received_at: now,
                    },
                )
            })
            .collect();
        for result in batch::apply_batch(&mut conn, db.backend(), &batch).expect("a preload batch")
        {
            result.expect("a preloaded action");
        }
    }
    println!(
        "preloaded {count} actions in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index] as f64 / 1000.0
}

/// The CPU time this process's threads (the load generator's runtime among them) have run.
fn client_cpu_ns() -> u64 {
    threads_cpu_ns("self").iter().map(|(_, ns)| ns).sum()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
