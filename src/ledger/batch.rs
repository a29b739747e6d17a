//! The write path: applies a batch of deliveries in one transaction, one outcome each.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::Connection;

use crate::domain::book::Book;
use crate::domain::cross_check::Origin;
use crate::domain::event::{ActionEvent, ActionStatus, Postback, SourceKind};
use crate::domain::money::Money;
use crate::domain::outcome::{Outcome, Stored};
use crate::domain::reconcile::{self, Effect, EntryKind, Position, RecordedEvent};
use crate::intake::delivery::IncomingDelivery;
use crate::ledger::kinds;
use crate::storage::action_details::{RowDetails, StoredDetails};
use crate::storage::action_events::{self, NewActionEvent};
use crate::storage::actions::{self, ActionRow, StoredState};
use crate::storage::deliveries::{self, NewDelivery};
use crate::storage::ledger_entries::{self, NewLedgerEntry};
use crate::storage::{self, clearances, closed_months, inquiries};
use crate::storage::{AnyConnection, Backend, StorageError, from_db_time, to_db_time};

/// What applying one understood postback did: an effect, or the reason it stays quarantined.
pub type Applied = Result<Effect, String>;

/// The book's zone and closed months, read once per batch. A zone the database holds that this
/// build cannot read is an error: booking into the wrong months would be silent.
pub fn load_book(conn: &mut AnyConnection) -> Result<Book, StorageError> {
    let (zone, closed) = closed_months::book_facts(conn)?;
    let zone = match zone {
        None => chrono_tz::Tz::UTC,
        Some(name) => name
            .parse()
            .map_err(|_| StorageError::Corrupt(format!("unknown stored time zone `{name}`")))?,
    };
    Ok(Book {
        zone,
        closed: closed.into_iter().collect(),
    })
}

/// Applies every delivery in one transaction (one fsync for the batch). Action and quarantined
/// deliveries, nearly all of the traffic, are applied a run at a time: a handful of multi-row
/// statements per run rather than six to eight per delivery, which was the single SQLite
/// writer's limit. Other kinds go one by one. The batch is first applied without savepoints
/// (they copy every page a run touches); if anything fails
/// it is rolled back and applied again with a savepoint per run, and a run that fails then is
/// applied again one delivery per savepoint, so one that fails gets its own error and the
/// others still commit. The outer error means nothing was stored.
pub fn apply_batch(
    conn: &mut AnyConnection,
    backend: Backend,
    batch: &[IncomingDelivery],
) -> Result<Vec<Result<Stored, StorageError>>, StorageError> {
    let rekeyed = stored_under_legacy_keys(conn, batch)?;
    let batch = rekeyed.as_deref().unwrap_or(batch);
    let all_at_once = storage::write_transaction(conn, |conn| {
        lock_actions(conn, backend, batch)?;
        let book = load_book(conn)?;
        let mut results = Vec::with_capacity(batch.len());
        for run in runs(batch) {
            if applied_in_runs(&run[0]) {
                results.extend(apply_run(conn, run, &book)?.into_iter().map(Ok));
            } else {
                results.push(Ok(apply_one(conn, backend, &run[0], &book)?));
            }
        }
        Ok::<_, StorageError>(results)
    });
    match all_at_once {
        Ok(results) => return Ok(results),
        Err(error) => {
            tracing::warn!(error = %error, deliveries = batch.len(), "a batch was not stored at once; storing it with a savepoint per run")
        }
    }
    storage::write_transaction(conn, |conn| {
        lock_actions(conn, backend, batch)?;
        let book = load_book(conn)?;
        let mut results = Vec::with_capacity(batch.len());
        for run in runs(batch) {
            if !applied_in_runs(&run[0]) {
                results.push(conn.transaction(|conn| apply_one(conn, backend, &run[0], &book)));
                continue;
            }
            match conn.transaction(|conn| apply_run(conn, run, &book)) {
                Ok(stored) => results.extend(stored.into_iter().map(Ok)),
                Err(error) if run.len() == 1 => results.push(Err(error)),
                Err(error) => {
                    tracing::warn!(error = %error, deliveries = run.len(), "a run was not stored; storing its deliveries one by one");
                    results.extend(run.iter().map(|delivery| {
                        conn.transaction(|conn| {
                            apply_run(conn, std::slice::from_ref(delivery), &book)
                        })
                        .map(|mut stored| stored.remove(0))
                    }));
                }
            }
        }
        Ok(results)
    })
}

