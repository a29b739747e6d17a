//! Issue 22, "a book finance can close": each reproduction of the issue as a test, on both
//! backends, with closing months, the time zone and `check` on an overflowed database.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use postback_ledger::domain::clock::Clock;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

fn movable_clock(start: DateTime<Utc>) -> (Clock, Arc<AtomicI64>) {
    let seconds = Arc::new(AtomicI64::new(start.timestamp()));
    let shared = seconds.clone();
    let clock =
        Clock::from_fn(move || Utc.timestamp_opt(shared.load(Ordering::SeqCst), 0).unwrap());
    (clock, seconds)
}

fn at(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, 12, 0, 0).unwrap()
}

async fn outcome(app: &TestApp, source: &str, query: &str) -> String {
    let answer = app.get_postback(source, query).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.outcome.unwrap_or_default()
}

fn totals<'a>(summary: &'a serde_json::Value, currency: &str) -> &'a serde_json::Value {
    summary["currencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["currency"] == currency)
        .unwrap()
}

/// The statement month's row for a currency, as JSON.
async fn month_row(app: &TestApp, year: i32, month: &str) -> Option<serde_json::Value> {
    let statement = app
        .json(&format!("/api/statement?year={year}"))
        .await
        .unwrap();
    statement["months"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["month"] == month)
        .map(|m| m["rows"][0].clone())
}

