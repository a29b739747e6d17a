//! impact.com's Partner API, as the cross-check reads it: `GET /Mediapartners/{AccountSID}/Actions`
//! for a period, in windows of at most 45 days (filtered on the actions' EventDate), each window
//! page by page along `@nextpageuri`, with `Accept: application/json` and HTTP Basic auth
//! (AccountSID, AuthToken). A 429 waits as long as its `Retry-After` says (else backs off with
//! jitter); a 5xx, or a page cut off, is retried a few times. Neither credential ever appears in
//! an error, a log line or anything kept: every message from here is scrubbed of both.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};

use crate::config::networks::Impact;
use crate::intake::decode::Fields;
use crate::intake::network::impact_api::{self, ACTIONS, PageError};
use crate::intake::network::{REDACTED, RecordReader};

/// impact.com refuses a StartDate/EndDate (and ActionDate) pair more than 45 days apart.
pub const MAX_WINDOW_DAYS: u64 = 45;
/// How far back impact.com answers (three years).
pub const MAX_DAYS_BACK: i64 = 3 * 365;
/// Pages followed in one window before giving up (a guard against a loop of next pages).
const MAX_PAGES: u32 = 10_000;

/// Days `first..=last`, one query each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} to {}", self.first, self.last)
    }
}

/// The days `first..=last` cut into windows of at most 45 days: each query's dates are less than
/// 45 days apart (from the first day's 00:00:00 to the last day's 23:59:59).
pub fn windows(first: NaiveDate, last: NaiveDate) -> Vec<Window> {
    let mut found = Vec::new();
    let mut start = first;
    while start <= last {
        let end = start
            .checked_add_days(chrono::Days::new(MAX_WINDOW_DAYS - 1))
            .map_or(last, |end| end.min(last));
        found.push(Window {
            first: start,
            last: end,
        });
        match end.succ_opt() {
            Some(next) => start = next,
            None => break,
        }
    }
    found
}

/// How often to try again.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts of a request answered 429 before giving up.
    pub too_many: u32,
    /// Attempts of a request answered 5xx (or cut off, or not answered) before giving up.
    pub failures: u32,
    /// The first wait of a backoff (doubled each time, plus up to half of it at random).
    pub backoff: Duration,
    /// The longest single wait, whatever `Retry-After` asks.
    pub longest_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            too_many: 8,
            failures: 4,
            backoff: Duration::from_millis(500),
            longest_wait: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "no impact.com auth token: set [networks.impact] auth_token or POSTBACK_LEDGER_IMPACT_AUTH_TOKEN"
    )]
    NoToken,
    #[error("{0} needs TLS and this build has none: build with the `tls` feature (on by default)")]
    NoTls(String),
    #[error(
        "impact.com refused the credentials ({0}): check [networks.impact] account_sid and auth_token"
    )]
    Refused(u16),
    #[error("impact.com refused the query for {window} ({status}): {message}")]
    BadRequest {
        window: Window,
        status: u16,
        message: String,
    },
    #[error("impact.com kept answering {status} ({attempts} attempts); try again later")]
    GaveUp { status: String, attempts: u32 },
    #[error("impact.com answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("impact.com's next page is at another address ({0}); not followed")]
    ForeignNextPage(String),
    #[error("impact.com's pages for {0} did not end after {MAX_PAGES} pages")]
    EndlessPages(Window),
    #[error("stopped")]
    Stopped,
}

/// What one window read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowStats {
    pub pages: u32,
    pub records: u64,
    pub requests: u32,
}

pub struct ImpactClient {
    http: Client,
    base: String,
    account_sid: String,
    token: String,
    page_size: u32,
    retry: Retry,
}

impl std::fmt::Debug for ImpactClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImpactClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ImpactClient {
    pub fn new(impact: &Impact) -> Result<ImpactClient, ClientError> {
        Self::with_retry(impact, Retry::default())
    }

    pub fn with_retry(impact: &Impact, retry: Retry) -> Result<ImpactClient, ClientError> {
        let token = impact.auth_token.clone().ok_or(ClientError::NoToken)?;
        if impact.api_base_url.starts_with("https://") && !cfg!(feature = "tls") {
            return Err(ClientError::NoTls(impact.api_base_url.clone()));
        }
        let http = Client::builder()
            .user_agent(concat!("postback-ledger/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(600))
            // A redirect would carry the credentials to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| ClientError::Status {
                status: 0,
                message: error.without_url().to_string(),
            })?;
        Ok(ImpactClient {
            http,
            base: impact.api_base_url.clone(),
            account_sid: impact.account_sid.clone(),
            token,
            page_size: impact.page_size,
            retry,
        })
    }

