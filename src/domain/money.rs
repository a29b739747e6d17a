//! Exact money: a signed count of ten-thousandths of a currency unit, parsed and printed as decimals.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// Decimal places kept exactly. impact.com sends two; four leaves room for rates and rebates.
pub const SCALE: u32 = 4;
const UNIT: i64 = 10_000;
/// The largest plausible amount, in whole currency units: a payout, sale amount or delta beyond
/// 10^12 (a trillion) is a broken template or an attack, not a sale, and is quarantined. It also
/// keeps every difference of two amounts, and the sum of 900 of them, inside i64.
pub const PLAUSIBLE_UNITS: i64 = 1_000_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a decimal number")]
    NotANumber(String),
    #[error("`{0}` has more than {SCALE} decimal places")]
    TooPrecise(String),
    #[error("`{0}` is out of range")]
    OutOfRange(String),
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn from_minor_units(units: i64) -> Self {
        Money(units)
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }

    /// Within the plausible bound (`PLAUSIBLE_UNITS` either side of zero).
    pub fn is_plausible(self) -> bool {
        self.0.unsigned_abs() <= (PLAUSIBLE_UNITS as u64) * (UNIT as u64)
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, SCALE)
    }
}

/// A sum of amounts, in ten-thousandths, as exact decimal text like `Money`'s (`1234.50`): sums
/// run in i128, which no realistic ledger can overflow.
pub fn wide_text(units: i128) -> String {
    match Decimal::try_from_i128_with_scale(units, SCALE) {
        Ok(value) => {
            let mut value = value.normalize();
            if value.scale() < 2 {
                value.rescale(2);
            }
            value.to_string()
        }
        // Beyond 96 bits: still exact, written by hand.
        Err(_) => {
            let sign = if units < 0 { "-" } else { "" };
            let magnitude = units.unsigned_abs();
            let unit = UNIT as u128;
            let fraction = format!("{:04}", magnitude % unit);
            let fraction = fraction.trim_end_matches('0');
            let fraction = format!("{fraction:0<2}");
            format!("{sign}{}.{fraction}", magnitude / unit)
        }
    }
}

/// The exact decimal text `wide_text` writes, read back.
pub fn parse_wide(text: &str) -> Option<i128> {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if fraction.len() > SCALE as usize || whole.is_empty() {
        return None;
    }
    let whole: i128 = whole.parse().ok()?;
    let fraction: i128 = format!("{fraction:0<4}").parse().ok()?;
    Some(sign * whole.checked_mul(UNIT as i128)?.checked_add(fraction)?)
}

impl std::ops::Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// Accepts `10`, `10.5`, `-5.00`, `+3.1`, `1e2`; rejects anything that would need rounding.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let parsed = Decimal::from_str_exact(trimmed)
            .or_else(|_| Decimal::from_scientific(trimmed))
            .map_err(|_| MoneyError::NotANumber(text.to_owned()))?;
        let normalized = parsed.normalize();
        if normalized.scale() > SCALE {
            return Err(MoneyError::TooPrecise(text.to_owned()));
        }
        let scaled = normalized
            .checked_mul(Decimal::from(UNIT))
            .ok_or_else(|| MoneyError::OutOfRange(text.to_owned()))?;
        i64::try_from(scaled)
            .map(Money)
            .map_err(|_| MoneyError::OutOfRange(text.to_owned()))
    }
}

impl fmt::Display for Money {
    /// At least two decimal places, more only when the value has them: `10.50`, `0.1234`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut value = self.to_decimal().normalize();
        if value.scale() < 2 {
            value.rescale(2);
        }
        write!(f, "{value}")
    }
}

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    #[test]
    fn parses_the_shapes_templates_produce() {
        assert_eq!(money("10.50").minor_units(), 105_000);
        assert_eq!(money("10.5").minor_units(), 105_000);
        assert_eq!(money("-5.00").minor_units(), -50_000);
        assert_eq!(money(" 7 ").minor_units(), 70_000);
        assert_eq!(money("0.0001").minor_units(), 1);
        assert_eq!(money("1.230000").minor_units(), 12_300);
        assert_eq!(money("1e2").minor_units(), 1_000_000);
    }

    #[test]
    fn refuses_what_it_cannot_hold_exactly() {
        assert!(matches!(
            "abc".parse::<Money>(),
            Err(MoneyError::NotANumber(_))
        ));
        assert!(matches!(
            "".parse::<Money>(),
            Err(MoneyError::NotANumber(_))
        ));
        assert!(matches!(
            "0.00001".parse::<Money>(),
            Err(MoneyError::TooPrecise(_))
        ));
        assert!(matches!(
            "9999999999999999999".parse::<Money>(),
            Err(MoneyError::OutOfRange(_))
        ));
    }

    #[test]
    fn wide_sums_are_exact_text_both_ways() {
        for (units, text) in [
            (105_000i128, "10.50"),
            (-1, "-0.0001"),
            (0, "0.00"),
            (i128::from(i64::MAX) * 4, "3689348814741910.3228"),
            (i128::MAX / 3, "5671372782015641057722910123862803.5242"),
        ] {
            assert_eq!(wide_text(units), text);
            assert_eq!(parse_wide(text), Some(units), "{text}");
        }
    }

    #[test]
    fn the_plausible_bound_is_a_trillion_either_way() {
        assert!(money("1000000000000").is_plausible());
        assert!(money("-1000000000000.00").is_plausible());
        assert!(!money("1000000000000.0001").is_plausible());
        assert!(!money("922337203685477.5807").is_plausible());
        assert!(!money("-922337203685477.5808").is_plausible());
    }

    #[test]
    fn prints_at_least_cents_and_every_digit_it_has() {
        assert_eq!(money("10.5").to_string(), "10.50");
        assert_eq!(money("-5").to_string(), "-5.00");
        assert_eq!(money("0.1234").to_string(), "0.1234");
        assert_eq!(Money::ZERO.to_string(), "0.00");
    }
}
