//! Maps a decoded field map onto a typed event through a source's field and status maps.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;

use crate::domain::event::{ActionEvent, ActionStatus, LineItem, Quarantine, SentDate};
use crate::domain::money::Money;
use crate::intake::decode::{Fields, field_text};

/// The canonical fields of an action lifecycle postback and impact.com's own key for each.
pub const ACTION_FIELDS: &[(&str, &str)] = &[
    ("action_id", "ActionId"),
    ("status", "Status"),
    ("payout", "Payout"),
    ("delta_payout", "DeltaPayout"),
    ("amount", "Amount"),
    ("delta_amount", "DeltaAmount"),
    ("payout_currency", "Currency"),
    ("amount_currency", "Currency"),
    ("campaign_id", "CampaignId"),
    ("campaign_name", "CampaignName"),
    ("action_tracker_id", "ActionTrackerId"),
    ("action_tracker_name", "ActionTrackerName"),
    ("media_partner_id", "MediaPartnerId"),
    ("order_id", "Oid"),
    ("shared_id", "SharedId"),
    ("sub_id1", "SubId1"),
    ("sub_id2", "SubId2"),
    ("sub_id3", "SubId3"),
    ("click_id", "RefClickId"),
    ("promo_code", "PromoCode"),
    ("event_date", "EventDate"),
    ("creation_date", "CreationDate"),
    ("locking_date", "LockingDate"),
    ("cleared_date", "ClearedDate"),
    ("items", "items"),
];

/// impact.com's status words and the normalized status each means.
const DEFAULT_STATUSES: &[(&str, ActionStatus)] = &[
    ("pending", ActionStatus::Pending),
    ("default", ActionStatus::Pending),
    ("modified", ActionStatus::Pending),
    ("tracked", ActionStatus::Pending),
    ("approved", ActionStatus::Approved),
    ("locked", ActionStatus::Approved),
    ("reversed", ActionStatus::Reversed),
    ("rejected", ActionStatus::Reversed),
    ("declined", ActionStatus::Reversed),
];

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

/// How one source's keys and status words are read. Keys and words match case-insensitively.
#[derive(Debug, Clone)]
pub struct ActionMapping {
    /// canonical field -> the partner's key, lowercased
    keys: BTreeMap<&'static str, String>,
    /// the partner's status word, lowercased -> normalized status
    statuses: HashMap<String, ActionStatus>,
}

impl Default for ActionMapping {
    fn default() -> Self {
        ActionMapping {
            keys: ACTION_FIELDS
                .iter()
                .map(|(canonical, key)| (*canonical, key.to_ascii_lowercase()))
                .collect(),
            statuses: DEFAULT_STATUSES
                .iter()
                .map(|(word, status)| (word.to_string(), *status))
                .collect(),
        }
    }
}

impl ActionMapping {
    /// impact.com's defaults with the configured `fields` (canonical = key) and `statuses`
    /// (word = status) laid over them.
    pub fn configured(
        fields: &BTreeMap<String, String>,
        statuses: &BTreeMap<String, String>,
    ) -> Result<Self, MappingError> {
        let mut mapping = ActionMapping::default();
        for (canonical, key) in fields {
            let known = ACTION_FIELDS
                .iter()
                .find(|(name, _)| name == canonical)
                .map(|(name, _)| *name)
                .ok_or_else(|| {
                    let names: Vec<&str> = ACTION_FIELDS.iter().map(|(name, _)| *name).collect();
                    MappingError::UnknownField(canonical.clone(), names.join(", "))
                })?;
            mapping.keys.insert(known, key.to_ascii_lowercase());
        }
        for (word, target) in statuses {
            let status =
                ActionStatus::parse_loose(target).ok_or_else(|| MappingError::UnknownStatus {
                    word: word.clone(),
                    target: target.clone(),
                })?;
            mapping
                .statuses
                .insert(word.trim().to_ascii_lowercase(), status);
        }
        Ok(mapping)
    }

