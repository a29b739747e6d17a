//! Reconciliation runs: one row per sync or import, with what it read and how it ended.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::schema::reconciliation_runs;
use super::{AdvisoryLock, AnyConnection, per_backend};
use crate::domain::cross_check::{RunSource, RunStatus};

#[derive(Debug, Insertable)]
#[diesel(table_name = reconciliation_runs)]
pub struct NewRun<'a> {
    pub network: &'a str,
    pub source: RunSource,
    pub status: RunStatus,
    pub period_start: NaiveDateTime,
    pub period_end: NaiveDateTime,
    pub started_at: NaiveDateTime,
    pub column_map: &'a str,
    pub file_name: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = reconciliation_runs)]
pub struct Run {
    pub id: i64,
    pub network: String,
    pub source: RunSource,
    pub status: RunStatus,
    pub period_start: NaiveDateTime,
    pub period_end: NaiveDateTime,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub applied_at: Option<NaiveDateTime>,
    pub records: i64,
    pub compared: i64,
    pub unreadable: i64,
    pub outside: i64,
    pub requests: i64,
    pub column_map: String,
    pub file_name: Option<String>,
    pub message: Option<String>,
}

pub fn insert(conn: &mut AnyConnection, new: &NewRun<'_>) -> QueryResult<i64> {
    per_backend!(conn, c => diesel::insert_into(reconciliation_runs::table)
        .values(new)
        .returning(reconciliation_runs::id)
        .get_result(c))
}

/// What one step of a run read, added to its counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Records read (a record listed twice counts twice; it is compared once).
    pub records: i64,
    /// Records compared with the ledger.
    pub compared: i64,
    /// Records that could not be read (no id, unreadable money).
    pub unreadable: i64,
    /// Records outside the run's period, not compared.
    pub outside: i64,
    /// HTTP requests made (retries included).
    pub requests: i64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.records += other.records;
        self.compared += other.compared;
        self.unreadable += other.unreadable;
        self.outside += other.outside;
        self.requests += other.requests;
    }
}

pub fn add_counts(conn: &mut AnyConnection, id: i64, counts: Counts) -> QueryResult<usize> {
    use reconciliation_runs::dsl;
    diesel::update(dsl::reconciliation_runs.find(id))
        .set((
            dsl::records.eq(dsl::records + counts.records),
            dsl::compared.eq(dsl::compared + counts.compared),
            dsl::unreadable.eq(dsl::unreadable + counts.unreadable),
            dsl::outside.eq(dsl::outside + counts.outside),
            dsl::requests.eq(dsl::requests + counts.requests),
        ))
        .execute(conn)
}

/// Ends a run: completed or failed, with what it has to say (never a credential).
pub fn finish(
    conn: &mut AnyConnection,
    id: i64,
    status: RunStatus,
    at: NaiveDateTime,
    message: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(reconciliation_runs::table.find(id))
        .set((
            reconciliation_runs::status.eq(status),
            reconciliation_runs::finished_at.eq(Some(at)),
            reconciliation_runs::message.eq(message),
        ))
        .execute(conn)
}

pub fn set_applied(conn: &mut AnyConnection, id: i64, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(reconciliation_runs::table.find(id))
        .set(reconciliation_runs::applied_at.eq(Some(at)))
        .execute(conn)
}

pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Run>> {
    reconciliation_runs::table
        .find(id)
        .select(Run::as_select())
        .first(conn)
        .optional()
}

/// Runs newest first, before `before_id` (a keyset cursor).
pub fn recent(
    conn: &mut AnyConnection,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Run>> {
    let mut query = reconciliation_runs::table
        .select(Run::as_select())
        .into_boxed();
    if let Some(before_id) = before_id {
        query = query.filter(reconciliation_runs::id.lt(before_id));
    }
    query
        .order(reconciliation_runs::id.desc())
        .limit(limit)
        .load(conn)
}

/// The newest run of `network` that completed: what the ledger was last checked against.
pub fn latest_completed(conn: &mut AnyConnection, network: &str) -> QueryResult<Option<Run>> {
    reconciliation_runs::table
        .filter(reconciliation_runs::network.eq(network))
        .filter(reconciliation_runs::status.eq(RunStatus::Completed))
        .order(reconciliation_runs::id.desc())
        .select(Run::as_select())
        .first(conn)
        .optional()
}

/// The newest run of `network` that ended (completed or failed): whether the last check worked.
pub fn latest_ended(conn: &mut AnyConnection, network: &str) -> QueryResult<Option<Run>> {
    reconciliation_runs::table
        .filter(reconciliation_runs::network.eq(network))
        .filter(reconciliation_runs::status.ne(RunStatus::Running))
        .order(reconciliation_runs::id.desc())
        .select(Run::as_select())
        .first(conn)
        .optional()
}

/// When the newest run of `network` from `source` started, whatever became of it: the schedule
/// counts from there.
pub fn last_started(
    conn: &mut AnyConnection,
    network: &str,
    source: RunSource,
) -> QueryResult<Option<NaiveDateTime>> {
    reconciliation_runs::table
        .filter(reconciliation_runs::network.eq(network))
        .filter(reconciliation_runs::source.eq(source))
        .order(reconciliation_runs::id.desc())
        .select(reconciliation_runs::started_at)
        .first(conn)
        .optional()
}

/// Runs of `network` still marked running that started before `cutoff`.
pub fn running_before(
    conn: &mut AnyConnection,
    network: &str,
    cutoff: NaiveDateTime,
) -> QueryResult<Vec<i64>> {
    reconciliation_runs::table
        .filter(reconciliation_runs::network.eq(network))
        .filter(reconciliation_runs::status.eq(RunStatus::Running))
        .filter(reconciliation_runs::started_at.lt(cutoff))
        .select(reconciliation_runs::id)
        .load(conn)
}

/// The advisory lock that lets one instance at a time sync (PostgreSQL; a session lock on this
/// connection, released by `unlock_sync` or when the connection ends). On SQLite: always true.
pub fn try_lock_sync(conn: &mut AnyConnection) -> QueryResult<bool> {
    match conn {
        AnyConnection::Postgresql(c) => {
            #[derive(QueryableByName)]
            struct Locked {
                #[diesel(sql_type = diesel::sql_types::Bool)]
                locked: bool,
            }
            let row: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
                .bind::<diesel::sql_types::BigInt, _>(AdvisoryLock::Sync.key())
                .get_result(c)?;
            Ok(row.locked)
        }
        AnyConnection::Sqlite(_) => Ok(true),
    }
}

pub fn unlock_sync(conn: &mut AnyConnection) -> QueryResult<()> {
    if let AnyConnection::Postgresql(c) = conn {
        diesel::sql_query("SELECT pg_advisory_unlock($1)")
            .bind::<diesel::sql_types::BigInt, _>(AdvisoryLock::Sync.key())
            .execute(c)?;
    }
    Ok(())
}
