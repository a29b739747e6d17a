//! A signature covers everything the receiver uses: the query string of a signed source is not
//! read unless the signature covers it, an empty body is no signed message, a query key in
//! another case never overrides the body, and a Standard Webhooks message is stored once.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::helpers::*;
use crate::on_both_backends;

const HMAC_KEY: &str = "hmac-key-for-tests-0451";
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// `config()` and a source whose signature covers the request line.
fn config_with_line() -> String {
    format!(
        "{}[sources.line]\nkind = \"action_lifecycle\"\n[sources.line.auth]\nhmac_header = \"X-Signature\"\nhmac_secrets = [\"{HMAC_KEY}\"]\nsign_request_line = true\n",
        config()
    )
}

/// Each source with its own scheme only (a global `[auth]` would add its scheme to all).
fn config() -> String {
    format!(
        "listen = \"127.0.0.1:0\"\n\
         [sources.hm]\nkind = \"action_lifecycle\"\n[sources.hm.auth]\nhmac_header = \"X-Signature\"\nhmac_secrets = [\"{HMAC_KEY}\"]\n\
         [sources.sw]\nkind = \"action_lifecycle\"\n[sources.sw.auth]\nstandard_webhooks_secrets = [\"{WEBHOOK_SECRET}\"]\n\
         [sources.actions]\nkind = \"action_lifecycle\"\n[sources.actions.auth]\nquery_param = \"secure\"\nquery_values = [\"{SECRET}\"]\n"
    )
}

fn hmac_hex(message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(HMAC_KEY.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn webhook_signature(id: &str, timestamp: i64, body: &str) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(WEBHOOK_SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

on_both_backends! {
    async fn a_signed_body_is_not_overridden_by_unsigned_query_fields(backend: Backend) {
        let app = spawn_app_with(backend, &config()).await;
        let body = r#"{"ActionId":"S1","Payout":"1.00","Status":"PENDING"}"#;
        let answer = app
            .client
            .post(format!("{}/postbacks/hm?PAYOUT=99999.00&STATUS=APPROVED&Payout=77777.00&SubId1=added", app.address))
            .header("content-type", "application/json")
            .header("x-signature", hmac_hex(body))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
        let view = app.action("S1").await.expect("stored");
        assert_eq!(view["payout"], "1.00");
        assert_eq!(view["status"], "pending");
        assert_eq!(view["sub_id1"], serde_json::Value::Null, "an unsigned query field is not read");
        assert_eq!(app.db.scalar("SELECT COUNT(*) AS value FROM ledger_entries"), 1);
    }
}

on_both_backends! {
    async fn a_signed_source_refuses_an_empty_body_whatever_the_query_says(backend: Backend) {
        let app = spawn_app_with(backend, &config()).await;
        // HMAC(key, "") is a constant: one captured, any query would pass.
        for method in ["GET", "POST"] {
            let answer = app
                .client
                .request(method.parse().unwrap(), format!("{}/postbacks/hm?ActionId=F1&Payout=77777.00&Status=APPROVED", app.address))
                .header("x-signature", hmac_hex(""))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 401, "{method}");
            assert_eq!(answer.text().await.unwrap(), "ERROR");
        }
        assert!(app.action("F1").await.is_none());
        assert_eq!(app.db.scalar("SELECT COUNT(*) AS value FROM deliveries"), 0);
    }
}

on_both_backends! {
    async fn a_query_key_in_another_case_never_overrides_the_body_on_an_unsigned_source(backend: Backend) {
        let app = spawn_app_with(backend, &config()).await;
        let url = format!("{}/postbacks/actions?secure={SECRET}&PAYOUT=99999.00&STATUS=APPROVED", app.address);
        let answer = app
            .post_postback_to(&url, Some("application/json"), r#"{"ActionId":"C1","Payout":"2.00","Status":"PENDING"}"#)
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let view = app.action("C1").await.unwrap();
        assert_eq!(view["payout"], "2.00");
        assert_eq!(view["status"], "pending");
    }
}

on_both_backends! {
    async fn signing_the_request_line_lets_the_query_be_read_and_covers_it(backend: Backend) {
        let app = spawn_app_with(backend, &config_with_line()).await;
        let target = "/postbacks/line?ActionId=L1&Payout=3.00&Status=PENDING";
        let signature = hmac_hex(&format!("GET {target}\n"));
        let send = |target: String, signature: String| {
            app.client
                .get(format!("{}{target}", app.address))
                .header("x-signature", signature)
                .send()
        };
        let answer = send(target.to_owned(), signature.clone()).await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(app.action("L1").await.unwrap()["payout"], "3.00");
        // The same signature with a field added, or another value, is refused.
        let added = send(format!("{target}&PAYOUT=99999.00"), signature.clone()).await.unwrap();
        assert_eq!(added.status(), 401);
        let changed = send(target.replace("3.00", "9.00"), signature).await.unwrap();
        assert_eq!(changed.status(), 401);
        assert_eq!(app.action("L1").await.unwrap()["payout"], "3.00");
    }
}

on_both_backends! {
    async fn a_standard_webhooks_message_is_stored_once_whatever_is_added_to_its_replays(backend: Backend) {
        let app = spawn_app_with(backend, &config()).await;
        let now = chrono::Utc::now().timestamp();
        let send = |id: &'static str, body: String, query: &'static str| {
            let signature = webhook_signature(id, now, &body);
            app.client
                .post(format!("{}/postbacks/sw{query}", app.address))
                .header("content-type", "application/json")
                .header("webhook-id", id)
                .header("webhook-timestamp", now.to_string())
                .header("webhook-signature", signature)
                .body(body)
                .send()
        };
        let body = r#"{"ActionId":"W1","Payout":"5.00","Status":"PENDING"}"#.to_owned();
        let first = send("msg_1", body.clone(), "").await.unwrap();
        assert_eq!(first.status(), 200);
        let first_id = first.headers()["x-delivery-id"].to_str().unwrap().to_owned();
        // A replay, with fields added to the query: the same delivery, nothing applied.
        let replay = send("msg_1", body.clone(), "?Payout=99999.00&ActionId=W2").await.unwrap();
        assert_eq!(replay.status(), 200);
        assert_eq!(replay.headers()["x-delivery-outcome"], "duplicate");
        assert_eq!(replay.headers()["x-delivery-id"].to_str().unwrap(), first_id);
        // The sender's id is the message: the same id with another body is the same message.
        let other = r#"{"ActionId":"W1","Payout":"6.00","Status":"PENDING"}"#.to_owned();
        let resent = send("msg_1", other, "").await.unwrap();
        assert_eq!(resent.headers()["x-delivery-outcome"], "duplicate");
        assert_eq!(app.action("W1").await.unwrap()["payout"], "5.00");
        assert!(app.action("W2").await.is_none());
        assert_eq!(app.db.scalar("SELECT COUNT(*) AS value FROM deliveries"), 1);
        assert_eq!(app.db.scalar("SELECT CAST(MAX(times_received) AS BIGINT) AS value FROM deliveries"), 1, "without effect");
        // Another message is stored.
        let next = send("msg_2", r#"{"ActionId":"W3","Payout":"1.00"}"#.to_owned(), "").await.unwrap();
        assert_eq!(next.headers()["x-delivery-outcome"], "applied");
    }
}