    /// The credentials, for scrubbing what is kept or shown.
    pub fn secrets(&self) -> Vec<String> {
        vec![self.account_sid.clone(), self.token.clone()]
    }

    /// How the records of the Actions list are read (their keys laid over the postback names),
    /// with the credentials scrubbed from what is kept.
    pub fn record_reader(&self) -> RecordReader {
        RecordReader::new(impact_api::action_columns(), self.secrets())
            .expect("the Actions list's keys are fields of an action")
    }

    /// Text from impact.com or from the HTTP stack, without either credential.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in [&self.account_sid, &self.token] {
            if !secret.is_empty() {
                text = text.replace(secret.as_str(), REDACTED);
            }
        }
        text
    }

    /// Every action whose EventDate is in the window, each handed to `each` as it is read (which
    /// answers false to stop); the pages followed to the end.
    pub fn list_actions(
        &self,
        window: Window,
        each: &mut dyn FnMut(Fields) -> bool,
    ) -> Result<WindowStats, ClientError> {
        let mut stats = WindowStats::default();
        let mut url = format!(
            "{}/Mediapartners/{}/Actions?ActionDateStart={}T00:00:00Z&ActionDateEnd={}T23:59:59Z&PageSize={}",
            self.base, self.account_sid, window.first, window.last, self.page_size
        );
        loop {
            if stats.pages >= MAX_PAGES {
                return Err(ClientError::EndlessPages(window));
            }
            let info = self.read_page(&url, window, &mut stats, each)?;
            stats.pages += 1;
            stats.records += info.records;
            match info.next_page_uri {
                None => return Ok(stats),
                Some(next) => {
                    let next = self.follow(&next)?;
                    if next == url {
                        return Ok(stats);
                    }
                    url = next;
                }
            }
        }
    }

    /// The next page's URL: a path under the base URL, or an absolute URL at the same address.
    fn follow(&self, next: &str) -> Result<String, ClientError> {
        if next.starts_with("http://") || next.starts_with("https://") {
            return if next.starts_with(&format!("{}/", self.base)) {
                Ok(next.to_owned())
            } else {
                let host = next.split('/').take(3).collect::<Vec<_>>().join("/");
                Err(ClientError::ForeignNextPage(self.scrub(&host)))
            };
        }
        let slash = if next.starts_with('/') { "" } else { "/" };
        Ok(format!("{}{slash}{next}", self.base))
    }

    /// One page, retried as a whole when its request fails or its body is cut off.
    fn read_page(
        &self,
        url: &str,
        window: Window,
        stats: &mut WindowStats,
        each: &mut dyn FnMut(Fields) -> bool,
    ) -> Result<impact_api::PageInfo, ClientError> {
        let mut failures = 0;
        loop {
            let response = self.get(url, window, stats)?;
            match impact_api::read_page(response, ACTIONS, &mut *each) {
                Ok(info) => return Ok(info),
                Err(PageError::Stopped) => return Err(ClientError::Stopped),
                Err(PageError::Json(error)) => {
                    failures += 1;
                    let message = self.scrub(&error.to_string());
                    if failures >= self.retry.failures {
                        return Err(ClientError::Status {
                            status: 200,
                            message: format!("a page could not be read: {message}"),
                        });
                    }
                    tracing::warn!(window = %window, error = %message, "a page of impact.com's Actions could not be read; reading it again");
                    std::thread::sleep(self.backoff(failures));
                }
            }
        }
    }

    /// A GET answered 200, after waiting out 429s and retrying 5xx answers and failed requests.
    fn get(
        &self,
        url: &str,
        window: Window,
        stats: &mut WindowStats,
    ) -> Result<Response, ClientError> {
        let mut too_many = 0;
        let mut failures = 0;
        loop {
            stats.requests += 1;
            let sent = self
                .http
                .get(url)
                .basic_auth(&self.account_sid, Some(&self.token))
                .header(ACCEPT, "application/json")
                .send();
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    failures += 1;
                    let message = self.scrub(&error.without_url().to_string());
                    if failures >= self.retry.failures {
                        return Err(ClientError::GaveUp {
                            status: format!("no answer ({message})"),
                            attempts: failures,
                        });
                    }
                    tracing::warn!(window = %window, error = %message, "impact.com did not answer; trying again");
                    std::thread::sleep(self.backoff(failures));
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                too_many += 1;
                if too_many >= self.retry.too_many {
                    return Err(ClientError::GaveUp {
                        status: "429 Too Many Requests".into(),
                        attempts: too_many,
                    });
                }
                let wait = retry_after(response.headers(), Utc::now())
                    .unwrap_or_else(|| self.backoff(too_many))
                    .min(self.retry.longest_wait);
                tracing::info!(window = %window, wait_ms = wait.as_millis() as u64, "impact.com answered 429; waiting before the next request");
                std::thread::sleep(wait);
                continue;
            }
            if status.is_server_error() {
                failures += 1;
                if failures >= self.retry.failures {
                    return Err(ClientError::GaveUp {
                        status: status.to_string(),
                        attempts: failures,
                    });
                }
                tracing::warn!(window = %window, status = status.as_u16(), "impact.com answered a server error; trying again");
                std::thread::sleep(self.backoff(failures));
                continue;
            }
            let code = status.as_u16();
            let body = response.text().unwrap_or_default();
            let message = self.scrub(&shortened(&body));
            return Err(match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ClientError::Refused(code),
                StatusCode::BAD_REQUEST => ClientError::BadRequest {
                    window,
                    status: code,
                    message,
                },
                _ => ClientError::Status {
                    status: code,
                    message,
                },
            });
        }
    }

    /// The `attempt`th wait of the backoff: doubled each time, plus up to half again at random.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .retry
            .backoff
            .saturating_mul(1 << attempt.saturating_sub(1).min(10));
        let jitter = base.mul_f64(rand::random::<f64>() / 2.0);
        (base + jitter).min(self.retry.longest_wait)
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// An error body cut to something a message can carry.
fn shortened(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_period_is_cut_into_windows_of_at_most_45_days() {
        let found = windows(day("2026-01-01"), day("2026-03-31"));
        assert_eq!(
            found,
            [
                Window {
                    first: day("2026-01-01"),
                    last: day("2026-02-14")
                },
                Window {
                    first: day("2026-02-15"),
                    last: day("2026-03-31")
                },
            ]
        );
        for window in &found {
            assert!((window.last - window.first).num_days() < MAX_WINDOW_DAYS as i64);
        }
        assert_eq!(windows(day("2026-01-01"), day("2026-01-01")).len(), 1);
        assert!(windows(day("2026-01-02"), day("2026-01-01")).is_empty());
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        let now = Utc::now();
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(3)));
        let later = (now + chrono::Duration::seconds(10)).to_rfc2822();
        headers.insert(RETRY_AFTER, later.parse().unwrap());
        let wait = retry_after(&headers, now).unwrap();
        assert!(wait <= Duration::from_secs(10) && wait >= Duration::from_secs(9));
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn errors_never_carry_the_credentials() {
        let impact = Impact {
            account_sid: "IRsecretSID".into(),
            auth_token: Some("tok3n".into()),
            api_base_url: "http://127.0.0.1:9".into(),
            page_size: 100,
            sync_every: None,
            lookback_days: 90,
            apply: false,
            columns: Default::default(),
        };
        let client = ImpactClient::new(&impact).unwrap();
        assert_eq!(
            client.scrub("GET /Mediapartners/IRsecretSID/Actions tok3n"),
            "GET /Mediapartners/[redacted]/Actions [redacted]"
        );
        assert!(matches!(
            client.follow("https://elsewhere.example/Mediapartners/IRsecretSID/Actions"),
            Err(ClientError::ForeignNextPage(host)) if host == "https://elsewhere.example"
        ));
        assert_eq!(
            client.follow("/Mediapartners/x/Actions?Page=2").unwrap(),
            "http://127.0.0.1:9/Mediapartners/x/Actions?Page=2"
        );
        let no_token = Impact {
            auth_token: None,
            ..impact
        };
        assert!(matches!(
            ImpactClient::new(&no_token),
            Err(ClientError::NoToken)
        ));
    }
}
