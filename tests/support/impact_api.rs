//! A local stand-in for impact.com's Partner API, serving the documented shapes (see
//! ../shared/reference/impact-partner-api.md): `GET /Mediapartners/{AccountSID}/Actions` with
//! HTTP Basic auth (AccountSID, AuthToken) checked, JSON only when asked for
//! (`Accept: application/json`, else XML), the date rules (StartDate/EndDate or
//! ActionDateStart/ActionDateEnd: one requires the other, at most 45 days apart, at most three
//! years back; none: the last 7 days), records newest first, pages of `PageSize` with the
//! `@`-envelope (numbers as strings, `@nextpageuri` a path, empty on the last page), and faults
//! on chosen requests: 429 with `Retry-After`, a 5xx. Every request is logged with its status.
//!
//! Simplifications: StartDate/EndDate filter on EventDate as ActionDateStart/End do (the records
//! carry no update date); any PageSize is taken (impact.com raises one under 2,000 to 2,000), so
//! the tests see several pages.
//!
//! Shared by the tests (tests/api/cross_check.rs) and the benchmark (benches/cross_check.rs).
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Map, Value, json};

/// Requests answered with a fault, by their number (1 = the first request).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answered 429 Too Many Requests with `Retry-After: retry_after`.
    pub too_many: BTreeSet<usize>,
    pub retry_after: u64,
    /// Answered 503 Service Unavailable.
    pub server_error: BTreeSet<usize>,
    /// Every answer waits this long first (a slow API).
    pub delay: std::time::Duration,
}

impl Faults {
    /// The faults: a 429 (Retry-After: 1) on the 2nd request, a 503 once on the 4th.
    pub fn some() -> Faults {
        Faults {
            too_many: [2].into(),
            retry_after: 1,
            server_error: [4].into(),
            delay: std::time::Duration::ZERO,
        }
    }
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub number: usize,
    pub at: std::time::Instant,
    pub path_and_query: String,
    pub status: u16,
}

struct State {
    account_sid: String,
    auth_token: String,
    actions: Vec<Map<String, Value>>,
    faults: Faults,
    log: Vec<Logged>,
}

pub struct StandIn {
    pub base: String,
    pub account_sid: String,
    pub auth_token: String,
    state: Arc<Mutex<State>>,
    server: actix_web::dev::ServerHandle,
}

impl StandIn {
    /// Serves `actions` (records as impact.com writes them) on a port of its own.
    pub fn start(
        account_sid: &str,
        auth_token: &str,
        actions: Vec<Value>,
        faults: Faults,
    ) -> StandIn {
        let state = Arc::new(Mutex::new(State {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            actions: records(actions),
            faults,
            log: Vec::new(),
        }));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the stand-in");
        let port = listener.local_addr().unwrap().port();
        let shared = state.clone();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("impact-stand-in".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(web::Data::from(shared.clone()))
                            .route("/Mediapartners/{sid}/Actions", web::get().to(actions_list))
                            .default_service(web::to(|| async {
                                HttpResponse::NotFound().body("no such resource")
                            }))
                    })
                    .workers(2)
                    .listen(listener)
                    .expect("listen")
                    .run();
                    sender.send(server.handle()).unwrap();
                    let _ = server.await;
                });
            })
            .expect("spawn the stand-in");
        let server = receiver.recv().expect("the stand-in started");
        StandIn {
            base: format!("http://127.0.0.1:{port}"),
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            state,
            server,
        }
    }

    /// What the network lists from now on.
    pub fn set_actions(&self, actions: Vec<Value>) {
        self.state.lock().unwrap().actions = records(actions);
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state.lock().unwrap().faults = faults;
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        // The stop command is sent at once; its future only waits for it to finish.
        drop(self.server.stop(false));
    }
}

