//! The render-time benchmark: `cargo bench --bench pages [-- --postgres URL]`.
//!
//! Fills a fresh database with a realistic ledger (100,000 actions by default: pending, locked,
//! cleared and reversed, three currencies, eight campaigns, a delivery, an event and a ledger
//! entry for every event, quarantined deliveries and auth failures) straight through SQL in big
//! transactions, starts the real binary (`serve`, release build) on it and times each dashboard
//! page and API answer over loopback: median and p90 of sequential requests, as a table.

#[path = "../tests/support/fresh_postgres.rs"]
mod fresh_postgres;
#[path = "../tests/support/server.rs"]
mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, TimeDelta, Utc};
use diesel::connection::SimpleConnection;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use fresh_postgres::FreshPostgres;
use postback_ledger::domain::reconcile::Flag;
use postback_ledger::storage::action_query::{Cursor, SortValue};
use postback_ledger::storage::{Database, to_db_time};
use server::Server;

const USAGE: &str =
    "usage: cargo bench --bench pages -- [--postgres URL] [--actions N] [--requests N] [--keep]

  --postgres URL   benchmark PostgreSQL: a fresh database is created next to URL's (and dropped);
                   also $BENCH_POSTGRES_URL. Default: SQLite in a temporary directory.
  --actions N      actions in the ledger (default 100000)
  --requests N     timed requests per page, after 3 untimed ones (default 20)
  --keep           leave the filled database for a profile and print its URL";

/// The budget issue 6 sets for a page, server-side on SQLite at 100k actions.
const BUDGET_MS: f64 = 50.0;
/// Rows per INSERT statement.
const BATCH: usize = 500;

const CAMPAIGNS: [&str; 8] = [
    "Spring Global Promotion",
    "Summer Shoes",
    "Back to School",
    "Black Friday",
    "Winter Coats",
    "Gift Cards",
    "App Installs",
    "Loyalty Members",
];
const TRACKERS: [&str; 3] = ["Online Sale", "App Sale", "Lead"];

