//! The configuration: one TOML file plus environment overrides, validated before anything starts.

pub mod networks;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::IpNet;

use serde::Deserialize;

use crate::domain::alert::Rules as AlertRules;
use crate::domain::clock::parse_duration;
use crate::domain::event::{ActionEvent, MarkerField, SourceKind};
use crate::intake::auth::{AuthConfig, AuthConfigError, AuthPolicy, BearerTokens, parse_networks};
use crate::intake::delivery::Source;
use crate::intake::mapping::Mapping;
use crate::intake::redact::Redactor;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://postback-ledger.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_CONFIG_FILE: &str = "postback-ledger.toml";
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;
/// How long a postback's whole body may take to arrive.
pub const DEFAULT_BODY_TIMEOUT_SECONDS: u64 = 10;
/// The host names the dashboard always answers to (besides the listen address and `hosts`).
pub const LOOPBACK_HOSTS: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// The file as written. Every table rejects keys it does not know.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<String>,
    pub listen: Option<String>,
    /// The address impact.com reaches the receiver at (`https://postbacks.example.com`): the
    /// base of every URL printed or shown.
    pub public_url: Option<String>,
    /// `false`: serve only the configured `[sources]`; otherwise they add to the defaults.
    pub default_sources: Option<bool>,
    pub max_body_bytes: Option<usize>,
    /// Seconds a postback's whole body may take to arrive (10 when unset).
    pub body_timeout_seconds: Option<u64>,
    #[serde(default)]
    pub responses: Responses,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// Who may read the dashboard, the JSON API and the exports: the login (without it they
    /// answer only to loopback clients, and only when the server listens on loopback), the
    /// host names they answer to, and how to tell a proxy.
    #[serde(default)]
    pub dashboard: DashboardConfig,
    #[serde(default)]
    pub testing: Testing,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub metrics: MetricsAccess,
    #[serde(default)]
    pub alerts: AlertsFile,
    #[serde(default)]
    pub statement: StatementConfig,
    /// The networks whose own records the ledger is checked against.
    #[serde(default)]
    pub networks: networks::NetworksFile,
}

/// `[alerts]` as written: silence and trouble alerts, and where they are sent.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsFile {
    /// Receives `{"text": "…"}` POSTs (a Slack incoming webhook's shape), plain HTTP.
    pub webhook_url: Option<String>,
    /// The default `alert_after` of every source that sets none.
    pub alert_after: Option<String>,
    /// How often the alerts are evaluated (default 1m).
    pub check_every: Option<String>,
    /// The window the rates are measured over (default 1h).
    pub window: Option<String>,
    /// Share of deliveries quarantined, 0 to 1, that alerts (default 0.5; 0 turns it off).
    pub quarantine_rate: Option<f64>,
    /// Share of requests refused, 0 to 1, that alerts (default 0.5; 0 turns it off).
    pub auth_failure_rate: Option<f64>,
    /// The least requests in the window for a rate to count (default 10).
    pub min_requests: Option<u32>,
}

impl std::fmt::Debug for AlertsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertsFile")
            .field(
                "webhook_url",
                &self.webhook_url.as_ref().map(|_| "<redacted>"),
            )
            .field("alert_after", &self.alert_after)
            .field("check_every", &self.check_every)
            .field("window", &self.window)
            .field("quarantine_rate", &self.quarantine_rate)
            .field("auth_failure_rate", &self.auth_failure_rate)
            .field("min_requests", &self.min_requests)
            .finish()
    }
}

/// The alerts, resolved.
#[derive(Clone)]
pub struct Alerts {
    /// A webhook URL carries its own secret (Slack's does): never printed or logged.
    pub webhook_url: Option<String>,
    pub check_every: std::time::Duration,
    pub rules: AlertRules,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            webhook_url: None,
            check_every: std::time::Duration::from_secs(60),
            rules: AlertRules::default(),
        }
    }
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts")
            .field(
                "webhook_url",
                &self.webhook_url.as_ref().map(|_| "<redacted>"),
            )
            .field("check_every", &self.check_every)
            .field("rules", &self.rules)
            .finish()
    }
}

