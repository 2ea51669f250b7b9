//! Where a user's org-level role comes from (SPEC §2), applied: the one path
//! that SCIM calls after a user, group or membership change and SSO calls
//! after a login ([`apply_login`]). For each affected user it gathers the
//! matching group mappings of *both* sources ([`matching_mappings`]: the
//! SCIM-group mappings of their directory against their memberships, and the
//! `sso_claim` mappings of each connection they signed in through against
//! the groups of that identity's last login), the SCIM `roles` attribute and
//! the current binding, asks the engine's [`resolve_org_role`], and
//! materialises the answer as the user's org binding (and workspace list) —
//! so a SCIM re-apply and an SSO login each see both sources and never undo
//! each other's result. Batched: a PATCH adding 100 members costs a fixed
//! number of reads plus writes for the users that change.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use diesel::RunQueryDsl;
use diesel::sql_types::{Array, Text};

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
use crate::store::{self, DbConnection, StoreError, audit};

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
    reapply_chunked(conn, ctx, org, op, &users)
}

/// Re-evaluate every user who signed in through an IdP connection (after
/// one of its `sso_claim` mappings changed).
pub fn reapply_connection(
    conn: &mut DbConnection,
    ctx: &Ctx,
    org: &Org,
    op: &OrgPolicy,
    connection_id: &str,
) -> Result<usize, AppError> {
    let users = store::identities::users_of_connection(conn, &org.id, connection_id)?;
    reapply_chunked(conn, ctx, org, op, &users)
}

