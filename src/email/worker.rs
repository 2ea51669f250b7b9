//! Outbox delivery workers: a tokio task per node that claims due messages
//! (a lease, see `store::outbox`), sends up to `email.outbox.concurrency` at
//! once, and records each outcome:
//!
//! - accepted → `sent`, body wiped;
//! - temporary failure (SMTP 4xx, connection refused, timeout) → retried
//!   after an exponential backoff with full jitter, until
//!   `email.outbox.max_attempts`;
//! - permanent failure (SMTP 5xx) or attempts exhausted → `failed`, body
//!   wiped, an `email.failed` audit event.
//!
//! Stopping is graceful: no new claims, messages in flight finish; rows not
//! yet claimed stay `pending` and go out after a restart. A worker killed
//! mid-send leaves its lease to expire, and another worker sends the same
//! bytes (same Message-ID) again: at-least-once delivery.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use super::transport::{Mailer, SendError};
use crate::configuration::{OutboxKey, OutboxSettings, Settings};
use crate::domain::OrgId;
use crate::domain::audit::Actor;
use crate::store::outbox::{self, Claimed};
use crate::store::{self, Store, StoreError};

/// A running worker: wake it after queueing mail, stop it at shutdown.
pub struct OutboxWorker {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Wakes the worker when this node queued mail (others find it by polling).
#[derive(Clone, Default)]
pub struct Waker(Option<Arc<Notify>>);

impl Waker {
    pub fn wake(&self) {
        if let Some(n) = &self.0 {
            n.notify_one();
        }
    }
}

impl OutboxWorker {
    pub fn spawn(store: Store, settings: &Settings) -> anyhow::Result<OutboxWorker> {
        let mailer = Arc::new(Mailer::new(&settings.email.transport)?);
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let run = Run {
            store,
            mailer,
            key: settings.email.outbox_key.clone(),
            cfg: settings.email.outbox.clone(),
        };
        let task = tokio::spawn(run.run(wake.clone(), stopped));
        Ok(OutboxWorker { wake, stop, task })
    }

    pub fn waker(&self) -> Waker {
        Waker(Some(self.wake.clone()))
    }

    /// Stop claiming and wait (at most `grace`) for messages in flight.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!(
                "outbox worker still sending after the grace period; leases will expire"
            );
        }
    }
}

/// An accepted message (its outbox id).
struct Sent(String);

struct Run {
    store: Store,
    mailer: Arc<Mailer>,
    key: OutboxKey,
    cfg: OutboxSettings,
}

