//! Maps a decoded field map onto a typed event through a source's field and status maps: one
//! engine for every kind (field lookup, used-key tracking, extras), each kind's fields in
//! `fields`, each kind's reading in `action` and `kinds`.

mod action;
pub mod fields;
mod kinds;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;

use crate::domain::event::{
    ActionStatus, InquiryStatus, LineItem, Postback, Quarantine, SentDate, SourceKind,
};
use crate::domain::money::Money;
use crate::intake::decode::{Fields, field_text};
use crate::intake::mapping::fields::{
    ACTION_STATUSES, INQUIRY_STATUSES, RESULT_URL_PREFIX, fields_of,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("`{0}` is not a field of this kind of source (known: {1})")]
    UnknownField(String, String),
    #[error("status `{word}` maps to `{target}`, which is not pending, approved or reversed")]
    UnknownStatus { word: String, target: String },
    #[error(
        "resolution status `{word}` maps to `{target}`, which is not pending, approved, declined or incomplete"
    )]
    UnknownInquiryStatus { word: String, target: String },
    #[error("`{0}` sources take no status map")]
    StatusesNotSupported(String),
}

/// A kind's status words: action lifecycle and inquiries have them, other kinds none.
#[derive(Debug, Clone)]
enum Statuses {
    None,
    /// the partner's status word, lowercased -> normalized status
    Action(HashMap<String, ActionStatus>),
    Inquiry(HashMap<String, InquiryStatus>),
}

/// How one source reads its keys and status words: its kind's field table (`fields`) with the
/// configured keys laid over impact.com's. Keys and words match case-insensitively.
#[derive(Debug, Clone)]
pub struct Mapping {
    kind: SourceKind,
    /// canonical field -> the partner's key, lowercased
    keys: BTreeMap<&'static str, String>,
    /// canonical field -> the partner's key as written (for messages and templates)
    written: BTreeMap<&'static str, String>,
    statuses: Statuses,
}

fn lowercased<S: Copy>(words: &[(&str, S)]) -> HashMap<String, S> {
    words
        .iter()
        .map(|(word, status)| (word.to_ascii_lowercase(), *status))
        .collect()
}

impl Mapping {
    /// impact.com's keys and status words for `kind`.
    pub fn defaults(kind: SourceKind) -> Mapping {
        Mapping {
            kind,
            keys: fields_of(kind)
                .iter()
                .map(|(canonical, key)| (*canonical, key.to_ascii_lowercase()))
                .collect(),
            written: fields_of(kind)
                .iter()
                .map(|(canonical, key)| (*canonical, (*key).to_owned()))
                .collect(),
            statuses: match kind {
                SourceKind::ActionLifecycle | SourceKind::NetworkRecord => {
                    Statuses::Action(lowercased(ACTION_STATUSES))
                }
                SourceKind::ActionInquiry => Statuses::Inquiry(lowercased(INQUIRY_STATUSES)),
                _ => Statuses::None,
            },
        }
    }

    /// The defaults with the configured `fields` (canonical = key) and `statuses` (word =
    /// normalized status) laid over them.
    pub fn configured(
        kind: SourceKind,
        fields: &BTreeMap<String, String>,
        statuses: &BTreeMap<String, String>,
    ) -> Result<Mapping, MappingError> {
        let mut mapping = Mapping::defaults(kind);
        let table = fields_of(kind);
        for (canonical, key) in fields {
            let known = table
                .iter()
                .find(|(name, _)| name == canonical)
                .map(|(name, _)| *name)
                .ok_or_else(|| {
                    let names: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
                    MappingError::UnknownField(canonical.clone(), names.join(", "))
                })?;
            mapping.keys.insert(known, key.to_ascii_lowercase());
            mapping.written.insert(known, key.clone());
        }
        for (word, target) in statuses {
            let word = word.trim().to_ascii_lowercase();
            let unknown = || (word.clone(), target.clone());
            match &mut mapping.statuses {
                Statuses::Action(words) => {
                    let status = ActionStatus::parse_loose(target).ok_or_else(|| {
                        let (word, target) = unknown();
                        MappingError::UnknownStatus { word, target }
                    })?;
                    words.insert(word, status);
                }
                Statuses::Inquiry(words) => {
                    let status = InquiryStatus::parse_loose(target).ok_or_else(|| {
                        let (word, target) = unknown();
                        MappingError::UnknownInquiryStatus { word, target }
                    })?;
                    words.insert(word, status);
                }
                Statuses::None => {
                    return Err(MappingError::StatusesNotSupported(kind.as_str().to_owned()));
                }
            }
        }
        Ok(mapping)
    }

    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// The partner's key for a canonical field, as configured (lowercased).
    pub fn key_of(&self, canonical: &str) -> &str {
        self.keys.get(canonical).map(String::as_str).unwrap_or("")
    }

