//! The write paths of the kinds beside action lifecycle: inquiries, clearings, catalog items,
//! completed jobs and tracking value requests. Each runs inside the delivery's savepoint.

use chrono::NaiveDateTime;

use crate::domain::book::Book;
use crate::domain::cross_check::Origin;
use crate::domain::event::ClearingMatch;
use crate::domain::event::{
    ActionStatus, ClearingEvent, CompletedJob, InquiryEvent, InquiryStatus, ProductChange,
    SentDate, TrackingValueRequest,
};
use crate::domain::inquiry::{self, RecordedInquiryEvent};
use crate::domain::money::Money;
use crate::domain::reconcile::{self, Context, Effect, Flag};
use crate::ledger::batch::Arrival;
use crate::storage::actions::{self, Action, Placeholder};
use crate::storage::catalog_items::{self, CatalogItemChange};
use crate::storage::clearances::{self, NewClearance};
use crate::storage::clearings::{self, NewClearing};
use crate::storage::inquiries::{self, InquiryFields, InquiryState};
use crate::storage::inquiry_events::{self, InquiryEventRow, NewInquiryEvent};
use crate::storage::jobs::{self, JobFields};
use crate::storage::tracking_value_requests::{self, TrackingValueRow};
use crate::storage::{
    AnyConnection, Backend, StorageError, action_events, from_db_time, to_db_time,
};

fn date(sent: &Option<SentDate>) -> Option<NaiveDateTime> {
    sent.as_ref().and_then(|date| date.utc).map(to_db_time)
}

fn json_of<T: serde::Serialize>(value: &T, empty: bool) -> Option<String> {
    (!empty).then(|| serde_json::to_string(value).unwrap_or_default())
}

/// An event whose resolution word the source does not know is stored with this status.
const UNKNOWN_STATUS: &str = "unknown";

fn recorded_inquiry(row: &InquiryEventRow) -> RecordedInquiryEvent {
    RecordedInquiryEvent {
        seq: row.delivery_id,
        status: InquiryStatus::parse(&row.status),
        status_raw: row.resolution_status.clone(),
        final_payout: row.final_payout.map(Money::from_minor_units),
        reject_reason: row.reject_reason.clone(),
        resolution_notes: row.resolution_notes.clone(),
        comments: row.comments.clone(),
        resolution_date: row.resolution_date.map(from_db_time),
    }
}

/// Records the inquiry event in its history and recomputes the inquiry from the whole set.
pub fn apply_inquiry(
    conn: &mut AnyConnection,
    delivery_id: i64,
    source: &str,
    at: NaiveDateTime,
    event: &InquiryEvent,
) -> Result<Effect, StorageError> {
    let stored = inquiries::find(conn, &event.inquiry_id)?;
    let mut events: Vec<RecordedInquiryEvent> = match &stored {
        Some(_) => inquiry_events::of_inquiry(conn, &event.inquiry_id)?
            .iter()
            .map(recorded_inquiry)
            .collect(),
        None => Vec::new(),
    };
    let before = (!events.is_empty()).then(|| inquiry::position(&events));
    let resolution_date = date(&event.resolution_date);
    events.push(RecordedInquiryEvent {
        seq: delivery_id,
        status: event.status,
        status_raw: event.status_raw.clone(),
        final_payout: event.final_payout,
        reject_reason: event.reject_reason.clone(),
        resolution_notes: event.resolution_notes.clone(),
        comments: event.comments.clone(),
        resolution_date: resolution_date.map(from_db_time),
    });
    let after = inquiry::position(&events);
    let effect = inquiry::effect(before.as_ref(), &after);

    let extra = json_of(&event.extra, event.extra.is_empty());
    let fields = InquiryFields {
        inquiry_type: event.inquiry_type.as_deref(),
        expected_payout: event.expected_payout.map(Money::minor_units),
        transaction_amount: event.transaction_amount.map(Money::minor_units),
        campaign_id: event.campaign_id.as_deref(),
        campaign_name: event.campaign_name.as_deref(),
        media_partner_id: event.media_partner_id.as_deref(),
        order_id: event.order_id.as_deref(),
        action_id: event.action_id.as_deref(),
        transaction_date: date(&event.transaction_date),
        resolution_deadline_date: date(&event.resolution_deadline_date),
        auto_approval_date: date(&event.auto_approval_date),
        resolution_date,
        creation_date: date(&event.creation_date),
        inquiry_notes: event.inquiry_notes.as_deref(),
        tracking_link: event.tracking_link.as_deref(),
        extra: extra.as_deref(),
    };
    let flags = after.flags.to_string();
    let state = InquiryState {
        status: after.status,
        resolution_status: after.status_raw.as_deref(),
        final_payout: after.final_payout.map(Money::minor_units),
        reject_reason: after.reject_reason.as_deref(),
        resolution_notes: after.resolution_notes.as_deref(),
        comments: after.comments.as_deref(),
        flags: &flags,
        last_seen_at: at,
    };
    if stored.is_some() {
        inquiries::update(conn, &event.inquiry_id, &state, &fields)?;
    } else {
        inquiries::insert(conn, &event.inquiry_id, source, at, &state, &fields)?;
    }
    inquiry_events::insert(
        conn,
        &NewInquiryEvent {
            delivery_id,
            inquiry_id: &event.inquiry_id,
            status: match event.status {
                Some(status) => status.as_str(),
                None if event.status_raw.is_some() => UNKNOWN_STATUS,
                None => InquiryStatus::Pending.as_str(),
            },
            resolution_status: event.status_raw.as_deref(),
            inquiry_type: event.inquiry_type.as_deref(),
            final_payout: event.final_payout.map(Money::minor_units),
            reject_reason: event.reject_reason.as_deref(),
            resolution_notes: event.resolution_notes.as_deref(),
            comments: event.comments.as_deref(),
            resolution_date,
            received_at: at,
        },
    )?;
    Ok(effect)
}

