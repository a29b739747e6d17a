//! A developer's triage of the deliveries log: searching by id, a delivery's fields as the
//! mapping reads them beside the raw request, flags in words, and dismissing quarantined junk.

use crate::helpers::*;
use crate::on_both_backends;

/// The part of a page from the element with this id on.
fn from_id<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element with id {id} in {page}"));
    &page[at..]
}

fn rows(page: &str) -> &str {
    let part = from_id(page, "deliveries-rows");
    &part[..part.find("</tbody>").expect("a table body")]
}

fn ids(answer: &serde_json::Value) -> Vec<i64> {
    answer["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|delivery| delivery["id"].as_i64().unwrap())
        .collect()
}

/// The token of the form posting to `action` on the page at `path`, and its form cookie.
async fn form_on(app: &TestApp, path: &str, action: &str) -> (String, String) {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
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
    let at = page
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form to {action} in {page}"));
    let form = &page[at..];
    let start =
        form.find("name=\"csrf\" value=\"").expect("a token") + "name=\"csrf\" value=\"".len();
    (form[start..].split('"').next().unwrap().to_owned(), cookie)
}

async fn post_form(app: &TestApp, action: &str, token: &str, cookie: &str) -> reqwest::Response {
    no_redirects()
        .post(format!("{}{action}", app.address))
        .header("cookie", cookie)
        .form(&[("csrf", token)])
        .send()
        .await
        .unwrap()
}

on_both_backends! {
    async fn deliveries_are_found_by_action_order_and_delivery_id_and_a_hidden_test_is_named(backend: Backend) {
        let config = format!("{}\n[testing]\nmarker_field = \"sub_id2\"\nmarker_value = \"qa-run\"\n", base_config());
        let app = spawn_app_with(backend, &config).await;
        let one = app.get_postback("actions", "ActionId=S1&Oid=ORD-7&Payout=1.00&DeltaPayout=1.00&Currency=USD").await.delivery_id.unwrap();
        let again = app.get_postback("actions", "ActionId=S1&Oid=ORD-7&Status=APPROVED&Payout=1.00&DeltaPayout=0.00&Currency=USD").await.delivery_id.unwrap();
        let two = app.get_postback("actions", "ActionId=S2&Oid=ORD-8&Payout=2.00&DeltaPayout=2.00&Currency=USD").await.delivery_id.unwrap();
        let test = app.get_postback("actions", "ActionId=T1&Oid=ORD-T&Payout=3.00&DeltaPayout=3.00&SubId2=qa-run").await.delivery_id.unwrap();
        assert_eq!(app.action("T1").await.unwrap()["is_test"], true);

        // By action id, order id, and the delivery's own id (with or without `#`).
        assert_eq!(ids(&app.json("/api/deliveries?q=S1").await.unwrap()), [again, one]);
        assert_eq!(ids(&app.json("/api/deliveries?q=ORD-8").await.unwrap()), [two]);
        assert_eq!(ids(&app.json(&format!("/api/deliveries?q={two}")).await.unwrap()), [two]);
        assert_eq!(ids(&app.json(&format!("/api/deliveries?q=%23{one}")).await.unwrap()), [one]);
        assert!(ids(&app.json("/api/deliveries?q=nothing-like-it").await.unwrap()).is_empty());
        assert_eq!(ids(&app.json("/api/deliveries?q=S1&outcome=applied&limit=1").await.unwrap()), [again], "with the other filters");

        let (status, page) = app.get("/deliveries?q=ORD-7").await;
        assert_eq!(status, 200);
        let shown = rows(&page);
        assert!(shown.contains(&format!("href=\"/deliveries/{one}\"")) && shown.contains(&format!("href=\"/deliveries/{again}\"")), "{shown}");
        assert!(!shown.contains(&format!("href=\"/deliveries/{two}\"")), "{shown}");
        assert!(page.contains("name=\"q\" type=\"search\" value=\"ORD-7\""), "the search stays in its box");
        assert!(!page.contains("test conversion"), "S1 is no test: {page}");

        // A test conversion is hidden from the actions list, and the search says where it is.
        for id in ["T1", "ORD-T"] {
            let answer = app.json(&format!("/api/deliveries?q={id}")).await.unwrap();
            assert_eq!(ids(&answer), [test]);
            assert_eq!(answer["test_actions"], serde_json::json!(["T1"]));
            let (_, page) = app.get(&format!("/deliveries?q={id}")).await;
            assert!(page.contains("names a test conversion") && page.contains("href=\"/actions/T1\""), "{page}");
        }
        assert_eq!(app.json("/api/deliveries?q=S1").await.unwrap()["test_actions"], serde_json::json!([]));

        // The actions list's search says the same, unless it already lists the tests.
        for id in ["T1", "ORD-T"] {
            let answer = app.json(&format!("/api/actions?status=all&q={id}")).await.unwrap();
            assert_eq!(answer["actions"], serde_json::json!([]), "hidden from the list");
            assert_eq!(answer["test_actions"], serde_json::json!(["T1"]));
            let (_, page) = app.get(&format!("/actions?status=all&q={id}")).await;
            assert!(page.contains("names a test conversion") && page.contains("href=\"/actions/T1\""), "{page}");
        }
        let listed = app.json("/api/actions?status=all&q=T1&include_tests=true").await.unwrap();
        assert_eq!(listed["actions"][0]["action_id"], "T1");
        assert_eq!(listed["test_actions"], serde_json::json!([]));
        let (_, page) = app.get("/actions?status=all&q=S1").await;
        assert!(!page.contains("names a test conversion"), "S1 is no test: {page}");
    }
}

on_both_backends! {
    async fn a_delivery_shows_its_fields_as_the_mapping_reads_them_beside_the_raw_request(backend: Backend) {
        let config = format!(
            "{}\n[sources.actions]\nkind = \"action_lifecycle\"\n[sources.actions.fields]\namount = \"amt\"\n",
            base_config()
        );
        let app = spawn_app_with(backend, &config).await;
        let body = format!(r#"{{"ActionId": "J1", "Payout": 12.50, "DeltaPayout": 12.50, "amt": "99.00", "Brand": "Acme", "Note": "{SECRET}"}}"#);
        let answer = app.post_postback("actions", Some("application/json"), body).await;
        let id = answer.delivery_id.unwrap();
        let (status, page) = app.get(&format!("/deliveries/{id}")).await;
        assert_eq!(status, 200, "{page}");
        let read = from_id(&page, "fields-read");
        let read = &read[..read.find("</table>").unwrap()];
        assert!(read.contains("<td>action_id</td><td><code>ActionId</code></td><td class=\"value\">J1</td>"), "{read}");
        assert!(read.contains("<td>amount</td><td><code>amt</code></td><td class=\"value\">99.00</td>"), "the configured key: {read}");
        assert!(read.contains("<td>payout</td><td><code>Payout</code></td><td class=\"value\">12.50</td>"), "{read}");
        let extras = from_id(&page, "fields-extra");
        assert!(extras.contains("<code>Brand</code></dt><dd class=\"value\">Acme</dd>"), "{extras}");
        assert!(!page.contains(SECRET), "a secret is masked in the fields and the raw request");
        // JSON pretty-printed, with its numbers as sent.
        assert!(page.contains("{\n  &#34;ActionId&#34;: &#34;J1&#34;,\n  &#34;Payout&#34;: 12.50,"), "{page}");

        // A long query one parameter a line; warnings as a list.
        let long = app.get_postback("actions", "ActionId=J2&Payout=1.00&DeltaPayout=1.00&EventDate=someday&SubId1=a").await.delivery_id.unwrap();
        let (_, page) = app.get(&format!("/deliveries/{long}")).await;
        let query = from_id(&page, "raw");
        assert!(query.contains("ActionId=J2\nPayout=1.00\nDeltaPayout=1.00\n"), "{query}");
        assert!(query.contains("<ul class=\"warnings\"><li>") && query.contains("is not a date"), "{query}");
        assert!(!query.contains("[&#34;"), "not a JSON array: {query}");
    }
}

on_both_backends! {
    async fn a_flag_is_explained_where_it_appears_with_what_to_do(backend: Backend) {
        let app = spawn_app(backend).await;
        // A delta that does not start from 0: an event is missing.
        let answer = app.get_postback("actions", "ActionId=G1&Payout=10.00&DeltaPayout=4.00&Currency=EUR").await;
        assert_eq!(answer.outcome.as_deref(), Some("flagged"));
        let id = answer.delivery_id.unwrap();
        let (_, log) = app.get("/deliveries").await;
        assert!(rows(&log).contains("<span class=\"tag flag\" title=\"An event of this action is missing"), "which flag: {log}");
        let (_, page) = app.get(&format!("/deliveries/{id}")).await;
        let notes = from_id(&page, "flag-notes");
        assert!(notes.contains(">gap</span>") && notes.contains("What to do:") && notes.contains("arrives late"), "{notes}");
        let (_, action) = app.get("/actions/G1").await;
        assert!(from_id(&action, "flag-notes").contains("What to do:"), "{action}");
        let api = app.action("G1").await.unwrap();
        assert_eq!(api["flags_explained"][0]["flag"], "gap");
        assert!(api["flags_explained"][0]["what_to_do"].as_str().unwrap().contains("reconciliation"));
        let delivery = app.json(&format!("/api/deliveries/{id}")).await.unwrap();
        assert_eq!(delivery["subject_flags"][0]["flag"], "gap");
    }
}

on_both_backends! {
    async fn a_quarantined_delivery_can_be_dismissed_and_brought_back(backend: Backend) {
        let app = spawn_app(backend).await;
        let junk = app.post_postback("actions", Some("application/json"), r#"{"probe": "x"}"#).await;
        assert_eq!(junk.outcome.as_deref(), Some("quarantined"));
        let other = app.post_postback("actions", Some("application/json"), r#"{"id": "Q2"}"#).await.delivery_id.unwrap();
        let id = junk.delivery_id.unwrap();
        let quarantined = || async { app.json("/api/summary").await.unwrap()["attention"]["quarantined_deliveries"].as_i64().unwrap() };
        assert_eq!(quarantined().await, 2);

        let (token, cookie) = form_on(&app, &format!("/deliveries/{id}"), &format!("/deliveries/{id}/dismiss")).await;
        assert_eq!(post_form(&app, &format!("/deliveries/{id}/dismiss"), "forged", &cookie).await.status(), 403);
        assert_eq!(quarantined().await, 2, "a forged form changes nothing");
        let done = post_form(&app, &format!("/deliveries/{id}/dismiss"), &token, &cookie).await;
        assert_eq!(done.status(), 303);
        let location = done.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(location, format!("/deliveries/{id}?dismissal=dismissed"));
        let (_, page) = app.get(&location).await;
        assert!(page.contains("Dismissed: kept") && page.contains("id=\"dismissed-at\""), "{page}");
        assert!(page.contains(&format!("action=\"/deliveries/{id}/undismiss\"")), "reversible: {page}");

        // Kept, out of what needs attention and its counts.
        assert_eq!(quarantined().await, 1);
        let needing = app.json("/api/deliveries?outcome=quarantined").await.unwrap();
        assert_eq!(ids(&needing), [other]);
        assert_eq!(ids(&app.json("/api/deliveries?outcome=quarantined&dismissed=only").await.unwrap()), [id]);
        assert_eq!(ids(&app.json("/api/deliveries?outcome=quarantined&dismissed=include").await.unwrap()), [other, id]);
        let all = app.json("/api/deliveries").await.unwrap();
        assert_eq!(ids(&all), [other, id], "still stored and listed");
        assert!(all["deliveries"][1]["dismissed_at"].is_string());
        let (_, log) = app.get("/deliveries?dismissed=include").await;
        assert!(rows(&log).contains("<span class=\"tag\">dismissed</span>"), "{log}");
        assert_eq!(app.get("/api/deliveries?dismissed=maybe").await.0, 400);

        let (token, cookie) = form_on(&app, &format!("/deliveries/{id}"), &format!("/deliveries/{id}/undismiss")).await;
        let back = post_form(&app, &format!("/deliveries/{id}/undismiss"), &token, &cookie).await;
        assert_eq!(back.headers()["location"].to_str().unwrap(), format!("/deliveries/{id}?dismissal=restored"));
        assert_eq!(quarantined().await, 2);
        assert_eq!(ids(&app.json("/api/deliveries?outcome=quarantined").await.unwrap()), [other, id]);

        // Only quarantined deliveries are dismissed.
        let applied = app.get_postback("actions", "ActionId=OK1&Payout=1.00&DeltaPayout=1.00").await.delivery_id.unwrap();
        let (token, cookie) = form_on(&app, &format!("/deliveries/{id}"), &format!("/deliveries/{id}/dismiss")).await;
        let refused = post_form(&app, &format!("/deliveries/{applied}/dismiss"), &token, &cookie).await;
        assert_eq!(refused.headers()["location"].to_str().unwrap(), format!("/deliveries/{applied}?dismissal=not"));
        assert!(app.json(&format!("/api/deliveries/{applied}")).await.unwrap()["dismissed_at"].is_null());
        assert_eq!(post_form(&app, "/deliveries/987654/dismiss", &token, &cookie).await.status(), 404);
    }
}

fn inquiry_rows(page: &str) -> &str {
    let part = from_id(page, "inquiries-table");
    &part[..part.find("</tbody>").expect("a table body")]
}

on_both_backends! {
    async fn inquiries_show_a_currency_on_every_amount_total_what_awaits_credit_and_filter(backend: Backend) {
        let app = spawn_app(backend).await;
        // The brand's actions are paid in EUR; this one is not the inquiry's.
        app.get_postback("actions", "ActionId=B1&Payout=5.00&DeltaPayout=5.00&Currency=EUR&CampaignId=9876").await;
        assert_eq!(app.post_fixture("inquiries", "inquiry_created.json").await.outcome.as_deref(), Some("applied"));
        let (_, page) = app.get("/inquiries").await;
        assert!(inquiry_rows(&page).contains("25.00 EUR"), "no action linked: the brand's currency: {page}");
        // Another brand's inquiry carries its own currency.
        let other = "Id=I2&CampaignId=777&CampaignName=Other&ExpectedPayout=7.50&Currency=usd&ResolutionStatus=VALID&FinalPayout=7.50&CreationDate=2026-03-01T00:00:00Z";
        assert_eq!(app.get_postback("inquiries", other).await.outcome.as_deref(), Some("applied"));
        let approved = "Id=554433&ActionId=ACT-999000&ResolutionStatus=VALID&FinalPayout=25.00&ResolutionDate=2026-04-25T00:00:00Z";
        assert_eq!(app.get_postback("inquiries", approved).await.outcome.as_deref(), Some("applied"));

        let (status, page) = app.get("/inquiries").await;
        assert_eq!(status, 200);
        let awaiting = from_id(&page, "awaiting");
        let awaiting = &awaiting[..awaiting.find("</section>").unwrap()];
        assert!(awaiting.contains("25.00 EUR") && awaiting.contains("7.50 USD"), "{awaiting}");
        assert!(inquiry_rows(&page).contains("7.50 USD"), "{page}");
        let api = app.json("/api/inquiries").await.unwrap();
        assert_eq!(api["awaiting_credit"], serde_json::json!([
            {"currency": "EUR", "total": "25.00", "inquiries": 1},
            {"currency": "USD", "total": "7.50", "inquiries": 1},
        ]));

        // Filters: brand (any case), date, credit; server-side, in plain form controls.
        assert!(page.contains("<select id=\"credit\" name=\"credit\">") && page.contains("<input id=\"from\" name=\"from\" type=\"date\""), "{page}");
        assert!(page.contains("<option value=\"777\">Other (777)</option>"), "{page}");
        let (_, page) = app.get("/inquiries?brand=other").await;
        let rows = inquiry_rows(&page);
        assert!(rows.contains("/inquiries/I2") && !rows.contains("/inquiries/554433"), "{rows}");
        let (_, page) = app.get("/inquiries?from=2026-04-01&to=2026-04-30").await;
        let rows = inquiry_rows(&page);
        assert!(!rows.contains("/inquiries/I2") && rows.contains("/inquiries/554433"), "{rows}");
        let (_, page) = app.get("/inquiries?credit=credited").await;
        assert!(inquiry_rows(&page).contains("No inquiry matches"), "{page}");

        // Its action tracked: credited, in the action's currency; only USD still awaits.
        app.get_postback("actions", "ActionId=ACT-999000&Payout=25.00&DeltaPayout=25.00&Currency=EUR&CampaignId=9876").await;
        let (_, page) = app.get("/inquiries?credit=credited").await;
        let rows = inquiry_rows(&page);
        assert!(rows.contains("/inquiries/554433") && !rows.contains("/inquiries/I2"), "{rows}");
        let api = app.json("/api/inquiries?credit=awaiting_credit").await.unwrap();
        let ids: Vec<&str> = api["inquiries"].as_array().unwrap().iter().map(|i| i["inquiry_id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["I2"]);
        assert_eq!(api["inquiries"][0]["currency"], "USD");
        assert_eq!(api["awaiting_credit"], serde_json::json!([{"currency": "USD", "total": "7.50", "inquiries": 1}]));
        assert_eq!(app.get("/api/inquiries?credit=maybe").await.0, 400);
        assert_eq!(app.get("/inquiries?from=someday").await.0, 400);

        // Comments as text, not JSON.
        let (_, detail) = app.get("/inquiries/554433").await;
        let comments = from_id(&detail, "comments");
        assert!(comments.contains("<li>support_agent: Verifying click logs now.</li>") && comments.contains("<li>partner: Customer provided receipt.</li>"), "{comments}");
        assert!(!detail.contains("[{"), "{detail}");
    }
}

/// The timeline's items, from the API: (kind, delivery id) in order.
fn timeline_of(action: &serde_json::Value) -> Vec<(String, Option<i64>)> {
    action["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .map(|item| {
            (
                item["kind"].as_str().unwrap().to_owned(),
                item["delivery_id"].as_i64(),
            )
        })
        .collect()
}

on_both_backends! {
    async fn an_action_timeline_lists_tracking_locking_clearing_and_clawbacks_in_order(backend: Backend) {
        let app = spawn_app(backend).await;
        let tracked = app.get_postback("actions", "ActionId=TL1&Payout=10.00&DeltaPayout=10.00&Currency=USD&EventDate=2026-11-01T00:00:00Z&LockingDate=2026-11-20T00:00:00Z&ClearedDate=2099-01-15T00:00:00Z").await.delivery_id.unwrap();
        let cleared = app.get_postback("clearing", "ActionIds=TL1").await;
        assert_eq!(cleared.outcome.as_deref(), Some("applied"));
        let cleared = cleared.delivery_id.unwrap();
        let reversed = app.get_postback("actions", "ActionId=TL1&Status=REVERSED&Payout=0.00&DeltaPayout=-10.00&Currency=USD&LockingDate=2026-11-20T00:00:00Z").await.delivery_id.unwrap();

        let action = app.action("TL1").await.unwrap();
        assert_eq!(
            timeline_of(&action),
            [
                ("tracked".to_owned(), Some(tracked)),
                ("cleared".to_owned(), Some(cleared)),
                ("clawback".to_owned(), Some(reversed)),
                ("clearing_scheduled".to_owned(), None),
            ],
            "{}", action["timeline"]
        );
        assert_eq!(action["timeline"][3]["upcoming"], true);
        assert_eq!(action["timeline"][2]["payout"], "-10.00");

        // Not reversed: the locking date passing is on the list, before the tracking here.
        app.get_postback("actions", "ActionId=TL2&Payout=4.00&DeltaPayout=4.00&Currency=EUR&LockingDate=2026-11-20T00:00:00Z").await;
        let kinds: Vec<String> = timeline_of(&app.action("TL2").await.unwrap()).into_iter().map(|(kind, _)| kind).collect();
        assert_eq!(kinds, ["locked", "tracked"]);

        let (status, page) = app.get("/actions/TL1").await;
        assert_eq!(status, 200);
        let timeline = from_id(&page, "timeline-items");
        let timeline = &timeline[..timeline.find("</ol>").unwrap()];
        let at = |text: &str| timeline.find(text).unwrap_or_else(|| panic!("{text} in {timeline}"));
        assert!(at("Tracked") < at("Cleared, booked in") && at("Cleared, booked in") < at("Reversed after clearing: a clawback") && at("a clawback") < at("Scheduled to clear"), "{timeline}");
        assert!(timeline.contains("10.00 USD") && timeline.contains(&format!("href=\"/deliveries/{cleared}\"")), "{timeline}");

        // A clearing placeholder: its clearing, not an empty list.
        app.get_postback("clearing", "ActionIds=PH1").await;
        let (_, page) = app.get("/actions/PH1").await;
        let timeline = from_id(&page, "timeline-items");
        let timeline = &timeline[..timeline.find("</ol>").unwrap()];
        assert!(timeline.contains("Cleared") || timeline.contains("A clearing named it"), "{timeline}");
        assert!(!timeline.contains("Nothing recorded yet") && !page.contains("No ledger entries"), "{timeline}");
    }
}
