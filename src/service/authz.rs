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

    /// A role by key, id or display name (key and name case-insensitively:
    /// `Owner`, `owner` and `View Manager` all work everywhere a role is
    /// named). Unknown is a 404 naming it and listing the valid names.
    pub fn role(&self, key: &str) -> Result<&authz::Role, AppError> {
        let wanted = key.trim();
        self.policy
            .role_by_key(wanted)
            .or_else(|| self.policy.role(wanted))
            .or_else(|| {
                self.policy.roles().find(|r| {
                    r.key.as_str().eq_ignore_ascii_case(wanted)
                        || r.name.to_lowercase() == wanted.to_lowercase()
                })
            })
            .ok_or_else(|| {
                let valid: Vec<String> = self
                    .policy
                    .roles()
                    .map(|r| format!("{} ({})", r.key.as_str(), r.name))
                    .collect();
                AppError::NotFound(format!(
                    "role `{key}` not found; roles of this organization: {}",
                    valid.join(", ")
                ))
            })
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
    /// An org API key acting with a role, or a personal key acting as its
    /// user (`user` is then that user: nobody edits their own overrides).
    Subject {
        subject: Subject,
        label: String,
        user: Option<crate::domain::UserId>,
    },
}

fn forbidden(what: &str, decision: &Decision) -> AppError {
    AppError::Forbidden(format!("{what}: {}", decision.explain()))
}

impl Authority {
    /// The authority of an org key that acts with a role (not as a user).
    pub fn of_role(
        org_policy: &OrgPolicy,
        role_key: &str,
        label: &str,
    ) -> Result<Authority, AppError> {
        let role = org_policy.role(role_key).map_err(|_| {
            AppError::Forbidden(format!(
                "this key's role `{role_key}` no longer exists in the organization"
            ))
        })?;
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
            user: None,
        })
    }

    /// The authority of a personal key: its user's access, while active.
    pub fn of_user(
        user: crate::domain::UserId,
        subject: Subject,
        label: &str,
    ) -> Result<Authority, AppError> {
        if subject.status != UserStatus::Active {
            return Err(AppError::Unauthenticated(format!(
                "the user behind this key is {}",
                subject.status
            )));
        }
        Ok(Authority::Subject {
            subject,
            label: label.to_owned(),
            user: Some(user),
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
        let Authority::Subject { subject, label, .. } = self else {
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

    /// Require a workspace-scoped permission in `workspace`.
    pub fn require_in(
        &self,
        policy: &Policy,
        permission: &str,
        workspace: &authz::WorkspaceId,
    ) -> Result<(), AppError> {
        let Authority::Subject { subject, label, .. } = self else {
            return Ok(());
        };
        let query = Query::of(permission).in_workspace(workspace.clone());
        let decision = authz::check(policy, subject, &query)
            .map_err(|e| AppError::Internal(format!("workspace permission check failed: {e}")))?;
        if decision.allowed {
            Ok(())
        } else {
            Err(forbidden(
                &format!("{label} lacks {permission} in workspace {workspace}"),
                &decision,
            ))
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

impl Authority {
    /// Whether this authority is `user` acting through a personal key.
    pub fn is_user(&self, user: &crate::domain::UserId) -> bool {
        matches!(self, Authority::Subject { user: Some(u), .. } if u == user)
    }

    /// May this authority act for `target` — hold, or be able to grant,
    /// every right the target has? (Personal keys for others; writes that
    /// could hand over an owner's account.)
    pub fn may_act_for(
        &self,
        policy: &Policy,
        target: &Subject,
        who: &str,
    ) -> Result<(), AppError> {
        match self {
            Authority::Operator => Ok(()),
            Authority::Subject { subject, label, .. } => {
                authz::can_act_for(policy, subject, target).map_err(|e| {
                    AppError::Forbidden(format!(
                        "{label} may not act for `{who}`, who holds more than it may grant: {e}"
                    ))
                })
            }
        }
    }

    /// Nobody grants access to a workspace they cannot see.
    pub fn may_grant_workspaces(
        &self,
        op: &OrgPolicy,
        list: &authz::WorkspaceList,
    ) -> Result<(), AppError> {
        match self {
            Authority::Operator => Ok(()),
            Authority::Subject { subject, .. } => {
                authz::can_grant_workspaces(&op.policy, subject, list, &op.workspace_ids())
                    .map_err(|e| AppError::Forbidden(e.to_string()))
            }
        }
    }

    /// Attaching a set to a user gives its steps: only to those who hold them.
    pub fn may_grant_set(&self, policy: &Policy, set: &PermissionSet) -> Result<(), AppError> {
        match self {
            Authority::Operator => Ok(()),
            Authority::Subject { subject, .. } => authz::can_grant_set(policy, subject, set)
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
        authz::CheckError::UnknownItemType(t) => AppError::BadRequest {
            code: "unknown_item_type",
            message: format!(
                "item type `{t}` is not defined in this organization (PUT …/item-types/{t} defines it)"
            ),
        },
        authz::CheckError::UnknownAssignedRole(r) => AppError::BadRequest {
            code: "unknown_role",
            message: format!("assignment: role `{r}` does not exist in this organization"),
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
