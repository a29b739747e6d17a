//! Durability: a 200 means stored, whatever happens next. The real binary is killed (SIGKILL)
//! and stopped (SIGTERM) mid-load, PostgreSQL goes away and comes back, and two receivers share
//! one PostgreSQL database; every acknowledged postback must be in the ledger exactly once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postback_ledger::storage::{Database, actions, ledger_entries};
use postback_ledger::web::startup::Application;

use crate::helpers::*;
use crate::on_both_backends;
use crate::server::{self, Server};
use crate::workload::{self, Answer, Request, Workload};

const BINARY: &str = env!("CARGO_BIN_EXE_postback-ledger");

/// Enough traffic that a signal lands mid-load, little enough to take a second or two.
const POSTBACKS: usize = 400;
/// The signal is sent once this many postbacks have been acknowledged.
const SIGNAL_AFTER: usize = 100;
const SENDERS: usize = 16;

fn requests(prefix: &str, count: usize) -> (Workload, Vec<Arc<Request>>) {
    let mut workload = Workload::new(prefix, 42);
    let requests = (0..count).map(|_| workload.next_request()).collect();
    (workload, requests)
}

/// Sends every request with `SENDERS` concurrent senders; the answer of each, in request order
/// (None: no answer, the connection failed). With `retry_503` a 503 is retried, as impact.com
/// does. `acknowledged` counts the 200s as they come.
async fn send_all(
    base: &str,
    secret: &'static str,
    requests: &[Arc<Request>],
    retry_503: bool,
    acknowledged: Arc<AtomicUsize>,
) -> Vec<Option<Answer>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(Mutex::new(vec![None; requests.len()]));
    let requests = Arc::new(requests.to_vec());
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (client, base, next, answers, requests, acknowledged) = (
            client.clone(),
            base.to_owned(),
            next.clone(),
            answers.clone(),
            requests.clone(),
            acknowledged.clone(),
        );
        senders.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(index) else {
                    break;
                };
                let mut answer = None;
                for _ in 0..200 {
                    answer = workload::send(&client, &base, secret, request).await.ok();
                    match &answer {
                        Some(a) if a.status == 503 && retry_503 => {
                            tokio::time::sleep(Duration::from_millis(20)).await
                        }
                        _ => break,
                    }
                }
                if answer.as_ref().is_some_and(|a| a.status == 200) {
                    acknowledged.fetch_add(1, Ordering::Relaxed);
                }
                answers.lock().unwrap()[index] = answer;
            }
        }));
    }
    for sender in senders {
        sender.await.expect("a sender finished");
    }
    Arc::try_unwrap(answers).unwrap().into_inner().unwrap()
}

