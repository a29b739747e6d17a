//! Nothing authenticated is lost on either backend: every byte value in every kind of field is
//! stored (PostgreSQL's text refuses NUL: text is stored without it, the raw body keeps it), and
//! a delivery the database refuses in its parsed form is kept raw and quarantined.

use std::sync::Arc;

use crate::helpers::*;
use crate::on_both_backends;

/// A byte as a GET query value spells it.
fn percent(byte: u8) -> String {
    format!("%{byte:02X}")
}

/// A byte as a JSON string escape (the character U+00XX).
fn escaped(byte: u8) -> String {
    format!("\\u{:04x}", byte)
}

/// The requests for one byte: (source, content type, query, body). In each format (GET, JSON
/// escaped, JSON with the raw byte) an action with the byte in every lenient field (ids, status,
/// currency, text, date, items, a key, an extra), an action with it in the money, and an inquiry.
fn requests_for(byte: u8) -> Vec<(&'static str, Option<&'static str>, String, Vec<u8>)> {
    let mut requests = Vec::new();
    let p = percent(byte);
    requests.push((
        "actions",
        None,
        format!(
            "ActionId=B{byte}-get-{p}&Status=PENDING{p}&Currency=US{p}&CampaignName=a{p}b&SubId1={p}&EventDate=2026-04-08{p}&K{p}ey=v&Odd=x{p}y&Payout=1.00"
        ),
        Vec::new(),
    ));
    requests.push((
        "actions",
        None,
        format!("ActionId=B{byte}-get-money&Payout=1.0{p}"),
        Vec::new(),
    ));
    requests.push((
        "inquiries",
        None,
        format!("Id=Q{byte}-get-{p}&ActionId=A{p}&ResolutionStatus=PENDING{p}&FinalPayout=1.00&RejectReason=r{p}"),
        Vec::new(),
    ));
    for (format, spell) in [("esc", escaped(byte).into_bytes()), ("raw", vec![byte])] {
        let json = |template: &str| -> Vec<u8> {
            let mut out = Vec::new();
            for (index, part) in template.split('~').enumerate() {
                if index > 0 {
                    out.extend_from_slice(&spell);
                }
                out.extend_from_slice(part.as_bytes());
            }
            out
        };
        requests.push((
            "actions",
            Some("application/json"),
            String::new(),
            json(&format!(
                r#"{{"ActionId":"B{byte}-{format}-~","Status":"PENDING~","Currency":"US~","CampaignName":"a~b","SubId1":"~","EventDate":"2026-04-08~","K~ey":"v","Odd":"x~y","Payout":"1.00","items":[{{"sku":"S~","item_price":"1.00"}}]}}"#
            )),
        ));
        requests.push((
            "actions",
            Some("application/json"),
            String::new(),
            json(&format!(
                r#"{{"ActionId":"B{byte}-{format}-money","Payout":"1.0~"}}"#
            )),
        ));
        requests.push((
            "inquiries",
            Some("application/json"),
            String::new(),
            json(&format!(
                r#"{{"Id":"Q{byte}-{format}-~","ActionId":"A~","ResolutionStatus":"PENDING~","FinalPayout":"1.00","RejectReason":"r~"}}"#
            )),
        ));
    }
    requests
}

on_both_backends! {
    async fn every_byte_value_in_every_kind_of_field_is_stored(backend: Backend) {
        let app = Arc::new(spawn_app(backend).await);
        let requests: Vec<_> = (0..=255u8).flat_map(requests_for).collect();
        let total = requests.len();
        let mut answers = Vec::with_capacity(total);
        for chunk in requests.chunks(32) {
            let handles: Vec<_> = chunk
                .iter()
                .cloned()
                .map(|(source, content_type, query, body)| {
                    let app = app.clone();
                    tokio::spawn(async move {
                        let url = format!("{}/postbacks/{source}?secure={SECRET}&{query}", app.address);
                        let answer = app.post_postback_to(&url, content_type, body.clone()).await;
                        (query, body, answer)
                    })
                })
                .collect();
            for handle in handles {
                answers.push(handle.await.unwrap());
            }
        }
        let mut ids = Vec::new();
        for (query, body, answer) in &answers {
            assert_eq!(
                answer.status, 200,
                "{query} {:?}: {answer:?}",
                String::from_utf8_lossy(body)
            );
            ids.push(answer.delivery_id.expect("a stored delivery"));
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), total, "each request is its own stored delivery");
        assert_eq!(app.db.scalar("SELECT COUNT(*) AS value FROM deliveries"), total as i64);
        // A NUL never reaches a text column (SQLite would keep one): it is kept in the body only.
        let view = app.action("B0-esc-").await.expect("the NUL action is stored");
        assert_eq!(view["campaign_name"], "ab");
        assert_eq!(view["extra"]["Key"], "v", "{view}");
        if backend == Backend::Sqlite {
            assert_eq!(
                app.db.scalar("SELECT COUNT(*) AS value FROM actions WHERE instr(campaign_name, char(0)) > 0 OR instr(extra, char(0)) > 0"),
                0
            );
        }
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    }
}

