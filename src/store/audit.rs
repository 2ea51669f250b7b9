//! Audit events: every change, with actor, action, target, before/after state
//! and request id. Written in the same transaction as the change it records.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;

use super::schema::audit_events;
use super::{DbConnection, PageCursor, StoreError};
use crate::domain::audit::{Actor, ActorKind};
use crate::domain::{AuditEventId, OrgId};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
struct AuditRow {
    id: String,
    org_id: Option<String>,
    occurred_at: NaiveDateTime,
    actor_kind: String,
    actor_id: Option<String>,
    actor_label: String,
    action: String,
    target_kind: String,
    target_id: Option<String>,
    before_state: Option<String>,
    after_state: Option<String>,
    request_id: Option<String>,
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub org_id: Option<OrgId>,
    pub occurred_at: NaiveDateTime,
    pub actor: Actor,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: Option<String>,
}

/// A change to record.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub org_id: Option<OrgId>,
    pub actor: Actor,
    pub action: &'static str,
    pub target_kind: &'static str,
    pub target_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: Option<String>,
    pub occurred_at: NaiveDateTime,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        let parse = |s: Option<String>| -> Result<Option<Value>, StoreError> {
            s.map(|s| serde_json::from_str(&s))
                .transpose()
                .map_err(StoreError::from)
        };
        Ok(AuditEvent {
            id: AuditEventId::from_trusted(r.id),
            org_id: r.org_id.map(OrgId::from_trusted),
            occurred_at: r.occurred_at,
            actor: Actor {
                kind: r
                    .actor_kind
                    .parse::<ActorKind>()
                    .map_err(StoreError::corrupt)?,
                id: r.actor_id,
                label: r.actor_label,
            },
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            before: parse(r.before_state)?,
            after: parse(r.after_state)?,
            request_id: r.request_id,
        })
    }
}

fn to_row(e: &NewAuditEvent) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        id: AuditEventId::generate().into_string(),
        org_id: e.org_id.as_ref().map(|o| o.as_str().to_owned()),
        occurred_at: e.occurred_at,
        actor_kind: e.actor.kind.as_str().to_owned(),
        actor_id: e.actor.id.clone(),
        actor_label: e.actor.label.clone(),
        action: e.action.to_owned(),
        target_kind: e.target_kind.to_owned(),
        target_id: e.target_id.clone(),
        before_state: e.before.as_ref().map(serde_json::to_string).transpose()?,
        after_state: e.after.as_ref().map(serde_json::to_string).transpose()?,
        request_id: e.request_id.clone(),
    })
}

/// Record events (one multi-row statement).
pub fn insert(conn: &mut DbConnection, events: &[NewAuditEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = events.iter().map(to_row).collect::<Result<Vec<_>, _>>()?;
    // SQLite caps bound parameters per statement; 12 columns × 500 rows is safe.
    for chunk in rows.chunks(500) {
        crate::on_backend!(conn, |c| diesel::insert_into(audit_events::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor_id: Option<String>,
    pub target_id: Option<String>,
    pub action: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    /// Newest first: events strictly older than this cursor.
    pub before: Option<PageCursor>,
    pub limit: i64,
}

impl AuditEvent {
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            created_at: self.occurred_at,
            id: self.id.as_str().to_owned(),
        }
    }
}

/// The org's events, newest first.
pub fn list(
    conn: &mut DbConnection,
    org: &OrgId,
    q: &AuditQuery,
) -> Result<Vec<AuditEvent>, StoreError> {
    let mut query = audit_events::table
        .filter(audit_events::org_id.eq(org.as_str()))
        .select(AuditRow::as_select())
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(q.limit)
        .into_boxed();
    if let Some(actor) = &q.actor_id {
        query = query.filter(audit_events::actor_id.eq(actor.clone()));
    }
    if let Some(target) = &q.target_id {
        query = query.filter(audit_events::target_id.eq(target.clone()));
    }
    if let Some(action) = &q.action {
        query = query.filter(audit_events::action.eq(action.clone()));
    }
    if let Some(since) = q.since {
        query = query.filter(audit_events::occurred_at.ge(since));
    }
    if let Some(until) = q.until {
        query = query.filter(audit_events::occurred_at.lt(until));
    }
    if let Some(c) = &q.before {
        query = query.filter(
            audit_events::occurred_at
                .lt(c.created_at)
                .or(audit_events::occurred_at
                    .eq(c.created_at)
                    .and(audit_events::id.lt(c.id.clone()))),
        );
    }
    query
        .load(conn)?
        .into_iter()
        .map(AuditEvent::try_from)
        .collect()
}
