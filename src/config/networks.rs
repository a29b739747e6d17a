//! `[networks.impact]`: how to read impact.com's own records of the partner's actions, for the
//! cross-check (`sync impact`, `import actions`, and the schedule `serve` runs it on).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use crate::intake::mapping::fields::ACTION_FIELDS;

/// Overrides `[networks.impact] auth_token`, so the token need not sit in the file.
pub const IMPACT_TOKEN_ENV: &str = "POSTBACK_LEDGER_IMPACT_AUTH_TOKEN";
pub const DEFAULT_IMPACT_API: &str = "https://api.impact.com";
/// impact.com's own default page size (and the most a page holds).
pub const DEFAULT_PAGE_SIZE: u32 = 20_000;
pub const DEFAULT_LOOKBACK_DAYS: i64 = 90;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworksFile {
    pub impact: Option<ImpactFile>,
}

/// `[networks.impact]` as written.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpactFile {
    pub account_sid: Option<String>,
    pub auth_token: Option<String>,
    pub api_base_url: Option<String>,
    pub page_size: Option<u32>,
    pub sync_every: Option<String>,
    pub lookback: Option<String>,
    /// The scheduled sync also fills what it can explain (default: it only compares).
    #[serde(default)]
    pub apply: bool,
    /// The Action Listing report's columns: canonical field = the column's name.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

impl std::fmt::Debug for ImpactFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImpactFile")
            .field(
                "account_sid",
                &self.account_sid.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("api_base_url", &self.api_base_url)
            .finish_non_exhaustive()
    }
}

/// The networks the cross-check reads, resolved.
#[derive(Debug, Clone, Default)]
pub struct Networks {
    pub impact: Option<Impact>,
}

/// `[networks.impact]` resolved. Both credentials are secrets: never printed, logged or stored.
#[derive(Clone)]
pub struct Impact {
    pub account_sid: String,
    /// None until the file or `POSTBACK_LEDGER_IMPACT_AUTH_TOKEN` gives one.
    pub auth_token: Option<String>,
    /// Without a trailing slash.
    pub api_base_url: String,
    pub page_size: u32,
    /// `serve` runs the sync this often; None: never on its own.
    pub sync_every: Option<Duration>,
    /// The period a sync checks when none is given: the last this many days.
    pub lookback_days: i64,
    pub apply: bool,
    pub columns: BTreeMap<String, String>,
}

impl std::fmt::Debug for Impact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Impact")
            .field("account_sid", &"<redacted>")
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("api_base_url", &self.api_base_url)
            .field("page_size", &self.page_size)
            .field("sync_every", &self.sync_every)
            .field("lookback_days", &self.lookback_days)
            .field("apply", &self.apply)
            .field("columns", &self.columns)
            .finish()
    }
}

/// `90d`, `24h`, `30m`, `45s`: a whole number and its unit.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 90d, 24h, 30m or 45s"))?;
    let seconds = match unit {
        "d" => number.checked_mul(86_400),
        "h" => number.checked_mul(3_600),
        "m" => number.checked_mul(60),
        "s" => Some(number),
        _ => None,
    }
    .ok_or_else(|| format!("`{text}` is not a duration such as 90d, 24h, 30m or 45s"))?;
    if seconds == 0 {
        return Err(format!("`{text}`: a duration of zero"));
    }
    Ok(Duration::from_secs(seconds))
}

fn invalid(message: String) -> ConfigError {
    ConfigError::Invalid(format!("[networks.impact] {message}"))
}