/// A delivery stored before money values were normalised and sent again is found by the key it
/// had then, and takes that key: it is a duplicate of the stored one. One query, and only for a
/// batch holding a money value not in the normal form.
fn stored_under_legacy_keys(
    conn: &mut AnyConnection,
    batch: &[IncomingDelivery],
) -> Result<Option<Vec<IncomingDelivery>>, StorageError> {
    let legacy: Vec<&str> = batch
        .iter()
        .filter_map(|delivery| delivery.legacy_key.as_deref())
        .collect();
    if legacy.is_empty() {
        return Ok(None);
    }
    let stored: std::collections::HashSet<String> = deliveries::ids_of_keys(conn, &legacy)?
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    if stored.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        batch
            .iter()
            .map(|delivery| {
                let mut delivery = delivery.clone();
                if let Some(old) = delivery.legacy_key.take_if(|old| stored.contains(old)) {
                    delivery.dedup_key = old;
                }
                delivery
            })
            .collect(),
    ))
}

/// On PostgreSQL, locks the batch's actions up front, in id order (see `actions::lock_all`).
fn lock_actions(
    conn: &mut AnyConnection,
    backend: Backend,
    batch: &[IncomingDelivery],
) -> Result<(), StorageError> {
    if backend == Backend::Postgres {
        let action_ids: Vec<&str> = batch
            .iter()
            .filter_map(|delivery| match &delivery.understood {
                Ok(Postback::Action(event)) => Some(event.action_id.as_str()),
                _ => None,
            })
            .collect();
        actions::lock_all(conn, &action_ids)?;
    }
    Ok(())
}

/// The batch cut into runs of deliveries `apply_run` handles, each other delivery a run of one.
fn runs(batch: &[IncomingDelivery]) -> impl Iterator<Item = &[IncomingDelivery]> {
    let mut rest = batch;
    std::iter::from_fn(move || {
        let first = rest.first()?;
        let length = if applied_in_runs(first) {
            rest.iter().take_while(|d| applied_in_runs(d)).count()
        } else {
            1
        };
        let (run, after) = rest.split_at(length);
        rest = after;
        Some(run)
    })
}

/// Action events and quarantined deliveries: what `apply_run` handles. (The other kinds touch
/// several tables each and are rare; they keep the one-by-one path.)
fn applied_in_runs(delivery: &IncomingDelivery) -> bool {
    matches!(&delivery.understood, Ok(Postback::Action(_)) | Err(_))
}

/// The inbox row's own fields, owned so that a `NewDelivery` can borrow them.
struct InboxFields {
    outcome: Outcome,
    reason: Option<String>,
    warnings: Option<String>,
    subject_id: Option<String>,
    at: NaiveDateTime,
}

impl InboxFields {
    fn of(delivery: &IncomingDelivery) -> InboxFields {
        let (outcome, reason) = match &delivery.understood {
            Err(quarantine) => (Outcome::Quarantined, Some(quarantine.to_string())),
            Ok(_) => (Outcome::Applied, None),
        };
        InboxFields {
            outcome,
            reason,
            warnings: (!delivery.warnings.is_empty())
                .then(|| serde_json::to_string(&delivery.warnings).unwrap_or_default()),
            subject_id: delivery
                .understood
                .as_ref()
                .ok()
                .and_then(Postback::subject_id),
            at: to_db_time(delivery.received_at),
        }
    }

    fn row<'a>(&'a self, delivery: &'a IncomingDelivery) -> NewDelivery<'a> {
        NewDelivery {
            source: &delivery.source,
            kind: delivery.kind,
            dedup_key: &delivery.dedup_key,
            received_at: self.at,
            last_received_at: self.at,
            times_received: 1,
            method: &delivery.method,
            content_type: delivery.content_type.as_deref(),
            query: &delivery.query,
            body: Some(&delivery.body),
            client_addr: delivery.client_addr.as_deref(),
            outcome: self.outcome,
            reason: self.reason.as_deref(),
            warnings: self.warnings.as_deref(),
            subject_id: self.subject_id.as_deref(),
        }
    }
}

