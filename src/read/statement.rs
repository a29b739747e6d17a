//! The statement: per month, brand and currency the tracked, modified, reversed, net and cleared
//! payout, with subtotals per month and totals per currency for the year.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::filter::include_tests;
use super::format;
use crate::domain::money::Money;
use crate::storage::statement::{self, MonthlyMovement};
use crate::storage::{AnyConnection, StorageError};

/// The query string of `/statement`, `/api/statement` and `/statement.csv`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StatementQuery {
    pub year: Option<String>,
    pub include_tests: Option<String>,
}

/// What a statement covers: a calendar year (UTC), test conversions or not.
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

/// Ten-thousandths of the currency; serialized as exact decimal text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Units(pub i64);

impl Serialize for Units {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&Money::from_minor_units(self.0))
    }
}

/// The five columns finance reconciles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sums {
    pub tracked: Units,
    pub modified: Units,
    pub reversed: Units,
    /// tracked + modified + reversed: what the month's movements changed.
    pub net: Units,
    /// Payout of the actions that cleared (were paid) in the month.
    pub cleared: Units,
}

impl Sums {
    fn of(movement: &MonthlyMovement) -> Sums {
        Sums {
            tracked: Units(movement.tracked),
            modified: Units(movement.modified),
            reversed: Units(movement.reversed),
            net: Units(movement.tracked + movement.modified + movement.reversed),
            cleared: Units(movement.cleared),
        }
    }

    fn add(&mut self, other: &Sums) {
        self.tracked.0 += other.tracked.0;
        self.modified.0 += other.modified.0;
        self.reversed.0 += other.reversed.0;
        self.net.0 += other.net.0;
        self.cleared.0 += other.cleared.0;
    }

    /// The five columns as the page writes them: `1,234.50 USD`.
    pub fn shown(&self, currency: &str) -> [String; 5] {
        [
            self.tracked,
            self.modified,
            self.reversed,
            self.net,
            self.cleared,
        ]
        .map(|units| format::money(units.0, Some(currency)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementRow {
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    /// Empty when the actions carried none.
    pub currency: String,
    #[serde(flatten)]
    pub sums: Sums,
}

impl StatementRow {
    /// The brand as the page names it.
    pub fn brand(&self) -> &str {
        self.campaign_name
            .as_deref()
            .or(self.campaign_id.as_deref())
            .unwrap_or("–")
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
    /// `YYYY-MM`, UTC.
    pub month: String,
    pub rows: Vec<StatementRow>,
    pub subtotals: Vec<CurrencySums>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub year: i32,
    pub include_tests: bool,
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

/// Groups the storage's rows (newest month first) by month, with subtotals and totals per
/// currency: money is never added across currencies.
pub fn assemble(period: Period, movements: &[MonthlyMovement]) -> Statement {
    let mut months: Vec<StatementMonth> = Vec::new();
    let mut subtotals: Vec<BTreeMap<String, Sums>> = Vec::new();
    let mut totals: BTreeMap<String, Sums> = BTreeMap::new();
    for movement in movements {
        let row = StatementRow {
            campaign_id: movement.campaign_id.clone(),
            campaign_name: movement.campaign_name.clone(),
            currency: movement.currency.clone().unwrap_or_default(),
            sums: Sums::of(movement),
        };
        if months
            .last()
            .is_none_or(|month| month.month != movement.month)
        {
            months.push(StatementMonth {
                month: movement.month.clone(),
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
        months,
        totals: per_currency(totals),
    }
}

/// The statement of `period`, read from storage.
pub fn read(conn: &mut AnyConnection, period: Period) -> Result<Statement, StorageError> {
    let (from, until) = period.bounds();
    let movements = statement::monthly(conn, period.include_tests, from, until)?;
    Ok(assemble(period, &movements))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movement(month: &str, campaign: &str, currency: &str, sums: [i64; 4]) -> MonthlyMovement {
        MonthlyMovement {
            month: month.into(),
            campaign_id: Some(campaign.into()),
            campaign_name: None,
            currency: Some(currency.into()),
            tracked: sums[0],
            modified: sums[1],
            reversed: sums[2],
            cleared: sums[3],
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
            &[
                movement("2026-05", "1", "USD", [10_000, 0, 0, 5_000]),
                movement("2026-04", "1", "USD", [155_000, -50_000, -105_000, 0]),
                movement("2026-04", "2", "USD", [20_000, 0, 0, 0]),
                movement("2026-04", "2", "EUR", [30_000, 0, -1, 0]),
            ],
        );
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
        let sums = Sums::of(&movement(
            "2026-04",
            "1",
            "USD",
            [155_000, -50_000, -105_001, 1],
        ));
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
