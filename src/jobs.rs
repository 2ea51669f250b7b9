//! Bulk-invite jobs (batches above `invites.bulk_job_threshold` rows): a
//! tokio task per node claims a queued job (or one whose node stopped, by
//! its expired lease) and applies it in chunks. Each chunk commits together
//! with the job's progress, so a restart resumes after the last committed
//! chunk and no row is applied twice. Atomic jobs run in one transaction.
//!
//! The rows were validated against the requester's granting limits when the
//! job was accepted; the job then applies them with the requester recorded
//! as the actor of every change.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::domain::OrgId;
use crate::domain::audit::Actor;
use crate::email::Composer;
use crate::email::worker::Waker;
use crate::error::AppError;
use crate::service::authz::{Authority, OrgPolicy};
use crate::service::invites_bulk::{self, AtomicError, BulkRow, Report, RowResult};
use crate::service::{Acting, Ctx};
use crate::store::bulk_jobs::{self, Job};
use crate::store::{self, Store};

/// Rows per committed chunk.
pub const CHUNK: usize = 500;
const LEASE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_secs(1);

pub struct JobWorker {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl JobWorker {
    pub fn spawn(store: Store, mail: Composer, outbox: Waker) -> JobWorker {
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(store, mail, outbox, wake.clone(), stopped));
        JobWorker { wake, stop, task }
    }

    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Stop after the chunk in progress (its commit is the resume point).
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(grace, self.task).await;
    }
}

fn lease_from(now: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    now + chrono::Duration::from_std(LEASE).unwrap_or_default()
}

async fn run(
    store: Store,
    mail: Composer,
    outbox: Waker,
    wake: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        if *stopped.borrow() {
            return;
        }
        let now = store::now();
        match store
            .write(move |c| bulk_jobs::claim(c, now, lease_from(now)))
            .await
        {
            Ok(Some(job)) => {
                let id = job.id.clone();
                if let Err(e) = process(&store, &mail, &outbox, job, &stopped).await {
                    // The lease expires and the job resumes from its last chunk.
                    tracing::error!(job = %id, error = %e, "bulk invite job interrupted");
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "bulk jobs: cannot claim"),
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = wake.notified() => {}
            _ = stopped.changed() => {}
        }
    }
}

struct Loaded {
    org: crate::store::orgs::Org,
    op: OrgPolicy,
}

