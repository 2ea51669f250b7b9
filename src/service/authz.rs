//! Authorisation with the permission engine: the compiled policy of an org
//! (cached per `policy_version`), the [`Authority`] an admin request acts
//! with, and the checks of SPEC §2 "Gateway permissions" and "Granting
//! limits" expressed as 403 errors that carry the engine's reasons.

use crate::domain::UserStatus;
use crate::domain::authz::{
    self, Binding, BindingId, BindingScope, BindingSource, Decision, PermissionKey, PermissionSet,
    Policy, Principal, Query, RoleId, Subject, UserId as AzUserId, WorkspaceAccess,
};
use crate::error::AppError;
use crate::store::orgs::Org;
use crate::store::workspaces::Workspace;
use crate::store::{self, DbConnection};

/// An org's compiled policy and its workspaces (both change rarely; every
/// change bumps the org's `policy_version`).
pub struct OrgPolicy {
    pub policy: Policy,
    pub workspaces: Vec<Workspace>,
}

impl OrgPolicy {
    pub fn load(conn: &mut DbConnection, org: &Org) -> Result<OrgPolicy, AppError> {
        let policy = store::policy::load(conn, &org.id)?.compile()?;
        let workspaces = store::workspaces::list(conn, &org.id)?;
        Ok(OrgPolicy { policy, workspaces })
    }

    /// A workspace by id or slug.
    pub fn workspace(&self, key: &str) -> Result<&Workspace, AppError> {
        self.workspaces
            .iter()
            .find(|w| w.id.as_str() == key || w.slug == key)
            .ok_or_else(|| AppError::not_found("workspace", key))
    }

    pub fn workspace_ids(&self) -> Vec<authz::WorkspaceId> {
        self.workspaces
            .iter()
            .map(|w| authz::WorkspaceId::new(w.id.as_str()))
            .collect()
    }

    /// A role by key (or id). Unknown is a 404 naming it.
    pub fn role(&self, key: &str) -> Result<&authz::Role, AppError> {
        self.policy
            .role_by_key(key)
            .or_else(|| self.policy.role(key))
            .ok_or_else(|| AppError::not_found("role", key))
    }

    /// The preset's owner role (last-owner protection, default key role).
    pub fn owner_role(&self) -> Option<&authz::Role> {
        self.policy.roles().find(|r| r.owner)
    }

    pub fn permission(&self, key: &str) -> Result<PermissionKey, AppError> {
        let parsed = PermissionKey::parse(key)
            .map_err(|e| AppError::bad_request(format!("permission `{key}`: {e}")))?;
        if self.policy.permission(key).is_none() {
            return Err(AppError::BadRequest {
                code: "unknown_permission",
                message: format!("permission `{key}` is not in this organization's catalogue"),
            });
        }
        Ok(parsed)
    }
}

/// What an admin request may do.
#[derive(Debug, Clone)]
pub enum Authority {
    /// The CLI on the server host, or an instance-admin key: unrestricted.
    Operator,
    /// An org API key acting with a role, or a personal key acting as its user.
    Subject { subject: Subject, label: String },
}

fn forbidden(what: &str, decision: &Decision) -> AppError {
    AppError::Forbidden(format!("{what}: {}", decision.explain()))
}

impl Authority {
    /// The authority of an org key that acts with a role (not as a user).
    pub fn of_role(
        org_policy: &OrgPolicy,
        role_key: Option<&str>,
        label: &str,
    ) -> Result<Authority, AppError> {
        let role = match role_key {
            Some(k) => org_policy.role(k).map_err(|_| {
                AppError::Forbidden(format!(
                    "this key's role `{k}` no longer exists in the organization"
                ))
            })?,
            None => org_policy.owner_role().ok_or_else(|| {
                AppError::Forbidden("this organization has no owner role".to_owned())
            })?,
        };
        let mut subject = Subject::active();
        subject.bindings.push(Binding {
            id: BindingId::new(format!("api-key:{label}")),
            principal: Principal::User(AzUserId::new(format!("api-key:{label}"))),
            role: role.id.clone(),
            scope: BindingScope::Org,
            source: BindingSource::Admin,
        });
        subject.workspaces = WorkspaceAccess::all();
        Ok(Authority::Subject {
            subject,
            label: format!("API key `{label}` (role {})", role.key),
        })
    }

    /// The authority of a personal key: its user's access, while active.
    pub fn of_user(subject: Subject, label: &str) -> Result<Authority, AppError> {
        if subject.status != UserStatus::Active {
            return Err(AppError::Unauthenticated(format!(
                "the user behind this key is {}",
                subject.status
            )));
        }
        Ok(Authority::Subject {
            subject,
            label: label.to_owned(),
        })
    }

    pub fn subject(&self) -> Option<&Subject> {
        match self {
            Authority::Operator => None,
            Authority::Subject { subject, .. } => Some(subject),
        }
    }

    /// Require an org-level permission (a `gateway.*` one for admin calls).
    pub fn require(&self, policy: &Policy, permission: &str) -> Result<(), AppError> {
        let Authority::Subject { subject, label } = self else {
            return Ok(());
        };
        let query = Query::of(permission);
        let decision = authz::check(policy, subject, &query)
            .map_err(|e| AppError::Internal(format!("gateway permission check failed: {e}")))?;
        if decision.allowed {
            Ok(())
        } else {
            Err(forbidden(&format!("{label} lacks {permission}"), &decision))
        }
    }

    /// Granting limit: may this authority give `role` at `scope`?
    pub fn may_grant_role(
        &self,
        policy: &Policy,
        role: &RoleId,
        scope: &BindingScope,
    ) -> Result<(), AppError> {
        match self {
            Authority::Operator => Ok(()),
            Authority::Subject { subject, .. } => {
                authz::can_grant_role(policy, subject, role, scope)
                    .map_err(|e| AppError::Forbidden(e.to_string()))
            }
        }
    }

    pub fn may_grant_permission(
        &self,
        policy: &Policy,
        permission: &PermissionKey,
        scope: &BindingScope,
    ) -> Result<(), AppError> {
        match self {
            Authority::Operator => Ok(()),
            Authority::Subject { subject, .. } => {
                authz::can_grant_permission(policy, subject, permission, scope)
                    .map_err(|e| AppError::Forbidden(e.to_string()))
            }
        }
    }

    pub fn may_edit_set(&self, policy: &Policy, set: &PermissionSet) -> Result<(), AppError> {
        match self {
            Authority::Operator => Ok(()),
            Authority::Subject { subject, .. } => authz::can_edit_set(policy, subject, set)
                .map_err(|e| AppError::Forbidden(e.to_string())),
        }
    }

    pub fn may_attach_set_to_role(&self, policy: &Policy) -> Result<(), AppError> {
        match self {
            Authority::Operator => Ok(()),
            Authority::Subject { subject, .. } => authz::can_attach_set_to_role(policy, subject)
                .map_err(|e| AppError::Forbidden(e.to_string())),
        }
    }
}

/// Map an engine input error to a client error.
pub fn check_error(e: authz::CheckError) -> AppError {
    match e {
        authz::CheckError::UnknownPermission(p) => AppError::BadRequest {
            code: "unknown_permission",
            message: format!("permission `{p}` is not in this organization's catalogue"),
        },
        e @ (authz::CheckError::MissingResource { .. }
        | authz::CheckError::ResourceTypeMismatch { .. }
        | authz::CheckError::WorkspaceMismatch { .. }) => AppError::BadRequest {
            code: "invalid_check",
            message: e.to_string(),
        },
        other => AppError::Internal(format!("stored access does not match the policy: {other}")),
    }
}
