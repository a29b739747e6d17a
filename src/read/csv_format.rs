//! CSV cells and rows for the exports: exact money, ISO 8601 UTC times, quoting by the csv
//! crate, and text from the network that a spreadsheet cannot take for a formula.

use std::borrow::Cow;

use chrono::NaiveDateTime;

use crate::domain::money::Money;

/// Text a spreadsheet would evaluate (`=HYPERLINK(…)`, `+1`, `@SUM(…)`, a leading tab or CR) gets
/// a leading apostrophe, as OWASP advises for CSV injection. Only for text: money is written by
/// `money` and never altered.
pub fn text(value: &str) -> Cow<'_, str> {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    }
}

/// An optional text cell: empty when absent.
pub fn optional(value: Option<&str>) -> Cow<'_, str> {
    value.map(text).unwrap_or_default()
}

/// Exact decimal without grouping or currency: `1234.50`, `-0.0125`.
pub fn money(units: i64) -> String {
    Money::from_minor_units(units).to_string()
}

/// ISO 8601 in UTC, `2026-04-08T09:00:00Z`; empty when absent.
pub fn time(at: Option<NaiveDateTime>) -> String {
    at.map(crate::read::format::utc).unwrap_or_default()
}

/// CSV text built in memory, one chunk of an export at a time.
pub struct Sheet {
    writer: csv::Writer<Vec<u8>>,
}

impl Default for Sheet {
    fn default() -> Self {
        Sheet {
            writer: csv::Writer::from_writer(Vec::new()),
        }
    }
}

impl Sheet {
    /// Appends one record; the csv crate quotes what needs quoting.
    pub fn row<I, T>(&mut self, cells: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.writer
            .write_record(cells)
            .expect("writing CSV to memory cannot fail");
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.writer
            .into_inner()
            .expect("flushing CSV to memory cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn text_that_looks_like_a_formula_gets_an_apostrophe() {
        for (value, expected) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\rcmd", "'\rcmd"),
            ("1000.4636.158133", "1000.4636.158133"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(text(value), expected, "{value:?}");
        }
        assert_eq!(optional(None), "");
        assert_eq!(optional(Some("=1")), "'=1");
    }

    #[test]
    fn money_is_exact_and_never_grouped_or_neutralised() {
        assert_eq!(money(12_345_000), "1234.50");
        assert_eq!(money(-125), "-0.0125");
        assert_eq!(money(-50_000), "-5.00");
        assert_eq!(money(0), "0.00");
    }

    #[test]
    fn times_are_iso_8601_utc() {
        let at = NaiveDate::from_ymd_opt(2026, 4, 8)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        assert_eq!(time(Some(at)), "2026-04-08T09:00:00Z");
        assert_eq!(time(None), "");
    }

    #[test]
    fn rows_are_quoted_by_the_csv_rules() {
        let mut sheet = Sheet::default();
        sheet.row(["action_id", "campaign_name", "payout"]);
        sheet.row([
            text("A,1").as_ref(),
            text("Say \"hi\"\nnow").as_ref(),
            money(-50_000).as_str(),
        ]);
        sheet.row([text("=1+1").as_ref(), "", "0.00"]);
        assert_eq!(
            String::from_utf8(sheet.into_bytes()).unwrap(),
            "action_id,campaign_name,payout\n\"A,1\",\"Say \"\"hi\"\"\nnow\",-5.00\n'=1+1,,0.00\n"
        );
    }
}
