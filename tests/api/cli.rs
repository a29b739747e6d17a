//! The binary: check, reprocess, migrate, configuration errors, version.

use crate::helpers::*;
use crate::on_both_backends;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

on_both_backends! {
    async fn check_passes_empty_and_populated_and_names_a_tampered_action(backend: Backend) {
        let app = spawn_app(backend).await;
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "empty: {}", stdout(&output));
        app.get_postback("actions", "ActionId=T1&Payout=5.00&DeltaPayout=5.00").await;
        app.get_postback("actions", "ActionId=T2&Payout=7.00&DeltaPayout=7.00").await;
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "populated: {}", stdout(&output));
        // Tamper by hand: an extra entry for T2 (entries cannot be updated, but can be added).
        app.db.execute(
            "INSERT INTO ledger_entries (action_id, delivery_id, kind, payout_delta, amount_delta, recorded_at)
             SELECT 'T2', id, 'modified', 10000, 0, received_at FROM deliveries ORDER BY id LIMIT 1",
        );
        let output = app.cli(&["check"]);
        assert_eq!(output.status.code(), Some(1));
        let report = stdout(&output);
        assert!(report.contains("action T2"), "{report}");
        assert!(!report.contains("action T1"), "{report}");
    }
}

on_both_backends! {
    async fn ledger_entries_cannot_be_updated_or_deleted(backend: Backend) {
        let app = spawn_app(backend).await;
        app.get_postback("actions", "ActionId=U1&Payout=5.00").await;
        let db = postback_ledger::storage::Database::connect(&app.db.url).unwrap();
        let mut conn = db.conn().unwrap();
        use diesel::connection::SimpleConnection;
        assert!(conn.batch_execute("UPDATE ledger_entries SET payout_delta = 0").is_err());
        assert!(conn.batch_execute("DELETE FROM ledger_entries").is_err());
    }
}

on_both_backends! {
    async fn reprocess_releases_what_the_fixed_mapping_now_reads_and_twice_changes_nothing(backend: Backend) {
        let app = spawn_app(backend).await;
        let answer = app.post_postback("actions", Some("application/json"), r#"{"id": "RP1", "amt": "4.50"}"#).await;
        assert_eq!(answer.outcome.as_deref(), Some("quarantined"));
        // The partner's keys, mapped after the fact.
        let config = format!(
            "{}\n[sources.actions]\nkind = \"action_lifecycle\"\n[sources.actions.fields]\naction_id = \"id\"\npayout = \"amt\"\n",
            base_config()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("postback-ledger.toml");
        std::fs::write(&path, config).unwrap();
        let path = path.to_str().unwrap();
        let first = app.cli(&["--config", path, "reprocess"]);
        assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
        assert!(stdout(&first).contains("1 now stored"), "{}", stdout(&first));
        assert_eq!(app.action("RP1").await.unwrap()["payout"], "4.50");
        let second = app.cli(&["--config", path, "reprocess"]);
        assert!(stdout(&second).contains("0 quarantined"), "{}", stdout(&second));
        assert!(app.cli(&["check"]).status.success());
    }
}

#[test]
fn a_bad_config_file_exits_2_naming_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:0\"\n[responses]\nsucess = \"OK\"\n",
    )
    .unwrap();
    let output = cli_on(
        "sqlite://unused.db",
        &["--config", path.to_str().unwrap(), "migrate"],
    );
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("sucess") && message.contains("line 3"),
        "{message}"
    );
}

#[test]
fn a_postgres_url_to_a_server_that_is_down_reports_the_real_error() {
    let output = cli_on("postgres://postgres@127.0.0.1:1/none", &["migrate"]);
    assert_eq!(output.status.code(), Some(3));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("cannot connect to the postgres database"),
        "{message}"
    );
    let output = cli_on("host=localhost dbname=ledger", &["migrate"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("unsupported database URL"));
}

#[test]
fn version_and_help_with_examples() {
    let version = cli_on("sqlite://unused.db", &["--version"]);
    assert!(stdout(&version).contains(env!("CARGO_PKG_VERSION")));
    let help = cli_on("sqlite://unused.db", &["--help"]);
    assert!(stdout(&help).contains("Examples:"));
}

on_both_backends! {
    async fn migrate_then_token_rotate_keep_old_accepts_both_secrets(backend: Backend) {
        let db = TestDatabase::new(backend);
        let output = cli_on(&db.url, &["migrate"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let shown = stdout(&cli_on(&db.url, &["token", "show"]));
        let old = shown.lines().next().unwrap().trim_start_matches("secret: ").to_owned();
        let rotated = stdout(&cli_on(&db.url, &["token", "rotate", "--keep-old"]));
        let new = rotated.lines().next().unwrap().trim_start_matches("new secret: ").to_owned();
        assert_ne!(old, new);
        // No [auth] in this config: the stored secrets guard every source.
        let app = spawn_on(db, "listen = \"127.0.0.1:0\"\n").await;
        for (secret, expected) in [(&old, 200), (&new, 200), (&"nope".to_owned(), 401)] {
            let url = format!("{}/postbacks/actions?secure={secret}&ActionId=K-{secret}&Payout=1", app.address);
            assert_eq!(app.post_postback_to(&url, None, "").await.status, expected);
        }
    }
}
