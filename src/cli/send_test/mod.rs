//! `send-test`: plays impact.com against a receiver (ours or any other) and, against ours, reads
//! the API back to say whether the ledger shows what the scenario implies.

pub mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use reqwest::Url;
use rust_decimal::Decimal;

use crate::config::Settings;
use crate::web::routes::postbacks::{DELIVERY_ID_HEADER, OUTCOME_HEADER};
use scenarios::{Kind, Step};

/// impact.com's retry schedule (seconds before retries 1 to 15): about 31 hours in all.
pub const RETRY_DELAYS_SECONDS: [u64; 15] = [
    15, 15, 15, 180, 180, 900, 900, 900, 7_200, 7_200, 7_200, 21_600, 21_600, 21_600, 21_600,
];
/// Retries 1 to 3 are skipped when the answer is in 400..=500.
const SKIPPED_ON_CLIENT_ERROR: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    Get,
    Post,
}

#[derive(Debug, clap::Args)]
pub struct SendTestArgs {
    /// The receiver: a base URL (`/postbacks/{source}` is appended) or a full postback URL.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// lifecycle | inquiry | clearing | replay FILE (recorded requests, one JSON object a line).
    #[arg(long, num_args = 1..=2, value_names = ["NAME", "FILE"], default_value = "lifecycle")]
    pub scenario: Vec<String>,
    /// The source to post to (default: actions, inquiries or clearing, by scenario).
    #[arg(long)]
    pub source: Option<String>,
    /// GET (the values in a URL template) or POST (a JSON body template).
    #[arg(long, value_enum, default_value = "get")]
    pub method: Method,
    /// The query secret (default: the first `[auth] query_values` of the configuration).
    #[arg(long)]
    pub secret: Option<String>,
    /// The query parameter that carries the secret.
    #[arg(long, default_value = "secure")]
    pub secret_param: String,
    /// An HTTP header to send, e.g. "Authorization: Bearer s3cret" (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Send every request this many extra times, as impact.com's at-least-once delivery may.
    #[arg(long, default_value_t = 0)]
    pub duplicates: u32,
    /// Send the requests in a random order.
    #[arg(long)]
    pub shuffle: bool,
    /// Seed for --shuffle, to replay one order.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Retry what is not answered 200/201, on impact.com's schedule (15 retries over ~31 hours).
    #[arg(long)]
    pub retry_on_failure: bool,
    /// Multiply the retry delays by this (0.001 turns 31 hours into under 2 minutes).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// The action id to use (default: a fresh TEST-… id).
    #[arg(long)]
    pub action_id: Option<String>,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

/// One request to send, ready.
#[derive(Debug, Clone)]
struct Request {
    label: String,
    method: &'static str,
    url: Url,
    content_type: Option<String>,
    body: String,
}

/// What the scenario implies the ledger shows afterwards, for each action.
#[derive(Debug, Clone)]
struct Expected {
    action_id: String,
    status: &'static str,
    payout: &'static str,
    is_test: bool,
}

/// A recorded request, as one line of a replay file (the columns of the deliveries table).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Recorded {
    method: Option<String>,
    source: Option<String>,
    path: Option<String>,
    #[serde(default)]
    query: String,
    content_type: Option<String>,
    #[serde(default)]
    body: String,
}

enum Scenario {
    Lifecycle,
    Inquiry,
    Clearing,
    Replay(PathBuf),
}

fn scenario_of(words: &[String]) -> Result<Scenario, String> {
    match words {
        [name] if name == "lifecycle" => Ok(Scenario::Lifecycle),
        [name] if name == "inquiry" => Ok(Scenario::Inquiry),
        [name] if name == "clearing" => Ok(Scenario::Clearing),
        [name, file] if name == "replay" => Ok(Scenario::Replay(PathBuf::from(file))),
        [name] if name == "replay" => Err("replay needs a file: --scenario replay FILE".into()),
        _ => Err(format!(
            "unknown scenario `{}`: use lifecycle, inquiry, clearing or replay FILE",
            words.join(" ")
        )),
    }
}

