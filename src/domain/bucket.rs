//! Finance's four states of an action, read at an instant.

use chrono::NaiveDateTime;

use crate::domain::event::ActionStatus;
use crate::domain::words::text_enum;

text_enum! {
    /// What finance calls an action's state: the stored status with locking and clearing applied
    /// at the time of reading. The four buckets do not overlap, so their totals add up.
    pub enum Bucket ("status") {
        /// Tracked, not reversed, its locking date not yet passed.
        Pending = "pending",
        /// Locked (or sent as approved) and not yet cleared.
        Approved = "approved",
        /// Paid out: a clearing named it (a `ClearedDate` alone is only the date it is
        /// scheduled to clear).
        Cleared = "cleared",
        Reversed = "reversed",
    }
}

/// The bucket of one action at `now`. The storage module says the same in SQL (the list's filter
/// and the overview's sums); a test over both backends checks that they agree.
pub fn bucket_of(
    status: ActionStatus,
    locking_date: Option<NaiveDateTime>,
    cleared_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Bucket {
    match status {
        ActionStatus::Reversed => Bucket::Reversed,
        _ if cleared_at.is_some() => Bucket::Cleared,
        ActionStatus::Approved => Bucket::Approved,
        ActionStatus::Pending if locking_date.is_some_and(|locking| locking <= now) => {
            Bucket::Approved
        }
        ActionStatus::Pending => Bucket::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn buckets_follow_reversal_then_clearing_then_locking() {
        let at = |day: u32| {
            NaiveDate::from_ymd_opt(2026, 4, day)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
        };
        let now = at(10);
        use ActionStatus::*;
        for (status, locking, cleared, expected) in [
            (Pending, None, None, Bucket::Pending),
            (Pending, Some(at(11)), None, Bucket::Pending),
            (Pending, Some(at(10)), None, Bucket::Approved),
            (Approved, None, None, Bucket::Approved),
            (Pending, Some(at(1)), Some(at(5)), Bucket::Cleared),
            (Pending, None, Some(at(5)), Bucket::Cleared),
            (Reversed, Some(at(1)), Some(at(5)), Bucket::Reversed),
        ] {
            assert_eq!(
                bucket_of(status, locking, cleared, now),
                expected,
                "{status:?} {locking:?} {cleared:?}"
            );
        }
    }
}
