//! Who holds what: role bindings (user or group × role × scope, with their
//! source), individual overrides, directly attached permission sets, and
//! per-user workspace access.
//!
//! These rows are the truth. `users.access` holds a snapshot derived from
//! them ([`AccessSnapshot`]: the user's own and group bindings, overrides,
//! sets, workspaces) so that a permission check is one indexed read
//! ([`subject`]). Every function here that changes a row refreshes the
//! snapshots it affects before returning, inside the caller's transaction.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::policy::{grant_text, parse_grant};
use super::schema::{
    bindings, group_members, roles, user_overrides, user_permission_sets, user_workspaces, users,
};
use super::{DbConnection, StoreError};
use crate::domain::authz::{
    Binding, BindingId, BindingScope, BindingSource, GroupId as AzGroupId, IndividualOverride,
    MappingId, OverrideId, PermissionKey, Principal, ResourceId, ResourceType, RoleId, SetId,
    Subject, UserId as AzUserId, WorkspaceAccess, WorkspaceId as AzWorkspaceId, WorkspaceList,
};
use crate::domain::{GroupId, OrgId, UserId, UserStatus};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub fn parse_source(s: &str) -> Result<BindingSource, StoreError> {
    Ok(match s {
        "admin" => BindingSource::Admin,
        "invite" => BindingSource::Invite,
        "scim_group" => BindingSource::ScimGroup,
        "scim_roles" => BindingSource::ScimRoles,
        "sso_claim" => BindingSource::SsoClaim,
        "default" => BindingSource::Default,
        other => return Err(corrupt(format!("binding source `{other}`"))),
    })
}

/// The scope columns of a binding or override row.
struct ScopeColumns {
    kind: &'static str,
    workspace: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
}

fn scope_columns(scope: &BindingScope) -> ScopeColumns {
    match scope {
        BindingScope::Org => ScopeColumns {
            kind: "org",
            workspace: None,
            resource_type: None,
            resource_id: None,
        },
        BindingScope::Workspace { workspace } => ScopeColumns {
            kind: "workspace",
            workspace: Some(workspace.as_str().to_owned()),
            resource_type: None,
            resource_id: None,
        },
        BindingScope::Resource { resource_type, id } => ScopeColumns {
            kind: "resource",
            workspace: None,
            resource_type: Some(resource_type.as_str().to_owned()),
            resource_id: Some(id.as_str().to_owned()),
        },
    }
}

fn scope_from(
    kind: &str,
    workspace: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
) -> Result<BindingScope, StoreError> {
    match (kind, workspace, resource_type, resource_id) {
        ("org", _, _, _) => Ok(BindingScope::Org),
        ("workspace", Some(w), _, _) => Ok(BindingScope::workspace(AzWorkspaceId::new(w))),
        ("resource", _, Some(t), Some(id)) => Ok(BindingScope::resource(
            ResourceType::parse(&t).map_err(corrupt)?,
            ResourceId::new(id),
        )),
        (k, ..) => Err(corrupt(format!("scope `{k}` with missing columns"))),
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = bindings)]
struct BindingRow {
    id: String,
    user_id: Option<String>,
    group_id: Option<String>,
    role_id: String,
    scope_kind: String,
    workspace_id: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    source: String,
    mapping_id: Option<String>,
    created_at: NaiveDateTime,
}

/// A binding as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBinding {
    pub binding: Binding,
    pub mapping: Option<MappingId>,
    pub created_at: NaiveDateTime,
}

impl TryFrom<BindingRow> for StoredBinding {
    type Error = StoreError;
    fn try_from(r: BindingRow) -> Result<Self, StoreError> {
        let principal = match (r.user_id, r.group_id) {
            (Some(u), _) => Principal::User(AzUserId::new(u)),
            (None, Some(g)) => Principal::Group(AzGroupId::new(g)),
            (None, None) => return Err(corrupt("binding without subject")),
        };
        Ok(StoredBinding {
            binding: Binding {
                id: BindingId::new(r.id),
                principal,
                role: RoleId::new(r.role_id),
                scope: scope_from(
                    &r.scope_kind,
                    r.workspace_id,
                    r.resource_type,
                    r.resource_id,
                )?,
                source: parse_source(&r.source)?,
            },
            mapping: r.mapping_id.map(MappingId::new),
            created_at: r.created_at,
        })
    }
}

