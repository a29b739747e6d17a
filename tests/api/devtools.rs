//! Developer and operator tools: send-test, the test marker, /metrics, logs, retention.

use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};

use crate::helpers::*;
use crate::on_both_backends;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs the binary off the test's runtime thread, so the app it talks to keeps serving.
async fn cli_async(database_url: &str, args: &[&str]) -> std::process::Output {
    let url = database_url.to_owned();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    actix_web::rt::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli_on(&url, &args)
    })
    .await
    .expect("the binary ran")
}

fn entry_deltas(view: &serde_json::Value) -> Vec<String> {
    view["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["payout_delta"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends! {
    async fn send_test_lifecycle_exits_0_and_the_ledger_shows_a_reversed_test_action_kept_out_of_lists(backend: Backend) {
        let app = spawn_app(backend).await;
        let output = cli_async(&app.db.url, &[
            "send-test", "--to", &app.address, "--scenario", "lifecycle",
            "--secret", SECRET, "--action-id", "ST-1",
        ]).await;
        let report = stdout(&output);
        assert_eq!(output.status.code(), Some(0), "{report}");
        assert!(report.contains("ledger ok: action ST-1"), "{report}");
        assert!(!report.contains(SECRET), "the secret is masked in what is printed: {report}");
        let view = app.action("ST-1").await.unwrap();
        assert_eq!(view["status"], "reversed");
        assert_eq!(view["payout"], "0.00");
        assert_eq!(view["is_test"], true);
        assert_eq!(entry_deltas(&view), ["15.50", "-5.00", "-10.50"]);
        // A real conversion beside it: only the test one is left out of the list by default.
        app.get_postback("actions", "ActionId=REAL-1&Payout=3.00&DeltaPayout=3.00").await;
        let ids = |page: serde_json::Value| -> Vec<String> {
            page["actions"].as_array().unwrap().iter()
                .map(|action| action["action_id"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(ids(app.actions("status=all&sort=action_id").await), ["REAL-1"]);
        assert_eq!(ids(app.actions("include_tests=true&sort=action_id").await), ["REAL-1", "ST-1"]);
        assert!(app.cli(&["check"]).status.success());
    }
}

on_both_backends! {
    async fn send_test_with_duplicates_and_shuffle_over_post_still_converges(backend: Backend) {
        let app = spawn_app(backend).await;
        for seed in ["1", "2", "3"] {
            let id = format!("ST-SHUF-{seed}");
            let output = cli_async(&app.db.url, &[
                "send-test", "--to", &app.address, "--scenario", "lifecycle", "--method", "post",
                "--secret", SECRET, "--duplicates", "2", "--shuffle", "--seed", seed,
                "--action-id", &id,
            ]).await;
            assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
            assert_eq!(stdout(&output).matches("→ [").count(), 9, "three events, each sent three times");
            let view = app.action(&id).await.unwrap();
            assert_eq!(view["status"], "reversed");
            assert_eq!(view["payout"], "0.00");
            assert_eq!(view["flags"], serde_json::json!([]));
        }
        assert!(app.cli(&["check"]).status.success());
    }
}

on_both_backends! {
    async fn send_test_inquiry_and_clearing_are_answered_200_and_the_tracked_actions_show(backend: Backend) {
        let app = spawn_app(backend).await;
        let output = cli_async(&app.db.url, &[
            "send-test", "--to", &app.address, "--scenario", "inquiry", "--secret", SECRET,
        ]).await;
        assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
        assert_eq!(stdout(&output).matches("← 200").count(), 4, "{}", stdout(&output));
        let output = cli_async(&app.db.url, &[
            "send-test", "--to", &app.address, "--scenario", "clearing", "--secret", SECRET,
            "--action-id", "ST-CLR",
        ]).await;
        assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
        assert_eq!(app.action("ST-CLR").await.unwrap()["payout"], "15.50");
    }
}

on_both_backends! {
    async fn send_test_replays_a_file_of_recorded_requests(backend: Backend) {
        let app = spawn_app(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("recorded.jsonl");
        std::fs::write(&file, concat!(
            r#"{"method":"GET","source":"actions","query":"ActionId=RP-1&Status=PENDING&Payout=7.00&DeltaPayout=7.00"}"#, "\n",
            "\n",
            r#"{"method":"POST","content_type":"application/json","body":"{\"ActionId\":\"RP-1\",\"Status\":\"REVERSED\",\"Payout\":0,\"DeltaPayout\":-7.00}"}"#, "\n",
        )).unwrap();
        let output = cli_async(&app.db.url, &[
            "send-test", "--to", &app.address, "--scenario", "replay", file.to_str().unwrap(),
            "--secret", SECRET,
        ]).await;
        assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
        let view = app.action("RP-1").await.unwrap();
        assert_eq!(view["status"], "reversed");
        assert_eq!(entry_deltas(&view), ["7.00", "-7.00"]);
    }
}

/// A receiver that answers every request with `status` and counts them.
async fn refusing_receiver(status: u16) -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let seen = seen.clone();
        App::new().default_service(web::to(move || {
            seen.fetch_add(1, Ordering::SeqCst);
            async move {
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                    .body("ERROR")
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}"), count)
}

#[actix_web::test]
async fn send_test_exits_1_when_our_receiver_refuses_the_secret() {
    let app = spawn_app(Backend::Sqlite).await;
    let output = cli_async(
        &app.db.url,
        &[
            "send-test",
            "--to",
            &app.address,
            "--scenario",
            "lifecycle",
            "--secret",
            "not-the-secret",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(stdout(&output).contains("← 401"), "{}", stdout(&output));
    assert!(stdout(&output).contains("FAIL"));
}

#[actix_web::test]
async fn send_test_retries_on_impact_com_schedule_then_exits_1() {
    // 503: all 15 retries; 401: retries 1 to 3 are skipped, as impact.com does for 4xx.
    for (status, attempts_each) in [(503, 16), (401, 13)] {
        let (address, count) = refusing_receiver(status).await;
        let output = cli_async(
            "sqlite://unused.db",
            &[
                "send-test",
                "--to",
                &address,
                "--scenario",
                "lifecycle",
                "--secret",
                "s",
                "--retry-on-failure",
                "--time-scale",
                "0.000001",
            ],
        )
        .await;
        assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
        assert_eq!(count.load(Ordering::SeqCst), 3 * attempts_each, "{status}");
        assert!(stdout(&output).contains("gave up after impact.com's last retry"));
        assert!(
            stdout(&output).contains("not our receiver"),
            "{}",
            stdout(&output)
        );
    }
}

on_both_backends! {
    async fn a_postback_carrying_the_configured_marker_is_stored_as_a_test(backend: Backend) {
        let config = format!("{}\n[testing]\nmarker_field = \"sub_id2\"\nmarker_value = \"qa-run\"\n", base_config());
        let app = spawn_app_with(backend, &config).await;
        app.get_postback("actions", "ActionId=M1&Payout=2.00&SubId2=qa-run").await;
        app.get_postback("actions", "ActionId=M2&Payout=2.00&SharedId=postback-ledger-test").await;
        assert_eq!(app.action("M1").await.unwrap()["is_test"], true);
        assert_eq!(app.action("M2").await.unwrap()["is_test"], false, "the default marker is not configured here");
    }
}

#[test]
fn a_marker_field_that_is_not_an_id_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[testing]\nmarker_field = \"payout\"\n").unwrap();
    let output = cli_on(
        "sqlite://unused.db",
        &["--config", path.to_str().unwrap(), "migrate"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("marker_field"));
}

on_both_backends! {
    async fn metrics_show_deliveries_by_outcome_auth_failures_and_the_write_path(backend: Backend) {
        // The metrics registry is per process: a source name of its own keeps this test's counts apart.
        let source = format!("probe-{}", if backend == Backend::Sqlite { "sqlite" } else { "postgres" });
        let config = format!("{}\n[sources.{source}]\nkind = \"action_lifecycle\"\n", base_config());
        let app = spawn_app_with(backend, &config).await;
        app.get_postback(&source, "ActionId=MX1&Payout=1.00").await;
        app.get_postback(&source, "ActionId=MX1&Payout=1.00").await;
        app.post_postback(&source, Some("application/json"), "{}").await;
        let refused = app.post_postback_to(&format!("{}/postbacks/{source}?secure=wrong", app.address), None, "").await;
        assert_eq!(refused.status, 401);
        let (status, text) = app.get("/metrics").await;
        assert_eq!(status, 200);
        for line in [
            format!("postback_ledger_deliveries_total{{source=\"{source}\",outcome=\"applied\"}} 1"),
            format!("postback_ledger_deliveries_total{{source=\"{source}\",outcome=\"duplicate\"}} 1"),
            format!("postback_ledger_deliveries_total{{source=\"{source}\",outcome=\"quarantined\"}} 1"),
            format!("postback_ledger_auth_failures_total{{source=\"{source}\",reason=\"query_secret_wrong\"}} 1"),
            format!("postback_ledger_last_delivery_timestamp_seconds{{source=\"{source}\"}}"),
            "postback_ledger_http_request_duration_seconds_bucket{method=\"GET\",route=\"/postbacks/{source}\",status=\"200\"".to_owned(),
            "postback_ledger_write_batch_size_bucket".to_owned(),
            "postback_ledger_write_commit_duration_seconds_bucket".to_owned(),
            "postback_ledger_write_queue_depth".to_owned(),
            "# TYPE postback_ledger_deliveries_total counter".to_owned(),
        ] {
            assert!(text.contains(&line), "missing `{line}` in:\n{text}");
        }
        assert!(!text.contains("MX1"), "no payload values in labels");
    }
}

#[actix_web::test]
async fn at_the_default_level_a_stored_postbacks_request_line_names_its_delivery_and_outcome() {
    let db = TestDatabase::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let server = crate::server::Server::start(
        env!("CARGO_BIN_EXE_postback-ledger").as_ref(),
        dir.path(),
        &db.url,
    );
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for secret in [crate::server::SECRET, crate::server::SECRET, "wrong-3391"] {
        let url = format!(
            "{}/postbacks/actions?secure={secret}&ActionId=LOGLINE1&Payout=2.00",
            server.base
        );
        statuses.push(client.get(url).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 401]);
    let log = server.log();
    assert!(server.terminate().success());
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["message"] == "request" && line["path"] == "/postbacks/actions")
        .collect();
    let named = |line: &serde_json::Value| {
        (
            line["status"].clone(),
            line["delivery_id"].clone(),
            line["outcome"].clone(),
        )
    };
    assert_eq!(
        lines.iter().map(named).collect::<Vec<_>>(),
        [
            (200.into(), "1".into(), "applied".into()),
            (200.into(), "1".into(), "duplicate".into()),
            (401.into(), serde_json::Value::Null, serde_json::Value::Null),
        ],
        "{log}"
    );
    assert!(
        !log.contains(crate::server::SECRET) && !log.contains("wrong-3391"),
        "{log}"
    );
}

#[test]
fn the_logs_of_a_real_serve_at_debug_level_carry_no_secret() {
    const QUERY_SECRET: &str = "qsecret-7c1d0e";
    const HEADER_TOKEN: &str = "htoken-90ab44";
    const WRONG: &str = "wrongsecret-5521";
    let db = TestDatabase::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("postback-ledger.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\n[auth]\nquery_param = \"secure\"\nquery_values = [\"{QUERY_SECRET}\"]\n\
             header = \"Authorization\"\nheader_values = [\"Bearer {HEADER_TOKEN}\"]\n"
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_postback-ledger"))
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("POSTBACK_LEDGER_DATABASE_URL", &db.url)
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
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
                captured.lock().unwrap().push_str(&line);
                captured.lock().unwrap().push('\n');
            }
        })
    };
    let port = port_rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .ok()
        .flatten();
    let run = || -> Result<(), String> {
        let port = port.ok_or("serve did not log its port")?;
        let base = format!("http://127.0.0.1:{port}/postbacks/actions");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = reqwest::Client::new();
            let send = |query: String, token: &str, body: Option<String>| {
                let mut request = match &body {
                    Some(body) => client
                        .post(format!("{base}?{query}"))
                        .body(body.clone())
                        .header("content-type", "application/json"),
                    None => client.get(format!("{base}?{query}")),
                };
                request = request.header("Authorization", format!("Bearer {token}"));
                request.send()
            };
            let ok = send(
                format!("secure={QUERY_SECRET}&ActionId=LOG1&Payout=5.00"),
                HEADER_TOKEN,
                None,
            )
            .await
            .map_err(|error| error.to_string())?;
            if ok.status().as_u16() != 200 {
                return Err(format!("expected 200, got {}", ok.status()));
            }
            // A body that repeats the token (a template mistake) must not leak it either.
            let body =
                format!("{{\"ActionId\":\"LOG2\",\"Payout\":1.00,\"Note\":\"{HEADER_TOKEN}\"}}");
            send(format!("secure={QUERY_SECRET}"), HEADER_TOKEN, Some(body))
                .await
                .map_err(|error| error.to_string())?;
            let refused = send(
                format!("secure={WRONG}&ActionId=LOG3&Payout=1"),
                HEADER_TOKEN,
                None,
            )
            .await
            .map_err(|error| error.to_string())?;
            if refused.status().as_u16() != 401 {
                return Err(format!("expected 401, got {}", refused.status()));
            }
            Ok(())
        })
    };
    let result = run();
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    result.unwrap();
    let logs = captured.lock().unwrap().clone();
    assert!(
        logs.contains("postback payload"),
        "debug logging is on: {logs}"
    );
    assert!(
        logs.contains("LOG1"),
        "the payload is shown at debug level: {logs}"
    );
    for secret in [QUERY_SECRET, HEADER_TOKEN, WRONG] {
        assert!(
            !logs.contains(secret),
            "`{secret}` leaked into the logs:\n{logs}"
        );
    }
}

fn delivery(url: &str, id: i64) -> postback_ledger::storage::deliveries::Delivery {
    let db = postback_ledger::storage::Database::connect(url).unwrap();
    postback_ledger::storage::deliveries::find(&mut db.conn().unwrap(), id)
        .unwrap()
        .unwrap()
}

/// Stored times are UTC without a zone; this literal reads the same on both backends.
const LONG_AGO: &str = "2020-01-01 00:00:00";

on_both_backends! {
    async fn prune_forgets_old_raw_payloads_but_keeps_metadata_actions_entries_and_quarantine(backend: Backend) {
        let app = spawn_app(backend).await;
        let old = app.get_postback("actions", "ActionId=PR1&Status=PENDING&Payout=9.00&DeltaPayout=9.00").await;
        let old_json = app.post_postback("actions", Some("application/json"),
            r#"{"ActionId":"PR1","Status":"MODIFIED","Payout":4.00,"DeltaPayout":-5.00}"#).await;
        let quarantined = app.post_postback("actions", Some("application/json"), r#"{"nothing": "mapped"}"#).await;
        let recent = app.get_postback("actions", "ActionId=PR2&Payout=1.00&DeltaPayout=1.00").await;
        assert_eq!(quarantined.outcome.as_deref(), Some("quarantined"));
        let before = app.action("PR1").await.unwrap();
        let old_ids = [old.delivery_id.unwrap(), old_json.delivery_id.unwrap(), quarantined.delivery_id.unwrap()];
        app.db.execute(&format!(
            "UPDATE deliveries SET received_at = '{LONG_AGO}', last_received_at = '{LONG_AGO}' WHERE id IN ({}, {}, {})",
            old_ids[0], old_ids[1], old_ids[2]
        ));
        let output = cli_async(&app.db.url, &["prune", "--raw-older-than", "90d"]).await;
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout(&output).contains("raw payloads pruned from 2 delivery(ies)"), "{}", stdout(&output));
        for id in &old_ids[..2] {
            let row = delivery(&app.db.url, *id);
            assert_eq!((row.query.as_str(), row.body.as_deref()), ("", None), "raw data of {id} gone");
            assert!(row.pruned_at.is_some());
            assert_eq!(row.subject_id.as_deref(), Some("PR1"), "metadata kept");
            assert_eq!(row.source, "actions");
        }
        let kept = delivery(&app.db.url, old_ids[2]);
        assert!(kept.body.is_some() && kept.pruned_at.is_none(), "a quarantined delivery keeps its raw request for reprocess");
        let fresh = delivery(&app.db.url, recent.delivery_id.unwrap());
        assert!(fresh.body.is_some() && fresh.pruned_at.is_none() && !fresh.query.is_empty());
        let after = app.action("PR1").await.unwrap();
        assert_eq!(after["entries"], before["entries"], "entries untouched");
        assert_eq!(after["payout"], "4.00");
        // The dedup key survives: a late retry of a pruned delivery is still a duplicate.
        let retry = app.get_postback("actions", "ActionId=PR1&Status=PENDING&Payout=9.00&DeltaPayout=9.00").await;
        assert_eq!(retry.outcome.as_deref(), Some("duplicate"));
        assert_eq!(retry.delivery_id, old.delivery_id);
        let again = cli_async(&app.db.url, &["prune", "--raw-older-than", "90d"]).await;
        assert!(stdout(&again).contains("pruned from 0 delivery(ies)"), "{}", stdout(&again));
        assert!(app.cli(&["check"]).status.success());
    }
}

on_both_backends! {
    async fn retention_raw_days_prunes_when_serve_starts(backend: Backend) {
        let first = spawn_app(backend).await;
        let old = first.get_postback("actions", "ActionId=RD1&Payout=2.00&DeltaPayout=2.00").await;
        first.db.execute(&format!("UPDATE deliveries SET received_at = '{LONG_AGO}' WHERE id = {}", old.delivery_id.unwrap()));
        let TestApp { db, .. } = first;
        let url = db.url.clone();
        let _second = spawn_on(db, &format!("{}\n[retention]\nraw_days = 90\n", base_config())).await;
        let mut pruned = false;
        for _ in 0..50 {
            if delivery(&url, old.delivery_id.unwrap()).pruned_at.is_some() {
                pruned = true;
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(pruned, "the start of serve pruned the old raw payload");
        assert_eq!(delivery(&url, old.delivery_id.unwrap()).body, None);
    }
}

#[test]
fn prune_without_an_age_or_raw_days_says_how_to_give_one() {
    let output = cli_on("sqlite://unused-prune.db", &["prune"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--raw-older-than"));
}
