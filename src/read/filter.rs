//! The actions list's filters, sort and keyset cursor, parsed from the query string: pure.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Days, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::domain::bucket::Bucket;
use crate::storage::action_query::{ActionFilter, Cursor, DateField, SortKey, SortValue};

/// The query string as sent, every value optional; shared by `/actions`, `/api/actions` and
/// `/actions.csv` so a link built from one works on the others.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ListQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_tests: Option<String>,
    /// Only actions with flags nobody marked reviewed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flagged: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// The pages' own: how many rows come before the cursor, for the pager's count ("51–100 of
    /// 3,412") and its previous link. The API ignores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<i64>,
}

const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.f";

impl Cursor {
    /// Opaque to clients: base64url of `value` + unit separator + `action_id`.
    pub fn encode(&self) -> String {
        let value = match &self.value {
            None => String::new(),
            Some(SortValue::Time(time)) => time.format(CURSOR_TIME).to_string(),
            Some(SortValue::Units(units)) => units.to_string(),
            Some(SortValue::Text(text)) => text.clone(),
        };
        URL_SAFE_NO_PAD.encode(format!("{value}\u{1f}{}", self.action_id))
    }

    pub fn decode(text: &str, sort: SortKey) -> Result<Cursor, FilterError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| FilterError::Cursor)?;
        let text = String::from_utf8(bytes).map_err(|_| FilterError::Cursor)?;
        let (value, action_id) = text.split_once('\u{1f}').ok_or(FilterError::Cursor)?;
        let value = match (value, sort) {
            ("", key) if key.nullable() => None,
            (value, SortKey::Received | SortKey::EventDate | SortKey::LockingDate) => {
                Some(SortValue::Time(
                    NaiveDateTime::parse_from_str(value, CURSOR_TIME)
                        .map_err(|_| FilterError::Cursor)?,
                ))
            }
            (value, SortKey::Payout) => Some(SortValue::Units(
                value.parse().map_err(|_| FilterError::Cursor)?,
            )),
            (value, SortKey::ActionId) => Some(SortValue::Text(value.to_owned())),
        };
        Ok(Cursor {
            value,
            action_id: action_id.to_owned(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("status must be pending, approved, cleared, reversed or all, not `{0}`")]
    Status(String),
    #[error("date_field must be event, locking, cleared, scheduled_clear or ledger, not `{0}`")]
    DateField(String),
    #[error("{0} must be a date like 2026-04-30, not `{1}`")]
    Date(&'static str, String),
    #[error("sort must be received, event_date, locking_date, payout or action_id, not `{0}`")]
    Sort(String),
    #[error("dir must be asc or desc, not `{0}`")]
    Direction(String),
    #[error("{0} must be true or false, not `{1}`")]
    Flag(&'static str, String),
    #[error("the cursor is not one this server gave out")]
    Cursor,
}

/// An empty form field means "no filter".
fn given(value: &Option<String>) -> Option<&str> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

fn day(name: &'static str, text: &str) -> Result<NaiveDate, FilterError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| FilterError::Date(name, text.into()))
}

/// `from` and `to` dates (`2026-04-30`, either optional) as the instants `[from, until)`: `to`
/// includes its whole day. Shared by the actions filter and the ledger export.
pub fn date_range(
    from: &Option<String>,
    to: &Option<String>,
) -> Result<(Option<NaiveDateTime>, Option<NaiveDateTime>), FilterError> {
    let from = given(from)
        .map(|text| day("from", text))
        .transpose()?
        .map(|date| date.and_hms_opt(0, 0, 0).expect("midnight exists"));
    let until = given(to)
        .map(|text| day("to", text))
        .transpose()?
        .map(|date| {
            date.checked_add_days(Days::new(1))
                .unwrap_or(date)
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists")
        });
    Ok((from, until))
}

/// A day's start as `date_range` gives it (UTC midnight of the date) moved to the day's start in
/// `zone`: the filters' dates are the book's days.
pub fn in_zone(midnight: NaiveDateTime, zone: chrono_tz::Tz) -> NaiveDateTime {
    crate::domain::book::start_of_day(midnight.date(), zone).naive_utc()
}

/// `true`/`false` as a query value (`on` is what a checked checkbox sends).
pub fn flag(value: &Option<String>) -> Option<Result<bool, String>> {
    given(value).map(|text| match text {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" => Ok(false),
        other => Err(other.to_owned()),
    })
}

/// The `include_tests` parameter of every list and report: test conversions are hidden unless
/// asked for.
pub fn include_tests(value: &Option<String>) -> Result<bool, FilterError> {
    flag(value)
        .transpose()
        .map(|include| include.unwrap_or(false))
        .map_err(|word| FilterError::Flag("include_tests", word))
}

impl ActionFilter {
    /// `default_bucket` applies when `status` is absent (the pages open on pending; the API on
    /// all).
    pub fn parse(query: &ListQuery, default_bucket: Option<Bucket>) -> Result<Self, FilterError> {
        let bucket = match given(&query.status) {
            None => default_bucket,
            Some("all") => None,
            Some(word) => {
                Some(Bucket::parse(word).ok_or_else(|| FilterError::Status(word.to_owned()))?)
            }
        };
        let date_field = match given(&query.date_field) {
            None | Some("event") => DateField::Event,
            Some("locking") => DateField::Locking,
            Some("cleared") => DateField::Cleared,
            Some("scheduled_clear") => DateField::ScheduledClear,
            Some("ledger") => DateField::Ledger,
            Some(other) => return Err(FilterError::DateField(other.to_owned())),
        };
        let (from, until) = date_range(&query.from, &query.to)?;
        let sort = match given(&query.sort) {
            None => SortKey::Received,
            Some(word) => SortKey::ALL
                .into_iter()
                .find(|key| key.as_str() == word)
                .ok_or_else(|| FilterError::Sort(word.to_owned()))?,
        };
        let descending = match given(&query.dir) {
            None => sort != SortKey::ActionId,
            Some("desc") => true,
            Some("asc") => false,
            Some(other) => return Err(FilterError::Direction(other.to_owned())),
        };
        let include_tests = include_tests(&query.include_tests)?;
        let flagged = flag(&query.flagged)
            .transpose()
            .map_err(|word| FilterError::Flag("flagged", word))?
            .unwrap_or(false);
        let cursor = given(&query.cursor)
            .map(|text| Cursor::decode(text, sort))
            .transpose()?;
        Ok(ActionFilter {
            bucket,
            campaign: given(&query.campaign).map(str::to_owned),
            event_type: given(&query.event_type).map(str::to_owned),
            currency: given(&query.currency).map(str::to_owned),
            date_field,
            from,
            until,
            search: given(&query.q).map(str::to_owned),
            include_tests,
            flagged,
            sort,
            descending,
            cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &str) -> ListQuery {
        serde_urlencoded::from_str(pairs).unwrap()
    }

    #[test]
    fn an_empty_query_is_the_default_bucket_newest_received_first_without_tests() {
        let filter = ActionFilter::parse(&query(""), Some(Bucket::Pending)).unwrap();
        assert_eq!(filter.bucket, Some(Bucket::Pending));
        assert_eq!(filter.sort, SortKey::Received);
        assert!(filter.descending);
        assert!(!filter.include_tests);
        assert_eq!(filter.search, None);
    }

    #[test]
    fn empty_form_fields_mean_no_filter_and_all_means_every_bucket() {
        let filter = ActionFilter::parse(
            &query("status=all&campaign=&currency=+&from=&to=&q="),
            Some(Bucket::Pending),
        )
        .unwrap();
        assert_eq!(filter.bucket, None);
        assert_eq!((filter.campaign, filter.currency), (None, None));
        assert_eq!((filter.from, filter.until), (None, None));
    }

    #[test]
    fn a_to_date_includes_its_whole_day() {
        let filter = ActionFilter::parse(
            &query("from=2026-04-01&to=2026-04-30&date_field=locking"),
            None,
        )
        .unwrap();
        assert_eq!(filter.date_field, DateField::Locking);
        assert_eq!(
            filter.from.unwrap().to_string(),
            "2026-04-01 00:00:00".to_owned()
        );
        assert_eq!(
            filter.until.unwrap().to_string(),
            "2026-05-01 00:00:00".to_owned()
        );
    }

    #[test]
    fn bad_values_are_refused_with_what_was_expected() {
        for (text, expected) in [
            ("status=locked", "status must be"),
            ("from=30/04/2026", "from must be a date"),
            ("sort=amount", "sort must be"),
            ("dir=up", "dir must be"),
            ("date_field=paid", "date_field must be"),
            ("include_tests=maybe", "include_tests must be"),
            ("flagged=2", "flagged must be"),
            ("cursor=%%%", "cursor"),
        ] {
            let error = ActionFilter::parse(&query(text), None).unwrap_err();
            assert!(error.to_string().contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn cursors_round_trip_for_every_sort_and_an_empty_date() {
        let time = NaiveDate::from_ymd_opt(2026, 4, 8)
            .unwrap()
            .and_hms_micro_opt(9, 30, 0, 123_456)
            .unwrap();
        for (sort, value) in [
            (SortKey::Received, Some(SortValue::Time(time))),
            (SortKey::EventDate, None),
            (SortKey::LockingDate, Some(SortValue::Time(time))),
            (SortKey::Payout, Some(SortValue::Units(-125_000))),
            (SortKey::ActionId, Some(SortValue::Text("A|1~x".into()))),
        ] {
            let cursor = Cursor {
                value,
                action_id: "1000.4.2 x".into(),
            };
            assert_eq!(Cursor::decode(&cursor.encode(), sort).unwrap(), cursor);
        }
    }

    #[test]
    fn a_cursor_for_one_sort_is_refused_for_another() {
        let cursor = Cursor {
            value: Some(SortValue::Text("not a number".into())),
            action_id: "A1".into(),
        };
        assert_eq!(
            Cursor::decode(&cursor.encode(), SortKey::Payout),
            Err(FilterError::Cursor)
        );
    }

    #[test]
    fn the_clearing_dates_and_the_ledger_are_date_fields_and_days_follow_the_zone() {
        for (word, field) in [
            ("cleared", DateField::Cleared),
            ("scheduled_clear", DateField::ScheduledClear),
            ("ledger", DateField::Ledger),
        ] {
            let filter =
                ActionFilter::parse(&query(&format!("date_field={word}&from=2026-11-01")), None)
                    .unwrap();
            assert_eq!(filter.date_field, field);
        }
        let la: chrono_tz::Tz = "America/Los_Angeles".parse().unwrap();
        let midnight = NaiveDate::from_ymd_opt(2026, 11, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(in_zone(midnight, la).to_string(), "2026-11-01 07:00:00");
    }

    #[test]
    fn a_checkbox_sends_on() {
        let filter = ActionFilter::parse(&query("include_tests=on"), None).unwrap();
        assert!(filter.include_tests);
    }
}
