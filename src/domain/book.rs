//! The book's calendar: statement months and days in the configured time zone (impact.com
//! reports in the account's zone; storage stays UTC), where a fact is booked once months are
//! closed, and the hash that seals a closed statement's row.

use std::collections::BTreeSet;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

/// The zone and the closed months, as the write path reads them once per batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    pub zone: Tz,
    /// `YYYY-MM`, closed.
    pub closed: BTreeSet<String>,
}

impl Default for Book {
    fn default() -> Self {
        Book {
            zone: Tz::UTC,
            closed: BTreeSet::new(),
        }
    }
}

/// Where a fact is booked: its own month while open, else the first open month after it, as an
/// adjustment naming the month it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub month: String,
    pub concerns: Option<String>,
}

impl Book {
    pub fn place(&self, at: DateTime<Utc>) -> Booking {
        let own = month_of(at, self.zone);
        let mut month = own.clone();
        while self.closed.contains(&month) {
            month = next_month(&month);
        }
        let concerns = (month != own).then_some(own);
        Booking { month, concerns }
    }
}

/// `YYYY-MM` of an instant in `zone`.
pub fn month_of(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%Y-%m").to_string()
}

/// The calendar day of an instant in `zone`.
pub fn day_of(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

/// The instant a day starts in `zone` (the first instant after a gap when midnight is skipped).
pub fn start_of_day(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    (0..=24)
        .find_map(|hour| {
            zone.from_local_datetime(&day.and_hms_opt(hour, 0, 0)?)
                .earliest()
        })
        .map(|local| local.with_timezone(&Utc))
        .unwrap_or_else(|| day.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
}

/// `(year, month)` of `YYYY-MM`, for a month that exists.
pub fn parse_month(text: &str) -> Option<(i32, u32)> {
    let (year, month) = text.trim().split_once('-')?;
    if year.len() != 4 || month.len() != 2 {
        return None;
    }
    let (year, month): (i32, u32) = (year.parse().ok()?, month.parse().ok()?);
    NaiveDate::from_ymd_opt(year, month, 1).map(|_| (year, month))
}

pub fn first_day(month: &str) -> Option<NaiveDate> {
    let (year, month) = parse_month(month)?;
    NaiveDate::from_ymd_opt(year, month, 1)
}

pub fn next_month(month: &str) -> String {
    match first_day(month).and_then(|day| day.checked_add_months(chrono::Months::new(1))) {
        Some(next) => next.format("%Y-%m").to_string(),
        None => format!("{month}+"),
    }
}

/// The month's last day.
pub fn last_day(month: &str) -> Option<NaiveDate> {
    first_day(&next_month(month))?.checked_sub_days(Days::new(1))
}

/// `[start, end)` of a month in `zone`, as UTC instants.
pub fn month_bounds(month: &str, zone: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    Some((
        start_of_day(first_day(month)?, zone),
        start_of_day(first_day(&next_month(month))?, zone),
    ))
}

/// Whether `month` has ended at `now` in `zone`, `days` days ago or more.
pub fn ended_days_ago(month: &str, now: DateTime<Utc>, zone: Tz, days: u32) -> bool {
    month_bounds(month, zone)
        .is_some_and(|(_, end)| end + chrono::Duration::days(days.into()) <= now)
}

/// Seals a statement row: SHA-256 over the lines of the facts behind it, in the order given.
pub fn seal<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for line in lines {
        hasher.update(line.as_bytes());
        hasher.update([b'\n']);
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    use chrono::Datelike;

    #[test]
    fn months_follow_the_zone() {
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        let at = utc("2026-12-01T05:00:00Z");
        assert_eq!(month_of(at, Tz::UTC), "2026-12");
        assert_eq!(
            month_of(at, la),
            "2026-11",
            "still 30 November in Los Angeles"
        );
        let (start, end) = month_bounds("2026-11", la).unwrap();
        assert_eq!(
            start,
            utc("2026-11-01T07:00:00Z"),
            "daylight saving time until 1 November"
        );
        assert_eq!(end, utc("2026-12-01T08:00:00Z"));
        assert_eq!(next_month("2026-12"), "2027-01");
        assert_eq!(last_day("2026-02").unwrap().day(), 28);
        assert_eq!(parse_month("2026-13"), None);
        assert_eq!(parse_month("26-11"), None);
    }

    #[test]
    fn a_fact_of_a_closed_month_lands_in_the_first_open_month_naming_its_own() {
        let book = Book {
            zone: Tz::UTC,
            closed: ["2026-10".to_owned(), "2026-11".to_owned()].into(),
        };
        assert_eq!(
            book.place(utc("2026-10-20T00:00:00Z")),
            Booking {
                month: "2026-12".into(),
                concerns: Some("2026-10".into())
            }
        );
        assert_eq!(book.place(utc("2026-12-02T00:00:00Z")).concerns, None);
        assert!(ended_days_ago(
            "2026-11",
            utc("2026-12-11T00:00:00Z"),
            Tz::UTC,
            10
        ));
        assert!(!ended_days_ago(
            "2026-11",
            utc("2026-12-10T23:00:00Z"),
            Tz::UTC,
            10
        ));
    }
}
