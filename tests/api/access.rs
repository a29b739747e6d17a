//! Who gets in: postback credentials of every scheme, and the login in front of the ledger.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends! {
    async fn a_refusal_is_recorded_with_the_check_and_never_the_secret(backend: Backend) {
        let app = spawn_app(backend).await;
        let url = format!("{}/postbacks/actions?secure=guess-123&ActionId=X1&Payout=1", app.address);
        assert_eq!(app.post_postback_to(&url, None, "").await.status, 401);
        let db = postback_ledger::storage::Database::connect(&app.db.url).unwrap();
        // Written within a second or so, off the postbacks' write path.
        let failures = refusals_recorded(&app, 1).await;
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].failed_check, "query_secret_wrong");
        assert_eq!(failures[0].source, "actions");
        assert_eq!(failures[0].client_addr.as_deref(), Some("127.0.0.1"));
        assert!(!format!("{:?}", failures[0]).contains("guess-123"));
        let deliveries = postback_ledger::storage::deliveries::count(&mut db.conn().unwrap()).unwrap();
        assert_eq!(deliveries, 0, "a refused request reaches no inbox");
    }
}

on_both_backends! {
    async fn header_and_hmac_credentials_guard_a_source_and_rotation_keeps_both(backend: Backend) {
        let config = "listen = \"127.0.0.1:0\"\n\
            [sources.relay]\nkind = \"action_lifecycle\"\n\
            [sources.relay.auth]\nheader = \"X-Postback-Token\"\nheader_values = [\"old-token\", \"new-token\"]\n\
            hmac_header = \"X-Signature\"\nhmac_secrets = [\"hmac-key\"]\n";
        let app = spawn_app_with(backend, config).await;
        let body = r#"{"ActionId":"H1","Payout":"2.50"}"#;
        let sign = |key: &str, body: &str| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
            mac.update(body.as_bytes());
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        };
        let send = |token: &'static str, signature: String, body: &'static str| {
            app.client
                .post(format!("{}/postbacks/relay", app.address))
                .header("content-type", "application/json")
                .header("X-Postback-Token", token)
                .header("X-Signature", signature)
                .body(body)
                .send()
        };
        assert_eq!(send("old-token", sign("hmac-key", body), body).await.unwrap().status(), 200);
        assert_eq!(send("new-token", sign("hmac-key", body), body).await.unwrap().status(), 200);
        assert_eq!(send("retired", sign("hmac-key", body), body).await.unwrap().status(), 401);
        assert_eq!(send("new-token", sign("wrong-key", body), body).await.unwrap().status(), 401);
        let tampered = r#"{"ActionId":"H1","Payout":"250.00"}"#;
        assert_eq!(send("new-token", sign("hmac-key", body), tampered).await.unwrap().status(), 401);
        assert_eq!(app.action("H1").await.unwrap()["payout"], "2.50");
    }
}

#[actix_web::test]
async fn without_a_login_the_ledger_answers_only_to_this_machine() {
    let app = spawn_app(Backend::Sqlite).await;
    let local = app
        .client
        .get(format!("{}/api/actions", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 200);
    // Through a proxy, the visitor is someone else.
    let proxied = app
        .client
        .get(format!("{}/api/actions", app.address))
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 403);
    // Postbacks are not behind the login: the network must reach them.
    let url = format!(
        "{}/postbacks/actions?secure={SECRET}&ActionId=N1&Payout=1",
        app.address
    );
    let postback = app
        .client
        .get(url)
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(postback.status(), 200);
}

