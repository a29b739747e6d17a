//! Actions: one row per action with its reconciled state and the ids a partner searches by.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::prepared::{self, RowsStatement, bind_row};
use super::schema::actions;
use super::{AnyConnection, Backend, per_backend};
use crate::domain::bucket::Bucket;
use crate::domain::event::ActionStatus;
use crate::domain::reconcile::Flags;
use crate::storage::action_query::{ActionFilter, DateField, SortKey, SortValue};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = actions)]
pub struct Action {
    pub action_id: String,
    pub source: String,
    pub status: ActionStatus,
    pub status_raw: Option<String>,
    pub payout: i64,
    pub amount: i64,
    pub payout_currency: Option<String>,
    pub amount_currency: Option<String>,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    pub action_tracker_id: Option<String>,
    pub action_tracker_name: Option<String>,
    pub media_partner_id: Option<String>,
    pub order_id: Option<String>,
    pub shared_id: Option<String>,
    pub sub_id1: Option<String>,
    pub sub_id2: Option<String>,
    pub sub_id3: Option<String>,
    pub click_id: Option<String>,
    pub promo_code: Option<String>,
    pub event_date: Option<NaiveDateTime>,
    pub creation_date: Option<NaiveDateTime>,
    pub locking_date: Option<NaiveDateTime>,
    pub cleared_date: Option<NaiveDateTime>,
    pub ledger_date: Option<NaiveDateTime>,
    pub flags: Flags,
    pub items: Option<String>,
    pub extra: Option<String>,
    pub first_seen_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub reviewed_at: Option<NaiveDateTime>,
    pub is_test: bool,
}

/// The descriptive fields an event carries. On update a None leaves the stored value alone, so a
/// later event never blanks what an earlier one gave.
#[derive(Debug, Default, Insertable, AsChangeset)]
#[diesel(table_name = actions)]
pub struct ActionFields<'a> {
    pub status_raw: Option<&'a str>,
    pub payout_currency: Option<&'a str>,
    pub amount_currency: Option<&'a str>,
    pub campaign_id: Option<&'a str>,
    pub campaign_name: Option<&'a str>,
    pub action_tracker_id: Option<&'a str>,
    pub action_tracker_name: Option<&'a str>,
    pub media_partner_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub shared_id: Option<&'a str>,
    pub sub_id1: Option<&'a str>,
    pub sub_id2: Option<&'a str>,
    pub sub_id3: Option<&'a str>,
    pub click_id: Option<&'a str>,
    pub promo_code: Option<&'a str>,
    pub event_date: Option<NaiveDateTime>,
    pub creation_date: Option<NaiveDateTime>,
    pub locking_date: Option<NaiveDateTime>,
    pub cleared_date: Option<NaiveDateTime>,
    pub items: Option<&'a str>,
    pub extra: Option<&'a str>,
    /// Some(true) marks the action a test; once a test, always a test (None leaves it).
    pub is_test: Option<bool>,
}

/// The reconciled state, always written whole.
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = actions)]
pub struct ActionState<'a> {
    pub status: &'a str,
    pub payout: i64,
    pub amount: i64,
    pub flags: &'a str,
    pub last_seen_at: NaiveDateTime,
}

/// Serializes writers of one action. PostgreSQL: a transaction-scoped advisory lock, so several
/// instances take turns; SQLite: its single writer already does.
pub fn lock(conn: &mut AnyConnection, backend: Backend, action_id: &str) -> QueryResult<()> {
    if backend == Backend::Postgres {
        per_backend!(conn, c => {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<diesel::sql_types::Text, _>(action_id)
                .execute(c)
                .map(|_| ())
        })
    } else {
        Ok(())
    }
}

/// Takes the locks of every action of a batch at once, in one global order (by lock key). Taken
/// one by one in arrival order, two instances whose batches share actions in different orders
/// deadlocked: PostgreSQL broke the tie after a second by failing a whole batch (503s).
/// The per-delivery `lock` that follows is then already held, and taking it again is free.
pub fn lock_all(conn: &mut AnyConnection, action_ids: &[&str]) -> QueryResult<()> {
    if let AnyConnection::Postgresql(c) = conn
        && !action_ids.is_empty()
    {
        diesel::sql_query(
            "SELECT pg_advisory_xact_lock(key) FROM (
                 SELECT DISTINCT hashtextextended(id, 0) AS key FROM unnest($1::text[]) AS id
                 ORDER BY key
             ) AS keys ORDER BY key",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(action_ids)
        .execute(c)?;
    }
    Ok(())
}

