//! Where a user's org-level role comes from (SPEC §2), applied: the one path
//! that SCIM (and later SSO) call after a user, group or membership change.
//! For each affected user it gathers the matching group mappings of the
//! directory, the SCIM `roles` attribute and the current binding, asks the
//! engine's [`resolve_org_role`], and materialises the answer as the user's
//! org binding (and workspace list) — batched, so a PATCH adding 100 members
//! costs a fixed number of reads plus writes for the users that change.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::domain::authz::{
    self, BindingSource, CurrentBinding, GroupMapping, MappingKind, RoleId, RoleResolutionInput,
    ScimRole, WorkspaceAccess, WorkspaceList, WorkspaceUpdate, resolve_org_role,
};
use crate::domain::{DirectoryId, UserId, UserStatus};
use crate::error::AppError;
use crate::service::Ctx;
use crate::service::authz::OrgPolicy;
use crate::service::owners::is_last_owner;
use crate::store::orgs::Org;
use crate::store::users::User;
use crate::store::{self, DbConnection, audit};

/// Roles named by a SCIM `roles` attribute (Entra app roles) that exist in
/// the org, matched by key or name case-insensitively; plus the role the
/// rollcall extension names (stored only when the org lets the IdP manage
/// roles), as a primary one.
pub fn scim_roles(op: &OrgPolicy, scim: &Value) -> Vec<ScimRole> {
    let find = |name: &str| {
        let name = name.trim().to_lowercase();
        op.policy
            .roles()
            .find(|r| {
                r.binds_at == authz::ScopeKind::Org
                    && (r.key.as_str() == name || r.name.to_lowercase() == name)
            })
            .map(|r| r.id.clone())
    };
    let mut out: Vec<ScimRole> = scim
        .get("roles")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|entry| {
                    let name = entry
                        .get("value")
                        .or_else(|| entry.get("display"))
                        .and_then(Value::as_str)
                        .or_else(|| entry.as_str())?;
                    Some(ScimRole {
                        role: find(name)?,
                        primary: entry
                            .get("primary")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(role) = scim
        .get(crate::scim::urn::ROLLCALL_USER)
        .and_then(|e| e.get("role"))
        .and_then(Value::as_str)
        .and_then(find)
    {
        out.push(ScimRole {
            role,
            primary: true,
        });
    }
    out
}

/// The org's default role id, if the setting names an existing role.
/// Never an owner role: the settings refuse one, and a stored one (from
/// before that rule) is ignored rather than handed to every new user.
pub fn default_role(org: &Org, op: &OrgPolicy) -> Option<RoleId> {
    let key = org.settings.default_role.as_deref()?;
    op.policy
        .role_by_key(key)
        .filter(|r| !r.owner && r.binds_at == authz::ScopeKind::Org)
        .map(|r| r.id.clone())
}

/// Re-evaluate every live user of a directory (after its mappings changed).
pub fn reapply_directory(
    conn: &mut DbConnection,
    ctx: &Ctx,
    org: &Org,
    op: &OrgPolicy,
    directory: &str,
) -> Result<usize, AppError> {
    let directory: DirectoryId = directory
        .parse()
        .map_err(|_| AppError::not_found("SCIM directory", directory))?;
    let users = store::users::ids_in_directory(conn, &directory)?;
    let mut changed = 0;
    for chunk in users.chunks(500) {
        changed += reapply(conn, ctx, org, op, chunk, &directory)?;
    }
    Ok(changed)
}

/// Whether any mapping of the directory could match this group (by id or
/// displayName) — if none can, membership changes leave roles alone.
pub fn group_is_mapped(mappings: &[GroupMapping], group_id: &str, display_name: &str) -> bool {
    mappings.iter().any(|m| matches(m, group_id, display_name))
}

fn matches(m: &GroupMapping, group_id: &str, display_name: &str) -> bool {
    m.kind == MappingKind::ScimGroup
        && (m.group == group_id || m.group.eq_ignore_ascii_case(display_name))
}

/// The directory's SCIM-group mappings within its ceiling. A mapping is
/// checked against the ceiling when it is created; one the ceiling has since
/// narrowed below no longer applies.
pub fn directory_mappings(
    conn: &mut DbConnection,
    org: &Org,
    op: &OrgPolicy,
    directory: &DirectoryId,
) -> Result<Vec<GroupMapping>, AppError> {
    let mappings: Vec<GroupMapping> =
        store::mappings::for_source(conn, &org.id, directory.as_str())?
            .into_iter()
            .map(|m| m.mapping)
            .filter(|m| m.kind == MappingKind::ScimGroup)
            .collect();
    if mappings.is_empty() {
        return Ok(mappings);
    }
    let d = store::directories::by_id(conn, directory)?;
    Ok(mappings
        .into_iter()
        .filter(|m| {
            crate::service::directories::check_ceiling(op, &d, Some(&m.role), &m.workspaces).is_ok()
        })
        .collect())
}

/// Resolve and materialise the org-level role of `users` (all of this
/// directory). Returns how many users' role or workspaces changed.
pub fn reapply(
    conn: &mut DbConnection,
    ctx: &Ctx,
    org: &Org,
    op: &OrgPolicy,
    users: &[UserId],
    directory: &DirectoryId,
) -> Result<usize, AppError> {
    if users.is_empty() {
        return Ok(0);
    }
    let records = store::users::get_many(conn, &org.id, users)?;
    let mappings = directory_mappings(conn, org, op, directory)?;
    let mut groups_of: HashMap<String, Vec<(String, String)>> = HashMap::new();
    if !mappings.is_empty() {
        for (user, group, name) in store::groups::memberships_in_directory(conn, users, directory)?
        {
            groups_of.entry(user).or_default().push((group, name));
        }
    }
    let current = store::access::org_bindings_of(conn, users)?;
    let default = default_role(org, op);
    let mut changed = 0;
    let mut events = Vec::new();
    for user in records
        .iter()
        .filter(|u| u.status != UserStatus::Deprovisioned)
    {
        let matching: Vec<GroupMapping> = groups_of
            .get(user.id.as_str())
            .map(|groups| {
                mappings
                    .iter()
                    .filter(|m| groups.iter().any(|(id, name)| matches(m, id, name)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let stored = current.get(user.id.as_str());
        if apply_one(
            conn,
            ctx,
            org,
            op,
            user,
            stored,
            &matching,
            default.as_ref(),
            &mut events,
        )? {
            changed += 1;
        }
    }
    audit::insert(conn, &events)?;
    Ok(changed)
}

/// Resolve one user; write what changed. `events` collects the audit rows.
#[allow(clippy::too_many_arguments)]
pub fn apply_one(
    conn: &mut DbConnection,
    ctx: &Ctx,
    org: &Org,
    op: &OrgPolicy,
    user: &User,
    stored: Option<&store::access::StoredBinding>,
    matching: &[GroupMapping],
    default: Option<&RoleId>,
    events: &mut Vec<store::audit::NewAuditEvent>,
) -> Result<bool, AppError> {
    let current = stored.map(|b| CurrentBinding {
        role: b.binding.role.clone(),
        source: b.binding.source,
    });
    let scim_roles = scim_roles(op, &user.scim);
    // The role the engine falls back to: the org default, else whatever the
    // user already has or some source names. With none of these there is
    // nothing to decide.
    let Some(fallback) = default
        .cloned()
        .or_else(|| current.as_ref().map(|c| c.role.clone()))
        .or_else(|| scim_roles.first().map(|r| r.role.clone()))
        .or_else(|| matching.first().map(|m| m.role.clone()))
    else {
        return Ok(false);
    };
    let resolution = resolve_org_role(RoleResolutionInput {
        roles_managed_by: org.settings.roles_managed_by,
        current: current.as_ref(),
        mappings: matching,
        scim_roles: &scim_roles,
        default_role: &fallback,
    });
    let mut wrote = false;
    let role_changed = resolution.changed
        || stored.is_some_and(|b| b.mapping.as_ref() != resolution.mapping.as_ref())
        || stored.is_none();
    if role_changed {
        let was_owner = stored
            .and_then(|b| op.policy.role(b.binding.role.as_str()))
            .is_some_and(|r| r.owner);
        // A directory never changes an owner's role (SPEC §2: an owner's
        // rights are the owner's; the directory's ceiling holds no owner
        // role), and the last active owner keeps theirs whatever happens.
        let keeps = was_owner && stored.is_some_and(|b| b.binding.role != resolution.role);
        if keeps {
            let reason = if is_last_owner(conn, org, &user.id)? {
                "last active owner"
            } else {
                "a directory never changes an owner's role"
            };
            tracing::warn!(user = %user.id, reason, "kept an owner's role although the IdP would change it");
            events.push(ctx.event(
                Some(&org.id),
                "user.role_change_refused",
                "user",
                Some(user.id.to_string()),
                None,
                Some(serde_json::json!({"reason": reason, "would_be": resolution.reason})),
            ));
        } else {
            store::access::put_org_binding(
                conn,
                &org.id,
                &user.id,
                Some((
                    &resolution.role,
                    resolution.source,
                    resolution.mapping.as_ref(),
                )),
                ctx.now,
            )?;
            events.push(ctx.event(
                Some(&org.id),
                "user.role_changed",
                "user",
                Some(user.id.to_string()),
                stored.map(|b| {
                    serde_json::json!({
                        "role": op.policy.role(b.binding.role.as_str()).map(|r| r.key.as_str()),
                        "source": b.binding.source,
                    })
                }),
                Some(serde_json::json!({
                    "role": op.policy.role(resolution.role.as_str()).map(|r| r.key.as_str()),
                    "source": resolution.source,
                    "mapping": resolution.mapping,
                    "reason": resolution.reason,
                })),
            ));
            wrote = true;
        }
    }
    if let WorkspaceUpdate::Set(workspaces) = &resolution.workspaces {
        let before = store::access::workspace_access(conn, &user.id)?;
        let after = WorkspaceAccess {
            list: WorkspaceList::Only(workspaces.iter().cloned().collect::<BTreeSet<_>>()),
            home: before.home.clone(),
        };
        if after != before {
            store::access::put_workspace_access(conn, &user.id, &after)?;
            events.push(ctx.event(
                Some(&org.id),
                "user.workspaces_changed",
                "user",
                Some(user.id.to_string()),
                Some(serde_json::to_value(&before).unwrap_or_default()),
                Some(serde_json::to_value(&after).unwrap_or_default()),
            ));
            wrote = true;
        }
    }
    if wrote {
        store::access::refresh(conn, std::slice::from_ref(&user.id))?;
    }
    Ok(wrote)
}

/// Bind the org default (or a SCIM `roles` role) to a user the gateway just
/// created, where no mapping can apply yet.
pub fn initial_binding(op: &OrgPolicy, org: &Org, scim: &Value) -> Option<(RoleId, BindingSource)> {
    if let Some(r) = scim_roles(op, scim).into_iter().max_by_key(|r| r.primary) {
        return Some((r.role, BindingSource::ScimRoles));
    }
    default_role(org, op).map(|d| (d, BindingSource::Default))
}
