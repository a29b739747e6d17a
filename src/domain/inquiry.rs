//! The inquiry rule: an inquiry's state as a function of the set of its distinct events, never of
//! their arrival order. Pure: no storage, no HTTP.
//!
//! A decision (approved, declined, incomplete) outranks an open status, so a late "created"
//! retry never reopens a decided inquiry. Among events of the same rank the latest
//! `ResolutionDate` wins, then the latest arrival. A field the winner leaves empty is taken from
//! the next event in that order that has it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::domain::event::InquiryStatus;
use crate::domain::money::Money;
use crate::domain::words::{FlagSet, text_enum};

/// One distinct event of an inquiry as stored. `seq` orders arrivals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordedInquiryEvent {
    pub seq: i64,
    /// None: no status sent, or a word the status map does not know (`status_raw` says which).
    pub status: Option<InquiryStatus>,
    pub status_raw: Option<String>,
    pub final_payout: Option<Money>,
    pub reject_reason: Option<String>,
    pub resolution_notes: Option<String>,
    pub comments: Option<String>,
    pub resolution_date: Option<DateTime<Utc>>,
}

text_enum! {
    /// Reasons an inquiry needs a person's look.
    pub enum InquiryFlag ("inquiry flag") {
        /// A resolution word the source's status map does not know.
        UnknownStatus = "unknown_status",
        /// Decisions that disagree (say declined, then approved): the latest is shown.
        ConflictingResolutions = "conflicting_resolutions",
    }
}

/// An inquiry's flags, stored as their words joined by commas.
pub type InquiryFlags = FlagSet<InquiryFlag>;

/// What an inquiry is, given every distinct event received for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InquiryPosition {
    pub status: InquiryStatus,
    pub status_raw: Option<String>,
    pub final_payout: Option<Money>,
    pub reject_reason: Option<String>,
    pub resolution_notes: Option<String>,
    pub comments: Option<String>,
    pub flags: InquiryFlags,
}

fn rank(event: &RecordedInquiryEvent) -> (bool, Option<DateTime<Utc>>, i64) {
    (
        event.status.is_some_and(InquiryStatus::is_resolved),
        event.resolution_date,
        event.seq,
    )
}

/// The state implied by a non-empty set of distinct events.
pub fn position(events: &[RecordedInquiryEvent]) -> InquiryPosition {
    let mut ordered: Vec<&RecordedInquiryEvent> = events.iter().collect();
    ordered.sort_by_key(|event| std::cmp::Reverse(rank(event)));
    fn first<T: Clone>(
        ordered: &[&RecordedInquiryEvent],
        field: impl Fn(&RecordedInquiryEvent) -> Option<T>,
    ) -> Option<T> {
        ordered.iter().find_map(|event| field(event))
    }
    let mut flags = InquiryFlags::new();
    if events
        .iter()
        .any(|event| event.status.is_none() && event.status_raw.is_some())
    {
        flags.insert(InquiryFlag::UnknownStatus);
    }
    let decisions: BTreeSet<InquiryStatus> = events
        .iter()
        .filter_map(|event| event.status)
        .filter(|status| status.is_resolved())
        .collect();
    if decisions.len() > 1 {
        flags.insert(InquiryFlag::ConflictingResolutions);
    }
    InquiryPosition {
        status: first(&ordered, |event| event.status).unwrap_or(InquiryStatus::Pending),
        status_raw: first(&ordered, |event| event.status_raw.clone()),
        final_payout: first(&ordered, |event| event.final_payout),
        reject_reason: first(&ordered, |event| event.reject_reason.clone()),
        resolution_notes: first(&ordered, |event| event.resolution_notes.clone()),
        comments: first(&ordered, |event| event.comments.clone()),
        flags,
    }
}

/// What one arrival did to its inquiry, as for actions: `Flagged` when it brought a new flag,
/// `Stale` when the state is what it was.
pub fn effect(
    before: Option<&InquiryPosition>,
    after: &InquiryPosition,
) -> crate::domain::reconcile::Effect {
    use crate::domain::reconcile::Effect;
    match before {
        None if after.flags.is_empty() => Effect::Applied,
        None => Effect::Flagged,
        Some(before) if !after.flags.is_subset(&before.flags) => Effect::Flagged,
        Some(before) if before == after => Effect::Stale,
        Some(_) => Effect::Applied,
    }
}

text_enum! {
    /// How an approved inquiry's money stands: expected until a tracked action for it exists.
    pub enum Credit ("credit") {
        AwaitingCredit = "awaiting_credit",
        Credited = "credited",
    }
}

