//! impact.com's Partner API lists: an envelope of `@`-keys (numbers as strings, `@nextpageuri`
//! the path of the next page, empty on the last) beside the array of records. A page is read as
//! it arrives: each record is handed on as soon as it is parsed, so a page of 20,000 records is
//! never held whole.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::intake::decode::Fields;

/// The array of a Partner API list: `Actions`, `ActionUpdates`, or a report's `Records`.
pub const ACTIONS: &str = "Actions";

/// How impact.com's Actions list names the fields of an action, where it differs from the
/// postback's names: the action id is `Id`, its state `State`.
pub fn action_columns() -> BTreeMap<String, String> {
    [("action_id", "Id"), ("status", "State")]
        .into_iter()
        .map(|(field, key)| (field.to_owned(), key.to_owned()))
        .collect()
}

/// The envelope of one page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageInfo {
    /// The next page's path (relative to the API's base URL); None on the last page.
    pub next_page_uri: Option<String>,
    pub page: Option<u64>,
    pub num_pages: Option<u64>,
    pub total: Option<u64>,
    /// Records in this page's array.
    pub records: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("the page is not the JSON of a list: {0}")]
    Json(#[from] serde_json::Error),
    #[error("stopped while reading the page")]
    Stopped,
}

/// Reads one page from `reader`, giving each record of the array `list` to `each` as it is
/// parsed; `each` answers false to stop (its own error is the caller's to keep).
pub fn read_page<R: Read>(
    reader: R,
    list: &str,
    each: impl FnMut(Fields) -> bool,
) -> Result<PageInfo, PageError> {
    let mut stopped = false;
    let mut deserializer = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
    let result = PageSeed {
        list,
        each,
        stopped: &mut stopped,
    }
    .deserialize(&mut deserializer);
    match result {
        Ok(info) => {
            deserializer.end()?;
            Ok(info)
        }
        Err(_) if stopped => Err(PageError::Stopped),
        Err(error) => Err(PageError::Json(error)),
    }
}

struct PageSeed<'s, F> {
    list: &'s str,
    each: F,
    stopped: &'s mut bool,
}

/// A count of the envelope, sent as a string (`"7"`) or a number.
fn count(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.as_u64(),
        _ => None,
    }
}

impl<'de, F: FnMut(Fields) -> bool> DeserializeSeed<'de> for PageSeed<'_, F> {
    type Value = PageInfo;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<PageInfo, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(Fields) -> bool> Visitor<'de> for PageSeed<'_, F> {
    type Value = PageInfo;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "an object with a `{}` array", self.list)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<PageInfo, A::Error> {
        let mut info = PageInfo::default();
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.list {
                found = true;
                info.records = map.next_value_seed(RecordsSeed {
                    each: &mut self.each,
                    stopped: &mut *self.stopped,
                })?;
            } else if key.starts_with('@') {
                let value: Value = map.next_value()?;
                match key.to_ascii_lowercase().as_str() {
                    "@nextpageuri" => {
                        info.next_page_uri = value
                            .as_str()
                            .map(str::trim)
                            .filter(|uri| !uri.is_empty())
                            .map(str::to_owned)
                    }
                    "@page" => info.page = count(&value),
                    "@numpages" => info.num_pages = count(&value),
                    "@total" => info.total = count(&value),
                    _ => {}
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !found {
            return Err(de::Error::custom(format!("no `{}` array", self.list)));
        }
        Ok(info)
    }
}

struct RecordsSeed<'f, F> {
    each: &'f mut F,
    stopped: &'f mut bool,
}

impl<'de, F: FnMut(Fields) -> bool> DeserializeSeed<'de> for RecordsSeed<'_, F> {
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Fields) -> bool> Visitor<'de> for RecordsSeed<'_, F> {
    type Value = u64;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut records = 0;
        while let Some(record) = seq.next_element::<Fields>()? {
            records += 1;
            if !(self.each)(record) {
                *self.stopped = true;
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_read_record_by_record_with_its_envelope_in_any_order() {
        let page = r#"{"@page": "1", "@numpages": "3", "@pagesize": "2", "@total": "5",
            "Actions": [{"Id": "A1", "Payout": "1.50"}, {"Id": "A2", "Payout": 2.25}],
            "@nextpageuri": "/Mediapartners/IRx/Actions?Page=2&PageSize=2"}"#;
        let mut ids = Vec::new();
        let info = read_page(page.as_bytes(), ACTIONS, |record| {
            ids.push(record["Id"].as_str().unwrap().to_owned());
            true
        })
        .unwrap();
        assert_eq!(ids, ["A1", "A2"]);
        assert_eq!(
            info.next_page_uri.as_deref(),
            Some("/Mediapartners/IRx/Actions?Page=2&PageSize=2")
        );
        assert_eq!(
            (info.page, info.num_pages, info.total, info.records),
            (Some(1), Some(3), Some(5), 2)
        );
        let last = r#"{"Actions": [], "@nextpageuri": ""}"#;
        let info = read_page(last.as_bytes(), ACTIONS, |_| true).unwrap();
        assert_eq!(info.next_page_uri, None);
    }

    #[test]
    fn numbers_keep_their_digits_and_a_stop_or_a_broken_page_is_an_error() {
        let page = r#"{"Actions": [{"Payout": 10.10}, {"Payout": "2"}]}"#;
        let mut payouts = Vec::new();
        read_page(page.as_bytes(), ACTIONS, |record| {
            payouts.push(record["Payout"].to_string());
            true
        })
        .unwrap();
        assert_eq!(payouts, ["10.10", "\"2\""]);
        assert!(matches!(
            read_page(page.as_bytes(), ACTIONS, |_| false),
            Err(PageError::Stopped)
        ));
        assert!(matches!(
            read_page(&b"{\"Actions\": [{\"Id\": "[..], ACTIONS, |_| true),
            Err(PageError::Json(_))
        ));
        assert!(read_page(&b"{\"Other\": []}"[..], ACTIONS, |_| true).is_err());
        assert!(read_page(&b"<xml/>"[..], ACTIONS, |_| true).is_err());
    }
}
