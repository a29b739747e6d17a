//! Realistic postback traffic, shared by the benchmark (`benches/load.rs`) and the durability
//! tests (`tests/api/durability.rs`) so both send the same shapes: the impact.com seed payload
//! (`tests/fixtures/action_modified.form`, all ~70 fields) with its ids, money and dates
//! replaced, sent half as a GET query string and half as a POST JSON body; per action a tracked,
//! modified and reversed history with `DeltaPayout`; and one request in twenty an exact repeat of
//! an earlier one, as impact.com's retries produce.
//!
//! Each user of this file needs part of it only.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Arc;

/// The seed payload's fields, in the order impact.com sends them.
const SEED_FORM: &str = include_str!("../fixtures/action_modified.form");

/// Keys the seed's JSON example writes as numbers rather than strings.
const NUMERIC_KEYS: &[&str] = &[
    "CampaignId",
    "ActionTrackerId",
    "MediaPartnerId",
    "AdId",
    "Payout",
    "DeltaPayout",
    "IntendedPayout",
    "Amount",
    "DeltaAmount",
    "IntendedAmount",
    "OriginalAmount",
    "Money1",
    "Numeric1",
];

/// How many actions are generated together: their tracked events go out first, then their
/// modifications, then their reversals, so concurrent senders also deliver some out of order.
const CHUNK: usize = 32;
/// One request in this many is an exact repeat (5%).
const REPEAT_EVERY: u64 = 20;
/// Repeats are drawn from this many recent requests.
const RECENT: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    PostJson,
}

/// One HTTP request of the workload.
#[derive(Debug)]
pub struct Request {
    /// Index of the action in [`Workload::actions`].
    pub action: usize,
    pub method: Method,
    /// The payload as a query string (GET) or a JSON body (POST), without the secret.
    pub payload: String,
    /// An exact copy of an earlier request.
    pub repeat: bool,
}

/// One action's history, in minor units: the absolute payout after each event.
#[derive(Debug, Clone)]
pub struct ActionHistory {
    pub action_id: String,
    pub payouts: Vec<i64>,
    /// How many of its events have been handed out so far (always a prefix of the history).
    pub sent: usize,
}

impl ActionHistory {
    /// The payout the events handed out so far imply: each history is a chain of links, so the
    /// last event handed out names the current payout.
    pub fn implied_payout(&self) -> Option<i64> {
        self.sent.checked_sub(1).map(|last| self.payouts[last])
    }
}

/// A deterministic, endless stream of requests (SplitMix64: no dependency, same stream for the
/// same seed).
pub struct Workload {
    prefix: String,
    /// The seed with its dates moved to the present (fixed for the workload's life, so that a
    /// request rendered again is byte for byte the same), encoded both ways.
    query_template: Template,
    json_template: Template,
    rng: u64,
    pub actions: Vec<ActionHistory>,
    pending: VecDeque<Arc<Request>>,
    recent: VecDeque<Arc<Request>>,
    handed_out: u64,
}

impl Workload {
    /// `prefix` keeps the action ids of different workloads on one database apart.
    pub fn new(prefix: &str, seed: u64) -> Workload {
        let dates = present_dates(chrono::Utc::now());
        let seed_fields: Vec<(String, String)> =
            serde_urlencoded::from_str::<Vec<(String, String)>>(SEED_FORM.trim())
                .expect("the seed form fixture parses")
                .into_iter()
                .map(|(key, value)| {
                    let date = dates.iter().find(|(name, _)| *name == key);
                    let value = date.map_or(value, |(_, date)| date.clone());
                    (key, value)
                })
                .collect();
        Workload {
            prefix: prefix.to_owned(),
            query_template: Template::of(&seed_fields, false),
            json_template: Template::of(&seed_fields, true),
            rng: seed,
            actions: Vec::new(),
            pending: VecDeque::new(),
            recent: VecDeque::new(),
            handed_out: 0,
        }
    }

    fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next request to send. Every request handed out is recorded as sent.
    pub fn next_request(&mut self) -> Arc<Request> {
        self.handed_out += 1;
        if self.handed_out.is_multiple_of(REPEAT_EVERY) && !self.recent.is_empty() {
            let pick = (self.random() % self.recent.len() as u64) as usize;
            let original = &self.recent[pick];
            return Arc::new(Request {
                action: original.action,
                method: original.method,
                payload: original.payload.clone(),
                repeat: true,
            });
        }
        if self.pending.is_empty() {
            self.generate_chunk();
        }
        let request = self.pending.pop_front().expect("a chunk is never empty");
        self.actions[request.action].sent += 1;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(request.clone());
        request
    }