/// Waits (bounded) until `count` postbacks have been acknowledged.
async fn until_acknowledged(acknowledged: &AtomicUsize, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.load(Ordering::Relaxed) < count {
        assert!(
            Instant::now() < deadline,
            "only {} postbacks acknowledged in 30 s",
            acknowledged.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The delivery ids answered 200, and the actions with a postback that was not.
fn split(answers: &[Option<Answer>], requests: &[Arc<Request>]) -> (Vec<i64>, HashSet<usize>) {
    let mut stored = Vec::new();
    let mut uncertain = HashSet::new();
    for (answer, request) in answers.iter().zip(requests) {
        match answer {
            Some(Answer {
                status: 200,
                delivery_id: Some(id),
                ..
            }) => stored.push(*id),
            _ => {
                uncertain.insert(request.action);
            }
        }
    }
    (stored, uncertain)
}

fn assert_check_passes(url: &str) {
    let output = cli_on(url, &["check"]);
    assert!(
        output.status.success(),
        "check failed:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

on_both_backends! {
    async fn after_sigkill_mid_load_every_acknowledged_postback_is_stored_and_retries_count_once(backend: Backend) {
        let db = TestDatabase::new(backend);
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(BINARY.as_ref(), dir.path(), &db.url);
        let (workload, requests) = requests("crash", POSTBACKS);
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let load = tokio::spawn({
            let (base, requests, acknowledged) = (server.base.clone(), requests.clone(), acknowledged.clone());
            async move { send_all(&base, server::SECRET, &requests, false, acknowledged).await }
        });
        until_acknowledged(&acknowledged, SIGNAL_AFTER).await;
        server.kill();
        let answers = load.await.unwrap();
        let (stored, uncertain) = split(&answers, &requests);
        assert!(stored.len() >= SIGNAL_AFTER);
        assert!(!uncertain.is_empty(), "the kill landed after the load: nothing was cut off");

        let server = Server::start(BINARY.as_ref(), dir.path(), &db.url);
        let problems = workload::verify_ledger(&db.url, &stored, &workload.actions, &uncertain);
        assert!(problems.is_empty(), "{problems:#?}");
        assert_check_passes(&db.url);

        // impact.com retries everything it did not see acknowledged, and more: send it all again.
        let again = send_all(&server.base, server::SECRET, &requests, true, Arc::default()).await;
        for (before, after) in answers.iter().zip(&again) {
            let after = after.as_ref().expect("answered after the restart");
            assert_eq!(after.status, 200);
            if let Some(before) = before.as_ref().filter(|answer| answer.status == 200) {
                assert_eq!(after.outcome.as_deref(), Some("duplicate"));
                assert_eq!(after.delivery_id, before.delivery_id, "counted on the original");
            }
        }
        let (stored, uncertain) = split(&again, &requests);
        assert!(uncertain.is_empty());
        let problems = workload::verify_ledger(&db.url, &stored, &workload.actions, &uncertain);
        assert!(problems.is_empty(), "counted twice or lost after the retries: {problems:#?}");
        assert_check_passes(&db.url);
        assert!(server.terminate().success());
    }
}

on_both_backends! {
    async fn sigterm_mid_load_stores_every_acknowledged_postback_and_exits_zero(backend: Backend) {
        let db = TestDatabase::new(backend);
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(BINARY.as_ref(), dir.path(), &db.url);
        let (workload, requests) = requests("term", POSTBACKS);
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let load = tokio::spawn({
            let (base, requests, acknowledged) = (server.base.clone(), requests.clone(), acknowledged.clone());
            async move { send_all(&base, server::SECRET, &requests, false, acknowledged).await }
        });
        until_acknowledged(&acknowledged, SIGNAL_AFTER).await;
        server.send_sigterm();
        let answers = load.await.unwrap();
        let status = server.wait();
        assert_eq!(status.code(), Some(0), "{status}");
        let (stored, uncertain) = split(&answers, &requests);
        assert!(stored.len() >= SIGNAL_AFTER);
        let problems = workload::verify_ledger(&db.url, &stored, &workload.actions, &uncertain);
        assert!(problems.is_empty(), "{problems:#?}");
        assert_check_passes(&db.url);
    }
}

#[actix_web::test]
async fn while_postgres_is_unreachable_postbacks_get_503_never_200_and_it_recovers_alone() {
    if !postgres_available() {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    let first = app.get_postback("actions", "ActionId=U1&Payout=1.00").await;
    assert_eq!(first.status, 200);

    app.db.set_reachable(false);
    // Several at once, so the pool's connect timeout is waited out once, not per request.
    let during = ["U2", "U3", "U4", "U1"].map(|id| {
        let (client, address) = (app.client.clone(), app.address.clone());
        tokio::spawn(async move {
            let url =
                format!("{address}/postbacks/actions?secure={SECRET}&ActionId={id}&Payout=2.00");
            client
                .get(url)
                .send()
                .await
                .map(|response| response.status().as_u16())
        })
    });
    for answer in during {
        assert_eq!(
            answer.await.unwrap().unwrap(),
            503,
            "answered while the database was away"
        );
    }
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("not ready"), "{body}");

    app.db.set_reachable(true);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if app.get("/readyz").await.0 == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready 15 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // What was refused is retried by impact.com and stored now, once.
    for id in ["U2", "U3", "U4", "U1"] {
        let answer = app
            .get_postback("actions", &format!("ActionId={id}&Payout=2.00"))
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.outcome.as_deref(), Some("applied"), "{id}");
    }
    assert_eq!(app.action("U1").await.unwrap()["payout"], "2.00");
    assert_check_passes(&app.db.url);
}

/// Each action's state and its entries' sums, in action id order.
fn ledger_of(url: &str) -> Vec<(String, String, i64, i64, String, i64, i64)> {
    let db = Database::connect(url).unwrap();
    let mut conn = db.conn().unwrap();
    let mut ledger = Vec::new();
    let mut cursor = String::new();
    loop {
        let ids = actions::ids_after(&mut conn, &cursor, 500).unwrap();
        let Some(last) = ids.last() else { break };
        cursor = last.clone();
        let sums: HashMap<String, (i64, i64)> = ledger_entries::sums_for(&mut conn, &ids)
            .unwrap()
            .into_iter()
            .map(|(id, payout, amount, _)| (id, (payout, amount)))
            .collect();
        for action in actions::of_ids(&mut conn, &ids).unwrap() {
            let (payout_sum, amount_sum) = sums[&action.action_id];
            ledger.push((
                action.action_id,
                action.status.to_string(),
                action.payout,
                action.amount,
                action.flags.to_string(),
                payout_sum,
                amount_sum,
            ));
        }
    }
    ledger
}

#[actix_web::test]
async fn two_receivers_on_one_postgres_database_given_the_same_postbacks_keep_one_ledger() {
    if !postgres_available() {
        return;
    }
    let (workload, requests) = requests("twin", 300);

    let reference = spawn_app(Backend::Postgres).await;
    let answers = send_all(&reference.address, SECRET, &requests, true, Arc::default()).await;
    assert!(
        answers
            .iter()
            .all(|a| a.as_ref().is_some_and(|a| a.status == 200))
    );

    let one = spawn_app(Backend::Postgres).await;
    let (two, _) = Application::build(settings_for(&one.db, &base_config())).unwrap();
    let two_address = format!("http://127.0.0.1:{}", two.port());
    actix_web::rt::spawn(two.run_until_stopped());
    // Both receivers get every postback at the same time, as a load balancer retrying would do.
    let (a, b) = tokio::join!(
        send_all(&one.address, SECRET, &requests, true, Arc::default()),
        send_all(&two_address, SECRET, &requests, true, Arc::default()),
    );
    for answer in a.iter().chain(&b) {
        assert_eq!(answer.as_ref().map(|a| a.status), Some(200));
    }
    let (stored, uncertain) = split(&a, &requests);
    let problems = workload::verify_ledger(&one.db.url, &stored, &workload.actions, &uncertain);
    assert!(problems.is_empty(), "{problems:#?}");
    let twice = ledger_of(&one.db.url);
    assert_eq!(
        twice.len(),
        workload.actions.iter().filter(|a| a.sent > 0).count()
    );
    assert_eq!(twice, ledger_of(&reference.db.url));
    assert_check_passes(&one.db.url);
}

#[actix_web::test]
async fn on_sqlite_the_checkpointer_copies_the_log_into_the_database_while_postbacks_arrive() {
    let app = spawn_app(Backend::Sqlite).await;
    let path = std::path::PathBuf::from(app.db.url.trim_start_matches("sqlite://"));
    let size = || std::fs::metadata(&path).unwrap().len();
    let before = size();
    // A few hundred log pages: far below the 10,000 at which the writer would checkpoint
    // itself, so only the checkpointer thread can grow the database file (new pages live in
    // the log until a checkpoint copies them).
    for n in 0..200 {
        let answer = app
            .get_postback(
                "actions",
                &format!("ActionId=W{n}&Payout=1.00&Status=PENDING"),
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while size() <= before {
        assert!(
            Instant::now() < deadline,
            "the database file is still {before} bytes: nothing was checkpointed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