pub fn find(conn: &mut AnyConnection, action_id: &str) -> QueryResult<Option<Action>> {
    actions::table
        .find(action_id)
        .select(Action::as_select())
        .first(conn)
        .optional()
}

/// The reconciled state alone, which is all the write path reads: loading the whole row (the
/// action's raw extras are kilobytes) were a quarter of the single writer's per-delivery work.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = actions)]
pub struct StoredState {
    pub status: ActionStatus,
    pub payout: i64,
    pub amount: i64,
    pub flags: Flags,
    pub locking_date: Option<NaiveDateTime>,
}

/// What the write path reads of a stored action: its source, its reconciled state, and the
/// indexed fields, to tell whether a new event changes any of them.
pub struct StoredAction {
    pub action_id: String,
    pub source: String,
    pub state: StoredState,
    pub indexed: IndexedFields,
}

/// The descriptive fields some index covers (`locking_date` is in `StoredState`). An update
/// that leaves them as stored need not rewrite their indexes: see `upsert_all`.
#[derive(Debug, Clone, Queryable)]
pub struct IndexedFields {
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    pub action_tracker_id: Option<String>,
    pub action_tracker_name: Option<String>,
    pub order_id: Option<String>,
    pub shared_id: Option<String>,
    pub sub_id1: Option<String>,
    pub sub_id2: Option<String>,
    pub sub_id3: Option<String>,
    pub click_id: Option<String>,
    pub event_date: Option<NaiveDateTime>,
    pub cleared_date: Option<NaiveDateTime>,
}

/// Each of `action_ids` that is stored: one query for a whole batch of the write path instead
/// of one per delivery.
pub fn states_of(conn: &mut AnyConnection, action_ids: &[&str]) -> QueryResult<Vec<StoredAction>> {
    use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
    type Columns = (
        (Text, Text),
        (Text, BigInt, BigInt, Text, Nullable<Timestamp>),
        (
            Nullable<Text>,
            Nullable<Text>,
            Nullable<Text>,
            Nullable<Text>,
            Nullable<Text>,
            Nullable<Text>,
            Nullable<Text>,
            Nullable<Text>,
            Nullable<Text>,
            Nullable<Text>,
            Nullable<Timestamp>,
            Nullable<Timestamp>,
        ),
    );
    const HEAD: &str = "SELECT action_id, source, status, payout, amount, flags, locking_date, \
        campaign_id, campaign_name, action_tracker_id, action_tracker_name, order_id, \
        shared_id, sub_id1, sub_id2, sub_id3, click_id, event_date, cleared_date \
        FROM actions WHERE action_id IN (";
    let rows = prepared::load_in(action_ids, |ids| {
        let statement = RowsStatement::<_, Columns>::new(HEAD, ids, ")");
        per_backend!(&mut *conn, c => statement
            .load::<((String, String), StoredState, IndexedFields)>(c))
    })?;
    Ok(rows
        .into_iter()
        .map(|((action_id, source), state, indexed)| StoredAction {
            action_id,
            source,
            state,
            indexed,
        })
        .collect())
}

/// A whole action row as the write path writes it: its state, the descriptive fields its events
/// gave (None: none of them gave it) and whether any was a test. `ledger_date` and
/// `reviewed_at` are not the write path's and are left alone.
#[derive(Debug, Clone)]
pub struct ActionRow<'a> {
    pub action_id: &'a str,
    pub source: String,
    pub status: ActionStatus,
    pub payout: i64,
    pub amount: i64,
    pub flags: String,
    pub first_seen_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub status_raw: Option<&'a str>,
    pub payout_currency: Option<&'a str>,
    pub amount_currency: Option<&'a str>,
    pub campaign_id: Option<&'a str>,
    pub campaign_name: Option<&'a str>,
    pub action_tracker_id: Option<&'a str>,
    pub action_tracker_name: Option<&'a str>,
    pub media_partner_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub shared_id: Option<&'a str>,
    pub sub_id1: Option<&'a str>,
    pub sub_id2: Option<&'a str>,
    pub sub_id3: Option<&'a str>,
    pub click_id: Option<&'a str>,
    pub promo_code: Option<&'a str>,
    pub event_date: Option<NaiveDateTime>,
    pub creation_date: Option<NaiveDateTime>,
    pub locking_date: Option<NaiveDateTime>,
    pub cleared_date: Option<NaiveDateTime>,
    pub items: Option<String>,
    pub extra: Option<String>,
    pub is_test: bool,
}

