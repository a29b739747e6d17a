//! The ledger rule: an action's state as a function of the set of its distinct events, and the
//! entries an arrival appends. Pure: no storage, no HTTP.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::event::ActionStatus;
use crate::domain::money::Money;
use crate::domain::words::{FlagSet, text_enum};

/// One distinct event of an action as the ledger remembers it. `seq` orders arrivals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub seq: i64,
    pub status: ActionStatus,
    pub unknown_status: bool,
    pub payout: Option<Money>,
    pub delta_payout: Option<Money>,
    pub amount: Option<Money>,
    pub delta_amount: Option<Money>,
}

text_enum! {
    /// Reasons an action needs a person's look. Derived from the set of events, never stored
    /// apart.
    pub enum Flag ("flag") {
        /// The DeltaPayout links do not chain yet: an event is missing or a delta disagrees.
        Gap = "gap",
        /// A status word the source's status map does not know.
        UnknownStatus = "unknown_status",
        /// Events after the reversal do not end at zero (say, a reinstatement): no money moved.
        AfterReversal = "after_reversal",
        /// A modification or reversal received after the action's locking date: applied, but
        /// the brand changed an action that should have been final.
        ChangedAfterLocking = "changed_after_locking",
        /// A clearing named this action id but no lifecycle event for it has arrived: a
        /// placeholder with no money, so finance sees what the receiver missed.
        ClearedNeverTracked = "cleared_never_tracked",
        /// A clearing named an action that is reversed.
        ClearedAfterReversal = "cleared_after_reversal",
    }
}

/// An action's flags, stored as their words joined by commas.
pub type Flags = FlagSet<Flag>;

/// What an action is, given every distinct event received for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub status: ActionStatus,
    pub payout: Money,
    pub amount: Money,
    pub flags: Flags,
}

text_enum! {
    /// Why a ledger entry moved money.
    pub enum EntryKind ("entry kind") {
        Tracked = "tracked",
        Modified = "modified",
        Reversed = "reversed",
    }
}

/// A ledger entry still to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryDraft {
    pub kind: EntryKind,
    pub payout_delta: Money,
    pub amount_delta: Money,
}

/// What one arrival did to its action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Money or status changed.
    Applied,
    /// Nothing changed: an older event, or one the state already reflects.
    Stale,
    /// Applied, and the action now needs review for a reason it did not have before.
    Flagged,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    pub position: Position,
    pub entries: Vec<EntryDraft>,
    pub effect: Effect,
}

/// One money series (payout or amount) of an event: its value and its delta.
#[derive(Clone, Copy)]
struct Reading {
    value: Option<Money>,
    delta: Option<Money>,
    reversal: bool,
}

/// The value that the links `value - delta -> value` lead to, and whether they chain completely.
/// Every history starts at 0, so 0 starts with a balance of +1; a complete history leaves exactly
/// one value at +1 and all others at 0. Without any delta, the last arrival decides.
fn current_value(readings: &[Reading]) -> (Money, bool) {
    let linked: Vec<(Money, Money)> = readings
        .iter()
        .filter(|reading| !reading.reversal)
        .filter_map(|reading| link(reading.value?, reading.delta?))
        .collect();
    if linked.is_empty() {
        let last = readings
            .iter()
            .rev()
            .filter(|reading| !reading.reversal)
            .find_map(|reading| reading.value);
        return (last.unwrap_or(Money::ZERO), true);
    }
    let balance = balances(&linked);
    let heads: Vec<Money> = balance
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(value, _)| *value)
        .collect();
    let complete = is_complete(&balance);
    if heads.len() == 1 {
        return (heads[0], complete);
    }
    // Incomplete: the candidate that arrived last.
    let latest = readings
        .iter()
        .rev()
        .filter(|reading| !reading.reversal)
        .filter_map(|reading| reading.value)
        .find(|value| heads.contains(value));
    let fallback = readings.iter().rev().find_map(|reading| reading.value);
    (latest.or(fallback).unwrap_or(Money::ZERO), false)
}

