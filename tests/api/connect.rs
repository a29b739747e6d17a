//! Connecting impact.com: the templates `setup` prints, filled in as impact.com fills them and
//! sent; URLs under `public_url`; empty postbacks; configured sources that add to the defaults;
//! a secret rotated under running servers; output into a closed pipe.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use postback_ledger::intake::decode::{Fields, Limits, decode, field_text};
use postback_ledger::intake::template::ITEMS_TEMPLATE;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_backends;

/// What `setup` printed for one source.
#[derive(Debug, Default, Clone)]
pub struct Printed {
    pub get_url: String,
    pub post_url: String,
    pub post_body: String,
    pub header: Option<String>,
    pub success: String,
    pub error: String,
}

/// Reads `setup`'s output: a source's line, then its values each under its label.
pub fn parse_setup(text: &str) -> BTreeMap<String, Printed> {
    let mut found: BTreeMap<String, Printed> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if !line.starts_with(' ') && line.contains(": impact.com's \"") {
            let name = line.split(':').next().unwrap().to_owned();
            found.insert(name.clone(), Printed::default());
            current = Some(name);
            continue;
        }
        let Some(printed) = current.as_ref().and_then(|name| found.get_mut(name)) else {
            continue;
        };
        let mut next = || lines.next().unwrap_or_default().trim().to_owned();
        match line {
            "  GET URL:" => printed.get_url = next(),
            "  POST URL:" => printed.post_url = next(),
            "  HTTP Header:" => printed.header = Some(next()),
            "  POST body (Body Format JSON):" => {
                let mut body = Vec::new();
                while let Some(line) = lines.next_if(|line| line.starts_with("    ")) {
                    body.push(&line[4..]);
                }
                printed.post_body = body.join("\n");
            }
            _ => {
                if let Some(text) = line.strip_prefix("  Success Response: ") {
                    printed.success = text.to_owned();
                } else if let Some(text) = line.strip_prefix("  Error Response: ") {
                    printed.error = text.to_owned();
                }
            }
        }
    }
    found
}

/// A seed payload of tests/fixtures (impact.com's help page example, comments and all): the
/// values impact.com fills into a template's placeholders.
pub fn seed(fixture: &str) -> Fields {
    let body = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(fixture),
    )
    .expect("the fixture exists");
    decode("", Some("application/json"), &body, &Limits::default())
        .expect("the fixture decodes")
        .fields
}

fn url_encoded(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .unwrap()
        .trim_start_matches('=')
        .to_owned()
}

/// A value's text as impact.com writes it into a template (numbers as written, nothing for null
/// or a value it does not have).
fn text_of(values: &Fields, name: &str) -> String {
    values
        .get(name)
        .and_then(field_text)
        .unwrap_or_default()
        .to_owned()
}

