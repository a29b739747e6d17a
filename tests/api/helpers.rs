//! The test harness: the real app on port 0 with a fresh database per test, on either backend.

use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use postback_ledger::config::{self, Settings};
use postback_ledger::domain::clock::Clock;
use postback_ledger::web::startup::Application;

pub const SECRET: &str = "test-secret";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the PostgreSQL half of the suite connects to create its databases. Every PostgreSQL
/// connection of the suite starts here, so OpenSSL is initialised here, before libpq uses it.
pub fn admin_url() -> String {
    postback_ledger::storage::init_tls();
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// None when PostgreSQL does not answer and we are not in CI: the caller skips, loudly.
/// In CI (`CI=true`) a missing PostgreSQL fails the test instead.
pub fn postgres_available() -> bool {
    match PgConnection::establish(&admin_url()) {
        Ok(_) => true,
        Err(error) => {
            if std::env::var("CI").is_ok_and(|value| value == "true") {
                panic!(
                    "CI=true but PostgreSQL at {} does not answer: {error}",
                    admin_url()
                );
            }
            eprintln!(
                "SKIPPED the PostgreSQL half of this test: {} does not answer ({error}). \
                 Set TEST_DATABASE_URL or start PostgreSQL; CI=true makes this a failure.",
                admin_url()
            );
            false
        }
    }
}

/// A fresh, empty database of either backend, removed when dropped.
pub struct TestDatabase {
    pub url: String,
    backend: Backend,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDatabase {
    pub fn new(backend: Backend) -> TestDatabase {
        let unique = format!(
            "pl_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand_suffix()
        );
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("ledger.db");
                TestDatabase {
                    url: format!("sqlite://{}", path.display()),
                    backend,
                    name: unique,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = admin_url();
                let mut conn = PgConnection::establish(&admin).expect("PostgreSQL answers");
                conn.batch_execute(&format!("CREATE DATABASE {unique}"))
                    .expect("create database");
                let base = admin
                    .rsplit_once('/')
                    .map(|(base, _)| base)
                    .unwrap_or(&admin);
                TestDatabase {
                    url: format!("{base}/{unique}"),
                    backend,
                    name: unique,
                    _dir: None,
                }
            }
        }
    }

    /// Runs SQL on the database from outside the app (to tamper, or to break it on purpose).
    pub fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let mut conn = diesel::SqliteConnection::establish(path).expect("open sqlite");
                conn.batch_execute("PRAGMA busy_timeout = 5000").unwrap();
                conn.batch_execute(sql).expect("execute sql");
            }
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url).expect("open postgres");
                conn.batch_execute(sql).expect("execute sql");
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// One whole number from the database (the query names it `value`), read from outside the
    /// app: for what the storage API does not show.
    pub fn scalar(&self, sql: &str) -> i64 {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Scalar {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            value: i64,
        }
        let rows: Vec<Scalar> = match self.backend {
            Backend::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let mut conn = diesel::SqliteConnection::establish(path).expect("open sqlite");
                conn.batch_execute("PRAGMA busy_timeout = 5000").unwrap();
                diesel::sql_query(sql)
                    .load(&mut conn)
                    .expect("the query runs")
            }
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url).expect("open postgres");
                diesel::sql_query(sql)
                    .load(&mut conn)
                    .expect("the query runs")
            }
        };
        rows.first().expect("a row").value
    }

    /// Makes a PostgreSQL database refuse connections and ends the ones it has (an outage the
    /// database comes back from), or lets it accept them again.
    pub fn set_reachable(&self, reachable: bool) {
        assert_eq!(
            self.backend,
            Backend::Postgres,
            "only PostgreSQL can be made unreachable"
        );
        let mut conn = PgConnection::establish(&admin_url()).expect("PostgreSQL answers");
        conn.batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS {reachable}",
            self.name
        ))
        .expect("alter database");
        if !reachable {
            conn.batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                self.name
            ))
            .expect("terminate backends");
        }
    }

    /// Drops a PostgreSQL database now, connections and all (to simulate an outage).
    pub fn drop_now(&self) {
        if self.backend == Backend::Postgres {
            let mut conn = PgConnection::establish(&admin_url()).expect("PostgreSQL answers");
            let _ = conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.drop_now();
    }
}

