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
//! Two kinds of job:
//! - an owned closure (`'static`, the server's path) runs on the writer thread
//!   itself, and its result goes back through a oneshot channel;
//! - a borrowed closure (the CLI and tests, `write_blocking`) cannot move to
//!   another thread, so its job is a *turn*: the writer thread hands the
//!   connection over (it sits behind a mutex that is uncontended otherwise)
//!   and waits until the caller is done.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use super::{DbConnection, StoreError};

type Task = Box<dyn FnOnce(&mut DbConnection) + Send>;

enum Job {
    Run(Task),
    /// Let a blocking caller use the connection: say `go`, then wait for `done`
    /// (an error on `done` means the caller is gone, panicked or finished).
    Turn {
        go: SyncSender<()>,
        done: Receiver<()>,
    },
}

/// Handle to the writer thread. The thread ends when the last handle is dropped.
pub(super) struct SqliteWriter {
    jobs: Mutex<Sender<Job>>,
    conn: Arc<Mutex<DbConnection>>,
    open: Arc<dyn Fn() -> Result<DbConnection, StoreError> + Send + Sync>,
}

impl SqliteWriter {
    /// Open the writer connection with `open` and start its thread.
    pub(super) fn start(
        open: Arc<dyn Fn() -> Result<DbConnection, StoreError> + Send + Sync>,
    ) -> Result<SqliteWriter, StoreError> {
        let conn = Arc::new(Mutex::new(open()?));
        let (tx, rx) = channel::<Job>();
        let (thread_conn, thread_open) = (conn.clone(), open.clone());
        std::thread::Builder::new()
            .name("rollcall-sqlite-writer".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Job::Run(task) => {
                            let mut guard = lock(&thread_conn);
                            let ran = catch_unwind(AssertUnwindSafe(|| task(&mut guard)));
                            if ran.is_err() {
                                tracing::error!("a write job panicked on the SQLite writer");
                            }
                            repair(&mut guard, thread_open.as_ref());
                        }
                        Job::Turn { go, done } => {
                            if go.send(()).is_ok() {
                                let _ = done.recv();
                            }
                            repair(&mut lock(&thread_conn), thread_open.as_ref());
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Internal(format!("cannot start the SQLite writer: {e}")))?;
        Ok(SqliteWriter {
            jobs: Mutex::new(tx),
            conn,
            open,
        })
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| StoreError::Internal("the SQLite writer has stopped".into()))
    }

    /// Queue `f` behind every write asked for before it; its result.
    pub(super) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut DbConnection) -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        self.send(Job::Run(Box::new(move |c| {
            let out = span.in_scope(|| f(c));
            let _ = tx.send(out);
        })))?;
        rx.await
            .map_err(|_| StoreError::Internal("a write job failed on the SQLite writer".into()))
    }

    /// [`SqliteWriter::run`] for a closure that borrows from its caller: waits
    /// for this caller's turn, then runs `f` on the caller's thread.
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
        Ok(out)
    }
}

fn lock(conn: &Mutex<DbConnection>) -> MutexGuard<'_, DbConnection> {
    // A panic inside a job poisons the mutex; `repair` then checks the connection.
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

/// After a job: the connection must be outside any transaction and usable,
/// or every later write would fail. Roll back what is left open; reopen the
/// connection when diesel considers it broken.
fn repair(
    conn: &mut DbConnection,
    open: &(dyn Fn() -> Result<DbConnection, StoreError> + Send + Sync),
) {
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
    match open() {
        Ok(fresh) => {
            tracing::warn!("the SQLite writer connection was reopened after a failed transaction");
            *conn = fresh;
        }
        Err(e) => tracing::error!(error = %e, "cannot reopen the SQLite writer connection"),
    }
}