/// Writes each row in a few statements per batch: a new action is inserted; a stored one gets
/// the new state and source, keeps its `first_seen_at`, keeps every descriptive field the row
/// does not give (COALESCE: a later event never blanks what an earlier one gave) and stays a
/// test once it was one. `unchanged_indexes` are rows of stored actions that give no indexed
/// field other than the stored value: their statement leaves those columns out of its SET, so
/// the database does not rewrite their indexes (SQLite rewrites an index whenever a column it
/// covers is SET, even to the same value). Each action id at most once per call.
pub fn upsert_all(
    conn: &mut AnyConnection,
    rows: &[ActionRow<'_>],
    unchanged_indexes: &[ActionRow<'_>],
) -> QueryResult<()> {
    /// `, column = COALESCE(excluded.column, actions.column)` for each column: the row's value
    /// if it gives one, else the stored one.
    macro_rules! given_or_kept {
        ($($column:ident),*) => {
            concat!($(
                ", ", stringify!($column), " = COALESCE(excluded.", stringify!($column),
                ", actions.", stringify!($column), ")"
            ),*)
        };
    }
    /// The state, and the columns no index covers.
    macro_rules! unindexed_set {
        () => {
            concat!(
                " ON CONFLICT (action_id) DO UPDATE SET source = excluded.source, \
                status = excluded.status, payout = excluded.payout, amount = excluded.amount, \
                flags = excluded.flags, last_seen_at = excluded.last_seen_at, \
                is_test = excluded.is_test OR actions.is_test",
                given_or_kept!(
                    status_raw,
                    payout_currency,
                    amount_currency,
                    media_partner_id,
                    promo_code,
                    creation_date,
                    items,
                    extra
                )
            )
        };
    }
    const ALL_FIELDS: &str = concat!(
        unindexed_set!(),
        given_or_kept!(
            campaign_id,
            campaign_name,
            action_tracker_id,
            action_tracker_name,
            order_id,
            shared_id,
            sub_id1,
            sub_id2,
            sub_id3,
            click_id,
            event_date,
            locking_date,
            cleared_date
        )
    );
    for (rows, tail) in [(rows, ALL_FIELDS), (unchanged_indexes, unindexed_set!())] {
        for rows in prepared::in_sizes(rows) {
            let statement = RowsStatement::<_>::new(ActionRow::INSERT, rows, tail);
            per_backend!(&mut *conn, c => statement.execute(c))?;
        }
    }
    Ok(())
}

impl ActionRow<'_> {
    /// Gives no indexed field other than the one stored: its upsert can leave them out.
    pub fn keeps_indexed_fields(
        &self,
        stored: &IndexedFields,
        stored_locking_date: Option<NaiveDateTime>,
    ) -> bool {
        fn kept<T: PartialEq + ?Sized>(given: Option<&T>, stored: Option<&T>) -> bool {
            given.is_none() || given == stored
        }
        kept(self.campaign_id, stored.campaign_id.as_deref())
            && kept(self.campaign_name, stored.campaign_name.as_deref())
            && kept(self.action_tracker_id, stored.action_tracker_id.as_deref())
            && kept(
                self.action_tracker_name,
                stored.action_tracker_name.as_deref(),
            )
            && kept(self.order_id, stored.order_id.as_deref())
            && kept(self.shared_id, stored.shared_id.as_deref())
            && kept(self.sub_id1, stored.sub_id1.as_deref())
            && kept(self.sub_id2, stored.sub_id2.as_deref())
            && kept(self.sub_id3, stored.sub_id3.as_deref())
            && kept(self.click_id, stored.click_id.as_deref())
            && kept(self.event_date.as_ref(), stored.event_date.as_ref())
            && kept(self.cleared_date.as_ref(), stored.cleared_date.as_ref())
            && kept(self.locking_date.as_ref(), stored_locking_date.as_ref())
    }
}

bind_row!(ActionRow into actions {
    action_id: Text,
    source: Text,
    status: Text,
    payout: BigInt,
    amount: BigInt,
    flags: Text,
    first_seen_at: Timestamp,
    last_seen_at: Timestamp,
    status_raw: Nullable<Text>,
    payout_currency: Nullable<Text>,
    amount_currency: Nullable<Text>,
    campaign_id: Nullable<Text>,
    campaign_name: Nullable<Text>,
    action_tracker_id: Nullable<Text>,
    action_tracker_name: Nullable<Text>,
    media_partner_id: Nullable<Text>,
    order_id: Nullable<Text>,
    shared_id: Nullable<Text>,
    sub_id1: Nullable<Text>,
    sub_id2: Nullable<Text>,
    sub_id3: Nullable<Text>,
    click_id: Nullable<Text>,
    promo_code: Nullable<Text>,
    event_date: Nullable<Timestamp>,
    creation_date: Nullable<Timestamp>,
    locking_date: Nullable<Timestamp>,
    cleared_date: Nullable<Timestamp>,
    items: Nullable<Text>,
    extra: Nullable<Text>,
    is_test: Bool,
});

pub fn insert(
    conn: &mut AnyConnection,
    action_id: &str,
    source: &str,
    first_seen_at: NaiveDateTime,
    state: &ActionState<'_>,
    fields: &ActionFields<'_>,
) -> QueryResult<usize> {
    diesel::insert_into(actions::table)
        .values((
            actions::action_id.eq(action_id),
            actions::source.eq(source),
            actions::first_seen_at.eq(first_seen_at),
            state,
            fields,
        ))
        .execute(conn)
}

/// Sets the dates a clearing gives (None leaves a date alone) and the flags.
pub fn set_cleared(
    conn: &mut AnyConnection,
    action_id: &str,
    cleared_date: Option<NaiveDateTime>,
    ledger_date: Option<NaiveDateTime>,
    flags: &str,
) -> QueryResult<usize> {
    #[derive(AsChangeset)]
    #[diesel(table_name = actions)]
    struct Cleared<'a> {
        cleared_date: Option<NaiveDateTime>,
        ledger_date: Option<NaiveDateTime>,
        flags: &'a str,
    }
    diesel::update(actions::table.find(action_id))
        .set(&Cleared {
            cleared_date,
            ledger_date,
            flags,
        })
        .execute(conn)
}

