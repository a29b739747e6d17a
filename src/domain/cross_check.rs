//! The cross-check against a network's own records, pure: what a network record says about an
//! action, how it is compared with the ledger's state (the differences), which differences a
//! fill can explain and with what event, and how an event filled from a network record and a
//! postback of the same change meet.
//!
//! **A change seen twice counts once.** The ledger's set of events may hold an event whose
//! origin is the network's record (filled by a reconciliation run) beside postbacks. A network
//! event and a postback *of the same change* are one change: `distinct_changes` pairs each
//! network event with at most one postback of the same change (same reversal or not, same
//! payout, the same `DeltaPayout` unless one of them has none) and drops the network event of
//! each pair, keeping the postback (postbacks stay the first source of truth for order) with the
//! higher of the two statuses (impact.com's APPROVED is kept). So a postback arriving after a
//! fill, for the change the fill stood in for, moves no money (it is `stale`), and a fill after
//! the postback changes nothing either; a change repeated with identical values and seen once by
//! each side is the one case this cannot tell apart (as two identical postbacks cannot be told
//! from a retry).

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::domain::event::{ActionEvent, ActionStatus};
use crate::domain::money::Money;
use crate::domain::reconcile::{RecordedEvent, is_locked};
use crate::domain::words::text_enum;

text_enum! {
    /// Where an action event came from.
    pub enum Origin ("event origin") {
        /// A postback the network sent.
        Postback = "postback",
        /// The network's own record of the action, filled in by a reconciliation run.
        NetworkRecord = "network_record",
    }
}

text_enum! {
    /// How the ledger and the network's record of one action disagree.
    pub enum DifferenceKind ("difference kind") {
        /// The network lists the action; the ledger has no event of it (a postback was lost).
        MissingHere = "missing_here",
        /// The ledger has the action in the period; the network does not list it (a test, or an
        /// id the network withdrew).
        MissingThere = "missing_there",
        /// Both have it, with another payout.
        PayoutDiffers = "payout_differs",
        /// Both have it, with another sale amount.
        AmountDiffers = "amount_differs",
        /// The network says APPROVED or REVERSED and the ledger otherwise (APPROVED against the
        /// ledger's derived "locked" is a check of the locking rule), or the other way round.
        StatusDiffers = "status_differs",
        /// The network says it cleared and no clearing named it here, or the other way round.
        ClearedDiffers = "cleared_differs",
    }
}

text_enum! {
    /// Where a difference stands.
    pub enum Resolution ("difference resolution") {
        /// Still listed: not filled yet, or not explainable by a fill.
        Open = "open",
        /// Filled from the network's record: the ledger holds an event (or clearing) of that
        /// origin for it.
        Filled = "filled",
    }
}

text_enum! {
    /// What a reconciliation run read.
    pub enum RunSource ("run source") {
        /// The network's API (`sync`).
        Api = "api",
        /// A report file (`import`).
        Report = "report",
    }
}

text_enum! {
    /// How far a reconciliation run got.
    pub enum RunStatus ("run status") {
        Running = "running",
        Completed = "completed",
        Failed = "failed",
    }
}

text_enum! {
    /// An action's status as the cross-check compares it: the ledger's status, with "locked"
    /// for a pending action whose locking date has passed (approved by the locking rule).
    pub enum LedgerState ("ledger state") {
        Pending = "pending",
        Locked = "locked",
        Approved = "approved",
        Reversed = "reversed",
    }
}

/// One action as the network's records give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRecord {
    /// The record read as a lifecycle event: id, status, payout and delta, amount, details. Its
    /// `cleared_date` detail is taken out into `cleared_at`: a network's clearing date is when
    /// the commission cleared, booked as a clearing, never a detail of the action.
    pub event: ActionEvent,
    pub cleared_at: Option<DateTime<Utc>>,
    /// The record as the network sent it, as JSON, credentials removed.
    pub raw: String,
}

impl NetworkRecord {
    pub fn currency(&self) -> Option<&str> {
        self.event.details.payout_currency.as_deref()
    }

    pub fn event_date(&self) -> Option<DateTime<Utc>> {
        self.event
            .details
            .event_date
            .as_ref()
            .and_then(|date| date.utc)
    }
}

