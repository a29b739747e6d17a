//! Every configured secret of every source, the `/metrics` token and the generated secret
//! included, is masked wherever a delivery is stored, shown or logged: each secret planted in
//! each position of a postback, and looked for in the database, the pages, the API and the
//! debug log.

use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};

use crate::helpers::*;
use crate::on_both_backends;

const QUERY_SECRET: &str = "query-secret-1934";
const HEADER_TOKEN: &str = "header-token-5570";
const HMAC_SECRET: &str = "hmac-secret-7713";
const WEBHOOK_KEY: &str = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const METRICS_TOKEN: &str = "metrics-token-4821";
/// Configured only as its digest: masked where it is a whole value.
const HASHED_SECRET: &str = "hashed-secret-6062";

fn config(database_url: Option<&str>) -> String {
    let hashed = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        HASHED_SECRET.as_bytes(),
    ));
    let database = database_url
        .map(|url| format!("database_url = \"{url}\"\n"))
        .unwrap_or_default();
    format!(
        "{database}listen = \"127.0.0.1:0\"\n\
         [metrics]\nbearer_tokens = [\"{METRICS_TOKEN}\"]\n\
         [sources.q]\nkind = \"action_lifecycle\"\n[sources.q.auth]\nquery_param = \"secure\"\nquery_values = [\"{QUERY_SECRET}\"]\n\
         [sources.h]\nkind = \"action_lifecycle\"\n[sources.h.auth]\nheader = \"X-Postback-Token\"\nheader_values = [\"Bearer {HEADER_TOKEN}\"]\n\
         [sources.hm]\nkind = \"action_lifecycle\"\n[sources.hm.auth]\nhmac_header = \"X-Signature\"\nhmac_secrets = [\"{HMAC_SECRET}\"]\n\
         [sources.sw]\nkind = \"action_lifecycle\"\n[sources.sw.auth]\nstandard_webhooks_secrets = [\"whsec_{WEBHOOK_KEY}\"]\n\
         [sources.hashed]\nkind = \"action_lifecycle\"\n[sources.hashed.auth]\nquery_param = \"key\"\nquery_values = [\"sha256:{hashed}\"]\n\
         [sources.gen]\nkind = \"action_lifecycle\"\n"
    )
}

/// The postbacks that plant `secret` (number `n`) in every position, all sent to source `q`
/// with its own query secret: (label, content type, query after the credential, body).
fn planted(
    n: usize,
    secret: &str,
    whole_only: bool,
) -> Vec<(String, Option<&'static str>, String, String)> {
    let mut postbacks = vec![
        (
            format!("P{n}-get"),
            None,
            format!(
                "ActionId=P{n}-get&Payout=1.00&Note={secret}&access_token={secret}&secure2={secret}"
            ),
            String::new(),
        ),
        (
            format!("P{n}-json"),
            Some("application/json"),
            String::new(),
            format!(
                r#"{{"ActionId":"P{n}-json","Payout":"1.00","secure":"{secret}","Note":"{secret}","headers":{{"Authorization":"Bearer {secret}","X-Postback-Token":"{secret}"}},"list":["{secret}"]}}"#
            ),
        ),
        (
            format!("P{n}-form"),
            Some("application/x-www-form-urlencoded"),
            String::new(),
            format!("ActionId=P{n}-form&Payout=1.00&secure={secret}&Note={secret}"),
        ),
        (
            format!("P{n}-xml"),
            Some("application/xml"),
            String::new(),
            format!(
                "<ActionLifecycleEvent><ActionId>P{n}-xml</ActionId><Payout>1.00</Payout><Note>{secret}</Note></ActionLifecycleEvent>"
            ),
        ),
    ];
    if !whole_only {
        // Inside other text: a long secret is masked wherever it appears.
        postbacks.push((
            format!("P{n}-inside"),
            Some("application/json"),
            format!("Other=before-{secret}-after"),
            format!(
                r#"{{"ActionId":"P{n}-inside","Payout":"1.00","Note":"token is {secret}, keep it safe","Url":"https://x.example/?k={secret}"}}"#
            ),
        ));
    }
    postbacks
}