/// Actions carrying an order id, within a campaign when one is given.
pub fn by_order(
    conn: &mut AnyConnection,
    campaign_id: Option<&str>,
    order_id: &str,
) -> QueryResult<Vec<Action>> {
    let mut query = actions::table
        .filter(actions::order_id.eq(order_id))
        .select(Action::as_select())
        .into_boxed();
    if let Some(campaign_id) = campaign_id {
        query = query.filter(actions::campaign_id.eq(campaign_id));
    }
    query.order(actions::action_id.asc()).load(conn)
}

/// Ids of actions after `cursor`, for walking the whole table in pages.
pub fn ids_after(conn: &mut AnyConnection, cursor: &str, limit: i64) -> QueryResult<Vec<String>> {
    actions::table
        .filter(actions::action_id.gt(cursor))
        .order(actions::action_id.asc())
        .limit(limit)
        .select(actions::action_id)
        .load(conn)
}

pub fn of_ids(conn: &mut AnyConnection, ids: &[String]) -> QueryResult<Vec<Action>> {
    actions::table
        .filter(actions::action_id.eq_any(ids))
        .order(actions::action_id.asc())
        .select(Action::as_select())
        .load(conn)
}

/// The actions matching `filter`, before any cursor or order. The bucket conditions are
/// `dashboard::filter::bucket_of` in SQL; `storage_tests` checks that the two agree.
/// A macro rather than a function so it applies to the plain and the grouped (totals) query.
macro_rules! filtered {
    ($query:expr, $filter:expr, $now:expr, $matching:expr) => {{
        let (filter, now, matching): (&ActionFilter, NaiveDateTime, Option<Vec<String>>) =
            ($filter, $now, $matching);
        let mut query = $query;
        if !filter.include_tests {
            query = query.filter(actions::is_test.eq(false));
        }
        let reversed = actions::status.eq(ActionStatus::Reversed);
        let locked = actions::status
            .eq(ActionStatus::Approved)
            .nullable()
            .or(actions::locking_date.le(now));
        query = match filter.bucket {
            None => query,
            Some(Bucket::Reversed) => query.filter(reversed),
            Some(Bucket::Cleared) => query
                .filter(actions::status.ne(ActionStatus::Reversed))
                .filter(actions::cleared_date.is_not_null()),
            Some(Bucket::Approved) => query
                .filter(actions::status.ne(ActionStatus::Reversed))
                .filter(actions::cleared_date.is_null())
                .filter(locked),
            Some(Bucket::Pending) => query
                .filter(actions::status.eq(ActionStatus::Pending))
                .filter(actions::cleared_date.is_null())
                .filter(
                    actions::locking_date
                        .is_null()
                        .or(actions::locking_date.gt(now).assume_not_null()),
                ),
        };
        if let Some(campaign) = &filter.campaign {
            query = query.filter(
                actions::campaign_id
                    .eq(campaign)
                    .or(actions::campaign_name.eq(campaign)),
            );
        }
        if let Some(event_type) = &filter.event_type {
            query = query.filter(
                actions::action_tracker_id
                    .eq(event_type)
                    .or(actions::action_tracker_name.eq(event_type)),
            );
        }
        if filter.flagged {
            query = query
                .filter(actions::flags.ne(""))
                .filter(actions::reviewed_at.is_null());
        }
        if let Some(currency) = &filter.currency {
            query = query.filter(actions::payout_currency.eq(currency));
        }
        if let Some(from) = filter.from {
            query = match filter.date_field {
                DateField::Event => query.filter(actions::event_date.ge(from)),
                DateField::Locking => query.filter(actions::locking_date.ge(from)),
            };
        }
        if let Some(until) = filter.until {
            query = match filter.date_field {
                DateField::Event => query.filter(actions::event_date.lt(until)),
                DateField::Locking => query.filter(actions::locking_date.lt(until)),
            };
        }
        if let Some(ids) = matching {
            query = query.filter(actions::action_id.eq_any(ids));
        }
        query
    }};
}

