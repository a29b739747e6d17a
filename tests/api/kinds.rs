//! The kinds beside action lifecycle over HTTP: inquiries, clearing, locking, catalog items,
//! jobs and tracking values, each from the help pages' examples, with repeats and bad input.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use postback_ledger::domain::clock::Clock;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

fn action(id: &str, status: &str, payout: &str, delta: &str, more: &str) -> String {
    format!(
        "ActionId={id}&Status={status}&Payout={payout}&DeltaPayout={delta}&Currency=USD&CampaignId=9876{more}"
    )
}

fn outcome(answer: &Answer) -> &str {
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.outcome.as_deref().unwrap_or_default()
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

fn day(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, 12, 0, 0).unwrap()
}

on_both_backends! {
    async fn an_inquiry_created_then_declined_keeps_its_history_and_a_late_repeat_is_stale(backend: Backend) {
        let app = spawn_app(backend).await;
        assert_eq!(outcome(&app.post_fixture("inquiries", "inquiry_created.json").await), "applied");
        let created = app.inquiry("554433").await.unwrap();
        assert_eq!(created["status"], "pending");
        assert_eq!(created["resolution_status"], "PENDING");
        assert_eq!(created["inquiry_type"], "MISSING_ACTION");
        assert_eq!(created["expected_payout"], "25.00");
        assert_eq!(created["comments"][1]["user"], "partner", "comments parsed as JSON");
        assert_eq!(created["extra"]["MediaPartnerName"], "Top Tier Affiliates");
        assert_eq!(created["credit"], serde_json::Value::Null);

        let declined = "Id=554433&ResolutionStatus=DECLINED&RejectReason=No%20click%20found&ResolutionNotes=Checked&ResolutionDate=2026-04-20T00:00:00Z&FinalPayout=0";
        assert_eq!(outcome(&app.get_postback("inquiries", declined).await), "applied");
        assert_eq!(outcome(&app.get_postback("inquiries", declined).await), "duplicate");
        // A "created" postback arriving after the decision does not reopen it: stale.
        let late = "Id=554433&ResolutionStatus=UNRESOLVED&ExpectedPayout=25.00";
        assert_eq!(outcome(&app.get_postback("inquiries", late).await), "stale");
        // New comments are news even when the status is not.
        let commented = "Id=554433&ResolutionStatus=DECLINED&Comments=not%20json";
        assert_eq!(outcome(&app.get_postback("inquiries", commented).await), "applied");

        let view = app.inquiry("554433").await.unwrap();
        assert_eq!(view["status"], "declined");
        assert_eq!(view["reject_reason"], "No click found");
        assert_eq!(view["resolution_notes"], "Checked");
        assert_eq!(view["credit"], serde_json::Value::Null);
        let history: Vec<&str> = view["history"].as_array().unwrap().iter()
            .map(|event| event["status"].as_str().unwrap()).collect();
        assert_eq!(history, ["pending", "declined", "pending", "declined"]);
        assert_eq!(view["history"][3]["comments"], "not json", "kept as text when not JSON");
        assert_eq!(view["comments"], "not json");
        assert_eq!(app.inquiries("status=declined").await["inquiries"].as_array().unwrap().len(), 1);
        assert!(app.inquiries("status=pending").await["inquiries"].as_array().unwrap().is_empty());
        assert_eq!(app.get("/api/inquiries?status=won").await.0, 400);
        assert!(app.inquiry("nope").await.is_none());
    }
}