/// GET /metrics as a visitor behind a proxy (someone else than this machine), with a bearer token.
async fn scrape_from_elsewhere(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut request = app
        .client
        .get(format!("{}/metrics", app.address))
        .header("X-Forwarded-For", "203.0.113.9");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[actix_web::test]
async fn the_metrics_answer_elsewhere_only_to_a_configured_bearer_token() {
    const METRIC: &str = "postback_ledger_deliveries_total";
    let app = spawn_app(Backend::Sqlite).await;
    app.get_postback("actions", "ActionId=M1&Payout=1").await;
    let (status, text) = app.get("/metrics").await;
    assert_eq!(status, 200, "this machine may always read them");
    assert!(text.contains(METRIC));
    let (status, text) = scrape_from_elsewhere(&app, None).await;
    assert_eq!(status, 403);
    assert!(
        !text.contains(METRIC) && text.contains("bearer_tokens"),
        "{text}"
    );
    assert_eq!(scrape_from_elsewhere(&app, Some("anything")).await.0, 403);

    let hashed = format!(
        "sha256:{}",
        hex::encode(<Sha256 as sha2::Digest>::digest(b"scraper-two"))
    );
    let config = format!(
        "{}\n[metrics]\nbearer_tokens = [\"scraper-one\", \"{hashed}\"]\n",
        base_config()
    );
    let app = spawn_app_with(Backend::Sqlite, &config).await;
    app.get_postback("actions", "ActionId=M2&Payout=1").await;
    for token in ["scraper-one", "scraper-two"] {
        let (status, text) = scrape_from_elsewhere(&app, Some(token)).await;
        assert_eq!(status, 200, "{token}");
        assert!(text.contains(METRIC));
    }
    for refused in [None, Some("scraper-three"), Some(hashed.as_str())] {
        let (status, text) = scrape_from_elsewhere(&app, refused).await;
        assert_eq!(status, 401, "{refused:?}");
        assert!(
            !text.contains(METRIC) && !text.contains("scraper-"),
            "{text}"
        );
    }
    assert_eq!(
        app.get("/metrics").await.0,
        200,
        "nor does a token shut this machine out"
    );
}

#[actix_web::test]
async fn with_a_login_the_api_needs_a_session_and_forms_need_their_csrf_token() {
    let hash = postback_ledger::intake::auth::hash_password("correct horse").unwrap();
    let config = format!(
        "{}\n[dashboard]\nusername = \"finance\"\npassword_hash = \"{hash}\"\n",
        base_config()
    );
    let app = spawn_app_with(Backend::Sqlite, &config).await;
    let client = no_redirects();
    let api = format!("{}/api/actions", app.address);
    assert_eq!(client.get(&api).send().await.unwrap().status(), 401);
    let home = client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 303);

    // Each sign-in takes a fresh form: a form's token is accepted once.
    let (nonce, csrf) = login_form(&client, &app.address).await;
    let sign_in = |password: &'static str, csrf: String, nonce: String| {
        client
            .post(format!("{}/login", app.address))
            .header("cookie", nonce)
            .form(&[
                ("username", "finance"),
                ("password", password),
                ("csrf", csrf.as_str()),
            ])
            .send()
    };
    assert_eq!(
        sign_in("wrong", csrf.clone(), nonce.clone())
            .await
            .unwrap()
            .status(),
        401
    );
    let (nonce, _) = login_form(&client, &app.address).await;
    assert_eq!(
        sign_in("correct horse", "forged".into(), nonce.clone())
            .await
            .unwrap()
            .status(),
        403
    );
    let (nonce, csrf) = login_form(&client, &app.address).await;
    let signed_in = sign_in("correct horse", csrf, nonce).await.unwrap();
    assert_eq!(signed_in.status(), 303);
    let session = cookie_of(&signed_in, "postback_ledger_session").expect("a session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    let session = value_of(&session);

    let answer = client
        .get(&api)
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let csp = answer
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(
        answer.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    assert!(answer.headers().contains_key("referrer-policy"));

    let home = client
        .get(format!("{}/", app.address))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let logout_csrf = csrf_in(&home.text().await.unwrap());
    let forged = client
        .post(format!("{}/logout", app.address))
        .header("cookie", &session)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let logged_out = client
        .post(format!("{}/logout", app.address))
        .header("cookie", &session)
        .form(&[("csrf", logout_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(logged_out.status(), 303);
    let cleared = cookie_of(&logged_out, "postback_ledger_session").expect("the cookie is cleared");
    assert!(
        cleared.contains("Max-Age=0") || cleared.contains("Expires"),
        "{cleared}"
    );
}

#[test]
fn hash_password_prints_an_argon2_hash_that_verifies() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_postback-ledger"))
        .arg("hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    let output = child.wait_with_output().unwrap();
    let hash = String::from_utf8(output.stdout).unwrap();
    assert!(
        postback_ledger::intake::auth::password_matches("s3cret", hash.trim()),
        "{hash}"
    );
    assert!(!postback_ledger::intake::auth::password_matches(
        "other",
        hash.trim()
    ));
}

on_both_backends! {
    async fn the_ip_allowlist_believes_x_forwarded_for_only_from_a_trusted_proxy(backend: Backend) {
        // base_config ends inside its [auth] table.
        let direct = format!("{}ip_allowlist = [\"203.0.113.0/24\"]\n", base_config());
        let app = spawn_app_with(backend, &direct).await;
        let send = |forwarded: Option<&'static str>, id: &'static str| {
            let mut request = app
                .client
                .get(format!("{}/postbacks/actions?secure={SECRET}&ActionId={id}&Payout=1", app.address));
            if let Some(address) = forwarded {
                request = request.header("X-Forwarded-For", address);
            }
            request.send()
        };
        // The peer is 127.0.0.1, not allowed; a forged header from an untrusted peer changes nothing.
        assert_eq!(send(None, "I1").await.unwrap().status(), 401);
        assert_eq!(send(Some("203.0.113.7"), "I2").await.unwrap().status(), 401);

        let proxied = format!("{}trusted_proxies = [\"127.0.0.1\"]\n", direct);
        let app = spawn_app_with(backend, &proxied).await;
        let send = |forwarded: &'static str, id: &'static str| {
            app.client
                .get(format!("{}/postbacks/actions?secure={SECRET}&ActionId={id}&Payout=1", app.address))
                .header("X-Forwarded-For", forwarded)
                .send()
        };
        assert_eq!(send("203.0.113.7", "I3").await.unwrap().status(), 200);
        assert_eq!(send("198.51.100.1", "I4").await.unwrap().status(), 401);
        assert!(app.action("I3").await.is_some());
        assert!(app.action("I4").await.is_none());
    }
}