/// The actions an id search names: its action id, order id, shared id, a sub id or click id.
/// One indexed lookup per column, united; written as one OR the planner walked the whole table.
fn matching_ids(conn: &mut AnyConnection, search: &str) -> QueryResult<Vec<String>> {
    let by = |column: &str| format!("SELECT action_id FROM actions WHERE {column} = $1");
    let sql = [
        "action_id",
        "order_id",
        "shared_id",
        "sub_id1",
        "sub_id2",
        "sub_id3",
        "click_id",
    ]
    .map(by)
    .join(" UNION ");
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        action_id: String,
    }
    let ids: Vec<Id> =
        super::load_sql!(conn, sql, |q| q.bind::<diesel::sql_types::Text, _>(search))?;
    Ok(ids.into_iter().map(|id| id.action_id).collect())
}

/// Orders by `$column` then action id, and starts after the cursor. A nullable column sorts its
/// empty values last in both directions, the same on both backends.
macro_rules! keyset {
    ($query:expr, $filter:expr, $column:expr, $value:pat => $bound:expr, nullable) => {{
        let id = actions::action_id;
        let mut query = $query.order_by($column.is_null().asc());
        query = if $filter.descending {
            query.then_order_by($column.desc()).then_order_by(id.desc())
        } else {
            query.then_order_by($column.asc()).then_order_by(id.asc())
        };
        match &$filter.cursor {
            None => query,
            Some(cursor) => {
                let after = cursor.action_id.clone();
                match (&cursor.value, $filter.descending) {
                    (None, true) => query.filter($column.is_null().and(id.lt(after))),
                    (None, false) => query.filter($column.is_null().and(id.gt(after))),
                    (Some($value), true) => query.filter(
                        $column
                            .is_not_null()
                            .and($column.lt($bound).or($column.eq($bound).and(id.lt(after))))
                            .or($column.is_null()),
                    ),
                    (Some($value), false) => query.filter(
                        $column
                            .is_not_null()
                            .and($column.gt($bound).or($column.eq($bound).and(id.gt(after))))
                            .or($column.is_null()),
                    ),
                    // A cursor of another sort was refused when it was parsed.
                    _ => query.filter(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 0")),
                }
            }
        }
    }};
    ($query:expr, $filter:expr, $column:expr, $value:pat => $bound:expr) => {{
        let id = actions::action_id;
        let query = if $filter.descending {
            $query.order_by($column.desc()).then_order_by(id.desc())
        } else {
            $query.order_by($column.asc()).then_order_by(id.asc())
        };
        match &$filter.cursor {
            None => query,
            Some(cursor) => {
                let after = cursor.action_id.clone();
                match (&cursor.value, $filter.descending) {
                    (Some($value), true) => {
                        query.filter($column.lt($bound).or($column.eq($bound).and(id.lt(after))))
                    }
                    (Some($value), false) => {
                        query.filter($column.gt($bound).or($column.eq($bound).and(id.gt(after))))
                    }
                    _ => query.filter(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 0")),
                }
            }
        }
    }};
}

/// One page of the filtered list, in the filter's order, after its cursor.
pub fn list(
    conn: &mut AnyConnection,
    filter: &ActionFilter,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Action>> {
    let matching = match &filter.search {
        Some(search) => Some(matching_ids(conn, search)?),
        None => None,
    };
    let query = filtered!(actions::table.into_boxed(), filter, now, matching);
    let query = match filter.sort {
        SortKey::Received => {
            keyset!(query, filter, actions::first_seen_at, SortValue::Time(t) => *t)
        }
        SortKey::Payout => keyset!(query, filter, actions::payout, SortValue::Units(u) => *u),
        SortKey::EventDate => {
            keyset!(query, filter, actions::event_date, SortValue::Time(t) => *t, nullable)
        }
        SortKey::LockingDate => {
            keyset!(query, filter, actions::locking_date, SortValue::Time(t) => *t, nullable)
        }
        SortKey::ActionId => {
            let id = actions::action_id;
            let query = if filter.descending {
                query.order_by(id.desc())
            } else {
                query.order_by(id.asc())
            };
            match &filter.cursor {
                None => query,
                Some(cursor) if filter.descending => query.filter(id.lt(cursor.action_id.clone())),
                Some(cursor) => query.filter(id.gt(cursor.action_id.clone())),
            }
        }
    };
    query.select(Action::as_select()).limit(limit).load(conn)
}

/// Count, payout and amount of the filtered set, per payout currency (cursor and order ignored).
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct CurrencyTotal {
    pub currency: Option<String>,
    pub actions: i64,
    pub payout: i64,
    pub amount: i64,
}

pub fn totals(
    conn: &mut AnyConnection,
    filter: &ActionFilter,
    now: NaiveDateTime,
) -> QueryResult<Vec<CurrencyTotal>> {
    use diesel::dsl::{count_star, sql};
    use diesel::sql_types::BigInt;
    if filter.only_by_bucket() {
        let mut totals: std::collections::BTreeMap<Option<String>, CurrencyTotal> =
            std::collections::BTreeMap::new();
        for row in super::overview::bucket_totals(conn, filter.include_tests, now)? {
            if filter
                .bucket
                .is_some_and(|bucket| bucket.as_str() != row.bucket)
            {
                continue;
            }
            let total = totals
                .entry(row.currency.clone())
                .or_insert_with(|| CurrencyTotal {
                    currency: row.currency,
                    actions: 0,
                    payout: 0,
                    amount: 0,
                });
            total.actions += row.actions;
            total.payout += row.payout;
            total.amount += row.amount;
        }
        return Ok(totals.into_values().collect());
    }
    let matching = match &filter.search {
        Some(search) => Some(matching_ids(conn, search)?),
        None => None,
    };
    let grouped = actions::table
        .group_by(actions::payout_currency)
        .select((
            actions::payout_currency,
            count_star(),
            sql::<BigInt>("CAST(COALESCE(SUM(payout), 0) AS BIGINT)"),
            sql::<BigInt>("CAST(COALESCE(SUM(amount), 0) AS BIGINT)"),
        ))
        .order_by(actions::payout_currency.asc())
        .into_boxed();
    filtered!(grouped, filter, now, matching).load(conn)
}

/// Marks an action's flags as looked at; None when there is no such action.
pub fn mark_reviewed(
    conn: &mut AnyConnection,
    action_id: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(actions::table.find(action_id))
        .set(actions::reviewed_at.eq(Some(at)))
        .execute(conn)
        .map(|updated| updated > 0)
}
