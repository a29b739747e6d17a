//! The overview's chart, drawn on the server: tracked vs reversed payout per day as SVG bars.

use chrono::{Days, NaiveDate};

use super::format;

pub const WIDTH: i64 = 720;
pub const HEIGHT: i64 = 180;
/// Room under the bars for the date labels.
const AXIS: i64 = 20;

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
    let max = values
        .iter()
        .map(|(_, day)| day.tracked.max(day.reversed))
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = WIDTH / i64::from(days.max(1));
    let bar_width = (slot / 2 - 1).max(1);
    let plot = HEIGHT - AXIS;
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
                x: index as i64 * slot + offset * (bar_width + 1),
                y: plot - height,
                width: bar_width,
                height,
                series,
                title: format!("{day}: {series} {}", format::money(units, Some(currency))),
            });
        }
    }
    Chart {
        currency: currency.to_owned(),
        bars,
        max_label: format::money(max, Some(currency)),
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
        assert_eq!(tracked.height, HEIGHT - AXIS);
        assert_eq!(tracked.y, 0);
        assert_eq!(reversed.height, (HEIGHT - AXIS) / 4);
        assert_eq!(tracked.x, 27 * (WIDTH / 30));
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
    fn an_empty_chart_has_no_bars() {
        let chart = draw("USD", day(30), 90, |_| Day::default());
        assert!(chart.bars.is_empty() && chart.days.is_empty());
        assert_eq!(chart.first_day, "2026-01-31");
    }

    use chrono::Datelike;
}
