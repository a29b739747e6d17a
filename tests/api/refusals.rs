//! Refused requests are counted in memory and written in batches, off the postbacks' write path:
//! a flood of them is a handful of rows, every one counted, and real postbacks go on.

use std::sync::Arc;

use crate::helpers::*;
use crate::on_both_backends;

const FLOOD: usize = 300;

on_both_backends! {
    async fn a_flood_of_refusals_is_counted_in_a_few_rows_and_postbacks_go_on(backend: Backend) {
        let app = Arc::new(spawn_app(backend).await);
        let mut handles = Vec::new();
        for n in 0..FLOOD {
            let app = app.clone();
            handles.push(tokio::spawn(async move {
                let url = format!("{}/postbacks/actions?secure=guess-{n}&ActionId=F{n}&Payout=1", app.address);
                app.post_postback_to(&url, None, "").await.status
            }));
        }
        // Real postbacks in the middle of it are stored as usual.
        for n in 0..20 {
            let answer = app.get_postback("actions", &format!("ActionId=R{n}&Payout=1.00")).await;
            assert_eq!(answer.outcome.as_deref(), Some("applied"), "{answer:?}");
        }
        for handle in handles {
            assert_eq!(handle.await.unwrap(), 401);
        }
        // Every refusal is counted; alike ones within a second share a row.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let total = loop {
            let total = app.db.scalar("SELECT CAST(COALESCE(SUM(times), 0) AS BIGINT) AS value FROM auth_failures");
            if total >= FLOOD as i64 || std::time::Instant::now() > deadline {
                break total;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(total, FLOOD as i64);
        let rows = app.db.scalar("SELECT COUNT(*) AS value FROM auth_failures");
        assert!(rows <= 20, "{rows} rows for {FLOOD} refusals");
        let failures = refusals_recorded(&app, 1).await;
        assert!(failures.iter().all(|f| f.failed_check == "query_secret_wrong" && f.source == "actions"));
        assert_eq!(app.db.scalar("SELECT COUNT(*) AS value FROM deliveries"), 20);
        // The overview counts refusals, not the rows they share.
        let summary = app.json("/api/summary").await.unwrap();
        assert_eq!(summary["attention"]["auth_failures_24h"], FLOOD as i64, "{summary}");
    }
}
