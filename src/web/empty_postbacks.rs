//! Empty postbacks, a setup error: impact.com sends what the template pasted into it names, so
//! a URL without `{Placeholders}` makes every postback empty. Each is answered 200 (impact.com
//! would otherwise retry an empty request for 31 hours) and quarantined with the setup reason;
//! the first of each source is logged at warning level, and each is its own delivery (not a
//! `duplicate` of the first), up to a bound per source.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use actix_web::web;

use crate::domain::event::{EMPTY_POSTBACK_REASON, Quarantine};
use crate::intake::delivery::IncomingDelivery;
use crate::storage::activity;
use crate::web::startup::AppState;

/// Empty postbacks kept as rows of their own per source; beyond it they are counted as repeats
/// of one row, so a misconfigured high-volume partner cannot fill the disk.
pub const EMPTY_ROWS_PER_SOURCE: i64 = 1_000;

/// Per source: whether it was warned about, and how many empty rows it has.
pub struct EmptyPostbacks {
    bound: i64,
    warned: Mutex<HashSet<String>>,
    /// Read from the database on a source's first empty postback, then counted here.
    rows: Mutex<HashMap<String, i64>>,
}

impl Default for EmptyPostbacks {
    fn default() -> Self {
        EmptyPostbacks::with_bound(EMPTY_ROWS_PER_SOURCE)
    }
}

impl EmptyPostbacks {
    pub fn with_bound(bound: i64) -> Self {
        EmptyPostbacks {
            bound,
            warned: Mutex::new(HashSet::new()),
            rows: Mutex::new(HashMap::new()),
        }
    }

    /// True the first time `source` is named.
    fn first_for(&self, source: &str) -> bool {
        self.warned
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(source.to_owned())
    }

    fn known_rows(&self, source: &str) -> Option<i64> {
        self.rows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(source)
            .copied()
    }

    /// Counts one more empty row for `source` (starting from `stored` when it is not known yet)
    /// if the bound allows: true when the delivery gets a row of its own.
    fn admit(&self, source: &str, stored: i64) -> bool {
        let mut rows = self
            .rows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = rows.entry(source.to_owned()).or_insert(stored);
        if *count < self.bound {
            *count += 1;
            true
        } else {
            false
        }
    }
}

/// Called by the postback route for every understood delivery; does nothing unless it is empty.
pub async fn note(state: &AppState, delivery: &mut IncomingDelivery) {
    if !matches!(delivery.understood, Err(Quarantine::EmptyPostback)) {
        return;
    }
    let empty = &state.empty_postbacks;
    if empty.first_for(&delivery.source) {
        tracing::warn!(
            source = %delivery.source,
            "empty postback: the template pasted into impact.com has no {{Placeholders}}; the dashboard's /setup page (or `postback-ledger setup`) shows what to paste"
        );
    }
    if !delivery.carries_no_value() {
        return;
    }
    let stored = match empty.known_rows(&delivery.source) {
        Some(known) => known,
        None => {
            let (db, source) = (state.db.clone(), delivery.source.clone());
            web::block(move || {
                activity::quarantined_with_reason(
                    &mut *db.conn()?,
                    EMPTY_POSTBACK_REASON,
                    Some(&source),
                    false,
                )
                .map_err(crate::storage::StorageError::from)
            })
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(0)
        }
    };
    if empty.admit(&delivery.source, stored) {
        delivery.make_distinct(&hex::encode(rand::random::<[u8; 16]>()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_source_is_warned_about_once_and_kept_apart_up_to_the_bound() {
        let empty = EmptyPostbacks::with_bound(3);
        assert!(empty.first_for("actions"));
        assert!(!empty.first_for("actions"));
        assert!(empty.first_for("inquiries"));
        assert_eq!(empty.known_rows("actions"), None);
        // One stored before this process started: two more fit.
        assert!(empty.admit("actions", 1));
        assert!(
            empty.admit("actions", 99),
            "the stored count is read only once"
        );
        assert!(!empty.admit("actions", 0));
        assert_eq!(empty.known_rows("actions"), Some(3));
        assert!(empty.admit("inquiries", 0));
    }
}