/// The flags of an action from its events and context, as a clearing booked at `cleared_at`
/// leaves it.
fn action_flags(
    conn: &mut AnyConnection,
    action: &Action,
    cleared_at: chrono::DateTime<chrono::Utc>,
) -> Result<reconcile::Flags, StorageError> {
    let rows = action_events::of_action(conn, &action.action_id)?;
    let events: Vec<_> = rows
        .iter()
        .map(action_events::ActionEventRow::recorded)
        .collect();
    let context = Context {
        locking_date: action.details.locking_date.map(from_db_time),
        received_at: rows
            .iter()
            .map(|row| from_db_time(row.received_at))
            .collect(),
        cleared: true,
        cleared_at: Some(cleared_at),
    };
    reconcile::flags_of(&events, &context).map_err(|overflow| {
        StorageError::Corrupt(format!("action {}: {overflow}", action.action_id))
    })
}

/// Clears each listed action: books what cleared (its payout and amount now, in its currency) at
/// the clearing's `LedgerDate`, else its arrival, once per action, and keeps the scheduled
/// (`ClearedDate`) and ledger dates. An action id never seen becomes a placeholder flagged
/// `cleared_never_tracked` (no money, no entry); an order id no action carries is recorded
/// unmatched. Both make the delivery `flagged`.
pub fn apply_clearing(
    conn: &mut AnyConnection,
    backend: Backend,
    arrival: &Arrival<'_>,
    event: &ClearingEvent,
    book: &Book,
) -> Result<Effect, StorageError> {
    let Arrival {
        delivery_id,
        source,
        at,
        origin,
        ..
    } = *arrival;
    let cleared_date = date(&event.cleared_date);
    let ledger_date = date(&event.ledger_date);
    let cleared_at = ledger_date.unwrap_or(at);
    let booking = book.place(from_db_time(cleared_at));
    let clearance = |conn: &mut AnyConnection,
                     action_id: &str,
                     payout: i64,
                     amount: i64,
                     currency: Option<&str>| {
        clearances::insert(
            conn,
            &NewClearance {
                action_id,
                delivery_id: Some(delivery_id),
                origin: match origin {
                    Origin::Postback => clearances::ORIGIN_CLEARING,
                    Origin::NetworkRecord => clearances::ORIGIN_NETWORK,
                },
                cleared_at,
                payout,
                amount,
                currency,
                month: &booking.month,
                concerns: booking.concerns.as_deref(),
                recorded_at: at,
            },
        )
    };
    let paired = event.action_ids.len() == event.order_ids.len();
    let mut targets: Vec<(Option<String>, Option<&str>)> = event
        .action_ids
        .iter()
        .enumerate()
        .map(|(index, id)| {
            let order = paired.then(|| event.order_ids[index].as_str());
            (Some(id.clone()), order)
        })
        .collect();
    if event.action_ids.is_empty() {
        for order_id in &event.order_ids {
            let found = actions::by_order(conn, event.campaign_id.as_deref(), order_id)?;
            // Found only now, so locked only now (in id order): an event of the same action on
            // another instance waits, and a deadlock between two clearings fails one of them,
            // which impact.com retries.
            for action in &found {
                actions::lock(conn, backend, &action.action_id)?;
            }
            let found = actions::of_ids(
                conn,
                &found
                    .into_iter()
                    .map(|action| action.action_id)
                    .collect::<Vec<_>>(),
            )?;
            if found.is_empty() {
                targets.push((None, Some(order_id)));
            }
            targets.extend(
                found
                    .into_iter()
                    .map(|action| (Some(action.action_id), Some(order_id.as_str()))),
            );
        }
    }
    let mut flagged = false;
    let mut changed = false;
    for (action_id, order_id) in targets {
        let matched = match &action_id {
            None => {
                flagged = true;
                ClearingMatch::Nothing
            }
            Some(action_id) => match actions::find(conn, action_id)? {
                Some(action) => {
                    // Booked once: a later clearing naming it again changes no figure.
                    let booked = match clearances::of_action(conn, action_id)? {
                        Some(booked) => booked.recorded_at,
                        None => {
                            clearance(
                                conn,
                                action_id,
                                action.payout,
                                action.amount,
                                action.details.payout_currency.as_deref(),
                            )?;
                            changed = true;
                            at
                        }
                    };
                    let flags = action_flags(conn, &action, from_db_time(booked))?;
                    let before = action.flags.clone();
                    flagged |= !flags.is_subset(&before);
                    changed |= (cleared_date.is_some()
                        && cleared_date != action.details.cleared_date)
                        || (ledger_date.is_some() && ledger_date != action.ledger_date)
                        || flags != before;
                    actions::set_cleared(
                        conn,
                        action_id,
                        cleared_date,
                        action.cleared_at().is_none().then_some(cleared_at),
                        &flags.to_string(),
                    )?;
                    if action.status == ActionStatus::Reversed {
                        ClearingMatch::Reversed
                    } else if action.flags.contains(&Flag::ClearedNeverTracked) {
                        ClearingMatch::Placeholder
                    } else {
                        ClearingMatch::Action
                    }
                }
                None => {
                    flagged = true;
                    let flags =
                        reconcile::Flags::from_iter([Flag::ClearedNeverTracked]).to_string();
                    actions::insert_placeholder(
                        conn,
                        &Placeholder {
                            action_id,
                            source,
                            campaign_id: event.campaign_id.as_deref(),
                            order_id,
                            cleared_date,
                            ledger_date: Some(cleared_at),
                            flags: &flags,
                            at,
                        },
                    )?;
                    clearance(conn, action_id, 0, 0, None)?;
                    ClearingMatch::Placeholder
                }
            },
        };
        clearings::insert(
            conn,
            &NewClearing {
                delivery_id,
                action_id: action_id.as_deref(),
                order_id,
                campaign_id: event.campaign_id.as_deref(),
                cleared_date,
                ledger_date,
                matched,
                received_at: at,
            },
        )?;
    }
    Ok(if flagged {
        Effect::Flagged
    } else if changed {
        Effect::Applied
    } else {
        Effect::Stale
    })
}