on_both_backends! {
    async fn a_nul_in_a_json_value_or_a_get_value_is_stored_and_kept_raw(backend: Backend) {
        let app = spawn_app(backend).await;
        let answer = app
            .post_postback("actions", Some("application/json"), "{\"ActionId\":\"N1\",\"Payout\":\"1.00\",\"CampaignName\":\"a\\u0000b\"}")
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(app.action("N1").await.unwrap()["campaign_name"], "ab");
        let delivery = app.json(&format!("/api/deliveries/{}", answer.delivery_id.unwrap())).await.unwrap();
        assert!(delivery["body"].as_str().unwrap().contains("a\\u0000b"), "the raw body as sent: {delivery}");
        assert!(delivery["warnings"].as_str().unwrap().contains("NUL"), "{delivery}");
        let answer = app.get_postback("actions", "ActionId=N2&Payout=1.00&CampaignName=c%00d").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(app.action("N2").await.unwrap()["campaign_name"], "cd");
    }
}

/// Makes the database refuse an action named `boom` (as it refused a NUL before), whatever the
/// write path does.
fn refuse_boom(db: &TestDatabase) {
    match db.backend() {
        Backend::Sqlite => db.execute(
            "CREATE TRIGGER refuse_boom_insert BEFORE INSERT ON actions WHEN NEW.campaign_name = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END;
             CREATE TRIGGER refuse_boom_update BEFORE UPDATE ON actions WHEN NEW.campaign_name = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END;",
        ),
        Backend::Postgres => db.execute(
            "CREATE FUNCTION refuse_boom() RETURNS trigger AS $$ BEGIN IF NEW.campaign_name = 'boom' THEN RAISE EXCEPTION 'boom refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER refuse_boom BEFORE INSERT OR UPDATE ON actions FOR EACH ROW EXECUTE FUNCTION refuse_boom();",
        ),
    }
}

fn allow_boom(db: &TestDatabase) {
    match db.backend() {
        Backend::Sqlite => {
            db.execute("DROP TRIGGER refuse_boom_insert; DROP TRIGGER refuse_boom_update;")
        }
        Backend::Postgres => {
            db.execute("DROP TRIGGER refuse_boom ON actions; DROP FUNCTION refuse_boom();")
        }
    }
}

on_both_backends! {
    async fn a_delivery_the_database_refuses_as_read_is_kept_raw_and_quarantined(backend: Backend) {
        let app = spawn_app(backend).await;
        refuse_boom(&app.db);
        let answer = app.get_postback("actions", "ActionId=X1&Payout=2.00&CampaignName=boom").await;
        assert_eq!(answer.status, 200, "stored, so impact.com need not retry for 31 hours: {answer:?}");
        assert_eq!(answer.outcome.as_deref(), Some("quarantined"));
        let delivery = app.json(&format!("/api/deliveries/{}", answer.delivery_id.unwrap())).await.unwrap();
        let reason = delivery["reason"].as_str().unwrap();
        assert!(reason.contains("could not be stored as read"), "{reason}");
        assert!(delivery["query"].as_str().unwrap().contains("CampaignName=boom"), "{delivery}");
        assert!(app.action("X1").await.is_none());
        // The others of its batch are stored as usual.
        assert_eq!(app.get_postback("actions", "ActionId=X2&Payout=1.00").await.outcome.as_deref(), Some("applied"));
        // Once the database takes it, reprocess applies it from the raw request.
        allow_boom(&app.db);
        let output = app.cli(&["reprocess"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(app.action("X1").await.expect("released")["payout"], "2.00");
    }
}
