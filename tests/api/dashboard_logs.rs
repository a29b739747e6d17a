//! The inquiries and deliveries pages and the deliveries API: what they list, filter and page,
//! the reprocess button, and the refused requests beside the log (never their secrets).

use chrono::{TimeZone, Utc};
use postback_ledger::domain::clock::Clock;

use crate::helpers::*;
use crate::on_both_backends;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The part of a page from the element with this id on (enough to tell sections apart).
fn from_id<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element with id {id} in {page}"));
    &page[at..]
}

/// The first table body of the part of the page from `id` on.
fn table_body<'a>(page: &'a str, id: &str) -> &'a str {
    let part = from_id(page, id);
    let end = part.find("</tbody>").expect("a table body");
    &part[..end]
}

on_both_backends! {
    async fn the_inquiries_page_shows_deadlines_payouts_the_linked_action_and_credit(backend: Backend) {
        // Five days before the fixture's deadline (2026-05-01): due soon.
        let now = Utc.with_ymd_and_hms(2026, 4, 26, 12, 0, 0).unwrap();
        let app = spawn_app_with_clock(backend, Clock::fixed(now)).await;
        assert_eq!(app.post_fixture("inquiries", "inquiry_created.json").await.outcome.as_deref(), Some("applied"));

        let (status, page) = app.get("/inquiries").await;
        assert_eq!(status, 200, "{page}");
        let rows = table_body(&page, "inquiries-table");
        assert!(rows.contains("/inquiries/554433"), "{rows}");
        assert!(rows.contains("MISSING_ACTION") && rows.contains("(PENDING)"), "{rows}");
        assert!(rows.contains("Spring Global Promotion") && rows.contains("ORD-12345"), "{rows}");
        assert!(rows.contains("2026-05-01 00:00:00 +00:00"), "the deadline: {rows}");
        assert!(rows.contains("due soon"), "{rows}");
        assert!(rows.contains("25.00"), "the expected payout: {rows}");
        assert!(rows.contains("none yet"), "no action yet: {rows}");

        let (_, declined) = app.get("/inquiries?status=declined").await;
        assert!(!table_body(&declined, "inquiries-table").contains("554433"), "{declined}");
        let (_, pending) = app.get("/inquiries?status=pending").await;
        assert!(table_body(&pending, "inquiries-table").contains("554433"));
        let (status, _) = app.get("/inquiries?status=open").await;
        assert_eq!(status, 400);

        // Approved before the action is tracked: awaiting credit; tracked: credited, in its currency.
        let approved = "Id=554433&ActionId=ACT-999000&ResolutionStatus=VALID&FinalPayout=25.00&ResolutionDate=2026-04-25T00:00:00Z";
        assert_eq!(app.get_postback("inquiries", approved).await.outcome.as_deref(), Some("applied"));
        let (_, page) = app.get("/inquiries?status=approved").await;
        let rows = table_body(&page, "inquiries-table");
        assert!(rows.contains("awaiting credit"), "{rows}");
        assert!(!rows.contains("due soon"), "a decided inquiry is not due: {rows}");
        app.get_postback("actions", "ActionId=ACT-999000&Status=PENDING&Payout=25.00&DeltaPayout=25.00&Currency=USD&CampaignId=9876").await;
        let (_, page) = app.get("/inquiries").await;
        let rows = table_body(&page, "inquiries-table");
        assert!(rows.contains(">credited<"), "{rows}");
        assert!(rows.contains("href=\"/actions/ACT-999000\""), "{rows}");
        assert!(rows.contains("25.00 USD"), "final payout with the action's currency: {rows}");

        let (status, detail) = app.get("/inquiries/554433").await;
        assert_eq!(status, 200);
        let history = table_body(&detail, "history");
        assert_eq!(history.matches("href=\"/deliveries/").count(), 2, "{history}");
        assert!(detail.contains("Customer claims they clicked the link"), "{detail}");
        assert_eq!(app.get("/inquiries/nope").await.0, 404);
    }
}

