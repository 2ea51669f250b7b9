//! Cache invalidation between gateway nodes on PostgreSQL (SPEC §5): database
//! triggers (migration `2026-12-01-000030_cache_invalidation`) publish every
//! change that a per-node cache could hold a stale copy of with
//! `pg_notify('rollcall_invalidate', 'kind:id')` — so changes made by the CLI
//! or by any other tool are published too — and one [`Listener`] per node
//! `LISTEN`s and hands each [`Invalidation`] to its [`Subscriber`].
//!
//! Payloads: `api_key:ID`, `scim_token:ID`, `directory:ID`, and `org:ID` for
//! the org row and everything its compiled policy is made of (catalogue,
//! roles, grants, permission sets, default permissions, workspaces).
//!
//! Notifications sent while the listening connection is down are lost, so on
//! every (re)connection, and whenever the connection is found broken, the
//! subscriber is told to [`Subscriber::reset`] (drop every cache). SQLite
//! serves one node: there the caches' timer alone applies.
//!
//! diesel's `notifications_iter` does not wait for the socket, so the listener
//! thread polls every [`POLL`] (well under the one-second promise) and pings
//! the server every [`PING`] to notice a connection that died silently.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use secrecy::{ExposeSecret, SecretString};

/// The channel the triggers notify.
pub const CHANNEL: &str = "rollcall_invalidate";

/// How the listening connection shows in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "rollcall-invalidation";

const POLL: Duration = Duration::from_millis(50);
const PING: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    ApiKey(String),
    ScimToken(String),
    Directory(String),
    /// The org row or any part of its compiled policy.
    Org(String),
}

impl Invalidation {
    /// A trigger's payload; `None` for one this version does not know.
    pub fn parse(payload: &str) -> Option<Invalidation> {
        let (kind, id) = payload.split_once(':')?;
        if id.is_empty() {
            return None;
        }
        let id = id.to_owned();
        Some(match kind {
            "api_key" => Invalidation::ApiKey(id),
            "scim_token" => Invalidation::ScimToken(id),
            "directory" => Invalidation::Directory(id),
            "org" => Invalidation::Org(id),
            _ => return None,
        })
    }
}

/// Who holds the caches (the application state).
pub trait Subscriber: Send + Sync + 'static {
    fn invalidate(&self, what: Invalidation);
    /// Drop every cached entry: notifications may have been missed.
    fn reset(&self);
}

/// The listening thread of one node; stops when dropped (or when the
/// subscriber is gone).
pub struct Listener {
    stop: Arc<AtomicBool>,
    /// Disconnected when the thread has ended.
    ended: std::sync::mpsc::Receiver<()>,
}

impl Listener {
    /// Start listening; `listening` tells whether the subscription is active.
    pub fn spawn(
        url: SecretString,
        subscriber: Weak<dyn Subscriber>,
        listening: Arc<AtomicBool>,
    ) -> std::io::Result<Listener> {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let (ending, ended) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("rollcall-notify".into())
            .spawn(move || {
                let _ending = ending;
                run(&url, &subscriber, &s, &listening);
            })?;
        Ok(Listener { stop, ended })
    }
}

impl Drop for Listener {
    /// Waits (briefly) for the thread to close its connection: libpq in use
    /// by a thread while the process exits crashes in its TLS teardown.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.ended.recv_timeout(Duration::from_secs(2));
    }
}

fn run(url: &SecretString, sub: &Weak<dyn Subscriber>, stop: &AtomicBool, listening: &AtomicBool) {
    let mut backoff = Duration::from_millis(100);
    let mut failed_before = false;
    while !stop.load(Ordering::Relaxed) && sub.strong_count() > 0 {
        let mut conn = match connect(url) {
            Ok(c) => c,
            Err(e) => {
                if !failed_before {
                    tracing::warn!(error = %e, "cache invalidation: cannot listen; caches rely on their timer until it can");
                    failed_before = true;
                }
                sleep_unless_stopped(backoff, stop);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        // Anything cached before this point may have missed its notification.
        match sub.upgrade() {
            Some(s) => s.reset(),
            None => return,
        }
        listening.store(true, Ordering::Relaxed);
        if failed_before {
            tracing::info!("cache invalidation: listening again; caches dropped");
        }
        backoff = Duration::from_millis(100);
        let result = serve(&mut conn, sub, stop);
        listening.store(false, Ordering::Relaxed);
        match result {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cache invalidation: listening connection lost; caches dropped, reconnecting");
                failed_before = true;
                if let Some(s) = sub.upgrade() {
                    s.reset();
                }
            }
        }
    }
}

fn connect(url: &SecretString) -> Result<PgConnection, String> {
    let mut conn = PgConnection::establish(url.expose_secret()).map_err(|e| e.to_string())?;
    conn.batch_execute(&format!(
        "SET application_name = '{APPLICATION_NAME}'; LISTEN {CHANNEL}"
    ))
    .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Deliver notifications until stopped (`Ok`) or the connection fails (`Err`).
fn serve(
    conn: &mut PgConnection,
    sub: &Weak<dyn Subscriber>,
    stop: &AtomicBool,
) -> Result<(), diesel::result::Error> {
    let mut pinged = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Some(s) = sub.upgrade() else {
            return Ok(());
        };
        for n in conn.notifications_iter() {
            let n = n?;
            match Invalidation::parse(&n.payload) {
                Some(what) => s.invalidate(what),
                None => {
                    tracing::warn!(payload = %n.payload, "cache invalidation: unknown payload; dropping every cache");
                    s.reset();
                }
            }
        }
        drop(s);
        if pinged.elapsed() >= PING {
            conn.batch_execute("SELECT 1")?;
            pinged = Instant::now();
        }
        std::thread::sleep(POLL);
    }
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let until = Instant::now() + d;
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse() {
        assert_eq!(
            Invalidation::parse("api_key:0190-a"),
            Some(Invalidation::ApiKey("0190-a".into()))
        );
        assert_eq!(
            Invalidation::parse("scim_token:x"),
            Some(Invalidation::ScimToken("x".into()))
        );
        assert_eq!(
            Invalidation::parse("directory:d"),
            Some(Invalidation::Directory("d".into()))
        );
        assert_eq!(
            Invalidation::parse("org:o"),
            Some(Invalidation::Org("o".into()))
        );
        for bad in ["", "org", "org:", "user:1"] {
            assert_eq!(Invalidation::parse(bad), None, "{bad}");
        }
    }
}
