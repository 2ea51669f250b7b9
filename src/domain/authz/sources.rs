//! Where a user's org-level role comes from (SPEC §2 "Where a user's role
//! comes from"): one pure rule that the invite, SCIM and SSO paths all call,
//! so the same inputs always give the same role whichever path asked.
//!
//! Precedence, for `roles_managed_by = admin` (the default):
//! 1. an explicit `admin` / `invite` binding (mappings apply only to users
//!    without one);
//! 2. the highest-priority matching group mapping (ties: lowest mapping id),
//!    with the union of the workspaces of all matching mappings;
//! 3. the SCIM `roles` attribute (`scim_roles`);
//! 4. the org default role (`default`).
//!
//! For `roles_managed_by = idp`, mappings and the SCIM `roles` attribute
//! come first (the IdP is the authority), an explicit admin/invite binding
//! is kept only for users no mapping or SCIM role covers, then the default.
//! In that mode an admin edit of a mapped user's role is refused
//! ([`check_admin_role_edit`]).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::{MappingId, RoleId, WorkspaceId};
use super::role::VisibilityMode;
use super::subject::{BindingSource, WorkspaceAccess, WorkspaceList};

/// Org setting: who decides org-level roles.
pub use crate::domain::org::RolesManagedBy;

/// Where a group mapping's group comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingKind {
    /// A SCIM group of a directory.
    ScimGroup,
    /// A group claim or attribute value of an IdP connection.
    SsoClaim,
}

impl MappingKind {
    /// The binding source a mapping of this kind materialises as.
    pub fn source(self) -> BindingSource {
        match self {
            Self::ScimGroup => BindingSource::ScimGroup,
            Self::SsoClaim => BindingSource::SsoClaim,
        }
    }
}

/// A group-mapping record that matched the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMapping {
    pub id: MappingId,
    pub kind: MappingKind,
    /// The group key: SCIM group id / displayName, or the claim value.
    pub group: String,
    pub role: RoleId,
    #[serde(default)]
    pub workspaces: BTreeSet<WorkspaceId>,
    /// Higher wins.
    #[serde(default)]
    pub priority: i32,
}

/// The user's current org-level binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentBinding {
    pub role: RoleId,
    pub source: BindingSource,
}

/// A role named by the SCIM `roles` attribute that exists in the org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimRole {
    pub role: RoleId,
    #[serde(default)]
    pub primary: bool,
}

/// Everything [`resolve_org_role`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct RoleResolutionInput<'a> {
    pub roles_managed_by: RolesManagedBy,
    pub current: Option<&'a CurrentBinding>,
    /// Mappings whose group matches the user (any order).
    pub mappings: &'a [GroupMapping],
    /// Roles from the SCIM `roles` attribute that exist (any order).
    pub scim_roles: &'a [ScimRole],
    pub default_role: &'a RoleId,
}

/// What to do with the user's workspace list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "workspaces", rename_all = "snake_case")]
pub enum WorkspaceUpdate {
    LeaveUnchanged,
    /// Replace the list with these (the union of the matching mappings).
    Set(BTreeSet<WorkspaceId>),
}

/// The org-level role to materialise, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleResolution {
    pub role: RoleId,
    pub source: BindingSource,
    /// The mapping that gave the role, when one did.
    pub mapping: Option<MappingId>,
    pub workspaces: WorkspaceUpdate,
    /// Whether role or source differ from the current binding (audit it).
    pub changed: bool,
    pub reason: String,
}

