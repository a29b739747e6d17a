//! Actions: one row per action with its reconciled state and the ids a partner searches by.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use std::sync::LazyLock;

use diesel::backend::Backend as DieselBackend;
use diesel::query_builder::AstPass;
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, HasSqlType, Nullable, Text, Timestamp};

use super::action_details::{self, RowDetails, StoredDetails};
use super::prepared::{self, BindRow, RowsStatement};
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
    #[diesel(embed)]
    pub details: StoredDetails,
    pub ledger_date: Option<NaiveDateTime>,
    pub flags: Flags,
    pub items: Option<String>,
    pub extra: Option<String>,
    pub first_seen_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub reviewed_at: Option<NaiveDateTime>,
    pub is_test: bool,
}

impl Action {
    /// When it cleared (a clearing named it: its LedgerDate, else the clearing's arrival); None:
    /// not cleared, whatever date it is scheduled to clear (`details.cleared_date`).
    pub fn cleared_at(&self) -> Option<NaiveDateTime> {
        self.ledger_date
    }
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

/// The reconciled state, which is what the write path reads: not the whole row, whose raw extras
/// are kilobytes.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = actions)]
pub struct StoredState {
    pub status: ActionStatus,
    pub payout: i64,
    pub amount: i64,
    pub flags: Flags,
    pub locking_date: Option<NaiveDateTime>,
}

/// What the write path reads of a stored action: its source, its reconciled state, and its
/// details, to tell whether a new event changes an indexed one.
pub struct StoredAction {
    pub action_id: String,
    pub source: String,
    pub state: StoredState,
    pub details: StoredDetails,
}

/// Each of `action_ids` that is stored: one query for a whole batch of the write path instead
/// of one per delivery.
pub fn states_of(conn: &mut AnyConnection, action_ids: &[&str]) -> QueryResult<Vec<StoredAction>> {
    use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
    type Columns = (
        (Text, Text),
        (Text, BigInt, BigInt, Text, Nullable<Timestamp>),
        action_details::Types,
    );
    static HEAD: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT action_id, source, status, payout, amount, flags, locking_date{} \
             FROM actions WHERE action_id IN (",
            action_details::COLUMN_LIST
        )
    });
    let rows = prepared::load_in(action_ids, |ids| {
        let statement = RowsStatement::<_, Columns>::new(&HEAD, ids, ")");
        per_backend!(&mut *conn, c => statement
            .load::<((String, String), StoredState, StoredDetails)>(c))
    })?;
    Ok(rows
        .into_iter()
        .map(|((action_id, source), state, details)| StoredAction {
            action_id,
            source,
            state,
            details,
        })
        .collect())
}

/// A whole action row as the write path writes it: its state, the details its events gave
/// (None: none of them gave it) and whether any was a test. `ledger_date` and `reviewed_at` are
/// not the write path's and are left alone.
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
    pub details: RowDetails<'a>,
    pub items: Option<String>,
    pub extra: Option<String>,
    pub is_test: bool,
}

/// The details some index covers. An update that leaves them as stored need not rewrite their
/// indexes: see `upsert_all`.
const INDEXED: &[&str] = &[
    "campaign_id",
    "campaign_name",
    "action_tracker_id",
    "action_tracker_name",
    "order_id",
    "shared_id",
    "sub_id1",
    "sub_id2",
    "sub_id3",
    "click_id",
    "event_date",
    "locking_date",
    "cleared_date",
];

/// The upsert's statements: `INSERT INTO actions (…) VALUES ` and the two `ON CONFLICT` tails.
struct Upsert {
    insert: String,
    /// Sets every column the row gives.
    all: String,
    /// Leaves the indexed details out.
    unindexed: String,
}

static UPSERT: LazyLock<Upsert> = LazyLock::new(|| {
    /// `, column = COALESCE(excluded.column, actions.column)`: the row's value if it gives one,
    /// else the stored one.
    fn given_or_kept<'a>(columns: impl Iterator<Item = &'a str>) -> String {
        columns
            .map(|c| format!(", {c} = COALESCE(excluded.{c}, actions.{c})"))
            .collect()
    }
    let details = || {
        StoredDetails::TEXTS
            .iter()
            .chain(StoredDetails::DATES)
            .copied()
    };
    let state = "ON CONFLICT (action_id) DO UPDATE SET source = excluded.source, \
        status = excluded.status, payout = excluded.payout, amount = excluded.amount, \
        flags = excluded.flags, last_seen_at = excluded.last_seen_at, \
        is_test = excluded.is_test OR actions.is_test";
    let kept = given_or_kept(["status_raw", "items", "extra"].into_iter());
    Upsert {
        insert: format!(
            "INSERT INTO actions (action_id, source, status, payout, amount, flags, \
             first_seen_at, last_seen_at, status_raw{}, items, extra, is_test) VALUES ",
            action_details::COLUMN_LIST
        ),
        all: format!(" {state}{kept}{}", given_or_kept(details())),
        unindexed: format!(
            " {state}{kept}{}",
            given_or_kept(details().filter(|name| !INDEXED.contains(name)))
        ),
    }
});

