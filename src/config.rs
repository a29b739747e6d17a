//! The configuration: one TOML file plus environment overrides, validated before anything starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::event::{ActionEvent, MarkerField, SourceKind};
use crate::intake::auth::{AuthConfig, AuthConfigError, AuthPolicy, BearerTokens};
use crate::intake::delivery::Source;
use crate::intake::mapping::Mapping;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://postback-ledger.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_CONFIG_FILE: &str = "postback-ledger.toml";
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// The file as written. Every table rejects keys it does not know.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub max_body_bytes: Option<usize>,
    #[serde(default)]
    pub responses: Responses,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// The login for the dashboard, the JSON API and the exports. Without it they answer only to
    /// loopback clients.
    pub dashboard: Option<DashboardLogin>,
    #[serde(default)]
    pub testing: Testing,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub metrics: MetricsAccess,
    #[serde(default)]
    pub statement: StatementConfig,
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

#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
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
}

/// The sources served when the file configures none, with impact.com's field names.
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
    pub max_body_bytes: usize,
    pub responses: Responses,
    pub auth: AuthConfig,
    pub sources: BTreeMap<String, Source>,
    pub dashboard: Option<DashboardLogin>,
    pub testing: Testing,
    pub retention: Retention,
    pub metrics: MetricsAccess,
    pub statement: StatementSettings,
    /// The file the settings came from, if any.
    pub file: Option<PathBuf>,
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
    Ok(settings)
}

/// toml's messages name the line, the column and the offending key.
pub fn parse(text: &str) -> Result<FileConfig, String> {
    toml::from_str(text).map_err(|error| error.to_string().trim_end().to_owned())
}

/// Applies defaults and checks everything that can be checked before start.
pub fn resolve(file: FileConfig) -> Result<Settings, ConfigError> {
    let invalid = ConfigError::Invalid;
    AuthPolicy::from_config(&file.auth).map_err(|error| invalid(format!("[auth]: {error}")))?;
    if let Some(login) = &file.dashboard {
        if login.username.trim().is_empty() {
            return Err(invalid("[dashboard] username: must not be empty".into()));
        }
        if !crate::intake::auth::is_password_hash(&login.password_hash) {
            return Err(invalid(
                "[dashboard] password_hash: not an argon2 hash; create one with `postback-ledger hash-password`".into(),
            ));
        }
    }
    BearerTokens::new(&file.metrics.bearer_tokens)
        .map_err(|error| invalid(format!("[metrics]: {error}")))?;
    if file.retention.raw_days == Some(0) {
        return Err(invalid(
            "[retention] raw_days: 0 would drop every raw payload as it arrives; use at least 1"
                .into(),
        ));
    }
    let configured: Vec<(String, SourceConfig)> = if file.sources.is_empty() {
        DEFAULT_SOURCES
            .iter()
            .map(|(name, kind)| {
                let source = SourceConfig {
                    kind: *kind,
                    fields: BTreeMap::new(),
                    statuses: BTreeMap::new(),
                    auth: None,
                };
                (name.to_string(), source)
            })
            .collect()
    } else {
        file.sources.into_iter().collect()
    };
    let mut sources = BTreeMap::new();
    for (name, source) in configured {
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
            },
        );
    }
    Ok(Settings {
        database_url: file
            .database_url
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
        listen: file.listen.unwrap_or_else(|| DEFAULT_LISTEN.into()),
        max_body_bytes: file.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        responses: file.responses,
        auth: file.auth,
        sources,
        dashboard: file.dashboard,
        testing: file.testing,
        retention: file.retention,
        metrics: file.metrics,
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
        assert_eq!(settings.sources.len(), 1);
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
