//! Health, readiness, and answering 503 whenever a postback could not be stored.

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends! {
    async fn healthz_and_readyz_answer_on_a_fresh_database(backend: Backend) {
        let app = spawn_app(backend).await;
        assert_eq!(app.get("/healthz").await.0, 200);
        assert_eq!(app.get("/readyz").await, (200, "ready".to_owned()));
    }
}

/// Makes every insert into the inbox fail, as a full disk or a broken database would.
fn break_the_inbox(db: &TestDatabase) {
    match db.backend() {
        Backend::Sqlite => db.execute(
            "CREATE TRIGGER broken BEFORE INSERT ON deliveries BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
        ),
        Backend::Postgres => db.execute(
            "CREATE FUNCTION broken() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END; $$ LANGUAGE plpgsql;
             CREATE TRIGGER broken BEFORE INSERT ON deliveries FOR EACH ROW EXECUTE FUNCTION broken();",
        ),
    }
}

on_both_backends! {
    async fn a_postback_that_cannot_be_stored_is_answered_503_with_the_error_text(backend: Backend) {
        let app = spawn_app(backend).await;
        break_the_inbox(&app.db);
        let answer = app.get_postback("actions", "ActionId=F1&Payout=1.00").await;
        assert_eq!(answer.status, 503);
        assert_eq!(answer.body, "ERROR");
        assert!(app.action("F1").await.is_none());
    }
}

#[actix_web::test]
async fn postgres_down_means_503_and_not_ready() {
    if !postgres_available() {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    assert_eq!(
        app.get_postback("actions", "ActionId=O1&Payout=1.00")
            .await
            .status,
        200
    );
    app.db.drop_now();
    let answer = app.get_postback("actions", "ActionId=O2&Payout=1.00").await;
    assert_eq!(answer.status, 503, "{answer:?}");
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503);
    assert!(body.starts_with("not ready"), "{body}");
}