on_both_backends! {
    async fn the_deliveries_log_lists_filters_pages_and_its_api_answers_the_same(backend: Backend) {
        let app = spawn_app(backend).await;
        let first = app.get_postback("actions", "ActionId=L1&Payout=5.00&DeltaPayout=5.00").await;
        let second = app.get_postback("actions", "ActionId=%3Cb%3EL2%3C%2Fb%3E&Payout=1.00").await;
        let bad = app.post_postback("actions", Some("application/json"), r#"{"id": "L3", "Payout": "1.00"}"#).await;
        assert_eq!(bad.outcome.as_deref(), Some("quarantined"));
        let repeat = app.get_postback("actions", "ActionId=L1&Payout=5.00&DeltaPayout=5.00").await;
        assert_eq!(repeat.outcome.as_deref(), Some("duplicate"));
        let (first, second, bad) = (first.delivery_id.unwrap(), second.delivery_id.unwrap(), bad.delivery_id.unwrap());

        let (status, page) = app.get("/deliveries").await;
        assert_eq!(status, 200);
        let rows = table_body(&page, "deliveries-rows");
        assert!(page.contains("id=\"deliveries-rows\" data-live-url=\"/deliveries?\""), "the log refreshes itself");
        // ...which the page's script may only do when the policy lets it fetch from here.
        let response = app.client.get(format!("{}/deliveries", app.address)).send().await.unwrap();
        let policy = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(policy.contains("connect-src 'self'") && policy.contains("script-src 'self'"), "{policy}");
        for id in [first, second, bad] {
            assert!(rows.contains(&format!("href=\"/deliveries/{id}\"")), "{id} in {rows}");
        }
        assert!(rows.find(&format!("/deliveries/{bad}\"")) < rows.find(&format!("/deliveries/{first}\"")), "newest first");
        assert!(rows.contains("href=\"/actions/L1\""), "{rows}");
        assert!(rows.contains("<td class=\"num\">2</td>"), "L1 was received twice: {rows}");
        assert!(rows.contains("quarantined") && rows.contains("no action id"), "{rows}");
        assert!(rows.contains("&#60;b&#62;L2&#60;/b&#62;") && !rows.contains("<b>L2"), "escaped: {rows}");

        let (_, quarantined) = app.get("/deliveries?outcome=quarantined&source=").await;
        let rows = table_body(&quarantined, "deliveries-rows");
        assert!(rows.contains(&format!("/deliveries/{bad}\"")), "{rows}");
        assert!(!rows.contains(&format!("/deliveries/{first}\"")), "{rows}");
        let (_, other_source) = app.get("/deliveries?source=inquiries").await;
        assert!(table_body(&other_source, "deliveries-rows").contains("No delivery matches"));

        let (_, page_one) = app.get("/deliveries?limit=2").await;
        let next = page_one
            .split("<a rel=\"next\" href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a next page link")
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        assert!(next.contains(&format!("before={second}")) && next.contains("limit=2"), "{next}");
        let (_, page_two) = app.get(&next).await;
        let rows = table_body(&page_two, "deliveries-rows");
        assert!(rows.contains(&format!("/deliveries/{first}\"")) && !rows.contains(&format!("/deliveries/{bad}\"")), "{rows}");
        assert!(!page_two.contains("rel=\"next\""), "the last page");
        assert_eq!(app.get("/deliveries?outcome=lost").await.0, 400);

        let all = app.json("/api/deliveries").await.unwrap();
        let ids: Vec<i64> = all["deliveries"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, [bad, second, first]);
        assert_eq!(all["next_before"], serde_json::Value::Null);
        assert_eq!(all["deliveries"][2]["times_received"], 2);
        let page = app.json("/api/deliveries?limit=2").await.unwrap();
        assert_eq!(page["deliveries"].as_array().unwrap().len(), 2);
        assert_eq!(page["next_before"], second);
        let rest = app.json(&format!("/api/deliveries?limit=2&before={second}")).await.unwrap();
        assert_eq!(rest["deliveries"][0]["id"], first);
        assert_eq!(rest["next_before"], serde_json::Value::Null);
        let only = app.json("/api/deliveries?outcome=quarantined&source=actions").await.unwrap();
        assert_eq!(only["deliveries"].as_array().unwrap().len(), 1);
        assert!(only["deliveries"][0]["reason"].as_str().unwrap().contains("no action id"));
        for bad_query in ["outcome=lost", "before=abc", "before=-1", "limit=0", "limit=9999"] {
            let (status, body) = app.get(&format!("/api/deliveries?{bad_query}")).await;
            assert_eq!(status, 400, "{bad_query}: {body}");
            let error: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
            assert!(error["error"].as_str().is_some_and(|text| !text.is_empty()), "{body}");
        }
        let one = app.json(&format!("/api/deliveries/{first}")).await.unwrap();
        assert_eq!(one["outcome"], "applied");
        assert_eq!(one["subject_id"], "L1");
        assert!(!one["query"].as_str().unwrap().contains(SECRET), "credentials were removed");
        assert!(app.json("/api/deliveries/999999").await.is_none());
        assert_eq!(app.get("/api/deliveries/abc").await.0, 400);
    }
}

/// The reprocess form's token and the form cookie it is bound to, from the delivery's page.
async fn reprocess_form(app: &TestApp, id: i64) -> (String, String) {
    let response = app
        .client
        .get(format!("{}/deliveries/{id}", app.address))
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("postback_ledger_form="))
        .map(|value| value.split(';').next().unwrap().to_owned())
        .expect("a form cookie");
    let page = response.text().await.unwrap();
    let form = from_id(&page, "summary");
    assert!(
        form.contains(&format!("action=\"/deliveries/{id}/reprocess\"")),
        "{page}"
    );
    let start =
        form.find("name=\"csrf\" value=\"").expect("a token") + "name=\"csrf\" value=\"".len();
    (form[start..].split('"').next().unwrap().to_owned(), cookie)
}