/// Writes each row in a few statements per batch: a new action is inserted; a stored one gets
/// the new state and source, keeps its `first_seen_at`, keeps every detail the row does not
/// give (COALESCE: a later event never blanks what an earlier one gave) and stays a test once
/// it was one. `unchanged_indexes` are rows of stored actions that give no indexed detail other
/// than the stored value: their statement leaves those columns out of its SET, so the database
/// does not rewrite their indexes (SQLite rewrites an index whenever a column it covers is SET,
/// even to the same value). Each action id at most once per call.
pub fn upsert_all(
    conn: &mut AnyConnection,
    rows: &[ActionRow<'_>],
    unchanged_indexes: &[ActionRow<'_>],
) -> QueryResult<()> {
    let upsert = &*UPSERT;
    for (rows, tail) in [
        (rows, upsert.all.as_str()),
        (unchanged_indexes, upsert.unindexed.as_str()),
    ] {
        for rows in prepared::in_sizes(rows) {
            let statement = RowsStatement::<_>::new(&upsert.insert, rows, tail);
            per_backend!(&mut *conn, c => statement.execute(c))?;
        }
    }
    Ok(())
}

impl ActionRow<'_> {
    /// Gives no indexed detail other than the one stored: its upsert can leave them out.
    pub fn keeps_indexed_fields(&self, stored: &StoredDetails) -> bool {
        let texts = self.details.texts().into_iter().zip(stored.texts());
        let dates = self.details.dates().into_iter().zip(stored.dates());
        texts
            .filter(|((name, _), _)| INDEXED.contains(name))
            .all(|((_, given), (_, stored))| {
                given.is_none_or(|given| Some(*given) == stored.map(String::as_str))
            })
            && dates
                .filter(|((name, _), _)| INDEXED.contains(name))
                .all(|((_, given), (_, stored))| given.is_none() || given == stored)
    }
}

impl<DB> BindRow<DB> for ActionRow<'_>
where
    DB: DieselBackend
        + HasSqlType<Text>
        + HasSqlType<Timestamp>
        + HasSqlType<BigInt>
        + HasSqlType<Bool>,
    str: ToSql<Text, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
    i64: ToSql<BigInt, DB>,
    bool: ToSql<Bool, DB>,
    ActionStatus: ToSql<Text, DB>,
    String: ToSql<Text, DB>,
{
    /// In the column order of `UPSERT.insert`.
    fn bind<'b>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_bind_param::<Text, _>(self.action_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.source)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.status)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.payout)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.amount)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.flags)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.first_seen_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.last_seen_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.status_raw)?;
        self.details.bind(out)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.items)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.extra)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&self.is_test)
    }
}

/// An action id a clearing named but no event has: no money, pending, with what the clearing
/// said of it.
pub struct Placeholder<'a> {
    pub action_id: &'a str,
    pub source: &'a str,
    pub campaign_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub cleared_date: Option<NaiveDateTime>,
    pub ledger_date: Option<NaiveDateTime>,
    pub flags: &'a str,
    pub at: NaiveDateTime,
}

pub fn insert_placeholder(conn: &mut AnyConnection, new: &Placeholder<'_>) -> QueryResult<usize> {
    diesel::insert_into(actions::table)
        .values((
            actions::action_id.eq(new.action_id),
            actions::source.eq(new.source),
            actions::status.eq(ActionStatus::Pending),
            actions::payout.eq(0),
            actions::amount.eq(0),
            actions::flags.eq(new.flags),
            actions::campaign_id.eq(new.campaign_id),
            actions::order_id.eq(new.order_id),
            actions::cleared_date.eq(new.cleared_date),
            actions::ledger_date.eq(new.ledger_date),
            actions::first_seen_at.eq(new.at),
            actions::last_seen_at.eq(new.at),
        ))
        .execute(conn)
}

/// Sets the dates a clearing gives (None leaves a date alone: `ledger_date`, when it cleared,
/// is given once, when the clearing is booked) and the flags.
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