fn link(value: Money, delta: Money) -> Option<(Money, Money)> {
    Some((value.checked_sub(delta)?, value))
}

fn balances(links: &[(Money, Money)]) -> BTreeMap<Money, i64> {
    let mut balance = BTreeMap::from([(Money::ZERO, 1i64)]);
    for (previous, next) in links {
        *balance.entry(*next).or_default() += 1;
        *balance.entry(*previous).or_default() -= 1;
    }
    balance
}

fn is_complete(balance: &BTreeMap<Money, i64>) -> bool {
    let mut heads = balance.values().filter(|count| **count != 0);
    matches!((heads.next(), heads.next()), (Some(1), None))
}

/// For a reversed action: do all links, the reversal's `-delta -> 0` included, end at 0?
/// None when that cannot be told yet (no delta on the reversal, or the history is incomplete).
fn ends_at_zero(readings: &[Reading]) -> Option<bool> {
    let mut links = Vec::new();
    for reading in readings {
        if reading.reversal {
            links.push((Money::ZERO.checked_sub(reading.delta?)?, Money::ZERO));
        } else if let (Some(value), Some(delta)) = (reading.value, reading.delta) {
            links.extend(link(value, delta));
        }
    }
    let balance = balances(&links);
    if !is_complete(&balance) {
        return None;
    }
    Some(balance.get(&Money::ZERO) == Some(&1))
}

fn readings(
    events: &[RecordedEvent],
    series: fn(&RecordedEvent) -> (Option<Money>, Option<Money>),
) -> Vec<Reading> {
    events
        .iter()
        .map(|event| {
            let (value, delta) = series(event);
            Reading {
                value,
                delta,
                reversal: event.status == ActionStatus::Reversed,
            }
        })
        .collect()
}

fn payout_series(event: &RecordedEvent) -> (Option<Money>, Option<Money>) {
    (event.payout, event.delta_payout)
}

fn amount_series(event: &RecordedEvent) -> (Option<Money>, Option<Money>) {
    (event.amount, event.delta_amount)
}

/// The state implied by a set of distinct events, given in arrival order. Reversed is terminal:
/// payout and amount are 0 once any reversal is in the set.
pub fn position(events: &[RecordedEvent]) -> Position {
    let payouts = readings(events, payout_series);
    let amounts = readings(events, amount_series);
    let reversed = events
        .iter()
        .any(|event| event.status == ActionStatus::Reversed);
    let mut flags = Flags::new();
    if events.iter().any(|event| event.unknown_status) {
        flags.insert(Flag::UnknownStatus);
    }
    let (payout, amount) = if reversed {
        match ends_at_zero(&payouts) {
            Some(false) => {
                flags.insert(Flag::AfterReversal);
            }
            None if payouts.iter().any(|reading| reading.delta.is_some()) => {
                flags.insert(Flag::Gap);
            }
            _ => {}
        }
        (Money::ZERO, Money::ZERO)
    } else {
        let (payout, payout_complete) = current_value(&payouts);
        let (amount, amount_complete) = current_value(&amounts);
        if !payout_complete || !amount_complete {
            flags.insert(Flag::Gap);
        }
        (payout, amount)
    };
    let status = if reversed {
        ActionStatus::Reversed
    } else if events
        .iter()
        .any(|event| event.status == ActionStatus::Approved)
    {
        ActionStatus::Approved
    } else {
        ActionStatus::Pending
    };
    Position {
        status,
        payout,
        amount,
        flags,
    }
}