fn rand_suffix() -> u32 {
    rand::random::<u32>()
}

/// A running app and a client with one method per endpoint.
pub struct TestApp {
    pub address: String,
    pub db: TestDatabase,
    pub client: reqwest::Client,
}

/// The configuration every test app starts from; tests may add sources or change auth.
pub fn base_config() -> String {
    format!(
        "listen = \"127.0.0.1:0\"\n\n[auth]\nquery_param = \"secure\"\nquery_values = [\"{SECRET}\"]\n"
    )
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &base_config()).await
}

pub fn settings_for(db: &TestDatabase, config_text: &str) -> Settings {
    let file = config::parse(config_text).expect("test config parses");
    let mut settings = config::resolve(file).expect("test config is valid");
    settings.database_url = db.url.clone();
    settings
}

pub async fn spawn_app_with(backend: Backend, config_text: &str) -> TestApp {
    let db = TestDatabase::new(backend);
    spawn_on(db, config_text).await
}

pub async fn spawn_on(db: TestDatabase, config_text: &str) -> TestApp {
    spawn_on_with_clock(db, config_text, Clock::system()).await
}

/// The app with its time taken from `clock` (receiving and what is derived when read).
pub async fn spawn_app_with_clock(backend: Backend, clock: Clock) -> TestApp {
    spawn_on_with_clock(TestDatabase::new(backend), &base_config(), clock).await
}

pub async fn spawn_on_with_clock(db: TestDatabase, config_text: &str, clock: Clock) -> TestApp {
    let settings = settings_for(&db, config_text);
    let (app, _) = Application::build_with_clock(settings, clock).expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        db,
        client: reqwest::Client::new(),
    }
}

/// Another app on the same database as `app`, with another configuration (as a restart with a
/// changed configuration would be); its address.
pub async fn spawn_beside(app: &TestApp, config_text: &str) -> String {
    let file = config::parse(config_text).expect("test config parses");
    let mut settings = config::resolve(file).expect("test config is valid");
    settings.database_url = app.db.url.clone();
    let (beside, _) = Application::build(settings).expect("the app starts");
    let address = format!("http://127.0.0.1:{}", beside.port());
    actix_web::rt::spawn(beside.run_until_stopped());
    address
}

