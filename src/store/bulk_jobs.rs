//! Bulk-invite jobs and `Idempotency-Key` records (see the migration
//! `2026-12-01-000210_bulk_invites`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{bulk_jobs, idempotency_keys};
use super::{DbConnection, StoreError};
use crate::domain::OrgId;

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const DONE: &str = "done";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = bulk_jobs)]
pub struct Job {
    pub id: String,
    pub org_id: String,
    /// JSON of the requesting `Actor`.
    pub actor: String,
    pub request_id: Option<String>,
    pub atomic: bool,
    pub replace_pending: bool,
    /// JSON array of the validated rows.
    pub rows: String,
    pub total: i64,
    pub done: i64,
    /// JSON array of the row results so far.
    pub results: String,
    pub status: String,
    pub claimed_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, job: &Job) -> Result<(), StoreError> {
    diesel::insert_into(bulk_jobs::table)
        .values(job)
        .execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, org: &OrgId, id: &str) -> Result<Job, StoreError> {
    Ok(bulk_jobs::table
        .filter(bulk_jobs::org_id.eq(org.as_str()))
        .filter(bulk_jobs::id.eq(id))
        .select(Job::as_select())
        .first(conn)?)
}

/// Take one job that is queued, or running under an expired lease (its
/// node stopped), until `lease_until`.
pub fn claim(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> Result<Option<Job>, StoreError> {
    let candidate: Option<String> = bulk_jobs::table
        .filter(
            bulk_jobs::status.eq(QUEUED).or(bulk_jobs::status
                .eq(RUNNING)
                .and(bulk_jobs::claimed_until.lt(now))),
        )
        .order(bulk_jobs::created_at.asc())
        .select(bulk_jobs::id)
        .first(conn)
        .optional()?;
    let Some(id) = candidate else {
        return Ok(None);
    };
    // Taken only if nobody took it between the read and this write.
    let n = diesel::update(
        bulk_jobs::table.find(&id).filter(
            bulk_jobs::status.eq(QUEUED).or(bulk_jobs::status
                .eq(RUNNING)
                .and(bulk_jobs::claimed_until.lt(now))),
        ),
    )
    .set((
        bulk_jobs::status.eq(RUNNING),
        bulk_jobs::claimed_until.eq(Some(lease_until)),
        bulk_jobs::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(
        bulk_jobs::table
            .find(&id)
            .select(Job::as_select())
            .first(conn)?,
    ))
}

/// Record a processed chunk (in the chunk's own transaction).
pub fn progress(
    conn: &mut DbConnection,
    id: &str,
    done: i64,
    results: &str,
    finished: bool,
    lease_until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(bulk_jobs::table.find(id))
        .set((
            bulk_jobs::done.eq(done),
            bulk_jobs::results.eq(results),
            bulk_jobs::status.eq(if finished { DONE } else { RUNNING }),
            bulk_jobs::claimed_until.eq(Some(lease_until)),
            bulk_jobs::updated_at.eq(now),
            bulk_jobs::finished_at.eq(finished.then_some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A stored idempotency record: (request hash, status, response).
pub fn idempotency_get(
    conn: &mut DbConnection,
    org: &OrgId,
    key: &str,
    not_before: NaiveDateTime,
) -> Result<Option<(String, i32, String)>, StoreError> {
    Ok(idempotency_keys::table
        .filter(idempotency_keys::org_id.eq(org.as_str()))
        .filter(idempotency_keys::key.eq(key))
        .filter(idempotency_keys::created_at.ge(not_before))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::status,
            idempotency_keys::response,
        ))
        .first(conn)
        .optional()?)
}

/// Reserve `key` for a request (status 0); `false` if a live record exists.
/// A record older than `not_before` is replaced.
pub fn idempotency_reserve(
    conn: &mut DbConnection,
    org: &OrgId,
    key: &str,
    request_hash: &str,
    not_before: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::org_id.eq(org.as_str()))
            .filter(idempotency_keys::key.eq(key))
            .filter(idempotency_keys::created_at.lt(not_before)),
    )
    .execute(conn)?;
    let exists: bool = diesel::select(diesel::dsl::exists(
        idempotency_keys::table
            .filter(idempotency_keys::org_id.eq(org.as_str()))
            .filter(idempotency_keys::key.eq(key)),
    ))
    .get_result(conn)?;
    if exists {
        return Ok(false);
    }
    match diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::org_id.eq(org.as_str()),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::status.eq(0),
            idempotency_keys::response.eq(""),
            idempotency_keys::created_at.eq(now),
        ))
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(e) => match StoreError::from(e) {
            StoreError::Unique(_) => Ok(false),
            other => Err(other),
        },
    }
}

pub fn idempotency_finish(
    conn: &mut DbConnection,
    org: &OrgId,
    key: &str,
    status: i32,
    response: &str,
) -> Result<(), StoreError> {
    diesel::update(
        idempotency_keys::table
            .filter(idempotency_keys::org_id.eq(org.as_str()))
            .filter(idempotency_keys::key.eq(key)),
    )
    .set((
        idempotency_keys::status.eq(status),
        idempotency_keys::response.eq(response),
    ))
    .execute(conn)?;
    Ok(())
}

/// Forget a reservation whose request failed before answering.
pub fn idempotency_release(
    conn: &mut DbConnection,
    org: &OrgId,
    key: &str,
) -> Result<(), StoreError> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::org_id.eq(org.as_str()))
            .filter(idempotency_keys::key.eq(key))
            .filter(idempotency_keys::status.eq(0)),
    )
    .execute(conn)?;
    Ok(())
}
