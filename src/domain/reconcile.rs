//! The ledger rule: an action's state as a function of the set of its distinct events, and the
//! entries an arrival appends. Pure: no storage, no HTTP.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::cross_check::{Origin, distinct_changes, same_change_pairs};
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
    /// The payout currency the event was sent in (None: not sent, or stored before events kept
    /// it: it then follows the action's).
    pub currency: Option<String>,
    /// When the conversion happened, as the event says: orders events for the currency rule.
    pub event_date: Option<DateTime<Utc>>,
    /// A postback, or the network's own record filled in by a reconciliation run: a change both
    /// report counts once (`cross_check::distinct_changes`).
    pub origin: Origin,
}

text_enum! {
    /// Reasons an action needs a person's look. Derived from the set of events (and the
    /// clearing and locking facts beside it), never stored apart.
    pub enum Flag ("flag") {
        /// The DeltaPayout links do not chain yet: an event is missing or a delta disagrees.
        Gap = "gap",
        /// A status word the source's status map does not know.
        UnknownStatus = "unknown_status",
        /// Events continue past the reversal (say, a reinstatement): no money moved.
        AfterReversal = "after_reversal",
        /// A modification or reversal received after the action's locking date: applied, but
        /// the brand changed an action that should have been final.
        ChangedAfterLocking = "changed_after_locking",
        /// A clearing named this action id but no lifecycle event for it has arrived: a
        /// placeholder with no money, so finance sees what the receiver missed.
        ClearedNeverTracked = "cleared_never_tracked",
        /// A clearing named an action that was already reversed when the clearing arrived.
        ClearedAfterReversal = "cleared_after_reversal",
        /// A reversal arrived after the action cleared: a clawback, booked in its own month.
        ReversedAfterClearing = "reversed_after_clearing",
        /// A modification arrived after the action cleared: a clawback (or top-up), booked in
        /// its own month.
        ChangedAfterClearing = "changed_after_clearing",
        /// An event came without a readable payout: kept, but its money is not booked.
        PayoutMissing = "payout_missing",
        /// An event came in another currency than the action's: kept, its money not mixed in.
        CurrencyChanged = "currency_changed",
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
    /// The action's payout currency, from its set of events (see `action_currency`).
    pub currency: Option<String>,
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

/// A ledger entry still to be written, in its own currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDraft {
    pub kind: EntryKind,
    pub payout_delta: Money,
    pub amount_delta: Money,
    /// None: the action has no currency yet; the entry follows the action's.
    pub currency: Option<String>,
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

/// Money arithmetic that would not fit: never taken as zero, the delivery is quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the money of this action's events overflows exact arithmetic")]
pub struct Overflow;

/// Why an action event is not applied: kept raw, quarantined with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no payout: is `{{Payout}}` in the template?")]
    NoPayout,
    #[error(transparent)]
    Overflow(#[from] Overflow),
}

/// One money series (payout or amount) of an event: its value and its delta.
#[derive(Clone, Copy)]
struct Reading {
    seq: i64,
    value: Option<Money>,
    delta: Option<Money>,
    reversal: bool,
}

/// The value that the links `value - delta -> value` lead to, and whether they chain completely.
/// Every history starts at 0, so 0 starts with a balance of +1; a complete history leaves exactly
/// one value at +1 and all others at 0. Without any delta, the last arrival decides.
fn current_value(readings: &[Reading]) -> Result<(Money, bool), Overflow> {
    let linked = links(readings.iter().filter(|reading| !reading.reversal))?;
    if linked.is_empty() {
        let last = readings
            .iter()
            .rev()
            .filter(|reading| !reading.reversal)
            .find_map(|reading| reading.value);
        return Ok((last.unwrap_or(Money::ZERO), true));
    }
    let balance = balances(&linked);
    let heads: Vec<Money> = balance
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(value, _)| *value)
        .collect();
    let complete = is_complete(&balance);
    if heads.len() == 1 {
        return Ok((heads[0], complete));
    }
    // Incomplete: the candidate that arrived last.
    let latest = readings
        .iter()
        .rev()
        .filter(|reading| !reading.reversal)
        .filter_map(|reading| reading.value)
        .find(|value| heads.contains(value));
    let fallback = readings.iter().rev().find_map(|reading| reading.value);
    Ok((latest.or(fallback).unwrap_or(Money::ZERO), false))
}

/// The links `value - delta -> value` of the readings that have both.
fn links<'r>(readings: impl Iterator<Item = &'r Reading>) -> Result<Vec<(Money, Money)>, Overflow> {
    readings
        .filter_map(|reading| Some((reading.value?, reading.delta?)))
        .map(|(value, delta)| Ok((value.checked_sub(delta).ok_or(Overflow)?, value)))
        .collect()
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

/// The flag a reversed action's links call for, naming the real cause: `gap` only when a link
/// is missing, `after_reversal` only when an event's links continue past the reversal, none for
/// a history that ends at the reversal (with or without its delta).
fn reversal_flag(readings: &[Reading]) -> Result<Option<Flag>, Overflow> {
    let before = links(readings.iter().filter(|reading| !reading.reversal))?;
    let reversals: Vec<&Reading> = readings.iter().filter(|reading| reading.reversal).collect();
    let reversal_links: Vec<(Money, Money)> = reversals
        .iter()
        .filter_map(|reading| reading.delta)
        .map(|delta| Ok((Money::ZERO.checked_sub(delta).ok_or(Overflow)?, Money::ZERO)))
        .collect::<Result<_, Overflow>>()?;
    if reversal_links.is_empty() {
        // A reversal without its delta: clean after a complete history, else something is
        // missing before it.
        return Ok((!before.is_empty() && !is_complete(&balances(&before))).then_some(Flag::Gap));
    }
    let all: Vec<(Money, Money)> = before.iter().copied().chain(reversal_links).collect();
    let balance = balances(&all);
    if !is_complete(&balance) {
        return Ok(Some(Flag::Gap));
    }
    if balance.get(&Money::ZERO) == Some(&1) {
        return Ok(None);
    }
    // Complete, but ending elsewhere than 0: either links continue past the reversal, or a drop
    // to 0 is missing. Only an event that leaves 0 after the reversal arrived says the former.
    let reversed_at = reversals.iter().map(|reading| reading.seq).min();
    let continues = readings.iter().any(|reading| {
        !reading.reversal
            && reversed_at.is_some_and(|at| reading.seq > at)
            && matches!((reading.value, reading.delta), (Some(value), Some(delta)) if value == delta)
    });
    Ok(Some(if continues {
        Flag::AfterReversal
    } else {
        Flag::Gap
    }))
}

fn readings(
    events: &[&RecordedEvent],
    series: fn(&RecordedEvent) -> (Option<Money>, Option<Money>),
) -> Vec<Reading> {
    events
        .iter()
        .map(|event| {
            let (value, delta) = series(event);
            Reading {
                seq: event.seq,
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

/// An action's currency from its set: the tracking event's (its link starts at 0), else the
/// earliest by event date (then arrival), never the last arrival's.
pub fn action_currency(events: &[RecordedEvent]) -> Option<String> {
    let earliest = |tracking: bool| {
        events
            .iter()
            .filter(|event| event.payout.is_some() && event.currency.is_some())
            .filter(|event| {
                !tracking
                    || (event.status != ActionStatus::Reversed
                        && event.delta_payout.is_some()
                        && event.delta_payout == event.payout)
            })
            .min_by_key(|event| (event.event_date.is_none(), event.event_date, event.seq))
            .and_then(|event| event.currency.clone())
    };
    earliest(true).or_else(|| earliest(false))
}

/// The state implied by a set of distinct events, given in arrival order. Reversed is terminal:
/// payout and amount are 0 once any reversal is in the set. An event without a payout, or in
/// another currency than the action's, is kept in the set but its money (and status) is not
/// taken: it flags the action instead.
pub fn position(events: &[RecordedEvent]) -> Result<Position, Overflow> {
    let distinct = distinct_changes(events);
    let events = &*distinct;
    let mut flags = Flags::new();
    if events.iter().any(|event| event.unknown_status) {
        flags.insert(Flag::UnknownStatus);
    }
    if events.iter().any(|event| event.payout.is_none()) {
        flags.insert(Flag::PayoutMissing);
    }
    let currency = action_currency(events);
    let counted: Vec<&RecordedEvent> = events
        .iter()
        .filter(|event| event.payout.is_some())
        .filter(|event| match (&event.currency, &currency) {
            (Some(own), Some(action)) if own != action => {
                flags.insert(Flag::CurrencyChanged);
                false
            }
            _ => true,
        })
        .collect();
    let payouts = readings(&counted, payout_series);
    let amounts = readings(&counted, amount_series);
    let reversed = counted
        .iter()
        .any(|event| event.status == ActionStatus::Reversed);
    let (payout, amount) = if reversed {
        flags.extend(reversal_flag(&payouts)?);
        (Money::ZERO, Money::ZERO)
    } else {
        let (payout, payout_complete) = current_value(&payouts)?;
        let (amount, amount_complete) = current_value(&amounts)?;
        if !payout_complete || !amount_complete {
            flags.insert(Flag::Gap);
        }
        (payout, amount)
    };
    let status = if reversed {
        ActionStatus::Reversed
    } else if counted
        .iter()
        .any(|event| event.status == ActionStatus::Approved)
    {
        ActionStatus::Approved
    } else {
        ActionStatus::Pending
    };
    Ok(Position {
        status,
        payout,
        amount,
        currency,
        flags,
    })
}

/// Whether an event may join its action's set: the first event of an action must carry a
/// payout (the set has nothing else to take one from), and a delta needs its payout.
pub fn admit(is_first: bool, payout: Option<Money>) -> Result<(), Refusal> {
    if is_first && payout.is_none() {
        return Err(Refusal::NoPayout);
    }
    Ok(())
}

/// What the arrival of the last event in `events` does to an action that was at `before`
/// (None: the action is new). `events` is the whole distinct set in arrival order.
pub fn reconcile(
    before: Option<&Position>,
    events: &[RecordedEvent],
) -> Result<Reconciled, Overflow> {
    let distinct = distinct_changes(events);
    let events = &*distinct;
    let after = position(events)?;
    let entry = |kind, payout_delta, amount_delta, currency: &Option<String>| EntryDraft {
        kind,
        payout_delta,
        amount_delta,
        currency: currency.clone(),
    };
    let entries = match before {
        None if after.status == ActionStatus::Reversed => {
            // First seen already reversed: show the amount that was reversed, in and out.
            let reversal = events
                .iter()
                .rev()
                .find(|event| event.status == ActionStatus::Reversed);
            let reversed_amount = |value: Option<Money>, delta: Option<Money>| match delta {
                Some(delta) => Money::ZERO.checked_sub(delta).ok_or(Overflow),
                None => Ok(value.unwrap_or(Money::ZERO)),
            };
            let (payout, amount) = match reversal {
                Some(event) => (
                    reversed_amount(event.payout, event.delta_payout)?,
                    reversed_amount(event.amount, event.delta_amount)?,
                ),
                None => (Money::ZERO, Money::ZERO),
            };
            vec![
                entry(EntryKind::Tracked, payout, amount, &after.currency),
                entry(
                    EntryKind::Reversed,
                    negate(payout)?,
                    negate(amount)?,
                    &after.currency,
                ),
            ]
        }
        None => vec![entry(
            EntryKind::Tracked,
            after.payout,
            after.amount,
            &after.currency,
        )],
        Some(before) => {
            let kind = if after.status == ActionStatus::Reversed
                && before.status != ActionStatus::Reversed
            {
                EntryKind::Reversed
            } else {
                EntryKind::Modified
            };
            match (&before.currency, &after.currency) {
                // The set now names another currency (an earlier or tracking event arrived):
                // what was booked in the old one goes out, the action's money comes in anew.
                (Some(old), Some(new)) if old != new => [
                    entry(
                        kind,
                        negate(before.payout)?,
                        negate(before.amount)?,
                        &before.currency,
                    ),
                    entry(kind, after.payout, after.amount, &after.currency),
                ]
                .into_iter()
                .filter(|draft| !draft.payout_delta.is_zero() || !draft.amount_delta.is_zero())
                .collect(),
                _ => {
                    let payout_delta = difference(after.payout, before.payout)?;
                    let amount_delta = difference(after.amount, before.amount)?;
                    if payout_delta.is_zero() && amount_delta.is_zero() {
                        Vec::new()
                    } else {
                        vec![entry(kind, payout_delta, amount_delta, &after.currency)]
                    }
                }
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
    Ok(Reconciled {
        position: after,
        entries,
        effect,
    })
}

/// What an action is besides its events: when it locks, when each event arrived (parallel to the
/// events) and whether (and when) a clearing named it. Still facts of the set, so flags stay
/// order-free.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub locking_date: Option<DateTime<Utc>>,
    pub received_at: Vec<DateTime<Utc>>,
    /// Some clearing (or the network's record) names it.
    pub cleared: bool,
    /// When its clearing was booked (the clearing's arrival): events received later are
    /// clawbacks. None with `cleared`: a clearing from before clearings were booked.
    pub cleared_at: Option<DateTime<Utc>>,
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
    let received = |index: usize| context.received_at.get(index);
    // A filled network record arrives when the run fills it, not when the change happened (the
    // network itself says whether that was after locking or clearing), and a postback of a change
    // already filled from the network's record brings nothing new: only a postback that first
    // told of its change dates it.
    let partner_of = same_change_pairs(events);
    let dated_by_arrival = |index: usize| {
        events[index].origin == Origin::Postback
            && partner_of[index].is_none_or(|network| received(network) > received(index))
    };
    if let Some(locking) = context.locking_date
        && (0..events.len()).any(|index| {
            received(index).is_some_and(|received| *received > locking)
                && dated_by_arrival(index)
                && is_change(events, context, index)
        })
    {
        flags.insert(Flag::ChangedAfterLocking);
    }
    let after_clearing = |index: usize| {
        context
            .cleared_at
            .is_some_and(|cleared| received(index).is_some_and(|at| *at > cleared))
    };
    for (index, event) in events.iter().enumerate() {
        let reversal = event.status == ActionStatus::Reversed;
        if context.cleared && reversal && !after_clearing(index) {
            flags.insert(Flag::ClearedAfterReversal);
        }
        if after_clearing(index)
            && dated_by_arrival(index)
            && event.payout.is_some()
            && is_change(events, context, index)
        {
            flags.insert(if reversal {
                Flag::ReversedAfterClearing
            } else {
                Flag::ChangedAfterClearing
            });
        }
    }
    flags
}

/// `reconcile` with the context's flags added; an arrival that brings one is `Flagged`.
pub fn reconcile_in(
    before: Option<&Position>,
    events: &[RecordedEvent],
    context: &Context,
) -> Result<Reconciled, Overflow> {
    let mut reconciled = reconcile(before, events)?;
    let extra = context_flags(events, context);
    if extra.is_empty() {
        return Ok(reconciled);
    }
    reconciled.position.flags.extend(extra);
    let new_flag = match before {
        None => true,
        Some(before) => !reconciled.position.flags.is_subset(&before.flags),
    };
    if new_flag {
        reconciled.effect = Effect::Flagged;
    }
    Ok(reconciled)
}

/// Every flag of an action: its events' and its context's. What `check` and the property test
/// compare the stored flags with.
pub fn flags_of(events: &[RecordedEvent], context: &Context) -> Result<Flags, Overflow> {
    let mut flags = if events.is_empty() {
        Flags::new()
    } else {
        position(events)?.flags
    };
    flags.extend(context_flags(events, context));
    Ok(flags)
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

fn negate(value: Money) -> Result<Money, Overflow> {
    Money::ZERO.checked_sub(value).ok_or(Overflow)
}

/// `after - before`, checked: an overflow is an error, never a zero.
fn difference(after: Money, before: Money) -> Result<Money, Overflow> {
    after.checked_sub(before).ok_or(Overflow)
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
            currency: None,
            event_date: None,
            origin: Origin::Postback,
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
                    && known.currency == event.currency
            }) {
                continue; // the inbox's dedup key drops exact repeats
            }
            seen.push(event.clone());
            let reconciled = reconcile(before.as_ref(), &seen).unwrap();
            entries.extend(reconciled.entries.iter().cloned());
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
        let first = reconcile(None, std::slice::from_ref(&modified)).unwrap();
        assert_eq!(first.effect, Effect::Flagged);
        assert_eq!(first.position.payout, money(5));
        let second = reconcile(
            Some(&first.position),
            &[modified, event(2, Pending, 10, Some(10))],
        )
        .unwrap();
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
            before = Some(reconcile(before.as_ref(), &seen).unwrap().position);
        }
        let position = before.unwrap();
        assert_eq!(position.payout, Money::ZERO);
        assert!(position.flags.contains(&Flag::AfterReversal));
    }

    #[test]
    fn an_unknown_status_flags_the_action() {
        let mut odd = event(1, Pending, 3, None);
        odd.unknown_status = true;
        let reconciled = reconcile(None, &[odd]).unwrap();
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
            cleared_at: None,
        };
        let first = reconcile_in(
            None,
            std::slice::from_ref(&tracked),
            &Context {
                received_at: vec![at(1)],
                ..context.clone()
            },
        )
        .unwrap();
        assert_eq!(first.effect, Effect::Applied);
        let second = reconcile_in(
            Some(&first.position),
            &[tracked.clone(), modified.clone()],
            &context,
        )
        .unwrap();
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
    fn a_reversal_after_the_clearing_is_a_clawback_and_before_it_the_clearing_came_late() {
        let tracked = event(1, Pending, 15, Some(15));
        let reversal = event(2, Reversed, 0, Some(-15));
        let history = [tracked, reversal];
        let context = |reversed_day: u32| Context {
            cleared: true,
            cleared_at: Some(at(10)),
            received_at: vec![at(1), at(reversed_day)],
            ..Context::default()
        };
        assert_eq!(
            context_flags(&history, &context(12)),
            Flags::from([Flag::ReversedAfterClearing])
        );
        assert_eq!(
            context_flags(&history, &context(5)),
            Flags::from([Flag::ClearedAfterReversal])
        );
        let modified = [
            event(1, Pending, 15, Some(15)),
            event(2, Pending, 9, Some(-6)),
        ];
        assert_eq!(
            context_flags(&modified, &context(12)),
            Flags::from([Flag::ChangedAfterClearing])
        );
    }

    #[test]
    fn only_the_postback_that_first_tells_of_a_change_dates_it() {
        let tracked = event(1, Pending, 15, Some(15));
        let postback = event(3, Pending, 9, Some(-6));
        let filled = RecordedEvent {
            origin: Origin::NetworkRecord,
            ..event(2, Pending, 9, Some(-6))
        };
        // Filled from the network's record after the clearing, its postback later still.
        let context = Context {
            cleared: true,
            cleared_at: Some(at(10)),
            locking_date: Some(at(8)),
            received_at: vec![at(1), at(11), at(12)],
        };
        let history = [tracked.clone(), filled.clone(), postback.clone()];
        assert!(context_flags(&history, &context).is_empty());
        // The postback first, then the fill: the postback's arrival dates the change.
        let context = Context {
            received_at: vec![at(1), at(13), at(12)],
            ..context
        };
        assert_eq!(
            context_flags(&history, &context),
            Flags::from([Flag::ChangedAfterLocking, Flag::ChangedAfterClearing])
        );
    }

    #[test]
    fn flags_name_the_real_cause() {
        // A reversal without its delta after a complete history: nothing is missing.
        let clean = [event(1, Pending, 10, Some(10)), event(2, Reversed, 0, None)];
        assert!(position(&clean).unwrap().flags.is_empty());
        // Without its delta after an incomplete one: the gap is before it.
        let incomplete = [event(1, Pending, 5, Some(-5)), event(2, Reversed, 0, None)];
        assert_eq!(
            position(&incomplete).unwrap().flags,
            Flags::from([Flag::Gap])
        );
        // A missing drop to 0 before the reversal is a gap, not "after reversal".
        let missing_drop = [
            event(1, Pending, 10, Some(10)),
            event(2, Pending, 3, Some(3)),
            event(3, Reversed, 0, Some(-3)),
        ];
        assert_eq!(
            position(&missing_drop).unwrap().flags,
            Flags::from([Flag::Gap])
        );
        // A reinstatement that arrived after the reversal does continue past it.
        let reinstated = [
            event(1, Pending, 10, Some(10)),
            event(2, Reversed, 0, Some(-10)),
            event(3, Pending, 10, Some(10)),
        ];
        assert_eq!(
            position(&reinstated).unwrap().flags,
            Flags::from([Flag::AfterReversal])
        );
    }

    #[test]
    fn an_event_without_payout_keeps_the_payout_the_set_implies_and_is_flagged() {
        assert_eq!(admit(true, None), Err(Refusal::NoPayout));
        assert_eq!(admit(false, None), Ok(()));
        let tracked = event(1, Pending, 10, Some(10));
        let before = reconcile(None, std::slice::from_ref(&tracked)).unwrap();
        let mut blank = event(2, Pending, 0, Some(4));
        blank.payout = None;
        let after = reconcile(Some(&before.position), &[tracked, blank]).unwrap();
        assert_eq!(after.position.payout, money(10));
        assert!(
            after.entries.is_empty(),
            "no money booked from a missing payout"
        );
        assert_eq!(after.position.flags, Flags::from([Flag::PayoutMissing]));
        assert_eq!(after.effect, Effect::Flagged);
    }

    fn in_currency(mut event: RecordedEvent, currency: &str) -> RecordedEvent {
        event.currency = Some(currency.to_owned());
        event
    }

    #[test]
    fn the_currency_comes_from_the_set_whatever_the_order() {
        let tracked = in_currency(event(1, Pending, 10, Some(10)), "USD");
        let modified = in_currency(event(2, Pending, 5, Some(-5)), "EUR");
        for order in [
            vec![tracked.clone(), modified.clone()],
            vec![modified.clone(), tracked.clone()],
        ] {
            let (position, _, entries) = deliver(&order);
            assert_eq!(position.currency.as_deref(), Some("USD"));
            assert_eq!(position.payout, money(10), "the EUR money is not mixed in");
            assert!(position.flags.contains(&Flag::CurrencyChanged));
            let mut per_currency: BTreeMap<Option<String>, Money> = BTreeMap::new();
            for entry in entries {
                let sum = per_currency.entry(entry.currency.clone()).or_default();
                *sum = sum.checked_add(entry.payout_delta).unwrap();
            }
            assert_eq!(per_currency.get(&Some("USD".into())), Some(&money(10)));
            assert!(
                per_currency
                    .get(&Some("EUR".into()))
                    .is_none_or(|sum| sum.is_zero()),
                "{per_currency:?}"
            );
        }
    }

    #[test]
    fn an_overflow_is_an_error_never_a_zero() {
        let top = RecordedEvent {
            payout: Some(Money::from_minor_units(i64::MAX)),
            delta_payout: Some(Money::from_minor_units(i64::MAX)),
            ..event(1, Pending, 0, None)
        };
        let before = reconcile(None, std::slice::from_ref(&top)).unwrap();
        let bottom = RecordedEvent {
            payout: Some(Money::from_minor_units(i64::MIN)),
            delta_payout: Some(Money::from_minor_units(1)),
            ..event(2, Pending, 0, None)
        };
        assert_eq!(
            reconcile(Some(&before.position), &[top, bottom]),
            Err(Overflow)
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
                    currency: None,
                    event_date: None,
                    origin: Origin::Postback,
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
                            currency: None,
                            event_date: None,
                            origin: Origin::Postback,
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
                        currency: None,
                        event_date: None,
                        origin: Origin::Postback,
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

    /// Shuffles `sent` deterministically from `seed` (Fisher-Yates) and numbers the arrivals.
    fn shuffled(mut sent: Vec<RecordedEvent>, seed: u64) -> Vec<RecordedEvent> {
        let mut state = seed | 1;
        for i in (1..sent.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            sent.swap(i, (state % (i as u64 + 1)) as usize);
        }
        for (seq, event) in sent.iter_mut().enumerate() {
            event.seq = seq as i64;
        }
        sent
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]
        /// The reference model's property extended to flags: whatever arrives, in any order,
        /// with events missing, without a payout or in another currency, the flags an action
        /// ends with are those computed from its set; the ones that do not depend on which
        /// link is missing are the same in every order; per currency the entries sum to the
        /// payout (the action's currency) or to zero.
        #[test]
        fn flags_are_a_function_of_the_set_and_entries_sum_per_currency(
            (history, _, _) in history(),
            dropped in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
            blank in any::<Option<prop::sample::Index>>(),
            foreign in any::<Option<prop::sample::Index>>(),
            repeats in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
            seed in any::<u64>(),
        ) {
            let mut set: Vec<RecordedEvent> = history
                .into_iter()
                .map(|event| RecordedEvent { currency: Some("USD".into()), ..event })
                .collect();
            let first = set[0].clone();
            for index in dropped {
                if set.len() > 1 {
                    set.remove(index.index(set.len()));
                }
            }
            if !set.contains(&first) {
                set.insert(0, first); // the tracking event is what admits the action
            }
            if let Some(index) = blank {
                let mut event = set[index.index(set.len())].clone();
                event.payout = None;
                set.push(event);
            }
            if let Some(index) = foreign {
                let mut event = set[index.index(set.len())].clone();
                event.currency = Some("EUR".into());
                event.delta_payout = event.delta_payout.map(|delta| delta.checked_add(money(1)).unwrap());
                set.push(event);
            }
            let mut sent = set.clone();
            for index in repeats {
                sent.push(set[index.index(set.len())].clone());
            }
            // The tracking event arrives first in both orders (a first event needs a payout).
            let in_order = shuffled(set.clone(), 0);
            let mut rest = shuffled(sent[1..].to_vec(), seed);
            rest.insert(0, sent[0].clone());
            for (seq, event) in rest.iter_mut().enumerate() {
                event.seq = seq as i64;
            }
            let (position, _, entries) = deliver(&rest);
            let (ordered, _, _) = deliver(&in_order);
            // From the set, in its arrival order.
            let mut distinct: Vec<RecordedEvent> = Vec::new();
            for event in &rest {
                if !distinct.iter().any(|known| known.payout == event.payout
                    && known.delta_payout == event.delta_payout
                    && known.status == event.status
                    && known.currency == event.currency) {
                    distinct.push(event.clone());
                }
            }
            prop_assert_eq!(&position.flags, &super::position(&distinct).unwrap().flags);
            let order_free = |flags: &Flags| -> Flags {
                flags.iter().filter(|flag| !matches!(flag, Flag::Gap | Flag::AfterReversal)).collect()
            };
            prop_assert_eq!(order_free(&position.flags), order_free(&ordered.flags));
            prop_assert_eq!(
                position.flags.contains(&Flag::Gap) || position.flags.contains(&Flag::AfterReversal),
                ordered.flags.contains(&Flag::Gap) || ordered.flags.contains(&Flag::AfterReversal),
                "whether a link is in question does not depend on the order"
            );
            let mut per_currency: BTreeMap<Option<String>, Money> = BTreeMap::new();
            for entry in entries {
                let sum = per_currency.entry(entry.currency).or_default();
                *sum = sum.checked_add(entry.payout_delta).unwrap();
            }
            for (currency, sum) in per_currency {
                let expected = if currency == position.currency { position.payout } else { Money::ZERO };
                prop_assert_eq!(sum, expected, "{:?}", currency);
            }
        }
    }
}
