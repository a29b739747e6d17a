//! The statement (storage sums, page, JSON) and the CSV exports, on both backends.

use std::collections::{HashMap, HashSet};

use chrono::{TimeZone, Utc};
use postback_ledger::domain::clock::Clock;
use postback_ledger::domain::money::Money;
use postback_ledger::storage::{Database, statement};
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

/// Tests are marked by sub id 2 here, so one history can hold a test conversion.
fn config() -> String {
    format!(
        "{}\n[testing]\nmarker_field = \"sub_id2\"\nmarker_value = \"qa-run\"\n",
        base_config()
    )
}

/// An app whose clock stands on 2026-04-08 09:00 UTC: every ledger entry is recorded in April.
async fn april_app(backend: Backend) -> TestApp {
    let at = Utc.with_ymd_and_hms(2026, 4, 8, 9, 0, 0).unwrap();
    spawn_on_with_clock(TestDatabase::new(backend), &config(), Clock::fixed(at)).await
}

fn event(id: &str, status: &str, payout: &str, delta: &str, more: &str) -> String {
    format!("ActionId={id}&Status={status}&Payout={payout}&DeltaPayout={delta}{more}")
}

/// The known history: S1 tracked 15.50, modified -5.00, reversed -10.50 (USD, campaign 9876);
/// S2 tracked 20.00 (EUR, campaign 5555) and cleared in May (its clearing's LedgerDate: a
/// ClearedDate alone is only when it is scheduled to clear); T1 a 7.00 test conversion (USD,
/// 9876).
async fn known_history(app: &TestApp) {
    let usd = "&Currency=USD&CampaignId=9876&CampaignName=Spring&Oid=ORD-S1";
    for (status, payout, delta) in [
        ("PENDING", "15.50", "15.50"),
        ("MODIFIED", "10.50", "-5.00"),
        ("REVERSED", "0", "-10.50"),
    ] {
        let answer = app
            .get_postback("actions", &event("S1", status, payout, delta, usd))
            .await;
        assert_eq!(answer.outcome.as_deref(), Some("applied"), "{answer:?}");
    }
    let eur = "&Currency=EUR&CampaignId=5555&CampaignName=Autumn&Oid=ORD-S2";
    let answer = app
        .get_postback("actions", &event("S2", "PENDING", "20.00", "20.00", eur))
        .await;
    assert_eq!(answer.outcome.as_deref(), Some("applied"), "{answer:?}");
    let answer = app
        .get_postback(
            "clearing",
            "ActionIds=S2&ClearedDate=2026-05-02T10:00:00Z&LedgerDate=2026-05-02T10:00:00Z",
        )
        .await;
    assert_eq!(answer.outcome.as_deref(), Some("applied"), "{answer:?}");
    let test = "&Currency=USD&CampaignId=9876&CampaignName=Spring&SubId2=qa-run";
    let answer = app
        .get_postback("actions", &event("T1", "PENDING", "7.00", "7.00", test))
        .await;
    assert_eq!(answer.outcome.as_deref(), Some("applied"), "{answer:?}");
}

fn year_2026() -> (&'static str, &'static str) {
    ("2026-01", "2027-01")
}

on_both_backends! {
    async fn the_statement_sums_book_entries_in_their_month_and_clearings_in_theirs(backend: Backend) {
        let app = april_app(backend).await;
        known_history(&app).await;
        let db = Database::connect(&app.db.url).unwrap();
        let (from, until) = year_2026();
        let rows = statement::monthly(&mut db.conn().unwrap(), false, from, until).unwrap();
        let sums: Vec<_> = rows.iter()
            .map(|row| (row.month.as_str(), row.campaign_id.as_deref(), row.campaign_name.as_deref(), row.currency.as_deref(),
                row.sums()))
            .collect();
        assert_eq!(sums, [
            ("2026-05", Some("5555"), Some("Autumn"), Some("EUR"), [0, 0, 0, 0, 200_000]),
            ("2026-04", Some("5555"), Some("Autumn"), Some("EUR"), [200_000, 0, 0, 0, 0]),
            ("2026-04", Some("9876"), Some("Spring"), Some("USD"), [155_000, -50_000, -105_000, 0, 0]),
        ]);
        let with_tests = statement::monthly(&mut db.conn().unwrap(), true, from, until).unwrap();
        assert_eq!(with_tests[2].sums()[0], 225_000, "the test conversion counts only when asked for");
        let next_year = statement::monthly(&mut db.conn().unwrap(), true, "2027-01", "2028-01").unwrap();
        assert!(next_year.is_empty(), "{next_year:?}");
    }
}

