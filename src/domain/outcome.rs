//! How a delivery ended, as the write path answers it.

use serde::Serialize;

/// How a delivery ended. Every one of them is answered with success: the data is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    Duplicate,
    Stale,
    Flagged,
    Quarantined,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Stale => "stale",
            Outcome::Flagged => "flagged",
            Outcome::Quarantined => "quarantined",
        }
    }

    pub fn parse(word: &str) -> Option<Outcome> {
        [
            Outcome::Applied,
            Outcome::Duplicate,
            Outcome::Stale,
            Outcome::Flagged,
            Outcome::Quarantined,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == word)
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