    /// Every distinct request handed out so far, in order (what impact.com would retry).
    pub fn sent_requests(&self) -> Vec<Arc<Request>> {
        let mut all = Vec::new();
        for (index, action) in self.actions.iter().enumerate() {
            for phase in 0..action.sent {
                all.push(Arc::new(self.render(index, phase)));
            }
        }
        all
    }

    fn generate_chunk(&mut self) {
        let first = self.actions.len();
        for n in first..first + CHUNK {
            // Tracked payouts of 1.00 to 200.00; a modification moves them up or down (possibly
            // back to a value seen before); a reversal brings them to zero.
            let tracked = 100 + (self.random() % 19_900) as i64;
            let modified = 100 + (self.random() % 19_900) as i64;
            let payouts = match self.random() % 10 {
                0..=4 => vec![tracked],
                5..=6 => vec![tracked, modified],
                7..=8 => vec![tracked, modified, 0],
                _ => vec![tracked, 0],
            };
            self.actions.push(ActionHistory {
                action_id: format!("{}.{n}", self.prefix),
                payouts,
                sent: 0,
            });
        }
        for phase in 0..3 {
            for index in first..first + CHUNK {
                if phase < self.actions[index].payouts.len() {
                    let request = Arc::new(self.render(index, phase));
                    self.pending.push_back(request);
                }
            }
        }
    }

    /// Event `phase` of action `index`, as the seed payload with this event's values.
    fn render(&self, index: usize, phase: usize) -> Request {
        let action = &self.actions[index];
        let payout = action.payouts[phase];
        let previous = phase.checked_sub(1).map_or(0, |p| action.payouts[p]);
        let status = match (phase, payout) {
            (0, _) => "PENDING",
            (_, 0) => "REVERSED",
            _ => "MODIFIED",
        };
        let value = |slot: Slot| -> String {
            match slot {
                Slot::ActionId => action.action_id.clone(),
                Slot::Status => status.to_owned(),
                Slot::Payout => money(payout),
                Slot::DeltaPayout => money(payout - previous),
                Slot::Amount => money(payout * 10),
                Slot::DeltaAmount => money((payout - previous) * 10),
                Slot::Oid => format!("ORD-{}", action.action_id),
            }
        };
        // Half and half, fixed per event so a repeat has the same form as its original.
        let method = if (index + phase).is_multiple_of(2) {
            Method::Get
        } else {
            Method::PostJson
        };
        let template = match method {
            Method::Get => &self.query_template,
            Method::PostJson => &self.json_template,
        };
        let mut payload = String::with_capacity(template.length + 256);
        for (literal, slot) in &template.parts {
            payload.push_str(literal);
            if let Some((slot, key)) = slot {
                let value = value(*slot);
                match method {
                    Method::Get => form_encode(&value, &mut payload),
                    Method::PostJson => payload.push_str(&json_value(key, &value)),
                }
            }
        }
        Request {
            action: index,
            method,
            payload,
            repeat: false,
        }
    }
}

/// The seed's fields an event changes, filled in per request.
#[derive(Debug, Clone, Copy)]
enum Slot {
    ActionId,
    Status,
    Payout,
    DeltaPayout,
    Amount,
    DeltaAmount,
    Oid,
}

impl Slot {
    fn of(key: &str) -> Option<Slot> {
        Some(match key {
            "ActionId" => Slot::ActionId,
            "Status" => Slot::Status,
            "Payout" | "IntendedPayout" => Slot::Payout,
            "DeltaPayout" => Slot::DeltaPayout,
            "Amount" | "IntendedAmount" | "OriginalAmount" => Slot::Amount,
            "DeltaAmount" => Slot::DeltaAmount,
            "Oid" => Slot::Oid,
            _ => return None,
        })
    }
}

