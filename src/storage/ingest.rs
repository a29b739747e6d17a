//! The write path: applies a batch of deliveries in one transaction, one outcome each.

use diesel::Connection;
use diesel::prelude::*;

use super::action_events::{self, ActionEventRow, NewActionEvent};
use super::actions::{self, ActionFields, ActionState};
use super::deliveries::{self, NewDelivery};
use super::ledger_entries::{self, NewLedgerEntry};
use super::{AnyConnection, Backend, StorageError, to_db_time};
use super::{clearings, inquiries, kinds};
use crate::delivery::{IncomingDelivery, Outcome, Stored};
use crate::event::{ActionEvent, ActionStatus, Postback};
use crate::money::Money;
use crate::reconcile::{self, Effect, Position, RecordedEvent, flags_from_text, flags_to_text};

/// Applies every delivery in one transaction (one fsync for the batch). Each delivery runs in its
/// own savepoint: one that fails gets its own error and the others still commit. The outer error
/// means nothing was stored.
pub fn apply_batch(
    conn: &mut AnyConnection,
    backend: Backend,
    batch: &[IncomingDelivery],
) -> Result<Vec<Result<Stored, StorageError>>, StorageError> {
    conn.transaction(|conn| {
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
        Ok(batch
            .iter()
            .map(|delivery| conn.transaction(|conn| apply_one(conn, backend, delivery)))
            .collect())
    })
}

fn apply_one(
    conn: &mut AnyConnection,
    backend: Backend,
    delivery: &IncomingDelivery,
) -> Result<Stored, StorageError> {
    let at = to_db_time(delivery.received_at);
    if let Ok(postback) = &delivery.understood {
        lock_subjects(conn, backend, postback)?;
    }
    let warnings = (!delivery.warnings.is_empty())
        .then(|| serde_json::to_string(&delivery.warnings).unwrap_or_default());
    let (outcome, reason) = match &delivery.understood {
        Err(quarantine) => (Outcome::Quarantined, Some(quarantine.to_string())),
        Ok(_) => (Outcome::Applied, None),
    };
    let subject_id = delivery
        .understood
        .as_ref()
        .ok()
        .and_then(Postback::subject_id);
    let new = NewDelivery {
        source: &delivery.source,
        kind: delivery.kind.as_str(),
        dedup_key: &delivery.dedup_key,
        received_at: at,
        last_received_at: at,
        times_received: 1,
        method: &delivery.method,
        content_type: delivery.content_type.as_deref(),
        query: &delivery.query,
        body: Some(&delivery.body),
        client_addr: delivery.client_addr.as_deref(),
        outcome: outcome.as_str(),
        reason: reason.as_deref(),
        warnings: warnings.as_deref(),
        subject_id: subject_id.as_deref(),
        payload: delivery.payload.as_deref(),
    };
    let Some(delivery_id) = deliveries::insert_unless_repeat(conn, &new)? else {
        let (delivery_id, _) = deliveries::count_repeat(conn, &delivery.dedup_key, at)?;
        return Ok(Stored {
            delivery_id,
            outcome: Outcome::Duplicate,
        });
    };
    let outcome = match &delivery.understood {
        Ok(postback) => {
            let outcome = outcome_of(apply_postback(
                conn,
                backend,
                delivery_id,
                &delivery.source,
                at,
                postback,
                delivery.is_test,
            )?);
            if outcome != Outcome::Applied {
                diesel::update(super::schema::deliveries::table.find(delivery_id))
                    .set(super::schema::deliveries::outcome.eq(outcome.as_str()))
                    .execute(conn)?;
            }
            outcome
        }
        Err(_) => outcome,
    };
    Ok(Stored {
        delivery_id,
        outcome,
    })
}

