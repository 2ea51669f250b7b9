//! Granting limits (SPEC §2 "Granting limits") and the permission-set
//! administration rules of seed 002.
//!
//! "Nobody grants a role or permission they do not hold themselves": every
//! permission a role allows (org-level grants, module allows, and the
//! permissions of the sets attached to it) must be allowed for the granter
//! *at the scope the role is being bound at*, evaluated by the same engine
//! (so overrides, individual grants and derived rules count the same way
//! they do in a check). These functions only enforce that limit; *whether*
//! the actor may assign roles at all (e.g. `gateway.users.manage`) is a
//! separate check the API layer makes. Beyond permissions, an org-level
//! role's workspace visibility may not be wider than the granter's own. Last-owner protection is a count the
//! store makes over [`Role::owner`](super::Role::owner).

use thiserror::Error;

use super::catalogue::ScopeKind;
use super::engine::{
    CheckError, Decision, check, holds_at, org_visibility_mode, visible_workspaces,
};
use super::ids::{PermissionKey, ResourceId, ResourceType, RoleId, RoleKey, WorkspaceId};
use super::policy::{APPLICATION, Policy};
use super::role::{Grant, PermissionSet, VisibilityMode};
use super::subject::{BindingScope, Query, Subject, WorkspaceList};

/// Build access to an application (seed 002): needed to create or edit its
/// permission sets.
pub const APP_BUILD: &str = "app.build";

/// Why a grant or an administrative action is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GrantError {
    #[error("role {0} does not exist")]
    UnknownRole(RoleId),
    #[error("role {role} is bound at {binds_at}, not at {scope}")]
    WrongScope {
        role: RoleKey,
        binds_at: ScopeKind,
        scope: String,
    },
    #[error(
        "cannot grant role {role}: it sees workspaces with visibility {role_visibility:?}, wider than the granter's {granter_visibility:?}"
    )]
    WiderVisibility {
        role: RoleKey,
        role_visibility: VisibilityMode,
        granter_visibility: VisibilityMode,
    },
    #[error(
        "cannot grant {what}: the granter does not hold {}",
        missing.iter().map(PermissionKey::as_str).collect::<Vec<_>>().join(", ")
    )]
    NotHeld {
        what: String,
        missing: Vec<PermissionKey>,
    },
    #[error("editing permission sets of application {application} needs build access (app.build) to it: {}", decision.explain())]
    NoBuildAccess {
        application: ResourceId,
        decision: Decision,
    },
    #[error("attaching a permission set to a role needs gateway.roles.manage: {}", decision.explain())]
    NotRoleAdmin { decision: Decision },
    #[error(
        "cannot grant access to workspace(s) {}: the granter cannot see them",
        hidden.iter().map(WorkspaceId::as_str).collect::<Vec<_>>().join(", ")
    )]
    HiddenWorkspaces { hidden: Vec<WorkspaceId> },
    #[error("cannot lift a user's workspace restriction: the granter does not see every workspace")]
    NotAllWorkspaces,
    #[error(transparent)]
    Check(#[from] CheckError),
}

/// May `granter` bind `role` at `scope`?
pub fn can_grant_role(
    policy: &Policy,
    granter: &Subject,
    role: &RoleId,
    scope: &BindingScope,
) -> Result<(), GrantError> {
    let record = policy
        .role(role.as_str())
        .ok_or_else(|| GrantError::UnknownRole(role.clone()))?;
    let fits = match (&record.binds_at, scope) {
        (ScopeKind::Org, BindingScope::Org) => true,
        (ScopeKind::Workspace, BindingScope::Workspace { .. }) => true,
        (ScopeKind::Resource(kind), BindingScope::Resource { resource_type, .. }) => {
            kind == resource_type
        }
        _ => false,
    };
    if !fits {
        return Err(GrantError::WrongScope {
            role: record.key.clone(),
            binds_at: record.binds_at.clone(),
            scope: scope.to_string(),
        });
    }

    // Workspace visibility is not a permission, but handing out a wider
    // view than one's own is the same escalation (a Workspace Admin must
    // not make someone Admin), so it is limited the same way.
    if record.binds_at == ScopeKind::Org {
        let granter_visibility = org_visibility_mode(policy, granter)?;
        if record.visibility > granter_visibility {
            return Err(GrantError::WiderVisibility {
                role: record.key.clone(),
                role_visibility: record.visibility,
                granter_visibility,
            });
        }
    }

    let mut missing = Vec::new();
    let allowed = record
        .grants
        .iter()
        .chain(&record.module_policies)
        .filter(|(_, grant)| **grant == Grant::Allow)
        .map(|(key, _)| key);
    for key in allowed {
        if !holds_at(policy, granter, key, scope)?.allowed {
            missing.push(key.clone());
        }
    }
    for set_id in &record.permission_sets {
        let set = policy
            .set(set_id.as_str())
            .expect("Policy::new checked that attached sets exist");
        missing.extend(steps_not_held(policy, granter, set)?);
    }
    missing.sort();
    missing.dedup();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(GrantError::NotHeld {
            what: format!("role {}", record.key),
            missing,
        })
    }
}