/// None unless the inquiry is approved; then credited once its linked action has been tracked.
pub fn credit(status: InquiryStatus, linked_action_tracked: bool) -> Option<Credit> {
    (status == InquiryStatus::Approved).then_some(if linked_action_tracked {
        Credit::Credited
    } else {
        Credit::AwaitingCredit
    })
}

/// A list's `status` choice: pending, approved, declined, incomplete, or all (also when empty
/// or absent), which is None. Anything else is an error naming the word.
pub fn status_filter(word: Option<&str>) -> Result<Option<InquiryStatus>, String> {
    match word.map(str::trim) {
        None | Some("all") | Some("") => Ok(None),
        Some(word) => InquiryStatus::parse_loose(word).map(Some).ok_or_else(|| {
            format!("status must be pending, approved, declined, incomplete or all, not `{word}`")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reconcile::Effect;
    use InquiryStatus::*;

    fn event(seq: i64, status: InquiryStatus, payout: Option<&str>) -> RecordedInquiryEvent {
        RecordedInquiryEvent {
            seq,
            status: Some(status),
            status_raw: Some(status.as_str().to_ascii_uppercase()),
            final_payout: payout.map(|payout| payout.parse().unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn a_decision_outranks_a_late_open_event_in_any_order() {
        let created = event(1, Pending, Some("0"));
        let mut approved = event(2, Approved, Some("25"));
        approved.resolution_notes = Some("receipt checked".into());
        let in_order = position(&[created.clone(), approved.clone()]);
        let created_late = RecordedInquiryEvent {
            seq: 3,
            ..created.clone()
        };
        let approved_first = RecordedInquiryEvent {
            seq: 1,
            ..approved.clone()
        };
        let reversed = position(&[approved_first, created_late]);
        assert_eq!(in_order, reversed);
        assert_eq!(in_order.status, Approved);
        assert_eq!(in_order.final_payout, Some("25".parse().unwrap()));
        assert_eq!(
            in_order.resolution_notes.as_deref(),
            Some("receipt checked")
        );
        assert!(in_order.flags.is_empty());
    }

    #[test]
    fn the_late_open_event_is_stale_and_a_new_decision_applies() {
        let created = event(1, Pending, None);
        let declined = event(2, Declined, None);
        let first = position(std::slice::from_ref(&declined));
        let second = position(&[declined.clone(), created.clone()]);
        assert_eq!(effect(Some(&first), &second), Effect::Stale);
        let only_created = position(std::slice::from_ref(&created));
        assert_eq!(effect(None, &only_created), Effect::Applied);
        assert_eq!(effect(Some(&only_created), &second), Effect::Applied);
    }

    #[test]
    fn disagreeing_decisions_and_unknown_words_are_flagged() {
        let mut approved = event(2, Approved, Some("25"));
        approved.resolution_date = "2026-05-02T00:00:00Z".parse().ok();
        let mut declined = event(3, Declined, None);
        declined.resolution_date = "2026-05-01T00:00:00Z".parse().ok();
        let both = position(&[approved, declined]);
        assert_eq!(both.status, Approved, "the latest resolution date wins");
        assert!(both.flags.contains(&InquiryFlag::ConflictingResolutions));
        let odd = RecordedInquiryEvent {
            seq: 1,
            status: None,
            status_raw: Some("ESCALATED".into()),
            ..Default::default()
        };
        let odd = position(&[odd]);
        assert_eq!(odd.status, Pending);
        assert_eq!(odd.status_raw.as_deref(), Some("ESCALATED"));
        assert_eq!(effect(None, &odd), Effect::Flagged);
        assert_eq!(
            InquiryFlags::from_text(&odd.flags.to_string()),
            Ok(odd.flags)
        );
    }

    #[test]
    fn only_an_approved_inquiry_awaits_credit() {
        assert_eq!(credit(Approved, false), Some(Credit::AwaitingCredit));
        assert_eq!(credit(Approved, true), Some(Credit::Credited));
        assert_eq!(credit(Declined, true), None);
        assert_eq!(credit(Pending, false), None);
    }

    #[test]
    fn a_status_filter_is_a_known_word_or_all() {
        assert_eq!(status_filter(None), Ok(None));
        assert_eq!(status_filter(Some("all")), Ok(None));
        assert_eq!(status_filter(Some("")), Ok(None));
        assert_eq!(status_filter(Some("declined")), Ok(Some(Declined)));
        assert!(status_filter(Some("open")).unwrap_err().contains("`open`"));
    }
}