/// Exit codes: 0 every request was accepted and the ledger shows the scenario; 1 it does not
/// (or a request was refused); 2 bad arguments.
pub fn run(settings: &Settings, args: SendTestArgs) -> ExitCode {
    match plan(settings, &args) {
        Ok((requests, expected)) => {
            let ok = actix_web::rt::System::new().block_on(play(&args, requests, expected));
            match ok {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(error) => {
                    eprintln!("error: {error:#}");
                    ExitCode::from(1)
                }
            }
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// The endpoint for a source: a bare base URL gets `/postbacks/{source}`; a URL with a path is
/// taken as the whole postback URL (another receiver's).
fn endpoint(to: &Url, source: &str) -> Url {
    let mut url = to.clone();
    if to.path().is_empty() || to.path() == "/" {
        url.set_path(&format!("/postbacks/{source}"));
    }
    url
}

/// Adds the secret to a URL's query, after what is already there.
fn with_query(mut url: Url, query: &str, secret: Option<(&str, &str)>) -> Url {
    let mut parts: Vec<String> = url.query().map(str::to_owned).into_iter().collect();
    if let Some((param, value)) = secret {
        parts.push(serde_urlencoded::to_string([(param, value)]).unwrap_or_default());
    }
    if !query.is_empty() {
        parts.push(query.to_owned());
    }
    let parts: Vec<String> = parts.into_iter().filter(|part| !part.is_empty()).collect();
    url.set_query((!parts.is_empty()).then(|| parts.join("&")).as_deref());
    url
}

fn plan(settings: &Settings, args: &SendTestArgs) -> Result<(Vec<Request>, Vec<Expected>), String> {
    let scenario = scenario_of(&args.scenario)?;
    let to = Url::parse(&args.to).map_err(|error| format!("--to {}: {error}", args.to))?;
    if !matches!(to.scheme(), "http" | "https") {
        return Err(format!("--to {}: use an http:// URL", args.to));
    }
    let secret = args
        .secret
        .clone()
        .or_else(|| default_secret(settings, args));
    let secret = secret
        .as_deref()
        .map(|value| (args.secret_param.as_str(), value));
    let now = chrono::Utc::now();
    let fresh = || format!("TEST-{:08X}", rand::random::<u32>());
    let marker_key = scenarios::marker_key(settings.testing.marker_field);
    let marker = (marker_key, settings.testing.marker_value.as_str());
    let marks = !settings.testing.marker_value.is_empty();
    let source_for = |kind: Kind| -> String {
        match (&args.source, kind, &scenario) {
            (Some(source), Kind::Action, Scenario::Lifecycle)
            | (Some(source), Kind::Inquiry, _)
            | (Some(source), Kind::Clearing, _) => source.clone(),
            _ => kind.default_source().to_owned(),
        }
    };
    let request_of = |step: &Step| -> Request {
        let url = endpoint(&to, &source_for(step.kind));
        match args.method {
            Method::Get => Request {
                label: step.label.clone(),
                method: "GET",
                url: with_query(url, &step.query(), secret),
                content_type: None,
                body: String::new(),
            },
            Method::Post => Request {
                label: step.label.clone(),
                method: "POST",
                url: with_query(url, "", secret),
                content_type: Some("application/json".into()),
                body: step.json_body(),
            },
        }
    };
    let (requests, expected) = match scenario {
        Scenario::Lifecycle => {
            let action_id = args.action_id.clone().unwrap_or_else(fresh);
            let steps = scenarios::lifecycle(&action_id, marker, now);
            let expected = vec![Expected {
                action_id,
                status: "reversed",
                payout: "0.00",
                is_test: marks,
            }];
            (steps.iter().map(request_of).collect(), expected)
        }
        Scenario::Inquiry => {
            let base = format!("{}", 9_000_000 + rand::random::<u32>() % 1_000_000);
            let steps = scenarios::inquiry(&base, now);
            (steps.iter().map(request_of).collect(), Vec::new())
        }
        Scenario::Clearing => {
            // Clearing needs actions to clear: two fresh ones are tracked first.
            let ids = match &args.action_id {
                Some(id) => vec![id.clone()],
                None => vec![fresh(), fresh()],
            };
            let mut steps: Vec<Step> = ids
                .iter()
                .map(|id| scenarios::tracked(id, marker, now))
                .collect();
            steps.push(scenarios::clearing(&ids, now));
            let expected = ids
                .iter()
                .map(|id| Expected {
                    action_id: id.clone(),
                    status: "pending",
                    payout: scenarios::LIFECYCLE[0].2,
                    is_test: marks,
                })
                .collect();
            (steps.iter().map(request_of).collect(), expected)
        }
        Scenario::Replay(path) => (replay(&path, &to, args, secret)?, Vec::new()),
    };
    Ok((requests, expected))
}

/// The configuration's query secret, when no --secret or --header was given: run beside the
/// receiver's own config file, `send-test` needs no secret on the command line.
fn default_secret(settings: &Settings, args: &SendTestArgs) -> Option<String> {
    if !args.headers.is_empty() {
        return None;
    }
    let auth = settings
        .sources
        .get(args.source.as_deref().unwrap_or("actions"))
        .map(|source| &source.auth)
        .unwrap_or(&settings.auth);
    if auth.query_param.as_deref().unwrap_or("secure") != args.secret_param {
        return None;
    }
    let configured = auth
        .query_values
        .iter()
        .find(|value| !value.starts_with("sha256:"))
        .cloned();
    let own_credentials = auth.query_param.is_some()
        || auth.header.is_some()
        || auth.hmac_header.is_some()
        || !auth.standard_webhooks_secrets.is_empty();
    // A source with no credentials of its own takes the receiver's generated secret: read it
    // from the receiver's database, so a first `send-test` on a default install is not three 401s.
    configured.or_else(|| {
        (!own_credentials)
            .then(|| stored_secret(settings))
            .flatten()
    })
}

/// The generated secret kept in the configured database, if there is one to read (a SQLite file
/// that does not exist is not created).
fn stored_secret(settings: &Settings) -> Option<String> {
    let target = crate::storage::target_of(&settings.database_url).ok()?;
    if target.backend == crate::storage::Backend::Sqlite
        && !std::path::Path::new(&target.address).exists()
    {
        return None;
    }
    let db = crate::storage::Database::connect(&settings.database_url).ok()?;
    let mut conn = db.conn().ok()?;
    crate::storage::settings::get(&mut conn, crate::web::startup::SECRET_KEY)
        .ok()
        .flatten()
}

fn replay(
    path: &std::path::Path,
    to: &Url,
    args: &SendTestArgs,
    secret: Option<(&str, &str)>,
) -> Result<Vec<Request>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut requests = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let recorded: Recorded = serde_json::from_str(line)
            .map_err(|error| format!("{} line {}: {error}", path.display(), n + 1))?;
        let source = recorded
            .source
            .or_else(|| args.source.clone())
            .unwrap_or_else(|| "actions".into());
        let url = match &recorded.path {
            Some(path) => {
                let mut url = to.clone();
                url.set_path(path);
                url
            }
            None => endpoint(to, &source),
        };
        let method = match recorded.method.as_deref() {
            Some(word) if word.eq_ignore_ascii_case("GET") => "GET",
            Some(word) if word.eq_ignore_ascii_case("POST") => "POST",
            None if recorded.body.is_empty() => "GET",
            None => "POST",
            Some(other) => {
                return Err(format!(
                    "{} line {}: method `{other}`: use GET or POST",
                    path.display(),
                    n + 1
                ));
            }
        };
        requests.push(Request {
            label: format!("replay line {}", n + 1),
            method,
            url: with_query(url, &recorded.query, secret),
            content_type: recorded.content_type,
            body: recorded.body,
        });
    }
    if requests.is_empty() {
        return Err(format!("{} holds no requests", path.display()));
    }
    Ok(requests)
}

/// The URL as printed: the secret's value masked.
fn shown(url: &Url, secret_param: &str) -> String {
    let mut url = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(name, value)| {
            let value = if name == secret_param {
                "***".to_owned()
            } else {
                value.into_owned()
            };
            (name.into_owned(), value)
        })
        .collect();
    if !pairs.is_empty() {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// The answer to one attempt: the status (None: no answer at all) and what ours says.
struct Answer {
    status: Option<u16>,
    text: String,
    ours: bool,
}

async fn send(client: &reqwest::Client, request: &Request, headers: &[(String, String)]) -> Answer {
    let mut builder = match request.method {
        "POST" => client.post(request.url.clone()),
        _ => client.get(request.url.clone()),
    };
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    if let Some(content_type) = &request.content_type {
        builder = builder.header("content-type", content_type);
    }
    if request.method == "POST" {
        builder = builder.body(request.body.clone());
    }
    match builder.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            };
            let outcome = header(OUTCOME_HEADER);
            let delivery = header(DELIVERY_ID_HEADER);
            let body = response.text().await.unwrap_or_default();
            let mut text = body.chars().take(200).collect::<String>();
            if let Some(outcome) = &outcome {
                text.push_str(&format!(
                    "  [outcome {outcome}, delivery {}]",
                    delivery.unwrap_or_default()
                ));
            }
            Answer {
                status: Some(status),
                text,
                ours: outcome.is_some(),
            }
        }
        Err(error) => Answer {
            status: None,
            text: format!("no answer: {error}"),
            ours: false,
        },
    }
}

