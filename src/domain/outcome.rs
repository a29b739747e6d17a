//! How a delivery ended, as the write path answers it.

use serde::Serialize;

use crate::domain::words::text_enum;

text_enum! {
    /// How a delivery ended. Every one of them is answered with success: the data is safe.
    pub enum Outcome ("outcome") {
        Applied = "applied",
        Duplicate = "duplicate",
        Stale = "stale",
        Flagged = "flagged",
        Quarantined = "quarantined",
    }
}

/// What the store answers for one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stored {
    pub delivery_id: i64,
    pub outcome: Outcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_through_their_names() {
        for outcome in [
            Outcome::Applied,
            Outcome::Duplicate,
            Outcome::Stale,
            Outcome::Flagged,
            Outcome::Quarantined,
        ] {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
    }
}
