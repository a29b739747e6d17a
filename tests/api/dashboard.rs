//! The dashboard over HTTP: the overview's sums, the filtered keyset lists and their totals, the
//! detail page and marking flags reviewed, on both backends.

use chrono::{TimeZone, Utc};
use postback_ledger::domain::clock::Clock;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

/// 2026-05-10 12:00 UTC: after some locking dates, before others.
fn now() -> Clock {
    Clock::fixed(Utc.with_ymd_and_hms(2026, 5, 10, 12, 0, 0).unwrap())
}

fn event(id: &str, status: &str, payout: &str, delta: &str, more: &str) -> String {
    format!(
        "ActionId={id}&Status={status}&Payout={payout}&DeltaPayout={delta}&Currency=USD&Oid=ORD-{id}{more}"
    )
}

async fn send(app: &TestApp, query: &str) {
    let answer = app.get_postback("actions", query).await;
    assert_eq!(answer.status, 200, "{query}: {answer:?}");
}

/// One action in each bucket, in USD, plus one in EUR and a test conversion.
async fn one_of_each(app: &TestApp) {
    send(
        app,
        &event(
            "P1",
            "PENDING",
            "10.00",
            "10.00",
            "&LockingDate=2026-06-01T00:00:00Z",
        ),
    )
    .await;
    send(
        app,
        &event(
            "L1",
            "PENDING",
            "20.00",
            "20.00",
            "&LockingDate=2026-05-01T00:00:00Z",
        ),
    )
    .await;
    send(
        app,
        &event(
            "C1",
            "PENDING",
            "5.00",
            "5.00",
            "&LockingDate=2026-05-01T00:00:00Z",
        ),
    )
    .await;
    let cleared = app
        .get_postback("clearing", "ActionIds=C1&ClearedDate=2026-05-05T00:00:00Z")
        .await;
    assert_eq!(cleared.outcome.as_deref(), Some("applied"), "{cleared:?}");
    send(app, &event("R1", "PENDING", "7.50", "7.50", "")).await;
    send(app, &event("R1", "REVERSED", "0", "-7.50", "")).await;
    send(
        app,
        "ActionId=E1&Status=PENDING&Payout=3.00&DeltaPayout=3.00&Currency=EUR",
    )
    .await;
    send(
        app,
        &event(
            "T1",
            "PENDING",
            "100.00",
            "100.00",
            "&SharedId=postback-ledger-test",
        ),
    )
    .await;
}

