//! The database: connections for either backend chosen by URL, migrations, and every SQL query.
//! SQL only: it depends on `domain` alone, one file per table or report.

pub mod action_details;
pub mod action_events;
pub mod action_query;
pub mod actions;
pub mod activity;
pub mod alerts;
pub mod auth_failures;
pub mod catalog_items;
pub mod check;
pub mod checkpoint;
pub mod clearances;
pub mod clearings;
pub mod closed_months;
pub mod cross_check;
pub mod deliveries;
pub mod inquiries;
pub mod inquiry_events;
pub mod jobs;
pub mod ledger_entries;
pub mod ledger_export;
pub mod overview;
pub mod prepared;
pub mod reconciliation_differences;
pub mod reconciliation_runs;
pub mod reconciliation_seen;
pub mod running_sums;
pub mod schema;
pub mod sessions;
pub mod settings;
pub mod statement;
pub mod tracking_value_requests;
pub mod webhook_messages;
pub mod words;

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The PostgreSQL advisory locks that span the whole database, in one enum so that no two share
/// a key (the compiler refuses equal discriminants). Per-action and per-inquiry locks hash their
/// ids instead.
#[derive(Debug, Clone, Copy)]
#[repr(i64)]
pub enum AdvisoryLock {
    /// Two instances starting together migrate one after the other.
    Migrations = 7201,
    /// Batches take it shared; closing a month takes it exclusively.
    ClosingMonth = 7202,
    /// One instance at a time syncs with the network (a session lock).
    Sync = 7203,
}

impl AdvisoryLock {
    pub const fn key(self) -> i64 {
        self as i64
    }
}

/// A transaction that writes. On SQLite it takes the write lock before anything else: a
/// transaction that has read cannot wait for the lock (SQLite refuses the upgrade at once,
/// "database is locked", when another connection committed after its read), so a batch that
/// read first failed whenever a refusal count or a sync landed in between. Taken first, the
/// lock is waited for under the busy timeout like any other.
pub fn write_transaction<T, E>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    conn.transaction(|conn| {
        if let AnyConnection::Sqlite(c) = conn {
            // A write statement that changes nothing: SQLite takes the lock all the same.
            c.batch_execute("UPDATE settings SET value = value WHERE 0")?;
        }
        work(conn)
    })
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection to whichever backend the URL named. Queries written once run on both.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection, for the few statements diesel's
/// multi-backend cannot express (ON CONFLICT, RETURNING, locks).
macro_rules! per_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::storage::AnyConnection::Postgresql($c) => $body,
            $crate::storage::AnyConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use per_backend;

/// Loads the rows of an SQL text written once with PostgreSQL's `$1` placeholders, on either
/// backend (SQLite reads them as `?1`): for the reports diesel's query builder cannot express
/// (CASE, casts of aggregates). `|$q| $binds` adds the binds to the query `$q`.
macro_rules! load_sql {
    ($conn:expr, $sql:expr, |$q:ident| $binds:expr) => {
        match $conn {
            $crate::storage::AnyConnection::Postgresql(c) => {
                let $q = diesel::sql_query($sql);
                $binds.load(c)
            }
            $crate::storage::AnyConnection::Sqlite(c) => {
                let $q = diesel::sql_query($sql.replace('$', "?"));
                $binds.load(c)
            }
        }
    };
}
pub(crate) use load_sql;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "unsupported database URL `{0}`: use sqlite://path/to/file.db, a bare file path, or postgres://user@host/db"
    )]
    UnsupportedUrl(String),
    #[error("cannot connect to the {backend} database: {source}")]
    Connect {
        backend: &'static str,
        source: diesel::ConnectionError,
    },
    #[error("cannot set up the SQLite connection: {0}")]
    Pragma(diesel::result::Error),
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// A URL resolved to its backend and the string that backend's driver takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub backend: Backend,
    pub address: String,
}

/// The backend is chosen from the scheme, never by trying each: a PostgreSQL URL to a server that
/// is down must say so, not become a SQLite file.
pub fn target_of(url: &str) -> Result<Target, StorageError> {
    let url = url.trim();
    let sqlite = |address: &str| Target {
        backend: Backend::Sqlite,
        address: address.to_owned(),
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Target {
            backend: Backend::Postgres,
            address: url.to_owned(),
        });
    }
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        if !path.is_empty() {
            return Ok(sqlite(path));
        }
    } else if !url.is_empty() && !url.contains("://") && !url.contains('=') {
        return Ok(sqlite(url));
    }
    Err(StorageError::UnsupportedUrl(url.to_owned()))
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Connection(#[from] diesel::ConnectionError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// Opens connections for the pool, with SQLite's durability settings on every one.
#[derive(Debug, Clone)]
pub struct Manager {
    target: Target,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<AnyConnection, ConnectError> {
        match self.target.backend {
            Backend::Postgres => Ok(AnyConnection::Postgresql(PgConnection::establish(
                &self.target.address,
            )?)),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.target.address)?;
                // busy_timeout first: switching to WAL can itself meet a lock. Statement
                // journals (a multi-row statement inside the writer's transaction) stay in
                // memory: as temporary files they were created and deleted on every batch.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000;
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = FULL;
                     PRAGMA foreign_keys = ON;
                     PRAGMA temp_store = MEMORY;",
                )?;
                conn.batch_execute(&format!(
                    "PRAGMA wal_autocheckpoint = {};",
                    checkpoint::WRITER_CHECKPOINT_PAGES
                ))?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), ConnectError> {
        Ok(conn.batch_execute("SELECT 1")?)
    }

    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
    }
}