on_both_backends! {
    async fn an_approved_inquiry_awaits_credit_until_its_action_arrives(backend: Backend) {
        let app = spawn_app(backend).await;
        let created = "Id=INQ-1&ResolutionStatus=UNRESOLVED&InquiryType=UNTRACKED&CampaignId=9876&OrderId=ORD-7&ExpectedPayout=25.00";
        assert_eq!(outcome(&app.get_postback("inquiries", created).await), "applied");
        let approved = "Id=INQ-1&ResolutionStatus=VALID&FinalPayout=25.00&CampaignId=9876&OrderId=ORD-7";
        assert_eq!(outcome(&app.get_postback("inquiries", approved).await), "applied");
        let view = app.inquiry("INQ-1").await.unwrap();
        assert_eq!(view["status"], "approved");
        assert_eq!(view["final_payout"], "25.00");
        assert_eq!(view["credit"], "awaiting_credit");
        assert_eq!(view["linked_action"], serde_json::Value::Null);

        // The action the brand tracks for it, found by (campaign, order id).
        let tracked = action("ACT-7", "PENDING", "25.00", "25.00", "&Oid=ORD-7");
        assert_eq!(outcome(&app.get_postback("actions", &tracked).await), "applied");
        let view = app.inquiry("INQ-1").await.unwrap();
        assert_eq!(view["credit"], "credited");
        assert_eq!(view["linked_action_id"], "ACT-7");
        assert_eq!(view["linked_action"]["payout"], "25.00");
        let listed = app.inquiries("status=approved").await;
        assert_eq!(listed["inquiries"][0]["credit"], "credited");
        assert!(app.cli(&["check"]).status.success());
    }
}

on_both_backends! {
    async fn an_action_tracked_before_its_inquiry_is_approved_is_credited_at_once(backend: Backend) {
        let app = spawn_app(backend).await;
        let tracked = action("ACT-999000", "PENDING", "25.00", "25.00", "&Oid=ORD-12345");
        assert_eq!(outcome(&app.get_postback("actions", &tracked).await), "applied");
        // The approval arrives before the "created" postback: the decision still wins (the
        // late one only adds its comments).
        let approved = "Id=554433&ActionId=ACT-999000&ResolutionStatus=VALID&FinalPayout=25.00";
        assert_eq!(outcome(&app.get_postback("inquiries", approved).await), "applied");
        assert_eq!(outcome(&app.post_fixture("inquiries", "inquiry_created.json").await), "applied");
        let view = app.inquiry("554433").await.unwrap();
        assert_eq!(view["status"], "approved");
        assert_eq!(view["final_payout"], "25.00");
        assert_eq!(view["credit"], "credited");
        assert_eq!(view["linked_action_id"], "ACT-999000");
        assert_eq!(view["history"].as_array().unwrap().len(), 2);
        assert_eq!(view["comments"][0]["user"], "support_agent");
    }
}

