//! The cross-check benchmark: `cargo bench --bench cross_check [-- --postgres URL]`.
//!
//! Fills a fresh database with a ledger of 1,000,000 actions (event dates over 1,000 days, each
//! with its tracking delivery, event and entry, straight through SQL in big transactions), serves 100,000 impact.com records of the last 100
//! days from the local stand-in (tests/support/impact_api.rs: pages of 20,000, the documented
//! envelope), runs the release binary's `sync impact` over those 100 days, then `fill` on the
//! run, and reports each one's wall time and peak memory (VmHWM of the process, read while it
//! runs). The records hold every kind of difference: actions the ledger never saw, actions the
//! network does not list, other payouts, reversals. It checks what the run found against what
//! was planted, and fails if they differ.

#[path = "../tests/support/fresh_postgres.rs"]
mod fresh_postgres;
#[path = "../tests/support/impact_api.rs"]
mod impact_api;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::connection::SimpleConnection;
use serde_json::Value;

use fresh_postgres::FreshPostgres;
use impact_api::{ActionRecord, Faults, StandIn};
use postback_ledger::storage::{AnyConnection, Database, to_db_time};

const USAGE: &str =
    "usage: cargo bench --bench cross_check -- [--postgres URL] [--actions N] [--records N]

  --postgres URL   benchmark PostgreSQL: a fresh database is created next to URL's (and dropped);
                   also $BENCH_POSTGRES_URL. Default: SQLite in a temporary directory.
  --actions N      actions in the ledger (default 1000000), event dates over 1,000 days
  --records N      impact.com records of the last 100 days (default 100000)";

const SID: &str = "IRbenchSID";
const TOKEN: &str = "bench-token";
/// Rows per INSERT statement, statements per transaction.
const ROWS: usize = 500;
const STATEMENTS: usize = 200;
/// Days the ledger's event dates spread over, and the days the sync checks.
const DAYS: usize = 1_000;
const PERIOD_DAYS: usize = 100;