async fn post_reprocess(app: &TestApp, id: i64, token: &str, cookie: &str) -> reqwest::Response {
    no_redirects()
        .post(format!("{}/deliveries/{id}/reprocess", app.address))
        .header("cookie", cookie)
        .form(&[("csrf", token)])
        .send()
        .await
        .unwrap()
}

on_both_backends! {
    async fn reprocessing_one_quarantined_delivery_from_its_page_uses_the_current_mapping(backend: Backend) {
        let app = spawn_app(backend).await;
        let answer = app.post_postback("actions", Some("application/json"), r#"{"id": "RP9", "amt": "4.50"}"#).await;
        assert_eq!(answer.outcome.as_deref(), Some("quarantined"));
        let id = answer.delivery_id.unwrap();
        let (token, cookie) = reprocess_form(&app, id).await;

        assert_eq!(post_reprocess(&app, id, "forged", &cookie).await.status(), 403);
        let no_cookie = no_redirects()
            .post(format!("{}/deliveries/{id}/reprocess", app.address))
            .form(&[("csrf", token.as_str())])
            .send().await.unwrap();
        assert_eq!(no_cookie.status(), 403, "the token is bound to the form cookie");

        // The mapping this instance runs with still cannot read it.
        let still = post_reprocess(&app, id, &token, &cookie).await;
        assert_eq!(still.status(), 303);
        let location = still.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(location, format!("/deliveries/{id}?reprocessed=still"));
        let (_, page) = app.get(&location).await;
        assert!(page.contains("still quarantined"), "{page}");
        assert!(page.contains("<span class=\"status quarantined\" id=\"outcome\">quarantined</span>"), "{page}");
        assert!(page.contains("Reprocess</button>"), "it can be tried again");

        // The same database served with the partner's keys mapped: the button releases it.
        let TestApp { db, .. } = app;
        let config = format!(
            "{}\n[sources.actions]\nkind = \"action_lifecycle\"\n[sources.actions.fields]\naction_id = \"id\"\npayout = \"amt\"\n",
            base_config()
        );
        let fixed = spawn_on(db, &config).await;
        let (token, cookie) = reprocess_form(&fixed, id).await;
        let released = post_reprocess(&fixed, id, &token, &cookie).await;
        assert_eq!(released.status(), 303);
        let location = released.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(location, format!("/deliveries/{id}?reprocessed=released"));
        let (_, page) = fixed.get(&location).await;
        assert!(page.contains("id=\"outcome\">applied</span>"), "{page}");
        assert!(page.contains("href=\"/actions/RP9\""), "{page}");
        assert!(!page.contains("Reprocess</button>"), "only a quarantined delivery offers it");
        assert_eq!(fixed.action("RP9").await.unwrap()["payout"], "4.50");
        // Posting again changes nothing: it is no longer quarantined.
        let again = post_reprocess(&fixed, id, &token, &cookie).await;
        assert_eq!(again.headers()["location"].to_str().unwrap(), format!("/deliveries/{id}?reprocessed=handled"));
        assert_eq!(fixed.action("RP9").await.unwrap()["payout"], "4.50");
        assert_eq!(fixed.get("/deliveries/424242").await.0, 404);
    }
}

on_both_backends! {
    async fn a_refused_request_appears_beside_the_log_without_its_secret(backend: Backend) {
        let app = spawn_app(backend).await;
        let url = format!("{}/postbacks/actions?secure=guess-secret-987&ActionId=X1&Payout=1", app.address);
        assert_eq!(app.post_postback_to(&url, None, "").await.status, 401);
        refusals_recorded(&app, 1).await;
        let (status, page) = app.get("/deliveries").await;
        assert_eq!(status, 200);
        let failures = table_body(&page, "auth-failures");
        assert!(failures.contains("query_secret_wrong"), "{failures}");
        assert!(failures.contains("<td>actions</td>") && failures.contains("127.0.0.1") && failures.contains("POST"), "{failures}");
        assert!(!page.contains("guess-secret-987"), "never the secret");
        assert!(table_body(&page, "deliveries-rows").contains("No delivery matches"), "a refusal is no delivery");
    }
}
