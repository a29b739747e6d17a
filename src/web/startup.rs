//! Builds the application from settings: database, credentials, writer, HTTP server.

use std::collections::HashMap;
use std::net::TcpListener;
use std::thread::JoinHandle;

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::config::{Responses, Settings, Testing};
use crate::domain::clock::Clock;
use crate::intake::auth::{AuthPolicy, BearerTokens, generate_secret};
use crate::intake::delivery::Source;
use crate::ledger::writer::{DEFAULT_MAX_BATCH, DEFAULT_QUEUE_CAPACITY, POSTGRES_WRITERS, Writer};
use crate::storage::{Backend, Database, settings as stored_settings, to_db_time};
use crate::web::access::{self, ReaderAccess};
use crate::web::limits;
use crate::web::pages;
use crate::web::request_log::log_request;
use crate::web::routes::{api, exports, health, postbacks};
use crate::web::session::SessionKey;

/// The generated query secret, kept in the settings table.
pub const SECRET_KEY: &str = "postback_secret";
/// The secret it replaced, still accepted after `token rotate --keep-old`.
pub const PREVIOUS_SECRET_KEY: &str = "postback_secret_previous";
/// The query parameter a generated secret travels in (impact.com's own example).
pub const SECRET_PARAM: &str = "secure";

/// A source with its compiled credentials.
pub struct Receiver {
    pub source: Source,
    pub policy: AuthPolicy,
}

/// What every request handler shares.
pub struct AppState {
    pub db: Database,
    pub writer: Writer,
    pub sources: HashMap<String, Receiver>,
    pub responses: Responses,
    pub access: ReaderAccess,
    pub testing: Testing,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// "Now" for receiving and for what is derived at read time (approved/locked).
    pub clock: Clock,
    /// The statement's zone and automatic closing.
    pub statement: crate::config::StatementSettings,
}

/// The key signing dashboard sessions, shared by every instance through the database.
pub const SESSION_KEY: &str = "session_key";

/// Every page and API answer carries these: no inline script, no framing, no sniffing; the
/// pages' script may fetch only from here (live.js refreshing the deliveries log).
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Frame-Options", "DENY"))
}

pub struct Application {
    server: Server,
    port: u16,
    writer_thread: JoinHandle<()>,
}

/// What the first start tells the person running it.
pub struct Credentials {
    /// Set when this start generated the secret: the only time it is printed unasked.
    pub generated: Option<String>,
    /// Sources that use the stored secret.
    pub sources: Vec<String>,
}

impl Application {
    pub fn build(settings: Settings) -> anyhow::Result<(Application, Credentials)> {
        Application::build_with_clock(settings, Clock::system())
    }