/// What the ledger holds of one action, as the cross-check reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSide {
    pub status: ActionStatus,
    pub payout: Money,
    pub amount: Money,
    pub currency: Option<String>,
    pub locking_date: Option<DateTime<Utc>>,
    /// A clearing named it. (Issue 22 books clearings as ledger facts; "cleared here" is then
    /// that fact. `storage::cross_check` is the one place that says what cleared means.)
    pub cleared: bool,
    /// It has lifecycle events (false: a placeholder a clearing made for an id never tracked).
    pub tracked: bool,
}

impl LedgerSide {
    pub fn state(&self, now: DateTime<Utc>) -> LedgerState {
        match self.status {
            ActionStatus::Reversed => LedgerState::Reversed,
            ActionStatus::Approved => LedgerState::Approved,
            ActionStatus::Pending if is_locked(self.status, self.locking_date, now) => {
                LedgerState::Locked
            }
            ActionStatus::Pending => LedgerState::Pending,
        }
    }
}

/// One difference found, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: DifferenceKind,
    /// Network minus ledger: the payout a fill would move (0 when it moves none).
    pub payout_delta: Money,
    /// Network minus ledger: the sale amount a fill would move.
    pub amount_delta: Money,
    /// A fill from the network's record can bring the ledger to the network's state.
    pub fillable: bool,
    /// Why, in words, when the numbers do not say it all.
    pub note: String,
}

fn found(kind: DifferenceKind, payout_delta: Money, fillable: bool, note: String) -> Found {
    Found {
        kind,
        payout_delta,
        amount_delta: Money::ZERO,
        fillable,
        note,
    }
}