    /// The key as the configuration (or impact.com) spells it, for messages and templates.
    pub fn written_key(&self, canonical: &str) -> &str {
        self.written
            .get(canonical)
            .map(String::as_str)
            .unwrap_or("")
    }

    fn original_key(&self, canonical: &str) -> String {
        self.written_key(canonical).to_owned()
    }

    /// True when a postback's `key` is one this mapping reads (any case): a field of the table,
    /// or a completed job's result download URL.
    pub fn reads_key(&self, key: &str) -> bool {
        self.keys
            .values()
            .any(|known| known.eq_ignore_ascii_case(key))
            || (self.kind == SourceKind::CompletedJob
                && key.len() >= RESULT_URL_PREFIX.len()
                && key.as_bytes()[..RESULT_URL_PREFIX.len()]
                    .eq_ignore_ascii_case(RESULT_URL_PREFIX.as_bytes()))
    }

    fn action_status(&self, word: &str) -> Option<ActionStatus> {
        match &self.statuses {
            Statuses::Action(words) => words.get(&word.to_ascii_lowercase()).copied(),
            _ => None,
        }
    }

    fn inquiry_status(&self, word: &str) -> Option<InquiryStatus> {
        match &self.statuses {
            Statuses::Inquiry(words) => words.get(&word.to_ascii_lowercase()).copied(),
            _ => None,
        }
    }
}

/// Reads a postback's fields as the event of its source's kind. Never panics: what cannot be
/// applied safely is a quarantine reason; what is odd but usable is a warning.
pub fn map(
    fields: &Fields,
    mapping: &Mapping,
    warnings: &mut Vec<String>,
) -> Result<Postback, Quarantine> {
    map_kind(fields, mapping, warnings).map_err(|reason| match reason {
        // Only a postback without its id can be empty: the check stays off the path of every
        // postback that maps.
        Quarantine::NoActionId(_) | Quarantine::MissingId { .. } if is_empty(fields, mapping) => {
            Quarantine::EmptyPostback
        }
        other => other,
    })
}

/// No field the source maps carries a value (none is there, or each is empty or an unreplaced
/// `{Placeholder}`): the partner pasted a URL or body template without placeholders, a setup
/// error rather than a bad postback.
pub fn is_empty(fields: &Fields, mapping: &Mapping) -> bool {
    !fields
        .iter()
        .any(|(key, value)| mapping.reads_key(key) && has_value(value))
}

/// A value that is not absent: text that is not blank or a placeholder, a non-empty list or
/// object.
pub fn has_value(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        other => field_text(other)
            .map(str::trim)
            .is_some_and(|text| !text.is_empty() && !is_unreplaced_placeholder(text)),
    }
}

fn map_kind(
    fields: &Fields,
    mapping: &Mapping,
    warnings: &mut Vec<String>,
) -> Result<Postback, Quarantine> {
    match mapping.kind {
        SourceKind::ActionLifecycle | SourceKind::NetworkRecord => {
            action::map_action(fields, mapping, warnings).map(|e| Postback::Action(Box::new(e)))
        }
        SourceKind::ActionInquiry => {
            kinds::map_inquiry(fields, mapping, warnings).map(|e| Postback::Inquiry(Box::new(e)))
        }
        SourceKind::ActionClearing => {
            kinds::map_clearing(fields, mapping, warnings).map(|e| Postback::Clearing(Box::new(e)))
        }
        SourceKind::ProductDataChange => {
            kinds::map_product(fields, mapping, warnings).map(|e| Postback::Product(Box::new(e)))
        }
        SourceKind::CompletedJob => {
            kinds::map_job(fields, mapping, warnings).map(|e| Postback::Job(Box::new(e)))
        }
        SourceKind::TrackingValueRequest => kinds::map_tracking_value(fields, mapping, warnings)
            .map(|e| Postback::TrackingValue(Box::new(e))),
    }
}

/// One field as a mapping reads it: the canonical name it fills, the key as sent, its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRead {
    pub canonical: &'static str,
    pub key: String,
    pub value: String,
}