impl Run {
    async fn run(self, wake: Arc<Notify>, mut stopped: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.cfg.concurrency));
        let mut inflight: JoinSet<Option<Sent>> = JoinSet::new();
        // Accepted messages whose `sent` is not recorded yet: recorded
        // together (one statement instead of one transaction each). A node
        // that dies before recording them sends them again once their lease
        // expires — the at-least-once duplicate the module docs describe.
        let mut sent: Vec<Sent> = Vec::new();
        loop {
            if *stopped.borrow() {
                break;
            }
            while let Some(done) = inflight.try_join_next() {
                sent.extend(done.ok().flatten());
            }
            let free = slots.available_permits();
            let claimed = if free == 0 {
                Ok(Vec::new())
            } else {
                let now = store::now();
                let lease = now + chrono::Duration::from_std(this.cfg.lease).unwrap_or_default();
                // A whole batch per round trip; the semaphore bounds the sends.
                let limit = i64::from(this.cfg.batch_size);
                this.store
                    .write_committing_itself(move |c| outbox::claim(c, now, lease, limit))
                    .await
            };
            match claimed {
                Ok(rows) if !rows.is_empty() => {
                    for row in rows {
                        let permit = slots.clone().acquire_owned().await.expect("never closed");
                        while let Some(done) = inflight.try_join_next() {
                            sent.extend(done.ok().flatten());
                        }
                        if sent.len() >= this.cfg.batch_size as usize {
                            this.record_sent(&mut sent).await;
                        }
                        let run = this.clone();
                        inflight.spawn(async move {
                            let out = run.deliver(row).await;
                            drop(permit);
                            out
                        });
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox: cannot claim messages"),
            }
            if !sent.is_empty() {
                this.record_sent(&mut sent).await;
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(this.cfg.poll_interval) => {}
                _ = wake.notified() => {}
                _ = stopped.changed() => {}
                Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                    sent.extend(done.ok().flatten());
                }
            }
        }
        while let Some(done) = inflight.join_next().await {
            sent.extend(done.ok().flatten());
        }
        this.record_sent(&mut sent).await;
    }

    /// Record accepted messages as sent (bodies wiped), all at once.
    async fn record_sent(&self, sent: &mut Vec<Sent>) {
        if sent.is_empty() {
            return;
        }
        let batch = std::mem::take(sent);
        let now = store::now();
        let ids: Vec<String> = batch.iter().map(|s| s.0.clone()).collect();
        if let Err(e) = self
            .store
            .write(move |c| outbox::mark_sent_many(c, &ids, now))
            .await
        {
            // The leases expire and the messages are sent again.
            tracing::error!(error = %e, "outbox: cannot record deliveries");
        }
    }

    /// Send one message; a message the server accepted is returned for
    /// [`Run::record_sent`], other outcomes are recorded here.
    async fn deliver(&self, row: Claimed) -> Option<Sent> {
        let outcome = match row
            .body
            .as_deref()
            .and_then(|b| super::seal::open(&self.key, &row.id, b))
        {
            Some(bytes) => self.mailer.send(&row.sender, &row.recipient, &bytes).await,
            None => Err(SendError {
                permanent: true,
                message: "the stored message cannot be decrypted with this node's \
                          email.outbox_key"
                    .to_owned(),
            }),
        };
        let now = store::now();
        let cfg = &self.cfg;
        let id = row.id.clone();
        let result = match outcome {
            Ok(()) => {
                tracing::info!(outbox_id = %id, kind = %row.kind, attempts = row.attempts, "mail sent");
                return Some(Sent(id));
            }
            Err(e) if !e.permanent && (row.attempts as u32) < cfg.max_attempts => {
                let wait = backoff(cfg, row.attempts as u32);
                tracing::warn!(outbox_id = %id, attempts = row.attempts, retry_in = ?wait, error = %e.message, "mail not sent; will retry");
                let next = now + chrono::Duration::from_std(wait).unwrap_or_default();
                self.store
                    .write(move |c| outbox::mark_retry(c, &id, &e.message, next, now))
                    .await
            }
            Err(e) => {
                tracing::error!(outbox_id = %id, attempts = row.attempts, permanent = e.permanent, error = %e.message, "mail failed");
                let row = row.clone();
                self.store
                    .write(move |c| -> Result<(), StoreError> {
                        outbox::mark_failed(c, &row.id, &e.message, now)?;
                        let ctx = crate::service::Ctx {
                            actor: Actor::system(),
                            request_id: None,
                            now,
                        };
                        let org = row.org_id.clone().map(OrgId::from_trusted);
                        store::audit::insert(
                            c,
                            &[ctx.event(
                                org.as_ref(),
                                "email.failed",
                                "email",
                                Some(row.id.clone()),
                                None,
                                Some(serde_json::json!({
                                    "kind": row.kind,
                                    "ref": row.ref_id,
                                    "recipient": row.recipient,
                                    "attempts": row.attempts,
                                    "error": e.message,
                                    "permanent": e.permanent,
                                })),
                            )],
                        )
                    })
                    .await
            }
        };
        if let Err(e) = result {
            // The lease expires and the message is tried again.
            tracing::error!(error = %e, "outbox: cannot record a delivery outcome");
        }
        None
    }
}

/// Exponential backoff with full jitter: uniform in `[base, base·2^(n-1)]`,
/// capped at `backoff_max`.
pub fn backoff(cfg: &OutboxSettings, attempts: u32) -> Duration {
    let exp = cfg
        .backoff_base
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(20))
        .min(cfg.backoff_max);
    let low = cfg.backoff_base.min(exp);
    let span = exp.saturating_sub(low).as_millis() as u64;
    low + Duration::from_millis(if span == 0 {
        0
    } else {
        rand::thread_rng().gen_range(0..=span)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_stays_jittered_and_capped() {
        let cfg = OutboxSettings {
            concurrency: 1,
            batch_size: 1,
            poll_interval: Duration::from_secs(1),
            max_attempts: 10,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            lease: Duration::from_secs(60),
        };
        assert_eq!(backoff(&cfg, 1), Duration::from_secs(2));
        for n in 2..12 {
            let ceiling = Duration::from_secs(2 * (1u64 << (n - 1))).min(cfg.backoff_max);
            let samples: Vec<_> = (0..50).map(|_| backoff(&cfg, n)).collect();
            assert!(
                samples
                    .iter()
                    .all(|d| *d >= cfg.backoff_base && *d <= ceiling)
            );
            assert!(samples.iter().any(|d| *d != samples[0]), "jittered");
        }
    }
}
