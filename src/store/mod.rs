//! Storage: one diesel codebase over PostgreSQL (production) and SQLite (the
//! embedded default), SPEC §5.
//!
//! - [`DbConnection`] is a diesel `MultiConnection`; the backend is chosen from
//!   the URL scheme by [`crate::configuration::DatabaseUrl`], never by trying
//!   each backend in turn (diesel would silently create a SQLite file).
//! - Every write runs in [`write_tx`]: `BEGIN IMMEDIATE` on SQLite (a deferred
//!   transaction that reads then writes fails with SQLITE_BUSY_SNAPSHOT under
//!   WAL), a plain transaction on PostgreSQL.
//! - Record modules (`orgs`, `users`, …) are functions over `&mut DbConnection`
//!   returning [`StoreError`]; callers compose them inside one transaction so a
//!   change and its audit event commit together.
//! - The few statements that differ per backend sit in small named functions
//!   next to their record module.

pub mod access;
pub mod api_keys;
pub mod audit;
pub mod directories;
mod error;
pub mod groups;
pub mod identifier_keys;
pub mod mappings;
pub mod migrations;
pub mod notify;
pub mod orgs;
pub mod policy;
pub mod preset_sync;
pub mod schema;
pub mod scim;
pub mod users;
pub mod workspaces;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use secrecy::ExposeSecret;

pub use error::{StoreError, UniqueField};

use crate::configuration::{DatabaseSettings, DatabaseUrl};

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl DbConnection {
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Pg(_) => Backend::Postgres,
            DbConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Opens connections for the pool, applying per-connection SQLite pragmas.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
}

/// A pooled connection, with a mark set when it failed mid-use so the pool
/// discards it instead of handing it out again. (Connections are not probed
/// on every checkout — that would cost a round trip per request.)
pub struct Pooled {
    pub conn: DbConnection,
    broken: bool,
}

const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Pooled, r2d2::Error> {
        let conn = match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url.expose_secret())
                .map(DbConnection::Pg)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn =
                    SqliteConnection::establish(&path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }?;
        Ok(Pooled {
            conn,
            broken: false,
        })
    }

    fn is_valid(&self, c: &mut Pooled) -> Result<(), r2d2::Error> {
        c.conn
            .batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, c: &mut Pooled) -> bool {
        c.broken || std::thread::panicking() || r2d2::R2D2Connection::is_broken(&mut c.conn)
    }
}

