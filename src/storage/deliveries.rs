//! The inbox: every stored request, deduplicated by its key, with how it ended.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::prepared::{self, RowsStatement, bind_row};
use super::schema::deliveries;
use super::{AnyConnection, per_backend};
use crate::domain::event::SourceKind;
use crate::domain::outcome::Outcome;

// None is NULL, not DEFAULT: the same row as the batch insert (`insert_all_unless_repeat`) writes.
#[derive(Debug, Insertable)]
#[diesel(table_name = deliveries, treat_none_as_default_value = false)]
pub struct NewDelivery<'a> {
    pub source: &'a str,
    pub kind: SourceKind,
    pub dedup_key: &'a str,
    pub received_at: NaiveDateTime,
    pub last_received_at: NaiveDateTime,
    pub times_received: i32,
    pub method: &'a str,
    pub content_type: Option<&'a str>,
    pub query: &'a str,
    pub body: Option<&'a [u8]>,
    pub client_addr: Option<&'a str>,
    pub outcome: Outcome,
    pub reason: Option<&'a str>,
    pub warnings: Option<&'a str>,
    pub subject_id: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = deliveries)]
pub struct Delivery {
    pub id: i64,
    pub source: String,
    pub kind: SourceKind,
    #[serde(skip)]
    pub dedup_key: String,
    pub received_at: NaiveDateTime,
    pub last_received_at: NaiveDateTime,
    pub times_received: i32,
    pub method: String,
    pub content_type: Option<String>,
    pub query: String,
    #[serde(skip)]
    pub body: Option<Vec<u8>>,
    pub client_addr: Option<String>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub warnings: Option<String>,
    pub subject_id: Option<String>,
    pub pruned_at: Option<NaiveDateTime>,
    /// Set aside by a person (quarantined junk): kept, out of what needs attention.
    pub dismissed_at: Option<NaiveDateTime>,
}

/// Inserts unless the dedup key is already stored; None means it is a repeat. The database's
/// unique index decides, so concurrent instances cannot both insert.
pub fn insert_unless_repeat(
    conn: &mut AnyConnection,
    new: &NewDelivery<'_>,
) -> QueryResult<Option<i64>> {
    per_backend!(conn, c => diesel::insert_into(deliveries::table)
        .values(new)
        .on_conflict(deliveries::dedup_key)
        .do_nothing()
        .returning(deliveries::id)
        .get_result::<i64>(c)
        .optional())
}