/// How test conversions are recognised: `send-test` puts `marker_value` into `marker_field` of
/// every event it sends, and an action whose event carries it is stored as a test, kept out of
/// finance's lists unless asked for.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Testing {
    /// A canonical id field of `action_lifecycle`: shared_id, sub_id1–3, order_id, click_id or
    /// promo_code.
    pub marker_field: MarkerField,
    pub marker_value: String,
}

impl Default for Testing {
    fn default() -> Self {
        Testing {
            marker_field: MarkerField::SharedId,
            marker_value: "postback-ledger-test".into(),
        }
    }
}

impl Testing {
    /// True when the event carries the marker (an empty marker marks nothing).
    pub fn marks(&self, event: &ActionEvent) -> bool {
        let value = match self.marker_field {
            MarkerField::SharedId => &event.details.shared_id,
            MarkerField::SubId1 => &event.details.sub_id1,
            MarkerField::SubId2 => &event.details.sub_id2,
            MarkerField::SubId3 => &event.details.sub_id3,
            MarkerField::OrderId => &event.details.order_id,
            MarkerField::ClickId => &event.details.click_id,
            MarkerField::PromoCode => &event.details.promo_code,
        };
        !self.marker_value.is_empty() && value.as_deref() == Some(self.marker_value.as_str())
    }
}

/// How long raw payloads are kept. Without `raw_days`, forever.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// `serve` prunes raw payloads of deliveries older than this many days, at start and daily.
    pub raw_days: Option<u32>,
}

/// The statement's calendar: the zone its months follow and when months close by themselves.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StatementConfig {
    /// An IANA zone name (`America/Los_Angeles`); UTC when absent.
    pub time_zone: Option<String>,
    /// Close each month this many days after it ends.
    pub close_after_days: Option<u32>,
}

/// `[statement]` resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementSettings {
    pub time_zone: chrono_tz::Tz,
    pub close_after_days: Option<u32>,
}

impl Default for StatementSettings {
    fn default() -> Self {
        StatementSettings {
            time_zone: chrono_tz::Tz::UTC,
            close_after_days: None,
        }
    }
}

/// Who may scrape `/metrics` from elsewhere than this machine (loopback clients always may).
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsAccess {
    /// Accepted as `Authorization: Bearer <token>`; plaintext or `sha256:<hex>`.
    pub bearer_tokens: Vec<String>,
}

impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsAccess")
            .field(
                "bearer_tokens",
                &format!("<{} redacted>", self.bearer_tokens.len()),
            )
            .finish()
    }
}

/// The `[dashboard]` table as written.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    pub username: Option<String>,
    /// An argon2 PHC string from `postback-ledger hash-password`; never the password itself.
    pub password_hash: Option<String>,
    /// Host names (the `Host` header, port aside) the dashboard answers to besides the loopback
    /// names and the listen address: the name a proxy or a browser uses to reach it.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Whether a loopback client with no forwarding header reads without the login when no
    /// login is configured (default true; only ever when the listener is bound to loopback).
    pub trust_loopback: Option<bool>,
    /// Set the `Secure` flag on the session cookies (default false: set it when the dashboard
    /// is reached over HTTPS, or let a trusted proxy say so with `X-Forwarded-Proto: https`).
    pub secure_cookies: Option<bool>,
    /// Peers (proxies) whose `X-Forwarded-For` and `X-Forwarded-Proto` the dashboard believes.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

impl std::fmt::Debug for DashboardConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardConfig")
            .field("username", &self.username)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("hosts", &self.hosts)
            .field("trust_loopback", &self.trust_loopback)
            .field("secure_cookies", &self.secure_cookies)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

/// Who may read, resolved: everything of `[dashboard]` but the login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readers {
    /// Lowercase host names, without port, the configured ones only (the loopback names and the
    /// listen address are added when the server binds).
    pub hosts: Vec<String>,
    pub trust_loopback: bool,
    pub secure_cookies: bool,
    pub trusted_proxies: Vec<IpNet>,
}