on_both_backends! {
    async fn clearing_dates_known_actions_and_flags_reversed_and_never_tracked_ones(backend: Backend) {
        let app = spawn_app(backend).await;
        app.get_postback("actions", &action("ACT-101", "PENDING", "12.00", "12.00", "&Oid=ORD-9921")).await;
        app.get_postback("actions", &action("ACT-102", "PENDING", "8.00", "8.00", "&Oid=ORD-9922")).await;
        app.get_postback("actions", &action("ACT-102", "REVERSED", "0", "-8.00", "&Oid=ORD-9922")).await;
        let answer = app.post_fixture("clearing", "clearing.json").await;
        assert_eq!(outcome(&answer), "flagged", "ACT-102 was reversed");
        assert_eq!(outcome(&app.post_fixture("clearing", "clearing.json").await), "duplicate");

        let known = app.action("ACT-101").await.unwrap();
        assert_eq!(known["cleared_date"], "2026-04-15T12:00:00Z");
        assert_eq!(known["ledger_date"], "2026-04-08T09:54:43Z");
        assert_eq!(known["flags"], json!([]));
        assert_eq!(known["payout"], "12.00");
        assert_eq!(known["clearings"][0]["matched"], "cleared");
        assert_eq!(known["clearings"][0]["order_id"], "ORD-9921");
        let reversed = app.action("ACT-102").await.unwrap();
        assert_eq!(reversed["status"], "reversed");
        assert_eq!(reversed["flags"], json!(["cleared_after_reversal"]));
        assert_eq!(reversed["clearings"][0]["matched"], "reversed");

        // An id the ledger never saw: a placeholder with no money, flagged for finance.
        let unknown = "ActionIds=ACT-NEW&OrderIds=ORD-NEW&CampaignId=9876&ClearedDate=2026-04-15T12:00:00Z&LedgerDate=2026-04-09";
        assert_eq!(outcome(&app.get_postback("clearing", unknown).await), "flagged");
        let placeholder = app.action("ACT-NEW").await.unwrap();
        assert_eq!(placeholder["flags"], json!(["cleared_never_tracked"]));
        assert_eq!(placeholder["payout"], "0.00");
        assert_eq!(placeholder["entries"], json!([]));
        assert_eq!(placeholder["order_id"], "ORD-NEW");
        assert_eq!(placeholder["ledger_date"], "2026-04-09T00:00:00Z");
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "a placeholder passes check: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));

        // Its lifecycle event arrives late: it reconciles as a first event and the flag clears.
        let late = action("ACT-NEW", "APPROVED", "30.00", "30.00", "&Oid=ORD-NEW");
        assert_eq!(outcome(&app.get_postback("actions", &late).await), "applied");
        let tracked = app.action("ACT-NEW").await.unwrap();
        assert_eq!(tracked["flags"], json!([]));
        assert_eq!(tracked["payout"], "30.00");
        assert_eq!(tracked["source"], "actions");
        assert_eq!(tracked["cleared_date"], "2026-04-15T12:00:00Z", "the clearing's dates stay");
        assert_eq!(tracked["entries"].as_array().unwrap().len(), 1);
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));

        // By order id only: a match is cleared, no match is recorded unmatched and flagged.
        let by_order = "OrderIds=ORD-9921&CampaignId=9876&ClearedDate=2026-04-16T00:00:00Z";
        assert_eq!(outcome(&app.get_postback("clearing", by_order).await), "applied");
        assert_eq!(app.action("ACT-101").await.unwrap()["cleared_date"], "2026-04-16T00:00:00Z");
        assert_eq!(outcome(&app.get_postback("clearing", "OrderIds=ORD-GONE").await), "flagged");
    }
}

on_both_backends! {
    async fn locking_is_derived_at_the_injected_clock_and_a_later_change_is_flagged(backend: Backend) {
        let (clock, seconds) = movable_clock(day(5, 1));
        let app = spawn_app_with_clock(backend, clock).await;
        let locking = "&LockingDate=2026-05-08T00:00:00Z";
        assert_eq!(outcome(&app.get_postback("actions", &action("K1", "PENDING", "15.00", "15.00", locking)).await), "applied");
        assert_eq!(outcome(&app.get_postback("actions", &action("K2", "PENDING", "9.00", "9.00", locking)).await), "applied");
        let before = app.action("K1").await.unwrap();
        assert_eq!((before["status"].as_str(), before["shown_status"].as_str(), before["locked"].as_bool()),
            (Some("pending"), Some("pending"), Some(false)));

        seconds.store(day(5, 9).timestamp(), Ordering::SeqCst);
        let locked = app.action("K1").await.unwrap();
        assert_eq!(locked["status"], "pending", "no ledger entry or status is invented");
        assert_eq!(locked["shown_status"], "approved");
        assert_eq!(locked["locked"], true);
        assert_eq!(locked["entries"].as_array().unwrap().len(), 1);

        // Changes after locking are applied, and flagged.
        let modified = action("K1", "MODIFIED", "10.00", "-5.00", locking);
        assert_eq!(outcome(&app.get_postback("actions", &modified).await), "flagged");
        let view = app.action("K1").await.unwrap();
        assert_eq!(view["payout"], "10.00");
        assert_eq!(view["flags"], json!(["changed_after_locking"]));
        assert_eq!(view["entries"].as_array().unwrap().len(), 2);
        let reversal = action("K2", "REVERSED", "0", "-9.00", locking);
        assert_eq!(outcome(&app.get_postback("actions", &reversal).await), "flagged");
        let view = app.action("K2").await.unwrap();
        assert_eq!(view["status"], "reversed");
        assert_eq!(view["shown_status"], "reversed", "a reversed action is never shown locked");
        assert_eq!(view["locked"], false);
        assert_eq!(view["flags"], json!(["changed_after_locking"]));
        assert!(app.cli(&["check"]).status.success());
    }
}