/// A postback's fields as this mapping understands them: the fields of its kind it found (in
/// the kind's table order) and every other key, kept as an extra. The same lookup as `map`
/// (any case; a completed job's result URLs are read by their prefix).
pub fn fields_read(
    fields: &Fields,
    mapping: &Mapping,
) -> (Vec<FieldRead>, BTreeMap<String, String>) {
    let mut lookup = Lookup::new(fields);
    let mut read = Vec::new();
    for (canonical, _) in fields_of(mapping.kind) {
        let key = mapping.key_of(canonical);
        if key.is_empty() {
            continue;
        }
        let Some(index) = lookup.by_key.get(&Caseless(key)).copied() else {
            continue;
        };
        let value = lookup.value(key).map(value_text).unwrap_or_default();
        read.push(FieldRead {
            canonical,
            key: lookup.fields[index].0.to_owned(),
            value,
        });
    }
    if mapping.kind == SourceKind::CompletedJob {
        for (key, value) in lookup.prefixed(RESULT_URL_PREFIX) {
            read.push(FieldRead {
                canonical: "result_url",
                key,
                value: value.unwrap_or_default(),
            });
        }
    }
    (read, lookup.unused())
}

/// A value as text: scalars as sent, lists and objects as JSON.
fn value_text(value: &Value) -> String {
    match field_text(value) {
        Some(text) => text.to_owned(),
        None if value.is_null() => String::new(),
        None => value.to_string(),
    }
}

/// One postback's fields read through a mapping, collecting warnings.
pub(super) struct Reader<'a, 'w> {
    lookup: Lookup<'a>,
    pub(super) mapping: &'a Mapping,
    pub(super) warnings: &'w mut Vec<String>,
}

impl<'a, 'w> Reader<'a, 'w> {
    pub(super) fn new(
        fields: &'a Fields,
        mapping: &'a Mapping,
        warnings: &'w mut Vec<String>,
    ) -> Self {
        Reader {
            lookup: Lookup::new(fields),
            mapping,
            warnings,
        }
    }

    pub(super) fn text(&mut self, canonical: &str) -> Option<String> {
        self.lookup.text(self.mapping.key_of(canonical))
    }

    pub(super) fn id(&mut self, canonical: &str, what: &'static str) -> Result<String, Quarantine> {
        self.text(canonical).ok_or_else(|| Quarantine::MissingId {
            what,
            field: self.mapping.original_key(canonical),
        })
    }

    pub(super) fn money(&mut self, canonical: &str) -> Result<Option<Money>, Quarantine> {
        self.text(canonical)
            .map(|value| {
                value
                    .parse::<Money>()
                    .map_err(|problem| Quarantine::UnparseableMoney {
                        field: self.mapping.original_key(canonical),
                        problem: problem.to_string(),
                    })
                    .and_then(|money| {
                        if money.is_plausible() {
                            Ok(money)
                        } else {
                            Err(Quarantine::ImplausibleMoney {
                                field: self.mapping.original_key(canonical),
                                value: value.clone(),
                            })
                        }
                    })
            })
            .transpose()
    }

    pub(super) fn date(&mut self, canonical: &str) -> Option<SentDate> {
        let value = self.text(canonical)?;
        let date = parse_sent_date(&value);
        if date.utc.is_none() {
            self.warnings.push(format!(
                "`{}` = `{}` is not a date; kept as text only",
                self.mapping.original_key(canonical),
                truncate(&value, 40)
            ));
        }
        Some(date)
    }

    /// A comma-separated list, blanks dropped, each id trimmed, order kept, repeats removed.
    pub(super) fn list(&mut self, canonical: &str) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for id in self.text(canonical).unwrap_or_default().split(',') {
            let id = id.trim();
            if !id.is_empty() && !ids.iter().any(|known| known == id) {
                ids.push(id.to_owned());
            }
        }
        ids
    }

    /// The `items` collection under the field `canonical`.
    pub(super) fn items(&mut self, canonical: &str) -> Vec<LineItem> {
        match self.lookup.value(self.mapping.key_of(canonical)) {
            Some(items) => parse_items(items, self.warnings),
            None => Vec::new(),
        }
    }

    /// Keys starting with `prefix` (lowercase), as sent, with their texts.
    pub(super) fn prefixed(&mut self, prefix: &str) -> Vec<(String, Option<String>)> {
        self.lookup.prefixed(prefix)
    }

    /// Every key no field took, with its value as text.
    pub(super) fn extra(&self) -> BTreeMap<String, String> {
        self.lookup.unused()
    }
}