/// Closes a month through the statement's button (form token and cookie, as a person would).
async fn close_by_button(app: &TestApp, month: &str) -> u16 {
    let response = app
        .client
        .get(format!("{}/statement?year={}", app.address, &month[..4]))
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get("set-cookie")
        .expect("a form cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = response.text().await.unwrap();
    assert!(
        page.contains(&format!("Close {month}")),
        "the statement offers to close {month}"
    );
    let start = page.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    let token = page[start..].split('"').next().unwrap().to_owned();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    client
        .post(format!("{}/statement/close", app.address))
        .header("cookie", &cookie)
        .form(&[("csrf", token.as_str()), ("month", month)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

on_both_backends! {
    /// 1. A lifecycle `ClearedDate` is the date scheduled to clear, never "cleared".
    async fn a_scheduled_clearing_is_not_cleared(backend: Backend) {
        let app = spawn_app_with_clock(backend, Clock::fixed(at(11, 5))).await;
        let query = "ActionId=C1&Status=PENDING&Payout=20.00&DeltaPayout=20.00&Currency=USD\
                     &LockingDate=2026-12-01T00:00:00Z&ClearedDate=2027-01-15T00:00:00Z";
        assert_eq!(outcome(&app, "actions", query).await, "applied");
        let view = app.action("C1").await.unwrap();
        assert_eq!(view["shown_status"], "pending");
        assert_eq!(view["cleared_date"], "2027-01-15T00:00:00Z", "kept as the scheduled date");
        assert!(view["cleared_at"].is_null());
        let summary = app.json("/api/summary").await.unwrap();
        assert_eq!(totals(&summary, "USD")["cleared"]["actions"], 0);
        assert_eq!(month_row(&app, 2026, "2026-11").await.unwrap()["cleared"], "0.00");
        let scheduled = app.actions("status=all&date_field=scheduled_clear&from=2027-01-01&to=2027-01-31").await;
        assert_eq!(scheduled["actions"].as_array().unwrap().len(), 1);
        let cleared = app.actions("status=all&date_field=cleared&from=2026-01-01&to=2027-12-31").await;
        assert_eq!(cleared["actions"], json!([]));
        let (_, page) = app.get("/actions/C1").await;
        assert!(page.contains("Scheduled to clear"), "shown as the schedule");

        // A clearing event names it: cleared at its LedgerDate; its ClearedDate stays a schedule.
        let clearing = "ActionIds=C1&ClearedDate=2027-01-15T00:00:00Z&LedgerDate=2026-11-04T09:00:00Z";
        assert_eq!(outcome(&app, "clearing", clearing).await, "applied");
        let view = app.action("C1").await.unwrap();
        assert_eq!((view["shown_status"].as_str(), view["cleared_at"].as_str()), (Some("cleared"), Some("2026-11-04T09:00:00Z")));
        assert_eq!(view["clearance"]["payout"], "20.00");
        assert_eq!(month_row(&app, 2026, "2026-11").await.unwrap()["cleared"], "20.00");
        let cleared = app.actions("status=cleared&date_field=cleared&from=2026-11-01&to=2026-11-30").await;
        assert_eq!(cleared["actions"][0]["action_id"], "C1");
        let (_, page) = app.get("/actions?status=cleared").await;
        assert!(page.contains(">Cleared<"), "a cleared column");
        assert!(page.contains(r#"<a href="/actions?status=cleared" aria-current="page">Cleared</a>"#), "a Cleared tab");
    }
}

on_both_backends! {
    /// 2. Cleared in November, reversed on 6 December, November closed: November keeps its
    /// figure; the reversal is a clawback in December, flagged for what it is.
    async fn a_closed_month_keeps_its_figure_and_a_later_reversal_is_a_clawback(backend: Backend) {
        let (clock, seconds) = movable_clock(at(11, 2));
        let app = spawn_on_with_clock(TestDatabase::new(backend), &base_config(), clock).await;
        for (id, payout) in [("N1", "985.40"), ("N2", "7.58")] {
            let query = format!("ActionId={id}&Status=PENDING&Payout={payout}&DeltaPayout={payout}&Currency=USD&CampaignId=9876");
            assert_eq!(outcome(&app, "actions", &query).await, "applied");
        }
        assert_eq!(outcome(&app, "clearing", "ActionIds=N1,N2&LedgerDate=2026-11-20T10:00:00Z").await, "applied");
        assert_eq!(month_row(&app, 2026, "2026-11").await.unwrap()["cleared"], "992.98");

        seconds.store(at(12, 2).timestamp(), Ordering::SeqCst);
        assert_eq!(close_by_button(&app, "2026-11").await, 303);
        let closed = month_row(&app, 2026, "2026-11").await.unwrap();
        assert_eq!(closed["cleared"], "992.98");
        assert_eq!(closed["hash"].as_str().unwrap().len(), 64, "each row sealed");

        seconds.store(at(12, 6).timestamp(), Ordering::SeqCst);
        let reversal = "ActionId=N2&Status=REVERSED&Payout=0&DeltaPayout=-7.58&Currency=USD&CampaignId=9876";
        assert_eq!(outcome(&app, "actions", reversal).await, "flagged");
        let view = app.action("N2").await.unwrap();
        assert_eq!(view["flags"], json!(["reversed_after_clearing"]));
        assert_eq!(view["entries"][1]["after_clearing"], true);
        let november = month_row(&app, 2026, "2026-11").await.unwrap();
        assert_eq!(november, closed, "a closed month never changes");
        let december = month_row(&app, 2026, "2026-12").await.unwrap();
        assert_eq!((december["clawbacks"].as_str(), december["reversed"].as_str()), (Some("-7.58"), Some("0.00")));
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));

        // A clearing that arrives late for November lands in December, naming November.
        assert_eq!(outcome(&app, "actions", "ActionId=N3&Status=PENDING&Payout=5.00&DeltaPayout=5.00&Currency=USD&CampaignId=9876").await, "applied");
        assert_eq!(outcome(&app, "clearing", "ActionIds=N3&LedgerDate=2026-11-29T10:00:00Z").await, "applied");
        assert_eq!(month_row(&app, 2026, "2026-11").await.unwrap(), closed);
        let statement = app.json("/api/statement?year=2026").await.unwrap();
        let adjustment = statement["months"][0]["rows"].as_array().unwrap().iter()
            .find(|row| row["concerns"] == "2026-11").expect("an adjustment naming November").clone();
        assert_eq!(adjustment["cleared"], "5.00");
        let (_, page) = app.get("/statement?year=2026").await;
        assert!(page.contains("adjustment for 2026-11") && page.contains("Cleared this month"));
        assert!(page.contains("date_field=ledger"), "rows link to the actions behind them");
        let csv = app.get("/statement.csv?year=2026").await.1;
        assert!(csv.starts_with("month,closed,concerns,"), "{csv}");

        // Closing again, or a month that has not ended, is refused.
        let output = app.cli(&["close", "2026-11"]);
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("already closed"));
        let output = app.cli(&["close", "2999-01"]);
        assert!(String::from_utf8_lossy(&output.stderr).contains("has not ended"));
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));

        // Tampering with a closed month's facts is found by check.
        app.db.execute("INSERT INTO ledger_entries (action_id, delivery_id, kind, payout_delta, amount_delta, recorded_at, month) \
                        SELECT 'N1', delivery_id, 'modified', 1, 0, recorded_at, '2026-11' FROM clearances WHERE action_id = 'N1'");
        let output = app.cli(&["check"]);
        assert_eq!(output.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&output.stdout).contains("closed month 2026-11"));
    }
}