/// Applies a run of action and quarantined deliveries with one statement per step for the whole
/// run: inbox rows (the database's unique key still decides what is a repeat), repeats counted,
/// the actions' states and events read, every event reconciled in memory in arrival order (the
/// same rule, the same order, so the same outcomes and entries as one at a time), then actions,
/// events and entries written and the outcomes that are not `applied` set.
fn apply_run(
    conn: &mut AnyConnection,
    run: &[IncomingDelivery],
    book: &Book,
) -> Result<Vec<Stored>, StorageError> {
    let fields: Vec<InboxFields> = run.iter().map(InboxFields::of).collect();
    // Each key once: a later copy in the run is a repeat of the first.
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(run.len());
    let mut rows = Vec::with_capacity(run.len());
    for (index, delivery) in run.iter().enumerate() {
        if let Entry::Vacant(slot) = first_of.entry(delivery.dedup_key.as_str()) {
            slot.insert(index);
            rows.push(fields[index].row(delivery));
        }
    }
    let mut id_of: HashMap<String, i64> = deliveries::insert_all_unless_repeat(conn, &rows)?
        .into_iter()
        .map(|(id, key)| (key, id))
        .collect();
    let new: Vec<(usize, i64)> = run
        .iter()
        .enumerate()
        .filter(|(index, delivery)| first_of[delivery.dedup_key.as_str()] == *index)
        .filter_map(|(index, delivery)| Some((index, *id_of.get(&delivery.dedup_key)?)))
        .collect();

    // Repeats, counted on the original: (key, how many, the last one's time), in run order.
    let mut repeats: Vec<(&str, i32, NaiveDateTime)> = Vec::new();
    let mut repeat_of: HashMap<&str, usize> = HashMap::new();
    for (index, delivery) in run.iter().enumerate() {
        let key = delivery.dedup_key.as_str();
        if first_of[key] == index && id_of.contains_key(key) {
            continue;
        }
        match repeat_of.entry(key) {
            Entry::Occupied(slot) => {
                let repeat = &mut repeats[*slot.get()];
                repeat.1 += 1;
                repeat.2 = fields[index].at;
            }
            Entry::Vacant(slot) => {
                slot.insert(repeats.len());
                repeats.push((key, 1, fields[index].at));
            }
        }
    }
    for (key, times, at) in &repeats {
        deliveries::count_repeats(conn, key, *times, *at)?;
    }
    let stored_before: Vec<&str> = repeats
        .iter()
        .map(|(key, _, _)| *key)
        .filter(|key| !id_of.contains_key(*key))
        .collect();
    if !stored_before.is_empty() {
        id_of.extend(
            deliveries::ids_of_keys(conn, &stored_before)?
                .into_iter()
                .map(|(id, key)| (key, id)),
        );
    }

    let mut action_ids: Vec<&str> = new
        .iter()
        .filter_map(|(index, _)| match &run[*index].understood {
            Ok(Postback::Action(event)) => Some(event.action_id.as_str()),
            _ => None,
        })
        .collect();
    action_ids.sort_unstable();
    action_ids.dedup();
    let mut ledger = Ledger::load(conn, &action_ids, book)?;
    let mut outcomes: HashMap<usize, Outcome> = HashMap::with_capacity(new.len());
    // Refused by the ledger rule (no payout, an overflow): quarantined, per reason.
    let mut refused: Vec<(String, i64)> = Vec::new();
    for &(index, delivery_id) in &new {
        let delivery = &run[index];
        let outcome = match &delivery.understood {
            Ok(Postback::Action(event)) => {
                let applied = ledger.apply(
                    delivery_id,
                    &delivery.source,
                    fields[index].at,
                    event,
                    delivery.is_test,
                    origin_of(delivery.kind),
                )?;
                if let Err(reason) = &applied {
                    refused.push((reason.clone(), delivery_id));
                }
                outcome_of(applied)
            }
            _ => fields[index].outcome,
        };
        outcomes.insert(index, outcome);
    }
    ledger.write(conn)?;
    refused.sort();
    for group in refused.chunk_by(|a, b| a.0 == b.0) {
        let ids: Vec<i64> = group.iter().map(|(_, id)| *id).collect();
        deliveries::quarantine_all(conn, &ids, &group[0].0)?;
    }
    for changed in [Outcome::Stale, Outcome::Flagged] {
        let ids: Vec<i64> = new
            .iter()
            .filter(|(index, _)| outcomes[index] == changed)
            .map(|(_, id)| *id)
            .collect();
        if !ids.is_empty() {
            deliveries::set_outcome_of(conn, &ids, changed.as_str())?;
        }
    }

    run.iter()
        .enumerate()
        .map(|(index, delivery)| {
            let delivery_id = *id_of.get(&delivery.dedup_key).ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "delivery key {} neither inserted nor stored",
                    delivery.dedup_key
                ))
            })?;
            Ok(Stored {
                delivery_id,
                outcome: outcomes.get(&index).copied().unwrap_or(Outcome::Duplicate),
            })
        })
        .collect()
}

