//! The time, injectable: what "now" is decides which actions show as approved (locked) and when
//! a postback was received, so tests pass a fixed clock instead of reading the system's.

use std::sync::Arc;

use chrono::{DateTime, Utc};

#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    pub fn system() -> Clock {
        Clock(Arc::new(Utc::now))
    }

    /// Always the same instant.
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock(Arc::new(move || at))
    }

    /// Whatever `now` answers, each time (tests move time forward with it).
    pub fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

/// Reads a duration as the configuration and the command line write it: `90d`, `12h`, `30m`,
/// `45s`.
pub fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` needs a unit: d, h, m or s (say 90d)"))?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a whole number (say 90d)"))?;
    match unit {
        "d" => Ok(chrono::Duration::days(number)),
        "h" => Ok(chrono::Duration::hours(number)),
        "m" => Ok(chrono::Duration::minutes(number)),
        "s" => Ok(chrono::Duration::seconds(number)),
        other => Err(format!(
            "unknown unit `{other}` in `{text}`: use d, h, m or s"
        )),
    }
}

/// Both backends keep microseconds: an instant is cut to them before it is stored or compared.
pub fn truncate_to_micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike;
    let micros = instant.timestamp_subsec_micros();
    instant.with_nanosecond(micros * 1_000).unwrap_or(instant)
}
