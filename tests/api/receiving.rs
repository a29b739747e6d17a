//! Receiving: every format impact.com sends, and every kind of bad input, with nothing lost.

use serde_json::Value;

use crate::helpers::*;

fn seed_day() -> postback_ledger::domain::clock::Clock {
    postback_ledger::domain::clock::Clock::fixed("2026-04-08T10:00:00Z".parse().unwrap())
}
use crate::on_both_backends;

const JSON: &str = include_str!("../fixtures/action_modified.json");
const FORM: &str = include_str!("../fixtures/action_modified.form");
const XML: &str = include_str!("../fixtures/action_modified.xml");

/// The state a view shows, without the times that differ between runs.
fn state(view: &Value) -> Value {
    let mut view = view.clone();
    let object = view.as_object_mut().unwrap();
    for key in ["first_seen_at", "last_seen_at"] {
        object.remove(key);
    }
    for entry in object["entries"].as_array_mut().unwrap() {
        entry.as_object_mut().unwrap().remove("recorded_at");
    }
    view
}

on_both_backends! {
    async fn the_seed_example_as_get_json_form_and_xml_reconciles_to_one_state(backend: Backend) {
        let mut states = Vec::new();
        for format in ["get", "json", "form", "xml"] {
            // Received the day of the example, before its LockingDate (2026-05-08): a
            // modification received after it would also be flagged changed_after_locking.
            let app = spawn_app_with_clock(backend, seed_day()).await;
            let answer = match format {
                "get" => app.get_postback("actions", FORM.trim()).await,
                "json" => app.post_postback("actions", Some("application/json"), JSON).await,
                "form" => app.post_postback("actions", Some("application/x-www-form-urlencoded"), FORM.trim()).await,
                _ => app.post_postback("actions", Some("application/xml"), XML).await,
            };
            assert_eq!(answer.status, 200, "{format}: {answer:?}");
            assert_eq!(answer.body, "OK");
            // A modification seen before its tracking event: applied and flagged for the gap.
            assert_eq!(answer.outcome.as_deref(), Some("flagged"), "{format}");
            let view = app.action("ACT-778899").await.expect("the action exists");
            assert_eq!(view["payout"], "10.50", "{format}");
            assert_eq!(view["amount"], "100.00", "{format}");
            assert_eq!(view["status"], "pending", "{format}");
            assert_eq!(view["status_raw"], "MODIFIED", "{format}");
            assert_eq!(view["payout_currency"], "USD", "{format}");
            assert_eq!(view["campaign_id"], "9876", "{format}");
            assert_eq!(view["order_id"], "ORD-554433", "{format}");
            assert_eq!(view["click_id"], "CLK9988776655", "{format}");
            assert_eq!(view["event_date"], "2026-04-08T09:00:00Z", "{format}");
            assert_eq!(view["locking_date"], "2026-05-08T00:00:00Z", "{format}");
            assert_eq!(view["items"][0]["sku"], "SKU-1", "{format}");
            assert_eq!(view["items"][0]["price"], "10.00", "{format}");
            assert_eq!(view["flags"], serde_json::json!(["gap"]), "{format}");
            assert_eq!(view["entries"][0]["payout_delta"], "10.50", "{format}");
            states.push((format, state(&view)));
        }
        for (format, other) in &states[1..] {
            let mut other = other.clone();
            let mut first = states[0].1.clone();
            // The raw extras differ by format only in how `null` travelled (JSON null, form "").
            other.as_object_mut().unwrap().remove("extra");
            first.as_object_mut().unwrap().remove("extra");
            for entry in other["entries"].as_array_mut().unwrap().iter_mut().chain(first["entries"].as_array_mut().unwrap()) {
                entry.as_object_mut().unwrap().remove("delivery_id");
            }
            assert_eq!(first, other, "{format} differs from get");
        }
    }
}

