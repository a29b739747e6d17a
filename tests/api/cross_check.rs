//! The cross-check against impact.com's own records, against a local stand-in for its Partner
//! API (tests/support/impact_api.rs): 100 actions whose postbacks arrived but for 7, while the
//! network lists all 100, 3 of them since reversed and 2 approved early.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Output;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::helpers::*;
use crate::impact_api::{ActionRecord, Faults, StandIn};
use crate::on_both_backends;

const SID: &str = "IRtestSID4Ledger9x";
const TOKEN: &str = "tok-Secr3t-impact-0042";

/// Dropped postbacks, later reversals, early approvals: indexes into the scenario's actions.
const DROPPED: std::ops::Range<usize> = 0..7;
const REVERSED: std::ops::Range<usize> = 7..10;
const APPROVED: std::ops::Range<usize> = 10..12;

struct Sale {
    id: String,
    currency: &'static str,
    /// Hundredths.
    payout: i64,
    event_date: DateTime<Utc>,
    locking_date: DateTime<Utc>,
}

fn cents(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", value.abs() / 100, value.abs() % 100)
}

/// 100 sales ten days ago, locking in twenty, every other one in EUR.
struct Scenario {
    sales: Vec<Sale>,
}

impl Scenario {
    fn new(prefix: &str) -> Scenario {
        let now = Utc::now();
        let sales = (0..100)
            .map(|i| Sale {
                id: format!("1000.{prefix}.{i:03}"),
                currency: if i % 2 == 0 { "USD" } else { "EUR" },
                payout: 1_000 + 25 * i as i64,
                event_date: now - Duration::days(10) - Duration::minutes(i as i64),
                locking_date: now + Duration::days(20),
            })
            .collect();
        Scenario { sales }
    }

    fn iso(at: DateTime<Utc>) -> String {
        at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// The tracking postback of sale `i`, as the partner's GET template sends it.
    fn tracked(&self, i: usize) -> String {
        let sale = &self.sales[i];
        serde_urlencoded::to_string([
            ("ActionId", sale.id.as_str()),
            ("Status", "PENDING"),
            ("Payout", &cents(sale.payout)),
            ("DeltaPayout", &cents(sale.payout)),
            ("Amount", &cents(sale.payout * 10)),
            ("DeltaAmount", &cents(sale.payout * 10)),
            ("Currency", sale.currency),
            ("CampaignId", "9876"),
            ("Oid", &format!("ORD-{i}")),
            ("EventDate", &Self::iso(sale.event_date)),
            ("LockingDate", &Self::iso(sale.locking_date)),
        ])
        .unwrap()
    }

    /// The reversal postback of sale `i`.
    fn reversal(&self, i: usize) -> String {
        let sale = &self.sales[i];
        serde_urlencoded::to_string([
            ("ActionId", sale.id.as_str()),
            ("Status", "REVERSED"),
            ("Payout", "0.00"),
            ("DeltaPayout", &cents(-sale.payout)),
            ("Amount", "0.00"),
            ("DeltaAmount", &cents(-sale.payout * 10)),
            ("Currency", sale.currency),
        ])
        .unwrap()
    }

    fn state_of(i: usize) -> &'static str {
        if REVERSED.contains(&i) {
            "REVERSED"
        } else if APPROVED.contains(&i) {
            "APPROVED"
        } else {
            "PENDING"
        }
    }

    /// What impact.com's Actions list says of every sale.
    fn network(&self) -> Vec<Value> {
        self.sales
            .iter()
            .enumerate()
            .map(|(i, sale)| {
                let reversed = REVERSED.contains(&i);
                ActionRecord {
                    id: sale.id.clone(),
                    state: Self::state_of(i),
                    payout: cents(if reversed { 0 } else { sale.payout }),
                    delta_payout: cents(if reversed { -sale.payout } else { sale.payout }),
                    amount: cents(if reversed { 0 } else { sale.payout * 10 }),
                    delta_amount: cents(if reversed {
                        -sale.payout * 10
                    } else {
                        sale.payout * 10
                    }),
                    currency: sale.currency,
                    event_date: sale.event_date,
                    locking_date: sale.locking_date,
                    cleared_date: None,
                    order_id: format!("ORD-{i}"),
                }
                .json(SID)
            })
            .collect()
    }

    /// The same as an Action Listing report downloaded from impact.com's UI.
    fn report(&self) -> String {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .write_record([
                "Action Id",
                "Campaign",
                "Event Type",
                "Status",
                "Event Date",
                "Locking Date",
                "Sale Amount",
                "Payout",
                "Currency",
                "Order Id",
            ])
            .unwrap();
        for (i, sale) in self.sales.iter().enumerate() {
            let reversed = REVERSED.contains(&i);
            let state = match Self::state_of(i) {
                "REVERSED" => "Reversed",
                "APPROVED" => "Approved",
                _ => "Pending",
            };
            writer
                .write_record([
                    sale.id.as_str(),
                    "Spring Global Promotion",
                    "Standard Sale Tracker",
                    state,
                    &sale.event_date.format("%Y-%m-%d %H:%M:%S").to_string(),
                    &sale.locking_date.format("%Y-%m-%d %H:%M:%S").to_string(),
                    &cents(if reversed { 0 } else { sale.payout * 10 }),
                    &cents(if reversed { 0 } else { sale.payout }),
                    sale.currency,
                    &format!("ORD-{i}"),
                ])
                .unwrap();
        }
        String::from_utf8(writer.into_inner().unwrap()).unwrap()
    }