fn records(actions: Vec<Value>) -> Vec<Map<String, Value>> {
    let mut records: Vec<Map<String, Value>> = actions
        .into_iter()
        .map(|action| match action {
            Value::Object(map) => map,
            _ => panic!("an action record is a JSON object"),
        })
        .collect();
    // Newest first, by creation date.
    records.sort_by(|a, b| {
        let at = |record: &Map<String, Value>| parse(record.get("CreationDate"));
        at(b).cmp(&at(a))
    });
    records
}

fn parse(value: Option<&Value>) -> Option<DateTime<Utc>> {
    value
        .and_then(Value::as_str)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|at| at.with_timezone(&Utc))
}

fn error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(json!({"Status": "ERROR", "Message": message}).to_string())
}

/// A date parameter: ISO 8601 with a time, or a date.
fn date_param(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .map(|day| day.and_hms_opt(0, 0, 0).unwrap().and_utc())
        })
}

/// From and to, both included.
type Range = (DateTime<Utc>, DateTime<Utc>);

/// A date pair from the query: None when neither is given; an error message when broken.
fn pair(query: &[(String, String)], start: &str, end: &str) -> Result<Option<Range>, String> {
    let get = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.clone())
    };
    match (get(start), get(end)) {
        (None, None) => Ok(None),
        (Some(_), None) | (None, Some(_)) => {
            Err(format!("{start} and {end} must be given together"))
        }
        (Some(first), Some(last)) => {
            let first = date_param(&first).ok_or(format!("{start} is not a date"))?;
            let last = date_param(&last).ok_or(format!("{end} is not a date"))?;
            if last < first {
                return Err(format!("{end} is before {start}"));
            }
            if last - first > Duration::days(45) {
                return Err(format!(
                    "{start} and {end} cannot be more than 45 days apart"
                ));
            }
            if first < Utc::now() - Duration::days(3 * 365 + 1) {
                return Err(format!("{start} cannot be more than 3 years in the past"));
            }
            Ok(Some((first, last)))
        }
    }
}

async fn actions_list(
    request: HttpRequest,
    sid: web::Path<String>,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let delay = state.lock().unwrap().faults.delay;
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    let mut state = state.lock().unwrap();
    let number = state.log.len() + 1;
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default();
    let response = answer(&request, &sid, &state, number);
    state.log.push(Logged {
        number,
        at: std::time::Instant::now(),
        path_and_query,
        status: response.status().as_u16(),
    });
    response
}

