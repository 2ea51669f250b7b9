//! The embedded store's one writer (SPEC §5 "SQLite has one writer").
//!
//! SQLite allows one writer at a time, and its busy handler is not fair:
//! pooled connections that each wait for the write lock with `busy_timeout`
//! back off and retry at random, so under load some of them time out
//! ("database is locked") while others get through many times. Instead, every
//! write of this process runs on ONE connection, in the order it was asked
//! for: a dedicated thread owns the connection and takes jobs from a FIFO
//! channel. Readers keep the pool (WAL lets them read while the writer
//! writes). Lock waits remain only against other processes (the CLI on the
//! same file), which `busy_timeout` covers.
//!
//! - **Group commit.** The jobs waiting in the queue when the writer picks one
//!   up run in one SQLite transaction, each inside its own savepoint (rolled
//!   back alone when the job fails; a job's own `write_tx` nests as a further
//!   savepoint). Nobody hears of a result before that transaction committed,
//!   so what a client was told is durable (as far as `synchronous = NORMAL`
//!   goes) and visible to every reader; if the commit fails, every job of the
//!   group gets the error. Many small transactions then cost one commit, and
//!   the pages they share (index tails, the audit log) are written once.
//! - **Checkpoints off the writer.** WAL checkpoints (copying the log back
//!   into the database file, with an fsync) run on a thread of their own,
//!   in PASSIVE mode, which never blocks the writer; the writer connection's
//!   automatic checkpoint is off.
//! - **Borrowed closures.** The CLI and tests (`write_blocking`) pass closures
//!   that cannot move to another thread; their job is a *turn*: the writer
//!   thread hands the connection over (it sits behind a mutex that is
//!   uncontended otherwise) and waits until the caller is done. A turn runs
//!   alone, between groups, in queue order.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};

use super::{DbConnection, StoreError};

/// Called once the group a job ran in has committed (`None`) or failed to
/// (the error's text): sends the job's result to its caller.
type Deliver = Box<dyn FnOnce(Option<&str>) + Send>;
/// A job: runs on the writer's connection, says whether it succeeded (its
/// savepoint is then released, else rolled back), and how to deliver.
type Task = Box<dyn FnOnce(&mut DbConnection) -> (bool, Deliver) + Send>;

/// Most jobs committed together.
const MAX_GROUP: usize = 64;
/// How often the checkpointer looks for new commits.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

enum Job {
    Run(Task),
    /// Let a blocking caller use the connection: say `go`, then wait for `done`
    /// (an error on `done` means the caller is gone, panicked or finished).
    Turn {
        go: SyncSender<()>,
        done: Receiver<()>,
    },
}

type Open = dyn Fn() -> Result<DbConnection, StoreError> + Send + Sync;

/// Handle to the writer thread. The writer and checkpoint threads end when
/// the last handle is dropped.
pub(super) struct SqliteWriter {
    jobs: Mutex<Sender<Job>>,
    conn: Arc<Mutex<DbConnection>>,
    open: Arc<Open>,
    commits: Arc<AtomicU64>,
}

impl SqliteWriter {
    /// Open the writer connection with `open` and start its threads.
    pub(super) fn start(open: Arc<Open>) -> Result<SqliteWriter, StoreError> {
        let mut first = open()?;
        disable_autocheckpoint(&mut first)?;
        let conn = Arc::new(Mutex::new(first));
        let commits = Arc::new(AtomicU64::new(0));
        let (tx, rx) = channel::<Job>();
        let writer = Writer {
            conn: conn.clone(),
            open: open.clone(),
            commits: commits.clone(),
        };
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer.serve(rx))
            .map_err(|e| StoreError::Internal(format!("cannot start the SQLite writer: {e}")))?;
        Ok(SqliteWriter {
            jobs: Mutex::new(tx),
            conn,
            open,
            commits,
        })
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| StoreError::Internal("the SQLite writer has stopped".into()))
    }

    /// Queue `f` behind every write asked for before it; its result, once
    /// committed.
    pub(super) async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let task: Task = Box::new(move |c| {
            let out = span.in_scope(|| f(c));
            let ok = out.is_ok();
            let deliver: Deliver = Box::new(move |commit_error| {
                let out = match (out, commit_error) {
                    (Ok(_), Some(e)) => Err(E::from(StoreError::Database(format!(
                        "the write could not be committed: {e}"
                    )))),
                    (out, _) => out,
                };
                let _ = tx.send(out);
            });
            (ok, deliver)
        });
        self.send(Job::Run(task)).map_err(E::from)?;
        rx.await.map_err(|_| {
            E::from(StoreError::Internal(
                "a write job failed on the SQLite writer".into(),
            ))
        })?
    }

    /// A write for a closure that borrows from its caller: waits for this
    /// caller's turn, then runs `f` on the caller's thread (alone, not in a
    /// group: `f` commits by itself).
    pub(super) fn run_blocking<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> T,
    ) -> Result<T, StoreError> {
        let (go_tx, go_rx) = sync_channel(1);
        let (done_tx, done_rx) = sync_channel(1);
        self.send(Job::Turn {
            go: go_tx,
            done: done_rx,
        })?;
        go_rx
            .recv()
            .map_err(|_| StoreError::Internal("the SQLite writer has stopped".into()))?;
        // `done_tx` is dropped on every way out, panics included, which ends the turn.
        let _turn = done_tx;
        let mut guard = lock(&self.conn);
        let out = f(&mut guard);
        repair(&mut guard, self.open.as_ref());
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(out)
    }

    /// Start the checkpointer for the database at `open` (its own connection).
    pub(super) fn start_checkpointer(&self) -> Result<(), StoreError> {
        let mut conn = (self.open)()?;
        let commits = Arc::downgrade(&self.commits);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let mut seen = 0;
                // Ends when the writer (the only other owner of `commits`) is gone.
                while let Some(commits) = commits.upgrade() {
                    let now = commits.load(Ordering::Relaxed);
                    drop(commits);
                    if now != seen {
                        seen = now;
                        if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                            tracing::warn!(error = %e, "SQLite checkpoint failed");
                        }
                    }
                    std::thread::sleep(CHECKPOINT_EVERY);
                }
            })
            .map_err(|e| {
                StoreError::Internal(format!("cannot start the SQLite checkpointer: {e}"))
            })?;
        Ok(())
    }
}

