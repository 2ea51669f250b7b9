//! The transactional outbox (SPEC §4 "Email"): a message row is inserted in
//! the same transaction as the change that sends it; workers claim due rows
//! with a lease (`claimed_until`) and record the outcome. On PostgreSQL the
//! claim takes `FOR UPDATE SKIP LOCKED`, so several nodes claim disjoint
//! rows; on SQLite (one node, one writer) the claim is one `UPDATE …
//! RETURNING` on the writer. The body (sealed) is wiped once the message is
//! sent or finally failed.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Integer, Nullable, Text, Timestamp};

use super::schema::outbox;
use super::{DbConnection, StoreError};
use crate::domain::OrgId;

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

/// A message to queue; `body` is already sealed (see `email::seal`).
pub struct NewMessage<'a> {
    pub id: &'a str,
    pub org: Option<&'a OrgId>,
    pub kind: &'a str,
    pub ref_id: Option<&'a str>,
    pub sender: &'a str,
    pub recipient: &'a str,
    pub message_id: &'a str,
    pub body: &'a [u8],
}

pub fn enqueue(
    conn: &mut DbConnection,
    m: NewMessage<'_>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    enqueue_many(conn, &[m], now)
}

/// Several messages in multi-row INSERTs.
pub fn enqueue_many(
    conn: &mut DbConnection,
    items: &[NewMessage<'_>],
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let rows: Vec<_> = items.iter().map(|m| row(m, now)).collect();
    // 13 columns: 500 rows stay below SQLite's bound-parameter cap.
    for chunk in rows.chunks(500) {
        crate::on_backend!(conn, |c| diesel::insert_into(outbox::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

#[derive(Insertable)]
#[diesel(table_name = outbox)]
struct NewRow<'a> {
    id: &'a str,
    org_id: Option<&'a str>,
    kind: &'a str,
    ref_id: Option<&'a str>,
    sender: &'a str,
    recipient: &'a str,
    message_id: &'a str,
    body: Option<&'a [u8]>,
    status: &'static str,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn row<'a>(m: &'a NewMessage<'_>, now: NaiveDateTime) -> NewRow<'a> {
    NewRow {
        id: m.id,
        org_id: m.org.map(OrgId::as_str),
        kind: m.kind,
        ref_id: m.ref_id,
        sender: m.sender,
        recipient: m.recipient,
        message_id: m.message_id,
        body: Some(m.body),
        status: PENDING,
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
    }
}

/// A claimed message, for a worker to send.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub org_id: Option<String>,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub ref_id: Option<String>,
    #[diesel(sql_type = Text)]
    pub sender: String,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    #[diesel(sql_type = Text)]
    pub message_id: String,
    #[diesel(sql_type = Nullable<Binary>)]
    pub body: Option<Vec<u8>>,
    /// Attempts including this one.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

const CLAIM_RETURNING: &str =
    "RETURNING id, org_id, kind, ref_id, sender, recipient, message_id, body, attempts";

/// Take up to `limit` due messages for this worker until `lease_until`,
/// counting the attempt. Rows another worker holds are skipped.
pub fn claim(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Claimed>, StoreError> {
    let due = "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2 \
               AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY next_attempt_at, id LIMIT $3";
    let rows = match conn {
        DbConnection::Pg(c) => claim_pg(c, due, now, lease_until, limit)?,
        DbConnection::Sqlite(c) => diesel::sql_query(format!(
            "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1, updated_at = $2 \
             WHERE id IN ({due}) {CLAIM_RETURNING}"
        ))
        .bind::<Timestamp, _>(lease_until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(c)?,
    };
    Ok(rows)
}

/// PostgreSQL: the claim with `FOR UPDATE SKIP LOCKED` (not expressible
/// through the multi-connection), so concurrent nodes never take one row twice.
fn claim_pg(
    c: &mut PgConnection,
    due: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Claimed>, StoreError> {
    Ok(diesel::sql_query(format!(
        "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1, updated_at = $2 \
         WHERE id IN ({due} FOR UPDATE SKIP LOCKED) {CLAIM_RETURNING}"
    ))
    .bind::<Timestamp, _>(lease_until)
    .bind::<Timestamp, _>(now)
    .bind::<BigInt, _>(limit)
    .load(c)?)
}

/// Delivered (several at once, one statement per 500): wipe the bodies.
pub fn mark_sent_many(
    conn: &mut DbConnection,
    ids: &[String],
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    for chunk in ids.chunks(500) {
        diesel::update(outbox::table.filter(outbox::id.eq_any(chunk)))
            .set((
                outbox::status.eq(SENT),
                outbox::body.eq(None::<Vec<u8>>),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
                outbox::last_error.eq(None::<String>),
                outbox::sent_at.eq(Some(now)),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A temporary failure: try again at `next`.
pub fn mark_retry(
    conn: &mut DbConnection,
    id: &str,
    error: &str,
    next: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(outbox::table.find(id).filter(outbox::status.eq(PENDING)))
        .set((
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(Some(error)),
            outbox::next_attempt_at.eq(next),
            outbox::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Finally failed (permanent error or attempts exhausted): wipe the body.
pub fn mark_failed(
    conn: &mut DbConnection,
    id: &str,
    error: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(FAILED),
            outbox::body.eq(None::<Vec<u8>>),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(Some(error)),
            outbox::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Delivery state of a message, as the API shows it.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = outbox)]
pub struct Delivery {
    #[serde(skip)]
    pub id: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
    pub next_attempt_at: NaiveDateTime,
}

pub fn deliveries(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<Delivery>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        out.extend(
            outbox::table
                .filter(outbox::id.eq_any(chunk))
                .select(Delivery::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Counts by status (tests, metrics, the benchmark).
pub fn counts(conn: &mut DbConnection) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(outbox::table
        .group_by(outbox::status)
        .select((outbox::status, diesel::dsl::count_star()))
        .load(conn)?)
}

/// Drop a message that has not been claimed for sending yet (its invite was
/// revoked or superseded).
pub fn cancel_pending(
    conn: &mut DbConnection,
    id: &str,
    why: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::status.eq(PENDING))
            .filter(
                outbox::claimed_until
                    .is_null()
                    .or(outbox::claimed_until.lt(now)),
            ),
    )
    .set((
        outbox::status.eq(FAILED),
        outbox::body.eq(None::<Vec<u8>>),
        outbox::last_error.eq(Some(format!("cancelled: {why}"))),
        outbox::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}