on_both_backends! {
    /// 3. Missing money is never booked as 0.00.
    async fn missing_money_is_quarantined_first_and_flagged_later(backend: Backend) {
        let app = spawn_app(backend).await;
        for query in ["ActionId=M1&Status=PENDING&Payout={Payout}", "ActionId=M2&Status=PENDING&Payout=", "ActionId=M3&Payout=&DeltaPayout=4.00"] {
            assert_eq!(outcome(&app, "actions", query).await, "quarantined", "{query}");
        }
        let json = app.post_postback("actions", Some("application/json"), r#"{"ActionId": "M4", "Status": "PENDING", "Payout": , }"#).await;
        assert_eq!(json.outcome.as_deref(), Some("quarantined"));
        for id in ["M1", "M2", "M3", "M4"] {
            assert!(app.action(id).await.is_none(), "{id} is not booked");
        }
        let log = app.json("/api/deliveries?outcome=quarantined").await.unwrap();
        assert!(log.to_string().contains("no payout: is `{Payout}` in the template?"), "{log}");

        assert_eq!(outcome(&app, "actions", "ActionId=M5&Status=PENDING&Payout=10.00&DeltaPayout=10.00").await, "applied");
        assert_eq!(outcome(&app, "actions", "ActionId=M5&Status=PENDING&Payout=&DeltaPayout=4.00").await, "flagged");
        let view = app.action("M5").await.unwrap();
        assert_eq!((view["payout"].as_str(), view["flags"].clone()), (Some("10.00"), json!(["payout_missing"])));
        assert_eq!(view["entries"].as_array().unwrap().len(), 1, "no entry for the missing payout");
    }
}

on_both_backends! {
    /// 4. The currency comes from the set, whatever the order; each entry keeps its own.
    async fn the_currency_is_the_sets_not_the_last_arrivals(backend: Backend) {
        let app = spawn_app(backend).await;
        let tracked = |id: &str| format!("ActionId={id}&Status=PENDING&Payout=10.00&DeltaPayout=10.00&Currency=USD");
        let modified = |id: &str| format!("ActionId={id}&Status=PENDING&Payout=5.00&DeltaPayout=-5.00&Currency=EUR");
        for (id, first, second) in [("X1", tracked("X1"), modified("X1")), ("X2", modified("X2"), tracked("X2"))] {
            outcome(&app, "actions", &first).await;
            outcome(&app, "actions", &second).await;
            let view = app.action(id).await.unwrap();
            assert_eq!((view["payout"].as_str(), view["payout_currency"].as_str()), (Some("10.00"), Some("USD")), "{id}");
            assert!(view["flags"].as_array().unwrap().contains(&json!("currency_changed")), "{id}");
        }
        let statement = app.json("/api/statement").await.unwrap();
        let totals: Vec<(String, String)> = statement["totals"].as_array().unwrap().iter()
            .map(|t| (t["currency"].as_str().unwrap().to_owned(), t["net"].as_str().unwrap().to_owned())).collect();
        assert_eq!(totals, [("EUR".to_owned(), "0.00".to_owned()), ("USD".to_owned(), "20.00".to_owned())]);
        let ledger = app.get("/ledger.csv").await.1;
        assert!(ledger.contains(",5.00,EUR,") && ledger.contains(",-5.00,EUR,"), "the EUR money in and out, in EUR: {ledger}");
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    }
}

on_both_backends! {
    /// 5. Dedup by value; and a delivery stored under the old key, sent again, is still known.
    async fn a_value_equal_retry_is_a_duplicate(backend: Backend) {
        let app = spawn_app(backend).await;
        assert_eq!(outcome(&app, "actions", "ActionId=D1&Status=PENDING&Payout=10.00&DeltaPayout=10.00").await, "applied");
        assert_eq!(outcome(&app, "actions", "ActionId=D1&Status=PENDING&Payout=5.00&DeltaPayout=-5.00").await, "applied");
        assert_eq!(outcome(&app, "actions", "ActionId=D1&Status=PENDING&Payout=10.0&DeltaPayout=10.0").await, "duplicate");
        let view = app.action("D1").await.unwrap();
        assert_eq!((view["payout"].as_str(), view["flags"].clone()), (Some("5.00"), json!([])));

        // A delivery stored before keys were normalised: its key was the text as sent.
        let first = app.get_postback("actions", "ActionId=D2&Status=PENDING&Payout=7.5&DeltaPayout=7.5").await;
        let legacy = {
            use sha2::{Digest, Sha256};
            let mut hasher = Sha256::new();
            hasher.update(b"actions\0");
            hasher.update(br#"{"ActionId":"D2","DeltaPayout":"7.5","Payout":"7.5","Status":"PENDING"}"#);
            hex::encode(hasher.finalize())
        };
        app.db.execute(&format!("UPDATE deliveries SET dedup_key = '{legacy}' WHERE id = {}", first.delivery_id.unwrap()));
        let again = app.get_postback("actions", "ActionId=D2&Status=PENDING&Payout=7.5&DeltaPayout=7.5").await;
        assert_eq!((again.outcome.as_deref(), again.delivery_id), (Some("duplicate"), first.delivery_id));
        assert_eq!(app.action("D2").await.unwrap()["entries"].as_array().unwrap().len(), 1);
    }
}

on_both_backends! {
    /// 6. Money near the type's range is quarantined as implausible; nothing overflows.
    async fn implausible_money_is_quarantined_and_the_ledger_stays_sound(backend: Backend) {
        let app = spawn_app(backend).await;
        assert_eq!(outcome(&app, "actions", "ActionId=O1&Status=PENDING&Payout=100.00&DeltaPayout=100.00").await, "applied");
        for query in [
            "ActionId=O1&Status=PENDING&Payout=922337203685477.5807&DeltaPayout=922337203685377.5807",
            "ActionId=O1&Status=PENDING&Payout=-922337203685477.5808",
            "ActionId=O2&Status=PENDING&Payout=500000000000000.00",
            "ActionId=O3&Status=PENDING&Payout=500000000000000.00",
        ] {
            assert_eq!(outcome(&app, "actions", query).await, "quarantined", "{query}");
        }
        assert_eq!(app.action("O1").await.unwrap()["payout"], "100.00");
        assert_eq!(app.get("/statement").await.0, 200);
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    }
}

on_both_backends! {
    /// `check` on a database seeded with the overflow values (as an older build left them)
    /// ends with a verdict: exit 1, naming what is wrong, never 3.
    async fn check_on_an_overflowed_database_gives_a_verdict(backend: Backend) {
        let app = spawn_app(backend).await;
        outcome(&app, "actions", "ActionId=V1&Status=PENDING&Payout=1.00&DeltaPayout=1.00").await;
        let huge = 5_000_000_000_000_000_000i64;
        app.db.execute(&format!(
            "INSERT INTO actions (action_id, source, status, payout, amount, flags, first_seen_at, last_seen_at, is_test) \
             VALUES ('V2', 'actions', 'pending', {huge}, 0, '', '2026-11-01 00:00:00', '2026-11-01 00:00:00', FALSE), \
                    ('V3', 'actions', 'pending', {huge}, 0, '', '2026-11-01 00:00:00', '2026-11-01 00:00:00', FALSE); \
             INSERT INTO ledger_entries (action_id, delivery_id, kind, payout_delta, amount_delta, recorded_at) \
             SELECT 'V2', delivery_id, 'tracked', {huge}, 0, '2026-11-01 00:00:00' FROM action_events WHERE action_id = 'V1'; \
             INSERT INTO ledger_entries (action_id, delivery_id, kind, payout_delta, amount_delta, recorded_at) \
             SELECT 'V3', delivery_id, 'tracked', {huge}, 0, '2026-11-01 00:00:00' FROM action_events WHERE action_id = 'V1';"
        ));
        let output = app.cli(&["check"]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.contains("action V2: has no recorded event"), "{stdout}");
        assert!(stdout.contains("violation(s)"), "{stdout}");
        assert_eq!(app.get("/statement?year=2026").await.0, 200, "the statement sums in i128");
    }
}

on_both_backends! {
    /// 7. Flags name the real cause.
    async fn flags_name_the_real_cause(backend: Backend) {
        let app = spawn_app(backend).await;
        outcome(&app, "actions", "ActionId=F1&Status=PENDING&Payout=10.00&DeltaPayout=10.00").await;
        assert_eq!(outcome(&app, "actions", "ActionId=F1&Status=REVERSED&Payout=0").await, "applied");
        assert_eq!(app.action("F1").await.unwrap()["flags"], json!([]), "a reversal without delta after a complete history is clean");
        outcome(&app, "actions", "ActionId=F2&Status=PENDING&Payout=10.00&DeltaPayout=10.00").await;
        outcome(&app, "actions", "ActionId=F2&Status=PENDING&Payout=3.00&DeltaPayout=3.00").await;
        outcome(&app, "actions", "ActionId=F2&Status=REVERSED&Payout=0&DeltaPayout=-3.00").await;
        assert_eq!(app.action("F2").await.unwrap()["flags"], json!(["gap"]), "a drop to 0 is missing; nothing came after the reversal");
    }
}

on_both_backends! {
    /// 8. The Reversed list's totals show what the reversals took, as the overview does.
    async fn the_reversed_list_shows_the_reversed_amount(backend: Backend) {
        let app = spawn_app(backend).await;
        for (id, payout) in [("R1", "500.00"), ("R2", "81.57")] {
            outcome(&app, "actions", &format!("ActionId={id}&Status=PENDING&Payout={payout}&DeltaPayout={payout}&Currency=EUR")).await;
            outcome(&app, "actions", &format!("ActionId={id}&Status=REVERSED&Payout=0&DeltaPayout=-{payout}&Currency=EUR")).await;
        }
        let summary = app.json("/api/summary").await.unwrap();
        assert_eq!(totals(&summary, "EUR")["reversed"]["payout"], "581.57");
        let list = app.actions("status=reversed").await;
        assert_eq!((list["totals"][0]["actions"].as_i64(), list["totals"][0]["reversed"].as_str()), (Some(2), Some("581.57")));
        let (_, page) = app.get("/actions?status=reversed").await;
        assert!(page.contains("581.57 EUR"), "the page's totals show it");
    }
}

on_both_backends! {
    /// 9. Finance drills down: filters ignore case, offer the known brands and currencies, and
    /// the statement's months follow the configured zone.
    async fn finance_drills_down_in_the_accounts_time_zone(backend: Backend) {
        let config = format!("{}\n[statement]\ntime_zone = \"America/Los_Angeles\"\n", base_config());
        // 30 November, 20:00 in Los Angeles: already December in UTC.
        let clock = Clock::fixed(Utc.with_ymd_and_hms(2026, 12, 1, 4, 0, 0).unwrap());
        let app = spawn_on_with_clock(TestDatabase::new(backend), &config, clock).await;
        outcome(&app, "actions", "ActionId=Z1&Status=PENDING&Payout=12.00&DeltaPayout=12.00&Currency=USD&CampaignId=9876&CampaignName=Spring").await;
        let statement = app.json("/api/statement?year=2026").await.unwrap();
        assert_eq!(statement["time_zone"], "America/Los_Angeles");
        assert_eq!(statement["months"][0]["month"], "2026-11", "November in Los Angeles");
        assert_eq!(statement["months"][0]["rows"][0]["actions"], 1);
        assert_eq!(statement["months"][0]["rows"][0]["entries"], 1);
        let by_day = app.actions("status=all&date_field=ledger&from=2026-11-30&to=2026-11-30&campaign=SPRING&currency=usd").await;
        assert_eq!(by_day["actions"][0]["action_id"], "Z1", "case does not matter; the day is Los Angeles'");
        let none = app.actions("status=all&date_field=ledger&from=2026-12-01&to=2026-12-01").await;
        assert_eq!(none["actions"], json!([]));
        let summary = app.json("/api/summary?by=arrival").await.unwrap();
        assert_eq!(summary["daily"]["USD"], json!([{"day": "2026-11-30", "tracked": "12.00", "reversed": "0.00"}]), "the overview's days too");
        let (_, page) = app.get("/actions?status=all").await;
        assert!(page.contains(r#"<option value="9876">"#) && page.contains(r#"<option value="USD">"#), "the known brands and currencies are offered");
        // Pages write times in the zone too: received 04:00 UTC is 20:00 the evening before.
        let local = "2026-11-30 20:00:00 -08:00";
        assert!(page.contains(&format!(r#"<time title="{local}">2026-11-30</time>"#)), "the list's day and time: {page}");
        for path in ["/actions/Z1", "/deliveries", "/"] {
            let (_, page) = app.get(path).await;
            assert!(page.contains(local), "{path} in Los Angeles time: {page}");
            assert!(!page.contains("2026-12-01 04:00:00"), "{path} in UTC: {page}");
        }
    }
}

/// One random impact.com-shaped history, as in `shared/reference/ledger_model.py`: tracked,
/// modifications among few values (0 included: repeats and drops to zero), maybe a reversal.
fn random_history(rng: &mut impl rand::Rng, id: &str, currency: &str) -> (Vec<String>, i64) {
    let brand = if id.ends_with(['0', '2', '4', '6', '8']) {
        "9876"
    } else {
        "5555"
    };
    let event = |status: &str, payout: i64, delta: i64| {
        let money = |cents: i64| {
            format!(
                "{}{}.{:02}",
                if cents < 0 { "-" } else { "" },
                cents.abs() / 100,
                cents.abs() % 100
            )
        };
        format!(
            "ActionId={id}&Status={status}&Payout={}&DeltaPayout={}&Currency={currency}&CampaignId={brand}",
            money(payout),
            money(delta)
        )
    };
    let mut payout = rng.random_range(100..5_000i64);
    let mut history = vec![event("PENDING", payout, payout)];
    for _ in 0..rng.random_range(0..4) {
        let new = rng.random_range(0..6i64) * 100;
        let candidate = event("MODIFIED", new, new - payout);
        if new != payout && !history.contains(&candidate) {
            history.push(candidate);
            payout = new;
        }
    }
    if rng.random_bool(0.3) {
        history.push(event("REVERSED", 0, -payout));
        payout = 0;
    }
    (history, payout)
}

on_both_backends! {
    /// The property of issue 22: random histories with clearings and reversals after clearing,
    /// shuffled and repeated, around a closed month: the closed month's figures never change,
    /// per action and currency the entries sum to the payout (`check`), and every action's flags
    /// are those computed from its set.
    async fn random_histories_around_a_closed_month_keep_it_and_flags_come_from_the_set(backend: Backend) {
        use postback_ledger::domain::reconcile;
        use postback_ledger::storage::{Database, action_events, actions, clearances};
        use rand::{Rng, SeedableRng};
        use rand::seq::SliceRandom;

        let (clock, seconds) = movable_clock(at(10, 5));
        let app = spawn_on_with_clock(TestDatabase::new(backend), &base_config(), clock).await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(22);
        let mut histories = Vec::new();
        for n in 0..24 {
            let currency = if n % 3 == 0 { "EUR" } else { "USD" };
            histories.push((format!("P{n:02}"), random_history(&mut rng, &format!("P{n:02}"), currency)));
        }
        // October: part of each history, shuffled, with repeats; a third of the actions clear.
        let mut later = Vec::new();
        let mut october = Vec::new();
        for (_, (history, _)) in &histories {
            let cut = rng.random_range(1..=history.len());
            october.extend(history[..cut].iter().cloned());
            later.extend(history[cut..].iter().cloned());
            if rng.random_bool(0.3) {
                october.push(history[0].clone());
            }
        }
        october.shuffle(&mut rng);
        for query in &october {
            app.get_postback("actions", query).await;
        }
        let cleared: Vec<&str> = histories.iter().step_by(3).map(|(id, _)| id.as_str()).collect();
        let clearing = format!("ActionIds={}&LedgerDate=2026-10-20T10:00:00Z", cleared.join(","));
        assert_eq!(app.get_postback("clearing", &clearing).await.status, 200);

        seconds.store(at(11, 3).timestamp(), Ordering::SeqCst);
        let output = app.cli(&["close", "2026-10"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let closed = app.json("/api/statement?year=2026").await.unwrap()["months"].clone();

        // November: the rest (reversals after clearing among them), repeats, and a clearing
        // that arrives late for October.
        for (_, (history, _)) in &histories {
            if rng.random_bool(0.5) {
                later.push(history[rng.random_range(0..history.len())].clone());
            }
        }
        later.shuffle(&mut rng);
        for query in &later {
            app.get_postback("actions", query).await;
        }
        let late: Vec<&str> = histories.iter().skip(1).step_by(3).map(|(id, _)| id.as_str()).collect();
        let clearing = format!("ActionIds={}&LedgerDate=2026-10-28T10:00:00Z", late.join(","));
        assert_eq!(app.get_postback("clearing", &clearing).await.status, 200);

        let statement = app.json("/api/statement?year=2026").await.unwrap();
        let october_now = statement["months"].as_array().unwrap().iter().find(|m| m["month"] == "2026-10").unwrap();
        let october_then = closed.as_array().unwrap().iter().find(|m| m["month"] == "2026-10").unwrap();
        assert_eq!(october_now, october_then, "a closed month never changes");
        assert!(statement["months"][0]["rows"].as_array().unwrap().iter().any(|row| row["concerns"] == "2026-10"));
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));

        let db = Database::connect(&app.db.url).unwrap();
        let mut conn = db.conn().unwrap();
        let mut clawed_back = 0;
        for (id, (_, final_payout)) in &histories {
            let action = actions::find(&mut conn, id).unwrap().unwrap();
            assert_eq!(action.payout, final_payout * 100, "{id}: the complete set's payout");
            let rows = action_events::of_action(&mut conn, id).unwrap();
            let events: Vec<_> = rows.iter().map(action_events::ActionEventRow::recorded).collect();
            let clearance = clearances::of_action(&mut conn, id).unwrap();
            let context = reconcile::Context {
                locking_date: None,
                received_at: rows.iter().map(|row| row.received_at.and_utc()).collect(),
                cleared: clearance.is_some(),
                cleared_at: clearance.map(|booked| booked.recorded_at.and_utc()),
            };
            assert_eq!(action.flags, reconcile::flags_of(&events, &context).unwrap(), "{id}: flags from the set");
            clawed_back += usize::from(action.flags.iter().any(|flag| matches!(flag,
                reconcile::Flag::ReversedAfterClearing | reconcile::Flag::ChangedAfterClearing)));
        }
        assert!(clawed_back > 0, "the histories hold changes after clearing");
    }
}

on_both_backends! {
    /// `[statement] close_after_days` closes each month that many days after it ends (at start,
    /// then hourly), with any earlier month left open.
    async fn months_close_by_themselves_after_close_after_days(backend: Backend) {
        let first = spawn_on_with_clock(TestDatabase::new(backend), &base_config(), Clock::fixed(at(10, 10))).await;
        outcome(&first, "actions", "ActionId=A1&Status=PENDING&Payout=3.00&DeltaPayout=3.00&Currency=USD").await;
        let TestApp { db, .. } = first;
        let config = format!("{}\n[statement]\nclose_after_days = 10\n", base_config());
        // 15 December: November ended 14 days ago, October before it; December is open.
        let app = spawn_on_with_clock(db, &config, Clock::fixed(at(12, 15))).await;
        let mut statement = serde_json::Value::Null;
        for _ in 0..50 {
            statement = app.json("/api/statement?year=2026").await.unwrap();
            if statement["closed_months"].as_array().unwrap().len() == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(statement["closed_months"], json!(["2026-10", "2026-11"]), "October and the empty November; not December");
        let closed: Vec<&str> = statement["months"].as_array().unwrap().iter()
            .filter(|month| month["closed"] == true)
            .map(|month| month["month"].as_str().unwrap())
            .collect();
        assert_eq!(closed, ["2026-10"], "an empty month shows no row");
        let output = app.cli(&["close", "2026-11"]);
        assert!(String::from_utf8_lossy(&output.stderr).contains("already closed"));
        outcome(&app, "clearing", "ActionIds=A1&LedgerDate=2026-11-20T00:00:00Z").await;
        let statement = app.json("/api/statement?year=2026").await.unwrap();
        assert_eq!(statement["months"][0]["month"], "2026-12");
        assert_eq!(statement["months"][0]["rows"][0]["concerns"], "2026-11", "lands in December, naming November");
    }
}

on_both_backends! {
    /// A ledger written before issue 22 upgrades in place: what a clearing named is booked as
    /// cleared at what it is, its scheduled date stays a schedule, and `check` passes.
    async fn a_ledger_from_before_upgrades_in_place(backend: Backend) {
        let db = TestDatabase::new(backend);
        let folder = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        let root = format!("{}/migrations/{folder}", env!("CARGO_MANIFEST_DIR"));
        let mut earlier: Vec<String> = std::fs::read_dir(&root).unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.as_str() < "2026-12-07")
            .collect();
        earlier.sort();
        db.execute("CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, \
                    run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)");
        for name in &earlier {
            db.execute(&std::fs::read_to_string(format!("{root}/{name}/up.sql")).unwrap());
            let version: String = name.split('_').next().unwrap().chars().filter(char::is_ascii_digit).collect();
            db.execute(&format!("INSERT INTO __diesel_schema_migrations (version) VALUES ('{version}')"));
        }
        db.execute(
            "INSERT INTO deliveries (source, kind, dedup_key, received_at, last_received_at, method, query, outcome) VALUES
                 ('actions', 'action_lifecycle', 'k1', '2026-11-05 10:00:00', '2026-11-05 10:00:00', 'GET', 'q', 'applied'),
                 ('clearing', 'action_clearing', 'k2', '2026-11-20 10:00:00', '2026-11-20 10:00:00', 'GET', 'q', 'applied');
             INSERT INTO actions (action_id, source, status, payout, amount, payout_currency, flags, first_seen_at, last_seen_at, cleared_date) VALUES
                 ('U1', 'actions', 'pending', 200000, 0, 'USD', '', '2026-11-05 10:00:00', '2026-11-05 10:00:00', '2027-01-01 00:00:00'),
                 ('U2', 'actions', 'pending', 50000, 0, 'USD', '', '2026-11-05 10:00:00', '2026-11-05 10:00:00', '2027-01-01 00:00:00');
             INSERT INTO action_events (delivery_id, action_id, status, payout, delta_payout, received_at)
                 SELECT id, 'U1', 'pending', 200000, 200000, '2026-11-05 10:00:00' FROM deliveries WHERE dedup_key = 'k1';
             INSERT INTO ledger_entries (action_id, delivery_id, kind, payout_delta, amount_delta, recorded_at)
                 SELECT 'U1', id, 'tracked', 200000, 0, '2026-11-05 10:00:00' FROM deliveries WHERE dedup_key = 'k1';
             INSERT INTO clearings (delivery_id, action_id, cleared_date, ledger_date, received_at, matched)
                 SELECT id, 'U1', '2027-01-01 00:00:00', NULL, '2026-11-20 10:00:00', 'cleared' FROM deliveries WHERE dedup_key = 'k2';",
        );
        // U2 had only a scheduled date: the rows below give it its event and entry.
        db.execute(
            "INSERT INTO action_events (delivery_id, action_id, status, payout, delta_payout, received_at)
                 SELECT id, 'U2', 'pending', 50000, 50000, '2026-11-05 10:00:00' FROM deliveries WHERE dedup_key = 'k2';
             INSERT INTO ledger_entries (action_id, delivery_id, kind, payout_delta, amount_delta, recorded_at)
                 SELECT 'U2', id, 'tracked', 50000, 0, '2026-11-05 10:00:00' FROM deliveries WHERE dedup_key = 'k2';",
        );
        let app = spawn_on_with_clock(db, &base_config(), Clock::fixed(at(12, 1))).await;
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
        let cleared = app.action("U1").await.unwrap();
        assert_eq!((cleared["shown_status"].as_str(), cleared["cleared_at"].as_str()), (Some("cleared"), Some("2026-11-20T10:00:00Z")));
        assert_eq!(cleared["clearance"]["payout"], "20.00");
        let scheduled = app.action("U2").await.unwrap();
        assert_eq!((scheduled["shown_status"].as_str(), scheduled["cleared_date"].as_str()), (Some("pending"), Some("2027-01-01T00:00:00Z")));
        let november = month_row(&app, 2026, "2026-11").await.unwrap();
        assert_eq!((november["tracked"].as_str(), november["cleared"].as_str()), (Some("25.00"), Some("20.00")));
        let summary = app.json("/api/summary").await.unwrap();
        assert_eq!(totals(&summary, "USD")["cleared"], json!({"actions": 1, "payout": "20.00"}));
        assert_eq!(totals(&summary, "USD")["pending"], json!({"actions": 1, "payout": "5.00"}));
    }
}
