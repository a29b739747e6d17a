//! Issue 25: the running sums behind the overview, `/api/summary` and the lists' unfiltered
//! totals, kept on both backends: equal to the tables' sums after mixed histories written by
//! two instances at once, and `check` names a sum that drifted.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::helpers::*;
use crate::on_both_backends;

/// A history of one action: tracked, modified a few times, maybe reversed; the currency of some
/// arrives only after the first event (its entries then move to the currency's sums), and a
/// modification names a later event time.
fn history(rng: &mut impl Rng, n: usize) -> Vec<String> {
    let id = format!("R{n:03}");
    let currency = ["USD", "EUR", "GBP"][n % 3];
    let brand = 9000 + n % 4;
    let money = |cents: i64| {
        let sign = if cents < 0 { "-" } else { "" };
        format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
    };
    let event = |status: &str, payout: i64, delta: i64, with_currency: bool| {
        let currency = if with_currency {
            format!("&Currency={currency}")
        } else {
            String::new()
        };
        format!(
            "ActionId={id}&Status={status}&Payout={}&DeltaPayout={}&Amount={}&DeltaAmount={}&CampaignId={brand}&LockingDate=2026-0{}-1{}T10:00:00Z&EventDate=2026-08-1{}T09:{:02}:00Z{currency}",
            money(payout),
            money(delta),
            money(payout * 10),
            money(delta * 10),
            1 + n % 9,
            n % 10,
            n % 10,
            // A modification may move the event across a quarter hour of the chart.
            if status == "MODIFIED" { 40 } else { 5 + n % 7 }
        )
    };
    let mut payout = rng.random_range(100..90_000i64);
    let late_currency = n.is_multiple_of(5);
    let mut events = vec![event("PENDING", payout, payout, !late_currency)];
    for _ in 0..rng.random_range(0..3) {
        let new = rng.random_range(1..900i64) * 100;
        if new != payout {
            events.push(event("MODIFIED", new, new - payout, true));
            payout = new;
        }
    }
    if late_currency && events.len() == 1 {
        events.push(event("PENDING", payout, 0, true));
    }
    if rng.random_bool(0.25) {
        events.push(event("REVERSED", 0, -payout, true));
    }
    events
}

on_both_backends! {
    async fn running_sums_equal_the_tables_after_two_instances_wrote_at_once(backend: Backend) {
        let app = spawn_app(backend).await;
        let beside = spawn_beside(&app, &base_config()).await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(25);
        let mut queries: Vec<String> = (0..60).flat_map(|n| history(&mut rng, n)).collect();
        // Repeats, and the events out of order.
        let repeats: Vec<String> = queries.iter().step_by(7).cloned().collect();
        queries.extend(repeats);
        queries.shuffle(&mut rng);
        // Two instances (four writers on PostgreSQL), a few senders each, at once.
        let addresses = [app.address.clone(), beside];
        let sends: Vec<_> = queries.chunks(12).enumerate().map(|(i, chunk)| {
            let address = addresses[i % 2].clone();
            let client = app.client.clone();
            let chunk = chunk.to_vec();
            actix_web::rt::spawn(async move {
                for query in chunk {
                    let url = format!("{address}/postbacks/actions?secure={SECRET}&{query}");
                    // Two instances on one SQLite file take turns: a 503 is retried, as
                    // impact.com would.
                    let mut tries = 0;
                    while client.get(&url).send().await.unwrap().status() != 200 {
                        tries += 1;
                        assert!(tries < 100, "{url} never stored");
                        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                }
            })
        }).collect();
        for send in sends {
            send.await.unwrap();
        }
        // A clearing of some of them, then a month closed.
        let cleared: Vec<String> = (0..60).step_by(4).map(|n| format!("R{n:03}")).collect();
        let clearing = format!("ActionIds={}&LedgerDate=2026-10-20T10:00:00Z", cleared.join(","));
        assert_eq!(app.get_postback("clearing", &clearing).await.status, 200);
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));

        // The summary and the unfiltered lists (read from the sums) against the same sets
        // summed from the actions themselves: a range of ledger dates that holds every entry
        // makes the list read the matching actions.
        let summary = app.json("/api/summary").await.unwrap();
        let scanned = "date_field=ledger&from=2000-01-01&to=2999-12-31";
        for currency in ["USD", "EUR", "GBP"] {
            let row = summary["currencies"].as_array().unwrap().iter()
                .find(|c| c["currency"] == currency).unwrap().clone();
            for bucket in ["pending", "approved", "cleared", "reversed"] {
                let total = |list: serde_json::Value| list["totals"].as_array().unwrap().iter()
                    .find(|t| t["currency"] == currency).cloned();
                let from_sums = total(app.actions(&format!("status={bucket}")).await);
                let by_currency = total(app.actions(&format!("status={bucket}&currency={}", currency.to_lowercase())).await);
                let from_rows = total(app.actions(&format!("status={bucket}&{scanned}")).await);
                assert_eq!(from_sums, from_rows, "{bucket} {currency}");
                assert_eq!(by_currency, from_rows, "{bucket} {currency}, filtered by currency");
                if let Some(total) = from_rows
                    && bucket != "reversed"
                {
                    assert_eq!(row[bucket]["actions"], total["actions"], "{bucket} {currency}: {summary}");
                    assert_eq!(row[bucket]["payout"], total["payout"], "{bucket} {currency}: {summary}");
                }
            }
        }
        // A range of locking days, from the sums, against the same set read row by row: the
        // four brands' lists (a brand filter reads the matching actions) add up to it.
        let days = "date_field=locking&from=2026-03-01&to=2026-06-30";
        let cents = |text: &serde_json::Value| text.as_str().unwrap().replace('.', "").parse::<i64>().unwrap();
        let mut from_rows = std::collections::BTreeMap::new();
        for brand in 9000..9004 {
            for total in app.actions(&format!("status=all&{days}&campaign={brand}")).await["totals"].as_array().unwrap() {
                let sum = from_rows.entry(total["currency"].to_string()).or_insert((0, 0, 0));
                sum.0 += total["actions"].as_i64().unwrap();
                sum.1 += cents(&total["payout"]);
                sum.2 += cents(&total["amount"]);
            }
        }
        let from_sums: std::collections::BTreeMap<_, _> = app.actions(&format!("status=all&{days}")).await["totals"]
            .as_array().unwrap().iter()
            .map(|t| (t["currency"].to_string(), (t["actions"].as_i64().unwrap(), cents(&t["payout"]), cents(&t["amount"]))))
            .collect();
        assert_eq!(from_sums, from_rows);
        assert!(!from_sums.is_empty());
    }
}