on_both_backends! {
    async fn catalog_items_jobs_and_tracking_values_are_stored_from_the_examples(backend: Backend) {
        let at = Utc.with_ymd_and_hms(2026, 4, 8, 10, 11, 30).unwrap();
        let app = spawn_app_with_clock(backend, Clock::fixed(at)).await;

        assert_eq!(outcome(&app.post_fixture("products", "product_data_change.json").await), "applied");
        let items = app.json("/api/catalog-items?catalog_id=4455").await.unwrap();
        let item = &items["items"][0];
        assert_eq!(item["item_id"], "SKU-1");
        assert_eq!(item["price"], "89.99");
        assert_eq!(item["stock"], "InStock");
        assert_eq!(item["change_type"], "PRICE_CHANGE");
        assert_eq!(item["extra"]["OriginalPrice"], "119.99");
        let restock = "CatalogId=4455&CatalogItemId=SKU-1&StockAvailability=OutOfStock&ChangeType=STOCK_CHANGE";
        assert_eq!(outcome(&app.get_postback("products", restock).await), "applied");
        let item = &app.json("/api/catalog-items?catalog_id=4455&item_id=SKU-1").await.unwrap()["items"][0];
        assert_eq!(item["stock"], "OutOfStock");
        assert_eq!(item["price"], "89.99", "a change never blanks what it does not mention");
        assert_eq!(item["changed_fields"], json!(["stock"]));

        assert_eq!(outcome(&app.post_fixture("jobs", "completed_job.json").await), "applied");
        let job = app.json("/api/jobs/10293847").await.unwrap();
        assert_eq!(job["job_type"], "REPORT_EXPORT");
        assert_eq!(job["records_processed"], "5240");
        assert_eq!(job["end_date"], "2026-04-08T10:11:02Z");
        let urls = job["result_urls"].as_array().unwrap();
        assert_eq!(urls.len(), 4);
        assert_eq!(urls[0]["minutes"], 15, "sorted by key: Exp15, Exp30, Exp5, Exp60");
        let expiry: Vec<(i64, &str)> = urls.iter()
            .map(|url| (url["minutes"].as_i64().unwrap(), url["expires_at"].as_str().unwrap())).collect();
        assert!(expiry.contains(&(5, "2026-04-08T10:16:30Z")), "{expiry:?}");
        assert!(expiry.contains(&(60, "2026-04-08T11:11:30Z")), "{expiry:?}");
        assert!(app.json("/api/jobs/nope").await.is_none());

        assert_eq!(outcome(&app.post_fixture("tracking-values", "tracking_value_request.json").await), "applied");
        let found = app.json("/api/tracking-values?action_id=ACT-778899").await.unwrap();
        let request = &found["tracking_values"][0];
        assert_eq!(request["amount"], "150.00");
        assert_eq!(request["order_id"], "ORD-554433");
        assert_eq!(request["click_id"], "CLK9988776655");
        assert_eq!(request["items"][0]["sku"], "SKU-1");
        assert_eq!(app.get("/api/tracking-values").await.0, 400);
    }
}