fn minus(a: Money, b: Money) -> Money {
    a.checked_sub(b).unwrap_or(Money::ZERO)
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// The differences between the network's record and the ledger's state of the same action at
/// `now` (`ledger` None: the ledger has no such action).
pub fn compare(
    record: &NetworkRecord,
    ledger: Option<&LedgerSide>,
    now: DateTime<Utc>,
) -> Vec<Found> {
    let event = &record.event;
    let network_status = event.status.filter(|_| !event.has_unknown_status());
    let reversed_there = network_status == Some(ActionStatus::Reversed);
    let mut differences = Vec::new();
    let Some(ledger) = ledger.filter(|ledger| ledger.tracked) else {
        let payout = if reversed_there {
            Money::ZERO
        } else {
            event.payout.unwrap_or(Money::ZERO)
        };
        let fillable = reversed_there || event.payout.is_some();
        let note = if fillable {
            "no postback of it arrived".to_owned()
        } else {
            "no postback of it arrived, and impact.com's record gives no payout to fill it with"
                .to_owned()
        };
        let mut missing = found(DifferenceKind::MissingHere, payout, fillable, note);
        if !reversed_there {
            missing.amount_delta = event.amount.unwrap_or(Money::ZERO);
        }
        differences.push(missing);
        if let Some(cleared) = record.cleared_at {
            differences.push(found(
                DifferenceKind::ClearedDiffers,
                Money::ZERO,
                fillable,
                format!("cleared at impact.com on {}", day(cleared)),
            ));
        }
        return differences;
    };

    let currency_clash = match (record.currency(), ledger.currency.as_deref()) {
        (Some(there), Some(here)) if !there.eq_ignore_ascii_case(here) => {
            Some(format!("currency differs: {there} there, {here} here"))
        }
        _ => None,
    };
    let state = ledger.state(now);
    match (network_status, state) {
        (Some(ActionStatus::Reversed), LedgerState::Reversed) | (None, _) => {}
        (Some(ActionStatus::Reversed), _) => differences.push(found(
            DifferenceKind::StatusDiffers,
            minus(Money::ZERO, ledger.payout),
            true,
            "reversed at impact.com; no reversal postback arrived".to_owned(),
        )),
        (Some(_), LedgerState::Reversed) => differences.push(found(
            DifferenceKind::StatusDiffers,
            event.payout.unwrap_or(Money::ZERO),
            false,
            "reversed here but not at impact.com: a reversal is final in the ledger".to_owned(),
        )),
        (Some(ActionStatus::Approved), LedgerState::Pending) => {
            let note = match ledger.locking_date {
                Some(locking) => format!(
                    "approved at impact.com before the ledger's locking date ({})",
                    day(locking)
                ),
                None => "approved at impact.com; the ledger has no locking date".to_owned(),
            };
            differences.push(found(
                DifferenceKind::StatusDiffers,
                Money::ZERO,
                true,
                note,
            ));
        }
        (Some(ActionStatus::Pending), LedgerState::Locked) => {
            let moved = event
                .details
                .locking_date
                .as_ref()
                .and_then(|date| date.utc)
                .filter(|there| *there > now && Some(*there) != ledger.locking_date);
            let (fillable, note) = match moved {
                Some(there) => (
                    true,
                    format!("impact.com moved the locking date to {}", day(there)),
                ),
                None => (
                    false,
                    "the locking date has passed here but impact.com still lists it pending"
                        .to_owned(),
                ),
            };
            differences.push(found(
                DifferenceKind::StatusDiffers,
                Money::ZERO,
                fillable,
                note,
            ));
        }
        (Some(ActionStatus::Pending), LedgerState::Approved) => differences.push(found(
            DifferenceKind::StatusDiffers,
            Money::ZERO,
            false,
            "approved here, pending at impact.com: an approval is final in the ledger".to_owned(),
        )),
        (Some(ActionStatus::Approved), LedgerState::Locked | LedgerState::Approved)
        | (Some(ActionStatus::Pending), LedgerState::Pending) => {}
    }

    if !reversed_there && ledger.status != ActionStatus::Reversed {
        if let Some(payout) = event.payout
            && payout != ledger.payout
        {
            differences.push(found(
                DifferenceKind::PayoutDiffers,
                minus(payout, ledger.payout),
                currency_clash.is_none(),
                currency_clash.clone().unwrap_or_default(),
            ));
        }
        if let Some(amount) = event.amount
            && amount != ledger.amount
        {
            differences.push(Found {
                amount_delta: minus(amount, ledger.amount),
                ..found(
                    DifferenceKind::AmountDiffers,
                    Money::ZERO,
                    currency_clash.is_none(),
                    currency_clash.clone().unwrap_or_default(),
                )
            });
        }
    }

    match (record.cleared_at, ledger.cleared) {
        (Some(cleared), false) => differences.push(found(
            DifferenceKind::ClearedDiffers,
            Money::ZERO,
            true,
            format!("cleared at impact.com on {}", day(cleared)),
        )),
        (None, true) => differences.push(found(
            DifferenceKind::ClearedDiffers,
            Money::ZERO,
            false,
            "a clearing named it here; impact.com does not list it cleared".to_owned(),
        )),
        _ => {}
    }
    differences
}

/// An action of the ledger, in the period, that the network does not list.
pub fn missing_there(ledger: &LedgerSide) -> Found {
    let payout = if ledger.status == ActionStatus::Reversed {
        Money::ZERO
    } else {
        ledger.payout
    };
    Found {
        kind: DifferenceKind::MissingThere,
        payout_delta: minus(Money::ZERO, payout),
        amount_delta: minus(Money::ZERO, ledger.amount),
        fillable: false,
        note: "impact.com does not list it for this period (a test, or an id it withdrew)"
            .to_owned(),
    }
}

/// The lifecycle event a fill records for a network record, given the ledger's payout and
/// amount when the difference was found (None: the ledger had no event of the action).
///
/// A record that carries `DeltaPayout` is the link the latest postback would have carried. One
/// without (a report's row usually has none), or whose latest update moved no money (a delta of
/// 0, a link from the value to itself that leads nowhere), gets the link from the ledger's value
/// to the network's, so the set rule moves the ledger to the network's value rather than keeping
/// the head its postbacks lead to; with nothing in the ledger, it gets no link, and as the only
/// event its value is the action's. A reversal without a delta reverses what the ledger held.
pub fn fill_event(record: &NetworkRecord, ledger: Option<(Money, Money)>) -> ActionEvent {
    let mut event = record.event.clone();
    event.details.cleared_date = None;
    let moved = |delta: Option<Money>| delta.filter(|delta| !delta.is_zero());
    let Some((payout, amount)) = ledger else {
        event.delta_payout = moved(event.delta_payout);
        event.delta_amount = moved(event.delta_amount);
        return event;
    };
    let reversed = event.effective_status() == ActionStatus::Reversed;
    let link = |delta: Option<Money>, value: Option<Money>, held: Money| match moved(delta) {
        Some(delta) => Some(delta),
        None if reversed => Money::ZERO.checked_sub(held),
        None => value.and_then(|value| value.checked_sub(held)),
    };
    event.delta_payout = link(event.delta_payout, event.payout, payout);
    event.delta_amount = link(event.delta_amount, event.amount, amount);
    event
}

/// Is `postback` the change `network` stands for? Both reversals or neither, the same payout,
/// and the same `DeltaPayout` unless one of them has none.
fn same_change(network: &RecordedEvent, postback: &RecordedEvent) -> bool {
    let reversal = |event: &RecordedEvent| event.status == ActionStatus::Reversed;
    reversal(network) == reversal(postback)
        && network.payout == postback.payout
        && match (network.delta_payout, postback.delta_payout) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
        && match (&network.currency, &postback.currency) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => true,
        }
}