fn ids(page: &serde_json::Value) -> Vec<String> {
    page["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| action["action_id"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends! {
    async fn the_overview_sums_each_bucket_per_currency_and_leaves_test_conversions_out(backend: Backend) {
        let app = spawn_app_with_clock(backend, now()).await;
        one_of_each(&app).await;
        let summary = app.json("/api/summary").await.unwrap();
        let usd = summary["currencies"].as_array().unwrap().iter()
            .find(|c| c["currency"] == "USD").unwrap().clone();
        assert_eq!(usd["pending"], json!({"actions": 1, "payout": "10.00"}));
        assert_eq!(usd["approved"], json!({"actions": 1, "payout": "20.00"}));
        assert_eq!(usd["cleared"], json!({"actions": 1, "payout": "5.00"}));
        assert_eq!(usd["reversed"], json!({"actions": 1, "payout": "7.50"}), "what the reversal took");
        assert_eq!(usd["reversal_rate"], "25.0%");
        let eur = summary["currencies"].as_array().unwrap().iter()
            .find(|c| c["currency"] == "EUR").unwrap().clone();
        assert_eq!(eur["pending"], json!({"actions": 1, "payout": "3.00"}));
        // The headline: approved and not cleared is the next payout; May's clearing and clawbacks.
        assert_eq!(usd["headline"], json!({"expected_payout": "20.00", "pending": "10.00",
            "month": "2026-05", "cleared_this_month": "5.00", "clawbacks_this_month": "0.00"}));
        // The chart counts event days unless asked for arrival days; these carry no event date.
        assert_eq!(summary["by"], "event");
        assert!(summary["daily"]["USD"].is_null(), "{summary}");
        let summary = app.json("/api/summary?by=arrival").await.unwrap();
        assert_eq!(summary["daily"]["USD"], json!([{"day": "2026-05-10", "tracked": "42.50", "reversed": "7.50"}]));
        assert_eq!(summary["sources"].as_array().unwrap().iter()
            .find(|s| s["source"] == "actions").unwrap()["ago"], "0 s ago");

        let with_tests = app.json("/api/summary?include_tests=true").await.unwrap();
        let usd = with_tests["currencies"].as_array().unwrap().iter()
            .find(|c| c["currency"] == "USD").unwrap().clone();
        assert_eq!(usd["pending"], json!({"actions": 2, "payout": "110.00"}));

        let (status, page) = app.get("/").await;
        assert_eq!(status, 200);
        assert!(page.contains(r#"data-bucket="pending">10.00 USD<"#), "{page}");
        assert!(page.contains(r#"data-bucket="reversed">7.50 USD<"#));
        assert!(app.get("/?by=arrival").await.1.contains("<svg class=\"chart\""));
        assert!(page.contains(r#"data-headline="expected_payout" data-value="20.00">20.00 USD<"#), "{page}");
        assert!(!page.contains("No currency"));
        assert_eq!(app.get("/?by=sale").await.0, 400);
        let (status, page) = app.get("/?include_tests=true&days=90").await;
        assert_eq!(status, 200);
        assert!(page.contains(r#"data-bucket="pending">110.00 USD<"#));
        assert_eq!(app.get("/?days=7").await.0, 400);
    }
}

on_both_backends! {
    async fn each_list_holds_the_actions_its_bucket_names_and_its_totals_match_the_overview(backend: Backend) {
        let app = spawn_app_with_clock(backend, now()).await;
        one_of_each(&app).await;
        for (status, expected, total) in [
            ("pending", vec!["E1", "P1"], vec![("EUR", "3.00"), ("USD", "10.00")]),
            ("approved", vec!["L1"], vec![("USD", "20.00")]),
            ("cleared", vec!["C1"], vec![("USD", "5.00")]),
            ("reversed", vec!["R1"], vec![("USD", "0.00")]),
        ] {
            let page = app.actions(&format!("status={status}&sort=action_id")).await;
            assert_eq!(ids(&page), expected, "{status}");
            for action in page["actions"].as_array().unwrap() {
                assert_eq!(action["shown_status"], status, "the view's bucket is the list's");
            }
            let totals: Vec<(String, String)> = page["totals"].as_array().unwrap().iter()
                .map(|t| (t["currency"].as_str().unwrap().to_owned(), t["payout"].as_str().unwrap().to_owned()))
                .collect();
            let total: Vec<(String, String)> = total.iter().map(|(c, p)| (c.to_string(), p.to_string())).collect();
            assert_eq!(totals, total, "{status}");
        }
        let all = app.actions("status=all&sort=action_id&include_tests=true").await;
        assert_eq!(ids(&all), ["C1", "E1", "L1", "P1", "R1", "T1"]);

        let (status, page) = app.get("/actions?status=reversed").await;
        assert_eq!(status, 200);
        assert!(page.contains(r#"href="/actions/R1""#) && !page.contains(r#"href="/actions/P1""#));
        assert!(page.contains(r#"reversed <span class="whole">7.50 USD</span>"#), "the reversed screen shows what was reversed");
        let (status, page) = app.get("/actions").await;
        assert_eq!(status, 200);
        assert!(page.contains("Pending actions") && page.contains(r#"href="/actions/P1""#));
        assert!(page.contains("10.00 USD") && page.contains("3.00 EUR"));
        assert!(!page.contains(r#"href="/actions/T1""#), "test conversions are hidden");
        let (_, page) = app.get("/actions?include_tests=true").await;
        assert!(page.contains(r#"href="/actions/T1""#));
        let (status, page) = app.get("/actions?status=paid").await;
        assert_eq!(status, 400);
        assert!(page.contains("status must be"));
    }
}

/// Twelve actions: three campaigns, payouts with ties, some without an event date.
async fn twelve(app: &TestApp) {
    for n in 0..12 {
        let campaign = ["Acme", "Globex", "Initech"][n % 3];
        let payout = format!("{}.00", 10 + n % 4);
        let date = if n % 5 == 0 {
            String::new()
        } else {
            format!("&EventDate=2026-04-{:02}T08:00:00Z", 1 + n % 7)
        };
        let locking = if n % 2 == 0 {
            String::new()
        } else {
            format!("&LockingDate=2026-06-{:02}T00:00:00Z", 1 + n % 6)
        };
        send(app, &format!(
            "ActionId=K{n:02}&Status=PENDING&Payout={payout}&DeltaPayout={payout}&Currency={}&CampaignName={campaign}&Oid=O-{n}&SubId1=S-{n}{date}{locking}",
            if n == 11 { "EUR" } else { "USD" }
        )).await;
    }
}

/// Walks every page of `query` at five per page.
async fn walk(app: &TestApp, query: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let page = app
            .actions(&match &cursor {
                None => format!("{query}&limit=5"),
                Some(cursor) => format!("{query}&limit=5&cursor={cursor}"),
            })
            .await;
        assert!(page["actions"].is_array(), "{query}: {page}");
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
    }
    panic!("{query}: more pages than actions");
}

on_both_backends! {
    async fn every_sort_pages_through_each_action_once_with_empty_dates_last(backend: Backend) {
        let app = spawn_app_with_clock(backend, now()).await;
        twelve(&app).await;
        let all = app.actions("status=all&sort=action_id&limit=100").await;
        let views: Vec<serde_json::Value> = all["actions"].as_array().unwrap().clone();
        assert_eq!(views.len(), 12);
        for (sort, field) in [("payout", "payout"), ("event_date", "event_date"), ("locking_date", "locking_date"), ("action_id", "action_id"), ("received", "first_seen_at")] {
            for descending in [false, true] {
                let dir = if descending { "desc" } else { "asc" };
                let seen = walk(&app, &format!("status=all&sort={sort}&dir={dir}")).await;
                // The expected order, computed here: by the field (empty last either way), then id.
                let mut expected: Vec<(Option<String>, String)> = views.iter().map(|view| {
                    let value = view[field].as_str().map(|text| match field {
                        "payout" => format!("{:>12}", text),
                        _ => text.to_owned(),
                    });
                    (value, view["action_id"].as_str().unwrap().to_owned())
                }).collect();
                expected.sort_by(|a, b| match (&a.0, &b.0) {
                    (None, None) => if descending { b.1.cmp(&a.1) } else { a.1.cmp(&b.1) },
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (Some(x), Some(y)) => if descending { (y, &b.1).cmp(&(x, &a.1)) } else { (x, &a.1).cmp(&(y, &b.1)) },
                });
                let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
                assert_eq!(seen, expected, "sort={sort} dir={dir}");
            }
        }
        let (status, body) = app.get("/api/actions?sort=payout&cursor=bm90LWEtY3Vyc29y").await;
        assert_eq!(status, 400, "{body}");
    }
}

on_both_backends! {
    async fn filters_narrow_the_list_and_its_totals(backend: Backend) {
        let app = spawn_app_with_clock(backend, now()).await;
        twelve(&app).await;
        let acme = app.actions("status=all&campaign=Acme&sort=action_id").await;
        assert_eq!(ids(&acme), ["K00", "K03", "K06", "K09"]);
        assert_eq!(acme["totals"], json!([{"currency": "USD", "actions": 4, "payout": "46.00", "amount": "0.00", "reversed": "0.00"}]));
        assert_eq!(ids(&app.actions("status=all&q=O-7").await), ["K07"], "by order id");
        assert_eq!(ids(&app.actions("status=all&q=S-8").await), ["K08"], "by sub id");
        assert_eq!(ids(&app.actions("status=all&q=K04").await), ["K04"], "by action id");
        assert_eq!(ids(&app.actions("status=all&currency=EUR").await), ["K11"]);
        let april = app.actions("status=all&from=2026-04-02&to=2026-04-03&sort=action_id").await;
        assert_eq!(ids(&april), ["K01", "K02", "K08", "K09"], "event dates 04-02 and 04-03, inclusive");
        let locking = app.actions("status=all&date_field=locking&from=2026-06-02&to=2026-06-02&sort=action_id").await;
        assert_eq!(ids(&locking), ["K01", "K07"]);
        let (status, page) = app.get("/actions?status=all&campaign=Globex").await;
        assert_eq!(status, 200);
        assert!(page.contains(r#"href="/actions/K01""#) && !page.contains(r#"href="/actions/K00""#));
        assert!(page.contains(r#"value="Globex""#), "the form keeps the filter");
        assert_eq!(app.get("/api/actions?from=April").await.0, 400);
    }
}

/// The form token and cookie a page handed out.
fn form_token(page: &str) -> String {
    let start = page
        .find(r#"name="csrf" value=""#)
        .expect("a form with a token")
        + r#"name="csrf" value=""#.len();
    page[start..].split('"').next().unwrap().to_owned()
}

on_both_backends! {
    async fn the_detail_page_shows_the_timeline_and_flags_can_be_marked_reviewed(backend: Backend) {
        let app = spawn_app_with_clock(backend, now()).await;
        send(&app, &event("F1", "PENDING", "15.50", "15.50", "&LockingDate=2026-05-01T00:00:00Z")).await;
        send(&app, &event("F1", "MODIFIED", "10.50", "-5.00", "&LockingDate=2026-05-01T00:00:00Z")).await;
        let summary = app.json("/api/summary").await.unwrap();
        assert_eq!(summary["attention"]["flagged_actions"], 1);

        let response = app.client.get(format!("{}/actions/F1", app.address)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let cookie = response.headers().get("set-cookie").expect("a form cookie").to_str().unwrap()
            .split(';').next().unwrap().to_owned();
        let page = response.text().await.unwrap();
        for expected in ["Action F1", "changed_after_locking", "Mark reviewed", ">tracked<", ">modified<", "15.50 USD", "-5.00 USD", "10.50 USD", "ORD-F1", "2026-05-01 00:00:00 +00:00"] {
            assert!(page.contains(expected), "{expected} in {page}");
        }
        let token = form_token(&page);
        let review = format!("{}/actions/F1/review", app.address);
        let refused = app.client.post(&review).header("cookie", &cookie)
            .form(&[("csrf", "forged")]).send().await.unwrap();
        assert_eq!(refused.status(), 403);
        let refused = app.client.post(&review).form(&[("csrf", token.as_str())]).send().await.unwrap();
        assert_eq!(refused.status(), 403, "a token without its cookie is refused");
        assert!(app.action("F1").await.unwrap()["reviewed_at"].is_null());

        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let accepted = client.post(&review).header("cookie", &cookie)
            .form(&[("csrf", token.as_str())]).send().await.unwrap();
        assert_eq!(accepted.status(), 303);
        assert_eq!(app.action("F1").await.unwrap()["reviewed_at"], "2026-05-10T12:00:00Z");
        assert_eq!(app.json("/api/summary").await.unwrap()["attention"]["flagged_actions"], 0);
        let (_, page) = app.get("/actions/F1").await;
        assert!(page.contains("Reviewed 2026-05-10 12:00:00 +00:00") && !page.contains("Mark reviewed"));
        assert_eq!(app.get("/actions/NOPE").await.0, 404);
    }
}

on_both_backends! {
    async fn an_action_locking_today_is_approved_only_once_its_hour_has_passed(backend: Backend) {
        let app = spawn_app_with_clock(backend, now()).await;
        send(&app, &event("M1", "PENDING", "4.00", "4.00", "&LockingDate=2026-05-10T08:00:00Z")).await;
        send(&app, &event("M2", "PENDING", "6.00", "6.00", "&LockingDate=2026-05-10T18:00:00Z")).await;
        send(&app, &event("M3", "PENDING", "1.00", "1.00", "&LockingDate=2026-05-09T23:59:59Z")).await;
        send(&app, &event("M4", "PENDING", "2.00", "2.00", "&LockingDate=2026-05-11T00:00:00Z")).await;
        // The currency arrives after the first entry: the sums follow it.
        send(&app, "ActionId=M5&Status=PENDING&Payout=8.00&DeltaPayout=8.00").await;
        send(&app, "ActionId=M5&Status=PENDING&Payout=8.00&DeltaPayout=0&Currency=USD").await;
        let summary = app.json("/api/summary").await.unwrap();
        let usd = summary["currencies"].as_array().unwrap().iter()
            .find(|c| c["currency"] == "USD").unwrap().clone();
        assert_eq!(usd["approved"], json!({"actions": 2, "payout": "5.00"}), "{summary}");
        assert_eq!(usd["pending"], json!({"actions": 3, "payout": "16.00"}), "{summary}");
        let by_arrival = app.json("/api/summary?by=arrival").await.unwrap();
        assert_eq!(by_arrival["daily"]["USD"][0]["tracked"], "21.00");
        assert_eq!(ids(&app.actions("status=approved&sort=action_id").await), ["M1", "M3"]);
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    }
}
