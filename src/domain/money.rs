//! Exact money: a signed count of ten-thousandths of a currency unit, parsed and printed as decimals.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// Decimal places kept exactly. impact.com sends two; four leaves room for rates and rebates.
pub const SCALE: u32 = 4;
const UNIT: i64 = 10_000;

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
    fn prints_at_least_cents_and_every_digit_it_has() {
        assert_eq!(money("10.5").to_string(), "10.50");
        assert_eq!(money("-5").to_string(), "-5.00");
        assert_eq!(money("0.1234").to_string(), "0.1234");
        assert_eq!(Money::ZERO.to_string(), "0.00");
    }
}