/// Upserts the catalog item; the fields that changed are remembered as its last change.
pub fn apply_product(
    conn: &mut AnyConnection,
    delivery_id: i64,
    source: &str,
    at: NaiveDateTime,
    event: &ProductChange,
) -> Result<Effect, StorageError> {
    let stored = catalog_items::find(conn, &event.catalog_id, &event.item_id)?;
    let price = event.price.map(Money::minor_units);
    let extra = json_of(&event.extra, event.extra.is_empty());
    let mut changed: Vec<&str> = Vec::new();
    if let Some(item) = &stored {
        for (name, differs) in [
            ("name", event.name.is_some() && event.name != item.name),
            ("price", price.is_some() && price != item.price),
            (
                "currency",
                event.currency.is_some() && event.currency != item.currency,
            ),
            ("stock", event.stock.is_some() && event.stock != item.stock),
            ("extra", extra.is_some() && extra != item.extra),
        ] {
            if differs {
                changed.push(name);
            }
        }
        if changed.is_empty() {
            return Ok(Effect::Stale);
        }
    }
    let changed_fields = json_of(&changed, changed.is_empty());
    let change = CatalogItemChange {
        name: event.name.as_deref(),
        price,
        currency: event.currency.as_deref(),
        stock: event.stock.as_deref(),
        change_type: event.change_type.as_deref(),
        changed_fields: changed_fields.as_deref(),
        extra: extra.as_deref(),
        delivery_id,
        last_seen_at: at,
    };
    if stored.is_some() {
        catalog_items::update(conn, &event.catalog_id, &event.item_id, &change)?;
    } else {
        catalog_items::insert(conn, &event.catalog_id, &event.item_id, source, &change)?;
    }
    Ok(Effect::Applied)
}