/// The one currency a brand's actions are paid in, or None (none yet, or several): what an
/// inquiry about it that no action is linked to is expected in.
pub fn currency_of_campaign(
    conn: &mut AnyConnection,
    campaign_id: &str,
) -> QueryResult<Option<String>> {
    let found: Vec<Option<String>> = actions::table
        .filter(actions::campaign_id.eq(campaign_id))
        .filter(actions::payout_currency.is_not_null())
        .select(actions::payout_currency)
        .distinct()
        .limit(2)
        .load(conn)?;
    Ok(match found.as_slice() {
        [Some(currency)] => Some(currency.clone()),
        _ => None,
    })
}

/// The test conversions (hidden from finance's lists) whose action id or order id is exactly
/// `id`: so a search that finds nothing can say it hit a hidden test.
pub fn tests_named(conn: &mut AnyConnection, id: &str) -> QueryResult<Vec<String>> {
    actions::table
        .filter(actions::is_test.eq(true))
        .filter(actions::action_id.eq(id).or(actions::order_id.eq(id)))
        .select(actions::action_id)
        .order(actions::action_id.asc())
        .limit(20)
        .load(conn)
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
                .filter(actions::ledger_date.is_not_null()),
            Some(Bucket::Approved) => query
                .filter(actions::status.ne(ActionStatus::Reversed))
                .filter(actions::ledger_date.is_null())
                .filter(locked),
            Some(Bucket::Pending) => query
                .filter(actions::status.eq(ActionStatus::Pending))
                .filter(actions::ledger_date.is_null())
                .filter(
                    actions::locking_date
                        .is_null()
                        .or(actions::locking_date.gt(now).assume_not_null()),
                ),
        };
        // Brand and currency as a person types them: case does not matter.
        if let Some(campaign) = &filter.campaign {
            let campaign = campaign.to_ascii_lowercase();
            query = query.filter(
                lower(actions::campaign_id)
                    .eq(campaign.clone())
                    .or(lower(actions::campaign_name).eq(campaign)),
            );
        }
        if let Some(event_type) = &filter.event_type {
            let event_type = event_type.to_ascii_lowercase();
            query = query.filter(
                lower(actions::action_tracker_id)
                    .eq(event_type.clone())
                    .or(lower(actions::action_tracker_name).eq(event_type)),
            );
        }
        if filter.flagged {
            query = query
                .filter(actions::flags.ne(""))
                .filter(actions::reviewed_at.is_null());
        }
        if let Some(currency) = &filter.currency {
            query = query.filter(lower(actions::payout_currency).eq(currency.to_ascii_lowercase()));
        }
        if let Some(from) = filter.from {
            query = match filter.date_field {
                DateField::Event => query.filter(actions::event_date.ge(from)),
                DateField::Locking => query.filter(actions::locking_date.ge(from)),
                DateField::Cleared => query.filter(actions::ledger_date.ge(from)),
                DateField::ScheduledClear => query.filter(actions::cleared_date.ge(from)),
                DateField::Ledger => query,
            };
        }
        if let Some(until) = filter.until {
            query = match filter.date_field {
                DateField::Event => query.filter(actions::event_date.lt(until)),
                DateField::Locking => query.filter(actions::locking_date.lt(until)),
                DateField::Cleared => query.filter(actions::ledger_date.lt(until)),
                DateField::ScheduledClear => query.filter(actions::cleared_date.lt(until)),
                DateField::Ledger => query,
            };
        }
        // Ledger: the actions with an entry recorded in the range (what a statement row holds).
        if filter.date_field == DateField::Ledger
            && (filter.from.is_some() || filter.until.is_some())
        {
            let from = filter.from.unwrap_or(NaiveDateTime::MIN);
            let until = filter.until.unwrap_or(NaiveDateTime::MAX);
            query = query.filter(
                actions::action_id.eq_any(
                    super::schema::ledger_entries::table
                        .filter(super::schema::ledger_entries::recorded_at.ge(from))
                        .filter(super::schema::ledger_entries::recorded_at.lt(until))
                        .select(super::schema::ledger_entries::action_id),
                ),
            );
        }
        if let Some(ids) = matching {
            query = query.filter(actions::action_id.eq_any(ids));
        }
        query
    }};
}

diesel::define_sql_function! {
    /// SQL's `LOWER` (ASCII on SQLite): the list's case-insensitive brand and currency filters.
    fn lower(text: Nullable<Text>) -> Nullable<Text>;
}

/// A brand as actions name it: its campaign id and name.
pub type Brand = (Option<String>, Option<String>);

