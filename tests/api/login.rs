//! The login: backoff after failures with a page that says when to retry, a form accepted once,
//! a session of its own per login that logout and a password change end, `Secure` only when
//! configured or said by a trusted proxy, and a flood of sign-ins that stays small.

use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::on_both_backends;

const PASSWORD: &str = "correct horse";

fn login_config(password: &str, more: &str) -> String {
    let hash = postback_ledger::intake::auth::hash_password(password).unwrap();
    format!(
        "{}\n[dashboard]\nusername = \"finance\"\npassword_hash = \"{hash}\"\n{more}",
        base_config()
    )
}

async fn api_status(app_address: &str, session: &str) -> u16 {
    no_redirects()
        .get(format!("{app_address}/api/actions"))
        .header("cookie", session)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn session_of(response: &reqwest::Response) -> String {
    value_of(&cookie_of(response, "postback_ledger_session").expect("a session cookie"))
}

#[actix_web::test]
async fn wrong_passwords_are_slowed_down_with_a_page_that_says_when_to_retry() {
    let app = spawn_app_with(Backend::Sqlite, &login_config(PASSWORD, "")).await;
    let client = no_redirects();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            sign_in(&client, &app.address, "finance", "wrong")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429]);
    let refused = sign_in(&client, &app.address, "finance", PASSWORD).await;
    assert_eq!(refused.status(), 429, "the right password waits too");
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("Too many sign-in attempts") && page.contains("Retry in 1 second"),
        "{page}"
    );
    // Once the wait is over, the right password gets in, and the count starts again.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let signed_in = sign_in(&client, &app.address, "finance", PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(
        sign_in(&client, &app.address, "finance", "wrong")
            .await
            .status(),
        401
    );
}

#[actix_web::test]
async fn a_login_form_is_accepted_once() {
    let app = spawn_app_with(Backend::Sqlite, &login_config(PASSWORD, "")).await;
    let client = no_redirects();
    let (nonce, csrf) = login_form(&client, &app.address).await;
    let send = |password: &'static str| {
        client
            .post(format!("{}/login", app.address))
            .header("cookie", nonce.clone())
            .form(&[
                ("username", "finance"),
                ("password", password),
                ("csrf", csrf.as_str()),
            ])
            .send()
    };
    assert_eq!(send("wrong").await.unwrap().status(), 401);
    let again = send(PASSWORD).await.unwrap();
    assert_eq!(again.status(), 403, "the same form twice");
    assert!(again.text().await.unwrap().contains("already sent"));
}

on_both_backends! {
    async fn each_login_gets_its_own_session_and_logout_ends_it_for_good(backend: Backend) {
        let app = spawn_app_with(backend, &login_config(PASSWORD, "")).await;
        let client = no_redirects();
        let first = session_of(&sign_in(&client, &app.address, "finance", PASSWORD).await);
        let second = session_of(&sign_in(&client, &app.address, "finance", PASSWORD).await);
        assert_ne!(first, second, "two logins in the same second");
        assert_eq!(api_status(&app.address, &first).await, 200);
        assert_eq!(api_status(&app.address, &second).await, 200);

        let home = client.get(format!("{}/", app.address)).header("cookie", &first).send().await.unwrap();
        let csrf = csrf_in(&home.text().await.unwrap());
        let logged_out = client
            .post(format!("{}/logout", app.address))
            .header("cookie", &first)
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(logged_out.status(), 303);
        // The cookie a copy was taken of opens nothing any more; the other login still works.
        assert_eq!(api_status(&app.address, &first).await, 401);
        assert_eq!(api_status(&app.address, &second).await, 200);
        assert_eq!(app.db.scalar("SELECT COUNT(*) AS value FROM sessions"), 1);
        // The table keeps the id's digest only.
        let id = first.split_once('=').unwrap().1.to_owned();
        assert_eq!(
            app.db.scalar(&format!("SELECT COUNT(*) AS value FROM sessions WHERE id_digest = '{id}'")),
            0
        );
    }
}

on_both_backends! {
    async fn a_password_change_ends_the_sessions_of_the_old_password(backend: Backend) {
        let app = spawn_app_with(backend, &login_config(PASSWORD, "")).await;
        let client = no_redirects();
        let session = session_of(&sign_in(&client, &app.address, "finance", PASSWORD).await);
        assert_eq!(api_status(&app.address, &session).await, 200);
        // The operator sets a new password and restarts (here: a second instance starts).
        let changed = spawn_beside(&app, &login_config("battery staple", "")).await;
        assert_eq!(api_status(&changed, &session).await, 401);
        assert_eq!(api_status(&app.address, &session).await, 401, "nor on the instance still running");
        let fresh = session_of(&sign_in(&client, &changed, "finance", "battery staple").await);
        assert_eq!(api_status(&changed, &fresh).await, 200);
    }
}