/// One delivery of a kind other than an action event, in its own savepoint.
fn apply_one(
    conn: &mut AnyConnection,
    backend: Backend,
    delivery: &IncomingDelivery,
    book: &Book,
) -> Result<Stored, StorageError> {
    if let Ok(postback) = &delivery.understood {
        lock_subjects(conn, backend, postback)?;
    }
    let fields = InboxFields::of(delivery);
    let at = fields.at;
    let Some(delivery_id) = deliveries::insert_unless_repeat(conn, &fields.row(delivery))? else {
        let (delivery_id, _) = deliveries::count_repeat(conn, &delivery.dedup_key, at)?;
        return Ok(Stored {
            delivery_id,
            outcome: Outcome::Duplicate,
        });
    };
    let outcome = match &delivery.understood {
        Ok(postback) => {
            let arrival = Arrival {
                delivery_id,
                source: &delivery.source,
                at,
                is_test: delivery.is_test,
                origin: origin_of(delivery.kind),
            };
            let applied = apply_postback(conn, backend, &arrival, postback, book)?;
            if let Err(reason) = &applied {
                deliveries::quarantine_all(conn, &[delivery_id], reason)?;
            }
            let outcome = outcome_of(applied);
            if outcome != Outcome::Applied && outcome != Outcome::Quarantined {
                deliveries::set_outcome_of(conn, &[delivery_id], outcome.as_str())?;
            }
            outcome
        }
        Err(_) => fields.outcome,
    };
    Ok(Stored {
        delivery_id,
        outcome,
    })
}

/// A network's own record, filled in by a reconciliation run, or a postback.
fn origin_of(kind: SourceKind) -> Origin {
    match kind {
        SourceKind::NetworkRecord => Origin::NetworkRecord,
        _ => Origin::Postback,
    }
}

fn outcome_of(applied: Applied) -> Outcome {
    match applied {
        Ok(Effect::Applied) => Outcome::Applied,
        Ok(Effect::Stale) => Outcome::Stale,
        Ok(Effect::Flagged) => Outcome::Flagged,
        Err(_) => Outcome::Quarantined,
    }
}

/// Takes the advisory locks the postback's writes need, always actions before inquiries and
/// action ids in sorted order, so two instances never wait on each other in a cycle.
fn lock_subjects(
    conn: &mut AnyConnection,
    backend: Backend,
    postback: &Postback,
) -> Result<(), StorageError> {
    match postback {
        Postback::Action(event) => actions::lock(conn, backend, &event.action_id)?,
        Postback::Inquiry(event) => inquiries::lock(conn, backend, &event.inquiry_id)?,
        Postback::Clearing(event) => {
            let mut ids: Vec<&String> = event.action_ids.iter().collect();
            ids.sort();
            for id in ids {
                actions::lock(conn, backend, id)?;
            }
        }
        Postback::Product(_) | Postback::Job(_) | Postback::TrackingValue(_) => {}
    }
    Ok(())
}

/// One stored delivery as what it applies is recorded with.
pub struct Arrival<'a> {
    pub delivery_id: i64,
    pub source: &'a str,
    /// When it arrived.
    pub at: NaiveDateTime,
    pub is_test: bool,
    /// A postback, or a network's record filled in by a reconciliation run.
    pub origin: Origin,
}