/// `insert_unless_repeat` for many at once: returns (id, dedup key) of those inserted; the keys
/// missing from the answer were already stored. Each key at most once per call.
pub fn insert_all_unless_repeat(
    conn: &mut AnyConnection,
    rows: &[NewDelivery<'_>],
) -> QueryResult<Vec<(i64, String)>> {
    use diesel::sql_types::{BigInt, Text};
    const TAIL: &str = " ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key";
    let mut inserted = Vec::with_capacity(rows.len());
    for rows in prepared::in_sizes(rows) {
        let statement = RowsStatement::<_, (BigInt, Text)>::new(NewDelivery::INSERT, rows, TAIL);
        inserted.extend(per_backend!(&mut *conn, c => statement.load::<(i64, String)>(c))?);
    }
    Ok(inserted)
}

bind_row!(NewDelivery into deliveries {
    source: Text,
    kind: Text,
    dedup_key: Text,
    received_at: Timestamp,
    last_received_at: Timestamp,
    times_received: Integer,
    method: Text,
    content_type: Nullable<Text>,
    query: Text,
    body: Nullable<Binary>,
    client_addr: Nullable<Text>,
    outcome: Text,
    reason: Nullable<Text>,
    warnings: Nullable<Text>,
    subject_id: Nullable<Text>,
});

/// Counts `times` repeats on the delivery with this key, the last received at `at`.
pub fn count_repeats(
    conn: &mut AnyConnection,
    dedup_key: &str,
    times: i32,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(deliveries::table.filter(deliveries::dedup_key.eq(dedup_key)))
        .set((
            deliveries::times_received.eq(deliveries::times_received + times),
            deliveries::last_received_at.eq(at),
        ))
        .execute(conn)
}

/// (id, dedup key) of the stored deliveries with these keys.
pub fn ids_of_keys(conn: &mut AnyConnection, keys: &[&str]) -> QueryResult<Vec<(i64, String)>> {
    use diesel::sql_types::{BigInt, Text};
    const HEAD: &str = "SELECT id, dedup_key FROM deliveries WHERE dedup_key IN (";
    prepared::load_in(keys, |keys| {
        let statement = RowsStatement::<_, (BigInt, Text)>::new(HEAD, keys, ")");
        per_backend!(&mut *conn, c => statement.load::<(i64, String)>(c))
    })
}

/// Sets one outcome on many deliveries.
pub fn set_outcome_of(conn: &mut AnyConnection, ids: &[i64], outcome: &str) -> QueryResult<usize> {
    let mut changed = 0;
    for ids in ids.chunks(prepared::MAX_ROWS) {
        changed += diesel::update(deliveries::table.filter(deliveries::id.eq_any(ids)))
            .set(deliveries::outcome.eq(outcome))
            .execute(conn)?;
    }
    Ok(changed)
}

/// Counts a repeat on the original delivery and returns the original.
/// Quarantines deliveries the write path could not apply, all for one reason.
pub fn quarantine_all(conn: &mut AnyConnection, ids: &[i64], reason: &str) -> QueryResult<usize> {
    let mut changed = 0;
    for ids in ids.chunks(prepared::MAX_ROWS) {
        changed += diesel::update(deliveries::table.filter(deliveries::id.eq_any(ids)))
            .set((
                deliveries::outcome.eq("quarantined"),
                deliveries::reason.eq(reason),
            ))
            .execute(conn)?;
    }
    Ok(changed)
}

pub fn count_repeat(
    conn: &mut AnyConnection,
    dedup_key: &str,
    at: NaiveDateTime,
) -> QueryResult<(i64, String)> {
    diesel::update(deliveries::table.filter(deliveries::dedup_key.eq(dedup_key)))
        .set((
            deliveries::times_received.eq(deliveries::times_received + 1),
            deliveries::last_received_at.eq(at),
        ))
        .execute(conn)?;
    deliveries::table
        .filter(deliveries::dedup_key.eq(dedup_key))
        .select((deliveries::id, deliveries::outcome))
        .first(conn)
}

pub fn set_outcome(
    conn: &mut AnyConnection,
    id: i64,
    outcome: &str,
    reason: Option<&str>,
    subject_id: Option<&str>,
    warnings: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(deliveries::table.find(id))
        .set((
            deliveries::outcome.eq(outcome),
            deliveries::reason.eq(reason),
            deliveries::subject_id.eq(subject_id),
            deliveries::warnings.eq(warnings),
        ))
        .execute(conn)
}

pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Delivery>> {
    deliveries::table
        .find(id)
        .select(Delivery::as_select())
        .first(conn)
        .optional()
}

/// Quarantined deliveries after `after_id`, oldest first, for reprocessing in pages.
pub fn quarantined_page(
    conn: &mut AnyConnection,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    deliveries::table
        .filter(deliveries::outcome.eq("quarantined"))
        .filter(deliveries::id.gt(after_id))
        .order(deliveries::id.asc())
        .limit(limit)
        .select(Delivery::as_select())
        .load(conn)
}

pub fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
    deliveries::table.count().get_result(conn)
}

/// Retention: forgets the raw request (query and body) of up to `limit` deliveries first
/// received before `cutoff`, keeping the row's metadata (source, times, outcome, dedup key,
/// subject) so the ledger's entries still point at a delivery and a late retry is still
/// recognised as a duplicate. Quarantined deliveries keep their raw request: it is the only copy
/// of an event `reprocess` may still apply. Returns how many were pruned.
pub fn prune_raw(
    conn: &mut AnyConnection,
    cutoff: NaiveDateTime,
    at: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let ids: Vec<i64> = deliveries::table
        .filter(deliveries::received_at.lt(cutoff))
        .filter(deliveries::pruned_at.is_null())
        .filter(deliveries::outcome.ne("quarantined"))
        .order(deliveries::id.asc())
        .limit(limit)
        .select(deliveries::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::update(deliveries::table.filter(deliveries::id.eq_any(&ids)))
        .set((
            deliveries::query.eq(""),
            deliveries::body.eq(None::<Vec<u8>>),
            deliveries::pruned_at.eq(Some(at)),
        ))
        .execute(conn)
}

/// Which of `ids` are stored: how the benchmark and the durability tests prove that every
/// acknowledged delivery survived. Callers pass a few hundred at a time.
pub fn existing_ids(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    deliveries::table
        .filter(deliveries::id.eq_any(ids))
        .select(deliveries::id)
        .load(conn)
}

/// What the log is narrowed to; `None` means any.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSelection<'a> {
    pub outcome: Option<&'a str>,
    pub source: Option<&'a str>,
    /// Some(false): not dismissed only; Some(true): dismissed only.
    pub dismissed: Option<bool>,
    /// An exact id: the delivery's own, its subject's (action or inquiry id), or an order id
    /// (through the actions and inquiries that carry it, given in `subjects`).
    pub id: Option<&'a str>,
    /// The action and inquiry ids the searched order id names (see `subjects_of_order`).
    pub subjects: &'a [String],
}

