//! Operations the admin API and the CLI share: parse, authorise, write through
//! the store inside one transaction, and record the audit event in that same
//! transaction. Functions take `&mut DbConnection` (already inside the
//! caller's transaction) and a [`Ctx`] saying who acts, for which request, when.

pub mod access;
pub mod api_keys;
pub mod audit;
pub mod authz;
pub mod bulk;
pub mod directories;
pub mod domains;
pub mod invites;
pub mod invites_bulk;
pub mod item_types;
pub mod lists;
pub mod orgs;
pub mod owners;
pub mod role_sources;
pub mod roles;
pub mod scim;
pub mod sessions;
pub mod sso_login;
pub mod users;
pub mod workspaces;

use chrono::NaiveDateTime;
use serde_json::Value;

use crate::domain::OrgId;
use crate::domain::audit::Actor;
use crate::store::audit::NewAuditEvent;

/// Who is acting, in which request, at what time. Time is passed in (never read
/// from the clock inside an operation) so tests control it.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub now: NaiveDateTime,
}

impl Ctx {
    pub fn new(actor: Actor, request_id: Option<String>) -> Ctx {
        Ctx {
            actor,
            request_id,
            now: crate::store::now(),
        }
    }

    /// An audit event for a change made in this context.
    pub fn event(
        &self,
        org: Option<&OrgId>,
        action: &'static str,
        target_kind: &'static str,
        target_id: Option<String>,
        before: Option<Value>,
        after: Option<Value>,
    ) -> NewAuditEvent {
        NewAuditEvent {
            org_id: org.cloned(),
            actor: self.actor.clone(),
            action,
            target_kind,
            target_id,
            before,
            after,
            request_id: self.request_id.clone(),
            occurred_at: self.now,
        }
    }
}

/// Everything an admin operation inside one org needs to know about who acts:
/// the request context, the org, its compiled policy and the actor's authority.
pub struct Acting<'a> {
    pub ctx: &'a Ctx,
    pub org: &'a crate::store::orgs::Org,
    pub op: &'a authz::OrgPolicy,
    pub authority: &'a authz::Authority,
}

impl Acting<'_> {
    /// Require a gateway permission of whoever acts (403 naming it). Every
    /// admin operation calls this itself, so no handler can forget it.
    pub fn require(&self, permission: &str) -> Result<(), crate::error::AppError> {
        self.authority.require(&self.op.policy, permission)
    }

    /// Require the org-level gateway permission `gateway`, or — where the
    /// org's preset defines it (seed 004 workspace admins) — the
    /// workspace-scoped permission `scoped` held in `workspace` (a binding
    /// on an ancestor counts when its role inherits to children). The 403
    /// names both.
    pub fn require_in_workspace(
        &self,
        gateway: &str,
        scoped: &str,
        workspace: &crate::domain::authz::WorkspaceId,
    ) -> Result<(), crate::error::AppError> {
        let org_level = match self.require(gateway) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if self.op.policy.permission(scoped).is_none() {
            return Err(org_level);
        }
        self.authority
            .require_in(&self.op.policy, scoped, workspace)
            .map_err(|scoped_error| match (org_level, scoped_error) {
                (crate::error::AppError::Forbidden(a), crate::error::AppError::Forbidden(b)) => {
                    crate::error::AppError::Forbidden(format!("{a}; and {b}"))
                }
                (_, other) => other,
            })
    }
}

/// Clamp a client's page size to `1..=max`, defaulting when absent.
pub fn page_size(requested: Option<u32>, default: u32, max: u32) -> i64 {
    i64::from(requested.unwrap_or(default).clamp(1, max))
}
