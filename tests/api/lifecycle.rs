//! The ledger over HTTP: tracked, modified, reversed, in any order, with any repeats.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::helpers::*;
use crate::on_both_backends;

fn event(action_id: &str, status: &str, payout: &str, delta: &str) -> String {
    format!(
        "ActionId={action_id}&Status={status}&Payout={payout}&DeltaPayout={delta}&Currency=USD&Oid=ORD-{action_id}"
    )
}

on_both_backends! {
    async fn tracked_modified_reversed_in_order_ends_reversed_at_zero_with_three_entries(backend: Backend) {
        let app = spawn_app(backend).await;
        for (status, payout, delta) in [("PENDING", "15.50", "15.50"), ("MODIFIED", "10.50", "-5.00"), ("REVERSED", "0", "-10.50")] {
            let answer = app.get_postback("actions", &event("L1", status, payout, delta)).await;
            assert_eq!(answer.outcome.as_deref(), Some("applied"), "{status}");
        }
        let view = app.action("L1").await.unwrap();
        assert_eq!(view["status"], "reversed");
        assert_eq!(view["payout"], "0.00");
        let entries: Vec<(String, String)> = view["entries"].as_array().unwrap().iter()
            .map(|entry| (entry["kind"].as_str().unwrap().to_owned(), entry["payout_delta"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(entries, [("tracked".into(), "15.50".into()), ("modified".into(), "-5.00".into()), ("reversed".into(), "-10.50".into())]);
        assert!(view["entries"][0]["delivery_id"].as_i64().unwrap() > 0);
    }
}

on_both_backends! {
    async fn the_same_history_in_reverse_order_reaches_the_same_ledger(backend: Backend) {
        let app = spawn_app(backend).await;
        let outcomes = [
            app.get_postback("actions", &event("L2", "REVERSED", "0", "-10.50")).await,
            app.get_postback("actions", &event("L2", "MODIFIED", "10.50", "-5.00")).await,
            app.get_postback("actions", &event("L2", "PENDING", "15.50", "15.50")).await,
        ];
        let outcomes: Vec<_> = outcomes.iter().map(|answer| answer.outcome.clone().unwrap()).collect();
        assert_eq!(outcomes, ["flagged", "stale", "stale"], "the reversal is seen first; the rest change nothing");
        let view = app.action("L2").await.unwrap();
        assert_eq!(view["status"], "reversed");
        assert_eq!(view["payout"], "0.00");
        assert_eq!(view["flags"], serde_json::json!([]), "the history is complete now");
        let deltas: Vec<&str> = view["entries"].as_array().unwrap().iter().map(|entry| entry["payout_delta"].as_str().unwrap()).collect();
        assert_eq!(deltas, ["10.50", "-10.50"], "the reversed amount is visible in and out");
    }
}

on_both_backends! {
    async fn an_exact_repeat_is_a_duplicate_counted_on_the_original(backend: Backend) {
        let app = spawn_app(backend).await;
        let first = app.get_postback("actions", &event("D1", "PENDING", "8.00", "8.00")).await;
        let again = app.get_postback("actions", &event("D1", "PENDING", "8.00", "8.00")).await;
        // The same values as JSON are the same canonical payload.
        let body = r#"{"ActionId":"D1","Status":"PENDING","Payout":8.00,"DeltaPayout":8.00,"Currency":"USD","Oid":"ORD-D1"}"#;
        let as_json = app.post_postback("actions", Some("application/json"), body).await;
        assert_eq!(first.outcome.as_deref(), Some("applied"));
        for repeat in [&again, &as_json] {
            assert_eq!(repeat.status, 200);
            assert_eq!(repeat.body, "OK");
            assert_eq!(repeat.outcome.as_deref(), Some("duplicate"));
            assert_eq!(repeat.delivery_id, first.delivery_id, "counted on the original");
        }
        let view = app.action("D1").await.unwrap();
        assert_eq!(view["entries"].as_array().unwrap().len(), 1);
        let delivery = {
            let db = postback_ledger::storage::Database::connect(&app.db.url).unwrap();
            postback_ledger::storage::deliveries::find(&mut db.conn().unwrap(), first.delivery_id.unwrap()).unwrap().unwrap()
        };
        assert_eq!(delivery.times_received, 3);
        assert!(delivery.last_received_at >= delivery.received_at);
    }
}

on_both_backends! {
    async fn a_later_event_never_blanks_what_an_earlier_one_gave(backend: Backend) {
        let app = spawn_app(backend).await;
        app.get_postback("actions", "ActionId=M1&Payout=5&Oid=ORD-9&SharedId=social").await;
        app.get_postback("actions", "ActionId=M1&Payout=6&Oid=&SharedId={SharedId}").await;
        let view = app.action("M1").await.unwrap();
        assert_eq!(view["payout"], "6.00", "without deltas the last arrival decides");
        assert_eq!(view["order_id"], "ORD-9");
        assert_eq!(view["shared_id"], "social");
    }
}

on_both_backends! {
    async fn random_histories_in_any_order_with_repeats_converge_and_check_passes(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut expected = Vec::new();
        for history_number in 0..12 {
            let id = format!("P{history_number}");
            // Payouts in cents: tracked, modifications among few values (repeats, zero), maybe reversed.
            let mut payout: i64 = rng.random_range(100..5000);
            let mut events = vec![("PENDING", payout, payout)];
            for _ in 0..rng.random_range(0..5) {
                let new = rng.random_range(0..7) * 100;
                let candidate = ("MODIFIED", new, new - payout);
                if new != payout && !events.contains(&candidate) {
                    events.push(candidate);
                    payout = new;
                }
            }
            let reversed = rng.random_bool(0.3);
            if reversed {
                events.push(("REVERSED", 0, -payout));
                payout = 0;
            }
            let mut sent = events.clone();
            for _ in 0..rng.random_range(0..3) {
                sent.push(events[rng.random_range(0..events.len())]);
            }
            sent.shuffle(&mut rng);
            for (status, value, delta) in sent {
                let cents = |units: i64| format!("{}{}.{:02}", if units < 0 { "-" } else { "" }, units.abs() / 100, units.abs() % 100);
                let answer = app.get_postback("actions", &event(&id, status, &cents(value), &cents(delta))).await;
                assert_eq!(answer.status, 200);
            }
            expected.push((id, payout, if reversed { "reversed" } else { "pending" }));
        }
        for (id, payout, status) in expected {
            let view = app.action(&id).await.unwrap();
            let want = postback_ledger::domain::money::Money::from_minor_units(payout * 100).to_string();
            assert_eq!(view["payout"], want.as_str(), "{id}");
            assert_eq!(view["status"], status, "{id}");
            assert_eq!(view["flags"], serde_json::json!([]), "{id}");
        }
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    }
}

on_both_backends! {
    async fn the_actions_api_pages_by_cursor_and_filters_by_status(backend: Backend) {
        let app = spawn_app(backend).await;
        for number in 0..5 {
            app.get_postback("actions", &event(&format!("A{number}"), "PENDING", "1.00", "1.00")).await;
        }
        app.get_postback("actions", &event("A9", "REVERSED", "0", "-1.00")).await;
        let first = app.actions("status=pending&limit=3&sort=action_id").await;
        assert_eq!(first["actions"].as_array().unwrap().len(), 3);
        let cursor = first["next_cursor"].as_str().unwrap().to_owned();
        let second = app.actions(&format!("status=pending&limit=3&sort=action_id&cursor={cursor}")).await;
        assert_eq!(second["actions"].as_array().unwrap().len(), 2);
        assert!(second["next_cursor"].is_null());
        let reversed = app.actions("status=reversed").await;
        assert_eq!(reversed["actions"][0]["action_id"], "A9");
        let (status, _) = app.get("/api/actions?status=paid").await;
        assert_eq!(status, 400);
    }
}