fn answer(request: &HttpRequest, sid: &str, state: &State, number: usize) -> HttpResponse {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", state.account_sid, state.auth_token))
    );
    let authorized = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value == expected);
    if !authorized || sid != state.account_sid {
        return error(401, "Invalid credentials");
    }
    if state.faults.too_many.contains(&number) {
        return HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", state.faults.retry_after.to_string()))
            .content_type("application/json")
            .body(json!({"Status": "ERROR", "Message": "Too many requests"}).to_string());
    }
    if state.faults.server_error.contains(&number) {
        return error(503, "Service unavailable");
    }
    let wants_json = request
        .headers()
        .get("accept")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("application/json"));
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    let by_event = match pair(&query, "ActionDateStart", "ActionDateEnd") {
        Ok(found) => found,
        Err(message) => return error(400, &message),
    };
    let by_update = match pair(&query, "StartDate", "EndDate") {
        Ok(found) => found,
        Err(message) => return error(400, &message),
    };
    let range = by_event
        .or(by_update)
        .unwrap_or_else(|| (Utc::now() - Duration::days(7), Utc::now()));
    let number_of = |name: &str, default: usize| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| value.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(default)
    };
    let page_size = number_of("PageSize", 20_000);
    let page = number_of("Page", 1);
    let matching: Vec<&Map<String, Value>> = state
        .actions
        .iter()
        .filter(|record| {
            parse(record.get("EventDate")).is_some_and(|at| range.0 <= at && at <= range.1)
        })
        .collect();
    let total = matching.len();
    let pages = total.div_ceil(page_size).max(1);
    let slice: Vec<Value> = matching
        .iter()
        .skip((page - 1) * page_size)
        .take(page_size)
        .map(|record| Value::Object((*record).clone()))
        .collect();
    let path = format!("/Mediapartners/{sid}/Actions");
    let with_page = |n: usize| {
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .filter(|(key, _)| key != "Page")
            .cloned()
            .collect();
        pairs.push(("Page".into(), n.to_string()));
        format!("{path}?{}", serde_urlencoded::to_string(&pairs).unwrap())
    };
    if !wants_json {
        return HttpResponse::Ok()
            .content_type("application/xml")
            .body(format!(
                "<?xml version=\"1.0\"?><ImpactRadiusResponse><Actions total=\"{total}\"/></ImpactRadiusResponse>"
            ));
    }
    let mut body = Map::new();
    body.insert("@page".into(), json!(page.to_string()));
    body.insert("@numpages".into(), json!(pages.to_string()));
    body.insert("@pagesize".into(), json!(page_size.to_string()));
    body.insert("@total".into(), json!(total.to_string()));
    body.insert("@start".into(), json!(((page - 1) * page_size).to_string()));
    body.insert(
        "@end".into(),
        json!(((page - 1) * page_size + slice.len()).to_string()),
    );
    body.insert("@uri".into(), json!(with_page(page)));
    body.insert("@firstpageuri".into(), json!(with_page(1)));
    body.insert(
        "@previouspageuri".into(),
        json!(if page > 1 {
            with_page(page - 1)
        } else {
            String::new()
        }),
    );
    body.insert(
        "@nextpageuri".into(),
        json!(if page < pages {
            with_page(page + 1)
        } else {
            String::new()
        }),
    );
    body.insert("@lastpageuri".into(), json!(with_page(pages)));
    body.insert("Actions".into(), Value::Array(slice));
    HttpResponse::Ok()
        .content_type("application/json")
        .body(Value::Object(body).to_string())
}

/// An action as impact.com's Actions list writes it, built from the seed payload's values
/// (brand-event-notification-payloads.md): every number a string, dates with an offset.
#[derive(Debug, Clone)]
pub struct ActionRecord {
    pub id: String,
    pub state: &'static str,
    pub payout: String,
    pub delta_payout: String,
    pub amount: String,
    pub delta_amount: String,
    pub currency: &'static str,
    pub event_date: DateTime<Utc>,
    pub locking_date: DateTime<Utc>,
    pub cleared_date: Option<DateTime<Utc>>,
    pub order_id: String,
}

fn offset_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono::FixedOffset::west_opt(7 * 3600).unwrap())
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

impl ActionRecord {
    pub fn json(&self, account_sid: &str) -> Value {
        json!({
            "Id": self.id,
            "CampaignId": "9876",
            "CampaignName": "Spring Global Promotion",
            "ActionTrackerId": "12345",
            "ActionTrackerName": "Standard Sale Tracker",
            "EventCode": "",
            "State": self.state,
            "AdId": "44332",
            "Payout": self.payout,
            "DeltaPayout": self.delta_payout,
            "IntendedPayout": self.payout,
            "Amount": self.amount,
            "DeltaAmount": self.delta_amount,
            "IntendedAmount": self.amount,
            "Currency": self.currency,
            "ReferringDate": offset_time(self.event_date - Duration::minutes(30)),
            "EventDate": offset_time(self.event_date),
            "CreationDate": offset_time(self.event_date + Duration::minutes(5)),
            "LockingDate": offset_time(self.locking_date),
            "ClearedDate": self.cleared_date.map(offset_time).unwrap_or_default(),
            "ReferringType": "CLICK_COOKIE",
            "ReferringDomain": "blog.partner.com",
            "PromoCode": "SAVE20",
            "Oid": self.order_id,
            "CustomerArea": "California",
            "CustomerCity": "San Francisco",
            "CustomerRegion": "CA",
            "CustomerCountry": "US",
            "SubId1": "",
            "SubId2": "",
            "SubId3": "",
            "SharedId": "social_post_01",
            "Uri": format!("/Mediapartners/{account_sid}/Actions/{}", self.id),
        })
    }
}