fn outcome_of(effect: Effect) -> Outcome {
    match effect {
        Effect::Applied => Outcome::Applied,
        Effect::Stale => Outcome::Stale,
        Effect::Flagged => Outcome::Flagged,
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

/// Applies an understood postback of any kind, recorded as `delivery_id`.
fn apply_postback(
    conn: &mut AnyConnection,
    backend: Backend,
    delivery_id: i64,
    source: &str,
    at: chrono::NaiveDateTime,
    postback: &Postback,
    is_test: bool,
) -> Result<Effect, StorageError> {
    match postback {
        Postback::Action(event) => {
            apply_action_event(conn, delivery_id, source, at, event, is_test)
        }
        Postback::Inquiry(event) => kinds::apply_inquiry(conn, delivery_id, source, at, event),
        Postback::Clearing(event) => {
            kinds::apply_clearing(conn, backend, delivery_id, source, at, event)
        }
        Postback::Product(event) => kinds::apply_product(conn, delivery_id, source, at, event),
        Postback::Job(event) => kinds::apply_job(conn, delivery_id, source, at, event),
        Postback::TrackingValue(event) => {
            kinds::apply_tracking_value(conn, delivery_id, source, at, event)
        }
    }
}

/// Records the event in the action's set, recomputes the state from the whole set and appends
/// the entries that move the stored state to the new one.
pub fn apply_action_event(
    conn: &mut AnyConnection,
    delivery_id: i64,
    source: &str,
    at: chrono::NaiveDateTime,
    event: &ActionEvent,
    is_test: bool,
) -> Result<Effect, StorageError> {
    let stored = actions::find_state(conn, &event.action_id)?;
    let rows = match &stored {
        Some(_) => action_events::of_action(conn, &event.action_id)?,
        None => Vec::new(),
    };
    // A placeholder (made by a clearing, no event yet) has no money and no entry: its first
    // event reconciles as the first event of a new action.
    let placeholder = stored.is_some() && rows.is_empty();
    let before = match &stored {
        Some(state) if !placeholder => Some(position_of_state(state)?),
        _ => None,
    };
    let mut events: Vec<RecordedEvent> = rows.iter().map(recorded).collect::<Result<_, _>>()?;
    let mut received_at: Vec<_> = rows
        .iter()
        .map(|row| super::from_db_time(row.received_at))
        .collect();
    let this = RecordedEvent {
        seq: delivery_id,
        status: event.effective_status(),
        unknown_status: event.has_unknown_status(),
        payout: event.payout,
        delta_payout: event.delta_payout,
        amount: event.amount,
        delta_amount: event.delta_amount,
    };
    events.push(this);
    received_at.push(super::from_db_time(at));
    let context = reconcile::Context {
        locking_date: event
            .locking_date
            .as_ref()
            .and_then(|date| date.utc)
            .or_else(|| stored.as_ref()?.locking_date.map(super::from_db_time)),
        received_at,
        cleared: stored.is_some() && clearings::exists_for(conn, &event.action_id)?,
    };
    let reconciled = reconcile::reconcile_in(before.as_ref(), &events, &context);

    let items =
        (!event.items.is_empty()).then(|| serde_json::to_string(&event.items).unwrap_or_default());
    let extra =
        (!event.extra.is_empty()).then(|| serde_json::to_string(&event.extra).unwrap_or_default());
    let date = |sent: &Option<crate::event::SentDate>| {
        sent.as_ref().and_then(|date| date.utc).map(to_db_time)
    };
    let fields = ActionFields {
        status_raw: event.status_raw.as_deref(),
        payout_currency: event.payout_currency.as_deref(),
        amount_currency: event.amount_currency.as_deref(),
        campaign_id: event.campaign_id.as_deref(),
        campaign_name: event.campaign_name.as_deref(),
        action_tracker_id: event.action_tracker_id.as_deref(),
        action_tracker_name: event.action_tracker_name.as_deref(),
        media_partner_id: event.media_partner_id.as_deref(),
        order_id: event.order_id.as_deref(),
        shared_id: event.shared_id.as_deref(),
        sub_id1: event.sub_id1.as_deref(),
        sub_id2: event.sub_id2.as_deref(),
        sub_id3: event.sub_id3.as_deref(),
        click_id: event.click_id.as_deref(),
        promo_code: event.promo_code.as_deref(),
        event_date: date(&event.event_date),
        creation_date: date(&event.creation_date),
        locking_date: date(&event.locking_date),
        cleared_date: date(&event.cleared_date),
        items: items.as_deref(),
        extra: extra.as_deref(),
        is_test: is_test.then_some(true),
    };
    let flags = flags_to_text(&reconciled.position.flags);
    let state = ActionState {
        status: reconciled.position.status.as_str(),
        payout: reconciled.position.payout.minor_units(),
        amount: reconciled.position.amount.minor_units(),
        flags: &flags,
        last_seen_at: at,
    };
    if stored.is_some() {
        actions::update(conn, &event.action_id, &state, &fields)?;
        if placeholder {
            actions::adopt(conn, &event.action_id, source)?;
        }
    } else {
        actions::insert(conn, &event.action_id, source, at, &state, &fields)?;
    }
    action_events::insert(
        conn,
        &NewActionEvent {
            delivery_id,
            action_id: &event.action_id,
            status: if event.has_unknown_status() {
                UNKNOWN_STATUS
            } else {
                event.effective_status().as_str()
            },
            status_raw: event.status_raw.as_deref(),
            payout: event.payout.map(Money::minor_units),
            delta_payout: event.delta_payout.map(Money::minor_units),
            amount: event.amount.map(Money::minor_units),
            delta_amount: event.delta_amount.map(Money::minor_units),
            received_at: at,
        },
    )?;
    for entry in &reconciled.entries {
        ledger_entries::insert(
            conn,
            &NewLedgerEntry {
                action_id: &event.action_id,
                delivery_id,
                kind: entry.kind.as_str(),
                payout_delta: entry.payout_delta.minor_units(),
                amount_delta: entry.amount_delta.minor_units(),
                recorded_at: at,
            },
        )?;
    }
    Ok(reconciled.effect)
}

fn position_of_state(state: &actions::StoredState) -> Result<Position, StorageError> {
    Ok(Position {
        status: parse_status(&state.status)?,
        payout: Money::from_minor_units(state.payout),
        amount: Money::from_minor_units(state.amount),
        flags: flags_from_text(&state.flags),
    })
}

/// An event whose status word the source did not know is stored with this status; it counts as
/// pending and flags its action.
const UNKNOWN_STATUS: &str = "unknown";

pub fn recorded(row: &ActionEventRow) -> Result<RecordedEvent, StorageError> {
    let unknown_status = row.status == UNKNOWN_STATUS;
    Ok(RecordedEvent {
        seq: row.delivery_id,
        status: if unknown_status {
            ActionStatus::Pending
        } else {
            parse_status(&row.status)?
        },
        unknown_status,
        payout: row.payout.map(Money::from_minor_units),
        delta_payout: row.delta_payout.map(Money::from_minor_units),
        amount: row.amount.map(Money::from_minor_units),
        delta_amount: row.delta_amount.map(Money::from_minor_units),
    })
}

fn parse_status(word: &str) -> Result<ActionStatus, StorageError> {
    ActionStatus::parse(word)
        .ok_or_else(|| StorageError::Corrupt(format!("unknown stored status `{word}`")))
}

/// Applies a quarantined delivery that the current configuration now understands, in one
/// transaction. Returns its new outcome; a delivery no longer quarantined is left alone.
pub fn release_quarantined(
    conn: &mut AnyConnection,
    backend: Backend,
    delivery_id: i64,
    understood: &Postback,
    warnings: &[String],
    payload: Option<&str>,
    is_test: bool,
) -> Result<Option<Outcome>, StorageError> {
    conn.transaction(|conn| {
        lock_subjects(conn, backend, understood)?;
        let Some(delivery) = deliveries::find(conn, delivery_id)? else {
            return Ok(None);
        };
        if delivery.outcome != Outcome::Quarantined.as_str() {
            return Ok(None);
        }
        let at = delivery.received_at;
        let outcome = outcome_of(apply_postback(
            conn,
            backend,
            delivery_id,
            &delivery.source,
            at,
            understood,
            is_test,
        )?);
        let subject_id = understood.subject_id();
        let warnings =
            (!warnings.is_empty()).then(|| serde_json::to_string(warnings).unwrap_or_default());
        deliveries::set_outcome(
            conn,
            delivery_id,
            outcome.as_str(),
            None,
            subject_id.as_deref(),
            warnings.as_deref(),
            payload,
        )?;
        Ok(Some(outcome))
    })
}