/// Applies an understood postback of any kind.
fn apply_postback(
    conn: &mut AnyConnection,
    backend: Backend,
    arrival: &Arrival<'_>,
    postback: &Postback,
    book: &Book,
) -> Result<Applied, StorageError> {
    let Arrival {
        delivery_id,
        source,
        at,
        ..
    } = *arrival;
    Ok(Ok(match postback {
        Postback::Action(event) => return apply_action_event(conn, arrival, event, book),
        Postback::Inquiry(event) => kinds::apply_inquiry(conn, delivery_id, source, at, event)?,
        Postback::Clearing(event) => kinds::apply_clearing(conn, backend, arrival, event, book)?,
        Postback::Product(event) => kinds::apply_product(conn, delivery_id, source, at, event)?,
        Postback::Job(event) => kinds::apply_job(conn, delivery_id, source, at, event)?,
        Postback::TrackingValue(event) => {
            kinds::apply_tracking_value(conn, delivery_id, source, at, event)?
        }
    }))
}

/// Records the event in the action's set, recomputes the state from the whole set and appends
/// the entries that move the stored state to the new one.
pub fn apply_action_event(
    conn: &mut AnyConnection,
    arrival: &Arrival<'_>,
    event: &ActionEvent,
    book: &Book,
) -> Result<Applied, StorageError> {
    let mut ledger = Ledger::load(conn, &[event.action_id.as_str()], book)?;
    let applied = ledger.apply(
        arrival.delivery_id,
        arrival.source,
        arrival.at,
        event,
        arrival.is_test,
        arrival.origin,
    )?;
    ledger.write(conn)?;
    Ok(applied)
}

/// What the write path knows of one action while it applies events to it.
#[derive(Default)]
struct Memo<'a> {
    /// The stored row's source and state (after the events applied so far); None: no row yet.
    stored: Option<(String, StoredState)>,
    /// Its set of events, in arrival order, with when each arrived.
    events: Vec<RecordedEvent>,
    received_at: Vec<DateTime<Utc>>,
    /// When its clearing was booked; None: not cleared.
    cleared_at: Option<DateTime<Utc>>,
    /// The currencies this run's events gave, to point the row's currency at (the action's
    /// currency is one of them, or the stored one).
    run_currencies: Vec<&'a str>,
    /// The row to write once every event is applied; None: no event touched it.
    row: Option<ActionRow<'a>>,
    /// The details as the database had them before this run; None: no row yet.
    details: Option<StoredDetails>,
}

/// The actions of a run: read once, reconciled in memory event by event, written once.
struct Ledger<'a> {
    memos: HashMap<&'a str, Memo<'a>>,
    events: Vec<NewActionEvent<'a>>,
    entries: Vec<NewLedgerEntry<'a>>,
    book: &'a Book,
}

impl<'a> Ledger<'a> {
    fn load(
        conn: &mut AnyConnection,
        action_ids: &[&'a str],
        book: &'a Book,
    ) -> Result<Ledger<'a>, StorageError> {
        let mut memos: HashMap<&'a str, Memo<'a>> =
            action_ids.iter().map(|id| (*id, Memo::default())).collect();
        let mut stored_ids = Vec::new();
        if !action_ids.is_empty() {
            for stored in actions::states_of(conn, action_ids)? {
                if let Some(memo) = memos.get_mut(stored.action_id.as_str()) {
                    memo.details = Some(stored.details);
                    memo.stored = Some((stored.source, stored.state));
                    stored_ids.push(stored.action_id);
                }
            }
            for (id, recorded_at) in clearances::booked_among(conn, action_ids)? {
                if let Some(memo) = memos.get_mut(id.as_str()) {
                    memo.cleared_at = Some(from_db_time(recorded_at));
                }
            }
        }
        // Only stored actions have events (they reference the action).
        if !stored_ids.is_empty() {
            for row in action_events::of_actions(conn, &stored_ids)? {
                if let Some(memo) = memos.get_mut(row.action_id.as_str()) {
                    memo.events.push(row.recorded());
                    memo.received_at.push(from_db_time(row.received_at));
                }
            }
        }
        Ok(Ledger {
            memos,
            events: Vec::new(),
            entries: Vec::new(),
            book,
        })
    }