    /// The partner's key for a canonical field, as configured (lowercased).
    pub fn key_of(&self, canonical: &str) -> &str {
        self.keys.get(canonical).map(String::as_str).unwrap_or("")
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

/// Maps an action lifecycle postback. Quarantines only what cannot be applied safely.
pub fn map_action(
    fields: &Fields,
    mapping: &ActionMapping,
    warnings: &mut Vec<String>,
) -> Result<ActionEvent, Quarantine> {
    let mut lookup = Lookup::new(fields);
    let mut text = |canonical: &str| lookup_text(&mut lookup, mapping, canonical);

    let action_id = text("action_id")
        .ok_or_else(|| Quarantine::NoActionId(original_key(mapping, "action_id")))?;
    let status_raw = text("status");
    let status = status_raw
        .as_deref()
        .and_then(|word| mapping.statuses.get(&word.to_ascii_lowercase()).copied());
    if status.is_none()
        && let Some(word) = &status_raw
    {
        warnings.push(format!(
            "unknown status `{word}`: applied as pending and flagged"
        ));
    }

    let mut event = ActionEvent {
        action_id,
        status,
        status_raw,
        payout_currency: text("payout_currency"),
        amount_currency: text("amount_currency"),
        campaign_id: text("campaign_id"),
        campaign_name: text("campaign_name"),
        action_tracker_id: text("action_tracker_id"),
        action_tracker_name: text("action_tracker_name"),
        media_partner_id: text("media_partner_id"),
        order_id: text("order_id"),
        shared_id: text("shared_id"),
        sub_id1: text("sub_id1"),
        sub_id2: text("sub_id2"),
        sub_id3: text("sub_id3"),
        click_id: text("click_id"),
        promo_code: text("promo_code"),
        ..ActionEvent::default()
    };
    for (canonical, slot) in [
        ("payout", &mut event.payout),
        ("delta_payout", &mut event.delta_payout),
        ("amount", &mut event.amount),
        ("delta_amount", &mut event.delta_amount),
    ] {
        *slot = text(canonical)
            .map(|value| {
                value
                    .parse::<Money>()
                    .map_err(|problem| Quarantine::UnparseableMoney {
                        field: original_key(mapping, canonical),
                        problem: problem.to_string(),
                    })
            })
            .transpose()?;
    }
    for (canonical, slot) in [
        ("event_date", &mut event.event_date),
        ("creation_date", &mut event.creation_date),
        ("locking_date", &mut event.locking_date),
        ("cleared_date", &mut event.cleared_date),
    ] {
        *slot = text(canonical).map(|value| {
            let date = parse_sent_date(&value);
            if date.utc.is_none() {
                warnings.push(format!(
                    "`{}` = `{}` is not a date; kept as text only",
                    original_key(mapping, canonical),
                    truncate(&value, 40)
                ));
            }
            date
        });
    }
    let items_key = mapping.key_of("items").to_owned();
    if let Some(items) = lookup.value(&items_key) {
        event.items = parse_items(items, warnings);
    }
    event.extra = lookup.unused();
    Ok(event)
}

fn lookup_text(
    lookup: &mut Lookup<'_>,
    mapping: &ActionMapping,
    canonical: &str,
) -> Option<String> {
    lookup.text(mapping.key_of(canonical))
}

/// The key as the configuration spells it, for messages.
fn original_key(mapping: &ActionMapping, canonical: &str) -> String {
    ACTION_FIELDS
        .iter()
        .find(|(name, key)| {
            *name == canonical && key.eq_ignore_ascii_case(mapping.key_of(canonical))
        })
        .map(|(_, key)| key.to_string())
        .unwrap_or_else(|| mapping.key_of(canonical).to_owned())
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Fields {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn map(value: Value) -> (Result<ActionEvent, Quarantine>, Vec<String>) {
        let mut warnings = Vec::new();
        let result = map_action(&fields(value), &ActionMapping::default(), &mut warnings);
        (result, warnings)
    }

    #[test]
    fn impact_names_map_case_insensitively_and_ids_stay_strings() {
        let (event, _) = map(json!({"actionid": "1000.4636.158133", "PAYOUT": "10.50",
            "Status": "approved", "CampaignId": 9876, "Oid": "ORD-1"}));
        let event = event.unwrap();
        assert_eq!(event.action_id, "1000.4636.158133");
        assert_eq!(event.payout, Some("10.5".parse().unwrap()));
        assert_eq!(event.status, Some(ActionStatus::Approved));
        assert_eq!(event.campaign_id.as_deref(), Some("9876"));
        assert_eq!(event.order_id.as_deref(), Some("ORD-1"));
    }

    #[test]
    fn empty_null_and_unreplaced_placeholders_mean_absent() {
        let (event, _) = map(
            json!({"ActionId": "A1", "Payout": "{Payout}", "DeltaPayout": "",
            "Amount": null, "Oid": " "}),
        );
        let event = event.unwrap();
        assert_eq!(event.payout, None);
        assert_eq!(event.delta_payout, None);
        assert_eq!(event.amount, None);
        assert_eq!(event.order_id, None);
    }

    #[test]
    fn a_missing_action_id_or_bad_money_is_quarantined() {
        assert_eq!(
            map(json!({"Payout": "1"})).0,
            Err(Quarantine::NoActionId("ActionId".into()))
        );
        assert_eq!(
            map(json!({"ActionId": "{ActionId}"})).0,
            Err(Quarantine::NoActionId("ActionId".into()))
        );
        assert!(matches!(map(json!({"ActionId": "A", "Payout": "ten"})).0,
            Err(Quarantine::UnparseableMoney { field, .. }) if field == "Payout"));
    }

    #[test]
    fn an_unknown_status_is_kept_raw_and_warned() {
        let (event, warnings) = map(json!({"ActionId": "A", "Status": "ON_HOLD"}));
        let event = event.unwrap();
        assert!(event.has_unknown_status());
        assert_eq!(event.status_raw.as_deref(), Some("ON_HOLD"));
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn partner_keys_and_status_words_come_from_the_configuration() {
        let mapping = ActionMapping::configured(
            &[
                ("action_id".into(), "id".into()),
                ("payout".into(), "amt".into()),
            ]
            .into(),
            &[("ON_HOLD".into(), "pending".into())].into(),
        )
        .unwrap();
        let mut warnings = Vec::new();
        let event = map_action(
            &fields(json!({"ID": "x", "amt": 3, "Status": "on_hold", "ActionId": "ignored"})),
            &mapping,
            &mut warnings,
        )
        .unwrap();
        assert_eq!(event.action_id, "x");
        assert_eq!(event.payout, Some("3".parse().unwrap()));
        assert_eq!(event.status, Some(ActionStatus::Pending));
        assert_eq!(
            event.extra.get("ActionId").map(String::as_str),
            Some("ignored")
        );
        assert!(
            ActionMapping::configured(&[("payot".into(), "x".into())].into(), &BTreeMap::new())
                .is_err()
        );
        assert!(
            ActionMapping::configured(&BTreeMap::new(), &[("X".into(), "paid".into())].into())
                .is_err()
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
    fn items_are_read_from_an_array_or_from_its_json_text() {
        // Parsed from text so the numbers keep their exact digits, as a real body's do.
        let item: Value = serde_json::from_str(
            r#"{"sku": "S1", "item_price": 10.00, "category": "Shoes", "quantity": 2,
                "cartamt": 20.00, "rbt": "0", "name": "Runner"}"#,
        )
        .unwrap();
        let (event, _) = map(json!({"ActionId": "A", "items": [item.clone()]}));
        let from_array = event.unwrap().items;
        let (event, _) =
            map(json!({"ActionId": "A", "items": Value::Array(vec![item]).to_string()}));
        assert_eq!(event.unwrap().items, from_array);
        assert_eq!(from_array[0].price.as_deref(), Some("10.00"));
        assert_eq!(from_array[0].quantity.as_deref(), Some("2"));
    }

    #[test]
    fn unmapped_keys_are_kept_as_extra() {
        let (event, _) = map(json!({"ActionId": "A", "MyParam": "social_post_01", "Note": null}));
        let extra = event.unwrap().extra;
        assert_eq!(
            extra.get("MyParam").map(String::as_str),
            Some("social_post_01")
        );
        assert!(extra.contains_key("Note"));
    }

    #[test]
    fn of_keys_differing_only_in_case_the_last_is_read_and_the_rest_are_not_kept() {
        let (event, _) = map(json!({
            "ActionId": "A", "payout": "1.00", "Payout": "2.00", "Tag": "a", "TAG": "b"
        }));
        let event = event.unwrap();
        assert_eq!(event.payout, Some("2.00".parse().unwrap()));
        let extra: Vec<(&str, &str)> = event
            .extra
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        assert_eq!(extra, [("TAG", "b")]);
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