/// impact.com stops retrying only on 200 or 201.
fn accepted(status: Option<u16>) -> bool {
    matches!(status, Some(200 | 201))
}

/// The retries to make after an answer, as indexes into the schedule.
fn next_retry(previous: Option<usize>, status: Option<u16>) -> Option<usize> {
    let next = previous.map_or(0, |index| index + 1);
    let next = if status.is_some_and(|code| (400..=500).contains(&code)) {
        next.max(SKIPPED_ON_CLIENT_ERROR)
    } else {
        next
    };
    (next < RETRY_DELAYS_SECONDS.len()).then_some(next)
}

async fn play(
    args: &SendTestArgs,
    requests: Vec<Request>,
    expected: Vec<Expected>,
) -> anyhow::Result<bool> {
    let headers = args
        .headers
        .iter()
        .map(|header| {
            header
                .split_once(':')
                .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
                .ok_or_else(|| anyhow::anyhow!("--header `{header}`: write it as \"Name: value\""))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut queue: Vec<Request> = requests
        .iter()
        .flat_map(|request| std::iter::repeat_n(request.clone(), args.duplicates as usize + 1))
        .collect();
    if args.shuffle {
        let mut rng = match args.seed {
            Some(seed) => rand::rngs::StdRng::seed_from_u64(seed),
            None => rand::rngs::StdRng::from_rng(&mut rand::rng()),
        };
        queue.shuffle(&mut rng);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout))
        .build()?;
    let mut all_accepted = true;
    let mut ours = false;
    let total = queue.len();
    for (n, request) in queue.iter().enumerate() {
        println!(
            "→ [{}/{total}] {} {}  ({})",
            n + 1,
            request.method,
            shown(&request.url, &args.secret_param),
            request.label
        );
        if request.method == "POST" {
            println!(
                "  {}",
                request
                    .body
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        let mut retry = None;
        loop {
            let started = Instant::now();
            let answer = send(&client, request, &headers).await;
            ours |= answer.ours;
            let status = answer
                .status
                .map_or_else(|| "---".to_owned(), |code| code.to_string());
            println!(
                "← {status} {} ({} ms)",
                answer.text,
                started.elapsed().as_millis()
            );
            if accepted(answer.status) {
                break;
            }
            if !args.retry_on_failure {
                all_accepted = false;
                break;
            }
            match next_retry(retry, answer.status) {
                Some(index) => {
                    let delay = Duration::from_secs(RETRY_DELAYS_SECONDS[index])
                        .mul_f64(args.time_scale.max(0.0));
                    println!(
                        "  retry {} of {} in {:.3} s",
                        index + 1,
                        RETRY_DELAYS_SECONDS.len(),
                        delay.as_secs_f64()
                    );
                    tokio::time::sleep(delay).await;
                    retry = Some(index);
                }
                None => {
                    println!("  gave up after impact.com's last retry");
                    all_accepted = false;
                    break;
                }
            }
        }
    }
    let mut ledger_ok = true;
    if ours && !expected.is_empty() {
        let base = {
            let mut base = requests[0].url.clone();
            base.set_query(None);
            base.set_path("/");
            base
        };
        for expectation in &expected {
            let problems = verify(&client, &base, expectation).await;
            if problems.is_empty() {
                println!(
                    "ledger ok: action {} is {} at {}{}, its entries sum to its payout",
                    expectation.action_id,
                    expectation.status,
                    expectation.payout,
                    if expectation.is_test {
                        ", marked as a test"
                    } else {
                        ""
                    }
                );
            } else {
                ledger_ok = false;
                for problem in problems {
                    println!(
                        "ledger MISMATCH: action {}: {problem}",
                        expectation.action_id
                    );
                }
            }
        }
    } else if !expected.is_empty() {
        println!("not our receiver (no X-Delivery-Outcome): the ledger was not checked");
    } else if ours {
        println!("this scenario is checked by its HTTP answers only");
    }
    let ok = all_accepted && ledger_ok;
    println!(
        "{}: {total} request(s) sent, {}",
        if ok { "PASS" } else { "FAIL" },
        if all_accepted {
            "all accepted"
        } else {
            "some not accepted (not 200/201)"
        }
    );
    Ok(ok)
}

/// Reads `/api/actions/{id}` and names every way it differs from what was expected.
async fn verify(client: &reqwest::Client, base: &Url, expected: &Expected) -> Vec<String> {
    let url = match base.join(&format!(
        "api/actions/{}",
        url_path_segment(&expected.action_id)
    )) {
        Ok(url) => url,
        Err(error) => return vec![format!("cannot build the API URL: {error}")],
    };
    let view: serde_json::Value = match client.get(url).send().await {
        Ok(response) if response.status().as_u16() == 200 => match response.json().await {
            Ok(view) => view,
            Err(error) => return vec![format!("the API answered something not JSON: {error}")],
        },
        Ok(response) => return vec![format!("the API answered {}", response.status())],
        Err(error) => return vec![format!("the API did not answer: {error}")],
    };
    let mut problems = Vec::new();
    let text = |key: &str| view[key].as_str().unwrap_or_default().to_owned();
    if text("status") != expected.status {
        problems.push(format!(
            "status is {}, expected {}",
            text("status"),
            expected.status
        ));
    }
    if text("payout") != expected.payout {
        problems.push(format!(
            "payout is {}, expected {}",
            text("payout"),
            expected.payout
        ));
    }
    let sum: Option<Decimal> = view["entries"].as_array().and_then(|entries| {
        entries.iter().try_fold(Decimal::ZERO, |sum, entry| {
            let delta: Decimal = entry["payout_delta"].as_str()?.parse().ok()?;
            Some(sum + delta)
        })
    });
    let payout: Option<Decimal> = text("payout").parse().ok();
    if sum.is_none() || sum != payout {
        problems.push(format!(
            "the entries sum to {}, not the payout {}",
            sum.map_or("?".into(), |sum| sum.to_string()),
            text("payout")
        ));
    }
    if let Some(flags) = view["flags"].as_array().filter(|flags| !flags.is_empty()) {
        problems.push(format!(
            "flagged {}",
            serde_json::Value::Array(flags.clone())
        ));
    }
    if expected.is_test && view["is_test"] != serde_json::Value::Bool(true) {
        problems
            .push("not marked as a test (does the receiver use the same [testing] marker?)".into());
    }
    problems
}

fn url_path_segment(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_schedule_skips_the_first_three_on_a_client_error() {
        // 30 h 51 min 45 s: the "about 31 hours" of the help page.
        assert_eq!(RETRY_DELAYS_SECONDS.iter().sum::<u64>(), 111_105);
        assert_eq!(next_retry(None, Some(503)), Some(0));
        assert_eq!(next_retry(None, None), Some(0));
        assert_eq!(next_retry(None, Some(401)), Some(3));
        assert_eq!(next_retry(Some(0), Some(500)), Some(3));
        assert_eq!(next_retry(Some(3), Some(404)), Some(4));
        assert_eq!(next_retry(Some(14), Some(503)), None);
        assert!(accepted(Some(201)) && !accepted(Some(202)) && !accepted(None));
    }

    #[test]
    fn a_base_url_gets_the_source_path_and_a_full_url_is_kept() {
        let base = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            endpoint(&base, "actions").as_str(),
            "http://127.0.0.1:8080/postbacks/actions"
        );
        let full = Url::parse("http://other.example/hook?x=1").unwrap();
        let url = with_query(endpoint(&full, "actions"), "a=b", Some(("secure", "s 1")));
        assert_eq!(url.as_str(), "http://other.example/hook?x=1&secure=s+1&a=b");
        assert_eq!(
            shown(&url, "secure"),
            "http://other.example/hook?x=1&secure=***&a=b"
        );
    }
}