/// Who a new binding is for.
#[derive(Debug, Clone)]
pub enum Holder<'a> {
    User(&'a UserId),
    Group(&'a GroupId),
}

pub struct NewBinding<'a> {
    pub holder: Holder<'a>,
    pub role: &'a RoleId,
    pub scope: &'a BindingScope,
    pub source: BindingSource,
    pub mapping: Option<&'a MappingId>,
}

/// Insert a binding and refresh the snapshots of everyone it reaches.
pub fn insert_binding(
    conn: &mut DbConnection,
    org: &OrgId,
    b: NewBinding<'_>,
    now: NaiveDateTime,
) -> Result<BindingId, StoreError> {
    let id = BindingId::new(uuid::Uuid::now_v7().to_string());
    let cols = scope_columns(b.scope);
    let (user, group) = match &b.holder {
        Holder::User(u) => (Some(u.as_str()), None),
        Holder::Group(g) => (None, Some(g.as_str())),
    };
    diesel::insert_into(bindings::table)
        .values((
            bindings::id.eq(id.as_str()),
            bindings::org_id.eq(org.as_str()),
            bindings::user_id.eq(user),
            bindings::group_id.eq(group),
            bindings::role_id.eq(b.role.as_str()),
            bindings::scope_kind.eq(cols.kind),
            bindings::workspace_id.eq(cols.workspace),
            bindings::resource_type.eq(cols.resource_type),
            bindings::resource_id.eq(cols.resource_id),
            bindings::source.eq(b.source.as_str()),
            bindings::mapping_id.eq(b.mapping.map(MappingId::as_str)),
            bindings::created_at.eq(now),
        ))
        .execute(conn)?;
    refresh_holder(conn, &b.holder)?;
    Ok(id)
}

fn refresh_holder(conn: &mut DbConnection, holder: &Holder<'_>) -> Result<(), StoreError> {
    match holder {
        Holder::User(u) => refresh(conn, std::slice::from_ref(*u)),
        Holder::Group(g) => {
            let members = super::groups::member_ids(conn, g)?;
            refresh(conn, &members)
        }
    }
}

/// Whether a group has any bindings (membership changes then matter to access).
pub fn group_has_bindings(conn: &mut DbConnection, group: &GroupId) -> Result<bool, StoreError> {
    Ok(bindings::table
        .filter(bindings::group_id.eq(group.as_str()))
        .select(bindings::id)
        .first::<String>(conn)
        .optional()?
        .is_some())
}

pub fn get_binding(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &str,
) -> Result<StoredBinding, StoreError> {
    bindings::table
        .filter(bindings::org_id.eq(org.as_str()))
        .filter(bindings::id.eq(id))
        .select(BindingRow::as_select())
        .first(conn)?
        .try_into()
}

/// Delete a binding and refresh whoever it reached.
pub fn delete_binding(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &str,
) -> Result<StoredBinding, StoreError> {
    let b = get_binding(conn, org, id)?;
    diesel::delete(bindings::table.filter(bindings::id.eq(id))).execute(conn)?;
    match &b.binding.principal {
        Principal::User(u) => refresh(conn, &[UserId::from_trusted(u.as_str().to_owned())])?,
        Principal::Group(g) => {
            let g = GroupId::from_trusted(g.as_str().to_owned());
            let members = super::groups::member_ids(conn, &g)?;
            refresh(conn, &members)?;
        }
    }
    Ok(b)
}

/// The user's own org-level binding (at most one).
pub fn org_binding(
    conn: &mut DbConnection,
    user: &UserId,
) -> Result<Option<StoredBinding>, StoreError> {
    bindings::table
        .filter(bindings::user_id.eq(user.as_str()))
        .filter(bindings::scope_kind.eq("org"))
        .select(BindingRow::as_select())
        .first(conn)
        .optional()?
        .map(StoredBinding::try_from)
        .transpose()
}