impl NetworksFile {
    pub fn resolve(self) -> Result<Networks, ConfigError> {
        let Some(file) = self.impact else {
            return Ok(Networks::default());
        };
        let account_sid = file
            .account_sid
            .filter(|sid| !sid.trim().is_empty())
            .ok_or_else(|| invalid("account_sid: required (impact.com, Settings → API)".into()))?;
        let api_base_url = file
            .api_base_url
            .unwrap_or_else(|| DEFAULT_IMPACT_API.to_owned())
            .trim_end_matches('/')
            .to_owned();
        if !(api_base_url.starts_with("https://") || api_base_url.starts_with("http://")) {
            return Err(invalid(format!(
                "api_base_url: `{api_base_url}` is not an http:// or https:// URL"
            )));
        }
        let page_size = file.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if page_size == 0 || page_size > DEFAULT_PAGE_SIZE {
            return Err(invalid(format!(
                "page_size: {page_size} is not between 1 and {DEFAULT_PAGE_SIZE}"
            )));
        }
        let sync_every = file
            .sync_every
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|error| invalid(format!("sync_every: {error}")))?;
        let lookback_days = match file.lookback.as_deref() {
            None => DEFAULT_LOOKBACK_DAYS,
            Some(text) => {
                let lookback =
                    parse_duration(text).map_err(|error| invalid(format!("lookback: {error}")))?;
                (lookback.as_secs() / 86_400).max(1) as i64
            }
        };
        let known: Vec<&str> = ACTION_FIELDS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| *name != "items")
            .collect();
        for canonical in file.columns.keys() {
            if !known.contains(&canonical.as_str()) {
                return Err(invalid(format!(
                    "columns: `{canonical}` is not a field of an action (known: {})",
                    known.join(", ")
                )));
            }
        }
        Ok(Networks {
            impact: Some(Impact {
                account_sid: account_sid.trim().to_owned(),
                auth_token: file.auth_token.filter(|token| !token.is_empty()),
                api_base_url,
                page_size,
                sync_every,
                lookback_days,
                apply: file.apply,
                columns: file.columns,
            }),
        })
    }
}

impl Networks {
    /// `POSTBACK_LEDGER_IMPACT_AUTH_TOKEN`, when set, is the token.
    pub fn apply_env(&mut self, token: Option<String>) {
        if let (Some(impact), Some(token)) = (&mut self.impact, token) {
            impact.auth_token = Some(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> Result<Networks, String> {
        let file: NetworksFile = toml::from_str(text).map_err(|error| error.to_string())?;
        file.resolve().map_err(|error| error.to_string())
    }

    #[test]
    fn durations_read_days_hours_minutes_and_seconds() {
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration(" 30m "), Ok(Duration::from_secs(1_800)));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("0h").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn the_impact_section_resolves_with_defaults_and_never_shows_its_secrets() {
        let networks = resolve(
            "[impact]\naccount_sid = \"IRsid123\"\nauth_token = \"tok-456\"\nsync_every = \"24h\"\n",
        )
        .unwrap();
        let impact = networks.impact.clone().unwrap();
        assert_eq!(impact.api_base_url, DEFAULT_IMPACT_API);
        assert_eq!(impact.lookback_days, 90);
        assert_eq!(impact.sync_every, Some(Duration::from_secs(86_400)));
        let shown = format!("{networks:?}");
        assert!(
            !shown.contains("IRsid123") && !shown.contains("tok-456"),
            "{shown}"
        );
        let mut networks = networks;
        networks.apply_env(Some("from-env".into()));
        assert_eq!(
            networks.impact.unwrap().auth_token.as_deref(),
            Some("from-env")
        );
    }

    #[test]
    fn a_bad_value_is_named() {
        let error = resolve("[impact]\nauth_token = \"t\"\n").unwrap_err();
        assert!(error.contains("account_sid"), "{error}");
        let error = resolve("[impact]\naccount_sid = \"s\"\nlookback = \"soon\"\n").unwrap_err();
        assert!(error.contains("lookback"), "{error}");
        let error = resolve("[impact]\naccount_sid = \"s\"\n[impact.columns]\npayot = \"P\"\n")
            .unwrap_err();
        assert!(error.contains("payot"), "{error}");
        let error =
            resolve("[impact]\naccount_sid = \"s\"\napi_base_url = \"ftp://x\"\n").unwrap_err();
        assert!(error.contains("api_base_url"), "{error}");
    }
}
