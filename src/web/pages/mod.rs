//! The dashboard's HTML pages, one file each: they read their model off the async workers and
//! render a template; an error is the error page (`.for_page(…)`, see [`RequestError`]). Here:
//! what they share (the form check, money and time text).

use actix_web::HttpRequest;
use chrono_tz::Tz;
use serde::Deserialize;

use crate::domain::money::Money;
use crate::read::format;
use crate::web::access;
use crate::web::error::RequestError;
use crate::web::startup::AppState;

pub mod actions;
pub mod deliveries;
pub mod inquiries;
pub mod overview;
pub mod reconciliation;
pub mod setup;
pub mod statement;

/// Money text from the read model (exact decimal) shown with grouping and currency.
pub fn shown_money(text: &str, currency: Option<&str>) -> String {
    match text.parse::<Money>() {
        Ok(money) => format::money(money.minor_units(), currency),
        Err(_) => text.to_owned(),
    }
}

/// An ISO time from the read model as the pages write times: in the book's zone.
pub fn shown_time(text: Option<&str>, zone: Tz) -> String {
    text.and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map(|time| format::time(time.naive_utc(), zone))
        .unwrap_or_default()
}

/// A list's position and its ways on, rendered by `pager.html`: "51–100 of 3,412",
/// previous and next.
pub struct Pager {
    /// 1-based index of the page's first row; None when it is not known (a cursor from
    /// elsewhere).
    pub first: Option<i64>,
    pub rows: i64,
    pub total: i64,
    /// Hrefs, or None where there is nothing that way.
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `1–100 of 3,412`; `0 of 0`; `100 more of 3,412` when the position is not known.
    pub fn count(&self) -> String {
        let total = grouped(self.total);
        match self.first {
            _ if self.rows == 0 => format!("0 of {total}"),
            Some(first) => format!(
                "{}–{} of {total}",
                grouped(first),
                grouped(first + self.rows - 1)
            ),
            None => format!("{} more of {total}", grouped(self.rows)),
        }
    }
}

/// Where a keyset page stands in its list, for its pager: known on the first page, and when the
/// pager's own links brought us here (they carry `start`).
#[derive(Debug, Clone, Copy)]
pub struct Position {
    /// Whether the page was asked for with a cursor (not the first page).
    after_cursor: bool,
    /// 0-based index of the page's first row, when known.
    pub start: Option<i64>,
    /// Where the page before starts, when it is not the first (its cursor must be looked up).
    pub back: Option<i64>,
}

impl Position {
    pub fn new(after_cursor: bool, start: Option<i64>, page_size: i64) -> Position {
        let start = match (after_cursor, start) {
            (false, _) => Some(0),
            (true, Some(start)) if start > 0 => Some(start),
            _ => None,
        };
        Position {
            after_cursor,
            start,
            back: start
                .map(|start| start - page_size)
                .filter(|back| *back > 0),
        }
    }

    /// The previous page's link, `link(cursor, start)`, given the cursor found for `back`.
    pub fn previous<C>(
        &self,
        back_cursor: Option<C>,
        link: impl Fn(Option<C>, Option<i64>) -> String,
    ) -> Option<String> {
        match (self.after_cursor, self.back, back_cursor) {
            (false, _, _) => None,
            (true, Some(back), Some(cursor)) => Some(link(Some(cursor), Some(back))),
            // Back to the first page: from the second, or from a position not known.
            (true, _, _) => Some(link(None, None)),
        }
    }
}

/// A count with thousands grouped: `3,412`.
pub fn grouped(count: i64) -> String {
    let digits = count.unsigned_abs().to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if count < 0 {
        text.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// A time for a list: the day shown, the whole time (the pages' way of writing it) on hover.
pub struct When {
    pub date: String,
    pub full: String,
}

/// An ISO time from the read model as a list shows it: the day in the book's zone.
pub fn when(text: Option<&str>, zone: Tz) -> When {
    let full = shown_time(text, zone);
    When {
        date: full.get(..10).unwrap_or(&full).to_owned(),
        full,
    }
}

/// A path segment, percent-encoded.
pub fn urlencoding(segment: &str) -> String {
    serde_urlencoded::to_string([("", segment)])
        .map(|pair| pair.trim_start_matches('=').replace('+', "%20"))
        .unwrap_or_default()
}

/// The 403 page when a posted form's token does not belong to this browser.
pub fn check_form(
    request: &HttpRequest,
    state: &AppState,
    token: &str,
) -> Result<(), RequestError> {
    if access::form_token_ok(request, &state.access, token) {
        return Ok(());
    }
    Err(RequestError::forbidden(
        "The form's token does not match this browser; reload the page and try again.",
    )
    .for_page(request, state))
}

/// An optional text for a fields table: `–` when absent.
pub fn or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "–".into())
}

/// An optional ISO time for a fields table: `–` when absent.
pub fn time_or_dash(value: &Option<String>, zone: Tz) -> String {
    match value {
        Some(value) => shown_time(Some(value), zone),
        None => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pager_counts_with_grouping() {
        let pager = |first, rows, total| Pager {
            first,
            rows,
            total,
            previous: None,
            next: None,
        };
        assert_eq!(pager(Some(1), 100, 3412).count(), "1–100 of 3,412");
        assert_eq!(pager(Some(3401), 12, 3412).count(), "3,401–3,412 of 3,412");
        assert_eq!(pager(Some(1), 0, 0).count(), "0 of 0");
        assert_eq!(pager(None, 50, 1_000_000).count(), "50 more of 1,000,000");
        assert_eq!(grouped(-1234), "-1,234");
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}
