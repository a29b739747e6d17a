//! The overview's chart, drawn on the server: tracked vs reversed payout per day as SVG bars.

use chrono::{Days, NaiveDate};

use super::format;

pub const WIDTH: i64 = 720;
pub const HEIGHT: i64 = 200;
/// Room under the bars for the date labels.
const AXIS: i64 = 22;
/// Room left of the bars for the value labels.
pub const LEFT: i64 = 64;
/// Room above the top value line for its label.
const TOP: i64 = 8;
/// The baseline's height: where the bars stand.
pub const BASE: i64 = HEIGHT - AXIS;

/// One bar, in SVG user units, with its tooltip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    /// `tracked` or `reversed`: the CSS class that colours it.
    pub series: &'static str,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    pub currency: String,
    pub bars: Vec<Bar>,
    /// The largest day's value, written at the top of the axis.
    pub max_label: String,
    pub first_day: String,
    pub last_day: String,
    /// The days with their values, for the table beside the chart (screen readers, JS off).
    pub days: Vec<(String, String, String)>,
    /// The value lines: (y, label), from zero up.
    pub y_ticks: Vec<(i64, String)>,
    /// The date labels under the bars: (x at the bar's middle, `Nov 9`).
    pub x_ticks: Vec<(i64, String)>,
}

/// The smallest round step (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten, in
/// ten-thousandths) that four steps reach `max` with.
fn step_for(max: i64) -> i64 {
    let mut power: i64 = 1;
    loop {
        for factor in [10, 15, 20, 25, 30, 40, 50, 60, 80] {
            let step = power.saturating_mul(factor) / 10;
            if step > 0 && step.saturating_mul(4) >= max {
                return step;
            }
        }
        if power > i64::MAX / 100 {
            return max / 4 + 1;
        }
        power *= 10;
    }
}

/// An axis value without the zeros that say nothing: `1,250`, `2.5`.
fn axis_label(units: i64) -> String {
    let text = format::money(units, None);
    match text.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                whole.to_owned()
            } else {
                format!("{whole}.{fraction}")
            }
        }
        None => text,
    }
}

/// A day's tracked and reversed payout in ten-thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Day {
    pub tracked: i64,
    pub reversed: i64,
}

