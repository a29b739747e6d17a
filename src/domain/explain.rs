//! What each flag means and what a person should do about it, in words: one table per flag
//! kind, read by the pages (beside the flag) and the API (beside the codes).

use serde::Serialize;

use crate::domain::inquiry::{InquiryFlag, InquiryFlags};
use crate::domain::reconcile::{Flag, Flags};

/// A flag's code with its meaning and the next step, as shown beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FlagNote {
    pub flag: &'static str,
    pub meaning: &'static str,
    pub what_to_do: &'static str,
}

/// An action flag in words.
pub fn action_flag(flag: Flag) -> FlagNote {
    let (meaning, what_to_do) = match flag {
        Flag::Gap => (
            "An event of this action is missing, or one event's DeltaPayout does not match the payout before it: the history does not chain yet.",
            "Usually nothing: the missing event often arrives late and the flag clears. If it stays, compare the events below with the action in impact.com, or run a reconciliation to fill it from the network's records.",
        ),
        Flag::UnknownStatus => (
            "An event carried a status word this source's status map does not know; it was applied as pending.",
            "Add the word to the source's [statuses] in the configuration, then reprocess or wait for the next event.",
        ),
        Flag::AfterReversal => (
            "Events arrived after the reversal (a reinstatement, say); the reversal stands and no money moved for them.",
            "Check in impact.com whether the action was reinstated; if so, ask the brand to send a new action or an inquiry.",
        ),
        Flag::ChangedAfterLocking => (
            "A modification or reversal arrived after the locking date, when the action should have been final. It was applied.",
            "Check the change with the brand: after locking, a change is unusual and may be disputed.",
        ),
        Flag::ClearedNeverTracked => (
            "A clearing named this action id, but no lifecycle event for it has arrived: a placeholder with no money.",
            "Check that the action-lifecycle postback is set up for this brand; the flag clears when the action's event arrives. A reconciliation run can fill it from the network's records.",
        ),
        Flag::ClearedAfterReversal => (
            "A clearing named this action after it had been reversed.",
            "Ask the brand or impact.com which is right: a reversed action should not be paid.",
        ),
        Flag::ReversedAfterClearing => (
            "A reversal arrived after the action cleared: a clawback, booked in the month it arrived.",
            "Expect the clawback to be deducted from a later payout; mark it reviewed once finance has noted it.",
        ),
        Flag::ChangedAfterClearing => (
            "A modification arrived after the action cleared: a clawback or top-up, booked in the month it arrived.",
            "Expect the difference on a later payout; mark it reviewed once finance has noted it.",
        ),
        Flag::PayoutMissing => (
            "An event came without a readable payout: it was kept, but its money is not booked.",
            "Check that the postback template sends Payout (and DeltaPayout); reprocess the delivery once the mapping reads it.",
        ),
        Flag::CurrencyChanged => (
            "An event came in another currency than the action's: it was kept, but its money is not mixed into the action's.",
            "Check the currency with the brand; the action's figures stay in its first currency.",
        ),
    };
    FlagNote {
        flag: flag.as_str(),
        meaning,
        what_to_do,
    }
}

/// An inquiry flag in words.
pub fn inquiry_flag(flag: InquiryFlag) -> FlagNote {
    let (meaning, what_to_do) = match flag {
        InquiryFlag::UnknownStatus => (
            "A resolution word this source's status map does not know; the inquiry is shown as pending.",
            "Add the word to the source's [statuses] in the configuration.",
        ),
        InquiryFlag::ConflictingResolutions => (
            "Decisions disagree (declined, then approved, say): the latest is shown.",
            "Check the inquiry in impact.com to see which decision stands.",
        ),
    };
    FlagNote {
        flag: flag.as_str(),
        meaning,
        what_to_do,
    }
}

/// The notes of an action's flags, in their order.
pub fn action_flags(flags: &Flags) -> Vec<FlagNote> {
    flags.iter().map(action_flag).collect()
}

/// The notes of an inquiry's flags, in their order.
pub fn inquiry_flags(flags: &InquiryFlags) -> Vec<FlagNote> {
    flags.iter().map(inquiry_flag).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_has_words_and_a_next_step() {
        for word in [
            "gap",
            "unknown_status",
            "after_reversal",
            "changed_after_locking",
            "cleared_never_tracked",
            "cleared_after_reversal",
            "reversed_after_clearing",
            "changed_after_clearing",
            "payout_missing",
            "currency_changed",
        ] {
            let note = action_flag(Flag::parse(word).expect(word));
            assert_eq!(note.flag, word);
            assert!(
                note.meaning.len() > 20 && note.what_to_do.len() > 20,
                "{word}"
            );
        }
        for word in ["unknown_status", "conflicting_resolutions"] {
            let note = inquiry_flag(InquiryFlag::parse(word).expect(word));
            assert!(
                note.meaning.len() > 20 && note.what_to_do.len() > 20,
                "{word}"
            );
        }
        let notes = action_flags(&Flags::from([Flag::Gap, Flag::PayoutMissing]));
        assert_eq!(notes.len(), 2);
    }
}