    /// Adds the event to its action's set, recomputes the state from the whole set and notes the
    /// entries that move the previous state to the new one.
    fn apply(
        &mut self,
        delivery_id: i64,
        source: &str,
        at: NaiveDateTime,
        event: &'a ActionEvent,
        is_test: bool,
        origin: Origin,
    ) -> Result<Applied, StorageError> {
        let memo = self
            .memos
            .get_mut(event.action_id.as_str())
            .ok_or_else(|| {
                StorageError::Corrupt(format!("action {} not loaded", event.action_id))
            })?;
        // A placeholder (made by a clearing, no event yet) has no money and no entry: its first
        // event reconciles as the first event of a new action.
        let placeholder = memo.stored.is_some() && memo.events.is_empty();
        // The first event of an action must say its payout: booked as 0.00 it would be silent.
        if let Err(refusal) = reconcile::admit(memo.events.is_empty(), event.payout) {
            return Ok(Err(refusal.to_string()));
        }
        let before = match &memo.stored {
            Some((_, state)) if !placeholder => Some(Position {
                currency: reconcile::action_currency(&memo.events),
                ..position_of_state(state)?
            }),
            _ => None,
        };
        let currency = event.details.payout_currency.as_deref();
        memo.events.push(RecordedEvent {
            seq: delivery_id,
            status: event.effective_status(),
            unknown_status: event.has_unknown_status(),
            payout: event.payout,
            delta_payout: event.delta_payout,
            amount: event.amount,
            delta_amount: event.delta_amount,
            currency: currency.map(str::to_owned),
            event_date: event.details.event_date.as_ref().and_then(|date| date.utc),
            origin,
        });
        memo.received_at.push(from_db_time(at));
        let stored_locking_date = memo
            .stored
            .as_ref()
            .and_then(|(_, state)| state.locking_date);
        let context = reconcile::Context {
            locking_date: event
                .details
                .locking_date
                .as_ref()
                .and_then(|date| date.utc)
                .or_else(|| stored_locking_date.map(from_db_time)),
            received_at: memo.received_at.clone(),
            cleared: memo.stored.is_some() && memo.cleared_at.is_some(),
            cleared_at: memo.cleared_at,
        };
        let reconciled = match reconcile::reconcile_in(before.as_ref(), &memo.events, &context) {
            Ok(reconciled) => reconciled,
            Err(overflow) => {
                memo.events.pop();
                memo.received_at.pop();
                return Ok(Err(overflow.to_string()));
            }
        };
        memo.run_currencies.extend(currency);

        let row = memo.row.get_or_insert_with(|| ActionRow {
            action_id: &event.action_id,
            source: memo
                .stored
                .as_ref()
                .map_or(source, |(source, _)| source.as_str())
                .to_owned(),
            status: ActionStatus::Pending,
            payout: 0,
            amount: 0,
            flags: String::new(),
            first_seen_at: at,
            last_seen_at: at,
            status_raw: None,
            details: RowDetails::default(),
            items: None,
            extra: None,
            is_test: false,
        });
        if placeholder {
            // Its first lifecycle event makes the action its source's.
            row.source = source.to_owned();
        }
        row.status = reconciled.position.status;
        row.payout = reconciled.position.payout.minor_units();
        row.amount = reconciled.position.amount.minor_units();
        row.flags = reconciled.position.flags.to_string();
        row.last_seen_at = at;
        // A later event never blanks what an earlier one gave.
        if let Some(word) = event.status_raw.as_deref() {
            row.status_raw = Some(word);
        }
        row.details.overlay(
            event
                .details
                .filter_map(|text| Some(text.as_str()), |date| date.utc.map(to_db_time)),
        );
        // The payout currency is the set's, never the last arrival's: one this run gave, or
        // (None) the stored one, kept.
        row.details.payout_currency = reconciled.position.currency.as_deref().and_then(|chosen| {
            memo.run_currencies
                .iter()
                .copied()
                .find(|given| *given == chosen)
        });
        if !event.items.is_empty() {
            row.items = Some(serde_json::to_string(&event.items).unwrap_or_default());
        }
        if !event.extra.is_empty() {
            row.extra = Some(serde_json::to_string(&event.extra).unwrap_or_default());
        }
        row.is_test |= is_test;
        memo.stored = Some((
            row.source.clone(),
            StoredState {
                status: row.status,
                payout: row.payout,
                amount: row.amount,
                flags: reconciled.position.flags.clone(),
                locking_date: row.details.locking_date.or(stored_locking_date),
            },
        ));

        self.events.push(NewActionEvent {
            delivery_id,
            action_id: &event.action_id,
            status: event.recorded_status(),
            status_raw: event.status_raw.as_deref(),
            payout: event.payout.map(Money::minor_units),
            delta_payout: event.delta_payout.map(Money::minor_units),
            amount: event.amount.map(Money::minor_units),
            delta_amount: event.delta_amount.map(Money::minor_units),
            received_at: at,
            currency,
            event_date: event
                .details
                .event_date
                .as_ref()
                .and_then(|date| date.utc)
                .map(to_db_time),
            origin,
        });
        let booking = self.book.place(from_db_time(at));
        for entry in reconciled.entries {
            self.entries.push(NewLedgerEntry {
                action_id: &event.action_id,
                delivery_id,
                kind: entry.kind,
                payout_delta: entry.payout_delta.minor_units(),
                amount_delta: entry.amount_delta.minor_units(),
                recorded_at: at,
                currency: entry.currency,
                month: booking.month.clone(),
                concerns: booking.concerns.clone(),
                after_clearing: memo.cleared_at.is_some() && entry.kind != EntryKind::Tracked,
            });
        }
        Ok(Ok(reconciled.effect))
    }