/// Bars for each of the `days` days ending at `last` (missing days are zero), scaled to the
/// largest value. Heights are proportional and exact to the pixel; a non-zero value is at least
/// one pixel high so it is never invisible.
pub fn draw(
    currency: &str,
    last: NaiveDate,
    days: u32,
    value_of: impl Fn(NaiveDate) -> Day,
) -> Chart {
    let first = last
        .checked_sub_days(Days::new(u64::from(days.saturating_sub(1))))
        .unwrap_or(last);
    let values: Vec<(NaiveDate, Day)> = first
        .iter_days()
        .take(days as usize)
        .map(|day| (day, value_of(day)))
        .collect();
    let largest = values
        .iter()
        .map(|(_, day)| day.tracked.max(day.reversed))
        .max()
        .unwrap_or(0)
        .max(1);
    // The scale's top is a round value at or above the largest day, so the lines read evenly.
    let step = step_for(largest);
    let max = step.saturating_mul(4).max(1);
    let slot = (WIDTH - LEFT) / i64::from(days.max(1));
    let bar_width = (slot / 2 - 1).max(1);
    let plot = BASE - TOP;
    let mut bars = Vec::new();
    for (index, (day, value)) in values.iter().enumerate() {
        for (offset, series, units) in [
            (0, "tracked", value.tracked),
            (1, "reversed", value.reversed),
        ] {
            if units <= 0 {
                continue;
            }
            let height = (i128::from(units) * i128::from(plot) / i128::from(max)).max(1) as i64;
            bars.push(Bar {
                x: LEFT + index as i64 * slot + offset * (bar_width + 1),
                y: BASE - height,
                width: bar_width,
                height,
                series,
                title: format!("{day}: {series} {}", format::money(units, Some(currency))),
            });
        }
    }
    let y_ticks = (0..=4)
        .map(|line| (BASE - plot * line / 4, axis_label(step * line)))
        .collect();
    // A date under every week's bar (every fortnight's over 90 days), counted back from today.
    let every = if days > 45 { 14 } else { 7 };
    let x_ticks = (0..values.len())
        .rev()
        .step_by(every)
        .map(|index| {
            (
                LEFT + index as i64 * slot + slot / 2,
                values[index].0.format("%b %-d").to_string(),
            )
        })
        .collect();
    Chart {
        currency: currency.to_owned(),
        bars,
        y_ticks,
        x_ticks,
        max_label: format::money(largest, Some(currency)),
        first_day: first.to_string(),
        last_day: last.to_string(),
        days: values
            .iter()
            .filter(|(_, value)| value.tracked != 0 || value.reversed != 0)
            .map(|(day, value)| {
                (
                    day.to_string(),
                    format::money(value.tracked, Some(currency)),
                    format::money(value.reversed, Some(currency)),
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 4, d).unwrap()
    }

    #[test]
    fn the_largest_value_fills_the_plot_and_others_scale_to_it() {
        let chart = draw("USD", day(30), 30, |date| match date.day0() {
            27 => Day {
                tracked: 1_000_000,
                reversed: 250_000,
            },
            _ => Day::default(),
        });
        assert_eq!(chart.first_day, "2026-04-01");
        assert_eq!(chart.bars.len(), 2);
        let (tracked, reversed) = (&chart.bars[0], &chart.bars[1]);
        // 100.00 is a round top: the bar fills the plot; the lines are at 0, 25, 50, 75, 100.
        assert_eq!(tracked.height, BASE - TOP);
        assert_eq!(tracked.y, TOP);
        assert_eq!(reversed.height, (BASE - TOP) / 4);
        assert_eq!(tracked.x, LEFT + 27 * ((WIDTH - LEFT) / 30));
        let labels: Vec<&str> = chart
            .y_ticks
            .iter()
            .map(|(_, label)| label.as_str())
            .collect();
        assert_eq!(labels, ["0", "25", "50", "75", "100"]);
        assert_eq!(chart.y_ticks[0].0, BASE);
        assert_eq!(chart.x_ticks[0].1, "Apr 30");
        assert_eq!(chart.x_ticks.len(), 5);
        assert!(reversed.x > tracked.x);
        assert_eq!(chart.max_label, "100.00 USD");
        assert_eq!(
            chart.days,
            [("2026-04-28".into(), "100.00 USD".into(), "25.00 USD".into())]
        );
        assert!(tracked.title.contains("2026-04-28") && tracked.title.contains("100.00 USD"));
    }

    #[test]
    fn a_tiny_value_is_still_one_pixel_and_empty_days_draw_nothing() {
        let chart = draw("EUR", day(3), 3, |date| match date.day() {
            1 => Day {
                tracked: 10_000_000_000,
                reversed: 1,
            },
            _ => Day::default(),
        });
        assert_eq!(chart.bars.len(), 2);
        assert_eq!(chart.bars[1].height, 1);
    }

    #[test]
    fn the_scale_tops_at_a_round_value() {
        assert_eq!(step_for(1), 1);
        assert_eq!(step_for(1_000_000), 250_000);
        assert_eq!(step_for(1_000_001), 300_000);
        assert_eq!(step_for(24_075_100), 8_000_000);
        assert_eq!(step_for(40_399_600), 15_000_000);
        assert_eq!(axis_label(25_000), "2.5");
        assert_eq!(axis_label(12_500_000), "1,250");
        let chart = draw("USD", day(30), 30, |date| match date.day() {
            30 => Day {
                tracked: 30_000_000,
                reversed: 0,
            },
            _ => Day::default(),
        });
        assert_eq!(chart.y_ticks.last().unwrap().1, "3,200");
        assert_eq!(chart.bars[0].height, (BASE - TOP) * 30 / 32);
    }

    #[test]
    fn an_empty_chart_has_no_bars() {
        let chart = draw("USD", day(30), 90, |_| Day::default());
        assert!(chart.bars.is_empty() && chart.days.is_empty());
        assert_eq!(chart.first_day, "2026-01-31");
    }

    use chrono::Datelike;
}
