//! The statement: per month, brand and currency the tracked, modified, reversed, net and cleared
//! payout, with subtotals per month and totals per currency for the year.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::filter::include_tests;
use super::format;
use crate::domain::book::{ended_days_ago, first_day, last_day};
use crate::domain::money::{parse_wide, wide_text};
use crate::storage::closed_months::{self, ClosedRow};
use crate::storage::statement::{self, MonthlyRow};
use crate::storage::{AnyConnection, StorageError};

/// The query string of `/statement`, `/api/statement` and `/statement.csv`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StatementQuery {
    pub year: Option<String>,
    pub include_tests: Option<String>,
}

/// What a statement covers: a calendar year (in the book's zone), test conversions or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub year: i32,
    pub include_tests: bool,
}

impl Period {
    /// `year` defaults to the year of `now`.
    pub fn parse(query: &StatementQuery, now: NaiveDateTime) -> Result<Period, String> {
        let year = match query.year.as_deref().map(str::trim) {
            None | Some("") => now.year(),
            Some(text) => text
                .parse()
                .ok()
                .filter(|year| (1970..=9998).contains(year))
                .ok_or_else(|| format!("year must be a year like 2026, not `{text}`"))?,
        };
        let include_tests =
            include_tests(&query.include_tests).map_err(|error| error.to_string())?;
        Ok(Period {
            year,
            include_tests,
        })
    }

    /// `["YYYY-01", "YYYY+1-01")`: the statement months of the year.
    pub fn months(self) -> (String, String) {
        (
            format!("{:04}-01", self.year),
            format!("{:04}-01", self.year + 1),
        )
    }

    /// `[1 January, 1 January of the next year)`.
    pub fn bounds(self) -> (NaiveDateTime, NaiveDateTime) {
        let start = |year| {
            NaiveDate::from_ymd_opt(year, 1, 1)
                .expect("a checked year")
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists")
        };
        (start(self.year), start(self.year + 1))
    }
}

/// Ten-thousandths of the currency, summed in i128; serialized as exact decimal text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Units(pub i128);

impl Serialize for Units {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&wide_text(self.0))
    }
}

/// The columns finance reconciles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sums {
    pub tracked: Units,
    /// Changes before the action cleared.
    pub modified: Units,
    /// Reversals before the action cleared.
    pub reversed: Units,
    /// Changes and reversals after the action cleared: booked here, the cleared month keeps its
    /// figure.
    pub clawbacks: Units,
    /// tracked + modified + reversed + clawbacks: what the month's movements changed.
    pub net: Units,
    /// Payout of the actions that cleared (were paid) in the month, as booked when they cleared.
    pub cleared: Units,
}

impl Sums {
    fn of([tracked, modified, reversed, clawbacks, cleared]: [i128; 5]) -> Sums {
        Sums {
            tracked: Units(tracked),
            modified: Units(modified),
            reversed: Units(reversed),
            clawbacks: Units(clawbacks),
            net: Units(tracked + modified + reversed + clawbacks),
            cleared: Units(cleared),
        }
    }

    fn add(&mut self, other: &Sums) {
        for (mine, theirs) in [
            (&mut self.tracked, other.tracked),
            (&mut self.modified, other.modified),
            (&mut self.reversed, other.reversed),
            (&mut self.clawbacks, other.clawbacks),
            (&mut self.net, other.net),
            (&mut self.cleared, other.cleared),
        ] {
            mine.0 += theirs.0;
        }
    }

    /// False for the all-zero sums of placeholders (no currency, no money): the page leaves
    /// such a row out.
    pub fn moves_money(&self) -> bool {
        *self != Sums::default()
    }