struct Options {
    postgres: Option<String>,
    actions: usize,
    records: usize,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        postgres: std::env::var("BENCH_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty()),
        actions: 1_000_000,
        records: 100_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--bench" => {}
            "--postgres" => options.postgres = Some(value("--postgres")?),
            "--actions" => {
                options.actions = value("--actions")?.parse().map_err(|e| format!("{e}"))?
            }
            "--records" => {
                options.records = value("--records")?.parse().map_err(|e| format!("{e}"))?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if options.actions < DAYS || options.records == 0 {
        return Err(format!(
            "--actions must be at least {DAYS} and --records positive"
        ));
    }
    Ok(options)
}

/// What the ledger holds of action `i`: its event date (on the day `i % 1000` days before
/// today, UTC) and payout.
fn event_date(now: DateTime<Utc>, i: usize) -> DateTime<Utc> {
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    midnight - chrono::Duration::days((i % DAYS) as i64)
        + chrono::Duration::seconds(((i / DAYS) % 80_000) as i64 + 60)
}

/// In hundredths.
fn payout(i: usize) -> i64 {
    1_000 + (i % 5_000) as i64
}

fn currency(i: usize) -> &'static str {
    if i % 10 < 7 { "USD" } else { "EUR" }
}

/// What the planted differences are.
#[derive(Debug, Default, PartialEq, Eq)]
struct Planted {
    missing_here: i64,
    missing_there: i64,
    payout_differs: i64,
    amount_differs: i64,
    status_differs: i64,
}

/// Fills the ledger as the postbacks would have: per action its tracking delivery, event and
/// ledger entry; in transactions of `STATEMENTS` statements of `ROWS` rows.
fn seed(db: &Database, actions: usize, now: DateTime<Utc>) {
    let mut conn = db.conn().expect("a connection");
    let stamp = |at: NaiveDateTime| format!("'{}'", at.format("%Y-%m-%d %H:%M:%S%.6f"));
    let mut statements = Vec::with_capacity(STATEMENTS);
    let run = |conn: &mut AnyConnection, statements: &mut Vec<String>| {
        if statements.is_empty() {
            return;
        }
        let sql = format!("BEGIN; {} COMMIT;", statements.join(" "));
        conn.batch_execute(&sql).expect("seeding the ledger");
        statements.clear();
    };
    for first in (0..actions).step_by(ROWS) {
        let last = (first + ROWS).min(actions);
        let mut deliveries = Vec::with_capacity(ROWS);
        let mut rows = Vec::with_capacity(ROWS);
        let mut events = Vec::with_capacity(ROWS);
        let mut entries = Vec::with_capacity(ROWS);
        for i in first..last {
            let at = event_date(now, i);
            let received = stamp(to_db_time(at + chrono::Duration::minutes(10)));
            let (payout, amount) = (payout(i) * 100, payout(i) * 1_000);
            let id = i + 1;
            deliveries.push(format!(
                "({id}, 'actions', 'action_lifecycle', 'bench-{i}', {received}, {received}, 1, 'GET', \
                 'ActionId=BENCH-{i:07}&Status=PENDING', 'applied', 'BENCH-{i:07}')"
            ));
            rows.push(format!(
                "('BENCH-{i:07}', 'actions', 'pending', {payout}, {amount}, '{currency}', '{currency}', \
                 '9876', 'Spring Global Promotion', 'ORD-{i:07}', {event}, {locking}, '', {received}, {received}, FALSE)",
                currency = currency(i),
                event = stamp(to_db_time(at)),
                locking = stamp(to_db_time(at + chrono::Duration::days(30))),
            ));
            events.push(format!(
                "({id}, 'BENCH-{i:07}', 'pending', 'PENDING', {payout}, {payout}, {amount}, {amount}, {received})"
            ));
            entries.push(format!(
                "('BENCH-{i:07}', {id}, 'tracked', {payout}, {amount}, {received})"
            ));
        }
        statements.push(format!(
            "INSERT INTO deliveries (id, source, kind, dedup_key, received_at, last_received_at, \
             times_received, method, query, outcome, subject_id) VALUES {};",
            deliveries.join(",")
        ));
        statements.push(format!(
            "INSERT INTO actions (action_id, source, status, payout, amount, payout_currency, \
             amount_currency, campaign_id, campaign_name, order_id, event_date, locking_date, \
             flags, first_seen_at, last_seen_at, is_test) VALUES {};",
            rows.join(",")
        ));
        statements.push(format!(
            "INSERT INTO action_events (delivery_id, action_id, status, status_raw, payout, \
             delta_payout, amount, delta_amount, received_at) VALUES {};",
            events.join(",")
        ));
        statements.push(format!(
            "INSERT INTO ledger_entries (action_id, delivery_id, kind, payout_delta, amount_delta, \
             recorded_at) VALUES {};",
            entries.join(",")
        ));
        if statements.len() >= STATEMENTS {
            run(&mut conn, &mut statements);
        }
    }
    run(&mut conn, &mut statements);
    if let AnyConnection::Postgresql(_) = &mut *conn {
        // The deliveries' ids were given: the sequence continues after them.
        conn.batch_execute("SELECT setval('deliveries_id_seq', (SELECT MAX(id) FROM deliveries))")
            .expect("the delivery ids continue");
    }
    if let AnyConnection::Postgresql(_) = &mut *conn {
        conn.batch_execute("ANALYZE").expect("analyze");
    }
}

/// impact.com's records of the period: the ledger's actions of the last 100 days but 1% it does
/// not list, 1% with a payout 1.00 higher, 0.5% reversed, and new ones it never saw up to
/// `records` (or none, when the ledger's own are more).
fn network(actions: usize, records: usize, now: DateTime<Utc>) -> (Vec<Value>, Planted) {
    let mut planted = Planted::default();
    let mut listed = Vec::with_capacity(records);
    // State APPROVED once the locking date has passed, as impact.com lists it; `delta` is the
    // change of the latest update (the whole payout for an action never modified).
    let record = |id: String, i: usize, reversal: bool, payout: i64, delta: i64| {
        let locked = event_date(now, i) + chrono::Duration::days(30) <= now;
        let state = match (reversal, locked) {
            (true, _) => "REVERSED",
            (false, true) => "APPROVED",
            (false, false) => "PENDING",
        };
        let reversed = reversal;
        ActionRecord {
            id,
            state,
            payout: cents(if reversed { 0 } else { payout }),
            delta_payout: cents(if reversed { -payout } else { delta }),
            amount: cents(if reversed { 0 } else { payout * 10 }),
            delta_amount: cents(if reversed { -payout * 10 } else { delta * 10 }),
            currency: currency(i),
            event_date: event_date(now, i),
            locking_date: event_date(now, i) + chrono::Duration::days(30),
            cleared_date: None,
            order_id: format!("ORD-{i:07}"),
        }
        .json(SID)
    };
    for i in (0..actions).filter(|i| i % DAYS < PERIOD_DAYS) {
        let id = format!("BENCH-{i:07}");
        if i % 100 == 7 {
            planted.missing_there += 1;
            continue;
        }
        if i % 100 == 13 {
            // Modified at impact.com (+1.00), the modification's postback lost.
            planted.payout_differs += 1;
            planted.amount_differs += 1;
            listed.push(record(id, i, false, payout(i) + 100, 100));
        } else if i % 200 == 21 {
            planted.status_differs += 1;
            listed.push(record(id, i, true, payout(i), 0));
        } else {
            listed.push(record(id, i, false, payout(i), payout(i)));
        }
    }
    let mut extra = 0;
    while listed.len() < records {
        let i = extra * DAYS + (extra % PERIOD_DAYS);
        listed.push(record(
            format!("NEW-{extra:07}"),
            i,
            false,
            payout(i),
            payout(i),
        ));
        planted.missing_here += 1;
        extra += 1;
    }
    (listed, planted)
}

fn cents(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", value.abs() / 100, value.abs() % 100)
}

/// Runs the binary, polling its peak resident memory: (wall time, peak KiB, stdout).
fn measure(binary: &Path, config: &Path, url: &str, args: &[&str]) -> (Duration, u64, String, i32) {
    let started = Instant::now();
    let mut child = Command::new(binary)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("POSTBACK_LEDGER_DATABASE_URL", url)
        .env("POSTBACK_LEDGER_IMPACT_AUTH_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .env_remove("POSTBACK_LEDGER_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(kib) = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        use std::io::Read;
        let _ = out.read_to_string(&mut stdout);
    }
    (elapsed, peak, stdout, status.code().unwrap_or(-1))
}

/// The differences of the run as the JSON the API serves would say, from the printed totals.
fn found_of(stdout: &str) -> Planted {
    let mut found = Planted::default();
    for line in stdout.lines() {
        let mut words = line.split_whitespace();
        let (Some(kind), Some(count)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(count) = count.parse::<i64>() else {
            continue;
        };
        match kind {
            "missing_here" => found.missing_here += count,
            "missing_there" => found.missing_there += count,
            "payout_differs" => found.payout_differs += count,
            "amount_differs" => found.amount_differs += count,
            "status_differs" => found.status_differs += count,
            _ => {}
        }
    }
    found
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
    let dir = tempfile::tempdir().expect("a temporary directory");
    let fresh = options
        .postgres
        .as_deref()
        .map(|admin| FreshPostgres::create(admin, 0));
    let (backend, url) = match &fresh {
        Some(db) => ("PostgreSQL", db.url.clone()),
        None => (
            "SQLite",
            format!("sqlite://{}", dir.path().join("ledger.db").display()),
        ),
    };
    let now = Utc::now();
    let db = Database::connect(&url).expect("the benchmark database opens");
    db.migrate().expect("migrations apply");
    let started = Instant::now();
    seed(&db, options.actions, now);
    println!(
        "postback-ledger cross-check benchmark: {backend}, a ledger of {} actions filled in {:.1} s",
        options.actions,
        started.elapsed().as_secs_f64()
    );
    let (records, planted) = network(options.actions, options.records, now);
    let record_count = records.len();
    let stand_in = StandIn::start(SID, TOKEN, records, Faults::default());
    let config = dir.path().join("postback-ledger.toml");
    std::fs::write(
        &config,
        format!(
            "[networks.impact]\naccount_sid = \"{SID}\"\napi_base_url = \"{}\"\npage_size = 20000\n",
            stand_in.base
        ),
    )
    .expect("write the configuration");
    let today = now.date_naive();
    let from = (today - chrono::Duration::days(PERIOD_DAYS as i64 - 1)).to_string();
    let to = today.to_string();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_postback-ledger"));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{} impact.com records over {PERIOD_DAYS} days; load average before timing: {}",
        record_count,
        load.split_whitespace().next().unwrap_or("?")
    );

    let (sync_time, sync_peak, sync_out, sync_code) = measure(
        &binary,
        &config,
        &url,
        &["sync", "impact", "--from", &from, "--to", &to],
    );
    let found = found_of(&sync_out);
    let requests = stand_in.log().len();
    let run_id = sync_out
        .lines()
        .find_map(|line| line.strip_prefix("reconciliation run "))
        .and_then(|rest| rest.split(':').next())
        .unwrap_or("?")
        .to_owned();
    let (fill_time, fill_peak, fill_out, fill_code) =
        measure(&binary, &config, &url, &["fill", &run_id]);
    let (check_time, _, check_out, check_code) = measure(&binary, &config, &url, &["check"]);
    println!("| step | wall time s | peak RSS MiB | requests | records/s |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| `sync impact` (compare) | {:.1} | {:.1} | {requests} | {:.0} |",
        sync_time.as_secs_f64(),
        sync_peak as f64 / 1024.0,
        record_count as f64 / sync_time.as_secs_f64()
    );
    println!(
        "| `fill {run_id}` | {:.1} | {:.1} | – | – |",
        fill_time.as_secs_f64(),
        fill_peak as f64 / 1024.0
    );
    println!("planted: {planted:?}\nfound:   {found:?}");
    println!("{}", fill_out.lines().next().unwrap_or_default());
    println!(
        "check after the fill ({:.1} s): {}",
        check_time.as_secs_f64(),
        check_out.lines().last().unwrap_or_default()
    );
    drop(stand_in);
    if sync_code != 1 || found != planted || fill_code != 1 || check_code != 0 {
        // A fill leaves open what it cannot explain (the actions impact.com does not list).
        eprintln!(
            "FAILED: sync exited {sync_code}, fill exited {fill_code}; the run's differences are not the planted ones:\n{sync_out}\n{fill_out}"
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
