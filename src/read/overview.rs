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
use crate::storage::overview::{self, Attention, MovementDate};
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

/// The figures a partner reads first, in one currency: what will be paid, and what moved.
#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    /// Approved or past locking and not yet cleared: what the next payouts should bring.
    pub expected_payout: String,
    /// Still pending: may yet change or be reversed.
    pub pending: String,
    /// The statement month (`YYYY-MM`, the book's zone) of the next two figures.
    pub month: String,
    /// Payout of the actions that cleared (were paid) in the month.
    pub cleared_this_month: String,
    /// Changes after clearing booked in the month (negative: money taken back).
    pub clawbacks_this_month: String,
    #[serde(skip)]
    cleared_units: i64,
    #[serde(skip)]
    clawback_units: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CurrencySummary {
    /// Actions without a currency (clearing placeholders, no money) are not summed here: they are
    /// counted under `attention.placeholders`.
    pub currency: String,
    pub headline: Headline,
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
            headline: Headline {
                expected_payout: zero.payout.clone(),
                pending: zero.payout.clone(),
                month: String::new(),
                cleared_this_month: zero.payout.clone(),
                clawbacks_this_month: zero.payout.clone(),
                cleared_units: 0,
                clawback_units: 0,
            },
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

    /// The headline figures for the page: (key, label, exact decimal, shown, link).
    pub fn headline_shown(&self) -> [(&'static str, &'static str, &str, String, String); 4] {
        let currency = urlencoded(&self.currency);
        let money = |units| format::money(units, Some(&self.currency));
        let month = &self.headline.month;
        [
            (
                "expected_payout",
                "Expected next payout",
                &self.headline.expected_payout,
                money(self.approved.units),
                format!("/actions?status=approved&currency={currency}"),
            ),
            (
                "pending",
                "Pending",
                &self.headline.pending,
                money(self.pending.units),
                format!("/actions?status=pending&currency={currency}"),
            ),
            (
                "cleared_this_month",
                "Cleared this month",
                &self.headline.cleared_this_month,
                money(self.headline.cleared_units),
                format!(
                    "/actions?status=all&currency={currency}&date_field=cleared&from={month}-01&to={}",
                    month_end(month)
                ),
            ),
            (
                "clawbacks_this_month",
                "Clawbacks this month",
                &self.headline.clawbacks_this_month,
                money(self.headline.clawback_units),
                format!("/statement?year={}", month.get(..4).unwrap_or_default()),
            ),
        ]
    }
}