fn reapply_chunked(
    conn: &mut DbConnection,
    ctx: &Ctx,
    org: &Org,
    op: &OrgPolicy,
    users: &[UserId],
) -> Result<usize, AppError> {
    let mut changed = 0;
    for chunk in users.chunks(500) {
        changed += reapply(conn, ctx, org, op, chunk)?;
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

/// Whether an `sso_claim` mapping matches a group the IdP sent: the claim
/// value exactly, case included. Claim values are opaque to rollcall (Entra
/// object ids, LDAP DNs, Keycloak paths, names): IdPs that treat `Admins` and
/// `admins` as two groups exist, so folding case could grant one group's role
/// to the other's members. (SCIM groups, which have both an id and a
/// displayName, keep matching the displayName case-insensitively.)
fn claim_matches(m: &GroupMapping, groups: &[String]) -> bool {
    m.kind == MappingKind::SsoClaim && groups.contains(&m.group)
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

/// The group mappings that match each of `users` (by user id), from both
/// sources (SPEC §2): the SCIM-group mappings of the user's directory that
/// match their memberships there, and the `sso_claim` mappings of every
/// connection they have an identity with that match the groups stored on
/// that identity at its last login. The one place both the SCIM path and
/// the SSO login path learn what applies, so neither can drop the other's
/// mappings. A fixed number of reads per directory plus two for SSO.
pub fn matching_mappings(
    conn: &mut DbConnection,
    org: &Org,
    op: &OrgPolicy,
    users: &[&User],
) -> Result<HashMap<String, Vec<GroupMapping>>, AppError> {
    let mut out: HashMap<String, Vec<GroupMapping>> = HashMap::new();
    if users.is_empty() {
        return Ok(out);
    }

    let mut by_directory: BTreeMap<&DirectoryId, Vec<UserId>> = BTreeMap::new();
    for user in users {
        if let Some(d) = &user.directory_id {
            by_directory.entry(d).or_default().push(user.id.clone());
        }
    }
    for (directory, members) in by_directory {
        let mappings = directory_mappings(conn, org, op, directory)?;
        if mappings.is_empty() {
            continue;
        }
        let mut groups_of: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (user, group, name) in
            store::groups::memberships_in_directory(conn, &members, directory)?
        {
            groups_of.entry(user).or_default().push((group, name));
        }
        for (user, groups) in groups_of {
            let matching: Vec<GroupMapping> = mappings
                .iter()
                .filter(|m| groups.iter().any(|(id, name)| matches(m, id, name)))
                .cloned()
                .collect();
            if !matching.is_empty() {
                out.entry(user).or_default().extend(matching);
            }
        }
    }

    let claim_mappings = store::mappings::of_kind(conn, &org.id, MappingKind::SsoClaim)?;
    if !claim_mappings.is_empty() {
        let ids: Vec<UserId> = users.iter().map(|u| u.id.clone()).collect();
        for identity in store::identities::groups_of_users(conn, &org.id, &ids)? {
            let matching = claim_mappings
                .iter()
                .filter(|m| {
                    m.source_id == identity.connection_id
                        && claim_matches(&m.mapping, &identity.groups)
                })
                .map(|m| m.mapping.clone());
            let entry = out.entry(identity.user_id).or_default();
            for m in matching {
                // Two identities of one connection may both carry the group.
                if !entry.iter().any(|e| e.id == m.id) {
                    entry.push(m);
                }
            }
        }
    }
    Ok(out)
}

/// Lock the users' rows until the surrounding transaction ends (PostgreSQL),
/// in id order. Each path writes its own source first (SCIM: memberships;
/// SSO: the identity's groups) and then locks before it reads both sources,
/// so of two concurrent re-evaluations of a user the second waits and then
/// reads the first one's source: the last binding written always reflects
/// both. On SQLite every write transaction already runs alone.
fn lock_users(conn: &mut DbConnection, users: &[UserId]) -> Result<(), AppError> {
    if let DbConnection::Pg(c) = conn {
        let mut ids: Vec<&str> = users.iter().map(UserId::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(500) {
            diesel::sql_query("SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind::<Array<Text>, _>(chunk.to_vec())
                .execute(c)
                .map_err(StoreError::from)?;
        }
    }
    Ok(())
}

/// Resolve and materialise the org-level role of `users` against every
/// source that applies to them ([`matching_mappings`]). Returns how many
/// users' role or workspaces changed.
pub fn reapply(
    conn: &mut DbConnection,
    ctx: &Ctx,
    org: &Org,
    op: &OrgPolicy,
    users: &[UserId],
) -> Result<usize, AppError> {
    if users.is_empty() {
        return Ok(0);
    }
    lock_users(conn, users)?;
    let records = store::users::get_many(conn, &org.id, users)?;
    let live: Vec<&User> = records
        .iter()
        .filter(|u| u.status != UserStatus::Deprovisioned)
        .collect();
    let matching = matching_mappings(conn, org, op, &live)?;
    let current = store::access::org_bindings_of(conn, users)?;
    let default = default_role(org, op);
    let mut changed = 0;
    let mut events = Vec::new();
    for user in live {
        let stored = current.get(user.id.as_str());
        let mappings = matching
            .get(user.id.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        if apply_one(
            conn,
            ctx,
            org,
            op,
            user,
            stored,
            mappings,
            default.as_ref(),
            &mut events,
        )? {
            changed += 1;
        }
    }
    audit::insert(conn, &events)?;
    Ok(changed)
}

/// Record the groups the IdP sent at this login and re-resolve the user's org role and workspaces against
/// both the SCIM group mappings (their directory memberships) and this connection's sso_claim mappings.
///
/// Called by the SSO login path after the provisioning decision, inside its
/// transaction. The groups replace those of the identity's previous login
/// (audited as `identity.groups_changed` when they differ); they are kept so
/// that a later SCIM change (or a new mapping) re-resolves against them too.
/// Returns whether the user's role or workspaces changed.
#[allow(clippy::too_many_arguments)]
pub fn apply_login(
    conn: &mut DbConnection,
    ctx: &Ctx,
    org: &Org,
    op: &OrgPolicy,
    user: &UserId,
    identity_id: &str,
    connection_id: &str,
    groups: &[String],
) -> Result<bool, AppError> {
    let identity = store::identities::get(conn, &org.id, identity_id).map_err(|e| match e {
        StoreError::NotFound => AppError::not_found("identity", identity_id),
        other => other.into(),
    })?;
    if identity.user_id != user.as_str() || identity.connection_id != connection_id {
        return Err(AppError::Internal(format!(
            "identity {identity_id} is not user {user}'s identity of connection {connection_id}"
        )));
    }
    let groups: Vec<String> = groups
        .iter()
        .filter(|g| !g.is_empty())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let before = store::identities::groups(conn, identity_id)?;
    if before != groups {
        store::identities::set_groups(conn, identity_id, &groups)?;
        audit::insert(
            conn,
            &[ctx.event(
                Some(&org.id),
                "identity.groups_changed",
                "user",
                Some(user.to_string()),
                Some(serde_json::json!({"identity": identity_id, "connection": connection_id, "groups": before})),
                Some(serde_json::json!({"identity": identity_id, "connection": connection_id, "groups": groups})),
            )],
        )?;
    }
    // Re-resolved at every login even with the same groups: a change of
    // `roles_managed_by` (which re-resolves nobody) takes effect here.
    Ok(reapply(conn, ctx, org, op, std::slice::from_ref(user))? > 0)
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
        // Neither a directory nor an IdP login changes an owner's role
        // (SPEC §2: an owner's rights are the owner's; the directory's
        // ceiling holds no owner role), and the last active owner keeps
        // theirs whatever happens.
        let keeps = was_owner && stored.is_some_and(|b| b.binding.role != resolution.role);
        if keeps {
            let reason = if is_last_owner(conn, org, &user.id)? {
                "last active owner"
            } else {
                "the IdP never changes an owner's role"
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::authz::MappingId;

    fn mapping(kind: MappingKind, group: &str) -> GroupMapping {
        GroupMapping {
            id: MappingId::new("m1"),
            kind,
            group: group.to_owned(),
            role: RoleId::new("r1"),
            workspaces: BTreeSet::new(),
            priority: 0,
        }
    }

    #[test]
    fn claim_values_match_exactly() {
        let m = mapping(MappingKind::SsoClaim, "Admins");
        assert!(claim_matches(&m, &["x".into(), "Admins".into()]));
        assert!(!claim_matches(&m, &["admins".into()]));
        assert!(!claim_matches(&m, &[" Admins".into()]));
        assert!(!claim_matches(&m, &[]));
        // A SCIM-group mapping never matches a claim, nor the other way round.
        let scim = mapping(MappingKind::ScimGroup, "Admins");
        assert!(!claim_matches(&scim, &["Admins".into()]));
        assert!(!matches(&m, "Admins", "Admins"));
    }

    #[test]
    fn scim_groups_match_by_id_or_display_name_ignoring_case() {
        let m = mapping(MappingKind::ScimGroup, "Engineering");
        assert!(matches(&m, "Engineering", "other"));
        assert!(matches(&m, "g1", "engineering"));
        assert!(!matches(&m, "engineering", "other"), "ids match exactly");
    }
}
