//! The list filter's brand and currency choices, read at most once a minute per server. Reading
//! them is a `DISTINCT` over every action, which cost each list page more than the rest of it
//! together on a large ledger; a brand first seen within the minute can still be typed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::storage::actions::Brand;

/// How long a read of the choices is shown before it is read again.
pub const FRESH_FOR: Duration = Duration::from_secs(60);

pub type Choices = (Vec<Brand>, Vec<String>);

#[derive(Default)]
pub struct FilterChoices {
    last: Mutex<Option<(Instant, Choices)>>,
}

impl FilterChoices {
    /// The choices read within `FRESH_FOR` before `now`, else `read`'s (kept when it succeeds).
    pub fn get<E>(
        &self,
        now: Instant,
        read: impl FnOnce() -> Result<Choices, E>,
    ) -> Result<Choices, E> {
        if let Some((at, choices)) = &*self.last.lock().unwrap_or_else(|p| p.into_inner())
            && now.saturating_duration_since(*at) < FRESH_FOR
        {
            return Ok(choices.clone());
        }
        let choices = read()?;
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, choices.clone()));
        Ok(choices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(currency: &str) -> Result<Choices, ()> {
        Ok((Vec::new(), vec![currency.to_owned()]))
    }

    #[test]
    fn the_choices_are_read_again_only_after_a_minute_or_a_failed_read() {
        let choices = FilterChoices::default();
        let start = Instant::now();
        assert!(choices.get(start, || Err::<Choices, _>(())).is_err());
        assert_eq!(choices.get(start, || read("USD")).unwrap().1, ["USD"]);
        let soon = start + FRESH_FOR - Duration::from_secs(1);
        assert_eq!(choices.get(soon, || read("EUR")).unwrap().1, ["USD"]);
        let later = start + FRESH_FOR;
        assert_eq!(choices.get(later, || read("EUR")).unwrap().1, ["EUR"]);
    }
}
