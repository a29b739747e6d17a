//! Builds the application from settings: database, credentials, writer, HTTP server.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::config::{LOOPBACK_HOSTS, PublicBase, Readers, Responses, Settings, Testing, host_name};
use crate::domain::clock::Clock;
use crate::intake::auth::{BearerTokens, generate_secret};
use crate::intake::template::{self, Setup};
use crate::ledger::refusals::Refusals;
use crate::ledger::writer::{DEFAULT_MAX_BATCH, DEFAULT_QUEUE_CAPACITY, POSTGRES_WRITERS, Writer};
use crate::storage::{Backend, Database, sessions, settings as stored_settings, to_db_time};
use crate::web::access::{self, ReaderAccess};
use crate::web::limits;
use crate::web::login::{self, LoginGuard};
use crate::web::pages;
use crate::web::receivers::{self, Receivers};
use crate::web::request_log::log_request;
use crate::web::routes::{api, exports, health, postbacks};
use crate::web::session::{SessionKey, login_fingerprint};

/// The generated query secret, kept in the settings table.
pub const SECRET_KEY: &str = "postback_secret";
/// The secret it replaced, still accepted after `token rotate --keep-old`.
pub const PREVIOUS_SECRET_KEY: &str = "postback_secret_previous";
/// The query parameter a generated secret travels in (impact.com's own example).
pub const SECRET_PARAM: &str = "secure";

pub use crate::web::receivers::Receiver;

/// Set once the first start has printed what to paste into impact.com.
pub const SETUP_SHOWN_KEY: &str = "setup_shown";

/// What every request handler shares.
pub struct AppState {
    pub db: Database,
    pub writer: Writer,
    /// The sources, recompiled when the stored secret is rotated.
    pub sources: Arc<Receivers>,
    pub responses: Responses,
    pub access: ReaderAccess,
    pub testing: Testing,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// "Now" for receiving and for what is derived at read time (approved/locked).
    pub clock: Clock,
    /// The base of the URLs the setup page shows.
    pub public_base: PublicBase,
    /// Empty postbacks: warned about once per source, each its own delivery up to a bound.
    pub empty_postbacks: crate::web::empty_postbacks::EmptyPostbacks,
    pub filter_choices: crate::web::choices::FilterChoices,
    /// The sign-ins' backoff and turns.
    pub login: LoginGuard,
    /// Refused postbacks, counted and written in batches.
    pub refusals: Refusals,
    pub max_body_bytes: usize,
    /// How long a postback's whole body may take to arrive.
    pub body_timeout: Duration,
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
    refusals: Refusals,
    refusals_thread: JoinHandle<()>,
    /// The cross-check's schedule (`[networks.impact] sync_every`); stops when this is dropped.
    _cross_check: Option<crate::network::schedule::Schedule>,
}