fn urlencoded(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|pair| pair.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// The last day of a `YYYY-MM` month, as `YYYY-MM-DD`.
fn month_end(month: &str) -> String {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .ok()
        .and_then(|first| first.checked_add_months(chrono::Months::new(1)))
        .and_then(|next| next.pred_opt())
        .map(|last| last.to_string())
        .unwrap_or_default()
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
    /// Actions a clearing named that were never tracked: no currency, no money until their
    /// event arrives.
    pub placeholders: i64,
}

impl From<Attention> for AttentionView {
    fn from(attention: Attention) -> Self {
        AttentionView {
            quarantined_deliveries: attention.quarantined,
            flagged_actions: attention.flagged,
            auth_failures_24h: attention.auth_failures,
            inquiries_due_soon: attention.inquiries_due,
            empty_postbacks: 0,
            placeholders: 0,
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
    /// The chart's days: `event` (when the sale happened) or `arrival` (when we learned of it).
    pub by: &'static str,
    pub currencies: Vec<CurrencySummary>,
    /// Per currency, the days with movement.
    pub daily: BTreeMap<String, Vec<ChartDay>>,
    pub sources: Vec<SourceActivity>,
    /// The configured sources nothing ever arrived for, listed apart on the page.
    #[serde(skip)]
    pub never_received: Vec<String>,
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
    /// `event` (default) or `arrival`: which day the chart counts a movement on.
    pub by: Option<String>,
}

/// What an overview covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub days: u32,
    pub include_tests: bool,
    /// The chart by event day (else by arrival day).
    pub by_event: bool,
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
        let by_event = match query.by.as_deref().map(str::trim) {
            None | Some("") | Some("event") => true,
            Some("arrival") => false,
            Some(other) => return Err(format!("by must be event or arrival, not `{other}`")),
        };
        Ok(Options {
            days,
            include_tests,
            by_event,
        })
    }
}

/// Reads the overview at `now`; `options.days` of chart (30 or 90), `sources` the configured
/// names.
pub fn read(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    zone: Tz,
    options: Options,
    sources: &[String],
) -> Result<Overview, StorageError> {
    let Options {
        days,
        include_tests,
        by_event,
    } = options;
    let mut currencies: BTreeMap<String, CurrencySummary> = BTreeMap::new();
    let mut placeholders = 0;
    for total in overview::bucket_totals(conn, include_tests, now)? {
        // No currency: placeholders, which carry no money; they are counted, not summed.
        let Some(currency) = total.currency.filter(|code| !code.is_empty()) else {
            placeholders += total.actions;
            continue;
        };
        let entry = currencies_entry(&mut currencies, Some(currency));
        match total.bucket {
            Bucket::Reversed => entry.reversed.actions += total.actions,
            bucket => bucket_mut(entry, bucket).add(total.actions, total.payout),
        }
    }
    for sum in overview::reversed_payout(conn, include_tests)? {
        if let Some(summary) = sum.currency.and_then(|code| currencies.get_mut(&code)) {
            summary.reversed.add(0, sum.payout);
        }
    }
    let today = day_of(now.and_utc(), zone);
    let month = today.format("%Y-%m").to_string();
    for money in overview::month_money(conn, include_tests, &month)? {
        if let Some(summary) = money.currency.and_then(|code| currencies.get_mut(&code)) {
            summary.headline.cleared_units += money.cleared;
            summary.headline.clawback_units += money.clawbacks;
        }
    }
    for summary in currencies.values_mut() {
        let headline = &mut summary.headline;
        headline.month = month.clone();
        headline.expected_payout = summary.approved.payout.clone();
        headline.pending = summary.pending.payout.clone();
        headline.cleared_this_month = Money::from_minor_units(headline.cleared_units).to_string();
        headline.clawbacks_this_month =
            Money::from_minor_units(headline.clawback_units).to_string();
    }
    for summary in currencies.values_mut() {
        let all = Bucket::ALL
            .iter()
            .map(|bucket| summary.bucket(*bucket).actions)
            .sum();
        summary.reversal_rate = format::percent(summary.reversed.actions, all);
    }

    // The days are the book's (its zone's); storage keeps UTC.
    let first = today
        .checked_sub_days(Days::new(u64::from(days.saturating_sub(1))))
        .unwrap_or(today);
    let since = start_of_day(first, zone).naive_utc();
    let by = if by_event {
        MovementDate::Event
    } else {
        MovementDate::Recorded
    };
    let movements = overview::quarter_hour_movements(conn, include_tests, since, by)?;
    let mut per_day: BTreeMap<String, BTreeMap<NaiveDate, Day>> = BTreeMap::new();
    for movement in movements {
        let Ok(quarter) = NaiveDateTime::parse_from_str(&movement.day, "%Y-%m-%d %H:%M") else {
            continue;
        };
        let day = day_of(quarter.and_utc(), zone);
        let Some(currency) = movement.currency.filter(|code| !code.is_empty()) else {
            continue;
        };
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
            last_received_shown: last.map(|at| format::time(at, zone)),
            ago: last.map_or_else(|| "never".to_owned(), |at| format::ago(at, now)),
        });
    }
    let attention = overview::attention(
        conn,
        now - chrono::Duration::hours(24),
        now + chrono::Duration::days(DEADLINE_DAYS as i64),
    )?;
    let mut attention: AttentionView = attention.into();
    attention.placeholders = placeholders;
    attention.empty_postbacks =
        source_activity::quarantined_with_reason(conn, EMPTY_POSTBACK_REASON, None, true)?;
    let alerts = alerts::open(conn)?
        .into_iter()
        .map(|alert| AlertView {
            source: alert.source,
            kind: alert.kind,
            message: alert.message,
            since: utc(alert.started_at),
            since_shown: format::time(alert.started_at, zone),
        })
        .collect();
    Ok(Overview {
        as_of: utc(now),
        as_of_shown: format::time(now, zone),
        include_tests,
        days,
        by: if by_event { "event" } else { "arrival" },
        currencies: currencies.into_values().collect(),
        daily,
        never_received: activity
            .iter()
            .filter(|source| source.last_received_at.is_none())
            .map(|source| source.source.clone())
            .collect(),
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