pub type PooledConn = PooledConnection<Manager>;

/// The pool and what it points at. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: Pool<Manager>,
    backend: Backend,
}

/// Initialises OpenSSL (which libpq uses for TLS) without its exit handler; call it before
/// anything opens a PostgreSQL connection (`Database::connect` does). With the handler, OpenSSL
/// frees its state when `main` returns while other threads may still use it or run its
/// per-thread cleanup: about one `check` in ten on PostgreSQL with TLS died with SIGSEGV after
/// printing its result, and the test binary now and then after its last test. The process
/// exiting frees the memory anyway.
pub fn init_tls() {
    openssl_sys::init();
}

impl Database {
    /// Connects once directly, so a bad URL or a server that is down reports its real error.
    pub fn connect(url: &str) -> Result<Database, StorageError> {
        init_tls();
        let target = target_of(url)?;
        let backend = target.backend;
        let manager = Manager { target };
        manager.connect().map_err(|error| match error {
            ConnectError::Connection(source) => StorageError::Connect {
                backend: backend.as_str(),
                source,
            },
            ConnectError::Query(error) => StorageError::Pragma(error),
        })?;
        let pool = Pool::builder()
            .max_size(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 12,
            })
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(3))
            .build_unchecked(manager);
        Ok(Database { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn conn(&self) -> Result<PooledConn, StorageError> {
        Ok(self.pool.get()?)
    }

    /// Applies pending migrations. On PostgreSQL an advisory lock keeps two instances starting
    /// together from racing.
    pub fn migrate(&self) -> Result<usize, StorageError> {
        let mut conn = self.conn()?;
        let applied = per_backend!(&mut *conn, c => {
            let migrations = if matches!(self.backend, Backend::Postgres) {
                c.batch_execute(&format!("SELECT pg_advisory_lock({})", AdvisoryLock::Migrations.key()))?;
                POSTGRES_MIGRATIONS
            } else {
                SQLITE_MIGRATIONS
            };
            let result = c.run_pending_migrations(migrations).map(|done| done.len());
            if matches!(self.backend, Backend::Postgres) {
                c.batch_execute(&format!("SELECT pg_advisory_unlock({})", AdvisoryLock::Migrations.key()))?;
            }
            result
        });
        applied.map_err(|error| StorageError::Migration(error.to_string()))
    }

    /// For `/readyz`: the database answers a query.
    pub fn ping(&self) -> Result<(), StorageError> {
        let mut conn = self.conn()?;
        conn.batch_execute("SELECT 1")?;
        Ok(())
    }
}

/// Times are stored as UTC without a zone, to the microsecond both backends keep.
pub fn to_db_time(instant: DateTime<Utc>) -> NaiveDateTime {
    crate::domain::clock::truncate_to_micros(instant).naive_utc()
}

pub fn from_db_time(stored: NaiveDateTime) -> DateTime<Utc> {
    stored.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Diesel keys a migration by the part of its folder name before the first `_`: two folders
    /// with one version (merged from two branches) would leave one of them unapplied.
    #[test]
    fn every_migration_has_a_version_of_its_own_and_both_dialects_the_same() {
        let versions = |dialect: &str| -> Vec<String> {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dialect);
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let sqlite = versions("sqlite");
        assert_eq!(sqlite, versions("postgres"));
        let mut seen = std::collections::HashSet::new();
        for name in &sqlite {
            let version = name.split('_').next().unwrap();
            assert!(
                seen.insert(version.to_owned()),
                "two migrations are version {version}"
            );
        }
    }

    #[test]
    fn the_url_scheme_chooses_the_backend() {
        assert_eq!(
            target_of("sqlite://data/x.db").unwrap().address,
            "data/x.db"
        );
        assert_eq!(target_of("sqlite:x.db").unwrap().backend, Backend::Sqlite);
        assert_eq!(target_of("./ledger.db").unwrap().backend, Backend::Sqlite);
        assert_eq!(
            target_of("postgres://u@h/db").unwrap().backend,
            Backend::Postgres
        );
        assert_eq!(
            target_of("postgresql://u@h/db").unwrap().backend,
            Backend::Postgres
        );
        // A keyword-style PostgreSQL string must not silently become a SQLite file.
        assert!(target_of("host=localhost dbname=ledger").is_err());
        assert!(target_of("mysql://u@h/db").is_err());
        assert!(target_of("").is_err());
    }

    #[test]
    fn a_write_transaction_holds_the_write_lock_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("ledger.db").to_string_lossy().into_owned();
        let db = Database::connect(&url).unwrap();
        db.migrate().unwrap();
        let (mut first, mut second) = (db.conn().unwrap(), db.conn().unwrap());
        let other_wrote = write_transaction(&mut first, |conn| {
            settings::get(conn, "x")?;
            // Another connection cannot write between this read and this transaction's write:
            // had it, SQLite would refuse this transaction's write at once.
            let other = match &mut *second {
                AnyConnection::Sqlite(c) => c
                    .batch_execute("PRAGMA busy_timeout = 0; INSERT INTO settings (key, value, updated_at) VALUES ('y', '1', '2026-01-01 00:00:00')"),
                AnyConnection::Postgresql(_) => unreachable!(),
            };
            settings::put(conn, "x", "1", chrono::NaiveDateTime::default())?;
            Ok::<_, diesel::result::Error>(other.is_ok())
        })
        .unwrap();
        assert!(!other_wrote);
        assert_eq!(
            settings::get(&mut second, "x").unwrap().as_deref(),
            Some("1")
        );
    }
}