/// Refused requests are counted in memory and written about once a second: waits (at most 10
/// s) until the table holds at least `rows` rows, and returns the newest 100.
pub async fn refusals_recorded(
    app: &TestApp,
    rows: usize,
) -> Vec<postback_ledger::storage::auth_failures::AuthFailureRow> {
    let db = postback_ledger::storage::Database::connect(&app.db.url).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found =
            postback_ledger::storage::auth_failures::recent(&mut db.conn().unwrap(), 100).unwrap();
        if found.len() >= rows || std::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `Set-Cookie` line of this cookie in a response.
pub fn cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// `name=value` of a `Set-Cookie` line, as a `Cookie` header sends it back.
pub fn value_of(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The CSRF token of the first form of a page.
pub fn csrf_in(page: &str) -> String {
    let start =
        page.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// A fresh login form: its nonce cookie (as `name=value`) and its CSRF token.
pub async fn login_form(client: &reqwest::Client, address: &str) -> (String, String) {
    let form = client.get(format!("{address}/login")).send().await.unwrap();
    let nonce = value_of(&cookie_of(&form, "postback_ledger_login").expect("a login nonce cookie"));
    let csrf = csrf_in(&form.text().await.unwrap());
    (nonce, csrf)
}

/// Signs in with a fresh form; the response (303 with the session cookie when it worked).
pub async fn sign_in(
    client: &reqwest::Client,
    address: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let (nonce, csrf) = login_form(client, address).await;
    client
        .post(format!("{address}/login"))
        .header("cookie", nonce)
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

/// What a postback request got back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub outcome: Option<String>,
    pub delivery_id: Option<i64>,
    pub body: String,
}

impl TestApp {
    async fn answer(response: reqwest::Response) -> Answer {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let outcome = header("x-delivery-outcome");
        let delivery_id = header("x-delivery-id").and_then(|id| id.parse().ok());
        Answer {
            status: response.status().as_u16(),
            outcome,
            delivery_id,
            body: response.text().await.unwrap_or_default(),
        }
    }

    /// GET /postbacks/{source}?secure=…&{query}
    pub async fn get_postback(&self, source: &str, query: &str) -> Answer {
        let url = format!(
            "{}/postbacks/{source}?secure={SECRET}&{query}",
            self.address
        );
        Self::answer(self.client.get(url).send().await.expect("request sent")).await
    }

    /// POST /postbacks/{source}?secure=… with a body and content type.
    pub async fn post_postback(
        &self,
        source: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        self.post_postback_to(
            &format!("{}/postbacks/{source}?secure={SECRET}", self.address),
            content_type,
            body,
        )
        .await
    }

    pub async fn post_postback_to(
        &self,
        url: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let mut request = self.client.post(url).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        Self::answer(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent");
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    }

    /// GET /api/actions/{id} as JSON; None on 404.
    pub async fn action(&self, action_id: &str) -> Option<serde_json::Value> {
        let (status, body) = self.get(&format!("/api/actions/{action_id}")).await;
        match status {
            200 => Some(serde_json::from_str(&body).expect("JSON")),
            404 => None,
            other => panic!("GET /api/actions/{action_id} answered {other}: {body}"),
        }
    }

    pub async fn actions(&self, query: &str) -> serde_json::Value {
        let (status, body) = self.get(&format!("/api/actions?{query}")).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON")
    }

    /// GET a JSON API path that must answer 200 or 404; None on 404.
    pub async fn json(&self, path: &str) -> Option<serde_json::Value> {
        let (status, body) = self.get(path).await;
        match status {
            200 => Some(serde_json::from_str(&body).expect("JSON")),
            404 => None,
            other => panic!("GET {path} answered {other}: {body}"),
        }
    }

    /// GET /api/inquiries/{id} as JSON; None on 404.
    pub async fn inquiry(&self, inquiry_id: &str) -> Option<serde_json::Value> {
        self.json(&format!("/api/inquiries/{inquiry_id}")).await
    }

    pub async fn inquiries(&self, query: &str) -> serde_json::Value {
        self.json(&format!("/api/inquiries?{query}"))
            .await
            .expect("a page")
    }

    /// POST a fixture from tests/fixtures as JSON.
    pub async fn post_fixture(&self, source: &str, fixture: &str) -> Answer {
        let body = std::fs::read(format!(
            "{}/tests/fixtures/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture exists");
        self.post_postback(source, Some("application/json"), body)
            .await
    }

    /// Runs the real binary against this app's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        cli_on(&self.db.url, args)
    }
}

pub fn cli_on(database_url: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_postback-ledger"))
        .args(args)
        .env("POSTBACK_LEDGER_DATABASE_URL", database_url)
        .env_remove("POSTBACK_LEDGER_CONFIG")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the binary runs")
}

/// Declares a test that runs once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident: Backend) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(#[$meta])*
            async fn run($backend: $crate::helpers::Backend) $body

            #[actix_web::test]
            async fn on_sqlite() {
                run($crate::helpers::Backend::Sqlite).await;
            }

            #[actix_web::test]
            async fn on_postgres() {
                if $crate::helpers::postgres_available() {
                    run($crate::helpers::Backend::Postgres).await;
                }
            }
        }
    };
}
