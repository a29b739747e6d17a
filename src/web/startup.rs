//! Builds the application from settings: database, credentials, writer, HTTP server.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::config::{LOOPBACK_HOSTS, Readers, Responses, Settings, Testing, host_name};
use crate::domain::clock::Clock;
use crate::intake::auth::{AuthPolicy, BearerTokens, generate_secret};
use crate::intake::delivery::Source;
use crate::intake::redact::Redactor;
use crate::ledger::refusals::Refusals;
use crate::ledger::writer::{DEFAULT_MAX_BATCH, DEFAULT_QUEUE_CAPACITY, POSTGRES_WRITERS, Writer};
use crate::storage::{Backend, Database, sessions, settings as stored_settings, to_db_time};
use crate::web::access::{self, ReaderAccess};
use crate::web::limits;
use crate::web::login::{self, LoginGuard};
use crate::web::pages;
use crate::web::request_log::log_request;
use crate::web::routes::{api, exports, health, postbacks};
use crate::web::session::{SessionKey, login_fingerprint};

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
    /// The sign-ins' backoff and turns.
    pub login: LoginGuard,
    /// Refused postbacks, counted and written in batches.
    pub refusals: Refusals,
    /// The one masking rule for secrets, for what the pages and the API show of deliveries.
    pub redactor: Arc<Redactor>,
    pub max_body_bytes: usize,
    /// How long a postback's whole body may take to arrive.
    pub body_timeout: Duration,
    pub testing: Testing,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// "Now" for receiving and for what is derived at read time (approved/locked).
    pub clock: Clock,
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
        let (mut sources, credentials) = receivers(&settings, &db)?;
        // One masking rule for every source, the generated secret included.
        let redactor = Arc::new(Redactor::new(
            sources.values().map(|receiver| &receiver.source.auth),
            &settings.metrics.bearer_tokens,
        ));
        for receiver in sources.values_mut() {
            receiver.source.redactor = redactor.clone();
        }
        let listener = TcpListener::bind(&settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let bound = listener.local_addr()?;
        let port = bound.port();
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
            let fresh = hex::encode(rand::random::<[u8; 32]>());
            let stored = stored_settings::get_or_insert(
                &mut conn,
                SESSION_KEY,
                &fresh,
                to_db_time(chrono::Utc::now()),
            )?;
            // A changed password (or username, or no login any more) ends the sessions of the
            // login before.
            let ended = sessions::delete_other_logins(&mut conn, fingerprint.as_deref())?;
            if ended > 0 {
                tracing::info!(
                    ended,
                    "sessions of a login that is no longer configured were ended"
                );
            }
            SessionKey::new(hex::decode(stored).context("the stored session key is not hex")?)
        };
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
            login: LoginGuard::default(),
            refusals: refusals.clone(),
            redactor,
            max_body_bytes: settings.max_body_bytes,
            body_timeout: Duration::from_secs(settings.body_timeout_seconds),
            testing: settings.testing.clone(),
            metrics: crate::telemetry::metrics::install(),
            clock,
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
                        .service(api::deliveries)
                        .service(api::delivery)
                        .service(pages::statement::statement)
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
                refusals,
                refusals_thread,
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
