//! Who reads the ledger: only the dashboard's host names, loopback trust only on a loopback
//! listener and without any forwarding header, an unknown source answered as a failed
//! authentication to strangers, and no stored text that reorders a page.

use crate::helpers::*;

/// Every route that shows the ledger or its counts.
const READER_ROUTES: &[&str] = &[
    "/",
    "/api/actions",
    "/api/summary",
    "/deliveries",
    "/actions.csv",
    "/metrics",
];

async fn status_of(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = no_redirects().get(format!("{}{path}", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status().as_u16()
}

#[actix_web::test]
async fn a_foreign_host_name_reads_nothing_even_from_this_machine() {
    let app = spawn_app(Backend::Sqlite).await;
    for path in READER_ROUTES {
        assert_eq!(status_of(&app, path, &[]).await, 200, "{path} from here");
        // A page elsewhere that rebinds its name to 127.0.0.1 (DNS rebinding).
        assert_eq!(
            status_of(&app, path, &[("host", "evil.example")]).await,
            403,
            "{path}"
        );
        assert_eq!(
            status_of(&app, path, &[("host", "evil.example:8080")]).await,
            403,
            "{path}"
        );
    }
    for host in ["localhost", "LOCALHOST:1234", "127.0.0.1"] {
        assert_eq!(
            status_of(&app, "/api/actions", &[("host", host)]).await,
            200,
            "{host}"
        );
    }
    assert_eq!(
        status_of(&app, "/login", &[("host", "evil.example")]).await,
        403
    );
    // Postbacks answer whatever the host: impact.com's name for this server is its own.
    let answer = app
        .client
        .get(format!(
            "{}/postbacks/actions?secure={SECRET}&ActionId=H1&Payout=1",
            app.address
        ))
        .header("host", "receiver.example")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

#[actix_web::test]
async fn a_configured_host_name_is_answered() {
    let config = format!(
        "{}\n[dashboard]\nhosts = [\"ledger.internal\"]\n",
        base_config()
    );
    let app = spawn_app_with(Backend::Sqlite, &config).await;
    assert_eq!(
        status_of(&app, "/api/actions", &[("host", "ledger.internal:8080")]).await,
        200
    );
    assert_eq!(
        status_of(&app, "/api/actions", &[("host", "other.internal")]).await,
        403
    );
}

#[actix_web::test]
async fn loopback_trust_can_be_turned_off() {
    let config = format!("{}\n[dashboard]\ntrust_loopback = false\n", base_config());
    let app = spawn_app_with(Backend::Sqlite, &config).await;
    for path in READER_ROUTES {
        assert_eq!(status_of(&app, path, &[]).await, 403, "{path}");
    }
}

#[actix_web::test]
async fn any_forwarding_header_removes_loopback_trust() {
    let app = spawn_app(Backend::Sqlite).await;
    for header in [
        "true-client-ip",
        "cf-connecting-ip",
        "x-forwarded-host",
        "x-forwarded-proto",
        "fastly-client-ip",
        "x-client-ip",
        "via",
        "forwarded",
        "x-forwarded-for",
        "x-real-ip",
    ] {
        for path in READER_ROUTES {
            assert_eq!(
                status_of(&app, path, &[(header, "203.0.113.9")]).await,
                403,
                "{header} on {path}"
            );
        }
    }
}

#[actix_web::test]
async fn a_server_listening_beyond_loopback_reads_only_with_the_login() {
    // Listening on every address: a local forwarder (socat, ssh -R) could bring anyone in.
    let config = format!(
        "listen = \"0.0.0.0:0\"\n[auth]\nquery_param = \"secure\"\nquery_values = [\"{SECRET}\"]\n"
    );
    let app = spawn_app_with(Backend::Sqlite, &config).await;
    for path in READER_ROUTES {
        assert_eq!(status_of(&app, path, &[]).await, 403, "{path}");
    }
    let (_, text) = app.get("/api/actions").await;
    assert!(text.contains("login"), "{text}");

    let hash = postback_ledger::intake::auth::hash_password("correct horse").unwrap();
    let config = format!(
        "{config}[metrics]\nbearer_tokens = [\"scrape-token-7120\"]\n[dashboard]\nusername = \"finance\"\npassword_hash = \"{hash}\"\n"
    );
    let app = spawn_app_with(Backend::Sqlite, &config).await;
    let client = no_redirects();
    assert_eq!(status_of(&app, "/api/actions", &[]).await, 401);
    assert_eq!(status_of(&app, "/metrics", &[]).await, 401);
    let metrics = client
        .get(format!("{}/metrics", app.address))
        .bearer_auth("scrape-token-7120")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let signed_in = sign_in(&client, &app.address, "finance", "correct horse").await;
    assert_eq!(signed_in.status(), 303);
    let session = value_of(&cookie_of(&signed_in, "postback_ledger_session").unwrap());
    for path in ["/", "/api/actions", "/deliveries", "/actions.csv"] {
        let answer = client
            .get(format!("{}{path}", app.address))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{path}");
    }
}

#[actix_web::test]
async fn the_start_says_when_the_server_listens_beyond_loopback() {
    let db = TestDatabase::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("postback-ledger.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{}\"\nlisten = \"0.0.0.0:0\"\n[auth]\nquery_param = \"secure\"\nquery_values = [\"{SECRET}\"]\n",
            db.url
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_postback-ledger"))
        .args([
            "--log-format",
            "json",
            "--config",
            config.to_str().unwrap(),
            "serve",
        ])
        .env_remove("POSTBACK_LEDGER_DATABASE_URL")
        .env_remove("POSTBACK_LEDGER_LISTEN")
        .env_remove("RUST_LOG")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let serving = line.contains("\"serving\"");
            seen.push(line);
            if serving {
                break;
            }
        }
        seen
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !lines.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let lines = lines.join().unwrap();
    let warning = lines
        .iter()
        .find(|line| line.contains("beyond loopback"))
        .unwrap_or_else(|| panic!("no word of it at start: {lines:#?}"));
    assert!(
        warning.contains("login") && warning.contains("bearer"),
        "{warning}"
    );
}

#[actix_web::test]
async fn an_unknown_source_is_answered_as_a_failed_authentication_to_strangers() {
    let app = spawn_app(Backend::Sqlite).await;
    let stranger = |path: String| {
        app.client
            .get(format!("{}{path}", app.address))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
    };
    let unknown = stranger("/postbacks/nowhere?ActionId=X".into())
        .await
        .unwrap();
    let wrong = stranger("/postbacks/actions?secure=wrong&ActionId=X".into())
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.text().await.unwrap(), wrong.text().await.unwrap());
    // Nor does a foreign host name make it a reader.
    let rebinding = app
        .client
        .get(format!("{}/postbacks/nowhere", app.address))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebinding.status(), 401);
    // The dashboard's own readers are told what is wrong.
    let (status, text) = app.get("/postbacks/nowhere").await;
    assert_eq!(status, 404);
    assert!(text.contains("nowhere"), "{text}");
    // Counted as refusals.
    let failures = refusals_recorded(&app, 2).await;
    assert!(
        failures.iter().any(|f| f.failed_check == "unknown_source"),
        "{failures:?}"
    );
}

#[actix_web::test]
async fn bidi_controls_in_stored_values_are_shown_escaped_on_pages() {
    let app = spawn_app(Backend::Sqlite).await;
    let answer = app
        .post_postback(
            "actions",
            Some("application/json"),
            "{\"ActionId\":\"BIDI-1\",\"Payout\":\"1.00\",\"CampaignName\":\"exe.\u{202E}fdp\",\"Odd\":\"\u{2066}x\u{2069}\"}",
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    for path in [
        "/actions/BIDI-1",
        "/actions?status=all",
        &format!("/deliveries/{}", answer.delivery_id.unwrap()),
    ] {
        let (status, page) = app.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains("U+202E"), "{path}: {page}");
        for control in ['\u{202E}', '\u{2066}', '\u{2069}'] {
            assert!(!page.contains(control), "{path} shows {control:?} raw");
        }
    }
    // The data itself is kept as it came (the API is JSON, escaped by its reader).
    assert_eq!(
        app.action("BIDI-1").await.unwrap()["campaign_name"],
        "exe.\u{202E}fdp"
    );
}