/// The higher of two statuses of the same change: approved over pending (a reversal is part of
/// the change itself).
fn stronger(a: ActionStatus, b: ActionStatus) -> ActionStatus {
    match (a, b) {
        (ActionStatus::Reversed, _) | (_, ActionStatus::Reversed) => ActionStatus::Reversed,
        (ActionStatus::Approved, _) | (_, ActionStatus::Approved) => ActionStatus::Approved,
        _ => ActionStatus::Pending,
    }
}

/// The payout a run found the ledger missing, per currency: the network's side of the open
/// `missing_here` and `payout_differs` differences, where the network lists more.
/// `totals` are (kind, currency, open differences, network minus ledger).
pub fn money_missing(
    totals: impl IntoIterator<Item = (DifferenceKind, Option<String>, i64, i64)>,
) -> Vec<(String, Money)> {
    let mut missing: std::collections::BTreeMap<String, i64> = Default::default();
    for (kind, currency, open, payout_delta) in totals {
        if matches!(
            kind,
            DifferenceKind::MissingHere | DifferenceKind::PayoutDiffers
        ) && open > 0
            && payout_delta > 0
        {
            *missing.entry(currency.unwrap_or_default()).or_default() += payout_delta;
        }
    }
    missing
        .into_iter()
        .map(|(currency, units)| (currency, Money::from_minor_units(units)))
        .collect()
}

/// Pairs each network event with a postback of the same change, each postback used once: for
/// every event, the index of its partner.
pub fn same_change_pairs(events: &[RecordedEvent]) -> Vec<Option<usize>> {
    let mut partner_of = vec![None; events.len()];
    for network in 0..events.len() {
        if events[network].origin != Origin::NetworkRecord {
            continue;
        }
        let partner = (0..events.len()).find(|&other| {
            events[other].origin == Origin::Postback
                && partner_of[other].is_none()
                && same_change(&events[network], &events[other])
        });
        if let Some(postback) = partner {
            partner_of[postback] = Some(network);
            partner_of[network] = Some(postback);
        }
    }
    partner_of
}