/// The fields of one postback, looked up case-insensitively, remembering which were used.
pub(crate) struct Lookup<'a> {
    /// The fields as sent, in order.
    fields: Vec<(&'a str, &'a Value)>,
    /// Key in any case → the last field with that key.
    by_key: HashMap<Caseless<'a>, usize, foldhash::fast::RandomState>,
    /// Per field: some lookup took it.
    used: Vec<bool>,
}

impl<'a> Lookup<'a> {
    pub(crate) fn new(fields: &'a Fields) -> Self {
        let fields: Vec<(&'a str, &'a Value)> = fields
            .iter()
            .map(|(key, value)| (key.as_str(), value))
            .collect();
        let mut by_key = HashMap::with_capacity_and_hasher(fields.len(), Default::default());
        by_key.extend(
            fields
                .iter()
                .enumerate()
                .map(|(index, (key, _))| (Caseless(key), index)),
        );
        Lookup {
            by_key,
            used: vec![false; fields.len()],
            fields,
        }
    }

    pub(crate) fn value(&mut self, key: &str) -> Option<&'a Value> {
        let index = *self.by_key.get(&Caseless(key))?;
        self.used[index] = true;
        Some(self.fields[index].1)
    }

    /// The value as text, or None when it means "absent": missing, null, empty, or a
    /// placeholder impact.com left unreplaced such as `{Payout}`.
    pub(crate) fn text(&mut self, key: &str) -> Option<String> {
        let value = self.value(key)?;
        let text = field_text(value)?.trim();
        if text.is_empty() || is_unreplaced_placeholder(text) {
            None
        } else {
            Some(text.to_owned())
        }
    }

    /// Every key starting with `prefix` (lowercase), as sent, with its text; marked used.
    pub(crate) fn prefixed(&mut self, prefix: &str) -> Vec<(String, Option<String>)> {
        let mut keys: Vec<(String, String)> = self
            .by_key
            .iter()
            .filter(|(key, _)| {
                let key = key.0.as_bytes();
                key.len() >= prefix.len()
                    && key[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
            })
            .map(|(key, index)| (key.0.to_ascii_lowercase(), self.fields[*index].0.to_owned()))
            .collect();
        keys.sort();
        keys.into_iter()
            .map(|(lower, key)| {
                let text = self.text(&lower);
                (key, text)
            })
            .collect()
    }

    pub(crate) fn unused(&self) -> BTreeMap<String, String> {
        self.by_key
            .values()
            .filter(|index| !self.used[**index])
            .map(|index| {
                let (key, value) = self.fields[*index];
                let text = match field_text(value) {
                    Some(text) => text.to_owned(),
                    None if value.is_null() => String::new(),
                    None => value.to_string(),
                };
                (key.to_string(), text)
            })
            .collect()
    }
}

/// A field key compared and hashed without regard to ASCII case, so a postback's keys are
/// looked up without a lowercase copy of each.
#[derive(Debug, Clone, Copy)]
struct Caseless<'a>(&'a str);

impl PartialEq for Caseless<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for Caseless<'_> {}

impl std::hash::Hash for Caseless<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut lower = [0u8; 32];
        for chunk in self.0.as_bytes().chunks(lower.len()) {
            let lower = &mut lower[..chunk.len()];
            lower.copy_from_slice(chunk);
            lower.make_ascii_lowercase();
            state.write(lower);
        }
        state.write_u8(0xff);
    }
}