struct Options {
    postgres: Option<String>,
    actions: usize,
    requests: usize,
    keep: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        postgres: std::env::var("BENCH_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty()),
        actions: 100_000,
        requests: 20,
        keep: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            // cargo bench passes --bench to every bench target.
            "--bench" => {}
            "--postgres" => options.postgres = Some(value("--postgres")?),
            "--actions" => {
                options.actions = value("--actions")?.parse().map_err(|e| format!("{e}"))?
            }
            "--requests" => {
                options.requests = value("--requests")?.parse().map_err(|e| format!("{e}"))?
            }
            "--keep" => options.keep = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if options.actions < 10 || options.requests == 0 {
        return Err("--actions must be at least 10 and --requests positive".into());
    }
    Ok(options)
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

    let started = Instant::now();
    let seeded = seed(&url, options.actions);
    println!(
        "postback-ledger page benchmark: {backend}, {} actions, {} deliveries, {} ledger entries, filled in {:.1} s",
        options.actions,
        seeded.deliveries,
        seeded.entries,
        started.elapsed().as_secs_f64()
    );

    let binary = PathBuf::from(env!("CARGO_BIN_EXE_postback-ledger"));
    let server = Server::start(&binary, dir.path(), &url);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client");
    let today = Utc::now().date_naive();
    let week_ago = today - TimeDelta::days(6);
    let pages = [
        ("overview", "/".to_owned()),
        ("pending list", "/actions?status=pending".to_owned()),
        ("reversed list", "/actions?status=reversed".to_owned()),
        (
            "search by order id",
            format!("/actions?status=all&q={}", seeded.order_id),
        ),
        ("action detail", format!("/actions/{}", seeded.action_id)),
        (
            "pending list, deep cursor",
            format!("/actions?status=pending&cursor={}", seeded.deep_cursor),
        ),
        ("/api/summary", "/api/summary".to_owned()),
        (
            "/api/actions pending",
            "/api/actions?status=pending".to_owned(),
        ),
        // Filtered lists: their totals read the matching actions, not the running sums.
        (
            "brand filter",
            "/actions?status=all&campaign=1001".to_owned(),
        ),
        (
            "pending, currency filter",
            "/actions?status=pending&currency=EUR".to_owned(),
        ),
        (
            "event dates, one week",
            format!(
                "/actions?status=all&date_field=event&from={}&to={}",
                week_ago.format("%Y-%m-%d"),
                today.format("%Y-%m-%d")
            ),
        ),
        ("statement", "/statement".to_owned()),
    ];
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average before timing: {}",
        load.split_whitespace().next().unwrap_or("?")
    );
    println!(
        "| page | path | median ms | p90 ms | KiB | within {BUDGET_MS} ms |\n|---|---|---:|---:|---:|---|"
    );
    let mut failed = false;
    for (name, path) in &pages {
        let timed = runtime.block_on(time_page(&client, &server.base, path, options.requests));
        let (median, p90, bytes) = match timed {
            Ok(timed) => timed,
            Err(error) => {
                println!("| {name} | `{path}` | – | – | – | FAILED: {error} |");
                failed = true;
                continue;
            }
        };
        let verdict = if median <= BUDGET_MS {
            "yes".to_owned()
        } else {
            format!("no, {:.1}×", median / BUDGET_MS)
        };
        println!(
            "| {name} | `{}` | {median:.1} | {p90:.1} | {:.0} | {verdict} |",
            shorten(path),
            bytes as f64 / 1024.0
        );
    }
    drop(server);
    if options.keep {
        println!("kept: {url}");
        std::mem::forget(fresh);
        let _ = dir.keep();
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Long cursors make the table unreadable.
fn shorten(path: &str) -> String {
    match path.split_once("cursor=") {
        Some((head, _)) => format!("{head}cursor=…"),
        None => path.to_owned(),
    }
}

/// Three untimed requests (connection, caches), then `requests` timed ones in sequence:
/// median and p90 in ms, and the body size. Anything but 200 is an error.
async fn time_page(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    requests: usize,
) -> Result<(f64, f64, usize), String> {
    let url = format!("{base}{path}");
    let mut times = Vec::with_capacity(requests);
    let mut bytes = 0;
    for round in 0..requests + 3 {
        let sent = Instant::now();
        let response = client.get(&url).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        let elapsed = sent.elapsed();
        if !status.is_success() {
            return Err(format!(
                "answered {status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ));
        }
        bytes = body.len();
        if round >= 3 {
            times.push(elapsed.as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Ok((at(0.5), at(0.9), bytes))
}

/// What the timed requests ask for, found while seeding.
struct Seeded {
    deliveries: usize,
    entries: usize,
    /// A reversed action with a modification: the longest timeline.
    action_id: String,
    order_id: String,
    /// The pending list's cursor half-way down.
    deep_cursor: String,
}

/// A SQL literal.
fn text(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn time(at: NaiveDateTime) -> String {
    format!("'{}'", at.format("%Y-%m-%d %H:%M:%S%.6f"))
}

/// Rows waiting to be inserted into one table, flushed every `BATCH` rows.
struct Inserter {
    head: String,
    rows: Vec<String>,
    statements: Vec<String>,
}

impl Inserter {
    fn new(table: &str, columns: &str) -> Inserter {
        Inserter {
            head: format!("INSERT INTO {table} ({columns}) VALUES "),
            rows: Vec::with_capacity(BATCH),
            statements: Vec::new(),
        }
    }

    fn push(&mut self, row: String) {
        self.rows.push(row);
        if self.rows.len() == BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.rows.is_empty() {
            self.statements
                .push(format!("{}{};", self.head, self.rows.join(",")));
            self.rows.clear();
        }
    }

    fn sql(mut self) -> Vec<String> {
        self.flush();
        self.statements
    }
}

/// One event of an action: what it was sent as and what it moved.
struct Event {
    status: &'static str,
    kind: &'static str,
    payout: i64,
    delta: i64,
    amount: i64,
    amount_delta: i64,
    at: NaiveDateTime,
}

/// Creates the schema (the binary's own migrations) and fills it; deterministic for a given size.
fn seed(url: &str, actions: usize) -> Seeded {
    let db = Database::connect(url).expect("the benchmark database opens");
    db.migrate().expect("migrations apply");
    let mut rng = StdRng::seed_from_u64(6);
    let now = to_db_time(Utc::now());
    let mut deliveries = Inserter::new(
        "deliveries",
        "id, source, kind, dedup_key, received_at, last_received_at, times_received, method, \
         content_type, query, client_addr, outcome, reason, subject_id",
    );
    let mut action_rows = Inserter::new(
        "actions",
        "action_id, source, status, status_raw, payout, amount, payout_currency, amount_currency, \
         campaign_id, campaign_name, action_tracker_id, action_tracker_name, media_partner_id, \
         order_id, shared_id, sub_id1, click_id, event_date, creation_date, locking_date, \
         cleared_date, flags, first_seen_at, last_seen_at, is_test",
    );
    let mut events = Inserter::new(
        "action_events",
        "delivery_id, action_id, status, status_raw, payout, delta_payout, amount, delta_amount, \
         received_at",
    );
    let mut entries = Inserter::new(
        "ledger_entries",
        "action_id, delivery_id, kind, payout_delta, amount_delta, recorded_at",
    );
    let mut delivery_id = 0usize;
    let mut entry_count = 0usize;
    let mut pending: Vec<(NaiveDateTime, String)> = Vec::new();
    let mut longest = None;
    for number in 0..actions {
        let action_id = format!("BENCH-{number:07}");
        let order_id = format!("ORD-{number:07}");
        let campaign = rng.random_range(0..CAMPAIGNS.len());
        let tracker = rng.random_range(0..TRACKERS.len());
        let currency = match rng.random_range(0..10) {
            0..7 => "USD",
            7..9 => "EUR",
            _ => "GBP",
        };
        // Received over the last 120 days; each locks 30 days after its event and clears two
        // weeks after locking, most of the time.
        let first_seen = now - TimeDelta::seconds(rng.random_range(60..120 * 86_400));
        let event_date = first_seen - TimeDelta::seconds(rng.random_range(0..7_200));
        let locking = event_date + TimeDelta::days(30);
        let reversed = rng.random_bool(0.12);
        let modified = rng.random_bool(0.15);
        let cleared = !reversed && locking + TimeDelta::days(15) < now && rng.random_bool(0.8);
        let payout = rng.random_range(100..50_000) * 100;
        let amount = payout * 10;
        let later = |rng: &mut StdRng| {
            let span = (now - first_seen).num_seconds().max(2);
            first_seen + TimeDelta::seconds(rng.random_range(1..span))
        };
        let mut history = vec![Event {
            status: "PENDING",
            kind: "tracked",
            payout,
            delta: payout,
            amount,
            amount_delta: amount,
            at: first_seen,
        }];
        if modified {
            let cut = payout / 4;
            history.push(Event {
                status: "MODIFIED",
                kind: "modified",
                payout: payout - cut,
                delta: -cut,
                amount: amount - cut * 10,
                amount_delta: -cut * 10,
                at: later(&mut rng),
            });
        }
        if reversed {
            let last = history.last().expect("tracked");
            let (left, left_amount) = (last.payout, last.amount);
            let at = later(&mut rng).max(last.at);
            history.push(Event {
                status: "REVERSED",
                kind: "reversed",
                payout: 0,
                delta: -left,
                amount: 0,
                amount_delta: -left_amount,
                at,
            });
        }
        let last = history.last().expect("an event");
        let (status, status_raw) = match (reversed, locking <= now) {
            (true, _) => ("reversed", "REVERSED"),
            (false, true) => ("approved", "LOCKED"),
            (false, false) => ("pending", last.status),
        };
        if status == "pending" {
            pending.push((first_seen, action_id.clone()));
        }
        if reversed && modified && longest.is_none() {
            longest = Some((action_id.clone(), order_id.clone()));
        }
        for event in &history {
            delivery_id += 1;
            deliveries.push(format!(
                "({delivery_id}, 'impact', 'action_lifecycle', 'bench-{delivery_id}', {at}, {at}, {times}, 'GET', NULL, {query}, '203.0.113.7', 'applied', NULL, {id})",
                at = time(event.at),
                times = if rng.random_bool(0.05) { 2 } else { 1 },
                query = text(&format!(
                    "ActionId={action_id}&Status={}&Payout={}&DeltaPayout={}&Currency={currency}&CampaignId={}&Oid={order_id}",
                    event.status,
                    event.payout / 10_000,
                    event.delta / 10_000,
                    1000 + campaign
                )),
                id = text(&action_id),
            ));
            events.push(format!(
                "({delivery_id}, {id}, {status}, {raw}, {}, {}, {}, {}, {})",
                event.payout,
                event.delta,
                event.amount,
                event.amount_delta,
                time(event.at),
                id = text(&action_id),
                status = text(if event.status == "REVERSED" {
                    "reversed"
                } else {
                    "pending"
                }),
                raw = text(event.status),
            ));
            entries.push(format!(
                "({}, {delivery_id}, {}, {}, {}, {})",
                text(&action_id),
                text(event.kind),
                event.delta,
                event.amount_delta,
                time(event.at)
            ));
            entry_count += 1;
        }
        let flags = if rng.random_bool(0.003) {
            Flag::Gap.as_str()
        } else {
            ""
        };
        action_rows.push(format!(
            "({id}, 'impact', {status}, {raw}, {payout}, {amount}, {cur}, {cur}, {cid}, {cname}, {tid}, {tname}, '555', {oid}, {shared}, {sub}, {click}, {event}, {event}, {locking}, {cleared}, {flags}, {first}, {last_at}, FALSE)",
            id = text(&action_id),
            status = text(status),
            raw = text(status_raw),
            payout = last.payout,
            amount = last.amount,
            cur = text(currency),
            cid = text(&(1000 + campaign).to_string()),
            cname = text(CAMPAIGNS[campaign]),
            tid = text(&(200 + tracker).to_string()),
            tname = text(TRACKERS[tracker]),
            oid = text(&order_id),
            shared = text(&format!("shared-{}", number % 977)),
            sub = text(&format!("sub-{}", number % 131)),
            click = text(&format!("CLK{number:010}")),
            event = time(event_date),
            locking = time(locking),
            cleared = if cleared {
                time(locking + TimeDelta::days(15))
            } else {
                "NULL".into()
            },
            flags = text(flags),
            first = time(first_seen),
            last_at = time(history.iter().map(|e| e.at).max().expect("an event")),
        ));
    }
    // What the overview's attention list counts: quarantined deliveries and auth failures.
    let mut failures = Inserter::new(
        "auth_failures",
        "occurred_at, source, client_addr, failed_check, method",
    );
    for _ in 0..300 {
        delivery_id += 1;
        let at = now - TimeDelta::seconds(rng.random_range(60..30 * 86_400));
        deliveries.push(format!(
            "({delivery_id}, 'impact', 'action_lifecycle', 'bench-{delivery_id}', {at}, {at}, 1, 'POST', 'application/json', '', '203.0.113.7', 'quarantined', 'the payload did not parse', NULL)",
            at = time(at)
        ));
        failures.push(format!(
            "({}, 'impact', '198.51.100.9', 'query_secret', 'GET')",
            time(at)
        ));
    }
    let mut conn = db.conn().expect("a connection");
    for (table, statements) in [
        ("deliveries", deliveries.sql()),
        ("actions", action_rows.sql()),
        ("action_events", events.sql()),
        ("ledger_entries", entries.sql()),
        ("auth_failures", failures.sql()),
    ] {
        let started = Instant::now();
        conn.batch_execute("BEGIN").expect("begin");
        for statement in &statements {
            conn.batch_execute(statement)
                .unwrap_or_else(|error| panic!("insert into {table}: {error}"));
        }
        conn.batch_execute("COMMIT").expect("commit");
        eprintln!("seeded {table} in {:.1} s", started.elapsed().as_secs_f64());
    }
    if db.backend() == postback_ledger::storage::Backend::Postgres {
        // The ids were given explicitly: move the sequence past them, as the app's inserts would.
        // Autovacuum would have analysed tables this size within a minute of the inserts, and
        // cleaned the running sums' old row versions (the fill updated each many times).
        conn.batch_execute(
            "SELECT setval(pg_get_serial_sequence('deliveries', 'id'), (SELECT max(id) FROM deliveries));
             ANALYZE;",
        )
        .expect("sequence and statistics");
        // VACUUM runs alone: not inside a multi-statement string.
        conn.batch_execute("VACUUM action_totals, entry_totals, month_totals, chart_totals")
            .expect("the running sums vacuumed");
    }
    pending.sort();
    let (at, id) = pending
        .get(pending.len() / 2)
        .cloned()
        .expect("some pending actions");
    let (action_id, order_id) = longest.expect("a modified and reversed action");
    Seeded {
        deliveries: delivery_id,
        entries: entry_count,
        order_id,
        action_id,
        deep_cursor: Cursor {
            value: Some(SortValue::Time(at)),
            action_id: id,
        }
        .encode(),
    }
}