/// What the arrival of the last event in `events` does to an action that was at `before`
/// (None: the action is new). `events` is the whole distinct set in arrival order.
pub fn reconcile(before: Option<&Position>, events: &[RecordedEvent]) -> Reconciled {
    let after = position(events);
    let entries = match before {
        None if after.status == ActionStatus::Reversed => {
            // First seen already reversed: show the amount that was reversed, in and out.
            let reversal = events
                .iter()
                .rev()
                .find(|event| event.status == ActionStatus::Reversed);
            let reversed_amount = |value: Option<Money>, delta: Option<Money>| {
                delta.map(|delta| -delta).or(value).unwrap_or(Money::ZERO)
            };
            let (payout, amount) = reversal
                .map(|event| {
                    (
                        reversed_amount(event.payout, event.delta_payout),
                        reversed_amount(event.amount, event.delta_amount),
                    )
                })
                .unwrap_or_default();
            vec![
                EntryDraft {
                    kind: EntryKind::Tracked,
                    payout_delta: payout,
                    amount_delta: amount,
                },
                EntryDraft {
                    kind: EntryKind::Reversed,
                    payout_delta: -payout,
                    amount_delta: -amount,
                },
            ]
        }
        None => vec![EntryDraft {
            kind: EntryKind::Tracked,
            payout_delta: after.payout,
            amount_delta: after.amount,
        }],
        Some(before) => {
            let payout_delta = difference(after.payout, before.payout);
            let amount_delta = difference(after.amount, before.amount);
            if payout_delta.is_zero() && amount_delta.is_zero() {
                Vec::new()
            } else {
                let kind = if after.status == ActionStatus::Reversed
                    && before.status != ActionStatus::Reversed
                {
                    EntryKind::Reversed
                } else {
                    EntryKind::Modified
                };
                vec![EntryDraft {
                    kind,
                    payout_delta,
                    amount_delta,
                }]
            }
        }
    };
    let new_flag = match before {
        None => !after.flags.is_empty(),
        Some(before) => !after.flags.is_subset(&before.flags),
    };
    let changed = before.is_none_or(|before| !entries.is_empty() || before.status != after.status);
    let effect = if new_flag {
        Effect::Flagged
    } else if changed {
        Effect::Applied
    } else {
        Effect::Stale
    };
    Reconciled {
        position: after,
        entries,
        effect,
    }
}

/// What an action is besides its events: when it locks, when each event arrived (parallel to the
/// events) and whether a clearing named it. Still facts of the set, so flags stay order-free.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub locking_date: Option<DateTime<Utc>>,
    pub received_at: Vec<DateTime<Utc>>,
    pub cleared: bool,
}

/// Is the event at `index` a change (modification or reversal) rather than the tracking event?
/// A reversal is; an event with a delta is unless its link starts at 0; without a delta, an event
/// whose payout differs from one received before it is.
fn is_change(events: &[RecordedEvent], context: &Context, index: usize) -> bool {
    let event = &events[index];
    if event.status == ActionStatus::Reversed {
        return true;
    }
    match (event.payout, event.delta_payout) {
        (Some(payout), Some(delta)) => payout != delta,
        (payout, None) => {
            let at = context.received_at.get(index);
            events.iter().enumerate().any(|(other, earlier)| {
                other != index
                    && context.received_at.get(other) < at
                    && earlier.payout.is_some()
                    && earlier.payout != payout
            })
        }
        (None, Some(_)) => false,
    }
}

/// The flags the context adds to those of the events.
pub fn context_flags(events: &[RecordedEvent], context: &Context) -> Flags {
    let mut flags = Flags::new();
    if events.is_empty() {
        if context.cleared {
            flags.insert(Flag::ClearedNeverTracked);
        }
        return flags;
    }
    if let Some(locking) = context.locking_date
        && (0..events.len()).any(|index| {
            context
                .received_at
                .get(index)
                .is_some_and(|received| *received > locking)
                && is_change(events, context, index)
        })
    {
        flags.insert(Flag::ChangedAfterLocking);
    }
    if context.cleared
        && events
            .iter()
            .any(|event| event.status == ActionStatus::Reversed)
    {
        flags.insert(Flag::ClearedAfterReversal);
    }
    flags
}

/// `reconcile` with the context's flags added; an arrival that brings one is `Flagged`.
pub fn reconcile_in(
    before: Option<&Position>,
    events: &[RecordedEvent],
    context: &Context,
) -> Reconciled {
    let mut reconciled = reconcile(before, events);
    let extra = context_flags(events, context);
    if extra.is_empty() {
        return reconciled;
    }
    reconciled.position.flags.extend(extra);
    let new_flag = match before {
        None => true,
        Some(before) => !reconciled.position.flags.is_subset(&before.flags),
    };
    if new_flag {
        reconciled.effect = Effect::Flagged;
    }
    reconciled
}