/// The host part of a `Host` header value or a configured host: lowercase, without the port
/// and without an IPv6 literal's brackets. None when it is not a host name or address.
pub fn host_name(value: &str) -> Option<String> {
    let value = value.trim();
    let host = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        inside
    } else {
        match value.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => {
                if !is_port(port) {
                    return None;
                }
                host
            }
            // An IPv6 address written without brackets (a configured host may be).
            Some(_) => value,
            None => value,
        }
    };
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    valid.then(|| host.to_ascii_lowercase())
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Clone, PartialEq, Eq)]
pub struct DashboardLogin {
    pub username: String,
    /// An argon2 PHC string from `postback-ledger hash-password`; never the password itself.
    pub password_hash: String,
}

impl std::fmt::Debug for DashboardLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardLogin")
            .field("username", &self.username)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Responses {
    /// What impact.com's "Success Response" is set to.
    pub success: String,
    pub error: String,
}

impl Default for Responses {
    fn default() -> Self {
        Responses {
            success: "OK".into(),
            error: "ERROR".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub kind: SourceKind,
    /// canonical field = the partner's key
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// the partner's status word = normalized status
    #[serde(default)]
    pub statuses: BTreeMap<String, String>,
    /// Overrides the global `[auth]` for this source.
    pub auth: Option<AuthConfig>,
    /// Alert when no postback arrived for this long (`6h`), once the source has had one.
    pub alert_after: Option<String>,
}

/// The sources served beside the configured ones (unless `default_sources = false`), with
/// impact.com's field names.
const DEFAULT_SOURCES: &[(&str, SourceKind)] = &[
    ("actions", SourceKind::ActionLifecycle),
    ("inquiries", SourceKind::ActionInquiry),
    ("clearing", SourceKind::ActionClearing),
    ("products", SourceKind::ProductDataChange),
    ("jobs", SourceKind::CompletedJob),
    ("tracking-values", SourceKind::TrackingValueRequest),
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration in {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The configuration after defaults and overrides: what the program runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub listen: String,
    /// Validated, without a trailing slash.
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    pub body_timeout_seconds: u64,
    pub responses: Responses,
    pub auth: AuthConfig,
    pub sources: BTreeMap<String, Source>,
    pub dashboard: Option<DashboardLogin>,
    pub readers: Readers,
    pub testing: Testing,
    pub retention: Retention,
    pub metrics: MetricsAccess,
    pub alerts: Alerts,
    pub statement: StatementSettings,
    pub networks: networks::Networks,
    /// The file the settings came from, if any.
    pub file: Option<PathBuf>,
}

/// The base of the URLs to paste into impact.com, and what is wrong with it when it is only the
/// listen address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBase {
    /// No trailing slash.
    pub url: String,
    /// Set when `public_url` is not: why impact.com may not reach `url`, and what to do.
    pub warning: Option<String>,
}

impl Settings {
    /// `public_url`, else `http://` and the listen address (with `port`, the one actually
    /// bound, when listening on port 0).
    pub fn public_base(&self, port: Option<u16>) -> PublicBase {
        if let Some(url) = &self.public_url {
            return PublicBase {
                url: url.clone(),
                warning: None,
            };
        }
        let listen = match (self.listen.parse::<std::net::SocketAddr>(), port) {
            (Ok(mut address), Some(port)) => {
                address.set_port(port);
                address.to_string()
            }
            _ => self.listen.clone(),
        };
        let host = listen
            .parse::<std::net::SocketAddr>()
            .map(|address| address.ip())
            .ok();
        let why = match host {
            Some(ip) if ip.is_loopback() => {
                format!("{listen} is a loopback address, which impact.com cannot reach")
            }
            Some(ip) if ip.is_unspecified() => format!(
                "{listen} is a wildcard address (every interface), not one impact.com can reach"
            ),
            _ => format!(
                "{listen} is the listen address; impact.com needs the address it reaches this receiver at, with TLS"
            ),
        };
        PublicBase {
            url: format!("http://{listen}"),
            warning: Some(format!(
                "public_url is not set, so these URLs use {why}. Put a reverse proxy with TLS in front (see docs/setup.md) and set public_url = \"https://postbacks.example.com\" in the configuration file, or POSTBACK_LEDGER_PUBLIC_URL."
            )),
        }
    }
}

/// A public URL: http or https, a host, no query or fragment; kept without a trailing slash.
pub fn check_public_url(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text.trim()).map_err(|error| {
        format!("`{text}` is not a URL ({error}); say https://postbacks.example.com")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "`{text}` must be an http:// or https:// URL with a host, such as https://postbacks.example.com"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{text}` must not have a query or a fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn alerts_of(
    file: &AlertsFile,
    sources: &BTreeMap<String, Option<String>>,
) -> Result<Alerts, String> {
    let duration = |key: &str, text: &str| -> Result<chrono::Duration, String> {
        let duration = parse_duration(text).map_err(|error| format!("{key}: {error}"))?;
        if duration <= chrono::Duration::zero() {
            return Err(format!("{key}: `{text}` must be longer than zero"));
        }
        Ok(duration)
    };
    let rate = |key: &str, value: Option<f64>| -> Result<Option<f64>, String> {
        match value {
            None => Ok(Some(0.5)),
            Some(0.0) => Ok(None),
            Some(rate) if rate > 0.0 && rate <= 1.0 => Ok(Some(rate)),
            Some(rate) => Err(format!(
                "[alerts] {key}: {rate} is not a share between 0 and 1 (0.5 alerts when half are; 0 turns it off)"
            )),
        }
    };
    let mut alerts = Alerts::default();
    if let Some(url) = &file.webhook_url {
        let parsed = reqwest::Url::parse(url)
            .map_err(|error| format!("[alerts] webhook_url: not a URL ({error})"))?;
        if parsed.scheme() != "http" {
            return Err(
                "[alerts] webhook_url: this build sends plain HTTP only; give an http:// URL (for Slack, a relay in front of its https webhook: see docs/setup.md)".into(),
            );
        }
        alerts.webhook_url = Some(url.clone());
    }
    if let Some(text) = &file.check_every {
        alerts.check_every = duration("[alerts] check_every", text)?
            .to_std()
            .map_err(|_| "[alerts] check_every: too long".to_owned())?;
    }
    if let Some(text) = &file.window {
        alerts.rules.window = duration("[alerts] window", text)?;
    }
    alerts.rules.quarantine_rate = rate("quarantine_rate", file.quarantine_rate)?;
    alerts.rules.auth_failure_rate = rate("auth_failure_rate", file.auth_failure_rate)?;
    if let Some(min) = file.min_requests {
        alerts.rules.min_requests = i64::from(min.max(1));
    }
    let default_after = file
        .alert_after
        .as_deref()
        .map(|text| duration("[alerts] alert_after", text))
        .transpose()?;
    for (name, own) in sources {
        let after = match own {
            Some(text) => Some(duration(&format!("[sources.{name}] alert_after"), text)?),
            None => default_after,
        };
        if let Some(after) = after {
            alerts.rules.silence.insert(name.clone(), after);
        }
    }
    Ok(alerts)
}

/// Where to read from: `--config`, else `POSTBACK_LEDGER_CONFIG`, else `postback-ledger.toml` in
/// the working directory when it exists, else the built-in defaults.
pub fn load(explicit: Option<&Path>) -> Result<Settings, ConfigError> {
    let from_env = std::env::var_os("POSTBACK_LEDGER_CONFIG").map(PathBuf::from);
    let path = explicit.map(Path::to_path_buf).or(from_env).or_else(|| {
        let local = PathBuf::from(DEFAULT_CONFIG_FILE);
        local.exists().then_some(local)
    });
    let file = match &path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            parse(&text).map_err(|message| ConfigError::Syntax {
                path: path.clone(),
                message,
            })?
        }
        None => FileConfig::default(),
    };
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let mut settings = resolve(file)?;
    settings.file = path;
    if let Some(url) = env("POSTBACK_LEDGER_DATABASE_URL") {
        settings.database_url = url;
    }
    if let Some(listen) = env("POSTBACK_LEDGER_LISTEN") {
        settings.listen = listen;
    }
    if let Some(url) = env("POSTBACK_LEDGER_PUBLIC_URL") {
        settings.public_url = Some(check_public_url(&url).map_err(|error| {
            ConfigError::Invalid(format!("POSTBACK_LEDGER_PUBLIC_URL: {error}"))
        })?);
    }
    settings.networks.apply_env(env(networks::IMPACT_TOKEN_ENV));
    Ok(settings)
}

/// Gives every source one masking rule built from every source's credentials and the `/metrics`
/// tokens: a secret of one source sent to another is masked too. Called again when credentials
/// change (the generated secret is added at start).
pub fn share_redactor(sources: &mut BTreeMap<String, Source>, tokens: &[String]) {
    let redactor = Arc::new(Redactor::new(
        sources.values().map(|source| &source.auth),
        tokens,
    ));
    for source in sources.values_mut() {
        source.redactor = redactor.clone();
    }
}

/// toml's messages name the line, the column and the offending key.
pub fn parse(text: &str) -> Result<FileConfig, String> {
    toml::from_str(text).map_err(|error| error.to_string().trim_end().to_owned())
}

/// Applies defaults and checks everything that can be checked before start.
pub fn resolve(file: FileConfig) -> Result<Settings, ConfigError> {
    let invalid = ConfigError::Invalid;
    AuthPolicy::from_config(&file.auth).map_err(|error| invalid(format!("[auth]: {error}")))?;
    let dashboard = file.dashboard.clone();
    let login = match (dashboard.username, dashboard.password_hash) {
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(invalid(
                "[dashboard]: username and password_hash go together; set both for a login, or neither".into(),
            ));
        }
        (Some(username), Some(password_hash)) => {
            if username.trim().is_empty() {
                return Err(invalid("[dashboard] username: must not be empty".into()));
            }
            if !crate::intake::auth::is_password_hash(&password_hash) {
                return Err(invalid(
                    "[dashboard] password_hash: not an argon2 hash; create one with `postback-ledger hash-password`".into(),
                ));
            }
            Some(DashboardLogin {
                username,
                password_hash,
            })
        }
    };
    let mut hosts = Vec::new();
    for (index, host) in dashboard.hosts.iter().enumerate() {
        let Some(name) = host_name(host) else {
            return Err(invalid(format!(
                "[dashboard] hosts[{index}]: `{host}` is not a host name (write it as the browser's address bar shows it, without scheme or path)"
            )));
        };
        if !hosts.contains(&name) {
            hosts.push(name);
        }
    }
    let readers = Readers {
        hosts,
        trust_loopback: dashboard.trust_loopback.unwrap_or(true),
        secure_cookies: dashboard.secure_cookies.unwrap_or(false),
        trusted_proxies: parse_networks(&dashboard.trusted_proxies, "trusted_proxies")
            .map_err(|error| invalid(format!("[dashboard]: {error}")))?,
    };
    if file.body_timeout_seconds == Some(0) {
        return Err(invalid(
            "body_timeout_seconds: 0 would refuse every body; use at least 1".into(),
        ));
    }
    BearerTokens::new(&file.metrics.bearer_tokens)
        .map_err(|error| invalid(format!("[metrics]: {error}")))?;
    if file.retention.raw_days == Some(0) {
        return Err(invalid(
            "[retention] raw_days: 0 would drop every raw payload as it arrives; use at least 1"
                .into(),
        ));
    }
    let public_url = file
        .public_url
        .as_deref()
        .map(check_public_url)
        .transpose()
        .map_err(|error| invalid(format!("public_url: {error}")))?;
    // Configured sources add to the defaults (one of the same name replaces it): configuring
    // one source must not silently stop the others.
    let mut configured: BTreeMap<String, SourceConfig> = BTreeMap::new();
    if file.default_sources != Some(false) {
        for (name, kind) in DEFAULT_SOURCES {
            let source = SourceConfig {
                kind: *kind,
                fields: BTreeMap::new(),
                statuses: BTreeMap::new(),
                auth: None,
                alert_after: None,
            };
            configured.insert(name.to_string(), source);
        }
    } else if file.sources.is_empty() {
        return Err(invalid(
            "default_sources = false but no [sources.NAME] is configured: nothing would be served"
                .into(),
        ));
    }
    configured.extend(file.sources);
    let alert_after: BTreeMap<String, Option<String>> = configured
        .iter()
        .map(|(name, source)| (name.clone(), source.alert_after.clone()))
        .collect();
    let alerts = alerts_of(&file.alerts, &alert_after).map_err(invalid)?;
    let mut sources = BTreeMap::new();
    for (name, source) in configured {
        if source.kind == SourceKind::NetworkRecord {
            return Err(invalid(format!(
                "[sources.{name}]: `network_record` is what a reconciliation run fills from a network's own records, not a kind of postback"
            )));
        }
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(format!(
                "[sources.{name}]: a source name may hold only letters, digits, '-' and '_' (it is a URL path segment)"
            )));
        }
        let mapping = Mapping::configured(source.kind, &source.fields, &source.statuses)
            .map_err(|error| invalid(format!("[sources.{name}]: {error}")))?;
        let auth = match &source.auth {
            Some(own) => own.overlaid_on(&file.auth),
            None => file.auth.clone(),
        };
        AuthPolicy::from_config(&auth)
            .map_err(|error: AuthConfigError| invalid(format!("[sources.{name}.auth]: {error}")))?;
        sources.insert(
            name.clone(),
            Source {
                name,
                kind: source.kind,
                mapping,
                auth,
                redactor: Arc::default(),
            },
        );
    }
    share_redactor(&mut sources, &file.metrics.bearer_tokens);
    Ok(Settings {
        database_url: file
            .database_url
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
        listen: file.listen.unwrap_or_else(|| DEFAULT_LISTEN.into()),
        public_url,
        max_body_bytes: file.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        body_timeout_seconds: file
            .body_timeout_seconds
            .unwrap_or(DEFAULT_BODY_TIMEOUT_SECONDS),
        responses: file.responses,
        auth: file.auth,
        sources,
        dashboard: login,
        readers,
        testing: file.testing,
        retention: file.retention,
        metrics: file.metrics,
        alerts,
        statement: StatementSettings {
            time_zone: match file.statement.time_zone.as_deref().map(str::trim) {
                None | Some("") => chrono_tz::Tz::UTC,
                Some(name) => name.parse().map_err(|_| {
                    ConfigError::Invalid(format!(
                        "[statement] time_zone: `{name}` is not an IANA time zone (say \"America/Los_Angeles\")"
                    ))
                })?,
            },
            close_after_days: file.statement.close_after_days,
        },
        networks: file.networks.resolve()?,
        file: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_example_parses_in_full() {
        let text = r#"
database_url = "sqlite://postback-ledger.db"
listen = "127.0.0.1:8080"

[responses]
success = "OK"
error = "ERROR"

[auth]
query_param = "secure"
query_values = ["ed7e46f"]
header = "Authorization"
header_values = ["Bearer s3cret"]

[sources.actions]
kind = "action_lifecycle"
[sources.actions.fields]
action_id = "ActionId"
payout = "Payout"
[sources.actions.statuses]
MODIFIED = "pending"
"#;
        let settings = resolve(parse(text).unwrap()).unwrap();
        // `[sources.actions]` replaces the default of that name; the other five stay.
        assert_eq!(settings.sources.len(), 6);
        assert_eq!(
            settings.sources["actions"].kind,
            SourceKind::ActionLifecycle
        );
        assert_eq!(settings.responses.success, "OK");
    }

    #[test]
    fn no_file_serves_the_six_default_sources() {
        let settings = resolve(FileConfig::default()).unwrap();
        let names: Vec<&str> = settings.sources.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "actions",
                "clearing",
                "inquiries",
                "jobs",
                "products",
                "tracking-values"
            ]
        );
        assert_eq!(settings.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(settings.listen, DEFAULT_LISTEN);
    }

    #[test]
    fn configured_sources_add_to_the_defaults_unless_default_sources_is_false() {
        let one = "[sources.partner-b]\nkind = \"action_lifecycle\"\n[sources.actions]\nkind = \"action_lifecycle\"\n[sources.actions.fields]\norder_id = \"OrderId\"\n";
        let settings = resolve(parse(one).unwrap()).unwrap();
        assert_eq!(settings.sources.len(), 7);
        assert_eq!(
            settings.sources["actions"].mapping.written_key("order_id"),
            "OrderId"
        );
        assert_eq!(
            settings.sources["inquiries"].kind,
            SourceKind::ActionInquiry
        );
        let only = format!("default_sources = false\n{one}");
        let settings = resolve(parse(&only).unwrap()).unwrap();
        let names: Vec<&str> = settings.sources.keys().map(String::as_str).collect();
        assert_eq!(names, ["actions", "partner-b"]);
        let nothing = resolve(parse("default_sources = false\n").unwrap()).unwrap_err();
        assert!(
            nothing.to_string().contains("nothing would be served"),
            "{nothing}"
        );
    }

    #[test]
    fn public_url_is_checked_and_without_it_the_listen_address_comes_with_a_warning() {
        let settings =
            resolve(parse("public_url = \"https://pb.example.com/\"\n").unwrap()).unwrap();
        assert_eq!(
            settings.public_url.as_deref(),
            Some("https://pb.example.com")
        );
        assert_eq!(settings.public_base(Some(1)).url, "https://pb.example.com");
        assert_eq!(settings.public_base(Some(1)).warning, None);
        for bad in [
            "pb.example.com",
            "ftp://pb.example.com",
            "https://pb.example.com/?x=1",
        ] {
            let error = resolve(parse(&format!("public_url = \"{bad}\"\n")).unwrap()).unwrap_err();
            assert!(error.to_string().contains("public_url"), "{error}");
        }
        let local = resolve(parse("listen = \"127.0.0.1:0\"\n").unwrap()).unwrap();
        let base = local.public_base(Some(4321));
        assert_eq!(base.url, "http://127.0.0.1:4321");
        assert!(
            base.warning
                .unwrap()
                .contains("loopback address, which impact.com cannot reach")
        );
        let wildcard = resolve(parse("listen = \"0.0.0.0:8080\"\n").unwrap()).unwrap();
        assert!(
            wildcard
                .public_base(None)
                .warning
                .unwrap()
                .contains("wildcard")
        );
    }

    #[test]
    fn alerts_read_their_durations_and_rates_and_keep_the_webhook_secret() {
        let text = "[alerts]\nwebhook_url = \"http://hooks.internal/T0/s3cret\"\nalert_after = \"12h\"\ncheck_every = \"5s\"\nquarantine_rate = 0\n[sources.partner]\nkind = \"action_lifecycle\"\nalert_after = \"6h\"\n";
        let settings = resolve(parse(text).unwrap()).unwrap();
        let rules = &settings.alerts.rules;
        assert_eq!(rules.silence["partner"], chrono::Duration::hours(6));
        assert_eq!(rules.silence["actions"], chrono::Duration::hours(12));
        assert_eq!(rules.quarantine_rate, None);
        assert_eq!(rules.auth_failure_rate, Some(0.5));
        assert_eq!(
            settings.alerts.check_every,
            std::time::Duration::from_secs(5)
        );
        assert!(!format!("{settings:?}").contains("s3cret"));
        for bad in [
            "[alerts]\nwebhook_url = \"https://hooks.slack.com/x\"\n",
            "[alerts]\nquarantine_rate = 1.5\n",
            "[alerts]\nalert_after = \"6\"\n",
            "[alerts]\nwindow = \"0m\"\n",
        ] {
            assert!(resolve(parse(bad).unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_the_key_and_line() {
        let message = parse("listen = \"x\"\n\n[responses]\nsucess = \"OK\"\n").unwrap_err();
        assert!(message.contains("sucess"), "{message}");
        assert!(message.contains("line 4"), "{message}");
    }

    #[test]
    fn a_metrics_bearer_token_is_checked_at_start_and_never_shown() {
        let broken = "[metrics]\nbearer_tokens = [\"sha256:0badf00d\"]\n";
        let error = resolve(parse(broken).unwrap()).unwrap_err().to_string();
        assert!(
            error.contains("[metrics]") && error.contains("bearer_tokens[0]"),
            "{error}"
        );
        assert!(!error.contains("0badf00d"), "{error}");
        let good = "[metrics]\nbearer_tokens = [\"scrape-token-5512\"]\n";
        let settings = resolve(parse(good).unwrap()).unwrap();
        assert_eq!(settings.metrics.bearer_tokens, ["scrape-token-5512"]);
        assert!(!format!("{settings:?}").contains("scrape-token-5512"));
    }

    #[test]
    fn a_dashboard_login_needs_an_argon2_hash_not_a_password() {
        let plain = "[dashboard]\nusername = \"finance\"\npassword_hash = \"hunter2\"\n";
        let error = resolve(parse(plain).unwrap()).unwrap_err().to_string();
        assert!(
            error.contains("password_hash") && !error.contains("hunter2"),
            "{error}"
        );
        let hash = crate::intake::auth::hash_password("hunter2").unwrap();
        let good = format!("[dashboard]\nusername = \"finance\"\npassword_hash = \"{hash}\"\n");
        let settings = resolve(parse(&good).unwrap()).unwrap();
        assert!(!format!("{settings:?}").contains(&hash));
    }

    #[test]
    fn dashboard_hosts_are_read_as_host_names_and_a_half_login_is_refused() {
        let text = "[dashboard]\nhosts = [\"Ledger.Example.com\", \"ledger.example.com:8443\", \"[::1]:8080\", \"10.0.0.5\"]\ntrusted_proxies = [\"127.0.0.1\"]\nsecure_cookies = true\n";
        let settings = resolve(parse(text).unwrap()).unwrap();
        assert_eq!(
            settings.readers.hosts,
            ["ledger.example.com", "::1", "10.0.0.5"]
        );
        assert!(settings.readers.secure_cookies && settings.readers.trust_loopback);
        assert_eq!(settings.readers.trusted_proxies.len(), 1);
        assert!(settings.dashboard.is_none(), "hosts alone are no login");
        for bad in [
            "https://ledger.example.com",
            "ledger.example.com/x",
            "a b",
            "",
        ] {
            let text = format!("[dashboard]\nhosts = [\"{bad}\"]\n");
            let error = resolve(parse(&text).unwrap()).unwrap_err().to_string();
            assert!(error.contains("hosts[0]"), "{bad}: {error}");
        }
        let half = "[dashboard]\nusername = \"finance\"\n";
        let error = resolve(parse(half).unwrap()).unwrap_err().to_string();
        assert!(error.contains("go together"), "{error}");
    }

    #[test]
    fn a_body_time_limit_of_zero_is_refused() {
        let zero = resolve(parse("body_timeout_seconds = 0\n").unwrap()).unwrap_err();
        assert!(zero.to_string().contains("body_timeout_seconds"), "{zero}");
        let settings = resolve(parse("body_timeout_seconds = 3\n").unwrap()).unwrap();
        assert_eq!(settings.body_timeout_seconds, 3);
    }

    #[test]
    fn a_host_header_is_read_without_its_port() {
        assert_eq!(host_name("127.0.0.1:8080").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_name("LOCALHOST").as_deref(), Some("localhost"));
        assert_eq!(host_name("[::1]:80").as_deref(), Some("::1"));
        assert_eq!(host_name("::1").as_deref(), Some("::1"));
        assert_eq!(host_name("evil.example:99999999"), None);
        assert_eq!(host_name("a@b"), None);
        assert_eq!(host_name(""), None);
    }

    #[test]
    fn every_source_shares_one_masking_rule_with_every_secret() {
        let text = "[metrics]\nbearer_tokens = [\"scrape-token-5512\"]\n\
            [sources.a]\nkind = \"action_lifecycle\"\n[sources.a.auth]\nquery_param = \"secure\"\nquery_values = [\"secret-of-a-1234\"]\n\
            [sources.b]\nkind = \"action_lifecycle\"\n[sources.b.auth]\nhmac_header = \"X-Signature\"\nhmac_secrets = [\"secret-of-b-5678\"]\n";
        let settings = resolve(parse(text).unwrap()).unwrap();
        let a = &settings.sources["a"].redactor;
        assert!(std::sync::Arc::ptr_eq(a, &settings.sources["b"].redactor));
        for secret in ["secret-of-a-1234", "secret-of-b-5678", "scrape-token-5512"] {
            assert_eq!(a.text(secret), crate::intake::redact::MASK);
        }
    }

    #[test]
    fn a_bad_field_map_or_source_name_is_refused() {
        let bad_field =
            "[sources.a]\nkind = \"action_lifecycle\"\n[sources.a.fields]\npayot = \"x\"\n";
        let error = resolve(parse(bad_field).unwrap()).unwrap_err().to_string();
        assert!(error.contains("payot"), "{error}");
        let bad_kind = parse("[sources.a]\nkind = \"sales\"\n").unwrap_err();
        assert!(bad_kind.contains("sales"), "{bad_kind}");
        let bad_name = "[sources.\"a/b\"]\nkind = \"action_lifecycle\"\n";
        assert!(resolve(parse(bad_name).unwrap()).is_err());
    }
}