/// The set of distinct changes: each network event that a postback of the same change also
/// reports is dropped, its status kept on that postback (see the module's documentation).
/// Borrowed, untouched, when the set holds no network event (every set the postbacks alone make).
pub fn distinct_changes(events: &[RecordedEvent]) -> Cow<'_, [RecordedEvent]> {
    if events
        .iter()
        .all(|event| event.origin != Origin::NetworkRecord)
    {
        return Cow::Borrowed(events);
    }
    let partner_of = same_change_pairs(events);
    let mut kept = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        match (event.origin, partner_of[index]) {
            (Origin::NetworkRecord, Some(_)) => {}
            (Origin::Postback, Some(network)) => {
                let mut event = event.clone();
                event.status = stronger(event.status, events[network].status);
                kept.push(event);
            }
            _ => kept.push(event.clone()),
        }
    }
    Cow::Owned(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::SentDate;

    /// The rule's answers, unwrapped: these histories stay far from any overflow.
    mod reconcile {
        pub use crate::domain::reconcile::Effect;
        use crate::domain::reconcile::{Position, Reconciled, RecordedEvent};

        pub fn reconcile(before: Option<&Position>, events: &[RecordedEvent]) -> Reconciled {
            crate::domain::reconcile::reconcile(before, events).unwrap()
        }
    }

    fn position(events: &[RecordedEvent]) -> crate::domain::reconcile::Position {
        crate::domain::reconcile::position(events).unwrap()
    }

    fn money(units: i64) -> Money {
        Money::from_minor_units(units * 10_000)
    }

    fn at(day: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 5, day)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    }

    fn recorded(
        seq: i64,
        origin: Origin,
        status: ActionStatus,
        payout: i64,
        delta: Option<i64>,
    ) -> RecordedEvent {
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
            origin,
        }
    }

    fn record(status: ActionStatus, payout: i64, delta: Option<i64>) -> NetworkRecord {
        let mut event = ActionEvent {
            action_id: "A1".into(),
            status: Some(status),
            status_raw: Some(status.as_str().to_ascii_uppercase()),
            payout: Some(money(payout)),
            delta_payout: delta.map(money),
            ..ActionEvent::default()
        };
        event.details.payout_currency = Some("USD".into());
        NetworkRecord {
            event,
            cleared_at: None,
            raw: "{}".into(),
        }
    }

    fn ledger(status: ActionStatus, payout: i64) -> LedgerSide {
        LedgerSide {
            status,
            payout: money(payout),
            amount: Money::ZERO,
            currency: Some("USD".into()),
            locking_date: Some(at(20)),
            cleared: false,
            tracked: true,
        }
    }

    fn kinds(found: &[Found]) -> Vec<(DifferenceKind, Money, bool)> {
        found
            .iter()
            .map(|found| (found.kind, found.payout_delta, found.fillable))
            .collect()
    }

    use ActionStatus::*;
    use DifferenceKind::*;

    #[test]
    fn an_action_the_ledger_never_saw_is_missing_here_with_its_payout() {
        let found = compare(&record(Pending, 12, Some(12)), None, at(1));
        assert_eq!(kinds(&found), [(MissingHere, money(12), true)]);
        // A placeholder a clearing made is no event either.
        let placeholder = LedgerSide {
            tracked: false,
            ..ledger(Pending, 0)
        };
        let found = compare(&record(Pending, 12, None), Some(&placeholder), at(1));
        assert_eq!(kinds(&found), [(MissingHere, money(12), true)]);
    }

    #[test]
    fn a_reversal_there_is_a_status_difference_taking_the_payout_away() {
        let found = compare(
            &record(Reversed, 0, Some(-10)),
            Some(&ledger(Pending, 10)),
            at(1),
        );
        assert_eq!(kinds(&found), [(StatusDiffers, money(-10), true)]);
        let found = compare(
            &record(Pending, 10, None),
            Some(&ledger(Reversed, 0)),
            at(1),
        );
        assert_eq!(kinds(&found), [(StatusDiffers, money(10), false)]);
    }

    #[test]
    fn approved_there_is_checked_against_the_derived_locked_state() {
        let approved = record(Approved, 10, Some(10));
        // Pending here, the locking date still ahead: the locking rule disagrees.
        let found = compare(&approved, Some(&ledger(Pending, 10)), at(1));
        assert_eq!(kinds(&found), [(StatusDiffers, Money::ZERO, true)]);
        // Locked here by its date: consistent.
        assert!(compare(&approved, Some(&ledger(Pending, 10)), at(21)).is_empty());
        // Locked here, still pending there: listed, not fillable unless the date moved.
        let pending = record(Pending, 10, Some(10));
        let found = compare(&pending, Some(&ledger(Pending, 10)), at(21));
        assert_eq!(kinds(&found), [(StatusDiffers, Money::ZERO, false)]);
        let mut moved = pending.clone();
        moved.event.details.locking_date = Some(SentDate {
            utc: Some(at(28)),
            text: "2026-05-28".into(),
        });
        let found = compare(&moved, Some(&ledger(Pending, 10)), at(21));
        assert_eq!(kinds(&found), [(StatusDiffers, Money::ZERO, true)]);
    }

    #[test]
    fn payout_amount_and_clearing_differences_are_found_apart() {
        let mut there = record(Pending, 8, Some(-2));
        there.event.amount = Some(money(80));
        there.cleared_at = Some(at(15));
        let mut here = ledger(Pending, 10);
        here.amount = money(100);
        let found = compare(&there, Some(&here), at(1));
        assert_eq!(
            kinds(&found),
            [
                (PayoutDiffers, money(-2), true),
                (AmountDiffers, Money::ZERO, true),
                (ClearedDiffers, Money::ZERO, true)
            ]
        );
        assert_eq!(found[1].amount_delta, money(-20));
        here.currency = Some("EUR".into());
        let found = compare(&there, Some(&here), at(1));
        assert!(!found[0].fillable, "another currency is not filled");
        assert!(found[0].note.contains("currency"), "{}", found[0].note);
    }

    #[test]
    fn a_ledger_action_the_network_does_not_list_takes_its_payout_away() {
        let found = missing_there(&ledger(Pending, 7));
        assert_eq!(
            (found.kind, found.payout_delta, found.fillable),
            (MissingThere, money(-7), false)
        );
    }

    #[test]
    fn a_fill_without_a_delta_links_the_ledgers_value_to_the_networks() {
        let event = fill_event(&record(Pending, 8, None), Some((money(10), Money::ZERO)));
        assert_eq!(event.delta_payout, Some(money(-2)));
        let event = fill_event(&record(Reversed, 0, None), Some((money(10), Money::ZERO)));
        assert_eq!(event.delta_payout, Some(money(-10)));
        let event = fill_event(
            &record(Pending, 8, Some(-1)),
            Some((money(10), Money::ZERO)),
        );
        assert_eq!(
            event.delta_payout,
            Some(money(-1)),
            "the network's own delta"
        );
        let event = fill_event(&record(Pending, 8, None), None);
        assert_eq!(event.delta_payout, None, "nothing to link from");
        // A latest update that moved no money links nothing: the ledger's value to the
        // network's instead, or, with nothing in the ledger, no link at all.
        let event = fill_event(
            &record(Approved, 8, Some(0)),
            Some((money(10), Money::ZERO)),
        );
        assert_eq!(event.delta_payout, Some(money(-2)));
        let event = fill_event(&record(Approved, 8, Some(0)), None);
        assert_eq!(event.delta_payout, None);
        let first = reconcile::reconcile(
            None,
            &[RecordedEvent {
                payout: event.payout,
                delta_payout: event.delta_payout,
                ..recorded(1, Origin::NetworkRecord, Approved, 8, None)
            }],
        );
        assert_eq!(first.position.payout, money(8));
    }

    /// The meeting of a fill and a postback of the same change, in both orders.
    #[test]
    fn a_postback_and_a_filled_record_of_the_same_change_count_once() {
        let tracked = recorded(1, Origin::Postback, Pending, 10, Some(10));
        let filled_reversal = recorded(2, Origin::NetworkRecord, Reversed, 0, Some(-10));
        let late_reversal = recorded(3, Origin::Postback, Reversed, 0, Some(-10));
        let before = position(&[tracked.clone(), filled_reversal.clone()]);
        assert_eq!((before.status, before.payout), (Reversed, Money::ZERO));
        assert!(before.flags.is_empty());
        let after = reconcile::reconcile(
            Some(&before),
            &[
                tracked.clone(),
                filled_reversal.clone(),
                late_reversal.clone(),
            ],
        );
        assert!(after.entries.is_empty(), "no second reversal entry");
        assert_eq!(after.effect, reconcile::Effect::Stale);
        assert!(
            after.position.flags.is_empty(),
            "{:?}",
            after.position.flags
        );

        // A missing action filled, then its tracking postback: still one tracking.
        let filled = recorded(1, Origin::NetworkRecord, Pending, 10, None);
        let first = reconcile::reconcile(None, std::slice::from_ref(&filled));
        assert_eq!(first.entries.len(), 1);
        let late = recorded(2, Origin::Postback, Pending, 10, Some(10));
        let second = reconcile::reconcile(Some(&first.position), &[filled, late]);
        assert!(second.entries.is_empty());
        assert_eq!(second.position.payout, money(10));

        // The network's APPROVED of a change the postback reported as pending is kept.
        let approved = recorded(2, Origin::NetworkRecord, Approved, 10, Some(10));
        assert_eq!(position(&[tracked.clone(), approved]).status, Approved);
    }

    #[test]
    fn each_filled_record_stands_for_at_most_one_postback() {
        // 10 -> 5 happened twice (10 -> 5 -> 10 -> 5); the network's record of the latest
        // fills the second; the first postback pairs with it, the second is then its own.
        let events = [
            recorded(1, Origin::Postback, Pending, 10, Some(10)),
            recorded(2, Origin::Postback, Pending, 5, Some(-5)),
            recorded(3, Origin::Postback, Pending, 10, Some(5)),
            recorded(4, Origin::NetworkRecord, Pending, 5, Some(-5)),
            recorded(5, Origin::Postback, Pending, 5, Some(-5)),
        ];
        let distinct = distinct_changes(&events);
        assert_eq!(distinct.len(), 4);
        assert!(
            distinct
                .iter()
                .all(|event| event.origin == Origin::Postback)
        );
        assert_eq!(position(&events).payout, money(5));
        // Without any network event the set is passed through as it is.
        assert!(matches!(distinct_changes(&events[..3]), Cow::Borrowed(_)));
    }
}