    /// The six columns as the page writes them: `1,234.50 USD`.
    pub fn shown(&self, currency: &str) -> [String; 6] {
        [
            self.tracked,
            self.modified,
            self.reversed,
            self.clawbacks,
            self.net,
            self.cleared,
        ]
        .map(|units| format::wide_money(units.0, Some(currency)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementRow {
    /// The closed month these facts concern: they came later and landed here as adjustments.
    pub concerns: Option<String>,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    /// Empty when the actions carried none.
    pub currency: String,
    #[serde(flatten)]
    pub sums: Sums,
    /// The actions and ledger entries behind the row.
    pub actions: i64,
    pub entries: i64,
    /// A closed month's row: the hash of the facts behind it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

impl StatementRow {
    /// The brand as the page names it.
    pub fn brand(&self) -> &str {
        self.campaign_name
            .as_deref()
            .or(self.campaign_id.as_deref())
            .unwrap_or("–")
    }

    /// The `/actions` query listing the actions behind this row in `month` (`YYYY-MM`).
    pub fn actions_query(&self, month: &str) -> String {
        let (from, to) = match (first_day(month), last_day(month)) {
            (Some(from), Some(to)) => (from.to_string(), to.to_string()),
            _ => (String::new(), String::new()),
        };
        // A row of clearances alone (no entry booked that month) lists what cleared in it.
        let date_field = if self.entries == 0 {
            "cleared"
        } else {
            "ledger"
        };
        let mut pairs = vec![
            ("status", "all".to_owned()),
            ("date_field", date_field.to_owned()),
            ("from", from),
            ("to", to),
        ];
        if let Some(campaign) = &self.campaign_id {
            pairs.push(("campaign", campaign.clone()));
        }
        if !self.currency.is_empty() {
            pairs.push(("currency", self.currency.clone()));
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrencySums {
    pub currency: String,
    #[serde(flatten)]
    pub sums: Sums,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementMonth {
    /// `YYYY-MM`, in the book's time zone.
    pub month: String,
    /// Closed: its rows are the statement stored when it closed, and never change.
    pub closed: bool,
    pub closed_at: Option<String>,
    /// Ended and still open: the statement offers to close it.
    pub closable: bool,
    pub rows: Vec<StatementRow>,
    /// Per currency; `cleared` is what cleared this month.
    pub subtotals: Vec<CurrencySums>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub year: i32,
    pub include_tests: bool,
    /// The IANA zone the months follow.
    pub time_zone: String,
    /// The year's closed months, with movement or not.
    pub closed_months: Vec<String>,
    /// Newest month first; months without movement are left out.
    pub months: Vec<StatementMonth>,
    /// The year per currency.
    pub totals: Vec<CurrencySums>,
}

fn per_currency(sums: BTreeMap<String, Sums>) -> Vec<CurrencySums> {
    sums.into_iter()
        .map(|(currency, sums)| CurrencySums { currency, sums })
        .collect()
}

/// What the statement knows besides its rows: the zone, now, and the closed months.
pub struct Calendar {
    pub zone: Tz,
    pub now: DateTime<Utc>,
    /// `YYYY-MM` → when it closed (UTC text).
    pub closed: BTreeMap<String, String>,
}

/// A month's row, live or as stored when it closed.
pub struct Line {
    pub month: String,
    pub row: StatementRow,
}

impl Line {
    fn live(row: &MonthlyRow) -> Line {
        Line {
            month: row.month.clone(),
            row: StatementRow {
                concerns: row.concerns.clone(),
                campaign_id: row.campaign_id.clone(),
                campaign_name: row.campaign_name.clone(),
                currency: row.currency.clone().unwrap_or_default(),
                sums: Sums::of(row.sums()),
                actions: row.actions,
                entries: row.entries,
                hash: None,
            },
        }
    }

    fn closed(row: &ClosedRow) -> Line {
        let units = |text: &str| parse_wide(text).unwrap_or_default();
        Line {
            month: row.month.clone(),
            row: StatementRow {
                concerns: row.concerns.clone(),
                campaign_id: row.campaign_id.clone(),
                campaign_name: row.campaign_name.clone(),
                currency: row.currency.clone().unwrap_or_default(),
                sums: Sums::of([
                    units(&row.tracked),
                    units(&row.modified),
                    units(&row.reversed),
                    units(&row.clawbacks),
                    units(&row.cleared),
                ]),
                actions: row.actions,
                entries: row.entries,
                hash: Some(row.hash.clone()),
            },
        }
    }
}

/// Groups the lines (newest month first) by month, with subtotals and totals per currency:
/// money is never added across currencies.
pub fn assemble(period: Period, calendar: &Calendar, lines: Vec<Line>) -> Statement {
    let mut months: Vec<StatementMonth> = Vec::new();
    let mut subtotals: Vec<BTreeMap<String, Sums>> = Vec::new();
    let mut totals: BTreeMap<String, Sums> = BTreeMap::new();
    for Line { month, row } in lines {
        if months.last().is_none_or(|last| last.month != month) {
            let closed_at = calendar.closed.get(&month).cloned();
            months.push(StatementMonth {
                closable: closed_at.is_none()
                    && ended_days_ago(&month, calendar.now, calendar.zone, 0),
                closed: closed_at.is_some(),
                closed_at,
                month,
                rows: Vec::new(),
                subtotals: Vec::new(),
            });
            subtotals.push(BTreeMap::new());
        }
        let month_sums = subtotals.last_mut().expect("pushed above");
        month_sums
            .entry(row.currency.clone())
            .or_default()
            .add(&row.sums);
        totals
            .entry(row.currency.clone())
            .or_default()
            .add(&row.sums);
        months.last_mut().expect("pushed above").rows.push(row);
    }
    for (month, sums) in months.iter_mut().zip(subtotals) {
        month.subtotals = per_currency(sums);
    }
    Statement {
        year: period.year,
        include_tests: period.include_tests,
        time_zone: calendar.zone.name().to_owned(),
        closed_months: calendar
            .closed
            .keys()
            .filter(|month| month.starts_with(&format!("{:04}-", period.year)))
            .cloned()
            .collect(),
        months,
        totals: per_currency(totals),
    }
}

/// The statement of `period`: closed months as stored, open ones from the facts.
pub fn read(
    conn: &mut AnyConnection,
    period: Period,
    zone: Tz,
    now: DateTime<Utc>,
) -> Result<Statement, StorageError> {
    let (from, until) = period.months();
    let closed: BTreeMap<String, String> = closed_months::all(conn)?
        .into_iter()
        .map(|month| (month.month, format::utc(month.closed_at)))
        .collect();
    let mut lines: Vec<Line> = statement::monthly(conn, period.include_tests, &from, &until)?
        .iter()
        .filter(|row| !closed.contains_key(&row.month))
        .map(Line::live)
        .collect();
    lines.extend(
        closed_months::rows_between(conn, &from, &until)?
            .iter()
            .map(Line::closed),
    );
    // Newest month first, the stored order within a month.
    lines.sort_by(|a, b| b.month.cmp(&a.month));
    let calendar = Calendar { zone, now, closed };
    Ok(assemble(period, &calendar, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movement(month: &str, campaign: &str, currency: &str, sums: [i64; 4]) -> Line {
        Line::live(&MonthlyRow {
            month: month.into(),
            concerns: None,
            campaign_id: Some(campaign.into()),
            campaign_name: None,
            currency: Some(currency.into()),
            tracked_hi: 0,
            tracked_lo: sums[0],
            modified_hi: 0,
            modified_lo: sums[1],
            reversed_hi: 0,
            reversed_lo: sums[2],
            clawbacks_hi: 0,
            clawbacks_lo: 0,
            cleared_hi: 0,
            cleared_lo: sums[3],
            actions: 1,
            entries: 1,
        })
    }

    fn calendar() -> Calendar {
        Calendar {
            zone: Tz::UTC,
            now: at(2026, 6).and_utc(),
            closed: BTreeMap::new(),
        }
    }

    fn at(year: i32, month: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(year, month, 9)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    }

    #[test]
    fn months_get_subtotals_and_the_year_totals_per_currency() {
        let period = Period {
            year: 2026,
            include_tests: false,
        };
        let statement = assemble(
            period,
            &calendar(),
            vec![
                movement("2026-05", "1", "USD", [10_000, 0, 0, 5_000]),
                movement("2026-04", "1", "USD", [155_000, -50_000, -105_000, 0]),
                movement("2026-04", "2", "USD", [20_000, 0, 0, 0]),
                movement("2026-04", "2", "EUR", [30_000, 0, -1, 0]),
            ],
        );
        assert!(statement.months[1].closable, "April has ended and is open");
        assert_eq!(statement.months.len(), 2);
        let april = &statement.months[1];
        assert_eq!(
            april.rows[0].sums.net,
            Units(0),
            "tracked + modified + reversed"
        );
        let subtotal = |sums: &[CurrencySums], currency: &str| {
            sums.iter()
                .find(|sums| sums.currency == currency)
                .unwrap()
                .sums
        };
        assert_eq!(subtotal(&april.subtotals, "USD").net, Units(20_000));
        assert_eq!(subtotal(&april.subtotals, "EUR").net, Units(29_999));
        assert_eq!(subtotal(&statement.totals, "USD").tracked, Units(185_000));
        assert_eq!(subtotal(&statement.totals, "USD").cleared, Units(5_000));
        assert_eq!(statement.totals.len(), 2, "never added across currencies");
    }

    #[test]
    fn money_is_exact_decimal_text_in_json() {
        let sums = movement("2026-04", "1", "USD", [155_000, -50_000, -105_001, 1])
            .row
            .sums;
        let json = serde_json::to_value(sums).unwrap();
        assert_eq!(json["tracked"], "15.50");
        assert_eq!(json["reversed"], "-10.5001");
        assert_eq!(json["net"], "-0.0001");
        assert_eq!(json["cleared"], "0.0001");
        assert_eq!(sums.shown("USD")[0], "15.50 USD");
    }

    #[test]
    fn the_year_defaults_to_now_and_bad_values_are_refused() {
        let query = |year: Option<&str>, tests: Option<&str>| StatementQuery {
            year: year.map(str::to_owned),
            include_tests: tests.map(str::to_owned),
        };
        let now = at(2026, 11);
        assert_eq!(
            Period::parse(&query(None, None), now),
            Ok(Period {
                year: 2026,
                include_tests: false
            })
        );
        let period = Period::parse(&query(Some("2025"), Some("true")), now).unwrap();
        assert_eq!((period.year, period.include_tests), (2025, true));
        assert_eq!(
            period.bounds(),
            (
                at(2025, 1) - chrono::Duration::days(8),
                at(2026, 1) - chrono::Duration::days(8)
            )
        );
        for (year, tests, expected) in [
            (Some("26x"), None, "year must be"),
            (Some("99999"), None, "year must be"),
            (None, Some("maybe"), "include_tests must be"),
        ] {
            let error = Period::parse(&query(year, tests), now).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}