on_both_backends! {
    async fn check_names_running_sums_that_drifted_from_the_tables(backend: Backend) {
        let app = spawn_app(backend).await;
        for n in 0..6 {
            for query in history(&mut rand::rngs::StdRng::seed_from_u64(n), n as usize) {
                assert_eq!(app.get_postback("actions", &query).await.status, 200);
            }
        }
        assert!(app.cli(&["check"]).status.success());
        app.db.execute("UPDATE action_totals SET payout = payout + 1 WHERE currency = 'USD'");
        let output = app.cli(&["check"]);
        assert_eq!(output.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("action_totals USD/"), "{stdout}");
        app.db.execute("UPDATE action_totals SET payout = payout - 1 WHERE currency = 'USD'");
        assert!(app.cli(&["check"]).status.success());
        app.db.execute("DELETE FROM entry_totals WHERE kind = 'tracked' AND currency = 'EUR'");
        let output = app.cli(&["check"]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1));
        assert!(stdout.contains("entry_totals") && stdout.contains("/tracked/EUR/") && stdout.contains("is nothing"), "{stdout}");
    }
}

on_both_backends! {
    async fn check_names_month_and_chart_sums_that_drifted(backend: Backend) {
        let app = spawn_app(backend).await;
        for n in 0..6 {
            for query in history(&mut rand::rngs::StdRng::seed_from_u64(n), n as usize) {
                assert_eq!(app.get_postback("actions", &query).await.status, 200);
            }
        }
        let clearing = "ActionIds=R000,R001,R002,R003,R004,R005&LedgerDate=2026-10-20T10:00:00Z";
        assert_eq!(app.get_postback("clearing", clearing).await.status, 200);
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));

        // An action counted twice in its statement row, a cleared sum off by a cent.
        app.db.execute("UPDATE month_totals SET actions = actions + 1 WHERE currency = 'USD' AND actions > 0");
        let output = app.cli(&["check"]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1));
        assert!(stdout.contains("month_totals ") && stdout.contains("/9000/USD/") && stdout.contains("2 actions"), "{stdout}");
        app.db.execute("UPDATE month_totals SET actions = actions - 1 WHERE currency = 'USD' AND actions > 1");
        assert!(app.cli(&["check"]).status.success());
        app.db.execute("UPDATE month_totals SET cleared = cleared + 100 WHERE cleared <> 0");
        let stdout = String::from_utf8_lossy(&app.cli(&["check"]).stdout).to_string();
        assert!(stdout.contains("month_totals ") && stdout.contains("cleared "), "{stdout}");
        app.db.execute("UPDATE month_totals SET cleared = cleared - 100 WHERE cleared <> 0");
        assert!(app.cli(&["check"]).status.success());

        // A chart quarter that lost its tracked payout.
        app.db.execute("UPDATE chart_totals SET tracked = 0 WHERE date_by = 'recorded' AND currency = 'GBP'");
        let output = app.cli(&["check"]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1));
        assert!(stdout.contains("chart_totals recorded/") && stdout.contains("/GBP/"), "{stdout}");
    }
}