/// Org-level bindings of many users at once: user id → binding.
pub fn org_bindings_of(
    conn: &mut DbConnection,
    users: &[UserId],
) -> Result<std::collections::HashMap<String, StoredBinding>, StoreError> {
    let ids: Vec<&str> = users.iter().map(UserId::as_str).collect();
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        for row in bindings::table
            .filter(bindings::user_id.eq_any(chunk))
            .filter(bindings::scope_kind.eq("org"))
            .select(BindingRow::as_select())
            .load(conn)?
        {
            let user = row.user_id.clone().unwrap_or_default();
            out.insert(user, StoredBinding::try_from(row)?);
        }
    }
    Ok(out)
}

/// Replace the user's org-level role (or remove it with `None`). Returns the
/// previous binding. Does not refresh: callers changing many users refresh once.
pub fn put_org_binding(
    conn: &mut DbConnection,
    org: &OrgId,
    user: &UserId,
    role: Option<(&RoleId, BindingSource, Option<&MappingId>)>,
    now: NaiveDateTime,
) -> Result<Option<StoredBinding>, StoreError> {
    let previous = org_binding(conn, user)?;
    match role {
        None => {
            diesel::delete(
                bindings::table
                    .filter(bindings::user_id.eq(user.as_str()))
                    .filter(bindings::scope_kind.eq("org")),
            )
            .execute(conn)?;
        }
        Some((role, source, mapping)) => upsert_org_binding(
            conn,
            &uuid::Uuid::now_v7().to_string(),
            org,
            user,
            role,
            source,
            mapping,
            now,
        )?,
    }
    Ok(previous)
}

/// One user's org-level binding, inserted or replaced in one statement
/// (`bindings_user_org_key` is the conflict target), so concurrent writers
/// of the same user's role never collide: the last one wins.
#[allow(clippy::too_many_arguments)]
fn upsert_org_binding(
    conn: &mut DbConnection,
    id: &str,
    org: &OrgId,
    user: &UserId,
    role: &RoleId,
    source: BindingSource,
    mapping: Option<&MappingId>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    use diesel::sql_types::{Nullable, Text, Timestamp};
    const TAIL: &str = "ON CONFLICT (user_id) WHERE scope_kind = 'org' AND user_id IS NOT NULL \
         DO UPDATE SET role_id = excluded.role_id, source = excluded.source, \
         mapping_id = excluded.mapping_id, created_at = excluded.created_at";
    let head = match conn {
        DbConnection::Pg(_) => {
            "INSERT INTO bindings (id, org_id, user_id, role_id, scope_kind, source, mapping_id, created_at) \
             VALUES ($1, $2, $3, $4, 'org', $5, $6, $7) "
        }
        DbConnection::Sqlite(_) => {
            "INSERT INTO bindings (id, org_id, user_id, role_id, scope_kind, source, mapping_id, created_at) \
             VALUES (?, ?, ?, ?, 'org', ?, ?, ?) "
        }
    };
    let sql = format!("{head}{TAIL}");
    crate::on_backend!(conn, |c| diesel::sql_query(&sql)
        .bind::<Text, _>(id)
        .bind::<Text, _>(org.as_str())
        .bind::<Text, _>(user.as_str())
        .bind::<Text, _>(role.as_str())
        .bind::<Text, _>(source.as_str())
        .bind::<Nullable<Text>, _>(mapping.map(MappingId::as_str))
        .bind::<Timestamp, _>(now)
        .execute(c))?;
    Ok(())
}