/// `{Payout}`, `{i.sku}`, `{join(items, …)}`: template text the network did not fill in.
pub fn is_unreplaced_placeholder(text: &str) -> bool {
    let Some(inner) = text
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
    else {
        return false;
    };
    inner.starts_with("join(")
        || (!inner.is_empty()
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'))
}

pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// ISO 8601 with `Z` or an offset and optional fractional seconds, a zone-less date-time (read
/// as UTC), or a date alone (midnight UTC). Kept to microseconds, what both databases hold.
pub fn parse_sent_date(text: &str) -> SentDate {
    let trimmed = text.trim();
    let utc = DateTime::parse_from_rfc3339(trimmed)
        .map(|date| date.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(trimmed, format).ok())
                .map(|naive| naive.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(trimmed, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .map(|naive| naive.and_utc())
        })
        .map(crate::domain::clock::truncate_to_micros);
    SentDate {
        utc,
        text: text.to_owned(),
    }
}

/// The `items` collection: an array of objects, or that array as a JSON string (GET templates).
pub(crate) fn parse_items(value: &Value, warnings: &mut Vec<String>) -> Vec<LineItem> {
    let parsed;
    let array = match value {
        Value::Array(array) => array,
        Value::String(text) if text.trim().is_empty() || is_unreplaced_placeholder(text.trim()) => {
            return Vec::new();
        }
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(array)) => {
                parsed = array;
                &parsed
            }
            _ => {
                warnings.push("`items` is not a list of items; kept as text only".to_owned());
                return Vec::new();
            }
        },
        Value::Null => return Vec::new(),
        _ => {
            warnings.push("`items` is not a list of items; kept as text only".to_owned());
            return Vec::new();
        }
    };
    array
        .iter()
        .filter_map(|item| {
            let Value::Object(object) = item else {
                warnings.push("an entry of `items` is not an object; skipped".to_owned());
                return None;
            };
            let mut lookup = Lookup::new(object);
            let mut any = |keys: &[&str]| keys.iter().find_map(|key| lookup.text(key));
            Some(LineItem {
                sku: any(&["sku"]),
                name: any(&["name"]),
                category: any(&["category", "cat"]),
                price: any(&["item_price", "price", "amt"]),
                quantity: any(&["quantity", "qty"]),
                cart_amount: any(&["cartamt", "cart_amount"]),
                rebate: any(&["rbt", "rebate"]),
            })
        })
        .collect()
}

/// A JSON object as decoded fields, for tests.
#[cfg(test)]
pub(crate) fn test_fields(value: Value) -> Fields {
    match value {
        Value::Object(map) => map,
        _ => panic!("test fields are a JSON object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_as_the_mapping_reads_them_and_the_rest_kept_as_extras() {
        let fields: Fields = serde_json::from_str(
            r#"{"actionid": "A1", "PAYOUT": "5.00", "amt": "9", "Brand": "Acme"}"#,
        )
        .unwrap();
        let configured = Mapping::configured(
            SourceKind::ActionLifecycle,
            &BTreeMap::from([("amount".to_owned(), "amt".to_owned())]),
            &BTreeMap::new(),
        )
        .unwrap();
        let (read, extras) = fields_read(&fields, &configured);
        let found: Vec<(&str, &str, &str)> = read
            .iter()
            .map(|field| (field.canonical, field.key.as_str(), field.value.as_str()))
            .collect();
        assert!(
            found.contains(&("action_id", "actionid", "A1")),
            "{found:?}"
        );
        assert!(found.contains(&("payout", "PAYOUT", "5.00")), "{found:?}");
        assert!(found.contains(&("amount", "amt", "9")), "{found:?}");
        assert_eq!(
            extras,
            BTreeMap::from([("Brand".to_owned(), "Acme".to_owned())])
        );
    }

    #[test]
    fn dates_are_read_in_every_shape_and_stored_in_utc() {
        let at = |text: &str| parse_sent_date(text).utc.map(|date| date.to_rfc3339());
        assert_eq!(
            at("2026-04-08T09:00:00Z").as_deref(),
            Some("2026-04-08T09:00:00+00:00")
        );
        assert_eq!(
            at("2026-04-08T02:00:00-07:00").as_deref(),
            Some("2026-04-08T09:00:00+00:00")
        );
        assert_eq!(
            at("2026-04-08T09:00:00.1234567Z").as_deref(),
            Some("2026-04-08T09:00:00.123456+00:00")
        );
        assert_eq!(
            at("2026-04-08").as_deref(),
            Some("2026-04-08T00:00:00+00:00")
        );
        assert_eq!(at("yesterday"), None);
        assert_eq!(parse_sent_date("yesterday").text, "yesterday");
    }

    #[test]
    fn caseless_keys_equal_and_hash_alike_in_any_case_and_length() {
        use std::hash::BuildHasher;
        let state = foldhash::fast::RandomState::default();
        let long = "Custom_Field_Name_Longer_Than_Thirty_Two_Bytes";
        for (a, b, same) in [
            ("ActionId", "actionid", true),
            (long, &long.to_ascii_uppercase(), true),
            ("ActionId", "ActionIds", false),
            ("a", "", false),
        ] {
            assert_eq!(Caseless(a) == Caseless(b), same, "{a} {b}");
            if same {
                assert_eq!(
                    state.hash_one(Caseless(a)),
                    state.hash_one(Caseless(b)),
                    "{a}"
                );
            }
        }
    }
}