fn disable_autocheckpoint(conn: &mut DbConnection) -> Result<(), StoreError> {
    conn.batch_execute("PRAGMA wal_autocheckpoint = 0")
        .map_err(StoreError::from)
}

/// The writer thread's state.
struct Writer {
    conn: Arc<Mutex<DbConnection>>,
    open: Arc<Open>,
    commits: Arc<AtomicU64>,
}

impl Writer {
    fn serve(self, rx: Receiver<Job>) {
        let mut next: Option<Job> = None;
        loop {
            let job = match next.take() {
                Some(j) => j,
                None => match rx.recv() {
                    Ok(j) => j,
                    Err(_) => break,
                },
            };
            match job {
                Job::Turn { go, done } => {
                    if go.send(()).is_ok() {
                        let _ = done.recv();
                    }
                    repair(&mut lock(&self.conn), self.open.as_ref());
                }
                Job::Run(first) => next = self.group(first, &rx),
            }
        }
    }

    /// Run `first` and the jobs queued behind it in one transaction; returns
    /// a turn met on the way (it runs after the group).
    fn group(&self, first: Task, rx: &Receiver<Job>) -> Option<Job> {
        let mut guard = lock(&self.conn);
        let conn = &mut *guard;
        let began = match conn {
            DbConnection::Sqlite(c) => {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
            }
            DbConnection::Pg(_) => Err(diesel::result::Error::NotInTransaction),
        };
        if began.is_err() {
            // No group (another process holds the lock past busy_timeout):
            // the job runs alone, and its own transaction reports the error.
            match catch_unwind(AssertUnwindSafe(|| first(conn))) {
                Ok((_, deliver)) => deliver(None),
                Err(_) => tracing::error!("a write job panicked on the SQLite writer"),
            }
            repair(conn, self.open.as_ref());
            return None;
        }
        let mut delivers = Vec::new();
        delivers.extend(run_task(first, conn));
        let mut turn = None;
        while delivers.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Job::Run(task)) => delivers.extend(run_task(task, conn)),
                Ok(t @ Job::Turn { .. }) => {
                    turn = Some(t);
                    break;
                }
                Err(_) => break,
            }
        }
        let committed =
            <DbConnection as diesel::Connection>::TransactionManager::commit_transaction(conn);
        if committed.is_ok() {
            self.commits.fetch_add(1, Ordering::Relaxed);
        }
        let error = committed.err().map(|e| e.to_string());
        for deliver in delivers {
            deliver(error.as_deref());
        }
        repair(conn, self.open.as_ref());
        turn
    }
}

/// One job of a group, inside its own savepoint: released when the job
/// succeeded, rolled back when it failed or panicked (a panicking job's
/// caller hears of it through its dropped channel).
fn run_task(task: Task, conn: &mut DbConnection) -> Option<Deliver> {
    let depth = conn.transaction_depth();
    let DbConnection::Sqlite(c) = conn else {
        return None;
    };
    if AnsiTransactionManager::begin_transaction(c).is_err() {
        return None;
    }
    let ran = catch_unwind(AssertUnwindSafe(|| task(conn)));
    let ok = matches!(ran, Ok((true, _)));
    let DbConnection::Sqlite(c) = conn else {
        return None;
    };
    // Back to this job's savepoint, whatever the job left open.
    while conn_depth(c) > depth + 1 {
        if AnsiTransactionManager::rollback_transaction(c).is_err() {
            break;
        }
    }
    let _ = if ok {
        AnsiTransactionManager::commit_transaction(c)
    } else {
        AnsiTransactionManager::rollback_transaction(c)
    };
    match ran {
        Ok((_, deliver)) => Some(deliver),
        Err(_) => {
            tracing::error!("a write job panicked on the SQLite writer");
            None
        }
    }
}

fn conn_depth(c: &mut diesel::SqliteConnection) -> u32 {
    AnsiTransactionManager::transaction_manager_status_mut(c)
        .transaction_depth()
        .ok()
        .flatten()
        .map_or(0, |d| d.get())
}

fn lock(conn: &Mutex<DbConnection>) -> MutexGuard<'_, DbConnection> {
    // A panic inside a job poisons the mutex; `repair` then checks the connection.
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

/// Between jobs the connection must be outside any transaction and usable,
/// or every later write would fail. Roll back what is left open; reopen the
/// connection when diesel considers it broken.
fn repair(conn: &mut DbConnection, open: &Open) {
    let DbConnection::Sqlite(c) = conn else {
        return;
    };
    match AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth() {
        Ok(None) => return,
        Ok(Some(_)) => {
            while let Ok(Some(_)) =
                AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
            {
                if AnsiTransactionManager::rollback_transaction(c).is_err() {
                    break;
                }
            }
            if let Ok(None) =
                AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
            {
                return;
            }
        }
        Err(_) => {}
    }
    match open().and_then(|mut fresh| disable_autocheckpoint(&mut fresh).map(|()| fresh)) {
        Ok(fresh) => {
            tracing::warn!("the SQLite writer connection was reopened after a failed transaction");
            *conn = fresh;
        }
        Err(e) => tracing::error!(error = %e, "cannot reopen the SQLite writer connection"),
    }
}