/// Replaces every `{Name}` with `value(Name)`; other braces (JSON's) are copied.
fn replace_placeholders(template: &str, mut value: impl FnMut(&str, bool) -> String) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let name_end = rest[open + 1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
            .map(|end| open + 1 + end);
        match name_end {
            Some(close) if close > open + 1 && rest[close..].starts_with('}') => {
                out.push_str(&rest[..open]);
                let quoted = out.ends_with('"');
                out.push_str(&value(&rest[open + 1..close], quoted));
                rest = &rest[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// impact.com's `join(items, i, "…")`: the quoted template (its `\{`, `\}` and `\"` unescaped)
/// once per item, `{i.sku}` and the like replaced, joined by commas.
fn expand_items(items: Option<&Value>) -> String {
    let inner = ITEMS_TEMPLATE
        .split_once(", \"")
        .and_then(|(_, rest)| rest.rsplit_once("\")}"))
        .map(|(inner, _)| inner)
        .expect("the items template holds a quoted item template")
        .replace("\\{", "{")
        .replace("\\}", "}")
        .replace("\\\"", "\"");
    let item_key = |name: &str| match name {
        "i.sku" => "sku",
        "i.amt" => "item_price",
        "i.cat" => "category",
        "i.qty" => "quantity",
        "i.cartamt" => "cartamt",
        "i.rbt" => "rbt",
        "i.name" => "name",
        other => panic!("unknown item placeholder {other}"),
    };
    let items = items.and_then(Value::as_array).cloned().unwrap_or_default();
    let each: Vec<String> = items
        .iter()
        .map(|item| {
            let item = item.as_object().expect("an item is an object");
            replace_placeholders(&inner, |name, _| text_of(item, item_key(name)))
        })
        .collect();
    format!("[{}]", each.join(","))
}

/// The GET URL with each placeholder replaced by its value, URL-encoded, as impact.com sends it.
pub fn fill_get(template: &str, values: &Fields) -> String {
    replace_placeholders(template, |name, _| url_encoded(&text_of(values, name)))
}

/// The POST body with each placeholder replaced by its value (inside quotes, as JSON text) and
/// the items' `join` expanded.
pub fn fill_post(template: &str, values: &Fields) -> String {
    let expanded = template.replace(ITEMS_TEMPLATE, &expand_items(values.get("items")));
    replace_placeholders(&expanded, |name, quoted| {
        let text = text_of(values, name);
        if quoted {
            let json = serde_json::to_string(&text).unwrap();
            json[1..json.len() - 1].to_owned()
        } else {
            text
        }
    })
}

/// A configuration file in a directory of its own.
pub fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postback-ledger.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// The binary with a config file and extra environment, on a database.
pub fn binary(
    database_url: &str,
    config: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_postback-ledger"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("POSTBACK_LEDGER_DATABASE_URL", database_url)
        .env_remove("POSTBACK_LEDGER_CONFIG")
        .env_remove("POSTBACK_LEDGER_PUBLIC_URL")
        .envs(env.iter().copied())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the binary runs")
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// What `setup` prints for the app's database and configuration, under the app's own address.
pub fn printed_setup(app: &TestApp, config_text: &str) -> BTreeMap<String, Printed> {
    let (_dir, config) = config_file(config_text);
    let output = binary(
        &app.db.url,
        &config,
        &[("POSTBACK_LEDGER_PUBLIC_URL", &app.address)],
        &["setup"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    parse_setup(&stdout(&output))
}

/// Each kind: its source, the seed payload, the ids (and their key) to give the GET and POST
/// sends apart (the same values by GET and by JSON are one delivery), and the outcome. The
/// action seed is a modification (`DeltaPayout` -5.00) without its tracking event: applied, and
/// flagged for the gap.
const KINDS: &[(&str, &str, &str, [&str; 2], &str)] = &[
    (
        "actions",
        "action_modified.json",
        "ActionId",
        ["ACT-G", "ACT-P"],
        "flagged",
    ),
    (
        "inquiries",
        "inquiry_created.json",
        "Id",
        ["554433", "554434"],
        "applied",
    ),
    (
        "clearing",
        "clearing.json",
        "ActionIds",
        ["ACT-G", "ACT-P"],
        "applied",
    ),
    (
        "products",
        "product_data_change.json",
        "CatalogItemId",
        ["SKU-G", "SKU-P"],
        "applied",
    ),
    (
        "jobs",
        "completed_job.json",
        "JobId",
        ["10293847", "10293848"],
        "applied",
    ),
    (
        "tracking-values",
        "tracking_value_request.json",
        "ActionId",
        ["TV-G", "TV-P"],
        "applied",
    ),
];

/// What the seed's values became, by kind; `items` go only in a body (a URL cannot carry the
/// `join`).
async fn what_was_stored(app: &TestApp, source: &str, id: &str, method: &str) {
    match source {
        "actions" => {
            let action = app.action(id).await.expect("the action is stored");
            assert_eq!(action["payout"], "10.50", "{action}");
            assert_eq!(action["amount"], "100.00", "{action}");
            assert_eq!(action["payout_currency"], "USD", "{action}");
            assert_eq!(action["status"], "pending", "MODIFIED is pending: {action}");
            assert_eq!(action["event_date"], "2026-04-08T09:00:00Z", "{action}");
            assert_eq!(action["locking_date"], "2026-05-08T00:00:00Z", "{action}");
            assert_eq!(action["order_id"], "ORD-554433", "{action}");
            assert_eq!(action["shared_id"], "social_post_01", "{action}");
            if method == "POST" {
                assert_eq!(
                    action["items"][0]["sku"], "SKU-1",
                    "the items' join: {action}"
                );
            }
            assert!(action["flags"].to_string().contains("gap"), "{action}");
        }
        "inquiries" => {
            let inquiry = app.inquiry(id).await.expect("the inquiry is stored");
            assert_eq!(inquiry["status"], "pending", "{inquiry}");
            assert_eq!(inquiry["expected_payout"], "25.00", "{inquiry}");
            assert_eq!(inquiry["transaction_amount"], "250.00", "{inquiry}");
            assert_eq!(
                inquiry["transaction_date"], "2026-04-01T14:30:00Z",
                "{inquiry}"
            );
            assert_eq!(inquiry["comments"][1]["user"], "partner", "{inquiry}");
        }
        "clearing" => {
            let action = app.action(id).await.expect("the cleared action");
            assert_eq!(action["shown_status"], "cleared", "{action}");
            assert_eq!(action["ledger_date"], "2026-04-08T09:54:43Z", "{action}");
        }
        "products" => {
            let items = app
                .json(&format!("/api/catalog-items?catalog_id=4455&item_id={id}"))
                .await
                .unwrap();
            let item = &items["items"][0];
            assert_eq!(item["price"], "89.99", "{items}");
            assert_eq!(item["stock"], "InStock", "{items}");
        }
        "jobs" => {
            let job = app.json(&format!("/api/jobs/{id}")).await.expect("the job");
            assert_eq!(job["records_processed"], "5240", "{job}");
            assert_eq!(job["end_date"], "2026-04-08T10:11:02Z", "{job}");
            assert_eq!(job["result_urls"].as_array().unwrap().len(), 4, "{job}");
        }
        "tracking-values" => {
            let found = app
                .json(&format!("/api/tracking-values?action_id={id}"))
                .await
                .unwrap();
            let request = &found["tracking_values"][0];
            assert_eq!(request["amount"], "150.00", "{found}");
            assert_eq!(request["currency"], "USD", "{found}");
            if method == "POST" {
                assert_eq!(request["items"][0]["sku"], "SKU-1", "{found}");
            }
        }
        other => panic!("no check for {other}"),
    }
}

on_both_backends! {
    async fn the_printed_templates_filled_as_impact_com_fills_them_are_applied_for_every_kind(backend: Backend) {
        let app = spawn_app(backend).await;
        let printed = printed_setup(&app, &base_config());
        assert_eq!(printed.len(), 6, "{printed:?}");
        for (source, fixture, id_key, [get_id, post_id], outcome) in KINDS {
            let template = &printed[*source];
            assert!(template.get_url.starts_with(&format!("{}/postbacks/{source}?secure={SECRET}&", app.address)), "{}", template.get_url);
            assert_eq!(template.post_url, format!("{}/postbacks/{source}?secure={SECRET}", app.address));
            assert_eq!((template.success.as_str(), template.error.as_str()), ("OK", "ERROR"));
            for (method, id) in [("GET", get_id), ("POST", post_id)] {
                let mut values = seed(fixture);
                values.insert((*id_key).to_owned(), Value::String((*id).to_owned()));
                let answer = if method == "GET" {
                    let url = fill_get(&template.get_url, &values);
                    assert!(!url.contains('{'), "every placeholder replaced: {url}");
                    let response = app.client.get(&url).send().await.unwrap();
                    (response.status().as_u16(), response.headers().get("x-delivery-outcome").map(|v| v.to_str().unwrap().to_owned()))
                } else {
                    let body = fill_post(&template.post_body, &values);
                    serde_json::from_str::<Value>(&body).unwrap_or_else(|error| panic!("{source}: {error}\n{body}"));
                    let answer = app.post_postback_to(&template.post_url, Some("application/json"), body).await;
                    (answer.status, answer.outcome)
                };
                assert_eq!(answer, (200, Some((*outcome).to_owned())), "{source} by {method}");
                what_was_stored(&app, source, id, method).await;
            }
        }
        assert!(app.cli(&["check"]).status.success());
    }
}

on_both_backends! {
    async fn a_source_with_its_own_keys_gets_a_template_with_them_that_its_mapping_reads(backend: Backend) {
        let config = format!(
            "{}\n[sources.partner]\nkind = \"action_lifecycle\"\n[sources.partner.fields]\naction_id = \"txn\"\npayout = \"commission\"\norder_id = \"order\"\n",
            base_config()
        );
        let app = spawn_app_with(backend, &config).await;
        let printed = printed_setup(&app, &config);
        let partner = &printed["partner"];
        assert!(partner.get_url.contains("&txn={ActionId}&"), "{}", partner.get_url);
        assert!(partner.get_url.contains("&commission={Payout}&"), "{}", partner.get_url);
        assert!(partner.post_body.contains("\"order\": \"{Oid}\""), "{}", partner.post_body);
        let mut values = seed("action_modified.json");
        values.insert("ActionId".into(), Value::String("OWN-1".into()));
        let response = app.client.get(fill_get(&partner.get_url, &values)).send().await.unwrap();
        assert_eq!(response.headers()["x-delivery-outcome"], "flagged", "applied, with a gap");
        let action = app.action("OWN-1").await.unwrap();
        assert_eq!((action["payout"].as_str(), action["order_id"].as_str()), (Some("10.50"), Some("ORD-554433")));
    }
}

on_both_backends! {
    async fn printed_urls_start_with_public_url_and_without_it_a_warning_says_how_to_set_it(backend: Backend) {
        let db = TestDatabase::new(backend);
        // No [auth]: the stored (generated) secret guards every source, as on a first start.
        let (_dir, plain) = config_file("listen = \"127.0.0.1:8080\"\n");
        let public = [("POSTBACK_LEDGER_PUBLIC_URL", "https://pb.example.com/")];
        for args in [&["setup"][..], &["token", "show"], &["token", "rotate"]] {
            let output = binary(&db.url, &plain, &public, args);
            assert!(output.status.success(), "{args:?}: {}", stderr(&output));
            let text = stdout(&output);
            let urls: Vec<&str> = text.split_whitespace().filter(|word| word.contains("://")).collect();
            assert!(urls.len() >= 6, "{args:?}: {text}");
            for url in urls {
                assert!(url.starts_with("https://pb.example.com/postbacks/"), "{args:?}: {url}");
            }
            assert!(!stderr(&output).contains("warning"), "{args:?}: {}", stderr(&output));
        }
        // The same from the file's public_url.
        let (_dir2, with_url) = config_file("public_url = \"https://ledger.example.org/pb\"\n");
        let text = stdout(&binary(&db.url, &with_url, &[], &["setup", "--source", "inquiries"]));
        assert!(text.contains("    https://ledger.example.org/pb/postbacks/inquiries?secure="), "{text}");
        assert!(!text.contains("/postbacks/actions"), "--source shows one: {text}");
        // Without it: the listen address, and a plain warning on standard error.
        for args in [&["setup"][..], &["token", "show"]] {
            let output = binary(&db.url, &plain, &[], args);
            assert!(stdout(&output).contains("http://127.0.0.1:8080/postbacks/actions?secure="), "{}", stdout(&output));
            let warning = stderr(&output);
            assert!(warning.starts_with("warning: public_url is not set"), "{warning}");
            assert!(warning.contains("loopback address, which impact.com cannot reach"), "{warning}");
            assert!(warning.contains("POSTBACK_LEDGER_PUBLIC_URL") && warning.contains("docs/setup.md"), "{warning}");
        }
        // Header authentication: a header line, and no query secret that would be refused.
        let (_dir3, header) = config_file(
            "public_url = \"https://pb.example.com\"\n[auth]\nheader = \"Authorization\"\nheader_values = [\"Bearer s3cret\"]\n",
        );
        let printed = parse_setup(&stdout(&binary(&db.url, &header, &[], &["setup"])));
        for (source, template) in &printed {
            assert_eq!(template.header.as_deref(), Some("Authorization: Bearer s3cret"), "{source}");
            assert!(!template.get_url.contains("secure="), "{}", template.get_url);
            assert!(template.get_url.starts_with(&format!("https://pb.example.com/postbacks/{source}?")), "{}", template.get_url);
        }
        let shown = stdout(&binary(&db.url, &header, &[], &["token", "show"]));
        assert!(shown.contains("No source uses it"), "{shown}");
        assert!(!shown.contains("?secure="), "{shown}");
    }
}

/// `serve` as a child process: what it printed by the time it printed `until`, then stopped.
/// Its log goes to `log` (the file is read after it stops).
fn serve_until(
    database_url: &str,
    config: &Path,
    log: &Path,
    until: &str,
    while_serving: impl FnOnce(&str),
) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postback-ledger"))
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("POSTBACK_LEDGER_DATABASE_URL", database_url)
        .env_remove("POSTBACK_LEDGER_CONFIG")
        .env_remove("POSTBACK_LEDGER_PUBLIC_URL")
        .env_remove("RUST_LOG")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("serve starts");
    let (lines, arriving) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            if lines.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut printed = String::new();
    while !printed.contains(until) {
        let left = deadline.saturating_duration_since(Instant::now());
        match arriving.recv_timeout(left) {
            Ok(line) => {
                printed.push_str(&line);
                printed.push('\n');
            }
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "serve did not print {until:?}:\n{printed}\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        }
    }
    while_serving(&printed);
    let _ = child.kill();
    let _ = child.wait();
    printed
}

/// The port `serve` listens on, from its listing's `http://127.0.0.1:PORT/postbacks/NAME`.
fn served_at(printed: &str) -> String {
    let start = printed
        .find("http://127.0.0.1:")
        .expect("the listen address");
    let rest = &printed[start..];
    rest[..rest.find("/postbacks/NAME").expect("the listing's URL")].to_owned()
}

on_both_backends! {
    async fn serve_lists_every_source_prints_the_templates_on_its_first_start_and_warns_once_per_empty_source(backend: Backend) {
        let db = TestDatabase::new(backend);
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("postback-ledger.toml");
        std::fs::write(
            &config,
            "listen = \"127.0.0.1:0\"\n[sources.partner-b]\nkind = \"action_inquiry\"\n[sources.partner-b.auth]\nheader = \"X-Token\"\nheader_values = [\"t0k3n\"]\n",
        )
        .unwrap();
        let log = dir.path().join("serve.log");
        let first = serve_until(&db.url, &config, &log, "The dashboard shows the same at", |printed| {
            // Two empty postbacks (the bare URL pasted as it is): one warning for the source.
            let base = served_at(printed);
            let secret = printed
                .lines()
                .find_map(|line| line.trim().strip_prefix(&format!("{base}/postbacks/actions?secure=")))
                .and_then(|rest| rest.split('&').next())
                .expect("the GET URL with the generated secret")
                .to_owned();
            let first = get_status(&format!("{base}/postbacks/actions?secure={secret}"));
            let again = get_status(&format!("{base}/postbacks/actions?secure={secret}"));
            assert_eq!((first, again), (200, 200));
        });
        assert!(first.contains("Serving 7 source(s) at http://127.0.0.1:"), "{first}");
        for (source, kind, checks) in [
            ("actions", "action_lifecycle", "query secret `secure`"),
            ("clearing", "action_clearing", "query secret `secure`"),
            ("inquiries", "action_inquiry", "query secret `secure`"),
            ("jobs", "completed_job", "query secret `secure`"),
            ("partner-b", "action_inquiry", "header `X-Token`"),
            ("products", "product_data_change", "query secret `secure`"),
            ("tracking-values", "tracking_value_request", "query secret `secure`"),
        ] {
            assert!(
                first.lines().any(|line| line.split_whitespace().collect::<Vec<_>>().join(" ") == format!("{source} {kind} {checks}")),
                "{source}: {first}"
            );
        }
        assert!(first.contains("Generated a postback secret"), "{first}");
        let printed = parse_setup(&first);
        assert_eq!(printed.len(), 7, "{first}");
        assert_eq!(printed["partner-b"].header.as_deref(), Some("X-Token: t0k3n"));
        let log_text = std::fs::read_to_string(&log).unwrap();
        assert!(log_text.contains("public_url is not set"), "{log_text}");
        assert_eq!(log_text.matches("empty postback: the template pasted into impact.com").count(), 1, "{log_text}");

        // Later starts list the sources but print no secret.
        let second = serve_until(&db.url, &config, &log, "What to paste into impact.com", |_| {});
        assert!(second.contains("Serving 7 source(s)"), "{second}");
        assert!(!second.contains("?secure="), "{second}");
        assert!(!second.contains("Generated"), "{second}");
    }
}

/// A plain GET from a thread of its own (the caller may be inside an async runtime): the status.
fn get_status(url: &str) -> u16 {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { reqwest::get(&url).await.unwrap().status().as_u16() })
    })
    .join()
    .unwrap()
}

on_both_backends! {
    async fn an_empty_postback_is_answered_200_quarantined_as_a_setup_error_counted_and_kept_apart(backend: Backend) {
        let app = spawn_app(backend).await;
        let reason = "empty postback: the URL template has no {Placeholders}";
        let mut ids = Vec::new();
        // The bare URL, twice; a template whose placeholders were left unreplaced; a body of them.
        for answer in [
            app.get_postback("actions", "").await,
            app.get_postback("actions", "").await,
            app.get_postback("actions", "ActionId={ActionId}&Payout={Payout}&Status=").await,
            app.post_postback("inquiries", Some("application/json"), r#"{"Id": "{Id}", "ResolutionStatus": ""}"#).await,
        ] {
            assert_eq!((answer.status, answer.body.as_str()), (200, "OK"), "{answer:?}");
            assert_eq!(answer.outcome.as_deref(), Some("quarantined"), "{answer:?}");
            let id = answer.delivery_id.unwrap();
            assert!(!ids.contains(&id), "each empty postback is its own delivery: {ids:?} {id}");
            ids.push(id);
            let delivery = app.json(&format!("/api/deliveries/{id}")).await.unwrap();
            assert_eq!(delivery["reason"], reason, "{delivery}");
            assert_eq!(delivery["times_received"], 1, "{delivery}");
        }
        // Values under keys the source does not map still tell postbacks apart: a repeat is a
        // repeat.
        let unmapped = app.get_postback("actions", "MyParam=social_post_01").await;
        assert_eq!(unmapped.outcome.as_deref(), Some("quarantined"));
        assert_eq!(app.get_postback("actions", "MyParam=social_post_01").await.outcome.as_deref(), Some("duplicate"));
        // A mapped field without the id is the old reason.
        let no_id = app.get_postback("actions", "Payout=10.00").await;
        let delivery = app.json(&format!("/api/deliveries/{}", no_id.delivery_id.unwrap())).await.unwrap();
        assert!(delivery["reason"].as_str().unwrap().starts_with("no action id"), "{delivery}");

        let summary = app.json("/api/summary").await.unwrap();
        assert_eq!(summary["attention"]["empty_postbacks"], 5, "{summary}");
        assert_eq!(summary["attention"]["quarantined_deliveries"], 6, "{summary}");
        let (_, page) = app.get("/").await;
        assert!(page.contains("<a href=\"/setup\"><strong data-count=\"empty-postbacks\">5</strong>"), "{page}");
        // What the real template sends is still applied.
        let answer = app.get_postback("actions", "ActionId=E-1&Payout=1.00").await;
        assert_eq!(answer.outcome.as_deref(), Some("applied"));
    }
}

on_both_backends! {
    async fn a_configured_source_adds_to_the_defaults_and_default_sources_false_serves_only_its_own(backend: Backend) {
        let one = format!(
            "{}\n[sources.actions]\nkind = \"action_lifecycle\"\n[sources.actions.fields]\norder_id = \"OrderId\"\n",
            base_config()
        );
        let app = spawn_app_with(backend, &one).await;
        for (source, query) in [
            ("inquiries", "Id=I-1&ResolutionStatus=PENDING"),
            ("clearing", "ActionIds=A-1"),
            ("products", "CatalogId=1&CatalogItemId=S"),
            ("jobs", "JobId=1"),
            ("tracking-values", "ActionId=T-1"),
        ] {
            assert_eq!(app.get_postback(source, query).await.status, 200, "{source}");
        }
        app.get_postback("actions", "ActionId=A-1&OrderId=O-1&Payout=1").await;
        assert_eq!(app.action("A-1").await.unwrap()["order_id"], "O-1");

        let only = format!(
            "default_sources = false\n{}\n[sources.partner]\nkind = \"action_lifecycle\"\n",
            base_config()
        );
        let app = spawn_app_with(backend, &only).await;
        assert_eq!(app.get_postback("partner", "ActionId=P-1&Payout=1").await.status, 200);
        for source in ["actions", "inquiries", "clearing", "products", "jobs", "tracking-values"] {
            assert_eq!(app.get_postback(source, "ActionId=X").await.status, 404, "{source}");
        }
    }
}

/// Tries until `check` holds, for at most five seconds; the time it took.
async fn within_five_seconds<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: not within five seconds"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status_with(app_address: &str, client: &reqwest::Client, secret: &str, id: &str) -> u16 {
    client
        .get(format!(
            "{app_address}/postbacks/actions?secure={secret}&ActionId={id}&Payout=1"
        ))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

on_both_backends! {
    async fn token_rotate_takes_effect_in_running_servers_within_five_seconds(backend: Backend) {
        let db = TestDatabase::new(backend);
        let url = db.url.clone();
        // No [auth]: every source takes the stored secret. Two instances on one database.
        let config = "listen = \"127.0.0.1:0\"\n";
        let first = spawn_on(db, config).await;
        let (second, _) = postback_ledger::web::startup::Application::build(settings_for(&first.db, config)).unwrap();
        let second_address = format!("http://127.0.0.1:{}", second.port());
        actix_web::rt::spawn(second.run_until_stopped());
        let client = reqwest::Client::new();
        let (_dir, config_path) = config_file(config);
        let shown = stdout(&binary(&url, &config_path, &[], &["token", "show"]));
        let old = shown.lines().next().unwrap().trim_start_matches("secret: ").to_owned();
        for address in [&first.address, &second_address] {
            assert_eq!(status_with(address, &client, &old, "R-0").await, 200);
        }

        let rotated = binary(&url, &config_path, &[], &["token", "rotate"]);
        assert!(rotated.status.success(), "{}", stderr(&rotated));
        let text = stdout(&rotated);
        let new = text.lines().next().unwrap().trim_start_matches("new secret: ").to_owned();
        assert!(text.contains("the old secret is no longer accepted"), "{text}");
        let printed = parse_setup(&text);
        assert_eq!(printed.len(), 6, "the new templates: {text}");
        assert!(printed["actions"].get_url.contains(&format!("?secure={new}&ActionId={{ActionId}}")), "{text}");

        for address in [first.address.clone(), second_address.clone()] {
            let took = within_five_seconds("the new secret accepted, the old refused", || {
                let (client, address, old, new) = (client.clone(), address.clone(), old.clone(), new.clone());
                async move {
                    status_with(&address, &client, &new, "R-1").await == 200
                        && status_with(&address, &client, &old, "R-2").await == 401
                }
            })
            .await;
            eprintln!("{address}: rotated within {took:?}");
        }

        // --keep-old: both accepted.
        let kept = stdout(&binary(&url, &config_path, &[], &["token", "rotate", "--keep-old"]));
        let newest = kept.lines().next().unwrap().trim_start_matches("new secret: ").to_owned();
        for address in [first.address.clone(), second_address] {
            within_five_seconds("the newest and the kept secret accepted", || {
                let (client, address, old, new, newest) =
                    (client.clone(), address.clone(), old.clone(), new.clone(), newest.clone());
                async move {
                    status_with(&address, &client, &newest, "K-1").await == 200
                        && status_with(&address, &client, &new, "K-2").await == 200
                        && status_with(&address, &client, &old, "K-3").await == 401
                }
            })
            .await;
        }
    }
}

#[test]
fn a_command_writing_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let db = TestDatabase::new(Backend::Sqlite);
    let (_dir, config) = config_file("listen = \"127.0.0.1:8080\"\n");
    for args in [&["token", "show"][..], &["setup"], &["--help"]] {
        // The reading end is closed before the command writes: `token show | head -0`.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = Command::new(env!("CARGO_BIN_EXE_postback-ledger"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("POSTBACK_LEDGER_DATABASE_URL", &db.url)
            .env_remove("POSTBACK_LEDGER_CONFIG")
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let errors = stderr(&output);
        assert!(
            !errors.contains("panicked") && !errors.contains("Broken pipe"),
            "{args:?}: {errors}"
        );
        assert!(
            output.status.success() || output.status.signal() == Some(libc_sigpipe()),
            "{args:?}: {:?}",
            output.status
        );
    }
}

fn libc_sigpipe() -> i32 {
    13
}

on_both_backends! {
    async fn send_test_on_a_default_install_needs_no_secret_it_reads_the_generated_one(backend: Backend) {
        // No [auth]: the sources take the generated secret, which send-test finds in the database.
        let app = spawn_on(TestDatabase::new(backend), "listen = \"127.0.0.1:0\"\n").await;
        let (url, to) = (app.db.url.clone(), app.address.clone());
        let output = actix_web::rt::task::spawn_blocking(move || {
            cli_on(&url, &["send-test", "--to", &to, "--scenario", "lifecycle", "--action-id", "FIRST-1"])
        })
        .await
        .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
        assert_eq!(app.action("FIRST-1").await.unwrap()["status"], "reversed");
    }
}