/// May `granter` give someone an individual *allow* of `permission` at
/// `scope`? (Individual denies take nothing away from the granter and are
/// not limited here.)
pub fn can_grant_permission(
    policy: &Policy,
    granter: &Subject,
    permission: &PermissionKey,
    scope: &BindingScope,
) -> Result<(), GrantError> {
    if holds_at(policy, granter, permission, scope)?.allowed {
        Ok(())
    } else {
        Err(GrantError::NotHeld {
            what: format!("permission {permission} in {scope}"),
            missing: vec![permission.clone()],
        })
    }
}

/// May `subject` create or edit `set`? Needs `app.build` on the set's
/// application (seed 002: "you can create and modify Permission Sets for
/// Applications you have access to build"). Works for a set not stored yet.
pub fn can_edit_set(
    policy: &Policy,
    subject: &Subject,
    set: &PermissionSet,
) -> Result<(), GrantError> {
    let application_type = ResourceType::parse(APPLICATION).expect("valid resource type");
    let query = Query::of(APP_BUILD).on(application_type, set.application.clone());
    let decision = check(policy, subject, &query)?;
    if decision.allowed {
        Ok(())
    } else {
        Err(GrantError::NoBuildAccess {
            application: set.application.clone(),
            decision,
        })
    }
}

/// May `subject` attach a permission set to a role, or detach it? Managing
/// roles is an administrative function (seed 002), so this needs
/// `gateway.roles.manage`.
pub fn can_attach_set_to_role(policy: &Policy, subject: &Subject) -> Result<(), GrantError> {
    let decision = check(policy, subject, &Query::of("gateway.roles.manage"))?;
    if decision.allowed {
        Ok(())
    } else {
        Err(GrantError::NotRoleAdmin { decision })
    }
}

/// May `granter` hand out every right `target` holds — every role binding
/// (their own and their groups', at its scope), every individual allow and
/// every directly attached permission set? This is the bar for acting *as*
/// the target (a personal API key for them) and for writes that could hand
/// the granter the target's account (an owner's email, userName, status):
/// whoever passes it gains nothing they could not already grant.
pub fn can_act_for(policy: &Policy, granter: &Subject, target: &Subject) -> Result<(), GrantError> {
    for binding in &target.bindings {
        can_grant_role(policy, granter, &binding.role, &binding.scope)?;
    }
    for o in &target.overrides {
        if o.grant == Grant::Allow {
            can_grant_permission(policy, granter, &o.permission, &o.scope)?;
        }
    }
    for set in &target.sets {
        if let Some(set) = policy.set(set.as_str()) {
            can_grant_set(policy, granter, set)?;
        }
    }
    Ok(())
}

/// May `granter` give someone the permissions of `set` (attach it to a user)?
/// Every step of the set must be held on the set's application.
pub fn can_grant_set(
    policy: &Policy,
    granter: &Subject,
    set: &PermissionSet,
) -> Result<(), GrantError> {
    let missing = steps_not_held(policy, granter, set)?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(GrantError::NotHeld {
            what: format!("permission set {}", set.name),
            missing,
        })
    }
}

/// May `granter` give access to the workspaces in `list` (out of `all`, the
/// org's workspaces)? Nobody grants access to a workspace they cannot see;
/// lifting a restriction altogether (`All`) needs sight of every workspace.
pub fn can_grant_workspaces(
    policy: &Policy,
    granter: &Subject,
    list: &WorkspaceList,
    all: &[WorkspaceId],
) -> Result<(), GrantError> {
    let seen = visible_workspaces(policy, granter, all)?;
    if seen.all {
        return Ok(());
    }
    match list {
        WorkspaceList::All => Err(GrantError::NotAllWorkspaces),
        WorkspaceList::Only(wanted) => {
            let hidden: Vec<WorkspaceId> = wanted
                .iter()
                .filter(|w| !seen.workspaces.contains(w))
                .cloned()
                .collect();
            if hidden.is_empty() {
                Ok(())
            } else {
                Err(GrantError::HiddenWorkspaces { hidden })
            }
        }
    }
}

/// The steps of `set` that `granter` does not hold on the set's application.
fn steps_not_held(
    policy: &Policy,
    granter: &Subject,
    set: &PermissionSet,
) -> Result<Vec<PermissionKey>, CheckError> {
    let application_type = ResourceType::parse(APPLICATION).expect("valid resource type");
    let on_application = BindingScope::resource(application_type, set.application.clone());
    let mut missing = Vec::new();
    for key in &set.permissions {
        if !holds_at(policy, granter, key, &on_application)?.allowed {
            missing.push(key.clone());
        }
    }
    Ok(missing)
}