/// Decides the user's org-level role. Pure and order-independent: the
/// order of `mappings` and `scim_roles` never matters.
pub fn resolve_org_role(input: RoleResolutionInput<'_>) -> RoleResolution {
    let explicit = input
        .current
        .filter(|c| matches!(c.source, BindingSource::Admin | BindingSource::Invite));
    let finish = |role: &RoleId,
                  source: BindingSource,
                  mapping: Option<MappingId>,
                  workspaces: WorkspaceUpdate,
                  reason: String| {
        let changed = input
            .current
            .is_none_or(|c| c.role != *role || c.source != source);
        RoleResolution {
            role: role.clone(),
            source,
            mapping,
            workspaces,
            changed,
            reason,
        }
    };
    let keep_explicit = |current: &CurrentBinding, why: &str| {
        finish(
            &current.role,
            current.source,
            None,
            WorkspaceUpdate::LeaveUnchanged,
            format!(
                "{why}: the explicit {} binding (role {}) stands",
                current.source.as_str(),
                current.role
            ),
        )
    };

    if input.roles_managed_by == RolesManagedBy::Admin
        && let Some(current) = explicit
    {
        return keep_explicit(current, "roles are managed by admins");
    }

    // Highest priority first; equal priorities: lowest mapping id.
    let best = input
        .mappings
        .iter()
        .min_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
    if let Some(best) = best {
        let union: BTreeSet<WorkspaceId> = input
            .mappings
            .iter()
            .flat_map(|m| m.workspaces.iter().cloned())
            .collect();
        let workspaces = if union.is_empty() {
            WorkspaceUpdate::LeaveUnchanged
        } else {
            WorkspaceUpdate::Set(union)
        };
        let mode = match input.roles_managed_by {
            RolesManagedBy::Admin => "the user has no explicit admin or invite binding",
            RolesManagedBy::Idp => "roles are managed by the identity provider",
        };
        let reason = format!(
            "{mode}: mapping {} (group {}, priority {}) gives role {}; {} matching mapping(s) give the workspaces",
            best.id,
            best.group,
            best.priority,
            best.role,
            input.mappings.len()
        );
        return finish(
            &best.role,
            best.kind.source(),
            Some(best.id.clone()),
            workspaces,
            reason,
        );
    }

    let scim_role = input
        .scim_roles
        .iter()
        .min_by(|a, b| b.primary.cmp(&a.primary).then_with(|| a.role.cmp(&b.role)));
    if let Some(scim_role) = scim_role {
        return finish(
            &scim_role.role,
            BindingSource::ScimRoles,
            None,
            WorkspaceUpdate::LeaveUnchanged,
            format!(
                "no group mapping matches; the SCIM roles attribute names role {}",
                scim_role.role
            ),
        );
    }

    if let Some(current) = explicit {
        return keep_explicit(current, "no group mapping or SCIM role covers the user");
    }

    finish(
        input.default_role,
        BindingSource::Default,
        None,
        WorkspaceUpdate::LeaveUnchanged,
        format!(
            "no explicit binding, group mapping or SCIM role: the org default role {} applies",
            input.default_role
        ),
    )
}

/// The workspace access that an SSO-default user's own pick on first login
/// produces (seed 003): for a role that sees every workspace (`yes`) the
/// pick only sets the home workspace and the list stays unrestricted; for
/// `optional` and `no` roles the pick becomes the user's restriction list.
/// The first picked workspace (in id order) is the home. Whether users may
/// pick at all is an org setting the caller checks.
pub fn workspace_pick(
    visibility: VisibilityMode,
    picked: &BTreeSet<WorkspaceId>,
) -> WorkspaceAccess {
    let home = picked.iter().next().cloned();
    let list = match visibility {
        VisibilityMode::Yes => WorkspaceList::All,
        VisibilityMode::Optional | VisibilityMode::No => WorkspaceList::Only(picked.clone()),
    };
    WorkspaceAccess { list, home }
}

/// A user's org-level binding that a group mapping produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedBinding {
    pub mapping: MappingId,
    pub group: String,
    pub kind: MappingKind,
}

/// An admin action refused because the IdP manages the role.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub struct Refusal {
    pub mapping: MappingId,
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// In `idp` mode an admin may not change the role of a user whose role a
/// group mapping gave; the refusal names the mapping. In `admin` mode the
/// edit is allowed (and becomes an explicit `admin` binding that wins).
pub fn check_admin_role_edit(
    roles_managed_by: RolesManagedBy,
    mapped: Option<&MappedBinding>,
) -> Result<(), Refusal> {
    match (roles_managed_by, mapped) {
        (RolesManagedBy::Idp, Some(mapped)) => {
            let what = match mapped.kind {
                MappingKind::ScimGroup => "SCIM group",
                MappingKind::SsoClaim => "SSO group claim",
            };
            Err(Refusal {
                mapping: mapped.mapping.clone(),
                message: format!(
                    "this user's role is managed by the identity provider through group mapping {} ({what} {}); change the mapping or the user's groups in the IdP instead",
                    mapped.mapping, mapped.group
                ),
            })
        }
        _ => Ok(()),
    }
}