/// The log, newest first: deliveries before `before_id` (a keyset cursor), narrowed as `select`
/// says.
pub fn recent(
    conn: &mut AnyConnection,
    select: &LogSelection<'_>,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    let mut query = deliveries::table.select(Delivery::as_select()).into_boxed();
    if let Some(outcome) = select.outcome {
        query = query.filter(deliveries::outcome.eq(outcome));
    }
    if let Some(source) = select.source {
        query = query.filter(deliveries::source.eq(source));
    }
    match select.dismissed {
        None => {}
        Some(true) => query = query.filter(deliveries::dismissed_at.is_not_null()),
        Some(false) => query = query.filter(deliveries::dismissed_at.is_null()),
    }
    if let Some(id) = select.id {
        let own = id.trim_start_matches('#').parse::<i64>().unwrap_or(-1);
        query = query.filter(
            deliveries::id
                .eq(own)
                .or(deliveries::subject_id.eq(id))
                .or(deliveries::subject_id.eq_any(select.subjects)),
        );
    }
    if let Some(before_id) = before_id {
        query = query.filter(deliveries::id.lt(before_id));
    }
    query.order(deliveries::id.desc()).limit(limit).load(conn)
}

/// How many subjects an order id may name in a search: an order is a handful of actions.
const ORDER_SUBJECTS: i64 = 200;

/// The action and inquiry ids that carry this order id, for searching the log by order.
pub fn subjects_of_order(conn: &mut AnyConnection, order_id: &str) -> QueryResult<Vec<String>> {
    use super::schema::{actions, inquiries};
    let mut ids: Vec<String> = actions::table
        .filter(actions::order_id.eq(order_id))
        .select(actions::action_id)
        .limit(ORDER_SUBJECTS)
        .load(conn)?;
    ids.extend(
        inquiries::table
            .filter(inquiries::order_id.eq(order_id))
            .select(inquiries::inquiry_id)
            .limit(ORDER_SUBJECTS)
            .load::<String>(conn)?,
    );
    Ok(ids)
}

/// Sets a quarantined delivery aside (`Some`) or brings it back (`None`). Returns how many rows
/// changed: 0 when it is not quarantined (only junk is dismissed) or does not exist.
pub fn set_dismissed(
    conn: &mut AnyConnection,
    id: i64,
    at: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    diesel::update(
        deliveries::table
            .find(id)
            .filter(deliveries::outcome.eq("quarantined")),
    )
    .set(deliveries::dismissed_at.eq(at))
    .execute(conn)
}

/// Every delivery about one action, inquiry or other subject, oldest first.
pub fn of_subject(conn: &mut AnyConnection, subject_id: &str) -> QueryResult<Vec<Delivery>> {
    deliveries::table
        .filter(deliveries::subject_id.eq(subject_id))
        .order(deliveries::id.asc())
        .select(Delivery::as_select())
        .load(conn)
}

/// (id, kind, received at) of every delivery about one subject, oldest first: an action's
/// timeline tells its network-record fills from its postbacks by them.
pub fn kinds_of_subject(
    conn: &mut AnyConnection,
    subject_id: &str,
) -> QueryResult<Vec<(i64, SourceKind, NaiveDateTime)>> {
    deliveries::table
        .filter(deliveries::subject_id.eq(subject_id))
        .order(deliveries::id.asc())
        .select((deliveries::id, deliveries::kind, deliveries::received_at))
        .load(conn)
}
