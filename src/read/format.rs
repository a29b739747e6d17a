//! How money, times and stored JSON are written for people and for the API: money exact, times
//! in the book's zone with their offset.

use chrono::NaiveDateTime;
use chrono_tz::Tz;

use crate::domain::money::Money;

/// The exact stored value with thousands grouped and the currency code after it:
/// `1,234.50 USD`, `-0.0125 EUR`. Never rounded: a fourth decimal that was stored is shown.
pub fn money(units: i64, currency: Option<&str>) -> String {
    wide_money(i128::from(units), currency)
}

/// `money` for a sum, which runs in i128.
pub fn wide_money(units: i128, currency: Option<&str>) -> String {
    let text = crate::domain::money::wide_text(units);
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let fraction = if fraction.is_empty() {
        String::new()
    } else {
        format!(".{fraction}")
    };
    match currency {
        Some(code) if !code.is_empty() => format!("{sign}{grouped}{fraction} {code}"),
        _ => format!("{sign}{grouped}{fraction}"),
    }
}

/// A stored (UTC) time in `zone`, its offset written out: `2026-04-08 02:00:00 -07:00`.
pub fn time(at: NaiveDateTime, zone: Tz) -> String {
    at.and_utc()
        .with_timezone(&zone)
        .format("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

/// How long before `now`, in the largest whole unit: `12 s ago`, `3 min ago`, `2 h ago`,
/// `5 days ago`.
pub fn ago(at: NaiveDateTime, now: NaiveDateTime) -> String {
    let seconds = (now - at).num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds} s ago"),
        60..3_600 => format!("{} min ago", seconds / 60),
        3_600..86_400 => format!("{} h ago", seconds / 3_600),
        86_400..172_800 => "1 day ago".into(),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

/// `part` of `whole` as a percentage with one decimal (`12.5%`); `–` of nothing.
pub fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "–".into();
    }
    let tenths = (part * 1000 + whole / 2) / whole;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// UTC, with the offset written out: `2026-04-08T09:00:00Z`.
pub fn utc(time: NaiveDateTime) -> String {
    time.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Stored JSON text as JSON; null when there is none or it does not parse.
pub fn json_or_null(text: Option<&str>) -> serde_json::Value {
    text.and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Stored minor units as an exact decimal text.
pub fn money_text(units: Option<i64>) -> Option<String> {
    units.map(|units| Money::from_minor_units(units).to_string())
}

/// Comments (and other JSON-bearing text) as parsed JSON when they parse, else the text as sent.
pub fn json_or_text(text: Option<&str>) -> serde_json::Value {
    match text {
        None => serde_json::Value::Null,
        Some(text) => serde_json::from_str(text)
            .unwrap_or_else(|_| serde_json::Value::String(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};

    #[test]
    fn money_is_grouped_exact_and_signed() {
        assert_eq!(money(12_345_000, Some("USD")), "1,234.50 USD");
        assert_eq!(money(-125, Some("EUR")), "-0.0125 EUR");
        assert_eq!(money(1_000_000_000_000, None), "100,000,000.00");
        assert_eq!(money(0, Some("")), "0.00");
        assert_eq!(money(-9_999_990_000, Some("JPY")), "-999,999.00 JPY");
    }

    #[test]
    fn times_show_the_zone_and_its_offset_that_day() {
        let at = NaiveDate::from_ymd_opt(2026, 4, 8)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        assert_eq!(time(at, Tz::UTC), "2026-04-08 09:00:00 +00:00");
        assert_eq!(
            time(at, Tz::America__Los_Angeles),
            "2026-04-08 02:00:00 -07:00",
            "summer time"
        );
        let winter = at.with_month(1).unwrap();
        assert_eq!(
            time(winter, Tz::America__Los_Angeles),
            "2026-01-08 01:00:00 -08:00"
        );
    }

    #[test]
    fn durations_use_the_largest_whole_unit() {
        let now = NaiveDate::from_ymd_opt(2026, 4, 8)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let before = |seconds| now - chrono::Duration::seconds(seconds);
        assert_eq!(ago(before(5), now), "5 s ago");
        assert_eq!(ago(before(185), now), "3 min ago");
        assert_eq!(ago(before(7_300), now), "2 h ago");
        assert_eq!(ago(before(5 * 86_400 + 1), now), "5 days ago");
        assert_eq!(ago(before(86_400 + 7), now), "1 day ago");
        assert_eq!(ago(now + chrono::Duration::seconds(3), now), "0 s ago");
    }

    #[test]
    fn percentages_round_to_one_decimal() {
        assert_eq!(percent(1, 8), "12.5%");
        assert_eq!(percent(2, 3), "66.7%");
        assert_eq!(percent(0, 0), "–");
    }
}
