//! The overview: payout per bucket and currency, the daily chart, activity per source and what
//! needs attention, read from storage at one instant.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::chart::{self, Chart, Day};
use super::filter::flag;
use super::format;
use crate::domain::alert::AlertKind;
use crate::domain::book::{day_of, start_of_day};
use crate::domain::bucket::Bucket;
use crate::domain::event::EMPTY_POSTBACK_REASON;
use crate::domain::money::Money;
use crate::read::format::utc;
use crate::storage::activity as source_activity;
use crate::storage::alerts;
use crate::storage::overview::{self, Attention};
use crate::storage::{AnyConnection, StorageError};

/// Open inquiries due within this many days count as needing attention.
pub const DEADLINE_DAYS: u64 = 7;

#[derive(Debug, Clone, Default, Serialize)]
pub struct BucketSum {
    pub actions: i64,
    /// Exact decimal text.
    pub payout: String,
    #[serde(skip)]
    pub units: i64,
}

impl BucketSum {
    fn add(&mut self, actions: i64, units: i64) {
        self.actions += actions;
        self.units += units;
        self.payout = Money::from_minor_units(self.units).to_string();
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CurrencySummary {
    /// Empty when the actions carried no currency.
    pub currency: String,
    pub pending: BucketSum,
    pub approved: BucketSum,
    pub cleared: BucketSum,
    /// `actions` reversed; `payout` what their reversals took away (their own payout is 0).
    pub reversed: BucketSum,
    /// Reversed actions among all, as a percentage.
    pub reversal_rate: String,
}

impl CurrencySummary {
    fn new(currency: String) -> Self {
        let zero = BucketSum {
            payout: Money::ZERO.to_string(),
            ..BucketSum::default()
        };
        CurrencySummary {
            currency,
            pending: zero.clone(),
            approved: zero.clone(),
            cleared: zero.clone(),
            reversed: zero,
            reversal_rate: String::new(),
        }
    }

    pub fn bucket(&self, bucket: Bucket) -> &BucketSum {
        match bucket {
            Bucket::Pending => &self.pending,
            Bucket::Approved => &self.approved,
            Bucket::Cleared => &self.cleared,
            Bucket::Reversed => &self.reversed,
        }
    }

    /// A bucket's payout for the page: `1,234.50 USD`.
    pub fn shown(&self, bucket: Bucket) -> String {
        format::money(self.bucket(bucket).units, Some(&self.currency))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceActivity {
    pub source: String,
    /// ISO 8601, UTC.
    pub last_received_at: Option<String>,
    /// As the page writes times.
    #[serde(skip)]
    pub last_received_shown: Option<String>,
    /// `3 min ago`, or `never`.
    pub ago: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttentionView {
    pub quarantined_deliveries: i64,
    pub flagged_actions: i64,
    pub auth_failures_24h: i64,
    pub inquiries_due_soon: i64,
    /// Quarantined as empty: a template without placeholders (a setup error; see `/setup`).
    pub empty_postbacks: i64,
}

impl From<Attention> for AttentionView {
    fn from(attention: Attention) -> Self {
        AttentionView {
            quarantined_deliveries: attention.quarantined,
            flagged_actions: attention.flagged,
            auth_failures_24h: attention.auth_failures,
            inquiries_due_soon: attention.inquiries_due,
            empty_postbacks: 0,
        }
    }
}

/// An open alert (silence, or a quarantine or authentication-failure rate).
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub source: String,
    pub kind: AlertKind,
    pub message: String,
    /// ISO 8601, UTC.
    pub since: String,
    #[serde(skip)]
    pub since_shown: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChartDay {
    pub day: String,
    pub tracked: String,
    pub reversed: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// ISO 8601, UTC.
    pub as_of: String,
    #[serde(skip)]
    pub as_of_shown: String,
    pub include_tests: bool,
    pub days: u32,
    pub currencies: Vec<CurrencySummary>,
    /// Per currency, the days with movement.
    pub daily: BTreeMap<String, Vec<ChartDay>>,
    pub sources: Vec<SourceActivity>,
    pub attention: AttentionView,
    pub alerts: Vec<AlertView>,
    /// When the ledger was last checked against impact.com's own records; None: never.
    pub cross_check: Option<super::reconciliation::LastCheck>,
    #[serde(skip)]
    pub charts: Vec<Chart>,
}

/// The query string of `/` and `/api/summary`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OverviewQuery {
    pub days: Option<u32>,
    pub include_tests: Option<String>,
}

/// What an overview covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub days: u32,
    pub include_tests: bool,
}

impl Options {
    /// The chart covers 30 days unless 90 are asked for; `include_tests` as on the lists.
    pub fn parse(query: &OverviewQuery) -> Result<Options, String> {
        let days = match query.days {
            None | Some(30) => 30,
            Some(90) => 90,
            Some(other) => return Err(format!("days must be 30 or 90, not {other}")),
        };
        let include_tests = flag(&query.include_tests)
            .transpose()
            .map_err(|word| format!("include_tests must be true or false, not `{word}`"))?
            .unwrap_or(false);
        Ok(Options {
            days,
            include_tests,
        })
    }
}

/// Reads the overview at `now`; `days` of chart (30 or 90), `sources` the configured names.
pub fn read(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    zone: Tz,
    days: u32,
    include_tests: bool,
    sources: &[String],
) -> Result<Overview, StorageError> {
    let mut currencies: BTreeMap<String, CurrencySummary> = BTreeMap::new();
    for total in overview::bucket_totals(conn, include_tests, now)? {
        let entry = currencies_entry(&mut currencies, total.currency);
        match total.bucket {
            Bucket::Reversed => entry.reversed.actions += total.actions,
            bucket => bucket_mut(entry, bucket).add(total.actions, total.payout),
        }
    }
    for sum in overview::reversed_payout(conn, include_tests)? {
        currencies_entry(&mut currencies, sum.currency)
            .reversed
            .add(0, sum.payout);
    }
    for summary in currencies.values_mut() {
        let all = Bucket::ALL
            .iter()
            .map(|bucket| summary.bucket(*bucket).actions)
            .sum();
        summary.reversal_rate = format::percent(summary.reversed.actions, all);
    }

    // The days are the book's (its zone's); storage keeps UTC.
    let today = day_of(now.and_utc(), zone);
    let first = today
        .checked_sub_days(Days::new(u64::from(days.saturating_sub(1))))
        .unwrap_or(today);
    let since = start_of_day(first, zone).naive_utc();
    let movements = if zone == Tz::UTC {
        overview::daily_movements(conn, include_tests, since)?
    } else {
        overview::quarter_hour_movements(conn, include_tests, since)?
    };
    let mut per_day: BTreeMap<String, BTreeMap<NaiveDate, Day>> = BTreeMap::new();
    for movement in movements {
        let quarter = movement.day.rsplit_once(':').and_then(|(hour, minute)| {
            let minute: u32 = minute.parse().ok()?;
            NaiveDateTime::parse_from_str(&format!("{hour}:{minute:02}"), "%Y-%m-%d %H:%M").ok()
        });
        let day = match quarter {
            Some(quarter) => day_of(quarter.and_utc(), zone),
            None => match NaiveDate::parse_from_str(&movement.day, "%Y-%m-%d") {
                Ok(day) => day,
                Err(_) => continue,
            },
        };
        let currency = movement.currency.unwrap_or_default();
        let slot = per_day.entry(currency).or_default().entry(day).or_default();
        slot.tracked += movement.tracked;
        slot.reversed += movement.reversed;
    }
    let charts: Vec<Chart> = per_day
        .iter()
        .map(|(currency, values)| {
            chart::draw(currency, today, days, |day| {
                values.get(&day).copied().unwrap_or_default()
            })
        })
        .collect();
    // The same days as the charts' tables (the window, with movement), as exact decimals.
    let daily = per_day
        .iter()
        .map(|(currency, values)| {
            let days = values
                .range(first..=today)
                .filter(|(_, value)| value.tracked != 0 || value.reversed != 0)
                .map(|(day, value)| ChartDay {
                    day: day.to_string(),
                    tracked: Money::from_minor_units(value.tracked).to_string(),
                    reversed: Money::from_minor_units(value.reversed).to_string(),
                })
                .collect();
            (currency.clone(), days)
        })
        .collect();

    let mut activity = Vec::new();
    for source in sources {
        let last = overview::last_delivery(conn, source)?;
        activity.push(SourceActivity {
            source: source.clone(),
            last_received_at: last.map(utc),
            last_received_shown: last.map(format::time),
            ago: last.map_or_else(|| "never".to_owned(), |at| format::ago(at, now)),
        });
    }
    let attention = overview::attention(
        conn,
        now - chrono::Duration::hours(24),
        now + chrono::Duration::days(DEADLINE_DAYS as i64),
    )?;
    let mut attention: AttentionView = attention.into();
    attention.empty_postbacks =
        source_activity::quarantined_with_reason(conn, EMPTY_POSTBACK_REASON, None, true)?;
    let alerts = alerts::open(conn)?
        .into_iter()
        .map(|alert| AlertView {
            source: alert.source,
            kind: alert.kind,
            message: alert.message,
            since: utc(alert.started_at),
            since_shown: format::time(alert.started_at),
        })
        .collect();
    Ok(Overview {
        as_of: utc(now),
        as_of_shown: format::time(now),
        include_tests,
        days,
        currencies: currencies.into_values().collect(),
        daily,
        sources: activity,
        attention,
        alerts,
        cross_check: super::reconciliation::last_check(conn, "impact", now)?,
        charts,
    })
}

fn currencies_entry(
    currencies: &mut BTreeMap<String, CurrencySummary>,
    currency: Option<String>,
) -> &mut CurrencySummary {
    let currency = currency.unwrap_or_default();
    currencies
        .entry(currency.clone())
        .or_insert_with(|| CurrencySummary::new(currency))
}

fn bucket_mut(summary: &mut CurrencySummary, bucket: Bucket) -> &mut BucketSum {
    match bucket {
        Bucket::Pending => &mut summary.pending,
        Bucket::Approved => &mut summary.approved,
        Bucket::Cleared => &mut summary.cleared,
        Bucket::Reversed => &mut summary.reversed,
    }
}