/// Write the row of an org-level binding the caller already put in the
/// user's snapshot (the SCIM create fast path; no refresh).
pub fn insert_org_binding_row(
    conn: &mut DbConnection,
    org: &OrgId,
    user: &UserId,
    b: &Binding,
    mapping: Option<&MappingId>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(bindings::table)
        .values((
            bindings::id.eq(b.id.as_str()),
            bindings::org_id.eq(org.as_str()),
            bindings::user_id.eq(user.as_str()),
            bindings::role_id.eq(b.role.as_str()),
            bindings::scope_kind.eq("org"),
            bindings::source.eq(b.source.as_str()),
            bindings::mapping_id.eq(mapping.map(MappingId::as_str)),
            bindings::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Org-scoped bindings of several users (one each), in multi-row INSERTs.
pub fn insert_org_binding_rows(
    conn: &mut DbConnection,
    org: &OrgId,
    items: &[(&UserId, &Binding)],
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let rows: Vec<_> = items
        .iter()
        .map(|(user, b)| {
            (
                bindings::id.eq(b.id.as_str()),
                bindings::org_id.eq(org.as_str()),
                bindings::user_id.eq(user.as_str()),
                bindings::role_id.eq(b.role.as_str()),
                bindings::scope_kind.eq("org"),
                bindings::source.eq(b.source.as_str()),
                bindings::mapping_id.eq(None::<&str>),
                bindings::created_at.eq(now),
            )
        })
        .collect();
    for chunk in rows.chunks(500) {
        crate::on_backend!(conn, |c| diesel::insert_into(bindings::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// Bindings held by the user directly (not through groups).
pub fn user_bindings(
    conn: &mut DbConnection,
    user: &UserId,
) -> Result<Vec<StoredBinding>, StoreError> {
    bindings::table
        .filter(bindings::user_id.eq(user.as_str()))
        .order((bindings::created_at, bindings::id))
        .select(BindingRow::as_select())
        .load(conn)?
        .into_iter()
        .map(StoredBinding::try_from)
        .collect()
}

/// Bindings that reach the user: their own and their groups'.
fn reaching_bindings(
    conn: &mut DbConnection,
    user: &UserId,
) -> Result<Vec<StoredBinding>, StoreError> {
    let groups = group_members::table
        .filter(group_members::user_id.eq(user.as_str()))
        .select(group_members::group_id.nullable());
    bindings::table
        .filter(
            bindings::user_id
                .eq(user.as_str())
                .or(bindings::group_id.eq_any(groups)),
        )
        .order((bindings::created_at, bindings::id))
        .select(BindingRow::as_select())
        .load(conn)?
        .into_iter()
        .map(StoredBinding::try_from)
        .collect()
}

// ------------------------------------------------------------ overrides

#[derive(Queryable, Selectable)]
#[diesel(table_name = user_overrides)]
struct OverrideRow {
    id: String,
    permission: String,
    effect: String,
    scope_kind: String,
    workspace_id: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
}

impl TryFrom<OverrideRow> for IndividualOverride {
    type Error = StoreError;
    fn try_from(r: OverrideRow) -> Result<Self, StoreError> {
        Ok(IndividualOverride {
            id: OverrideId::new(r.id),
            permission: PermissionKey::parse(&r.permission).map_err(corrupt)?,
            grant: parse_grant(&r.effect)?,
            scope: scope_from(
                &r.scope_kind,
                r.workspace_id,
                r.resource_type,
                r.resource_id,
            )?,
        })
    }
}

pub fn overrides(
    conn: &mut DbConnection,
    user: &UserId,
) -> Result<Vec<IndividualOverride>, StoreError> {
    user_overrides::table
        .filter(user_overrides::user_id.eq(user.as_str()))
        .order((user_overrides::created_at, user_overrides::id))
        .select(OverrideRow::as_select())
        .load(conn)?
        .into_iter()
        .map(IndividualOverride::try_from)
        .collect()
}

pub fn insert_override(
    conn: &mut DbConnection,
    org: &OrgId,
    user: &UserId,
    o: &IndividualOverride,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let cols = scope_columns(&o.scope);
    diesel::insert_into(user_overrides::table)
        .values((
            user_overrides::id.eq(o.id.as_str()),
            user_overrides::org_id.eq(org.as_str()),
            user_overrides::user_id.eq(user.as_str()),
            user_overrides::permission.eq(o.permission.as_str()),
            user_overrides::effect.eq(grant_text(o.grant)),
            user_overrides::scope_kind.eq(cols.kind),
            user_overrides::workspace_id.eq(cols.workspace),
            user_overrides::resource_type.eq(cols.resource_type),
            user_overrides::resource_id.eq(cols.resource_id),
            user_overrides::created_at.eq(now),
        ))
        .execute(conn)?;
    refresh(conn, std::slice::from_ref(user))
}

pub fn delete_override(
    conn: &mut DbConnection,
    user: &UserId,
    id: &str,
) -> Result<IndividualOverride, StoreError> {
    let row: IndividualOverride = user_overrides::table
        .filter(user_overrides::user_id.eq(user.as_str()))
        .filter(user_overrides::id.eq(id))
        .select(OverrideRow::as_select())
        .first(conn)?
        .try_into()?;
    diesel::delete(user_overrides::table.filter(user_overrides::id.eq(id))).execute(conn)?;
    refresh(conn, std::slice::from_ref(user))?;
    Ok(row)
}

// ------------------------------------------------------------ permission sets on users

pub fn user_sets(conn: &mut DbConnection, user: &UserId) -> Result<Vec<SetId>, StoreError> {
    Ok(user_permission_sets::table
        .filter(user_permission_sets::user_id.eq(user.as_str()))
        .order(user_permission_sets::set_id)
        .select(user_permission_sets::set_id)
        .load::<String>(conn)?
        .into_iter()
        .map(SetId::new)
        .collect())
}

/// Attach (`true`) or detach a set; idempotent.
pub fn put_user_set(
    conn: &mut DbConnection,
    user: &UserId,
    set: &SetId,
    attached: bool,
) -> Result<(), StoreError> {
    diesel::delete(
        user_permission_sets::table
            .filter(user_permission_sets::user_id.eq(user.as_str()))
            .filter(user_permission_sets::set_id.eq(set.as_str())),
    )
    .execute(conn)?;
    if attached {
        diesel::insert_into(user_permission_sets::table)
            .values((
                user_permission_sets::user_id.eq(user.as_str()),
                user_permission_sets::set_id.eq(set.as_str()),
            ))
            .execute(conn)?;
    }
    refresh(conn, std::slice::from_ref(user))
}

/// Users a set is attached to directly.
pub fn set_users(conn: &mut DbConnection, set: &SetId) -> Result<Vec<UserId>, StoreError> {
    Ok(user_permission_sets::table
        .filter(user_permission_sets::set_id.eq(set.as_str()))
        .select(user_permission_sets::user_id)
        .load::<String>(conn)?
        .into_iter()
        .map(UserId::from_trusted)
        .collect())
}

// ------------------------------------------------------------ workspace access

pub fn workspace_access(
    conn: &mut DbConnection,
    user: &UserId,
) -> Result<WorkspaceAccess, StoreError> {
    let (restricted, home): (bool, Option<String>) = users::table
        .find(user.as_str())
        .select((users::workspaces_restricted, users::home_workspace_id))
        .first(conn)?;
    let list = if restricted {
        WorkspaceList::Only(
            user_workspaces::table
                .filter(user_workspaces::user_id.eq(user.as_str()))
                .select(user_workspaces::workspace_id)
                .load::<String>(conn)?
                .into_iter()
                .map(AzWorkspaceId::new)
                .collect(),
        )
    } else {
        WorkspaceList::All
    };
    Ok(WorkspaceAccess {
        list,
        home: home.map(AzWorkspaceId::new),
    })
}

/// Replace the user's workspace list and home workspace.
pub fn put_workspace_access(
    conn: &mut DbConnection,
    user: &UserId,
    access: &WorkspaceAccess,
) -> Result<(), StoreError> {
    diesel::delete(user_workspaces::table.filter(user_workspaces::user_id.eq(user.as_str())))
        .execute(conn)?;
    let restricted = match &access.list {
        WorkspaceList::All => false,
        WorkspaceList::Only(set) => {
            let rows: Vec<_> = set
                .iter()
                .map(|w| {
                    (
                        user_workspaces::user_id.eq(user.as_str()),
                        user_workspaces::workspace_id.eq(w.as_str()),
                    )
                })
                .collect();
            if !rows.is_empty() {
                crate::on_backend!(conn, |c| diesel::insert_into(user_workspaces::table)
                    .values(&rows)
                    .execute(c))?;
            }
            true
        }
    };
    diesel::update(users::table.find(user.as_str()))
        .set((
            users::workspaces_restricted.eq(restricted),
            users::home_workspace_id.eq(access.home.as_ref().map(AzWorkspaceId::as_str)),
        ))
        .execute(conn)?;
    refresh(conn, std::slice::from_ref(user))
}

// ------------------------------------------------------------ the snapshot

/// What `users.access` holds: everything but the status the engine needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessSnapshot {
    #[serde(default)]
    pub bindings: Vec<Binding>,
    #[serde(default)]
    pub sets: Vec<SetId>,
    #[serde(default)]
    pub overrides: Vec<IndividualOverride>,
    #[serde(default)]
    pub workspaces: WorkspaceAccess,
}

impl AccessSnapshot {
    pub fn into_subject(self, status: UserStatus) -> Subject {
        Subject {
            status,
            bindings: self.bindings,
            sets: self.sets,
            overrides: self.overrides,
            workspaces: self.workspaces,
        }
    }
}

/// Recompute the snapshot of each user from the rows.
pub fn refresh(conn: &mut DbConnection, users_to_refresh: &[UserId]) -> Result<(), StoreError> {
    let mut seen = BTreeSet::new();
    for user in users_to_refresh {
        if !seen.insert(user.as_str()) {
            continue;
        }
        let snapshot = AccessSnapshot {
            bindings: reaching_bindings(conn, user)?
                .into_iter()
                .map(|b| b.binding)
                .collect(),
            sets: user_sets(conn, user)?,
            overrides: overrides(conn, user)?,
            workspaces: workspace_access(conn, user)?,
        };
        write_snapshot(conn, user, &snapshot)?;
    }
    Ok(())
}

/// Store a snapshot the caller built itself (the SCIM fast path, which knows
/// the user's whole access state because it just created it).
pub fn write_snapshot(
    conn: &mut DbConnection,
    user: &UserId,
    snapshot: &AccessSnapshot,
) -> Result<(), StoreError> {
    diesel::update(users::table.find(user.as_str()))
        .set(users::access.eq(serde_json::to_string(snapshot)?))
        .execute(conn)?;
    Ok(())
}

/// The engine's view of one user: one indexed read.
pub fn subject(conn: &mut DbConnection, org: &OrgId, user: &UserId) -> Result<Subject, StoreError> {
    let (status, access): (String, String) = users::table
        .filter(users::id.eq(user.as_str()))
        .filter(users::org_id.eq(org.as_str()))
        .select((users::status, users::access))
        .first(conn)?;
    let status: UserStatus = status.parse().map_err(corrupt)?;
    let snapshot: AccessSnapshot = serde_json::from_str(&access)?;
    Ok(snapshot.into_subject(status))
}

/// Whether the user's own org-level binding is to an owner role.
pub fn holds_owner_role(conn: &mut DbConnection, user: &UserId) -> Result<bool, StoreError> {
    Ok(bindings::table
        .inner_join(roles::table)
        .filter(bindings::user_id.eq(user.as_str()))
        .filter(bindings::scope_kind.eq("org"))
        .filter(roles::owner.eq(true))
        .select(bindings::id)
        .first::<String>(conn)
        .optional()?
        .is_some())
}

/// Active users whose own org-level binding is to an owner role. Driven
/// from the org's (few) owner roles through `bindings_role_idx`.
pub fn active_owners(conn: &mut DbConnection, org: &OrgId) -> Result<Vec<UserId>, StoreError> {
    let owner_roles = roles::table
        .filter(roles::org_id.eq(org.as_str()))
        .filter(roles::owner.eq(true))
        .select(roles::id);
    Ok(bindings::table
        .inner_join(users::table.on(users::id.nullable().eq(bindings::user_id)))
        .filter(bindings::role_id.eq_any(owner_roles))
        .filter(bindings::scope_kind.eq("org"))
        .filter(users::status.eq(UserStatus::Active.as_str()))
        .select(users::id)
        .load::<String>(conn)?
        .into_iter()
        .map(UserId::from_trusted)
        .collect())
}
