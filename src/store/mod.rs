//! Storage: one diesel codebase over PostgreSQL (production) and SQLite (the
//! embedded default), SPEC §5.
//!
//! - [`DbConnection`] is a diesel `MultiConnection`; the backend is chosen from
//!   the URL scheme by [`crate::configuration::DatabaseUrl`], never by trying
//!   each backend in turn (diesel would silently create a SQLite file).
//! - Every write runs in [`write_tx`]: `BEGIN IMMEDIATE` on SQLite (a deferred
//!   transaction that reads then writes fails with SQLITE_BUSY_SNAPSHOT under
//!   WAL), a plain transaction on PostgreSQL.
//! - SQLite has one writer ([`writer`]): every write of the process queues, in
//!   order, onto a single connection; reads use a pool of read-only
//!   (`query_only`) connections in WAL mode, so a write that strays onto the
//!   read path fails in tests instead of contending for the lock in production.
//! - A broken PostgreSQL connection (a restart, `pg_terminate_backend`) costs
//!   no request where that is safe: what failed before `COMMIT` was sent
//!   cannot have committed and runs once more on a fresh connection; where the
//!   connection died while a commit may have happened, the caller gets
//!   [`StoreError::Unavailable`] (HTTP 503 with `Retry-After`), never a 500.
//!   Which case applies is read from diesel's instrumentation events
//!   ([`Trace`]), not guessed from error texts.
//! - Record modules (`orgs`, `users`, …) are functions over `&mut DbConnection`
//!   returning [`StoreError`]; callers compose them inside one transaction so a
//!   change and its audit event commit together.
//! - The few statements that differ per backend sit in small named functions
//!   next to their record module.

pub mod access;
pub mod api_keys;
pub mod audit;
pub mod bulk_jobs;
pub mod directories;
pub mod domains;
mod error;
pub mod groups;
pub mod identifier_keys;
pub mod identities;
pub mod idp_connections;
pub mod invites;
pub mod item_types;
pub mod mappings;
pub mod migrations;
pub mod notify;
pub mod orgs;
pub mod outbox;
pub mod policy;
pub mod preset_sync;
pub mod schema;
pub mod scim;
pub mod sessions;
pub mod sso_logins;
pub mod users;
pub mod workspaces;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{
    AnsiTransactionManager, Instrumentation, InstrumentationEvent, SimpleConnection,
    TransactionManager,
};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use secrecy::ExposeSecret;

pub use error::{StoreError, UniqueField};