/// Approved (locked): a pending or approved action whose locking date has passed at `now`.
/// Derived when read, never written as a ledger entry: no postback says an action locked.
pub fn is_locked(
    status: ActionStatus,
    locking_date: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    status != ActionStatus::Reversed && locking_date.is_some_and(|locking| locking <= now)
}

/// Payouts are bounded far below i64::MAX in ten-thousandths, so this cannot overflow for any
/// value Money parsing accepts from two operands of the same action.
fn difference(after: Money, before: Money) -> Money {
    after.checked_sub(before).unwrap_or(Money::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn money(units: i64) -> Money {
        Money::from_minor_units(units * 100)
    }

    fn event(seq: i64, status: ActionStatus, payout: i64, delta: Option<i64>) -> RecordedEvent {
        RecordedEvent {
            seq,
            status,
            unknown_status: false,
            payout: Some(money(payout)),
            delta_payout: delta.map(money),
            amount: None,
            delta_amount: None,
        }
    }

    /// Applies events one arrival at a time, as the store does, returning the final position
    /// and the sum of every entry appended on the way.
    fn deliver(events: &[RecordedEvent]) -> (Position, Money, Vec<EntryDraft>) {
        let mut seen: Vec<RecordedEvent> = Vec::new();
        let mut before: Option<Position> = None;
        let mut entries = Vec::new();
        for event in events {
            if seen.iter().any(|known| {
                known.payout == event.payout
                    && known.delta_payout == event.delta_payout
                    && known.status == event.status
            }) {
                continue; // the inbox's dedup key drops exact repeats
            }
            seen.push(event.clone());
            let reconciled = reconcile(before.as_ref(), &seen);
            entries.extend(reconciled.entries.iter().copied());
            before = Some(reconciled.position);
        }
        let sum = entries.iter().fold(Money::ZERO, |sum, entry| {
            sum.checked_add(entry.payout_delta).unwrap()
        });
        (before.unwrap(), sum, entries)
    }

    use ActionStatus::*;

    #[test]
    fn tracked_then_modified_then_reversed_ends_at_zero_with_three_entries() {
        let history = [
            event(1, Pending, 15, Some(15)),
            event(2, Pending, 10, Some(-5)),
            event(3, Reversed, 0, Some(-10)),
        ];
        let (position, sum, entries) = deliver(&history);
        assert_eq!(position.status, Reversed);
        assert_eq!(sum, Money::ZERO);
        let kinds: Vec<_> = entries
            .iter()
            .map(|entry| (entry.kind, entry.payout_delta))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (EntryKind::Tracked, money(15)),
                (EntryKind::Modified, money(-5)),
                (EntryKind::Reversed, money(-10))
            ]
        );
        assert!(position.flags.is_empty());
    }

    #[test]
    fn a_reversal_seen_first_records_the_reversed_amount_in_and_out() {
        let (position, sum, entries) = deliver(&[event(1, Reversed, 0, Some(-12))]);
        assert_eq!(position.payout, Money::ZERO);
        assert_eq!(sum, Money::ZERO);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].payout_delta, money(12));
        assert!(
            position.flags.contains(&Flag::Gap),
            "the tracked event is still missing"
        );
        // Reported the other way: the payout is the amount reversed, no delta.
        let (_, _, entries) = deliver(&[event(1, Reversed, 7, None)]);
        assert_eq!(entries[0].payout_delta, money(7));
    }

    #[test]
    fn a_modification_before_its_tracking_event_is_flagged_until_the_gap_closes() {
        let modified = event(1, Pending, 5, Some(-5));
        let first = reconcile(None, std::slice::from_ref(&modified));
        assert_eq!(first.effect, Effect::Flagged);
        assert_eq!(first.position.payout, money(5));
        let second = reconcile(
            Some(&first.position),
            &[modified, event(2, Pending, 10, Some(10))],
        );
        assert_eq!(second.effect, Effect::Stale);
        assert_eq!(second.position.payout, money(5));
        assert!(second.position.flags.is_empty());
    }

    #[test]
    fn repeated_values_and_a_drop_to_zero_are_followed() {
        let history = [
            event(1, Pending, 10, Some(10)),
            event(2, Pending, 5, Some(-5)),
            event(3, Pending, 10, Some(5)),
            event(4, Pending, 0, Some(-10)),
        ];
        let mut reversed = history.to_vec();
        reversed.reverse();
        assert_eq!(deliver(&reversed).0.payout, Money::ZERO);
        assert_eq!(deliver(&history).0.payout, Money::ZERO);
    }

    #[test]
    fn without_deltas_the_last_arrival_decides() {
        let (position, sum, _) =
            deliver(&[event(1, Pending, 10, None), event(2, Pending, 8, None)]);
        assert_eq!(position.payout, money(8));
        assert_eq!(sum, money(8));
    }

    #[test]
    fn a_reinstatement_after_reversal_is_flagged_and_moves_no_money() {
        let history = [
            event(1, Pending, 10, Some(10)),
            event(2, Reversed, 0, Some(-10)),
            event(3, Pending, 10, Some(10)),
        ];
        // The third event is identical in shape to the first but a distinct delivery.
        let mut seen = Vec::new();
        let mut before = None;
        for item in &history {
            seen.push(item.clone());
            before = Some(reconcile(before.as_ref(), &seen).position);
        }
        let position = before.unwrap();
        assert_eq!(position.payout, Money::ZERO);
        assert!(position.flags.contains(&Flag::AfterReversal));
    }

    #[test]
    fn an_unknown_status_flags_the_action() {
        let mut odd = event(1, Pending, 3, None);
        odd.unknown_status = true;
        let reconciled = reconcile(None, &[odd]);
        assert_eq!(reconciled.effect, Effect::Flagged);
        assert!(reconciled.position.flags.contains(&Flag::UnknownStatus));
    }

    fn at(day: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 5, day)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    }

    #[test]
    fn a_change_received_after_locking_is_applied_and_flagged() {
        let tracked = event(1, Pending, 15, Some(15));
        let modified = event(2, Pending, 10, Some(-5));
        let context = Context {
            locking_date: Some(at(8)),
            received_at: vec![at(1), at(9)],
            cleared: false,
        };
        let first = reconcile_in(
            None,
            std::slice::from_ref(&tracked),
            &Context {
                received_at: vec![at(1)],
                ..context.clone()
            },
        );
        assert_eq!(first.effect, Effect::Applied);
        let second = reconcile_in(
            Some(&first.position),
            &[tracked.clone(), modified.clone()],
            &context,
        );
        assert_eq!(second.effect, Effect::Flagged);
        assert_eq!(second.position.payout, money(10), "still applied");
        assert!(second.position.flags.contains(&Flag::ChangedAfterLocking));
        // The same change before the locking date, or a tracking event after it, is no flag.
        let early = Context {
            received_at: vec![at(1), at(7)],
            ..context.clone()
        };
        assert!(context_flags(&[tracked.clone(), modified], &early).is_empty());
        let late_tracking = Context {
            received_at: vec![at(9)],
            ..context
        };
        assert!(context_flags(&[tracked], &late_tracking).is_empty());
    }

    #[test]
    fn a_clearing_flags_a_placeholder_and_a_reversed_action() {
        let cleared = Context {
            cleared: true,
            ..Context::default()
        };
        assert_eq!(
            context_flags(&[], &cleared),
            Flags::from([Flag::ClearedNeverTracked])
        );
        let tracked = event(1, Pending, 15, Some(15));
        assert!(
            context_flags(std::slice::from_ref(&tracked), &cleared).is_empty(),
            "a tracked event ends the placeholder"
        );
        let reversed = [tracked, event(2, Reversed, 0, Some(-15))];
        assert_eq!(
            context_flags(&reversed, &cleared),
            Flags::from([Flag::ClearedAfterReversal])
        );
    }

    #[test]
    fn locking_is_derived_from_the_clock() {
        assert!(!is_locked(Pending, Some(at(8)), at(7)));
        assert!(is_locked(Pending, Some(at(8)), at(8)));
        assert!(is_locked(Approved, Some(at(8)), at(9)));
        assert!(!is_locked(Reversed, Some(at(8)), at(9)));
        assert!(!is_locked(Pending, None, at(9)));
    }

    #[test]
    fn flags_round_trip_through_text() {
        let flags: Flags = [Flag::UnknownStatus, Flag::Gap].into();
        assert_eq!(flags.to_string(), "gap,unknown_status");
        assert_eq!(Flags::from_text("gap,unknown_status"), Ok(flags));
        assert!(Flags::from_text("").unwrap().is_empty());
    }

    /// A random history as in shared/reference/ledger_model.py: tracked, modifications drawn
    /// from few values (0 included, so repeats and cycles), maybe a reversal.
    fn history() -> impl Strategy<Value = (Vec<RecordedEvent>, Money, ActionStatus)> {
        (
            100i64..5000,
            prop::collection::vec(0i64..7, 0..6),
            any::<bool>(),
            any::<u8>(),
        )
            .prop_map(|(first, changes, reverse, _)| {
                let mut payout = Money::from_minor_units(first * 100);
                let mut events = vec![RecordedEvent {
                    seq: 0,
                    status: Pending,
                    unknown_status: false,
                    payout: Some(payout),
                    delta_payout: Some(payout),
                    amount: Some(payout),
                    delta_amount: Some(payout),
                }];
                for change in changes {
                    let new = Money::from_minor_units(change * 10_000);
                    let delta = new.checked_sub(payout).unwrap();
                    let duplicate = events.iter().any(|event| {
                        event.payout == Some(new) && event.delta_payout == Some(delta)
                    });
                    if new != payout && !duplicate {
                        events.push(RecordedEvent {
                            seq: 0,
                            status: Pending,
                            unknown_status: false,
                            payout: Some(new),
                            delta_payout: Some(delta),
                            amount: Some(new),
                            delta_amount: Some(delta),
                        });
                        payout = new;
                    }
                }
                let mut status = Pending;
                if reverse {
                    events.push(RecordedEvent {
                        seq: 0,
                        status: Reversed,
                        unknown_status: false,
                        payout: Some(Money::ZERO),
                        delta_payout: Some(-payout),
                        amount: Some(Money::ZERO),
                        delta_amount: Some(-payout),
                    });
                    payout = Money::ZERO;
                    status = Reversed;
                }
                (events, payout, status)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5_000))]
        #[test]
        fn any_order_with_any_repeats_converges_to_the_in_order_result(
            (history, final_payout, final_status) in history(),
            repeats in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
            shuffle_seed in any::<u64>(),
        ) {
            let mut sent = history.clone();
            for index in repeats {
                sent.push(history[index.index(history.len())].clone());
            }
            // A deterministic Fisher-Yates shuffle from the seed.
            let mut state = shuffle_seed | 1;
            for i in (1..sent.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                sent.swap(i, (state % (i as u64 + 1)) as usize);
            }
            for (seq, event) in sent.iter_mut().enumerate() {
                event.seq = seq as i64;
            }
            let (in_order, in_order_sum, _) = deliver(&history);
            let (position, sum, entries) = deliver(&sent);
            prop_assert_eq!(position.payout, final_payout);
            prop_assert_eq!(in_order.payout, final_payout);
            prop_assert_eq!(position.status, final_status);
            prop_assert_eq!(sum, position.payout, "entries sum to the payout");
            prop_assert_eq!(in_order_sum, in_order.payout);
            let amount_sum = entries.iter().fold(Money::ZERO, |sum, entry| sum.checked_add(entry.amount_delta).unwrap());
            prop_assert_eq!(amount_sum, position.amount);
            prop_assert!(position.flags.is_empty(), "a complete history leaves no flag: {:?}", position.flags);
        }
    }
}