/// A payload encoded once with holes for the slots, so that a request costs the load generator
/// a few copies rather than seventy fields encoded anew (it shares the cores with the server).
/// Each part is encoded text followed by the slot, with its field's key, to fill in after it.
struct Template {
    parts: Vec<(String, Option<(Slot, String)>)>,
    length: usize,
}

impl Template {
    /// The fields as a query string (`json` false) or as the seed's JSON example writes them.
    fn of(fields: &[(String, String)], json: bool) -> Template {
        let mut parts = Vec::new();
        let mut literal = String::from(if json { "{" } else { "" });
        for (n, (key, value)) in fields.iter().enumerate() {
            if n > 0 {
                literal.push(if json { ',' } else { '&' });
            }
            let slot = Slot::of(key);
            if json {
                literal.push_str(&serde_json::to_string(key).expect("a string encodes"));
                literal.push(':');
            } else {
                form_encode(key, &mut literal);
                literal.push('=');
            }
            match slot {
                Some(slot) => parts.push((std::mem::take(&mut literal), Some((slot, key.clone())))),
                None if json => literal.push_str(&json_value(key, value)),
                None => form_encode(value, &mut literal),
            }
        }
        if json {
            literal.push('}');
        }
        parts.push((literal, None));
        let length = parts.iter().map(|(literal, _)| literal.len()).sum();
        Template { parts, length }
    }
}