async fn process(
    store: &Store,
    mail: &Composer,
    outbox: &Waker,
    job: Job,
    stopped: &watch::Receiver<bool>,
) -> Result<(), AppError> {
    let mut job = job;
    let rows: Vec<(usize, BulkRow)> = serde_json::from_str(&std::mem::take(&mut job.rows))
        .map_err(|e| AppError::Internal(format!("job rows: {e}")))?;
    let mut results: Vec<RowResult> = serde_json::from_str(&std::mem::take(&mut job.results))
        .map_err(|e| AppError::Internal(format!("job results: {e}")))?;
    let actor: Actor = serde_json::from_str(&job.actor)
        .map_err(|e| AppError::Internal(format!("job actor: {e}")))?;
    let org_id = OrgId::from_trusted(job.org_id.clone());
    let loaded = {
        let org_id = org_id.clone();
        store
            .read(move |c| -> Result<Loaded, AppError> {
                let org = store::orgs::by_id(c, &org_id)?;
                let op = OrgPolicy::load(c, &org)?;
                Ok(Loaded { org, op })
            })
            .await?
    };
    let loaded = Arc::new(loaded);
    let ctx = Ctx {
        actor,
        request_id: job.request_id.clone(),
        now: store::now(),
    };
    if job.atomic {
        let (l, m, c2, r2, replace) = (
            loaded.clone(),
            mail.clone(),
            ctx.clone(),
            rows.clone(),
            job.replace_pending,
        );
        let outcome = store
            .write(move |c| {
                let a = Acting {
                    ctx: &c2,
                    org: &l.org,
                    op: &l.op,
                    authority: &Authority::Operator,
                };
                invites_bulk::apply_atomic(c, &a, &m, &r2, replace)
            })
            .await;
        let mut all = results.clone();
        let report = match outcome {
            Ok(r) => r,
            Err(AtomicError::Rejected(r)) => r,
            Err(AtomicError::App(e)) => return Err(e),
        };
        all.extend(report.rows);
        let text = serde_json::to_string(&all).expect("results serialise");
        let (id, total) = (job.id.clone(), rows.len() as i64);
        store
            .write(move |c| {
                let now = store::now();
                bulk_jobs::progress(c, &id, total, &text, true, lease_from(now), now)
            })
            .await?;
        outbox.wake();
        return Ok(());
    }
    let mut done = job.done as usize;
    while done < rows.len() {
        if *stopped.borrow() {
            return Ok(());
        }
        let end = (done + CHUNK).min(rows.len());
        let chunk: Vec<(usize, BulkRow)> = rows[done..end].to_vec();
        let (l, m, c2, id) = (loaded.clone(), mail.clone(), ctx.clone(), job.id.clone());
        let replace = job.replace_pending;
        let finished = end == rows.len();
        // The results move into the writer and back (no copy per chunk).
        let before = std::mem::take(&mut results);
        let new_results = store
            .write(move |c| {
                let a = Acting {
                    ctx: &c2,
                    org: &l.org,
                    op: &l.op,
                    authority: &Authority::Operator,
                };
                let applied = invites_bulk::apply(c, &a, &m, &chunk, replace)?;
                let mut all = before;
                all.extend(applied);
                let text = serde_json::to_string(&all).expect("results serialise");
                let now = store::now();
                bulk_jobs::progress(c, &id, end as i64, &text, finished, lease_from(now), now)?;
                Ok::<_, AppError>(all)
            })
            .await?;
        results = new_results;
        done = end;
        outbox.wake();
    }
    Ok(())
}

/// A job as the API shows it: progress, and once done the per-row report.
pub fn view(job: &Job) -> Result<serde_json::Value, AppError> {
    let mut v = serde_json::json!({
        "id": job.id,
        "status": job.status,
        "atomic": job.atomic,
        "total": job.total,
        "done": job.done,
    });
    // The results are parsed only once the job is done (polling a running
    // job of 10,000 rows stays cheap).
    if job.status == bulk_jobs::DONE {
        let results: Vec<RowResult> = serde_json::from_str(&job.results)
            .map_err(|e| AppError::Internal(format!("job results: {e}")))?;
        let applied = !(job.atomic && results.iter().any(RowResult::failed));
        let report = Report::new(job.atomic, applied, results);
        v["summary"] = serde_json::to_value(&report.summary).expect("counts serialise");
        v["report"] = serde_json::to_value(&report).expect("reports serialise");
    }
    Ok(v)
}

/// Re-fetches SAML metadata from its URL (`sso.metadata_refresh_secs`; see
/// `service::idp_connections::refresh_metadata`). It looks every few
/// minutes for connections fetched longer ago than the period, so restarts
/// do not postpone a refresh.
pub struct MetadataRefresher {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl MetadataRefresher {
    pub fn spawn(store: Store, settings: &crate::configuration::SsoSettings) -> MetadataRefresher {
        let (stop, mut stopped) = watch::channel(false);
        let (every, network) = (settings.metadata_refresh, settings.network);
        let tick = every.min(Duration::from_secs(300));
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(tick) => {}
                    _ = stopped.changed() => return,
                }
                let due = store::now() - chrono::Duration::from_std(every).unwrap_or_default();
                let report =
                    crate::service::idp_connections::refresh_metadata(&store, network, due).await;
                if report.checked > 0 {
                    tracing::debug!(
                        checked = report.checked,
                        changed = report.changed.len(),
                        failed = report.failed.len(),
                        "IdP metadata refreshed"
                    );
                }
            }
        });
        MetadataRefresher { stop, task }
    }

    /// Stop; a round in progress gets `grace` to finish.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(grace, self.task).await;
    }
}
