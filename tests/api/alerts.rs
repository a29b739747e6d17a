//! Silence and trouble alerts against a webhook listener of the test's own, with the time moved
//! by the test: sent once when they start, once when they clear, retried when refused.

use std::net::TcpListener;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use chrono::{DateTime, TimeZone, Utc};
use postback_ledger::domain::clock::Clock;

use crate::helpers::*;
use crate::on_both_backends;

/// A Slack-like incoming webhook: keeps each `text` it takes, refuses the first `refuse` tries.
struct Hook {
    url: String,
    texts: Arc<Mutex<Vec<String>>>,
    tries: Arc<AtomicUsize>,
}

struct HookState {
    texts: Arc<Mutex<Vec<String>>>,
    tries: Arc<AtomicUsize>,
    refuse: usize,
}

async fn take(body: web::Json<serde_json::Value>, state: web::Data<HookState>) -> HttpResponse {
    if state.tries.fetch_add(1, Ordering::SeqCst) < state.refuse {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let text = body["text"].as_str().expect("a text").to_owned();
    state.texts.lock().unwrap().push(text);
    HttpResponse::Ok().body("ok")
}

impl Hook {
    fn start(refuse: usize) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let texts = Arc::new(Mutex::new(Vec::new()));
        let tries = Arc::new(AtomicUsize::new(0));
        let state = web::Data::new(HookState {
            texts: texts.clone(),
            tries: tries.clone(),
            refuse,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/hook", web::post().to(take))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Hook { url, texts, tries }
    }

    fn texts(&self) -> Vec<String> {
        self.texts.lock().unwrap().clone()
    }

    /// Waits (up to 15 s) until `count` messages were taken; returns them.
    async fn until(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let texts = self.texts();
            if texts.len() >= count {
                return texts;
            }
            assert!(
                Instant::now() < deadline,
                "the webhook took {} message(s), not {count}: {texts:?}",
                texts.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A clock the test moves: seconds since the epoch, shared with the app.
fn movable_clock(start: DateTime<Utc>) -> (Clock, Arc<AtomicI64>) {
    let seconds = Arc::new(AtomicI64::new(start.timestamp()));
    let shared = seconds.clone();
    let clock = Clock::from_fn(move || {
        Utc.timestamp_opt(shared.load(Ordering::SeqCst), 0)
            .single()
            .unwrap()
    });
    (clock, seconds)
}

/// Long enough for the one-second check to run at least twice.
async fn a_few_checks() {
    tokio::time::sleep(Duration::from_millis(2_500)).await;
}

async fn metrics(app: &TestApp) -> String {
    let (status, text) = app.get("/metrics").await;
    assert_eq!(status, 200);
    text
}

fn gauge(metrics: &str, source: &str, kind: &str) -> Option<String> {
    metrics
        .lines()
        .find(|line| {
            line.starts_with("postback_ledger_alerts_active{")
                && line.contains(&format!("source=\"{source}\""))
                && line.contains(&format!("kind=\"{kind}\""))
        })
        .map(|line| line.rsplit(' ').next().unwrap().to_owned())
}

on_both_backends! {
    async fn a_silent_source_alerts_once_after_alert_after_and_clears_with_the_next_delivery(backend: Backend) {
        // Refused once: the sender tries again, and the message still arrives once.
        let hook = Hook::start(1);
        // Metrics are one registry per process: each backend's run has a source of its own.
        let source = format!("quiet-{backend:?}").to_lowercase();
        let (clock, seconds) = movable_clock(Utc.with_ymd_and_hms(2026, 4, 8, 9, 0, 0).unwrap());
        let config = format!(
            "{}\n[alerts]\nwebhook_url = \"{}\"\ncheck_every = \"1s\"\n[sources.{source}]\nkind = \"action_lifecycle\"\nalert_after = \"6h\"\n",
            base_config(),
            hook.url
        );
        let app = spawn_on_with_clock(TestDatabase::new(backend), &config, clock).await;
        let hours = |h: i64| seconds.fetch_add(h * 3_600, Ordering::SeqCst);

        // A source that never delivered is not silent, however long.
        hours(24);
        a_few_checks().await;
        assert!(hook.texts().is_empty(), "{:?}", hook.texts());
        assert_eq!(app.get_postback(&source, "ActionId=Q-1&Payout=1").await.outcome.as_deref(), Some("applied"));
        hours(5);
        a_few_checks().await;
        assert!(hook.texts().is_empty(), "5 of 6 hours: {:?}", hook.texts());

        seconds.fetch_add(3_600 + 300, Ordering::SeqCst);
        let texts = hook.until(1).await;
        assert!(
            texts[0].starts_with(&format!("postback-ledger alert: no postback from `{source}` for 6h 5m")),
            "{texts:?}"
        );
        assert_eq!(hook.tries.load(Ordering::SeqCst), 2, "one refused, one taken");
        a_few_checks().await;
        assert_eq!(hook.texts().len(), 1, "sent once: {:?}", hook.texts());
        let summary = app.json("/api/summary").await.unwrap();
        let alerts = summary["alerts"].as_array().unwrap();
        assert_eq!(alerts.len(), 1, "{summary}");
        assert_eq!((alerts[0]["source"].as_str(), alerts[0]["kind"].as_str()), (Some(source.as_str()), Some("silence")));
        let (_, page) = app.get("/").await;
        assert!(page.contains(&format!("data-alert=\"silence\" data-source=\"{source}\"")), "{page}");
        assert_eq!(gauge(&metrics(&app).await, &source, "silence").as_deref(), Some("1"));

        // The next delivery clears it, once.
        assert_eq!(app.get_postback(&source, "ActionId=Q-2&Payout=1").await.status, 200);
        let texts = hook.until(2).await;
        assert_eq!(texts[1], format!("postback-ledger cleared: postbacks from `{source}` are arriving again"));
        a_few_checks().await;
        assert_eq!(hook.texts().len(), 2, "{:?}", hook.texts());
        assert!(app.json("/api/summary").await.unwrap()["alerts"].as_array().unwrap().is_empty());
        assert_eq!(gauge(&metrics(&app).await, &source, "silence").as_deref(), Some("0"));
    }
}

on_both_backends! {
    async fn quarantine_and_authentication_failure_rates_over_the_threshold_alert_and_clear(backend: Backend) {
        let hook = Hook::start(0);
        let source = format!("busy-{backend:?}").to_lowercase();
        let (clock, seconds) = movable_clock(Utc.with_ymd_and_hms(2026, 4, 8, 9, 0, 0).unwrap());
        let config = format!(
            "{}\n[alerts]\nwebhook_url = \"{}\"\ncheck_every = \"1s\"\nmin_requests = 4\n[sources.{source}]\nkind = \"action_lifecycle\"\n",
            base_config(),
            hook.url
        );
        let app = spawn_on_with_clock(TestDatabase::new(backend), &config, clock).await;
        for _ in 0..4 {
            assert_eq!(app.get_postback(&source, "").await.outcome.as_deref(), Some("quarantined"));
            let refused = app
                .client
                .get(format!("{}/postbacks/{source}?secure=wrong&ActionId=X", app.address))
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status().as_u16(), 401);
        }
        let mut texts = hook.until(2).await;
        texts.sort();
        assert!(texts[0].contains(&format!("4 of 4 postbacks to `{source}` in the last 1h were quarantined (100%")), "{texts:?}");
        // Started when the rate first reached the threshold (at 2 of 4 requests, or later).
        assert!(texts[1].contains(&format!("requests to `{source}` in the last 1h failed authentication (50%")), "{texts:?}");
        let metrics = metrics(&app).await;
        assert_eq!(gauge(&metrics, &source, "quarantine_rate").as_deref(), Some("1"), "{metrics}");
        assert_eq!(gauge(&metrics, &source, "auth_failure_rate").as_deref(), Some("1"));

        // Once the window has passed them, both clear.
        seconds.fetch_add(2 * 3_600, Ordering::SeqCst);
        let texts = hook.until(4).await;
        assert!(texts[2..].iter().all(|text| text.starts_with("postback-ledger cleared:")), "{texts:?}");
        a_few_checks().await;
        assert_eq!(hook.texts().len(), 4);
    }
}