/// The generated secret the `gen` source uses.
fn generated_secret(app: &TestApp) -> String {
    let output = app.cli(&["token", "show"]);
    let text = String::from_utf8(output.stdout).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("secret: "))
        .expect("token show prints the secret")
        .trim()
        .to_owned()
}

fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "`{secret}` in {what}: {text}"
        );
    }
}

on_both_backends! {
    async fn every_configured_secret_is_masked_in_every_position_it_is_stored_or_shown(backend: Backend) {
        let app = spawn_app_with(backend, &config(None)).await;
        let generated = generated_secret(&app);
        let secrets: Vec<(String, bool)> = vec![
            (QUERY_SECRET.into(), false),
            (HEADER_TOKEN.into(), false),
            (format!("Bearer {HEADER_TOKEN}"), false),
            (HMAC_SECRET.into(), false),
            (format!("whsec_{WEBHOOK_KEY}"), false),
            (WEBHOOK_KEY.into(), false),
            (METRICS_TOKEN.into(), false),
            (generated.clone(), false),
            (HASHED_SECRET.into(), true),
        ];
        let bare: Vec<String> = vec![
            QUERY_SECRET.into(), HEADER_TOKEN.into(), HMAC_SECRET.into(), WEBHOOK_KEY.into(),
            METRICS_TOKEN.into(), generated.clone(), HASHED_SECRET.into(),
        ];
        let db = postback_ledger::storage::Database::connect(&app.db.url).unwrap();
        let mut checked = 0;
        for (n, (secret, whole_only)) in secrets.iter().enumerate() {
            for (label, content_type, query, body) in planted(n, &secret.replace(' ', "%20"), *whole_only) {
                // A form or query spells the space of "Bearer x" as %20; JSON and XML as is.
                let body = if content_type.is_some_and(|t| t.contains("json") || t.contains("xml")) {
                    body.replace("%20", " ")
                } else {
                    body
                };
                let url = format!("{}/postbacks/q?secure={QUERY_SECRET}&{query}", app.address);
                let answer = app.post_postback_to(&url, content_type, body).await;
                assert_eq!(answer.status, 200, "{label}: {answer:?}");
                let id = answer.delivery_id.unwrap();
                let stored = postback_ledger::storage::deliveries::find(&mut db.conn().unwrap(), id).unwrap().unwrap();
                assert_clean(&format!("{label}: the stored query"), &stored.query, &bare);
                assert_clean(&format!("{label}: the stored body"), &String::from_utf8_lossy(stored.body.as_deref().unwrap_or_default()), &bare);
                assert!(
                    stored.query.contains("[redacted]") || String::from_utf8_lossy(stored.body.as_deref().unwrap_or_default()).contains("[redacted]"),
                    "{label}: masked, not dropped"
                );
                let api = app.json(&format!("/api/deliveries/{id}")).await.unwrap();
                assert_clean(&format!("{label}: /api/deliveries"), &api.to_string(), &bare);
                let (_, page) = app.get(&format!("/deliveries/{id}")).await;
                assert_clean(&format!("{label}: /deliveries page"), &page, &bare);
                let action = app.action(&label).await.unwrap_or_else(|| panic!("{label} stored: {api}"));
                assert_clean(&format!("{label}: the action and its extras"), &action.to_string(), &bare);
                let (_, page) = app.get(&format!("/actions/{label}")).await;
                assert_clean(&format!("{label}: the action page"), &page, &bare);
                checked += 1;
            }
        }
        assert_eq!(checked, 8 * 5 + 4);
        // Nothing anywhere in the database's text.
        for (table, column) in [("deliveries", "query"), ("deliveries", "reason"), ("deliveries", "warnings"), ("actions", "extra")] {
            for secret in &bare {
                let found = app.db.scalar(&format!(
                    "SELECT COUNT(*) AS value FROM {table} WHERE {column} LIKE '%{secret}%'"
                ));
                assert_eq!(found, 0, "`{secret}` in {table}.{column}");
            }
        }
    }
}