on_both_backends! {
    async fn a_post_with_an_empty_body_reads_the_query_and_the_body_wins_over_the_query(backend: Backend) {
        let app = spawn_app(backend).await;
        let url = format!("{}/postbacks/actions?secure={SECRET}&ActionId=Q1&Payout=3.00", app.address);
        let answer = app.post_postback_to(&url, None, "").await;
        assert_eq!(answer.outcome.as_deref(), Some("applied"), "{answer:?}");
        assert_eq!(app.action("Q1").await.unwrap()["payout"], "3.00");
        let url = format!("{}/postbacks/actions?secure={SECRET}&ActionId=Q2&Payout=3.00", app.address);
        app.post_postback_to(&url, Some("application/json"), r#"{"Payout": "4.25"}"#).await;
        assert_eq!(app.action("Q2").await.unwrap()["payout"], "4.25");
    }
}

on_both_backends! {
    async fn template_breakage_is_repaired_with_a_warning_and_the_rest_quarantined(backend: Backend) {
        let app = spawn_app(backend).await;
        let repaired = app
            .post_postback("actions", Some("application/json"), "{\"ActionId\": \"R1\", \"Payout\": , \"Amount\": 20.00,}")
            .await;
        // Issue 22: repaired, but a first event without a payout is not booked as 0.00.
        assert_eq!(repaired.outcome.as_deref(), Some("quarantined"), "{repaired:?}");
        let kept = app.json(&format!("/api/deliveries/{}", repaired.delivery_id.unwrap())).await.unwrap();
        assert_eq!(kept["reason"], "no payout: is `{Payout}` in the template?", "{kept}");
        assert!(app.action("R1").await.is_none());

        let broken = app.post_postback("actions", Some("application/json"), "{\"ActionId\": \"R2\", \"Payout\": 1 2}").await;
        assert_eq!(broken.status, 200, "kept raw: retrying would not help");
        assert_eq!(broken.outcome.as_deref(), Some("quarantined"));
        assert!(app.action("R2").await.is_none());
    }
}

on_both_backends! {
    async fn bad_input_gets_its_outcome_and_nothing_is_lost(backend: Backend) {
        let app = spawn_app(backend).await;
        let cases = [
            ("Payout=1.00&Status=PENDING", "quarantined"),                 // no action id
            ("ActionId={ActionId}&Payout=1.00", "quarantined"),            // unreplaced placeholder
            ("ActionId=B1&Payout=ten", "quarantined"),                     // unparseable money
            ("ActionId=B2&Payout=0.000001", "quarantined"),                // would need rounding
            ("ActionId=B3&Payout=2.00&Status=ON_HOLD", "flagged"),         // unknown status
            ("ActionId=B4&Payout={Payout}&Status=PENDING", "quarantined"), // absent payout (issue 22)
        ];
        let mut ids = Vec::new();
        for (query, expected) in cases {
            let answer = app.get_postback("actions", query).await;
            assert_eq!(answer.status, 200, "{query}");
            assert_eq!(answer.outcome.as_deref(), Some(expected), "{query}");
            ids.push(answer.delivery_id.expect("a delivery id"));
        }
        ids.dedup();
        assert_eq!(ids.len(), cases.len(), "each request is its own stored delivery");
        let flagged = app.action("B3").await.unwrap();
        assert_eq!(flagged["flags"], serde_json::json!(["unknown_status"]));
        assert_eq!(flagged["status_raw"], "ON_HOLD");
        assert!(app.action("B4").await.is_none(), "never booked as 0.00");

        let undecodable = app.post_postback("actions", Some("application/json"), vec![0xff, 0xfe, 0x00]).await;
        assert_eq!(undecodable.outcome.as_deref(), Some("quarantined"));
    }
}

on_both_backends! {
    async fn limits_and_unknown_sources_and_wrong_secrets_are_refused_before_storing(backend: Backend) {
        let app = spawn_app(backend).await;
        let too_big = "x".repeat(300 * 1024);
        let answer = app.post_postback("actions", Some("application/json"), too_big).await;
        assert_eq!(answer.status, 413);
        let answer = app.get_postback("nowhere", "ActionId=X").await;
        assert_eq!(answer.status, 404);
        let url = format!("{}/postbacks/actions?secure=wrong&ActionId=W1&Payout=1", app.address);
        let answer = app.post_postback_to(&url, None, "").await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.body, "ERROR");
        let url = format!("{}/postbacks/actions?ActionId=W1&Payout=1", app.address);
        assert_eq!(app.post_postback_to(&url, None, "").await.status, 401);
        assert!(app.action("W1").await.is_none(), "a refused postback reaches no ledger");
        let output = app.cli(&["check"]);
        assert!(output.status.success());
    }
}

on_both_backends! {
    async fn the_query_secret_is_not_stored_with_the_delivery(backend: Backend) {
        let app = spawn_app(backend).await;
        let answer = app.get_postback("actions", "ActionId=S1&Payout=1.00").await;
        assert_eq!(answer.status, 200);
        let stored = stored_query(&app, answer.delivery_id.unwrap()).await;
        assert!(stored.contains("ActionId=S1"), "{stored}");
        assert!(!stored.contains(SECRET), "{stored}");
        assert!(!stored.contains("secure"), "{stored}");
    }
}

/// The stored (redacted) query of a delivery, read from the database directly.
async fn stored_query(app: &TestApp, delivery_id: i64) -> String {
    use postback_ledger::storage::{Database, deliveries};
    let db = Database::connect(&app.db.url).unwrap();
    let mut conn = db.conn().unwrap();
    deliveries::find(&mut conn, delivery_id)
        .unwrap()
        .unwrap()
        .query
}
