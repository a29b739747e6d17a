//! The deliveries log's query (outcome, source, dismissed, an id searched for, `before` cursor,
//! page size): parsed, pure.

use serde::{Deserialize, Serialize};

use crate::domain::outcome::Outcome;

/// The query string as sent; shared by `/deliveries` and `/api/deliveries`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LogQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `hide`, `only` or `include` the quarantined deliveries a person dismissed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dismissed: Option<String>,
    /// An exact id: a delivery id, an action or inquiry id, or an order id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Show deliveries older than this id (the previous page's last).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// The outcomes a delivery can end with, for the filter's choices.
pub const OUTCOMES: [&str; 5] = ["applied", "duplicate", "stale", "flagged", "quarantined"];

/// The largest page anyone may ask for.
pub const MAX_LIMIT: i64 = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter {
    pub outcome: Option<&'static str>,
    pub source: Option<String>,
    /// None: dismissed or not; Some(false): not dismissed; Some(true): dismissed only.
    pub dismissed: Option<bool>,
    pub q: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

impl LogFilter {
    /// Empty values mean "any" (what a form sends for an unset field); anything else must be
    /// understood, so a typo is an error instead of a silently unfiltered list.
    pub fn parse(query: &LogQuery, default_limit: i64) -> Result<LogFilter, String> {
        let given = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let outcome = match given(&query.outcome) {
            None => None,
            Some(word) if word == "all" => None,
            Some(word) => Some(Outcome::parse(&word).map(Outcome::as_str).ok_or_else(|| {
                format!(
                    "outcome must be one of {} or all, not `{word}`",
                    OUTCOMES.join(", ")
                )
            })?),
        };
        let before =
            match given(&query.before) {
                None => None,
                Some(text) => Some(text.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(
                    || {
                        format!(
                            "before must be a delivery id (a positive whole number), not `{text}`"
                        )
                    },
                )?),
            };
        let limit = match given(&query.limit) {
            None => default_limit,
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                .ok_or_else(|| {
                    format!("limit must be a whole number from 1 to {MAX_LIMIT}, not `{text}`")
                })?,
        };
        // What needs attention is the quarantined nobody dismissed: that list hides them unless
        // asked; every other list shows them.
        let dismissed = match given(&query.dismissed).as_deref() {
            None if outcome == Some("quarantined") => Some(false),
            None | Some("include") => None,
            Some("hide") => Some(false),
            Some("only") => Some(true),
            Some(word) => {
                return Err(format!(
                    "dismissed must be hide, only or include, not `{word}`"
                ));
            }
        };
        Ok(LogFilter {
            outcome,
            source: given(&query.source),
            dismissed,
            q: given(&query.q),
            before,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(outcome: &str, source: &str, before: &str, limit: &str) -> LogQuery {
        let some = |text: &str| Some(text.to_owned());
        LogQuery {
            outcome: some(outcome),
            source: some(source),
            dismissed: None,
            q: None,
            before: some(before),
            limit: some(limit),
        }
    }

    #[test]
    fn empty_values_mean_any_and_the_default_page() {
        let filter = LogFilter::parse(&query("", " ", "", ""), 50).unwrap();
        assert_eq!(
            filter,
            LogFilter {
                outcome: None,
                source: None,
                dismissed: None,
                q: None,
                before: None,
                limit: 50
            }
        );
        assert_eq!(LogFilter::parse(&LogQuery::default(), 7).unwrap().limit, 7);
        assert_eq!(
            LogFilter::parse(&query("all", "", "", ""), 50)
                .unwrap()
                .outcome,
            None
        );
    }

    #[test]
    fn values_are_read() {
        let filter = LogFilter::parse(&query("quarantined", "actions", "42", "10"), 50).unwrap();
        assert_eq!(filter.outcome, Some("quarantined"));
        assert_eq!(filter.source.as_deref(), Some("actions"));
        assert_eq!(filter.before, Some(42));
        assert_eq!(filter.limit, 10);
        assert_eq!(
            filter.dismissed,
            Some(false),
            "quarantined: the dismissed are hidden"
        );
        let mut asked = query("quarantined", "", "", "");
        asked.dismissed = Some("include".to_owned());
        asked.q = Some(" ACT-1 ".to_owned());
        let filter = LogFilter::parse(&asked, 50).unwrap();
        assert_eq!(
            (filter.dismissed, filter.q.as_deref()),
            (None, Some("ACT-1"))
        );
        asked.dismissed = Some("only".to_owned());
        assert_eq!(LogFilter::parse(&asked, 50).unwrap().dismissed, Some(true));
        asked.dismissed = Some("maybe".to_owned());
        assert!(
            LogFilter::parse(&asked, 50)
                .unwrap_err()
                .contains("`maybe`")
        );
    }

    #[test]
    fn what_is_not_understood_is_named() {
        let error = LogFilter::parse(&query("aplied", "", "", ""), 50).unwrap_err();
        assert!(error.contains("`aplied`"), "{error}");
        let error = LogFilter::parse(&query("", "", "x1", ""), 50).unwrap_err();
        assert!(
            error.contains("before") && error.contains("`x1`"),
            "{error}"
        );
        assert!(LogFilter::parse(&query("", "", "0", ""), 50).is_err());
        assert!(LogFilter::parse(&query("", "", "", "0"), 50).is_err());
        assert!(LogFilter::parse(&query("", "", "", "501"), 50).is_err());
    }
}