on_both_backends! {
    async fn every_kind_counts_repeats_as_duplicates_and_quarantines_bad_input(backend: Backend) {
        let app = spawn_app(backend).await;
        for (source, fixture) in [
            ("inquiries", "inquiry_created.json"),
            ("clearing", "clearing.json"),
            ("products", "product_data_change.json"),
            ("jobs", "completed_job.json"),
            ("tracking-values", "tracking_value_request.json"),
        ] {
            let first = app.post_fixture(source, fixture).await;
            assert!(matches!(outcome(&first), "applied" | "flagged"), "{source}: {first:?}");
            let again = app.post_fixture(source, fixture).await;
            assert_eq!(outcome(&again), "duplicate", "{source}");
            assert_eq!(again.delivery_id, first.delivery_id, "{source}");
        }
        // A product change repeating what is stored, in another shape, is stale.
        let same = "CatalogId=4455&CatalogItemId=SKU-1&CurrentPrice=89.99";
        assert_eq!(outcome(&app.get_postback("products", same).await), "stale");

        for (source, query) in [
            ("inquiries", "ResolutionStatus=VALID&FinalPayout=1"),
            ("inquiries", "Id={Id}&ResolutionStatus=VALID"),
            ("inquiries", "Id=9&FinalPayout=lots"),
            ("clearing", "ActionIds=&OrderIds=&ClearedDate=2026-04-15"),
            ("products", "CatalogId=4455&CurrentPrice=1"),
            ("products", "CatalogId=4455&CatalogItemId=X&CurrentPrice=cheap"),
            ("jobs", "JobType=REPORT_EXPORT"),
            ("tracking-values", "Amount=1"),
            ("tracking-values", "ActionId=A&Amount=ten"),
        ] {
            let answer = app.get_postback(source, query).await;
            assert_eq!(outcome(&answer), "quarantined", "{source}?{query}");
            assert_eq!(answer.body, "OK", "kept, so answered with success");
        }
        // The help page's example with its unexpanded items template is kept raw too.
        let template = app.post_fixture("tracking-values", "tracking_value_request_template.json").await;
        assert_eq!(outcome(&template), "quarantined");
        // An unknown resolution word is kept raw and flagged.
        let odd = app.get_postback("inquiries", "Id=ODD&ResolutionStatus=ESCALATED&InquiryType=WRONG_AMOUNT").await;
        assert_eq!(outcome(&odd), "flagged");
        let view = app.inquiry("ODD").await.unwrap();
        assert_eq!(view["resolution_status"], "ESCALATED");
        assert_eq!(view["inquiry_type"], "WRONG_AMOUNT");
        assert_eq!(view["flags"], json!(["unknown_status"]));
        assert!(app.cli(&["check"]).status.success());
    }
}

on_both_backends! {
    async fn reprocess_applies_kinds_quarantined_before_and_a_fixed_inquiry_map(backend: Backend) {
        let app = spawn_app(backend).await;
        // The partner's own key for the inquiry id: quarantined until it is mapped.
        let answer = app.get_postback("inquiries", "InqId=RP-I&ResolutionStatus=WON&FinalPayout=3.00").await;
        assert_eq!(outcome(&answer), "quarantined");
        // A job stored before jobs were handled: the migration quarantines such deliveries.
        let job = app.post_fixture("jobs", "completed_job.json").await;
        app.db.execute(&format!(
            "DELETE FROM jobs; UPDATE deliveries SET outcome = 'quarantined' WHERE id = {}",
            job.delivery_id.unwrap()
        ));
        assert!(app.json("/api/jobs/10293847").await.is_none());
        let config = format!(
            "{}\n[sources.inquiries]\nkind = \"action_inquiry\"\n[sources.inquiries.fields]\ninquiry_id = \"InqId\"\n[sources.inquiries.statuses]\nWON = \"approved\"\n[sources.jobs]\nkind = \"completed_job\"\n",
            base_config()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("postback-ledger.toml");
        std::fs::write(&path, config).unwrap();
        let output = app.cli(&["--config", path.to_str().unwrap(), "reprocess"]);
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{report}");
        assert!(report.contains("2 now stored"), "{report}");
        let view = app.inquiry("RP-I").await.unwrap();
        assert_eq!(view["status"], "approved");
        assert_eq!(view["credit"], "awaiting_credit");
        assert_eq!(app.json("/api/jobs/10293847").await.unwrap()["job_type"], "REPORT_EXPORT");
    }
}
