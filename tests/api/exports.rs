//! The statement (storage sums, page, JSON) and the CSV exports, on both backends.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, TimeZone, Utc};
use postback_ledger::clock::Clock;
use postback_ledger::storage::{Database, statement};
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

/// Tests are marked by sub id 2 here, so one history can hold a test conversion.
fn config() -> String {
    format!("{}\n[testing]\nmarker_field = \"sub_id2\"\nmarker_value = \"qa-run\"\n", base_config())
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
/// S2 tracked 20.00 (EUR, campaign 5555) and cleared in May; T1 a 7.00 test conversion (USD,
/// 9876).
async fn known_history(app: &TestApp) {
    let usd = "&Currency=USD&CampaignId=9876&CampaignName=Spring&Oid=ORD-S1";
    for (status, payout, delta) in [("PENDING", "15.50", "15.50"), ("MODIFIED", "10.50", "-5.00"), ("REVERSED", "0", "-10.50")] {
        let answer = app.get_postback("actions", &event("S1", status, payout, delta, usd)).await;
        assert_eq!(answer.outcome.as_deref(), Some("applied"), "{answer:?}");
    }
    let eur = "&Currency=EUR&CampaignId=5555&CampaignName=Autumn&Oid=ORD-S2";
    let answer = app.get_postback("actions", &event("S2", "PENDING", "20.00", "20.00", eur)).await;
    assert_eq!(answer.outcome.as_deref(), Some("applied"), "{answer:?}");
    let answer = app.get_postback("clearing", "ActionIds=S2&ClearedDate=2026-05-02T10:00:00Z").await;
    assert_eq!(answer.outcome.as_deref(), Some("applied"), "{answer:?}");
    let test = "&Currency=USD&CampaignId=9876&CampaignName=Spring&SubId2=qa-run";
    let answer = app.get_postback("actions", &event("T1", "PENDING", "7.00", "7.00", test)).await;
    assert_eq!(answer.outcome.as_deref(), Some("applied"), "{answer:?}");
}

fn year_2026() -> (chrono::NaiveDateTime, chrono::NaiveDateTime) {
    let day = |year| NaiveDate::from_ymd_opt(year, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    (day(2026), day(2027))
}

on_both_backends! {
    async fn the_statement_sums_book_entries_in_their_month_and_clearings_in_theirs(backend: Backend) {
        let app = april_app(backend).await;
        known_history(&app).await;
        let db = Database::connect(&app.db.url).unwrap();
        let (from, until) = year_2026();
        let rows = statement::monthly(&mut db.conn().unwrap(), false, from, until).unwrap();
        let sums: Vec<(&str, Option<&str>, Option<&str>, Option<&str>, [i64; 4])> = rows.iter()
            .map(|row| (row.month.as_str(), row.campaign_id.as_deref(), row.campaign_name.as_deref(), row.currency.as_deref(),
                [row.tracked, row.modified, row.reversed, row.cleared]))
            .collect();
        assert_eq!(sums, [
            ("2026-05", Some("5555"), Some("Autumn"), Some("EUR"), [0, 0, 0, 200_000]),
            ("2026-04", Some("5555"), Some("Autumn"), Some("EUR"), [200_000, 0, 0, 0]),
            ("2026-04", Some("9876"), Some("Spring"), Some("USD"), [155_000, -50_000, -105_000, 0]),
        ]);
        let with_tests = statement::monthly(&mut db.conn().unwrap(), true, from, until).unwrap();
        assert_eq!(with_tests[2].tracked, 225_000, "the test conversion counts only when asked for");
        let (_, before) = year_2026();
        let next_year = statement::monthly(&mut db.conn().unwrap(), true, before, before + chrono::Duration::days(365)).unwrap();
        assert!(next_year.is_empty(), "{next_year:?}");
    }
}
