//! An org's permission records (SPEC §2): the catalogue, roles with their
//! grants (rows; a missing row is "not granted" / "use default"), permission
//! sets, and the org's default permissions. [`load`] reads them all back for
//! the engine's [`Policy`]; every write here must be followed by
//! `orgs::bump_policy_version` in the same transaction (callers do it once).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{
    bindings, group_mappings, org_default_permissions, permission_set_items, permission_sets,
    permissions, role_grants, role_permission_sets, roles,
};
use super::{DbConnection, StoreError};
use crate::domain::OrgId;
use crate::domain::authz::{
    Grant, ItemType, OrgDefaults, PermissionDef, PermissionKey, PermissionKind, PermissionSet,
    Policy, PolicyError, Preset, ResourceId, Role, RoleId, RoleKey, SetId, VisibilityMode,
    WorkspaceId,
};

/// The records of one org, as the engine takes them.
pub struct PolicyRecords {
    pub catalogue: Vec<PermissionDef>,
    pub roles: Vec<Role>,
    pub sets: Vec<PermissionSet>,
    pub defaults: OrgDefaults,
    /// The org's item types (seed 004), which roles may name.
    pub item_types: Vec<ItemType>,
    /// Every workspace of the org with its parent (the workspace tree).
    pub workspaces: Vec<(WorkspaceId, Option<WorkspaceId>)>,
}

impl PolicyRecords {
    /// Validate and compile a copy (the service checks an edit with this
    /// before writing it).
    pub fn build(&self) -> Result<Policy, PolicyError> {
        Policy::new(
            self.catalogue.clone(),
            self.roles.clone(),
            self.sets.clone(),
            self.defaults.clone(),
        )?
        .with_workspaces(self.workspaces.iter().map(|(w, p)| (w, p.as_ref())))?
        .with_item_types(self.item_types.clone())
    }

    pub fn compile(self) -> Result<Policy, StoreError> {
        self.build()
            .map_err(|e| StoreError::Corrupt(format!("stored policy does not compile: {e}")))
    }
}

pub fn grant_text(g: Grant) -> &'static str {
    match g {
        Grant::Allow => "allow",
        Grant::Deny => "deny",
    }
}

pub fn parse_grant(s: &str) -> Result<Grant, StoreError> {
    match s {
        "allow" => Ok(Grant::Allow),
        "deny" => Ok(Grant::Deny),
        other => Err(StoreError::Corrupt(format!("grant `{other}`"))),
    }
}

fn visibility_text(v: VisibilityMode) -> &'static str {
    match v {
        VisibilityMode::Yes => "yes",
        VisibilityMode::No => "no",
        VisibilityMode::Optional => "optional",
    }
}