    /// As `build`, with the time taken from `clock` (tests pass a fixed one).
    pub fn build_with_clock(
        settings: Settings,
        clock: Clock,
    ) -> anyhow::Result<(Application, Credentials)> {
        let db = Database::connect(&settings.database_url)?;
        let applied = db.migrate()?;
        if applied > 0 {
            tracing::info!(
                applied,
                backend = db.backend().as_str(),
                "migrations applied"
            );
        }
        let (sources, credentials) = receivers(&settings, &db)?;
        let listener = TcpListener::bind(&settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let key = {
            let mut conn = db.conn()?;
            let fresh = hex::encode(rand::random::<[u8; 32]>());
            let stored = stored_settings::get_or_insert(
                &mut conn,
                SESSION_KEY,
                &fresh,
                to_db_time(chrono::Utc::now()),
            )?;
            SessionKey::new(hex::decode(stored).context("the stored session key is not hex")?)
        };
        // The write path books each fact in the statement month of the configured zone.
        stored_settings::put(
            &mut *db.conn()?,
            crate::storage::closed_months::TIME_ZONE_SETTING,
            settings.statement.time_zone.name(),
            to_db_time(chrono::Utc::now()),
        )?;
        let writers = match db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => POSTGRES_WRITERS,
        };
        let (writer, writer_thread) = Writer::start(
            db.clone(),
            DEFAULT_QUEUE_CAPACITY,
            DEFAULT_MAX_BATCH,
            writers,
        );
        if let Some(days) = settings.retention.raw_days {
            crate::ledger::retention::prune_daily(db.clone(), days);
        }
        if let Some(days) = settings.statement.close_after_days {
            crate::ledger::close::close_periodically(
                db.clone(),
                settings.statement.time_zone,
                days,
                clock.clone(),
            );
        }
        let state = web::Data::new(AppState {
            db,
            writer,
            sources,
            responses: settings.responses.clone(),
            access: ReaderAccess {
                login: settings.dashboard.clone(),
                key,
                metrics_tokens: BearerTokens::new(&settings.metrics.bearer_tokens)
                    .context("[metrics]")?,
            },
            testing: settings.testing.clone(),
            metrics: crate::telemetry::metrics::install(),
            clock,
            statement: settings.statement,
        });
        let max_body = settings.max_body_bytes;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(max_body))
                .wrap(from_fn(limits::limit_request_head))
                .wrap(security_headers())
                .wrap(from_fn(log_request))
                .service(health::healthz)
                .service(health::readyz)
                .service(access::login_page)
                .service(access::login)
                .service(access::stylesheet)
                .service(access::live_script)
                .service(crate::web::metrics::render)
                .route("/postbacks/{source}", web::get().to(postbacks::receive))
                .route("/postbacks/{source}", web::post().to(postbacks::receive))
                // Everything else shows the ledger: behind the reader guard. Last, since an
                // empty scope matches every path.
                .service(
                    web::scope("")
                        .wrap(from_fn(access::require_reader))
                        .service(pages::overview::overview)
                        .service(pages::actions::actions)
                        .service(pages::actions::action)
                        .service(pages::actions::mark_reviewed)
                        .service(access::logout)
                        .service(api::action)
                        .service(api::actions)
                        .service(api::summary)
                        .service(api::inquiry)
                        .service(api::inquiries)
                        .service(api::catalog_items)
                        .service(api::job)
                        .service(api::tracking_values)
                        .service(pages::inquiries::inquiries)
                        .service(pages::inquiries::inquiry)
                        .service(pages::deliveries::log)
                        .service(pages::deliveries::show)
                        .service(pages::deliveries::reprocess)
                        .service(api::deliveries)
                        .service(api::delivery)
                        .service(pages::statement::statement)
                        .service(pages::statement::close)
                        .service(api::statement)
                        .service(exports::actions)
                        .service(exports::ledger)
                        .service(exports::statement),
                )
        })
        // A client that has not sent its request head in time is dropped (slowloris).
        .client_request_timeout(std::time::Duration::from_secs(5))
        .client_disconnect_timeout(std::time::Duration::from_secs(2))
        .listen(listener)?
        .run();
        Ok((
            Application {
                server,
                port,
                writer_thread,
            },
            credentials,
        ))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM; in-flight requests finish and the writer drains its queue
    /// before this returns, so nothing acknowledged is lost.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await?;
        let writer = self.writer_thread;
        tokio::task::spawn_blocking(move || writer.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
        Ok(())
    }
}

/// Compiles each source's credentials. A source with none configured (and not explicitly open)
/// gets the stored query secret, generated on first start, so a receiver never runs open.
fn receivers(
    settings: &Settings,
    db: &Database,
) -> anyhow::Result<(HashMap<String, Receiver>, Credentials)> {
    let mut credentials = Credentials {
        generated: None,
        sources: Vec::new(),
    };
    let mut stored: Option<Vec<String>> = None;
    let mut receivers = HashMap::new();
    for source in settings.sources.values() {
        let mut source = source.clone();
        let policy = AuthPolicy::from_config(&source.auth)?;
        let policy = if policy.has_credentials() || policy.is_open() {
            policy
        } else {
            if stored.is_none() {
                let (values, generated) = stored_secrets(db)?;
                credentials.generated = generated;
                stored = Some(values);
            }
            source.auth.query_param = Some(SECRET_PARAM.to_owned());
            source.auth.query_values = stored.clone().unwrap_or_default();
            credentials.sources.push(source.name.clone());
            AuthPolicy::from_config(&source.auth)?
        };
        receivers.insert(source.name.clone(), Receiver { source, policy });
    }
    Ok((receivers, credentials))
}

/// The stored secrets (current first), generating one if there is none yet.
pub fn stored_secrets(db: &Database) -> anyhow::Result<(Vec<String>, Option<String>)> {
    let mut conn = db.conn()?;
    let mut generated = None;
    let current = match stored_settings::get(&mut conn, SECRET_KEY)? {
        Some(secret) => secret,
        None => {
            let fresh = generate_secret();
            let now = to_db_time(chrono::Utc::now());
            let secret = stored_settings::get_or_insert(&mut conn, SECRET_KEY, &fresh, now)?;
            generated = (secret == fresh).then(|| secret.clone());
            secret
        }
    };
    let mut values = vec![current];
    values.extend(
        stored_settings::get(&mut conn, PREVIOUS_SECRET_KEY)?.filter(|value| !value.is_empty()),
    );
    Ok((values, generated))
}