    /// Actions first (events and entries reference them), each statement's rows in id order.
    fn write(self, conn: &mut AnyConnection) -> Result<(), StorageError> {
        let (mut changed, mut unchanged): (Vec<ActionRow<'a>>, Vec<ActionRow<'a>>) =
            (Vec::new(), Vec::new());
        for memo in self.memos.into_values() {
            let Some(row) = memo.row else { continue };
            match &memo.details {
                Some(stored) if row.keeps_indexed_fields(stored) => unchanged.push(row),
                _ => changed.push(row),
            }
        }
        changed.sort_unstable_by(|a, b| a.action_id.cmp(b.action_id));
        unchanged.sort_unstable_by(|a, b| a.action_id.cmp(b.action_id));
        actions::upsert_all(conn, &changed, &unchanged)?;
        action_events::insert_all(conn, &self.events)?;
        ledger_entries::insert_all(conn, &self.entries)?;
        Ok(())
    }
}

fn position_of_state(state: &StoredState) -> Result<Position, StorageError> {
    Ok(Position {
        status: state.status,
        payout: Money::from_minor_units(state.payout),
        amount: Money::from_minor_units(state.amount),
        currency: None,
        flags: state.flags.clone(),
    })
}

/// Applies a quarantined delivery that the current configuration now understands, in one
/// transaction. Returns its new outcome; a delivery no longer quarantined is left alone.
pub fn release_quarantined(
    conn: &mut AnyConnection,
    backend: Backend,
    delivery_id: i64,
    understood: &Postback,
    warnings: &[String],
    is_test: bool,
) -> Result<Option<Outcome>, StorageError> {
    storage::write_transaction(conn, |conn| {
        lock_subjects(conn, backend, understood)?;
        let Some(delivery) = deliveries::find(conn, delivery_id)? else {
            return Ok(None);
        };
        if delivery.outcome != Outcome::Quarantined {
            return Ok(None);
        }
        let at = delivery.received_at;
        let book = load_book(conn)?;
        let arrival = Arrival {
            delivery_id,
            source: &delivery.source,
            at,
            is_test,
            origin: origin_of(delivery.kind),
        };
        let applied = apply_postback(conn, backend, &arrival, understood, &book)?;
        let reason = applied.as_ref().err().cloned();
        let outcome = outcome_of(applied);
        let subject_id = understood.subject_id();
        let warnings =
            (!warnings.is_empty()).then(|| serde_json::to_string(warnings).unwrap_or_default());
        deliveries::set_outcome(
            conn,
            delivery_id,
            outcome.as_str(),
            reason.as_deref(),
            subject_id.as_deref(),
            warnings.as_deref(),
        )?;
        Ok(Some(outcome))
    })
}
