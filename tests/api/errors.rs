//! One request error, answered in the caller's format: JSON for the API, the error page for the
//! dashboard, text for the CSV downloads; every 503 with `Retry-After`, none naming its cause.

use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

/// What a GET got back, headers included.
struct Reply {
    status: u16,
    content_type: String,
    retry_after: Option<String>,
    body: String,
}

async fn fetch(app: &TestApp, path: &str) -> Reply {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("request sent");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let (content_type, retry_after) = (header("content-type"), header("retry-after"));
    Reply {
        status: response.status().as_u16(),
        content_type: content_type.unwrap_or_default(),
        retry_after,
        body: response.text().await.unwrap_or_default(),
    }
}

/// Every read of the actions fails with a database error, on either backend, while the app
/// keeps running (a table a bad migration or an operator took away).
fn break_the_actions(db: &TestDatabase) {
    db.execute("ALTER TABLE actions RENAME TO actions_gone");
}

/// What a database error says that the client must never see.
fn leaks(body: &str) -> bool {
    [
        "actions_gone",
        "no such table",
        "does not exist",
        "relation",
        "database error",
    ]
    .iter()
    .any(|internal| body.contains(internal))
}

on_both_backends! {
    async fn a_failed_read_is_a_503_with_retry_after_in_every_format(backend: Backend) {
        let app = spawn_app(backend).await;
        break_the_actions(&app.db);

        let api = fetch(&app, "/api/actions").await;
        assert_eq!(api.status, 503, "{}", api.body);
        assert_eq!(api.retry_after.as_deref(), Some("5"), "the API's 503 says when to retry");
        assert_eq!(api.content_type, "application/json");
        let error: serde_json::Value = serde_json::from_str(&api.body).expect("a JSON error");
        assert!(error["error"].as_str().is_some_and(|text| !text.is_empty()), "{}", api.body);
        assert!(!leaks(&api.body), "{}", api.body);

        let page = fetch(&app, "/actions").await;
        assert_eq!(page.status, 503, "{}", page.body);
        assert_eq!(page.retry_after.as_deref(), Some("5"));
        assert_eq!(page.content_type, "text/html; charset=utf-8");
        assert!(page.body.contains("The database did not answer"), "{}", page.body);
        assert!(!leaks(&page.body), "{}", page.body);

        let csv = fetch(&app, "/actions.csv").await;
        assert_eq!(csv.status, 503, "{}", csv.body);
        assert_eq!(csv.retry_after.as_deref(), Some("5"));
        assert_eq!(csv.content_type, "text/plain; charset=utf-8");
        assert!(!csv.body.contains("action_id") && !leaks(&csv.body), "{}", csv.body);
    }
}

/// PostgreSQL only: it can be made to refuse connections while the app runs.
#[actix_web::test]
async fn the_api_asks_to_retry_while_the_database_refuses_connections() {
    if !postgres_available() {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    app.db.set_reachable(false);
    for path in [
        "/api/actions",
        "/api/actions/A1",
        "/api/summary",
        "/api/statement",
    ] {
        let reply = fetch(&app, path).await;
        assert_eq!(reply.status, 503, "{path}: {}", reply.body);
        assert_eq!(reply.retry_after.as_deref(), Some("5"), "{path}");
        let error: serde_json::Value = serde_json::from_str(&reply.body).expect("a JSON error");
        assert!(error["error"].is_string(), "{path}: {}", reply.body);
    }
    app.db.set_reachable(true);
}

on_both_backends! {
    async fn a_bad_parameter_is_a_400_in_the_callers_format(backend: Backend) {
        let app = spawn_app(backend).await;
        let message = "status must be pending, approved, cleared, reversed or all, not `paid`";

        let api = fetch(&app, "/api/actions?status=paid").await;
        assert_eq!((api.status, api.content_type.as_str()), (400, "application/json"));
        let error: serde_json::Value = serde_json::from_str(&api.body).expect("a JSON error");
        assert_eq!(error, json!({ "error": message }));
        assert_eq!(api.retry_after, None, "only a 503 asks to retry");

        let page = fetch(&app, "/actions?status=paid").await;
        assert_eq!((page.status, page.content_type.as_str()), (400, "text/html; charset=utf-8"));
        assert!(page.body.contains("<h1>That query cannot be answered</h1>"), "{}", page.body);
        assert!(page.body.contains(message), "{}", page.body);
        assert!(page.body.contains(r#"<nav aria-label="Sections" id="sections">"#), "the page's frame: {}", page.body);

        let csv = fetch(&app, "/actions.csv?status=paid").await;
        assert_eq!((csv.status, csv.content_type.as_str()), (400, "text/plain; charset=utf-8"));
        assert_eq!(csv.body, message);
    }
}

on_both_backends! {
    async fn a_value_of_the_wrong_type_is_answered_in_the_callers_format_too(backend: Backend) {
        let app = spawn_app(backend).await;
        let api = fetch(&app, "/api/actions?limit=ten").await;
        assert_eq!((api.status, api.content_type.as_str()), (400, "application/json"), "{}", api.body);
        let error: serde_json::Value = serde_json::from_str(&api.body).expect("a JSON error");
        assert!(error["error"].as_str().is_some_and(|text| text.contains("invalid digit")), "{}", api.body);

        let page = fetch(&app, "/?days=seven").await;
        assert_eq!((page.status, page.content_type.as_str()), (400, "text/html; charset=utf-8"), "{}", page.body);
        assert!(page.body.contains("That query cannot be answered"), "{}", page.body);
    }
}