on_both_backends! {
    async fn a_delivery_stored_before_the_rule_is_shown_masked(backend: Backend) {
        let app = spawn_app_with(backend, &config(None)).await;
        let answer = app.get_postback_to_q("ActionId=OLD1&Payout=1.00").await;
        let id = answer.delivery_id.unwrap();
        // As an older version stored it: verbatim.
        app.db.execute(&format!(
            "UPDATE deliveries SET query = 'ActionId=OLD1&Note={HMAC_SECRET}' WHERE id = {id}"
        ));
        let api = app.json(&format!("/api/deliveries/{id}")).await.unwrap();
        assert!(!api.to_string().contains(HMAC_SECRET), "{api}");
        let (_, page) = app.get(&format!("/deliveries/{id}")).await;
        assert!(!page.contains(HMAC_SECRET));
        let list = app.json("/api/deliveries").await.unwrap();
        assert!(!list.to_string().contains(HMAC_SECRET), "{list}");
    }
}

impl TestApp {
    async fn get_postback_to_q(&self, query: &str) -> Answer {
        let url = format!("{}/postbacks/q?secure={QUERY_SECRET}&{query}", self.address);
        self.post_postback_to(&url, None, "").await
    }
}

/// The real binary at debug level: the payload line masks every secret, whichever source it
/// belongs to.
#[test]
fn the_debug_log_masks_every_configured_secret() {
    let db = TestDatabase::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postback-ledger.toml");
    std::fs::write(&path, config(Some(&db.url))).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_postback-ledger"))
        .args(["--config", path.to_str().unwrap(), "serve"])
        .env_remove("POSTBACK_LEDGER_DATABASE_URL")
        .env_remove("POSTBACK_LEDGER_LISTEN")
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("serve starts");
    let captured = Arc::new(Mutex::new(String::new()));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let reader = {
        let captured = captured.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("serving") {
                    let port = line
                        .split("port=")
                        .nth(1)
                        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                        .and_then(|digits| digits.parse::<u16>().ok());
                    let _ = port_tx.send(port);
                }
                let mut captured = captured.lock().unwrap();
                captured.push_str(&line);
                captured.push('\n');
            }
        })
    };
    let port = port_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .ok()
        .flatten();
    let sent = (|| -> Result<usize, String> {
        let port = port.ok_or("serve did not log its port")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = reqwest::Client::new();
            let mut sent = 0;
            for (n, secret) in [
                QUERY_SECRET,
                HEADER_TOKEN,
                HMAC_SECRET,
                WEBHOOK_KEY,
                METRICS_TOKEN,
                HASHED_SECRET,
            ]
            .iter()
            .enumerate()
            {
                for (label, content_type, query, body) in
                    planted(n, secret, *secret == HASHED_SECRET)
                {
                    let mut request = client
                        .post(format!(
                            "http://127.0.0.1:{port}/postbacks/q?secure={QUERY_SECRET}&{query}"
                        ))
                        .body(body);
                    if let Some(content_type) = content_type {
                        request = request.header("content-type", content_type);
                    }
                    let status = request.send().await.map_err(|e| e.to_string())?.status();
                    if status != 200 {
                        return Err(format!("{label}: {status}"));
                    }
                    sent += 1;
                }
            }
            Ok(sent)
        })
    })();
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    let logs = captured.lock().unwrap().clone();
    let sent = sent.unwrap_or_else(|error| panic!("{error}\n{logs}"));
    assert_eq!(sent, 5 * 5 + 4);
    assert!(
        logs.contains("postback payload") && logs.contains("P0-get"),
        "debug logging is on: {logs}"
    );
    assert!(logs.contains("[redacted]"), "{logs}");
    for secret in [
        QUERY_SECRET,
        HEADER_TOKEN,
        HMAC_SECRET,
        WEBHOOK_KEY,
        METRICS_TOKEN,
        HASHED_SECRET,
    ] {
        assert!(
            !logs.contains(secret),
            "`{secret}` leaked into the log:\n{logs}"
        );
    }
}
