//! Reading the audit trail.

use chrono::NaiveDateTime;

use crate::error::AppError;
use crate::service::users::Page;
use crate::store::audit::{AuditEvent, AuditQuery};
use crate::store::{self, DbConnection, PageCursor};

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub target: Option<String>,
    pub action: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    pub cursor: Option<String>,
}

pub fn list(
    conn: &mut DbConnection,
    a: &crate::service::Acting<'_>,
    f: AuditFilter,
    limit: i64,
) -> Result<Page<AuditEvent>, AppError> {
    a.require(crate::domain::authz::gate::AUDIT_READ)?;
    let org = a.org;
    let before = f
        .cursor
        .as_deref()
        .map(|c| PageCursor::decode(c).ok_or_else(|| AppError::bad_request("invalid cursor")))
        .transpose()?;
    let mut items = store::audit::list(
        conn,
        &org.id,
        &AuditQuery {
            actor_id: f.actor,
            target_id: f.target,
            action: f.action,
            since: f.since,
            until: f.until,
            before,
            limit: limit + 1,
        },
    )?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|e| e.cursor().encode())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}