/// The distinct brands and payout currencies, for the list's choices.
pub fn known_brands_and_currencies(
    conn: &mut AnyConnection,
) -> QueryResult<(Vec<Brand>, Vec<String>)> {
    let brands = actions::table
        .select((actions::campaign_id, actions::campaign_name))
        .filter(
            actions::campaign_id
                .is_not_null()
                .or(actions::campaign_name.is_not_null()),
        )
        .distinct()
        .order((actions::campaign_name.asc(), actions::campaign_id.asc()))
        .limit(500)
        .load(conn)?;
    let currencies: Vec<Option<String>> = actions::table
        .select(actions::payout_currency)
        .filter(actions::payout_currency.is_not_null())
        .distinct()
        .order(actions::payout_currency.asc())
        .limit(200)
        .load(conn)?;
    Ok((brands, currencies.into_iter().flatten().collect()))
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
    list_from(conn, filter, now, 0, limit)
}

/// `list`, skipping `offset` rows first (the pager's way back; it walks the index that far).
pub fn list_from(
    conn: &mut AnyConnection,
    filter: &ActionFilter,
    now: NaiveDateTime,
    offset: i64,
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
    // The ids first, then their rows: a filter the sort's index does not serve then sorts
    // the matching ids, not whole rows.
    let ids: Vec<String> = query
        .select(actions::action_id)
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    let mut rows = of_ids(conn, &ids)?;
    let position: std::collections::HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(at, id)| (id.as_str(), at))
        .collect();
    rows.sort_by_key(|row| position.get(row.action_id.as_str()).copied());
    Ok(rows)
}

/// Count, payout and amount of the filtered set, per payout currency (cursor and order ignored),
/// and what its reversal entries took away (positive): the Reversed list shows it, as the
/// overview does (a reversed action's own payout is 0).
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct CurrencyTotal {
    pub currency: Option<String>,
    pub actions: i64,
    pub payout: i64,
    pub amount: i64,
    pub reversed: i64,
}

/// Only a reversed action has reversal entries (a reversal is terminal), so only its row pays
/// for the lookup.
const REVERSED_SUM: &str = "CAST(COALESCE(SUM(CASE WHEN status = 'reversed' THEN \
     (SELECT -SUM(e.payout_delta) FROM ledger_entries e \
      WHERE e.action_id = actions.action_id AND e.kind = 'reversed') END), 0) AS BIGINT)";

pub fn totals(
    conn: &mut AnyConnection,
    filter: &ActionFilter,
    now: NaiveDateTime,
) -> QueryResult<Vec<CurrencyTotal>> {
    use diesel::dsl::{count_star, sql};
    use diesel::sql_types::BigInt;
    let matching = match &filter.search {
        Some(search) => Some(matching_ids(conn, search)?),
        None => None,
    };
    let Some(sums) = filter.sums_filter() else {
        // One pass over the matching actions for all four sums.
        let grouped = actions::table
            .group_by(actions::payout_currency)
            .select((
                actions::payout_currency,
                count_star(),
                sql::<BigInt>("CAST(COALESCE(SUM(payout), 0) AS BIGINT)"),
                sql::<BigInt>("CAST(COALESCE(SUM(amount), 0) AS BIGINT)"),
                sql::<BigInt>(REVERSED_SUM),
            ))
            .order_by(actions::payout_currency.asc())
            .into_boxed();
        return filtered!(grouped, filter, now, matching).load(conn);
    };
    let mut totals: std::collections::BTreeMap<Option<String>, CurrencyTotal> =
        std::collections::BTreeMap::new();
    for row in super::overview::bucket_totals_where(conn, filter.include_tests, now, &sums)? {
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
                reversed: 0,
            });
        total.actions += row.actions;
        total.payout += row.payout;
        total.amount += row.amount;
    }
    let reversed: Vec<(Option<String>, i64)> =
        if !matches!(filter.bucket, None | Some(Bucket::Reversed)) {
            Vec::new()
        } else if filter.from.is_none() && filter.until.is_none() {
            // The running sums' (whose currency is each entry's).
            let wanted = filter.currency.as_ref().map(|c| c.to_ascii_lowercase());
            super::overview::reversed_payout(conn, filter.include_tests)?
                .into_iter()
                .filter(|sum| {
                    wanted.is_none()
                        || sum.currency.as_ref().map(|c| c.to_ascii_lowercase()) == wanted
                })
                .map(|sum| (sum.currency, sum.payout))
                .collect()
        } else {
            let grouped = actions::table
                .filter(actions::status.eq(ActionStatus::Reversed))
                .group_by(actions::payout_currency)
                .select((actions::payout_currency, sql::<BigInt>(REVERSED_SUM)))
                .order_by(actions::payout_currency.asc())
                .into_boxed();
            filtered!(grouped, filter, now, matching).load(conn)?
        };
    for (currency, payout) in reversed {
        if let Some(total) = totals.get_mut(&currency) {
            total.reversed += payout;
        }
    }
    Ok(totals.into_values().collect())
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