impl Pooled {
    /// After a failure: is the connection still usable? If not, the pool drops it.
    fn check(&mut self) {
        if self.conn.batch_execute("SELECT 1").is_err() {
            self.broken = true;
        }
    }
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// The handle the server and the CLI share: a connection pool and the blocking
/// bridge (diesel is synchronous; queries run on tokio's blocking threads).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Connect (creating the SQLite file and its folder when needed). Fails when
    /// the database cannot be reached within the configured timeout.
    pub fn open(settings: &DatabaseSettings) -> Result<Store, StoreError> {
        let backend = match &settings.url {
            DatabaseUrl::Postgres(_) => Backend::Postgres,
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Connect(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                Backend::Sqlite
            }
        };
        // Connections are opened on demand (min_idle 0) and then kept: a
        // background connect racing process exit crashes libpq's TLS teardown
        // (OPENSSL_cleanup), and the CLI needs exactly one connection.
        let pool = r2d2::Pool::builder()
            .max_size(settings.pool_size)
            .min_idle(Some(0))
            .connection_timeout(settings.connect_timeout)
            .idle_timeout(Some(Duration::from_secs(600)))
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::LoggingErrorHandler))
            .build(Manager {
                url: settings.url.clone(),
            })
            .map_err(|e| StoreError::Connect(format!("{}: {e}", settings.url.redacted())))?;
        // Fail now, with the database's own message, if it cannot be reached.
        let probe = pool
            .get()
            .map_err(|e| StoreError::Connect(format!("{}: {e}", settings.url.redacted())))?;
        drop(probe);
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection; a pool timeout is `Unavailable` (HTTP 503).
    pub fn conn(&self) -> Result<PooledConnection, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Apply pending migrations; returns the names applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let applied = migrations::run_pending(&mut conn.conn)?;
        // Stored foldings SQL cannot compute (see the migration
        // `…_scim_folded_names`): filled here so both backends get them.
        scim::refold_user_names(&mut conn.conn)?;
        // Preset text changes reach existing orgs' built-in records.
        let synced = preset_sync::sync_all(&mut conn.conn, now())?;
        if synced.compared > 0 {
            tracing::info!(
                orgs = synced.compared,
                changes = synced.changes,
                failed = synced.failed,
                "brought orgs' built-in roles and catalogue to their preset"
            );
        }
        if let Some(done) = identifier_keys::recompute_if_needed(&mut conn.conn, now())? {
            tracing::info!(
                changed = done.changed,
                collisions = done.collisions,
                "recomputed the comparison keys of userNames and emails"
            );
        }
        Ok(applied)
    }

    /// Run `f` on a pooled connection on a blocking thread (reads).
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let store = self.clone();
        crate::telemetry::spawn_blocking_in_span(move || store.read_blocking(f))
            .await
            .map_err(|e| E::from(StoreError::Internal(format!("blocking task failed: {e}"))))?
    }

    /// Run `f` on a pooled connection without opening a transaction: for
    /// operations that open their own (see `service::scim::create_user`).
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.read(f).await
    }

    /// Run `f` inside one write transaction on a blocking thread.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        let store = self.clone();
        crate::telemetry::spawn_blocking_in_span(move || store.write_blocking(f))
            .await
            .map_err(|e| E::from(StoreError::Internal(format!("blocking task failed: {e}"))))?
    }

    /// [`Store::read`] for synchronous callers (the CLI).
    pub fn read_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<StoreError>,
    {
        let mut pooled = self.conn()?;
        let result = f(&mut pooled.conn);
        if result.is_err() {
            pooled.check();
        }
        result
    }

    /// [`Store::write`] for synchronous callers (the CLI).
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<StoreError> + From<diesel::result::Error>,
    {
        let mut pooled = self.conn()?;
        let result = write_tx(&mut pooled.conn, f);
        if result.is_err() {
            pooled.check();
        }
        result
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.batch_execute("SELECT 1").map_err(StoreError::from))
            .await
    }
}

/// One write transaction: `BEGIN IMMEDIATE` on SQLite (takes the write lock up
/// front, so read-then-write never hits SQLITE_BUSY_SNAPSHOT), `BEGIN` on
/// PostgreSQL. Commits when `f` succeeds, rolls back otherwise.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Sqlite(c) => {
            let depth =
                AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()?;
            if depth.is_none() {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
            } else {
                // Already in a transaction (a Bulk operation, say): a savepoint.
                AnsiTransactionManager::begin_transaction(c)?
            }
        }
        DbConnection::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            // A failed rollback leaves the connection marked broken; the pool
            // then discards it. The caller's error is the one worth reporting.
            let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
            Err(e)
        }
    }
}

/// Run the same diesel statement on whichever backend `conn` is. For the few
/// statements the multi-connection cannot express (multi-row INSERT, upserts).
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::DbConnection::Pg($c) => $body,
            $crate::store::DbConnection::Sqlite($c) => $body,
        }
    };
}

/// Current UTC time as stored (TIMESTAMP without zone), truncated to
/// microseconds so values read back compare equal on both backends.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Position in a listing ordered by `(created_at, id)`: stable under
/// concurrent inserts (new rows sort after existing ones), encoded opaquely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    pub created_at: chrono::NaiveDateTime,
    pub id: String,
}

impl PageCursor {
    pub fn encode(&self) -> String {
        format!(
            "{}.{}",
            self.created_at.and_utc().timestamp_micros(),
            self.id
        )
    }

    pub fn decode(s: &str) -> Option<PageCursor> {
        let (micros, id) = s.split_once('.')?;
        let micros: i64 = micros.parse().ok()?;
        let created_at = chrono::DateTime::from_timestamp_micros(micros)?.naive_utc();
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        {
            return None;
        }
        Some(PageCursor {
            created_at,
            id: id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = PageCursor {
            created_at: now(),
            id: "0190f5a2-0000-7000-8000-000000000001".into(),
        };
        assert_eq!(PageCursor::decode(&c.encode()), Some(c));
        for bad in ["", "x.y", "12", "12.", "12.a'b"] {
            assert_eq!(PageCursor::decode(bad), None, "{bad}");
        }
    }
}