/// `application/x-www-form-urlencoded` byte serialization (the WHATWG URL standard's, as
/// `serde_urlencoded` writes it).
fn form_encode(text: &str, out: &mut String) {
    for byte in text.bytes() {
        match byte {
            b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
}

/// A field's value as the seed's JSON example writes it: numbers bare, `items` as an array,
/// empty values as null.
fn json_value(key: &str, value: &str) -> String {
    if value.is_empty() {
        "null".to_owned()
    } else if NUMERIC_KEYS.contains(&key) || key == "items" {
        value.to_owned()
    } else {
        serde_json::to_string(value).expect("a string encodes")
    }
}

/// The seed's dates as a burst after a maintenance window has them: events of the last hour,
/// locking a month after them, not cleared yet. (The seed's own dates are in the past now, which
/// would make every modification and reversal a change after locking, flagged and counted again.)
fn present_dates(now: chrono::DateTime<chrono::Utc>) -> Vec<(&'static str, String)> {
    let event = now - chrono::Duration::hours(1);
    let format = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    vec![
        ("EventDate", format(event)),
        ("CreationDate", format(event + chrono::Duration::minutes(5))),
        ("LockingDate", format(event + chrono::Duration::days(30))),
        ("ClearedDate", String::new()),
        ("Date1", event.format("%Y-%m-%d").to_string()),
    ]
}

/// Minor units as a decimal string with two places, the way impact.com writes money.
pub fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

/// What the receiver answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub delivery_id: Option<i64>,
    pub outcome: Option<String>,
}

impl Answer {
    /// The status and the delivery headers the receiver sets.
    pub fn of(status: u16, headers: &reqwest::header::HeaderMap) -> Answer {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        Answer {
            status,
            delivery_id: header("x-delivery-id").and_then(|id| id.parse().ok()),
            outcome: header("x-delivery-outcome"),
        }
    }
}

/// Sends one request to `/postbacks/actions` with the query secret.
pub async fn send(
    client: &reqwest::Client,
    base: &str,
    secret: &str,
    request: &Request,
) -> reqwest::Result<Answer> {
    let response = match request.method {
        Method::Get => {
            client
                .get(format!(
                    "{base}/postbacks/actions?secure={secret}&{}",
                    request.payload
                ))
                .send()
                .await?
        }
        Method::PostJson => {
            client
                .post(format!("{base}/postbacks/actions?secure={secret}"))
                .header("content-type", "application/json")
                .body(request.payload.clone())
                .send()
                .await?
        }
    };
    let answer = Answer::of(response.status().as_u16(), response.headers());
    // Read the body so the connection goes back to the pool.
    response.bytes().await?;
    Ok(answer)
}

/// What a run found wrong with the ledger; empty means every acknowledged delivery is stored and
/// every action whose events were all acknowledged has the payout its history implies.
/// `uncertain` are actions with an event that was never acknowledged (its fate is unknown).
pub fn verify_ledger(
    database_url: &str,
    acknowledged: &[i64],
    actions: &[ActionHistory],
    uncertain: &std::collections::HashSet<usize>,
) -> Vec<String> {
    use postback_ledger::domain::money::Money;
    use postback_ledger::storage::{Database, actions as stored_actions, deliveries};
    let mut problems = Vec::new();
    let db = Database::connect(database_url).expect("the database answers");
    let mut conn = db.conn().expect("a connection");
    let mut wanted: Vec<i64> = acknowledged.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    for ids in wanted.chunks(500) {
        let found: std::collections::HashSet<i64> = deliveries::existing_ids(&mut conn, ids)
            .expect("query deliveries")
            .into_iter()
            .collect();
        for id in ids.iter().filter(|id| !found.contains(id)) {
            problems.push(format!("delivery {id} was acknowledged but is not stored"));
        }
    }
    let checked: Vec<&ActionHistory> = actions
        .iter()
        .enumerate()
        .filter(|(index, action)| action.sent > 0 && !uncertain.contains(index))
        .map(|(_, action)| action)
        .collect();
    for group in checked.chunks(500) {
        let ids: Vec<String> = group.iter().map(|a| a.action_id.clone()).collect();
        let stored: std::collections::HashMap<String, i64> =
            stored_actions::of_ids(&mut conn, &ids)
                .expect("query actions")
                .into_iter()
                .map(|action| (action.action_id, action.payout))
                .collect();
        for action in group {
            // The workload counts cents; the ledger keeps postback_ledger::domain::money::SCALE places.
            let implied = action
                .implied_payout()
                .map(|cents| cents * 10i64.pow(postback_ledger::domain::money::SCALE - 2));
            match stored.get(&action.action_id) {
                Some(payout) if Some(*payout) == implied => {}
                Some(payout) => problems.push(format!(
                    "action {}: payout {} but its history implies {}",
                    action.action_id,
                    Money::from_minor_units(*payout),
                    Money::from_minor_units(implied.unwrap_or_default())
                )),
                None => problems.push(format!(
                    "action {}: acknowledged but not in the ledger",
                    action.action_id
                )),
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of a payload, decoded the way the receiver reads either form.
    fn fields_of(request: &Request) -> Vec<(String, String)> {
        match request.method {
            Method::Get => serde_urlencoded::from_str(&request.payload).expect("a query string"),
            Method::PostJson => {
                let object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&request.payload).expect("a JSON object");
                object
                    .into_iter()
                    .map(|(key, value)| {
                        let text = match value {
                            serde_json::Value::Null => String::new(),
                            serde_json::Value::String(text) => text,
                            other => other.to_string(),
                        };
                        (key, text)
                    })
                    .collect()
            }
        }
    }

    #[test]
    fn a_rendered_request_is_the_seed_with_its_events_values_and_present_dates() {
        let mut workload = Workload::new("w", 7);
        let seed: Vec<(String, String)> =
            serde_urlencoded::from_str(SEED_FORM.trim()).expect("the seed parses");
        let mut methods = std::collections::HashSet::new();
        for _ in 0..200 {
            let request = workload.next_request();
            methods.insert(request.method);
            let action = &workload.actions[request.action];
            let fields: std::collections::HashMap<String, String> =
                fields_of(&request).into_iter().collect();
            assert_eq!(fields.len(), seed.len(), "every seed field, once");
            assert_eq!(fields["ActionId"], action.action_id);
            assert_eq!(fields["Oid"], format!("ORD-{}", action.action_id));
            assert!(action.payouts.iter().any(|p| money(*p) == fields["Payout"]));
            assert_eq!(fields["IntendedPayout"], fields["Payout"]);
            assert_eq!(fields["ClearedDate"], "");
            assert!(fields["LockingDate"] > fields["EventDate"]);
            for (key, value) in &seed {
                if Slot::of(key).is_none() && !key.ends_with("Date") && key != "Date1" {
                    assert_eq!(&fields[key], value, "{key} is the seed's");
                }
            }
        }
        assert_eq!(methods.len(), 2, "both forms are sent");
    }

    #[test]
    fn form_encoding_matches_serde_urlencoded() {
        let text = "a b&c=d/é*-._~:+%";
        let mut ours = String::from("k=");
        form_encode(text, &mut ours);
        assert_eq!(ours, serde_urlencoded::to_string([("k", text)]).unwrap());
    }
}