use crate::configuration::{DatabaseSettings, DatabaseUrl};
use writer::SqliteWriter;

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

    /// Transaction depth as diesel's transaction manager sees it (0: none).
    fn transaction_depth(&mut self) -> u32 {
        crate::on_backend!(self, |c| {
            AnsiTransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()
                .ok()
                .flatten()
                .map_or(0, |d| d.get())
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// What a connection sent since the current operation began, recorded from
/// diesel's instrumentation: whether anything that can commit went out — a
/// top-level `COMMIT`, or any statement outside a transaction (autocommit).
/// When the connection then breaks, this decides between "run it again" and
/// "the outcome is unknown".
#[derive(Debug, Default)]
struct Trace {
    depth: AtomicU32,
    maybe_committed: AtomicBool,
}

impl Trace {
    /// Start an operation on `conn`: nothing sent yet.
    fn begin(&self, conn: &mut DbConnection) {
        self.depth
            .store(conn.transaction_depth(), Ordering::Relaxed);
        self.maybe_committed.store(false, Ordering::Relaxed);
    }

    fn maybe_committed(&self) -> bool {
        self.maybe_committed.load(Ordering::Relaxed)
    }
}

struct TraceHook(Arc<Trace>);

impl Instrumentation for TraceHook {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        let t = &self.0;
        match event {
            // Emitted before the BEGIN / SAVEPOINT statement itself.
            InstrumentationEvent::BeginTransaction { depth, .. } => {
                t.depth.store(depth.get(), Ordering::Relaxed)
            }
            InstrumentationEvent::CommitTransaction { depth, .. } => {
                if depth.get() == 1 {
                    t.maybe_committed.store(true, Ordering::Relaxed);
                }
                t.depth.store(depth.get() - 1, Ordering::Relaxed);
            }
            InstrumentationEvent::RollbackTransaction { depth, .. } => {
                t.depth.store(depth.get() - 1, Ordering::Relaxed)
            }
            InstrumentationEvent::StartQuery { .. } if t.depth.load(Ordering::Relaxed) == 0 => {
                t.maybe_committed.store(true, Ordering::Relaxed)
            }
            _ => {}
        }
    }
}

/// Opens connections for the pool (readers on SQLite, everything on
/// PostgreSQL), applying per-connection SQLite pragmas.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
    /// Bumped whenever a connection is found broken; see [`Store::checkout`].
    epoch: Arc<AtomicU64>,
}

/// A pooled connection, with a mark set when it failed mid-use so the pool
/// discards it instead of handing it out again. (Connections are not probed
/// on every checkout — that would cost a round trip per request — only after
/// another connection was found broken, see [`Store::checkout`].)
pub struct Pooled {
    pub conn: DbConnection,
    broken: bool,
    trace: Arc<Trace>,
    /// The broken-connection epoch this connection is known to be good for.
    epoch: u64,
}

const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

/// How long a SQLite write waits for another process (the CLI beside a running
/// server, or the reverse) to release the file's write lock.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

fn connect_pg(url: &str, trace: &Arc<Trace>) -> Result<DbConnection, diesel::ConnectionError> {
    let mut conn = PgConnection::establish(url)?;
    conn.set_instrumentation(TraceHook(trace.clone()));
    Ok(DbConnection::Pg(conn))
}

/// A SQLite connection with the pragmas every connection needs; a reader
/// additionally refuses writes (`query_only`): writes belong to the writer.
fn connect_sqlite(path: &std::path::Path, reader: bool) -> Result<DbConnection, r2d2::Error> {
    let path = path.to_string_lossy();
    let mut conn = SqliteConnection::establish(&path).map_err(r2d2::Error::ConnectionError)?;
    conn.batch_execute(SQLITE_PRAGMAS)
        .map_err(r2d2::Error::QueryError)?;
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {};",
        SQLITE_BUSY_TIMEOUT.as_millis()
    ))
    .map_err(r2d2::Error::QueryError)?;
    if reader {
        conn.batch_execute("PRAGMA query_only = ON")
            .map_err(r2d2::Error::QueryError)?;
    }
    Ok(DbConnection::Sqlite(conn))
}

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Pooled, r2d2::Error> {
        let trace = Arc::new(Trace::default());
        // Read before connecting: a connection made now is good for this epoch.
        let epoch = self.epoch.load(Ordering::Acquire);
        let conn = match &self.url {
            DatabaseUrl::Postgres(url) => {
                connect_pg(url.expose_secret(), &trace).map_err(r2d2::Error::ConnectionError)?
            }
            DatabaseUrl::Sqlite(path) => connect_sqlite(path, true)?,
        };
        Ok(Pooled {
            conn,
            broken: false,
            trace,
            epoch,
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
    /// Does the connection still answer? One round trip (none when libpq
    /// already knows the connection is gone).
    fn probe(&mut self) -> bool {
        self.conn.batch_execute("SELECT 1").is_ok()
    }
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// How an operation uses its connection, which decides whether it may run
/// again after the connection broke under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reads only: always safe to run again.
    Read,
    /// Writes, committing by itself (one transaction or several, or
    /// autocommit statements): safe to run again only if nothing that can
    /// commit was sent.
    Write,
}

enum Outcome<R> {
    Done(R),
    /// The connection broke under the operation (and was discarded).
    Broken {
        maybe_committed: bool,
    },
}

fn outcome_unknown() -> StoreError {
    StoreError::Unavailable(
        "the database connection broke while a commit may have been under way; \
         the change may or may not have been made"
            .to_owned(),
    )
}

/// The handle the server and the CLI share: the connection pool, SQLite's
/// writer, and the blocking bridge (diesel is synchronous; queries run on
/// tokio's blocking threads or on the writer thread).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    backend: Backend,
    writer: Option<Arc<SqliteWriter>>,
    epoch: Arc<AtomicU64>,
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
        let mut writer = None;
        let backend = match &settings.url {
            DatabaseUrl::Postgres(_) => Backend::Postgres,
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Connect(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                // The writer opens the file first: it creates it and sets WAL
                // mode, which the read-only connections cannot do.
                let path = path.clone();
                let redacted = settings.url.redacted();
                let open = Arc::new(move || {
                    connect_sqlite(&path, false)
                        .map_err(|e| StoreError::Connect(format!("{redacted}: {e}")))
                });
                let w = SqliteWriter::start(open)?;
                w.start_checkpointer()?;
                writer = Some(Arc::new(w));
                Backend::Sqlite
            }
        };
        let epoch = Arc::new(AtomicU64::new(0));
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
                epoch: epoch.clone(),
            })
            .map_err(|e| StoreError::Connect(format!("{}: {e}", settings.url.redacted())))?;
        // Fail now, with the database's own message, if it cannot be reached.
        let probe = pool
            .get()
            .map_err(|e| StoreError::Connect(format!("{}: {e}", settings.url.redacted())))?;
        drop(probe);
        Ok(Store {
            pool,
            backend,
            writer,
            epoch,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection that is not known to be broken; a pool timeout is
    /// `Unavailable` (HTTP 503). After some connection was found broken (the
    /// epoch moved), each idle connection is probed once before its next use:
    /// a server restart or `pg_terminate_backend` usually takes all of them.
    fn checkout(&self) -> Result<PooledConnection, StoreError> {
        let current = self.epoch.load(Ordering::Acquire);
        let tries = self.pool.max_size() + 1;
        for _ in 0..tries {
            let mut p = self
                .pool
                .get()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            if p.epoch >= current {
                return Ok(p);
            }
            if p.probe() {
                p.epoch = current;
                return Ok(p);
            }
            p.broken = true;
        }
        Err(StoreError::Unavailable(
            "no working database connection".to_owned(),
        ))
    }

    /// Apply pending migrations; returns the names applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let migrate = |c: &mut DbConnection| -> Result<Vec<String>, StoreError> {
            let applied = migrations::run_pending(c)?;
            // Stored foldings SQL cannot compute (see the migration
            // `…_scim_folded_names`): filled here so both backends get them.
            scim::refold_user_names(c)?;
            // Preset text changes reach existing orgs' built-in records.
            let synced = preset_sync::sync_all(c, now())?;
            if synced.compared > 0 {
                tracing::info!(
                    orgs = synced.compared,
                    changes = synced.changes,
                    failed = synced.failed,
                    "brought orgs' built-in roles and catalogue to their preset"
                );
            }
            if let Some(done) = identifier_keys::recompute_if_needed(c, now())? {
                tracing::info!(
                    changed = done.changed,
                    collisions = done.collisions,
                    "recomputed the comparison keys of userNames and emails"
                );
            }
            Ok(applied)
        };
        match &self.writer {
            Some(w) => w.run_blocking(migrate)?,
            None => migrate(&mut self.checkout()?.conn),
        }
    }

    /// One attempt of `f` on a pooled connection; tells a broken connection
    /// (discarded, and every other idle one marked for a probe) from an
    /// ordinary result.
    fn attempt<T, E, F>(&self, f: F) -> Result<Outcome<Result<T, E>>, StoreError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
    {
        let mut pooled = self.checkout()?;
        let p = &mut *pooled;
        p.trace.begin(&mut p.conn);
        let result = f(&mut p.conn);
        if result.is_ok() {
            return Ok(Outcome::Done(result));
        }
        let maybe_committed = p.trace.maybe_committed();
        if p.probe() {
            return Ok(Outcome::Done(result));
        }
        p.broken = true;
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Ok(Outcome::Broken { maybe_committed })
    }

    /// `f` on a pooled connection, once more on a fresh one if the connection
    /// broke under it and running it again is safe (see [`Mode`]).
    fn with_retry<T, E, F>(&self, mode: Mode, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Clone,
        E: From<StoreError>,
    {
        match self.attempt(f.clone())? {
            Outcome::Done(r) => return r,
            Outcome::Broken { maybe_committed } if maybe_committed && mode == Mode::Write => {
                tracing::warn!("the database connection broke during a commit; answering 503");
                return Err(E::from(outcome_unknown()));
            }
            Outcome::Broken { .. } => {
                tracing::warn!("the database connection broke; running the operation again");
            }
        }
        match self.attempt(f)? {
            Outcome::Done(r) => r,
            Outcome::Broken { maybe_committed } if maybe_committed && mode == Mode::Write => {
                Err(E::from(outcome_unknown()))
            }
            Outcome::Broken { .. } => Err(E::from(StoreError::Unavailable(
                "the database connection broke twice in a row".to_owned(),
            ))),
        }
    }

    /// Run `f` on a pooled connection on a blocking thread (reads: on SQLite
    /// the connection is read-only). If the connection breaks under it, `f`
    /// runs once more on a fresh one — hence `Clone`: each run gets its own
    /// copy of what the closure captured.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Clone + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let store = self.clone();
        crate::telemetry::spawn_blocking_in_span(move || store.with_retry(Mode::Read, f))
            .await
            .map_err(|e| E::from(StoreError::Internal(format!("blocking task failed: {e}"))))?
    }

    /// Run `f`, which writes and opens its own transaction(s) (see
    /// `service::scim::create_user`), on a connection that may write: the
    /// writer on SQLite. After a broken connection it runs again only if
    /// nothing it sent could have committed; otherwise `Unavailable`.
    pub async fn write_committing_itself<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Clone + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        if let Some(w) = &self.writer {
            return w.run(f).await;
        }
        let store = self.clone();
        crate::telemetry::spawn_blocking_in_span(move || store.with_retry(Mode::Write, f))
            .await
            .map_err(|e| E::from(StoreError::Internal(format!("blocking task failed: {e}"))))?
    }

    /// Run `f` inside one write transaction: on SQLite queued behind every
    /// earlier write onto the one writer connection, on PostgreSQL on a
    /// blocking thread. If the connection breaks before `COMMIT` was sent,
    /// the transaction cannot have committed and `f` runs once more on a
    /// fresh connection (hence `Clone`: each run gets its own copy of what
    /// the closure captured); if it breaks during `COMMIT`, the answer is
    /// `Unavailable` (503), since the outcome is unknown.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Clone + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        self.write_committing_itself(move |c| write_tx(c, f)).await
    }

    /// [`Store::read`] for synchronous callers (the CLI). One attempt: a
    /// broken connection is discarded and its error returned.
    pub fn read_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<StoreError>,
    {
        match self.attempt(f)? {
            Outcome::Done(r) => r,
            Outcome::Broken { .. } => Err(E::from(StoreError::Unavailable(
                "the database connection broke".to_owned(),
            ))),
        }
    }

    /// [`Store::write_committing_itself`] for synchronous callers (tests, the CLI): `f` writes and
    /// commits by itself; on SQLite it takes its turn on the writer. One attempt.
    pub fn write_committing_itself_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<StoreError>,
    {
        if let Some(w) = &self.writer {
            return w.run_blocking(f)?;
        }
        match self.attempt(f)? {
            Outcome::Done(r) => r,
            Outcome::Broken { maybe_committed } => Err(E::from(if maybe_committed {
                outcome_unknown()
            } else {
                StoreError::Unavailable("the database connection broke".to_owned())
            })),
        }
    }

    /// [`Store::write`] for synchronous callers (the CLI): on SQLite it takes
    /// its turn on the writer (and, beside a running server, waits up to
    /// [`SQLITE_BUSY_TIMEOUT`] for the server's write lock). One attempt.
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<StoreError> + From<diesel::result::Error>,
    {
        if let Some(w) = &self.writer {
            return w.run_blocking(|c| write_tx(c, f))?;
        }
        match self.attempt(|c| write_tx(c, f))? {
            Outcome::Done(r) => r,
            Outcome::Broken { maybe_committed } => Err(E::from(if maybe_committed {
                outcome_unknown()
            } else {
                StoreError::Unavailable("the database connection broke".to_owned())
            })),
        }
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