    /// (kind, action id) of every difference the first run must find.
    fn expected_differences(&self) -> BTreeSet<(String, String)> {
        let mut expected = BTreeSet::new();
        for i in DROPPED {
            expected.insert(("missing_here".to_owned(), self.sales[i].id.clone()));
        }
        for i in REVERSED.chain(APPROVED) {
            expected.insert(("status_differs".to_owned(), self.sales[i].id.clone()));
        }
        expected
    }

    /// (kind, currency) -> (differences, payout network minus ledger).
    fn expected_totals(&self) -> BTreeMap<(String, String), (i64, String)> {
        let mut totals: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
        for (i, sale) in self.sales.iter().enumerate() {
            let (kind, money) = if DROPPED.contains(&i) {
                ("missing_here", sale.payout)
            } else if REVERSED.contains(&i) {
                ("status_differs", -sale.payout)
            } else if APPROVED.contains(&i) {
                ("status_differs", 0)
            } else {
                continue;
            };
            let total = totals
                .entry((kind.to_owned(), sale.currency.to_owned()))
                .or_default();
            total.0 += 1;
            total.1 += money;
        }
        totals
            .into_iter()
            .map(|(key, (count, money))| (key, (count, cents(money))))
            .collect()
    }

    fn period_args(&self) -> [String; 4] {
        let today = Utc::now().date_naive();
        [
            "--from".into(),
            (today - Duration::days(30)).to_string(),
            "--to".into(),
            today.to_string(),
        ]
    }
}

/// The test app's configuration with impact.com pointed at the stand-in.
fn config_for(stand_in: &StandIn, extra: &str) -> String {
    format!(
        "{}\n[networks.impact]\naccount_sid = \"{SID}\"\napi_base_url = \"{}\"\npage_size = 25\n{extra}",
        base_config(),
        stand_in.base
    )
}

/// The real binary with a configuration file and the token in its environment.
struct Cli {
    dir: tempfile::TempDir,
    config: PathBuf,
    database_url: String,
}

impl Cli {
    fn new(database_url: &str, config: &str) -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("postback-ledger.toml");
        std::fs::write(&path, config).unwrap();
        Cli {
            dir,
            config: path,
            database_url: database_url.to_owned(),
        }
    }

    fn command(&self, args: &[&str], token: &str) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_postback-ledger"));
        command
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("POSTBACK_LEDGER_DATABASE_URL", &self.database_url)
            .env("POSTBACK_LEDGER_IMPACT_AUTH_TOKEN", token)
            .env("RUST_LOG", "trace")
            .env_remove("POSTBACK_LEDGER_CONFIG")
            .current_dir(self.dir.path());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args, TOKEN).output().expect("the binary runs")
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs the CLI off the async test's thread (the sync blocks on HTTP).
async fn run_cli(cli: &Cli, args: Vec<String>) -> Output {
    let command = {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli.command(&args, TOKEN)
    };
    let mut command = command;
    actix_web::rt::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .unwrap()
}

fn args(fixed: &[&str], more: &[String]) -> Vec<String> {
    fixed
        .iter()
        .map(|arg| arg.to_string())
        .chain(more.iter().cloned())
        .collect()
}

/// The newest run's id, from the JSON API.
/// The href of a page's pager link (`next` or `prev`), unescaped.
fn pager_link(page: &str, rel: &str) -> String {
    let marker = format!("rel=\"{rel}\" href=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {rel} link: {page}"))
        + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].replace("&#38;", "&").replace("&amp;", "&")
}

async fn newest_run(app: &TestApp) -> Value {
    let runs = app.json("/api/reconciliation").await.expect("runs");
    runs["runs"][0].clone()
}