async fn session_cookie_line(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let client = no_redirects();
    let (nonce, csrf) = login_form(&client, &app.address).await;
    let mut request = client
        .post(format!("{}/login", app.address))
        .header("cookie", nonce)
        .form(&[
            ("username", "finance"),
            ("password", PASSWORD),
            ("csrf", csrf.as_str()),
        ]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 303);
    cookie_of(&response, "postback_ledger_session").unwrap()
}

#[actix_web::test]
async fn secure_cookies_follow_the_configuration_or_a_trusted_proxy_only() {
    let app = spawn_app_with(Backend::Sqlite, &login_config(PASSWORD, "")).await;
    let forged = session_cookie_line(&app, &[("x-forwarded-proto", "https")]).await;
    assert!(
        !forged.contains("Secure"),
        "any client said https: {forged}"
    );

    let configured = spawn_app_with(
        Backend::Sqlite,
        &login_config(PASSWORD, "secure_cookies = true\n"),
    )
    .await;
    let line = session_cookie_line(&configured, &[]).await;
    assert!(line.contains("Secure"), "{line}");

    let proxied = spawn_app_with(
        Backend::Sqlite,
        &login_config(PASSWORD, "trusted_proxies = [\"127.0.0.1\"]\n"),
    )
    .await;
    let line = session_cookie_line(&proxied, &[("x-forwarded-proto", "https")]).await;
    assert!(line.contains("Secure"), "{line}");
    let line = session_cookie_line(&proxied, &[("x-forwarded-proto", "http")]).await;
    assert!(!line.contains("Secure"), "{line}");
}

/// The real binary: 64 sign-ins at once, each from its own address (behind a trusted proxy)
/// and with a wrong username, so that no backoff stops any of them before the password check.
/// Without a bound on concurrent argon2 runs (19 MiB each) this took the process past 1.3 GB.
#[actix_web::test]
async fn a_flood_of_64_parallel_sign_ins_keeps_the_process_under_150_mb() {
    const ATTEMPTS: usize = 64;
    const CEILING_KIB: u64 = 150 * 1024;
    let db = TestDatabase::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let hash = postback_ledger::intake::auth::hash_password(PASSWORD).unwrap();
    let more = format!(
        "[dashboard]\nusername = \"finance\"\npassword_hash = \"{hash}\"\ntrusted_proxies = [\"127.0.0.1\"]\n"
    );
    let server = crate::server::Server::start_with(
        env!("CARGO_BIN_EXE_postback-ledger").as_ref(),
        dir.path(),
        &db.url,
        &more,
    );
    let client = no_redirects();
    let mut forms = Vec::new();
    for _ in 0..ATTEMPTS {
        forms.push(login_form(&client, &server.base).await);
    }
    let before = server.peak_rss_kib().unwrap();
    let started = Instant::now();
    let attempts: Vec<_> = forms
        .into_iter()
        .enumerate()
        .map(|(n, (nonce, csrf))| {
            let (client, base) = (client.clone(), server.base.clone());
            tokio::spawn(async move {
                client
                    .post(format!("{base}/login"))
                    .header("cookie", nonce)
                    .header("x-forwarded-for", format!("198.51.100.{n}"))
                    .form(&[
                        ("username", format!("intruder{n}")),
                        ("password", "wrong".to_owned()),
                        ("csrf", csrf),
                    ])
                    .send()
                    .await
                    .map(|response| response.status().as_u16())
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap().expect("an answer"));
    }
    let elapsed = started.elapsed();
    let peak = server.peak_rss_kib().unwrap();
    eprintln!(
        "login flood: {ATTEMPTS} parallel sign-ins answered in {elapsed:.2?}; peak RSS {:.1} MiB (before the flood {:.1} MiB); statuses {:?}",
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
        {
            let mut counts = std::collections::BTreeMap::new();
            for status in &statuses {
                *counts.entry(*status).or_insert(0) += 1;
            }
            counts
        }
    );
    assert!(
        statuses.iter().all(|status| matches!(status, 401 | 503)),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().filter(|status| **status == 401).count() >= ATTEMPTS / 2,
        "most were checked: {statuses:?}"
    );
    assert!(
        peak < CEILING_KIB,
        "peak RSS {} KiB is over {CEILING_KIB} KiB",
        peak
    );
}