/// A CSV download: status, headers and the records as maps from the header's names.
struct Download {
    status: u16,
    content_type: String,
    disposition: String,
    header: Vec<String>,
    records: Vec<HashMap<String, String>>,
}

async fn download(app: &TestApp, path: &str) -> Download {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    let header_text = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (content_type, disposition) = (
        header_text("content-type"),
        header_text("content-disposition"),
    );
    let body = response.bytes().await.expect("the whole body");
    let mut reader = csv::Reader::from_reader(body.as_ref());
    let header: Vec<String> = if status == 200 {
        reader
            .headers()
            .expect("a header row")
            .iter()
            .map(str::to_owned)
            .collect()
    } else {
        Vec::new()
    };
    let records = if status == 200 {
        reader
            .records()
            .map(|record| {
                header
                    .iter()
                    .cloned()
                    .zip(
                        record
                            .expect("a well-formed record")
                            .iter()
                            .map(str::to_owned),
                    )
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    Download {
        status,
        content_type,
        disposition,
        header,
        records,
    }
}

fn column<'a>(records: &'a [HashMap<String, String>], name: &str) -> Vec<&'a str> {
    records.iter().map(|record| record[name].as_str()).collect()
}

on_both_backends! {
    async fn the_statement_nets_a_reversed_history_to_zero_and_counts_a_clearing_in_its_month(backend: Backend) {
        let app = april_app(backend).await;
        known_history(&app).await;
        let statement = app.json("/api/statement?year=2026").await.unwrap();
        assert_eq!(statement["year"], 2026);
        assert_eq!(statement["include_tests"], false);
        let months: Vec<&str> = statement["months"].as_array().unwrap().iter().map(|month| month["month"].as_str().unwrap()).collect();
        assert_eq!(months, ["2026-05", "2026-04"]);
        let april = &statement["months"][1];
        assert_eq!(april["rows"][1], json!({
            "concerns": null, "campaign_id": "9876", "campaign_name": "Spring", "currency": "USD",
            "tracked": "15.50", "modified": "-5.00", "reversed": "-10.50", "clawbacks": "0.00", "net": "0.00", "cleared": "0.00",
            "actions": 1, "entries": 3
        }));
        assert_eq!(april["rows"][0]["tracked"], "20.00");
        assert_eq!(april["rows"][0]["cleared"], "0.00", "S2 cleared in May, not when it was tracked");
        assert_eq!(statement["months"][0]["rows"][0]["cleared"], "20.00");
        assert_eq!(statement["months"][0]["rows"][0]["net"], "0.00");
        assert_eq!(april["subtotals"], json!([
            {"currency": "EUR", "tracked": "20.00", "modified": "0.00", "reversed": "0.00", "clawbacks": "0.00", "net": "20.00", "cleared": "0.00"},
            {"currency": "USD", "tracked": "15.50", "modified": "-5.00", "reversed": "-10.50", "clawbacks": "0.00", "net": "0.00", "cleared": "0.00"},
        ]));
        assert_eq!(statement["totals"], json!([
            {"currency": "EUR", "tracked": "20.00", "modified": "0.00", "reversed": "0.00", "clawbacks": "0.00", "net": "20.00", "cleared": "20.00"},
            {"currency": "USD", "tracked": "15.50", "modified": "-5.00", "reversed": "-10.50", "clawbacks": "0.00", "net": "0.00", "cleared": "0.00"},
        ]));

        // The year defaults to the clock's; the test conversion only when asked for.
        assert_eq!(app.json("/api/statement").await.unwrap(), statement);
        let with_tests = app.json("/api/statement?include_tests=true").await.unwrap();
        assert_eq!(with_tests["totals"][1]["tracked"], "22.50");
        assert_eq!(with_tests["totals"][1]["net"], "7.00");
        assert_eq!(app.json("/api/statement?year=2025").await.unwrap()["months"], json!([]));
        let (status, body) = app.get("/api/statement?year=20x6").await;
        assert_eq!((status, body.contains("year must be")), (400, true), "{body}");

        let (status, page) = app.get("/statement").await;
        assert_eq!(status, 200);
        for shown in ["Statement 2026", "Subtotal 2026-04", "-10.50 USD", "20.00 EUR", "Spring", "href=\"/statement.csv?year=2026\""] {
            assert!(page.contains(shown), "the page shows {shown}");
        }
        assert!(!page.contains("22.50"), "no test conversion on the page by default");
        assert!(app.get("/statement?include_tests=true").await.1.contains("22.50 USD"));
        assert_eq!(app.get("/statement?year=x").await.0, 400);

        let csv = download(&app, "/statement.csv?year=2026").await;
        assert_eq!(csv.status, 200);
        assert_eq!(csv.disposition, "attachment; filename=\"statement-2026.csv\"");
        assert_eq!(csv.header, ["month", "closed", "concerns", "campaign_id", "campaign_name", "currency", "tracked", "modified", "reversed", "clawbacks", "net", "cleared", "actions", "entries", "hash"]);
        assert_eq!(column(&csv.records, "month"), ["2026-05", "2026-04", "2026-04"]);
        assert_eq!(column(&csv.records, "reversed"), ["0.00", "0.00", "-10.50"]);
        assert_eq!(column(&csv.records, "net"), ["0.00", "20.00", "0.00"]);
    }
}

on_both_backends! {
    async fn the_actions_csv_honours_the_filters_with_exact_money_iso_dates_and_neutralised_text(backend: Backend) {
        let app = april_app(backend).await;
        known_history(&app).await;
        // An id and a brand name a spreadsheet would run as formulas.
        let answer = app.get_postback("actions", &event("%3DHYPERLINK(%22http://x%22)", "PENDING", "1234.50", "1234.50", "&Currency=USD&CampaignName=%2Bevil&Oid=@SUM(A1)")).await;
        assert_eq!(answer.outcome.as_deref(), Some("applied"), "{answer:?}");

        let reversed = download(&app, "/actions.csv?status=reversed").await;
        assert_eq!(reversed.status, 200);
        assert_eq!(reversed.content_type, "text/csv; charset=utf-8");
        assert!(reversed.disposition.starts_with("attachment; filename=\"actions-2026-04-08.csv\""), "{}", reversed.disposition);
        assert_eq!(column(&reversed.records, "action_id"), ["S1"]);
        assert_eq!(column(&reversed.records, "payout"), ["0.00"]);

        let all = download(&app, "/actions.csv?sort=action_id").await;
        assert_eq!(column(&all.records, "action_id"), ["'=HYPERLINK(\"http://x\")", "S1", "S2"], "all statuses, tests hidden, the list's order");
        let formula = &all.records[0];
        assert_eq!(formula["campaign_name"], "'+evil");
        assert_eq!(formula["order_id"], "'@SUM(A1)");
        assert_eq!(formula["payout"], "1234.50", "money is exact, ungrouped, never altered");
        assert_eq!(formula["first_received_at"], "2026-04-08T09:00:00Z");
        let cleared = &all.records[2];
        assert_eq!((cleared["status"].as_str(), cleared["cleared_date"].as_str()), ("cleared", "2026-05-02T10:00:00Z"));
        assert_eq!((cleared["payout"].as_str(), cleared["payout_currency"].as_str()), ("20.00", "EUR"));

        let usd_with_tests = download(&app, "/actions.csv?currency=USD&include_tests=true&sort=action_id&dir=desc").await;
        assert_eq!(column(&usd_with_tests.records, "action_id"), ["T1", "S1", "'=HYPERLINK(\"http://x\")"]);
        assert_eq!(column(&usd_with_tests.records, "is_test"), ["true", "false", "false"]);
        let (status, body) = app.get("/actions.csv?status=locked").await;
        assert_eq!((status, body.contains("status must be")), (400, true), "{body}");

        // The ledger: every entry once; per action its deltas sum to its payout.
        let ledger = download(&app, "/ledger.csv?include_tests=true").await;
        assert_eq!(ledger.status, 200);
        assert_eq!(column(&ledger.records, "payout_delta"), ["15.50", "-5.00", "-10.50", "20.00", "7.00", "1234.50"]);
        assert_eq!(column(&ledger.records, "recorded_at")[0], "2026-04-08T09:00:00Z");
        assert_eq!(ledger.records[0]["order_id"], "ORD-S1");
        assert_eq!(ledger.records[0]["campaign_id"], "9876");
        let mut sums: HashMap<String, i64> = HashMap::new();
        for record in &ledger.records {
            let delta: Money = record["payout_delta"].parse().unwrap();
            *sums.entry(record["action_id"].clone()).or_default() += delta.minor_units();
        }
        let actions = download(&app, "/actions.csv?include_tests=true").await;
        assert_eq!(actions.records.len(), sums.len());
        for action in &actions.records {
            let payout: Money = action["payout"].parse().unwrap();
            assert_eq!(sums[&action["action_id"]], payout.minor_units(), "{}", action["action_id"]);
        }
        let without_tests = download(&app, "/ledger.csv").await;
        let ids: HashSet<&str> = column(&without_tests.records, "action_id").into_iter().collect();
        assert!(!ids.contains("T1"), "test conversions only when asked for");
        let later = download(&app, "/ledger.csv?from=2026-04-09").await;
        assert_eq!((later.status, later.records.len(), later.header.len()), (200, 0, 16), "the header alone");
        assert_eq!(download(&app, "/ledger.csv?to=2026-04-08").await.records.len(), 5);
        assert_eq!(app.get("/ledger.csv?from=8.4.2026").await.0, 400);
    }
}

on_both_backends! {
    async fn an_export_larger_than_a_chunk_streams_every_action_exactly_once(backend: Backend) {
        let app = april_app(backend).await;
        const ACTIONS: usize = 2_500;
        // Inserted directly: 2,500 postbacks would take longer than the export under test. Ties
        // in the received time and empty event dates exercise the keyset's tie-breaks.
        let minutes = |column: &str| match app.db.backend() {
            Backend::Sqlite => format!("datetime('2026-04-01 00:00:00', '+' || ({column}) || ' minutes')"),
            Backend::Postgres => format!("TIMESTAMP '2026-04-01 00:00:00' + ({column}) * INTERVAL '1 minute'"),
        };
        app.db.execute(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ACTIONS})
             INSERT INTO actions (action_id, source, status, payout, amount, payout_currency, event_date, first_seen_at, last_seen_at)
             SELECT 'BULK-' || i, 'actions', 'pending', (i % 7) * 10000, 0, 'USD',
                    CASE WHEN i % 3 = 0 THEN NULL ELSE {} END, {}, {}
             FROM n",
            minutes("i % 11"), minutes("i % 5"), minutes("i % 5"),
        ));
        for query in ["", "sort=event_date&dir=asc", "sort=payout"] {
            let csv = download(&app, &format!("/actions.csv?{query}")).await;
            assert_eq!(csv.status, 200);
            let ids = column(&csv.records, "action_id");
            let distinct: HashSet<&str> = ids.iter().copied().collect();
            assert_eq!((ids.len(), distinct.len()), (ACTIONS, ACTIONS), "{query}: every row exactly once");
            assert!(csv.records.iter().all(|record| record["payout"].ends_with(".00")), "{query}");
        }
        let received = download(&app, "/actions.csv").await;
        let times = column(&received.records, "first_received_at");
        assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "newest received first, across chunks");
    }
}

/// PostgreSQL only: it can be made to refuse connections while the app runs.
#[actix_web::test]
async fn an_export_the_database_cannot_start_is_a_503_rather_than_an_empty_file() {
    if !postgres_available() {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    app.db.set_reachable(false);
    for path in ["/actions.csv", "/ledger.csv"] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert!(!body.contains("action_id"), "{path}: no CSV header: {body}");
    }
    app.db.set_reachable(true);
}