/// A result URL as stored: where, for how long, and until when (from its arrival).
#[derive(serde::Serialize)]
struct StoredResultUrl<'a> {
    url: &'a str,
    minutes: Option<i64>,
    expires_at: Option<String>,
}

/// Stores the job with its result URLs; each URL expires its minutes after the notification
/// arrived (impact.com generates them when it sends it).
pub fn apply_job(
    conn: &mut AnyConnection,
    delivery_id: i64,
    source: &str,
    at: NaiveDateTime,
    event: &CompletedJob,
) -> Result<Effect, StorageError> {
    let urls: Vec<StoredResultUrl> = event
        .result_urls
        .iter()
        .map(|url| StoredResultUrl {
            url: &url.url,
            minutes: url.minutes,
            expires_at: url.minutes.map(|minutes| {
                (at + chrono::Duration::minutes(minutes))
                    .and_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            }),
        })
        .collect();
    let result_urls = json_of(&urls, urls.is_empty());
    let extra = json_of(&event.extra, event.extra.is_empty());
    let fields = JobFields {
        job_type: event.job_type.as_deref(),
        account_id: event.account_id.as_deref(),
        start_date: date(&event.start_date),
        end_date: date(&event.end_date),
        records_processed: event.records_processed.as_deref(),
        detail_uri: event.detail_uri.as_deref(),
        result_uri: event.result_uri.as_deref(),
        result_urls: result_urls.as_deref(),
        extra: extra.as_deref(),
        delivery_id,
        last_seen_at: at,
    };
    if jobs::find(conn, &event.job_id)?.is_some() {
        jobs::update(conn, &event.job_id, &fields)?;
    } else {
        jobs::insert(conn, &event.job_id, source, &fields)?;
    }
    Ok(Effect::Applied)
}

pub fn apply_tracking_value(
    conn: &mut AnyConnection,
    delivery_id: i64,
    source: &str,
    at: NaiveDateTime,
    event: &TrackingValueRequest,
) -> Result<Effect, StorageError> {
    tracking_value_requests::insert(
        conn,
        &TrackingValueRow {
            delivery_id,
            source: source.to_owned(),
            action_id: event.action_id.clone(),
            campaign_id: event.campaign_id.clone(),
            action_tracker_id: event.action_tracker_id.clone(),
            media_partner_id: event.media_partner_id.clone(),
            order_id: event.order_id.clone(),
            amount: event.amount.map(Money::minor_units),
            currency: event.currency.clone(),
            event_date: date(&event.event_date),
            click_id: event.click_id.clone(),
            ip_address: event.ip_address.clone(),
            items: json_of(&event.items, event.items.is_empty()),
            extra: json_of(&event.extra, event.extra.is_empty()),
            received_at: at,
        },
    )?;
    Ok(Effect::Applied)
}
