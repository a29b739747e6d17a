//! A network's own records of the partner's actions, read into `NetworkRecord`s: impact.com's
//! API pages (`impact_api`) and its Action Listing report as CSV (`action_listing`). Both read a
//! record through the same field mapping as a postback, with its own keys laid over impact.com's
//! postback names, and keep the record as JSON with the credentials taken out.

pub mod action_listing;
pub mod impact_api;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::domain::cross_check::NetworkRecord;
use crate::domain::event::{Postback, Quarantine, SourceKind};
use crate::intake::decode::Fields;
use crate::intake::mapping::fields::ACTION_FIELDS;
use crate::intake::mapping::{self, Mapping, MappingError};

/// What a credential is replaced with wherever a record repeats it (impact.com's `Uri` carries
/// the AccountSID).
pub const REDACTED: &str = "[redacted]";

/// The money fields, whose report text may carry grouping or a currency sign.
const MONEY_FIELDS: &[&str] = &["payout", "delta_payout", "amount", "delta_amount"];

/// How a network's records are read: a field mapping (canonical field = the record's key) and
/// the credentials to remove from what is kept.
#[derive(Debug, Clone)]
pub struct RecordReader {
    mapping: Mapping,
    columns: BTreeMap<String, String>,
    money_keys: Vec<String>,
    secrets: Vec<String>,
}

impl RecordReader {
    /// Reads records keyed as `columns` says (canonical field = key; a field not named keeps
    /// impact.com's postback name). `secrets` are blanked in what is kept.
    pub fn new(
        columns: BTreeMap<String, String>,
        secrets: Vec<String>,
    ) -> Result<RecordReader, MappingError> {
        let mapping = Mapping::configured(SourceKind::ActionLifecycle, &columns, &BTreeMap::new())?;
        let money_keys = MONEY_FIELDS
            .iter()
            .map(|field| mapping.key_of(field).to_owned())
            .collect();
        Ok(RecordReader {
            mapping,
            columns,
            money_keys,
            secrets: secrets
                .into_iter()
                .filter(|secret| !secret.is_empty())
                .collect(),
        })
    }

    /// How this reader reads each canonical field: stored with a run, so its records can be
    /// read the same way again when it is filled.
    pub fn columns(&self) -> &BTreeMap<String, String> {
        &self.columns
    }

    /// Every canonical field with the key this reader reads it from.
    pub fn complete_columns(&self) -> BTreeMap<String, String> {
        ACTION_FIELDS
            .iter()
            .filter(|(name, _)| *name != "items")
            .map(|(name, default)| {
                let key = self.columns.get(*name).map_or(*default, String::as_str);
                (name.to_string(), key.to_owned())
            })
            .collect()
    }

    /// One record (its keys and values as sent) as a network record; what cannot be read is the
    /// quarantine reason a postback would get.
    pub fn read(&self, mut fields: Fields) -> Result<NetworkRecord, Quarantine> {
        for value in fields.values_mut() {
            redact(value, &self.secrets);
        }
        let raw = serde_json::to_string(&fields).unwrap_or_default();
        for (key, value) in fields.iter_mut() {
            if self
                .money_keys
                .iter()
                .any(|money| money.eq_ignore_ascii_case(key))
                && let Value::String(text) = value
            {
                *text = plain_number(text);
            }
        }
        let mut warnings = Vec::new();
        let Postback::Action(event) = mapping::map(&fields, &self.mapping, &mut warnings)? else {
            unreachable!("an action lifecycle mapping reads an action event")
        };
        let mut event = *event;
        let cleared_at = event
            .details
            .cleared_date
            .take()
            .and_then(|cleared| cleared.utc);
        Ok(NetworkRecord {
            event,
            cleared_at,
            raw,
        })
    }
}

/// Replaces each secret in every text of `value`.
fn redact(value: &mut Value, secrets: &[String]) {
    match value {
        Value::String(text) => {
            for secret in secrets {
                if text.contains(secret.as_str()) {
                    *text = text.replace(secret.as_str(), REDACTED);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, secrets)),
        Value::Object(map) => map.values_mut().for_each(|item| redact(item, secrets)),
        _ => {}
    }
}

/// A report's money text as a plain number: `$1,234.50` → `1234.50`, `(5.00)` → `-5.00`. Text
/// that is not so is left as it is (and then cannot be read as money).
fn plain_number(text: &str) -> String {
    let trimmed = text.trim();
    let (negative, inner) = match trimmed
        .strip_prefix('(')
        .and_then(|rest| rest.strip_suffix(')'))
    {
        Some(inner) => (true, inner),
        None => (false, trimmed),
    };
    let stripped: String = inner
        .chars()
        .filter(|c| !matches!(c, '$' | '€' | '£' | '¥' | ' ' | '\u{a0}'))
        .collect();
    let grouped = match (stripped.rfind(','), stripped.rfind('.')) {
        (Some(comma), Some(dot)) if comma < dot => true,
        (Some(_), None) => stripped
            .split(',')
            .skip(1)
            .all(|group| group.len() == 3 && group.chars().all(|c| c.is_ascii_digit())),
        _ => false,
    };
    let number = if grouped {
        stripped.replace(',', "")
    } else {
        stripped
    };
    if negative && !number.starts_with('-') {
        format!("-{number}")
    } else {
        number
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::ActionStatus;
    use serde_json::json;

    fn fields(value: Value) -> Fields {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn report_money_text_becomes_a_plain_number() {
        assert_eq!(plain_number("$1,234.50"), "1234.50");
        assert_eq!(plain_number("1,234"), "1234");
        assert_eq!(plain_number("(5.00)"), "-5.00");
        assert_eq!(plain_number(" 10.5 "), "10.5");
        assert_eq!(
            plain_number("1,5"),
            "1,5",
            "a decimal comma is not guessed at"
        );
    }

    #[test]
    fn a_record_is_read_through_its_keys_and_kept_without_the_credentials() {
        let reader = RecordReader::new(
            [
                ("action_id".to_owned(), "Id".to_owned()),
                ("status".to_owned(), "State".to_owned()),
            ]
            .into(),
            vec!["IRsecretSID".into()],
        )
        .unwrap();
        let record = reader
            .read(fields(json!({
                "Id": "1000.1.1", "State": "REVERSED", "Payout": "0.00", "DeltaPayout": "-4.50",
                "Currency": "USD", "ClearedDate": "2026-05-15T00:00:00-07:00",
                "Uri": "/Mediapartners/IRsecretSID/Actions/1000.1.1"
            })))
            .unwrap();
        assert_eq!(record.event.action_id, "1000.1.1");
        assert_eq!(record.event.status, Some(ActionStatus::Reversed));
        assert_eq!(record.event.delta_payout, Some("-4.50".parse().unwrap()));
        assert_eq!(record.event.details.cleared_date, None);
        assert_eq!(
            record.cleared_at.map(|at| at.to_rfc3339()).as_deref(),
            Some("2026-05-15T07:00:00+00:00")
        );
        assert!(!record.raw.contains("IRsecretSID"), "{}", record.raw);
        assert!(!format!("{:?}", record.event.extra).contains("IRsecretSID"));
        let error = reader
            .read(fields(json!({"State": "PENDING"})))
            .unwrap_err();
        assert!(matches!(error, Quarantine::NoActionId(key) if key.eq_ignore_ascii_case("Id")));
    }
}