async fn totals_of(app: &TestApp, run_id: i64) -> BTreeMap<(String, String), (i64, String)> {
    let run = app
        .json(&format!("/api/reconciliation/{run_id}"))
        .await
        .expect("the run");
    run["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|total| {
            (
                (
                    total["kind"].as_str().unwrap().to_owned(),
                    total["currency"].as_str().unwrap().to_owned(),
                ),
                (
                    total["differences"].as_i64().unwrap(),
                    total["payout"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

async fn differences_of(app: &TestApp, run_id: i64, query: &str) -> Vec<Value> {
    let page = app
        .json(&format!(
            "/api/reconciliation/{run_id}/differences?limit=500&{query}"
        ))
        .await
        .expect("the run's differences");
    page["differences"].as_array().unwrap().clone()
}

fn kinds_and_ids(differences: &[Value]) -> BTreeSet<(String, String)> {
    differences
        .iter()
        .map(|difference| {
            (
                difference["kind"].as_str().unwrap().to_owned(),
                difference["action_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn delivery_kind(app: &TestApp, id: &Value) -> Value {
    app.json(&format!("/api/deliveries/{id}")).await.unwrap()["kind"].clone()
}

/// Sends the tracking postback of every sale but the dropped ones.
async fn send_all_but_dropped(app: &TestApp, scenario: &Scenario) {
    for i in 0..scenario.sales.len() {
        if DROPPED.contains(&i) {
            continue;
        }
        let answer = app.get_postback("actions", &scenario.tracked(i)).await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
}

/// After a fill: every sale as the network has it, entries summing to it, `check` passing.
async fn assert_ledger_is_the_networks(app: &TestApp, scenario: &Scenario, cli: &Cli) {
    for (i, sale) in scenario.sales.iter().enumerate() {
        let action = app
            .action(&sale.id)
            .await
            .expect("every sale is in the ledger");
        let (status, payout) = if REVERSED.contains(&i) {
            ("reversed", "0.00".to_owned())
        } else if APPROVED.contains(&i) {
            ("approved", cents(sale.payout))
        } else {
            ("pending", cents(sale.payout))
        };
        assert_eq!(action["status"], status, "{}", sale.id);
        assert_eq!(action["payout"], payout.as_str(), "{}", sale.id);
        assert_eq!(action["payout_currency"], sale.currency, "{}", sale.id);
        let flags = action["flags"].as_array().unwrap();
        assert!(flags.is_empty(), "{}: {flags:?}", sale.id);
    }
    let check = cli.run(&["check"]);
    assert!(check.status.success(), "check: {}", text(&check));
}

fn assert_no_credentials(place: &str, text: &str) {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
    assert!(!text.contains(SID), "the AccountSID is in {place}: {text}");
    assert!(!text.contains(TOKEN), "the AuthToken is in {place}: {text}");
    assert!(
        !text.contains(&basic),
        "the Basic credentials are in {place}: {text}"
    );
}

on_both_backends! {
    async fn a_sync_reports_exactly_the_missing_reversed_and_approved_actions_fills_them_and_then_agrees(backend: Backend) {
        let scenario = Scenario::new("sync");
        let stand_in = StandIn::start(SID, TOKEN, scenario.network(), Faults::some());
        let config = config_for(&stand_in, "");
        let app = spawn_app_with(backend, &config).await;
        send_all_but_dropped(&app, &scenario).await;
        let cli = Cli::new(&app.db.url, &config);
        let period = scenario.period_args();

        let first = run_cli(&cli, args(&["sync", "impact"], &period)).await;
        assert_eq!(first.status.code(), Some(1), "differences stay open: {}", text(&first));
        assert!(text(&first).contains("page(s), 100 action(s)"), "{}", text(&first));
        let run = newest_run(&app).await;
        let run_id = run["id"].as_i64().unwrap();
        assert_eq!(run["status"], "completed");
        assert_eq!((run["records"].as_i64(), run["compared"].as_i64()), (Some(100), Some(100)));
        assert_eq!(totals_of(&app, run_id).await, scenario.expected_totals());
        let found = differences_of(&app, run_id, "").await;
        assert_eq!(kinds_and_ids(&found), scenario.expected_differences());
        assert!(found.iter().all(|difference| difference["fillable"] == true), "{found:?}");
        let missing = differences_of(&app, run_id, "kind=missing_here&currency=EUR").await;
        assert_eq!(missing.len(), 3);

        // What the stand-in saw: pages of 25 for one window, a 429 waited out for its
        // Retry-After, a 503 retried, and never a window over 45 days.
        let log = stand_in.log();
        assert!(log.iter().all(|request| request.status != 400 && request.status != 401), "{log:?}");
        let after_429 = log.iter().position(|request| request.status == 429).expect("a 429");
        assert!(log[after_429 + 1].at - log[after_429].at >= std::time::Duration::from_millis(950));
        assert!(log.iter().any(|request| request.status == 503));
        assert_eq!(log.iter().filter(|request| request.status == 200).count(), 4, "{log:?}");
        assert!(log.iter().all(|request| request.path_and_query.contains("ActionDateStart=")));

        // Seen on the dashboard: the runs, the run's filters, the CSV, the overview, /metrics.
        let (status, page) = app.get("/reconciliation").await;
        assert_eq!(status, 200);
        assert!(page.contains(&format!("href=\"/reconciliation/{run_id}\"")), "{page}");
        let (status, page) = app.get(&format!("/reconciliation/{run_id}?kind=missing_here")).await;
        assert_eq!(status, 200);
        assert_eq!(page.matches("data-kind=\"missing_here\" data-action").count(), 7, "{page}");
        assert!(page.contains(&format!("href=\"/actions/{}\"", scenario.sales[0].id)), "{page}");
        assert!(page.contains("Fill 12 difference(s)"), "{page}");
        // Paged with counts, forward and back, the filters kept.
        let first = format!("/reconciliation/{run_id}?kind=missing_here&limit=3");
        let (_, page) = app.get(&first).await;
        assert!(page.contains(">1–3 of 7<") && !page.contains("rel=\"prev\""), "{page}");
        let (_, second) = app.get(&pager_link(&page, "next")).await;
        assert!(second.contains(">4–6 of 7<"), "{second}");
        assert_eq!(second.matches("data-kind=\"missing_here\" data-action").count(), 3);
        let (_, third) = app.get(&pager_link(&second, "next")).await;
        assert!(third.contains(">7–7 of 7<") && !third.contains("rel=\"next\""), "{third}");
        let (_, back) = app.get(&pager_link(&third, "prev")).await;
        assert!(back.contains(">4–6 of 7<"), "{back}");
        let (_, back) = app.get(&pager_link(&back, "prev")).await;
        assert!(back.contains(">1–3 of 7<"), "{back}");
        let api = app.json(&format!("/api/reconciliation/{run_id}/differences?kind=missing_here&limit=3")).await.unwrap();
        assert_eq!(api["total"], 7);
        let (status, csv) = app.get(&format!("/reconciliation/{run_id}/differences.csv")).await;
        assert_eq!(status, 200);
        assert_eq!(csv.lines().count(), 13, "{csv}");
        assert!(csv.starts_with("run_id,difference_id,action_id,kind"), "{csv}");
        let (_, overview) = app.get("/").await;
        assert!(
            overview.contains("Last checked against impact.com: ") && overview.contains("12 differences ("),
            "{overview}"
        );
        let summary = app.json("/api/summary").await.unwrap();
        assert_eq!(summary["cross_check"]["open"], 12);
        let (_, metrics) = app.get("/metrics").await;
        assert!(
            metrics.contains("postback_ledger_reconciliation_open_differences{network=\"impact\"} 12"),
            "{metrics}"
        );

        // --apply: a second run finds the same and fills every one from the network's records.
        let second = run_cli(&cli, args(&["sync", "impact", "--apply"], &period)).await;
        assert_eq!(second.status.code(), Some(0), "{}", text(&second));
        assert!(text(&second).contains("filled 12 difference(s)"), "{}", text(&second));
        let run = newest_run(&app).await;
        assert_eq!((run["differences"].as_i64(), run["open"].as_i64()), (Some(12), Some(0)));
        assert_ledger_is_the_networks(&app, &scenario, &cli).await;

        // The fills' entries point at deliveries of kind network_record, kept raw, no secret.
        let filled = app.action(&scenario.sales[0].id).await.unwrap();
        let entry = &filled["entries"][0];
        let delivery = app
            .json(&format!("/api/deliveries/{}", entry["delivery_id"]))
            .await
            .unwrap();
        assert_eq!(delivery["kind"], "network_record");
        assert_eq!(delivery["source"], "network:impact");
        let body: Value = serde_json::from_str(delivery["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["Id"], scenario.sales[0].id.as_str());
        assert_eq!(body["Uri"], format!("/Mediapartners/[redacted]/Actions/{}", scenario.sales[0].id));
        // The action's timeline says the fill came from that run and links to it.
        let fill = filled["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["delivery_id"] == entry["delivery_id"])
            .expect("the fill in the timeline");
        assert_eq!(fill["run_id"], run["id"], "{fill}");
        let (_, page) = app.get(&format!("/actions/{}", scenario.sales[0].id)).await;
        assert!(page.contains(&format!("href=\"/reconciliation/{}\"", run["id"])), "{page}");

        // A run after the fill finds nothing.
        let third = run_cli(&cli, args(&["sync", "impact"], &period)).await;
        assert_eq!(third.status.code(), Some(0), "{}", text(&third));
        assert!(text(&third).contains("no differences"), "{}", text(&third));
        let run = newest_run(&app).await;
        assert_eq!(run["differences"], 0);
        let (_, metrics) = app.get("/metrics").await;
        assert!(metrics.contains("postback_ledger_reconciliation_open_differences{network=\"impact\"} 0"), "{metrics}");
    }
}

on_both_backends! {
    async fn an_imported_action_listing_report_finds_the_same_and_the_dashboard_fills_it(backend: Backend) {
        let scenario = Scenario::new("report");
        let stand_in = StandIn::start(SID, TOKEN, Vec::new(), Faults::default());
        let config = config_for(&stand_in, "");
        let app = spawn_app_with(backend, &config).await;
        send_all_but_dropped(&app, &scenario).await;
        let cli = Cli::new(&app.db.url, &config);
        let report = cli.write("action-listing.csv", &scenario.report());

        let first = run_cli(&cli, vec!["import".into(), "actions".into(), report.clone()]).await;
        assert_eq!(first.status.code(), Some(1), "{}", text(&first));
        let run = newest_run(&app).await;
        let run_id = run["id"].as_i64().unwrap();
        assert_eq!(run["source"], "report");
        assert_eq!(run["file_name"], "action-listing.csv");
        assert_eq!(run["records"], 100);
        assert_eq!(totals_of(&app, run_id).await, scenario.expected_totals());
        let found = differences_of(&app, run_id, "").await;
        assert_eq!(kinds_and_ids(&found), scenario.expected_differences());

        // The dashboard's button: refused without the form's token, then filled with it.
        let url = format!("{}/reconciliation/{run_id}/fill", app.address);
        let refused = app.client.post(&url).form(&[("csrf", "forged")]).send().await.unwrap();
        assert_eq!(refused.status().as_u16(), 403);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = client
            .get(format!("{}/reconciliation/{run_id}", app.address))
            .send()
            .await
            .unwrap();
        let cookie = page
            .headers()
            .get("set-cookie")
            .and_then(|value| value.to_str().ok())
            .map(|value| value.split(';').next().unwrap().to_owned())
            .expect("the form cookie");
        let html = page.text().await.unwrap();
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a fill form")
            .to_owned();
        let filled = client
            .post(&url)
            .header("cookie", cookie)
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(filled.status().as_u16(), 303);
        assert_eq!(
            filled.headers()["location"].to_str().unwrap(),
            format!("/reconciliation/{run_id}?filled=12")
        );
        assert_ledger_is_the_networks(&app, &scenario, &cli).await;

        let again = run_cli(&cli, vec!["import".into(), "actions".into(), report]).await;
        assert_eq!(again.status.code(), Some(0), "{}", text(&again));
        assert_eq!(newest_run(&app).await["differences"], 0);
    }
}

on_both_backends! {
    async fn a_postback_after_the_fill_for_a_filled_change_does_not_double_the_money(backend: Backend) {
        let scenario = Scenario::new("late");
        let stand_in = StandIn::start(SID, TOKEN, scenario.network(), Faults::default());
        let config = config_for(&stand_in, "");
        let app = spawn_app_with(backend, &config).await;
        send_all_but_dropped(&app, &scenario).await;
        let cli = Cli::new(&app.db.url, &config);
        let filled = run_cli(&cli, args(&["sync", "impact", "--apply"], &scenario.period_args())).await;
        assert_eq!(filled.status.code(), Some(0), "{}", text(&filled));

        // impact.com's retries (or a receiver back up) now deliver what the fill stood in for.
        for i in DROPPED {
            let answer = app.get_postback("actions", &scenario.tracked(i)).await;
            assert_eq!(answer.outcome.as_deref(), Some("stale"), "{answer:?}");
        }
        for i in REVERSED {
            let answer = app.get_postback("actions", &scenario.reversal(i)).await;
            assert_eq!(answer.outcome.as_deref(), Some("stale"), "{answer:?}");
        }
        for i in DROPPED.chain(REVERSED) {
            let action = app.action(&scenario.sales[i].id).await.unwrap();
            let entries = action["entries"].as_array().unwrap();
            let expected = if REVERSED.contains(&i) { 2 } else { 1 };
            assert_eq!(entries.len(), expected, "{}: {entries:?}", scenario.sales[i].id);
        }
        assert_ledger_is_the_networks(&app, &scenario, &cli).await;
        // And the network's view still agrees.
        let again = run_cli(&cli, args(&["sync", "impact"], &scenario.period_args())).await;
        assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    }
}

on_both_backends! {
    async fn a_sync_while_postbacks_arrive_loses_and_doubles_nothing(backend: Backend) {
        let scenario = Scenario::new("race");
        // Slow pages, so the postbacks below arrive while the sync compares and fills.
        let faults = Faults {
            delay: std::time::Duration::from_millis(150),
            ..Faults::default()
        };
        let stand_in = StandIn::start(SID, TOKEN, scenario.network(), faults);
        let config = config_for(&stand_in, "");
        let app = spawn_app_with(backend, &config).await;
        send_all_but_dropped(&app, &scenario).await;
        let cli = Cli::new(&app.db.url, &config);
        let sync = {
            let mut command = cli.command(
                &args(&["sync", "impact", "--apply"], &scenario.period_args())
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
                TOKEN,
            );
            actix_web::rt::task::spawn_blocking(move || command.output().unwrap())
        };
        // Meanwhile: the dropped postbacks, the reversals, and repeats of both, interleaved.
        for round in 0..3 {
            for i in DROPPED.chain(REVERSED) {
                let query = if REVERSED.contains(&i) { scenario.reversal(i) } else { scenario.tracked(i) };
                let answer = app.get_postback("actions", &query).await;
                assert_eq!(answer.status, 200, "{answer:?}");
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100 * round)).await;
        }
        let sync = sync.await.unwrap();
        assert!(sync.status.code().is_some_and(|code| code <= 1), "{}", text(&sync));
        // Whatever came first, each change is counted once.
        for i in DROPPED.chain(REVERSED) {
            let action = app.action(&scenario.sales[i].id).await.unwrap();
            let entries = action["entries"].as_array().unwrap();
            let kinds: Vec<&str> = entries.iter().map(|entry| entry["kind"].as_str().unwrap()).collect();
            let expected: &[&str] = if REVERSED.contains(&i) { &["tracked", "reversed"] } else { &["tracked"] };
            assert_eq!(kinds, expected, "{}", scenario.sales[i].id);
        }
        // Fill what the race left (the approvals, and anything compared before its postback).
        let fill = run_cli(&cli, args(&["sync", "impact", "--apply"], &scenario.period_args())).await;
        assert_eq!(fill.status.code(), Some(0), "{}", text(&fill));
        assert_ledger_is_the_networks(&app, &scenario, &cli).await;
    }
}

on_both_backends! {
    async fn credentials_appear_in_no_log_delivery_page_or_error(backend: Backend) {
        let scenario = Scenario::new("secret");
        let stand_in = StandIn::start(SID, TOKEN, scenario.network(), Faults::some());
        let config = config_for(&stand_in, "");
        let app = spawn_app_with(backend, &config).await;
        send_all_but_dropped(&app, &scenario).await;
        let cli = Cli::new(&app.db.url, &config);
        let period = scenario.period_args();
        let synced = run_cli(&cli, args(&["sync", "impact", "--apply"], &period)).await;
        assert_eq!(synced.status.code(), Some(0), "{}", text(&synced));
        assert_no_credentials("the sync's output and log", &text(&synced));

        // A wrong token: a failed run whose error names what to check, and no secret.
        let mut wrong = cli.command(
            &args(&["sync", "impact"], &period).iter().map(String::as_str).collect::<Vec<_>>(),
            "tok-wrong-0000",
        );
        let refused = actix_web::rt::task::spawn_blocking(move || wrong.output().unwrap()).await.unwrap();
        assert_eq!(refused.status.code(), Some(3));
        let said = text(&refused);
        assert!(said.contains("refused the credentials (401)"), "{said}");
        assert!(said.contains("The cross-check against impact.com failed"), "the alert: {said}");
        assert_no_credentials("a refused sync", &said);
        assert!(!said.contains("tok-wrong-0000"), "{said}");
        let run = newest_run(&app).await;
        assert_eq!(run["status"], "failed");
        assert_no_credentials("the failed run", &run.to_string());

        // Nothing kept or shown carries them: deliveries, actions, runs, pages, the CSV.
        let deliveries = app.json("/api/deliveries?limit=500").await.unwrap();
        for delivery in deliveries["deliveries"].as_array().unwrap() {
            let shown = app.json(&format!("/api/deliveries/{}", delivery["id"])).await.unwrap();
            assert_no_credentials("a delivery", &shown.to_string());
            let (_, page) = app.get(&format!("/deliveries/{}", delivery["id"])).await;
            assert_no_credentials("a delivery's page", &page);
        }
        for sale in &scenario.sales {
            let action = app.action(&sale.id).await.unwrap();
            assert_no_credentials("an action", &action.to_string());
        }
        for path in ["/reconciliation", "/api/reconciliation", "/deliveries", "/"] {
            let (_, body) = app.get(path).await;
            assert_no_credentials(path, &body);
        }
        for run in app.json("/api/reconciliation").await.unwrap()["runs"].as_array().unwrap() {
            let id = run["id"].as_i64().unwrap();
            for path in [
                format!("/reconciliation/{id}"),
                format!("/reconciliation/{id}/differences.csv"),
                format!("/api/reconciliation/{id}/differences?limit=500"),
            ] {
                let (_, body) = app.get(&path).await;
                assert_no_credentials(&path, &body);
            }
        }
    }
}

on_both_backends! {
    async fn a_report_without_a_payout_column_is_an_error_naming_the_columns_found(backend: Backend) {
        let db = TestDatabase::new(backend);
        let cli = Cli::new(&db.url, &base_config());
        let report = cli.write("listing.csv", "Action Id,Status,Sale Amount\n1000.1.1,Pending,10.00\n");
        let output = cli.run(&["import", "actions", &report]);
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains("no column for payout"), "{said}");
        assert!(said.contains("its columns are: Action Id, Status, Sale Amount"), "{said}");
    }
}

/// The stand-in keeps impact.com's rules, so a client that broke them would see it.
#[actix_web::test]
async fn the_stand_in_keeps_impact_coms_rules() {
    let record = ActionRecord {
        id: "1000.9.9".into(),
        state: "PENDING",
        payout: "1.00".into(),
        delta_payout: "1.00".into(),
        amount: "10.00".into(),
        delta_amount: "10.00".into(),
        currency: "USD",
        event_date: Utc::now() - Duration::days(2),
        locking_date: Utc::now() + Duration::days(2),
        cleared_date: None,
        order_id: "ORD-9".into(),
    };
    let stand_in = StandIn::start(SID, TOKEN, vec![record.json(SID)], Faults::default());
    let client = reqwest::Client::new();
    let get = |query: &str| {
        client
            .get(format!(
                "{}/Mediapartners/{SID}/Actions?{query}",
                stand_in.base
            ))
            .basic_auth(SID, Some(TOKEN))
            .header("accept", "application/json")
    };
    let too_long = get("StartDate=2026-01-01T00:00:00Z&EndDate=2026-02-16T00:00:00Z")
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status().as_u16(), 400);
    assert!(too_long.text().await.unwrap().contains("45 days"));
    let half = get("StartDate=2026-01-01T00:00:00Z").send().await.unwrap();
    assert_eq!(half.status().as_u16(), 400);
    let unauthorized = client
        .get(format!("{}/Mediapartners/{SID}/Actions", stand_in.base))
        .basic_auth(SID, Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);
    let page: Value = get("").send().await.unwrap().json().await.unwrap();
    assert_eq!(page["@total"], "1", "the last 7 days by default");
    assert_eq!(page["@nextpageuri"], "");
    assert_eq!(page["Actions"][0]["Payout"], "1.00", "numbers as strings");
    let xml = client
        .get(format!("{}/Mediapartners/{SID}/Actions", stand_in.base))
        .basic_auth(SID, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert!(
        xml.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("xml")
    );
}

on_both_backends! {
    async fn serve_syncs_on_its_schedule_one_instance_at_a_time(backend: Backend) {
        let scenario = Scenario::new("schedule");
        // Each sync takes about two seconds (4 slow pages), twice the schedule's interval: the
        // second instance finds a sync due while the first still runs it.
        let faults = Faults {
            delay: std::time::Duration::from_millis(500),
            ..Faults::default()
        };
        let stand_in = StandIn::start(SID, TOKEN, scenario.network(), faults);
        let config = config_for(
            &stand_in,
            &format!("auth_token = \"{TOKEN}\"\nsync_every = \"1s\"\nlookback = \"30d\"\n"),
        );
        let app = spawn_app_with(backend, &config).await;
        // On PostgreSQL a second instance shares the database and the schedule.
        if backend == Backend::Postgres {
            let settings = settings_for(&app.db, &config);
            let (second, _) = postback_ledger::web::startup::Application::build(settings)
                .expect("a second instance starts");
            actix_web::rt::spawn(second.run_until_stopped());
        }
        // Two completed runs, waited for (a loaded machine makes each take longer).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let runs = loop {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
            let runs = app.json("/api/reconciliation").await.unwrap();
            let mut runs: Vec<Value> = runs["runs"].as_array().unwrap().clone();
            runs.reverse();
            let completed = runs.iter().filter(|run| run["status"] == "completed").count();
            if completed >= 2 || std::time::Instant::now() > deadline {
                break runs;
            }
        };
        let completed = runs.iter().filter(|run| run["status"] == "completed").count();
        assert!(completed >= 2, "the schedule ran the sync again: {runs:#?}");
        assert!(runs.iter().all(|run| run["source"] == "api" && run["status"] != "failed"), "{runs:#?}");
        for pair in runs.windows(2) {
            let finished = pair[0]["finished_at"].as_str().expect("only the newest may still run");
            let next_started = pair[1]["started_at"].as_str().unwrap();
            assert!(
                next_started >= finished,
                "run {} started at {next_started}, before run {} finished at {finished}",
                pair[1]["id"], pair[0]["id"]
            );
        }
        // The first run found what the network lists and the ledger does not.
        assert_eq!(runs[0]["differences"], 100);
    }
}

on_both_backends! {
    async fn every_action_the_network_does_not_list_is_found_once_however_its_date_was_written(backend: Backend) {
        // 1,200 actions sharing one event date, written by hand with six decimal places (a
        // format diesel would not write for a whole second): more than a page of the walk that
        // finds them, each a boundary of the next page.
        let stand_in = StandIn::start(SID, TOKEN, Vec::new(), Faults::default());
        let config = config_for(&stand_in, "");
        let app = spawn_app_with(backend, &config).await;
        let day = (Utc::now() - Duration::days(3)).format("%Y-%m-%d 10:00:00.000000");
        let rows: Vec<String> = (0..1_200)
            .map(|i| {
                format!(
                    "('HAND-{i:04}', 'actions', 'pending', 10000, 0, 'USD', '{day}', '', '{day}', '{day}', FALSE)"
                )
            })
            .collect();
        app.db.execute(&format!(
            "INSERT INTO actions (action_id, source, status, payout, amount, payout_currency, \
             event_date, flags, first_seen_at, last_seen_at, is_test) VALUES {}",
            rows.join(",")
        ));
        let cli = Cli::new(&app.db.url, &config);
        let today = Utc::now().date_naive();
        let output = cli.run(&[
            "sync",
            "impact",
            "--from",
            &(today - Duration::days(7)).to_string(),
            "--to",
            &today.to_string(),
        ]);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        let run = newest_run(&app).await;
        let totals = totals_of(&app, run["id"].as_i64().unwrap()).await;
        assert_eq!(
            totals,
            [(("missing_there".to_owned(), "USD".to_owned()), (1_200, "-1200.00".to_owned()))].into()
        );
    }
}

on_both_backends! {
    async fn a_lost_modification_and_a_clearing_known_only_from_impact_com_are_filled(backend: Backend) {
        let scenario = Scenario::new("clear");
        let now = Utc::now();
        let sale = |i: usize| &scenario.sales[i];
        // Sale 0 was modified at impact.com (-2.00, its postback lost) and has cleared; sale 1
        // never arrived here and has cleared; sale 2 a clearing postback named, but impact.com
        // does not list it cleared.
        let record = |i: usize, payout: i64, delta: i64, cleared: Option<DateTime<Utc>>| {
            ActionRecord {
                id: sale(i).id.clone(),
                state: "PENDING",
                payout: cents(payout),
                delta_payout: cents(delta),
                amount: cents(sale(i).payout * 10),
                delta_amount: "0.00".into(),
                currency: sale(i).currency,
                event_date: sale(i).event_date,
                locking_date: sale(i).locking_date,
                cleared_date: cleared,
                order_id: format!("ORD-{i}"),
            }
            .json(SID)
        };
        let cleared_at = now - Duration::days(1);
        let network = vec![
            record(0, sale(0).payout - 200, -200, Some(cleared_at)),
            record(1, sale(1).payout, sale(1).payout, Some(cleared_at)),
            record(2, sale(2).payout, sale(2).payout, None),
        ];
        let stand_in = StandIn::start(SID, TOKEN, network, Faults::default());
        let config = config_for(&stand_in, "");
        let app = spawn_app_with(backend, &config).await;
        for i in [0, 2] {
            let answer = app.get_postback("actions", &scenario.tracked(i)).await;
            assert_eq!(answer.status, 200);
        }
        let clearing = app
            .get_postback("clearing", &format!("ActionIds={}&LedgerDate=2026-11-01T00:00:00Z", sale(2).id))
            .await;
        assert_eq!(clearing.status, 200, "{clearing:?}");
        let cli = Cli::new(&app.db.url, &config);
        let period = scenario.period_args();

        let first = run_cli(&cli, args(&["sync", "impact", "--apply"], &period)).await;
        assert_eq!(first.status.code(), Some(1), "one stays open: {}", text(&first));
        let run_id = newest_run(&app).await["id"].as_i64().unwrap();
        let found = differences_of(&app, run_id, "").await;
        let summary: BTreeSet<(String, String, String)> = found
            .iter()
            .map(|difference| {
                (
                    difference["kind"].as_str().unwrap().to_owned(),
                    difference["action_id"].as_str().unwrap().to_owned(),
                    difference["resolution"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expect = |kind: &str, i: usize, resolution: &str| {
            (kind.to_owned(), sale(i).id.clone(), resolution.to_owned())
        };
        assert_eq!(
            summary,
            [
                expect("payout_differs", 0, "filled"),
                expect("cleared_differs", 0, "filled"),
                expect("missing_here", 1, "filled"),
                expect("cleared_differs", 1, "filled"),
                expect("cleared_differs", 2, "open"),
            ]
            .into()
        );

        // The modification is an entry of the network's record; the clearing names its delivery.
        let modified = app.action(&sale(0).id).await.unwrap();
        assert_eq!(modified["payout"], cents(sale(0).payout - 200).as_str());
        let entries = modified["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!((entries[1]["kind"].as_str(), entries[1]["payout_delta"].as_str()), (Some("modified"), Some("-2.00")));
        assert_eq!(delivery_kind(&app, &entries[1]["delivery_id"]).await, "network_record");
        for i in [0, 1] {
            let action = app.action(&sale(i).id).await.unwrap();
            let clearings = action["clearings"].as_array().unwrap();
            assert_eq!(clearings.len(), 1, "{action}");
            assert_eq!(delivery_kind(&app, &clearings[0]["delivery_id"]).await, "network_record");
            assert!(action["flags"].as_array().unwrap().is_empty(), "{action}");
        }

        // The lost modification's postback arrives at last: the same change, no second entry.
        let late = serde_urlencoded::to_string([
            ("ActionId", sale(0).id.as_str()),
            ("Status", "MODIFIED"),
            ("Payout", &cents(sale(0).payout - 200)),
            ("DeltaPayout", "-2.00"),
            ("Currency", sale(0).currency),
        ])
        .unwrap();
        let answer = app.get_postback("actions", &late).await;
        assert_eq!(answer.outcome.as_deref(), Some("stale"), "{answer:?}");
        let check = cli.run(&["check"]);
        assert!(check.status.success(), "{}", text(&check));

        // Only what impact.com cannot explain is left.
        let again = run_cli(&cli, args(&["sync", "impact"], &period)).await;
        assert_eq!(again.status.code(), Some(1), "{}", text(&again));
        let left = differences_of(&app, newest_run(&app).await["id"].as_i64().unwrap(), "").await;
        assert_eq!(kinds_and_ids(&left), [("cleared_differs".to_owned(), sale(2).id.clone())].into());
        assert_eq!(left[0]["fillable"], false);
    }
}