/// What the first start tells the person running it.
pub struct Credentials {
    /// Set when this start generated the secret: the only time it is printed unasked.
    pub generated: Option<String>,
    /// Sources that use the stored secret.
    pub sources: Vec<String>,
    /// What to paste into impact.com for every source, under `public_base`.
    pub setups: Vec<Setup>,
    pub public_base: PublicBase,
    /// No start before this one printed the setup (the database is new to it).
    pub first_start: bool,
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
        let listener = TcpListener::bind(&settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let bound = listener.local_addr()?;
        let port = bound.port();
        let public_base = settings.public_base(Some(port));
        let (sources, credentials) = receivers(&settings, &db, &public_base)?;
        let readers = readers_of(&settings, bound);
        if !bound.ip().is_loopback() {
            tracing::warn!(
                listen = %bound,
                login = settings.dashboard.is_some(),
                "listening beyond loopback: the dashboard, the API and the exports answer only to the login ([dashboard] username and password_hash), /metrics only to a bearer token ([metrics] bearer_tokens)"
            );
        }
        let fingerprint = settings
            .dashboard
            .as_ref()
            .map(|login| login_fingerprint(&login.username, &login.password_hash));
        let key = {
            let mut conn = db.conn()?;
            // A changed password (or username, or no login any more) ends the sessions of the
            // login before.
            let ended = sessions::delete_other_logins(&mut conn, fingerprint.as_deref())?;
            if ended > 0 {
                tracing::info!(
                    ended,
                    "sessions of a login that is no longer configured were ended"
                );
            }
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
        let (refusals, refusals_thread) = Refusals::start(db.clone());
        if sources.use_stored_secret() {
            receivers::watch_stored_secret(sources.clone(), db.clone());
        }
        let webhook = settings
            .alerts
            .webhook_url
            .clone()
            .map(crate::alerts::webhook::Webhook::start);
        crate::alerts::Watcher::new(
            db.clone(),
            settings.alerts.clone(),
            sources.names(),
            clock.clone(),
        )
        .spawn(webhook, settings.public_url.clone());
        if let Some(days) = settings.statement.close_after_days {
            crate::ledger::close::close_periodically(
                db.clone(),
                settings.statement.time_zone,
                days,
                clock.clone(),
            );
        }
        let cross_check = crate::network::schedule::start(&settings, db.clone(), clock.clone());
        let state = web::Data::new(AppState {
            db,
            writer,
            sources,
            responses: settings.responses.clone(),
            access: ReaderAccess {
                login: settings.dashboard.clone(),
                login_fingerprint: fingerprint,
                key,
                metrics_tokens: BearerTokens::new(&settings.metrics.bearer_tokens)
                    .context("[metrics]")?,
                hosts: readers.hosts,
                trust_loopback: readers.trust_loopback && bound.ip().is_loopback(),
                secure_cookies: readers.secure_cookies,
                trusted_proxies: readers.trusted_proxies,
                listen: bound,
            },
            testing: settings.testing.clone(),
            metrics: crate::telemetry::metrics::install(),
            clock,
            public_base,
            empty_postbacks: crate::web::empty_postbacks::EmptyPostbacks::default(),
            filter_choices: crate::web::choices::FilterChoices::default(),
            login: LoginGuard::default(),
            refusals: refusals.clone(),
            max_body_bytes: settings.max_body_bytes,
            body_timeout: Duration::from_secs(settings.body_timeout_seconds),
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
                .service(login::login_page)
                .service(login::login)
                .service(access::stylesheet)
                .service(access::live_script)
                .service(pages::setup::script)
                .service(crate::web::metrics::render)
                .route("/postbacks/{source}", web::get().to(postbacks::receive))
                .route("/postbacks/{source}", web::post().to(postbacks::receive))
                // Everything else shows the ledger: behind the reader guard. Last, since an
                // empty scope matches every path.
                .service(
                    web::scope("")
                        .wrap(from_fn(access::require_reader))
                        .service(pages::overview::overview)
                        .service(pages::setup::setup)
                        .service(pages::setup::status)
                        .service(pages::actions::actions)
                        .service(pages::actions::action)
                        .service(pages::actions::mark_reviewed)
                        .service(login::logout)
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
                        .service(pages::deliveries::dismiss)
                        .service(pages::deliveries::undismiss)
                        .service(api::deliveries)
                        .service(api::delivery)
                        .service(pages::statement::statement)
                        .service(pages::statement::close)
                        .service(api::statement)
                        .service(exports::actions)
                        .service(exports::ledger)
                        .service(exports::statement)
                        .configure(crate::web::routes::cross_check::configure),
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
                refusals,
                refusals_thread,
                _cross_check: cross_check,
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
        self.refusals.stop();
        let refusals = self.refusals_thread;
        tokio::task::spawn_blocking(move || refusals.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the refusal recorder panicked"))?;
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
    public_base: &PublicBase,
) -> anyhow::Result<(Arc<Receivers>, Credentials)> {
    let (stored, generated) = if receivers::need_stored_secret(settings)? {
        stored_secrets(db)?
    } else {
        (Vec::new(), None)
    };
    let sources = Arc::new(Receivers::new(
        settings.sources.clone(),
        stored,
        settings.metrics.bearer_tokens.clone(),
    )?);
    let setups = sources
        .all()
        .iter()
        .map(|receiver| {
            template::for_source(
                &receiver.source,
                &public_base.url,
                &settings.responses.success,
                &settings.responses.error,
            )
        })
        .collect();
    let first_start = {
        let mut conn = db.conn()?;
        let mark = hex::encode(rand::random::<[u8; 16]>());
        let stored = stored_settings::get_or_insert(
            &mut conn,
            SETUP_SHOWN_KEY,
            &mark,
            to_db_time(chrono::Utc::now()),
        )?;
        stored == mark
    };
    let credentials = Credentials {
        generated,
        sources: sources
            .all()
            .iter()
            .filter(|receiver| receiver.stored_secret)
            .map(|receiver| receiver.source.name.clone())
            .collect(),
        setups,
        public_base: public_base.clone(),
        first_start,
    };
    Ok((sources, credentials))
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

/// The dashboard's readers as this server binds: the configured hosts plus the loopback names
/// and the listen address (its host as written, and the address bound).
fn readers_of(settings: &Settings, bound: SocketAddr) -> Readers {
    let mut readers = settings.readers.clone();
    let mut hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|host| host.to_string()).collect();
    if !bound.ip().is_unspecified() {
        hosts.push(bound.ip().to_string());
    }
    if let Some(listen_host) = host_name(&settings.listen).filter(|host| {
        host.parse::<std::net::IpAddr>()
            .map_or(true, |ip| !ip.is_unspecified())
    }) {
        hosts.push(listen_host);
    }
    hosts.append(&mut readers.hosts);
    hosts.sort();
    hosts.dedup();
    readers.hosts = hosts;
    readers
}