fn parse_visibility(s: &str) -> Result<VisibilityMode, StoreError> {
    match s {
        "yes" => Ok(VisibilityMode::Yes),
        "no" => Ok(VisibilityMode::No),
        "optional" => Ok(VisibilityMode::Optional),
        other => Err(StoreError::Corrupt(format!("visibility `{other}`"))),
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Seed a new org with a preset: catalogue, roles (fresh ids), sets, defaults.
/// Returns the stored id of the preset's default role.
pub fn seed(
    conn: &mut DbConnection,
    org: &OrgId,
    preset: &Preset,
    now: NaiveDateTime,
) -> Result<RoleId, StoreError> {
    let catalogue: Vec<_> = preset
        .catalogue
        .iter()
        .enumerate()
        .map(|(i, def)| {
            Ok((
                permissions::org_id.eq(org.as_str()),
                permissions::key.eq(def.key.as_str().to_owned()),
                permissions::position.eq(i as i32),
                permissions::definition.eq(serde_json::to_string(def)?),
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    for chunk in catalogue.chunks(200) {
        crate::on_backend!(conn, |c| diesel::insert_into(permissions::table)
            .values(chunk)
            .execute(c))?;
    }
    let mut set_ids = HashMap::new();
    for set in &preset.sets {
        let stored = PermissionSet {
            id: SetId::new(uuid::Uuid::now_v7().to_string()),
            ..set.clone()
        };
        insert_set(conn, org, &stored, now)?;
        set_ids.insert(set.id.clone(), stored.id);
    }
    let mut role_ids = HashMap::new();
    for role in &preset.roles {
        let stored = Role {
            id: RoleId::new(uuid::Uuid::now_v7().to_string()),
            permission_sets: role
                .permission_sets
                .iter()
                .map(|s| {
                    set_ids
                        .get(s)
                        .cloned()
                        .ok_or_else(|| corrupt(format!("preset set {s}")))
                })
                .collect::<Result<_, _>>()?,
            ..role.clone()
        };
        insert_role(conn, org, &stored, now)?;
        role_ids.insert(role.id.clone(), stored.id);
    }
    set_defaults(conn, org, &preset.defaults)?;
    role_ids
        .remove(&preset.default_role)
        .ok_or_else(|| corrupt("preset default role"))
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = roles)]
struct RoleRow {
    id: String,
    key: String,
    name: String,
    description: String,
    builtin: bool,
    binds_at: String,
    visibility: String,
    anonymized: bool,
    owner: bool,
    attributes: String,
    inherits_to_children: bool,
    item_restrictions: String,
}

/// Insert a role with its grants and attached sets.
pub fn insert_role(
    conn: &mut DbConnection,
    org: &OrgId,
    role: &Role,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(roles::table)
        .values((
            roles::id.eq(role.id.as_str()),
            roles::org_id.eq(org.as_str()),
            roles::key.eq(role.key.as_str()),
            roles::name.eq(&role.name),
            roles::description.eq(&role.description),
            roles::builtin.eq(role.builtin),
            roles::binds_at.eq(role.binds_at.to_string()),
            roles::visibility.eq(visibility_text(role.visibility)),
            roles::anonymized.eq(role.anonymized),
            roles::owner.eq(role.owner),
            roles::attributes.eq(serde_json::to_string(&role.attributes)?),
            roles::inherits_to_children.eq(role.inherits_to_children),
            roles::item_restrictions.eq(serde_json::to_string(&role.items)?),
            roles::created_at.eq(now),
            roles::updated_at.eq(now),
        ))
        .execute(conn)?;
    write_role_children(conn, role)
}

fn write_role_children(conn: &mut DbConnection, role: &Role) -> Result<(), StoreError> {
    let grants: Vec<_> = role
        .grants
        .iter()
        .chain(role.module_policies.iter())
        .map(|(k, g)| {
            (
                role_grants::role_id.eq(role.id.as_str()),
                role_grants::permission.eq(k.as_str()),
                role_grants::effect.eq(grant_text(*g)),
            )
        })
        .collect();
    for chunk in grants.chunks(300) {
        crate::on_backend!(conn, |c| diesel::insert_into(role_grants::table)
            .values(chunk)
            .execute(c))?;
    }
    let sets: Vec<_> = role
        .permission_sets
        .iter()
        .map(|s| {
            (
                role_permission_sets::role_id.eq(role.id.as_str()),
                role_permission_sets::set_id.eq(s.as_str()),
            )
        })
        .collect();
    if !sets.is_empty() {
        crate::on_backend!(conn, |c| diesel::insert_into(role_permission_sets::table)
            .values(&sets)
            .execute(c))?;
    }
    Ok(())
}

/// Overwrite a custom role's editable fields, grants and sets.
pub fn update_role(
    conn: &mut DbConnection,
    org: &OrgId,
    role: &Role,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let n = diesel::update(
        roles::table
            .filter(roles::id.eq(role.id.as_str()))
            .filter(roles::org_id.eq(org.as_str())),
    )
    .set((
        roles::name.eq(&role.name),
        roles::description.eq(&role.description),
        roles::binds_at.eq(role.binds_at.to_string()),
        roles::visibility.eq(visibility_text(role.visibility)),
        roles::anonymized.eq(role.anonymized),
        roles::attributes.eq(serde_json::to_string(&role.attributes)?),
        roles::inherits_to_children.eq(role.inherits_to_children),
        roles::item_restrictions.eq(serde_json::to_string(&role.items)?),
        roles::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    diesel::delete(role_grants::table.filter(role_grants::role_id.eq(role.id.as_str())))
        .execute(conn)?;
    diesel::delete(
        role_permission_sets::table.filter(role_permission_sets::role_id.eq(role.id.as_str())),
    )
    .execute(conn)?;
    write_role_children(conn, role)
}

/// How many bindings and mappings still use a role.
pub fn role_usage(conn: &mut DbConnection, role: &RoleId) -> Result<(i64, i64), StoreError> {
    let b = bindings::table
        .filter(bindings::role_id.eq(role.as_str()))
        .count()
        .get_result(conn)?;
    let m = group_mappings::table
        .filter(group_mappings::role_id.eq(role.as_str()))
        .count()
        .get_result(conn)?;
    Ok((b, m))
}

pub fn delete_role(conn: &mut DbConnection, org: &OrgId, role: &RoleId) -> Result<(), StoreError> {
    let n = diesel::delete(
        roles::table
            .filter(roles::id.eq(role.as_str()))
            .filter(roles::org_id.eq(org.as_str())),
    )
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub fn insert_set(
    conn: &mut DbConnection,
    org: &OrgId,
    set: &PermissionSet,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(permission_sets::table)
        .values((
            permission_sets::id.eq(set.id.as_str()),
            permission_sets::org_id.eq(org.as_str()),
            permission_sets::name.eq(&set.name),
            permission_sets::description.eq(&set.description),
            permission_sets::application.eq(set.application.as_str()),
            permission_sets::created_at.eq(now),
            permission_sets::updated_at.eq(now),
        ))
        .execute(conn)?;
    write_set_items(conn, set)
}

fn write_set_items(conn: &mut DbConnection, set: &PermissionSet) -> Result<(), StoreError> {
    let items: Vec<_> = set
        .permissions
        .iter()
        .map(|p| {
            (
                permission_set_items::set_id.eq(set.id.as_str()),
                permission_set_items::permission.eq(p.as_str()),
            )
        })
        .collect();
    if !items.is_empty() {
        crate::on_backend!(conn, |c| diesel::insert_into(permission_set_items::table)
            .values(&items)
            .execute(c))?;
    }
    Ok(())
}

pub fn update_set(
    conn: &mut DbConnection,
    org: &OrgId,
    set: &PermissionSet,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let n = diesel::update(
        permission_sets::table
            .filter(permission_sets::id.eq(set.id.as_str()))
            .filter(permission_sets::org_id.eq(org.as_str())),
    )
    .set((
        permission_sets::name.eq(&set.name),
        permission_sets::description.eq(&set.description),
        permission_sets::application.eq(set.application.as_str()),
        permission_sets::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    diesel::delete(
        permission_set_items::table.filter(permission_set_items::set_id.eq(set.id.as_str())),
    )
    .execute(conn)?;
    write_set_items(conn, set)
}

pub fn delete_set(conn: &mut DbConnection, org: &OrgId, set: &SetId) -> Result<(), StoreError> {
    let n = diesel::delete(
        permission_sets::table
            .filter(permission_sets::id.eq(set.as_str()))
            .filter(permission_sets::org_id.eq(org.as_str())),
    )
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub fn set_defaults(
    conn: &mut DbConnection,
    org: &OrgId,
    defaults: &OrgDefaults,
) -> Result<(), StoreError> {
    diesel::delete(
        org_default_permissions::table.filter(org_default_permissions::org_id.eq(org.as_str())),
    )
    .execute(conn)?;
    let rows: Vec<_> = defaults
        .allow
        .iter()
        .map(|p| {
            (
                org_default_permissions::org_id.eq(org.as_str()),
                org_default_permissions::permission.eq(p.as_str()),
            )
        })
        .collect();
    if !rows.is_empty() {
        crate::on_backend!(conn, |c| diesel::insert_into(
            org_default_permissions::table
        )
        .values(&rows)
        .execute(c))?;
    }
    Ok(())
}

/// Everything the engine needs for one org (a handful of reads; cached by
/// the caller per policy version).
pub fn load(conn: &mut DbConnection, org: &OrgId) -> Result<PolicyRecords, StoreError> {
    let catalogue: Vec<PermissionDef> = permissions::table
        .filter(permissions::org_id.eq(org.as_str()))
        .order(permissions::position)
        .select(permissions::definition)
        .load::<String>(conn)?
        .iter()
        .map(|d| serde_json::from_str(d))
        .collect::<Result<_, _>>()?;
    let module_keys: BTreeSet<&str> = catalogue
        .iter()
        .filter(|d| matches!(d.kind, PermissionKind::Module { .. }))
        .map(|d| d.key.as_str())
        .collect();

    let role_rows: Vec<RoleRow> = roles::table
        .filter(roles::org_id.eq(org.as_str()))
        .order((roles::created_at, roles::id))
        .select(RoleRow::as_select())
        .load(conn)?;
    let role_ids: Vec<&str> = role_rows.iter().map(|r| r.id.as_str()).collect();
    let mut grants: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (role, perm, effect) in role_grants::table
        .filter(role_grants::role_id.eq_any(&role_ids))
        .select((
            role_grants::role_id,
            role_grants::permission,
            role_grants::effect,
        ))
        .load::<(String, String, String)>(conn)?
    {
        grants.entry(role).or_default().push((perm, effect));
    }
    let mut role_sets: HashMap<String, Vec<SetId>> = HashMap::new();
    for (role, set) in role_permission_sets::table
        .filter(role_permission_sets::role_id.eq_any(&role_ids))
        .select((role_permission_sets::role_id, role_permission_sets::set_id))
        .order((role_permission_sets::role_id, role_permission_sets::set_id))
        .load::<(String, String)>(conn)?
    {
        role_sets.entry(role).or_default().push(SetId::new(set));
    }
    let mut roles_out = Vec::with_capacity(role_rows.len());
    for r in &role_rows {
        let mut g = BTreeMap::new();
        let mut m = BTreeMap::new();
        for (perm, effect) in grants.remove(&r.id).unwrap_or_default() {
            let key = PermissionKey::parse(&perm).map_err(corrupt)?;
            let effect = parse_grant(&effect)?;
            if module_keys.contains(perm.as_str()) {
                m.insert(key, effect);
            } else {
                g.insert(key, effect);
            }
        }
        roles_out.push(Role {
            id: RoleId::new(&r.id),
            key: RoleKey::new(&r.key),
            name: r.name.clone(),
            description: r.description.clone(),
            builtin: r.builtin,
            binds_at: r.binds_at.parse().map_err(corrupt)?,
            grants: g,
            module_policies: m,
            visibility: parse_visibility(&r.visibility)?,
            anonymized: r.anonymized,
            owner: r.owner,
            permission_sets: role_sets.remove(&r.id).unwrap_or_default(),
            attributes: serde_json::from_str(&r.attributes)?,
            inherits_to_children: r.inherits_to_children,
            items: serde_json::from_str(&r.item_restrictions)?,
        });
    }

    let set_rows: Vec<(String, String, String, String)> = permission_sets::table
        .filter(permission_sets::org_id.eq(org.as_str()))
        .order((permission_sets::created_at, permission_sets::id))
        .select((
            permission_sets::id,
            permission_sets::name,
            permission_sets::description,
            permission_sets::application,
        ))
        .load(conn)?;
    let set_ids: Vec<&str> = set_rows.iter().map(|s| s.0.as_str()).collect();
    let mut items: HashMap<String, BTreeSet<PermissionKey>> = HashMap::new();
    for (set, perm) in permission_set_items::table
        .filter(permission_set_items::set_id.eq_any(&set_ids))
        .select((
            permission_set_items::set_id,
            permission_set_items::permission,
        ))
        .load::<(String, String)>(conn)?
    {
        items
            .entry(set)
            .or_default()
            .insert(PermissionKey::parse(&perm).map_err(corrupt)?);
    }
    let sets = set_rows
        .iter()
        .map(|(id, name, description, application)| PermissionSet {
            id: SetId::new(id),
            name: name.clone(),
            description: description.clone(),
            application: ResourceId::new(application),
            permissions: items.remove(id).unwrap_or_default(),
        })
        .collect();

    let defaults = OrgDefaults {
        allow: org_default_permissions::table
            .filter(org_default_permissions::org_id.eq(org.as_str()))
            .select(org_default_permissions::permission)
            .load::<String>(conn)?
            .iter()
            .map(|p| PermissionKey::parse(p).map_err(corrupt))
            .collect::<Result<_, _>>()?,
    };
    let item_types = super::item_types::list(conn, org)?;
    let workspaces = super::workspaces::list(conn, org)?
        .into_iter()
        .map(|w| {
            (
                WorkspaceId::new(w.id.as_str()),
                w.parent_id.map(|p| WorkspaceId::new(p.as_str())),
            )
        })
        .collect();
    Ok(PolicyRecords {
        catalogue,
        roles: roles_out,
        sets,
        defaults,
        item_types,
        workspaces,
    })
}
