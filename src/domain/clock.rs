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

/// Both backends keep microseconds: an instant is cut to them before it is stored or compared.
pub fn truncate_to_micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike;
    let micros = instant.timestamp_subsec_micros();
    instant.with_nanosecond(micros * 1_000).unwrap_or(instant)
}
