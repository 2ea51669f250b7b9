//! The org's permission model as admins edit it: roles (built-in ones are
//! read-only and clonable; custom ones are created, updated, deleted),
//! permission sets, the org's default permissions, org settings and group
//! mappings. Every change is validated by compiling the would-be policy (so
//! an unknown permission or a dangling set is a 400 naming it), limited by
//! "nobody grants what they do not hold", bumps the policy version and is
//! audited — all in the caller's transaction.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::domain::OrgSettings;
use crate::domain::authz::{
    self, BindingScope, Grant, GroupMapping, MappingId, MappingKind, PermissionKey, PermissionKind,
    PermissionSet, Policy, ResourceId, Role, RoleId, RoleKey, ScopeKind, SetId, VisibilityMode,
    gate,
};
use crate::error::AppError;
use crate::service::authz::{Authority, OrgPolicy};
use crate::service::{Acting, Ctx};
use crate::store::orgs::Org;
use crate::store::policy::PolicyRecords;
use crate::store::{self, DbConnection, StoreError, audit};

/// What a client may set on a role. On update, `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct RoleInput {
    pub key: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Start from this role's grants (clone).
    pub clone_from: Option<String>,
    pub binds_at: Option<String>,
    pub visibility: Option<VisibilityMode>,
    pub anonymized: Option<bool>,
    /// Org-level (two-state) and module-level (tri-state; absent = use
    /// default) grants together, keyed by permission.
    pub grants: Option<BTreeMap<String, Grant>>,
    pub permission_sets: Option<Vec<String>>,
    pub attributes: Option<BTreeMap<String, Value>>,
    /// Seed 004: a workspace binding of the role covers sub-workspaces.
    pub inherits_to_children: Option<bool>,
    /// Seed 004: item types the role applies to and field restrictions.
    pub items: Option<authz::ItemRestrictions>,
}

fn invalid(e: impl std::fmt::Display) -> AppError {
    AppError::BadRequest {
        code: "invalid_policy",
        message: e.to_string(),
    }
}

fn compile(records: &PolicyRecords) -> Result<Policy, AppError> {
    records.build().map_err(invalid)
}

fn find_role<'a>(records: &'a PolicyRecords, key: &str) -> Result<&'a Role, AppError> {
    records
        .roles
        .iter()
        .find(|r| r.key.as_str() == key || r.id.as_str() == key)
        .ok_or_else(|| AppError::not_found("role", key))
}

fn apply(records: &PolicyRecords, role: &mut Role, input: &RoleInput) -> Result<(), AppError> {
    if let Some(n) = &input.name {
        role.name = crate::domain::Label::parse("name", n)?.into_string();
    }
    if let Some(d) = &input.description {
        crate::domain::names::check_free_text(
            "description",
            d.trim(),
            crate::domain::names::DESCRIPTION_MAX_CHARS,
        )?;
        role.description = d.trim().to_owned();
    }
    if let Some(b) = &input.binds_at {
        role.binds_at = b
            .parse()
            .map_err(|e: String| AppError::bad_request(format!("binds_at: {e}")))?;
    }
    if let Some(v) = input.visibility {
        role.visibility = v;
    }
    if let Some(a) = input.anonymized {
        role.anonymized = a;
    }
    if let Some(grants) = &input.grants {
        let modules: BTreeSet<&str> = records
            .catalogue
            .iter()
            .filter(|d| matches!(d.kind, PermissionKind::Module { .. }))
            .map(|d| d.key.as_str())
            .collect();
        role.grants.clear();
        role.module_policies.clear();
        for (key, grant) in grants {
            let k = PermissionKey::parse(key)
                .map_err(|e| AppError::bad_request(format!("grants: `{key}`: {e}")))?;
            if modules.contains(key.as_str()) {
                role.module_policies.insert(k, *grant);
            } else {
                role.grants.insert(k, *grant);
            }
        }
    }
    if let Some(sets) = &input.permission_sets {
        role.permission_sets = sets
            .iter()
            .map(|s| {
                records
                    .sets
                    .iter()
                    .find(|x| x.id.as_str() == s || x.name == *s)
                    .map(|x| x.id.clone())
                    .ok_or_else(|| AppError::not_found("permission set", s))
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(a) = &input.attributes {
        role.attributes = a.clone();
    }
    if let Some(i) = input.inherits_to_children {
        role.inherits_to_children = i;
    }
    if let Some(items) = &input.items {
        role.items = items.clone();
    }
    Ok(())
}

/// Nobody defines a role holding permissions they do not hold themselves.
fn may_define(
    authority: &Authority,
    policy: &Policy,
    role: &Role,
    sets_changed: bool,
) -> Result<(), AppError> {
    if sets_changed {
        authority.may_attach_set_to_role(policy)?;
    }
    match &role.binds_at {
        ScopeKind::Org => authority.may_grant_role(policy, &role.id, &BindingScope::Org),
        ScopeKind::Workspace => {
            for (k, g) in role.grants.iter().chain(&role.module_policies) {
                if *g == Grant::Allow {
                    authority.may_grant_permission(policy, k, &BindingScope::Org)?;
                }
            }
            Ok(())
        }
        ScopeKind::Resource(t) => authority.may_grant_role(
            policy,
            &role.id,
            &BindingScope::resource(t.clone(), ResourceId::new("*")),
        ),
    }
}

/// What the API and audit show of a role: its settings, grant matrix and
/// the permission sets attached to it, each with its application and the
/// permissions it holds (seed 002: "you can also see all the Permission
/// Sets that are attached to that Role, and the permissions that
/// correspond to each Permission Set").
pub fn role_view(role: &Role, policy: &Policy) -> Value {
    let sets: Vec<Value> = role
        .permission_sets
        .iter()
        .map(|s| match policy.set(s.as_str()) {
            Some(set) => serde_json::json!({
                "id": s,
                "name": set.name,
                "application": set.application,
                "permissions": set.permissions,
            }),
            None => serde_json::json!({"id": s, "name": null}),
        })
        .collect();
    serde_json::json!({
        "id": role.id,
        "key": role.key,
        "name": role.name,
        "description": role.description,
        "builtin": role.builtin,
        "owner": role.owner,
        "binds_at": role.binds_at,
        "visibility": role.visibility,
        "anonymized": role.anonymized,
        "grants": role.grants,
        "module_policies": role.module_policies,
        "permission_sets": sets,
        "attributes": role.attributes,
        "inherits_to_children": role.inherits_to_children,
        "items": role.items,
    })
}

fn changed(conn: &mut DbConnection, org: &Org) -> Result<(), AppError> {
    store::orgs::bump_policy_version(conn, &org.id)?;
    Ok(())
}

pub fn create_role(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    input: RoleInput,
) -> Result<Value, AppError> {
    a.require(gate::ROLES_MANAGE)?;
    let (ctx, org, authority) = (a.ctx, a.org, a.authority);
    let mut records = store::policy::load(conn, &org.id)?;
    // Seed 001: "Permission profile name (required) … description
    // (optional)". The key is derived from the name unless one is given.
    let (key, derived) = match (&input.key, &input.name) {
        (Some(key), _) => (key.clone(), false),
        (None, Some(name)) => {
            let name = crate::domain::Label::parse("name", name)?;
            let key = authz::key_from_name(name.as_str()).ok_or_else(|| {
                AppError::bad_request(format!(
                    "no key can be derived from the name {:?} (it needs ASCII letters or digits); give a `key` ([a-z0-9_]+)",
                    name.as_str()
                ))
            })?;
            (key.as_str().to_owned(), true)
        }
        (None, None) => {
            return Err(AppError::bad_request(
                "a role needs a `name` (its key is derived from it) or a `key` ([a-z0-9_]+)",
            ));
        }
    };
    if let Some(existing) = records.roles.iter().find(|r| r.key.as_str() == key) {
        let hint = if derived {
            "; choose another name or give a `key`"
        } else {
            ""
        };
        return Err(AppError::Conflict {
            code: "already_exists",
            message: format!(
                "role `{key}` already exists: {:?} (id {}){hint}",
                existing.name, existing.id
            ),
        });
    }
    let id = RoleId::new(uuid::Uuid::now_v7().to_string());
    let name = input.name.clone().unwrap_or_else(|| key.clone());
    let mut role = match &input.clone_from {
        Some(from) => find_role(&records, from)?.clone_as(id, &key, name),
        None => Role::new(id, &key, name),
    };
    role.key = RoleKey::new(&key);
    apply(&records, &mut role, &input)?;
    records.roles.push(role.clone());
    let policy = compile(&records)?;
    may_define(authority, &policy, &role, !role.permission_sets.is_empty())?;
    store::policy::insert_role(conn, &org.id, &role, ctx.now)?;
    changed(conn, org)?;
    let view = role_view(&role, &policy);
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "role.created",
            "role",
            Some(role.id.to_string()),
            None,
            Some(view.clone()),
        )],
    )?;
    Ok(view)
}

pub fn update_role(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    key: &str,
    input: RoleInput,
) -> Result<Value, AppError> {
    a.require(gate::ROLES_MANAGE)?;
    let (ctx, org, authority) = (a.ctx, a.org, a.authority);
    let mut records = store::policy::load(conn, &org.id)?;
    let before = find_role(&records, key)?.clone();
    if before.builtin {
        return Err(AppError::Conflict {
            code: "builtin_role",
            message: format!("role `{key}` is built in and read-only; clone it to change it"),
        });
    }
    if input
        .key
        .as_deref()
        .is_some_and(|k| k != before.key.as_str())
        || input.clone_from.is_some()
    {
        return Err(AppError::bad_request(
            "a role's key and origin cannot be changed",
        ));
    }
    let before_policy = compile(&records)?;
    // Changing what an existing role grants is granting it anew.
    may_define(authority, &before_policy, &before, false)?;
    let mut role = before.clone();
    apply(&records, &mut role, &input)?;
    let pos = records
        .roles
        .iter()
        .position(|r| r.id == role.id)
        .unwrap_or_default();
    records.roles[pos] = role.clone();
    let policy = compile(&records)?;
    may_define(
        authority,
        &policy,
        &role,
        role.permission_sets != before.permission_sets,
    )?;
    store::policy::update_role(conn, &org.id, &role, ctx.now)?;
    changed(conn, org)?;
    let view = role_view(&role, &policy);
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "role.updated",
            "role",
            Some(role.id.to_string()),
            Some(role_view(&before, &before_policy)),
            Some(view.clone()),
        )],
    )?;
    Ok(view)
}

pub fn delete_role(conn: &mut DbConnection, a: &Acting<'_>, key: &str) -> Result<(), AppError> {
    a.require(gate::ROLES_MANAGE)?;
    let (ctx, org, authority) = (a.ctx, a.org, a.authority);
    let records = store::policy::load(conn, &org.id)?;
    let role = find_role(&records, key)?.clone();
    if role.builtin {
        return Err(AppError::Conflict {
            code: "builtin_role",
            message: format!("role `{key}` is built in and cannot be deleted"),
        });
    }
    let policy = compile(&records)?;
    may_define(authority, &policy, &role, false)?;
    let (bindings, mappings) = store::policy::role_usage(conn, &role.id)?;
    if bindings + mappings > 0 {
        return Err(AppError::Conflict {
            code: "role_in_use",
            message: format!(
                "role `{key}` is held through {bindings} binding(s) and {mappings} group mapping(s); reassign them first"
            ),
        });
    }
    if org.settings.default_role.as_deref() == Some(role.key.as_str()) {
        return Err(AppError::Conflict {
            code: "role_in_use",
            message: format!("role `{key}` is the organization's default role"),
        });
    }
    store::policy::delete_role(conn, &org.id, &role.id)?;
    changed(conn, org)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "role.deleted",
            "role",
            Some(role.id.to_string()),
            Some(role_view(&role, &policy)),
            None,
        )],
    )?;
    Ok(())
}

// ------------------------------------------------------------ permission sets

#[derive(Debug, Clone, Default)]
pub struct SetInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub application: Option<String>,
    pub permissions: Option<Vec<String>>,
}

pub fn set_view(set: &PermissionSet) -> Value {
    serde_json::json!({
        "id": set.id,
        "name": set.name,
        "description": set.description,
        "application": set.application,
        "permissions": set.permissions,
    })
}

fn fill_set(set: &mut PermissionSet, input: &SetInput) -> Result<(), AppError> {
    if let Some(n) = &input.name {
        set.name = crate::domain::Label::parse("name", n)?.into_string();
    }
    if let Some(d) = &input.description {
        crate::domain::names::check_free_text(
            "description",
            d.trim(),
            crate::domain::names::DESCRIPTION_MAX_CHARS,
        )?;
        set.description = d.trim().to_owned();
    }
    if let Some(a) = &input.application {
        if a.trim().is_empty() {
            return Err(AppError::bad_request("application must not be empty"));
        }
        set.application = ResourceId::new(a.trim());
    }
    if let Some(p) = &input.permissions {
        set.permissions = p
            .iter()
            .map(|k| {
                PermissionKey::parse(k)
                    .map_err(|e| AppError::bad_request(format!("permissions: `{k}`: {e}")))
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(())
}

pub fn create_set(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    input: SetInput,
) -> Result<Value, AppError> {
    let (ctx, org, authority) = (a.ctx, a.org, a.authority);
    let mut records = store::policy::load(conn, &org.id)?;
    let mut set = PermissionSet {
        id: SetId::new(uuid::Uuid::now_v7().to_string()),
        name: String::new(),
        description: String::new(),
        application: ResourceId::new(""),
        permissions: BTreeSet::new(),
    };
    if input.name.is_none() || input.application.is_none() {
        return Err(AppError::bad_request(
            "a permission set needs a `name` and an `application`",
        ));
    }
    fill_set(&mut set, &input)?;
    records.sets.push(set.clone());
    let policy = compile(&records)?;
    authority.may_edit_set(&policy, &set)?;
    store::policy::insert_set(conn, &org.id, &set, ctx.now).map_err(|e| match e {
        StoreError::Unique(_) => AppError::Conflict {
            code: "already_exists",
            message: format!("a permission set named `{}` already exists", set.name),
        },
        other => other.into(),
    })?;
    changed(conn, org)?;
    let view = set_view(&set);
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "permission_set.created",
            "permission_set",
            Some(set.id.to_string()),
            None,
            Some(view.clone()),
        )],
    )?;
    Ok(view)
}

pub fn update_set(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    id: &str,
    input: SetInput,
) -> Result<Value, AppError> {
    let (ctx, org, authority) = (a.ctx, a.org, a.authority);
    let mut records = store::policy::load(conn, &org.id)?;
    let pos = records
        .sets
        .iter()
        .position(|s| s.id.as_str() == id)
        .ok_or_else(|| AppError::not_found("permission set", id))?;
    let before = records.sets[pos].clone();
    let before_policy = compile(&records)?;
    authority.may_edit_set(&before_policy, &before)?;
    let mut set = before.clone();
    fill_set(&mut set, &input)?;
    records.sets[pos] = set.clone();
    let policy = compile(&records)?;
    authority.may_edit_set(&policy, &set)?;
    store::policy::update_set(conn, &org.id, &set, ctx.now)?;
    changed(conn, org)?;
    let view = set_view(&set);
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "permission_set.updated",
            "permission_set",
            Some(set.id.to_string()),
            Some(set_view(&before)),
            Some(view.clone()),
        )],
    )?;
    Ok(view)
}

pub fn delete_set(conn: &mut DbConnection, a: &Acting<'_>, id: &str) -> Result<(), AppError> {
    let (ctx, org, authority) = (a.ctx, a.org, a.authority);
    let records = store::policy::load(conn, &org.id)?;
    let set = records
        .sets
        .iter()
        .find(|s| s.id.as_str() == id)
        .ok_or_else(|| AppError::not_found("permission set", id))?
        .clone();
    let policy = compile(&records)?;
    authority.may_edit_set(&policy, &set)?;
    if records
        .roles
        .iter()
        .any(|r| r.permission_sets.contains(&set.id))
    {
        authority.may_attach_set_to_role(&policy)?;
    }
    let users = store::access::set_users(conn, &set.id)?;
    store::policy::delete_set(conn, &org.id, &set.id)?;
    store::access::refresh(conn, &users)?;
    changed(conn, org)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "permission_set.deleted",
            "permission_set",
            Some(set.id.to_string()),
            Some(set_view(&set)),
            None,
        )],
    )?;
    Ok(())
}

/// Replace the org's default permissions (for users without a binding in scope).
pub fn set_defaults(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    allow: Vec<String>,
) -> Result<Vec<String>, AppError> {
    a.require(gate::ROLES_MANAGE)?;
    let (ctx, org, authority) = (a.ctx, a.org, a.authority);
    let mut records = store::policy::load(conn, &org.id)?;
    let before = records.defaults.clone();
    records.defaults.allow = allow
        .iter()
        .map(|k| PermissionKey::parse(k).map_err(|e| AppError::bad_request(format!("`{k}`: {e}"))))
        .collect::<Result<_, _>>()?;
    let policy = compile(&records)?;
    for k in records.defaults.allow.difference(&before.allow) {
        authority.may_grant_permission(&policy, k, &BindingScope::Org)?;
    }
    store::policy::set_defaults(conn, &org.id, &records.defaults)?;
    changed(conn, org)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "org.defaults_changed",
            "org",
            Some(org.id.to_string()),
            Some(serde_json::json!(before.allow)),
            Some(serde_json::json!(records.defaults.allow)),
        )],
    )?;
    Ok(records
        .defaults
        .allow
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect())
}

/// Replace the org's settings (validated; the default role must be an org-level role).
pub fn update_settings(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    settings: OrgSettings,
) -> Result<Org, AppError> {
    a.require(gate::SETTINGS_MANAGE)?;
    let (ctx, org, op) = (a.ctx, a.org, a.op);
    let mut settings = settings.validate()?;
    if settings.preset != org.settings.preset {
        return Err(AppError::bad_request(
            "`preset` records what the org was created from and cannot be changed",
        ));
    }
    if let Some(key) = &settings.default_role {
        let role = op.role(key)?;
        if role.binds_at != ScopeKind::Org {
            return Err(AppError::bad_request(format!(
                "default_role `{key}` is not an org-level role"
            )));
        }
        // Every user created without a role (admin API, SCIM, SSO-default,
        // invites) gets the default role: it is a grant to all of them.
        if role.owner {
            return Err(AppError::BadRequest {
                code: "owner_default_role",
                message: format!(
                    "default_role `{key}` is an owner role; the default role may never be an owner role"
                ),
            });
        }
        if org.settings.default_role.as_deref() != Some(role.key.as_str()) {
            a.authority
                .may_grant_role(&op.policy, &role.id, &BindingScope::Org)?;
        }
        settings.default_role = Some(role.key.as_str().to_owned());
    }
    // SSO-default signs up only addresses of the org's own, proven domains.
    let verified = crate::service::domains::verified(conn, &org.id)?;
    if let Some(d) = settings
        .allowed_email_domains
        .iter()
        .find(|d| !verified.contains(d))
    {
        return Err(AppError::BadRequest {
            code: "unverified_domain",
            message: format!(
                "allowed_email_domains: `{d}` is not a verified domain of this organization (POST …/domains, then …/verify)"
            ),
        });
    }
    if settings.provisioning.sso_default && settings.allowed_email_domains.is_empty() {
        return Err(AppError::BadRequest {
            code: "no_allowed_domains",
            message: "provisioning.sso_default needs at least one verified domain in allowed_email_domains".to_owned(),
        });
    }
    settings.default_workspaces = settings
        .default_workspaces
        .iter()
        .map(|w| op.workspace(w).map(|w| w.slug.clone()))
        .collect::<Result<_, _>>()?;
    let after = store::orgs::update_settings(conn, &org.id, &settings, ctx.now)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "org.settings_changed",
            "org",
            Some(org.id.to_string()),
            Some(serde_json::to_value(&org.settings).map_err(StoreError::from)?),
            Some(serde_json::to_value(&after.settings).map_err(StoreError::from)?),
        )],
    )?;
    Ok(after)
}

// ------------------------------------------------------------ group mappings

#[derive(Debug, Clone)]
pub struct MappingInput {
    /// `scim_group` (source: a SCIM directory id) or `sso_claim` (an SSO connection id).
    pub kind: MappingKind,
    pub source: String,
    /// SCIM group id or displayName, or the claim value.
    pub group: String,
    pub role: String,
    pub workspaces: Vec<String>,
    pub priority: i32,
}

/// Group mappings are configured by whoever configures their source: SCIM
/// directories (`gateway.scim.manage`) or SSO connections
/// (`gateway.sso.manage`); either may list them.
fn require_mapping_admin(a: &Acting<'_>, kind: Option<MappingKind>) -> Result<(), AppError> {
    match kind {
        Some(MappingKind::ScimGroup) => a.require(gate::SCIM_MANAGE),
        Some(MappingKind::SsoClaim) => a.require(gate::SSO_MANAGE),
        None => a
            .require(gate::SCIM_MANAGE)
            .or_else(|_| a.require(gate::SSO_MANAGE)),
    }
}

/// The org's group mappings, for SCIM or SSO administrators.
pub fn list_mappings(conn: &mut DbConnection, a: &Acting<'_>) -> Result<Vec<Value>, AppError> {
    require_mapping_admin(a, None)?;
    Ok(store::mappings::list(conn, &a.org.id)?
        .iter()
        .map(|m| mapping_view(a.op, m))
        .collect())
}

/// The org's compiled policy (catalogue, roles, sets, defaults) for readers
/// of access: the product's `access_reader` key and every administrator.
pub fn policy_for_reading<'a>(a: &Acting<'a>) -> Result<&'a OrgPolicy, AppError> {
    a.require(gate::ACCESS_READ)?;
    Ok(a.op)
}

/// The org's settings, for those who may change them.
pub fn settings<'a>(a: &Acting<'a>) -> Result<&'a OrgSettings, AppError> {
    a.require(gate::SETTINGS_MANAGE)?;
    Ok(&a.org.settings)
}

pub fn mapping_view(op: &OrgPolicy, m: &store::mappings::StoredMapping) -> Value {
    let workspaces: Vec<String> = m
        .mapping
        .workspaces
        .iter()
        .map(|w| {
            op.workspaces
                .iter()
                .find(|x| x.id.as_str() == w.as_str())
                .map(|x| x.slug.clone())
                .unwrap_or_else(|| w.as_str().to_owned())
        })
        .collect();
    serde_json::json!({
        "id": m.mapping.id,
        "kind": m.mapping.kind,
        "source": m.source_id,
        "group": m.mapping.group,
        "role": op.policy.role(m.mapping.role.as_str()).map(|r| r.key.as_str()),
        "workspaces": workspaces,
        "priority": m.mapping.priority,
    })
}

pub fn create_mapping(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    input: MappingInput,
) -> Result<Value, AppError> {
    require_mapping_admin(a, Some(input.kind))?;
    let (ctx, org, op, authority) = (a.ctx, a.org, a.op, a.authority);
    let role = op.role(&input.role)?;
    if role.binds_at != ScopeKind::Org {
        return Err(AppError::bad_request(format!(
            "role `{}` is not an org-level role",
            input.role
        )));
    }
    authority.may_grant_role(&op.policy, &role.id, &BindingScope::Org)?;
    if input.group.trim().is_empty() {
        return Err(AppError::bad_request("group must not be empty"));
    }
    // The source must be one of the org's own: a SCIM directory (by id or
    // name; stored by id, which is what re-evaluation looks it up by) for
    // `scim_group`, an IdP connection (by id) for `sso_claim`.
    let (source_id, directory) = match input.kind {
        MappingKind::ScimGroup => {
            let d = crate::service::directories::resolve(conn, org, &input.source)?;
            (d.id.to_string(), Some(d))
        }
        MappingKind::SsoClaim => {
            let c = store::idp_connections::get(conn, &org.id, &input.source).map_err(|e| match e {
                StoreError::NotFound => AppError::NotFound(format!(
                    "IdP connection `{}` not found in this organization (the source of an sso_claim mapping is the id of one of its IdP connections)",
                    input.source
                )),
                other => other.into(),
            })?;
            (c.id, None)
        }
    };
    let workspaces: std::collections::BTreeSet<authz::WorkspaceId> = input
        .workspaces
        .iter()
        .map(|w| {
            op.workspace(w)
                .map(|x| authz::WorkspaceId::new(x.id.as_str()))
        })
        .collect::<Result<_, _>>()?;
    // A mapping grants its role and workspaces to everyone in the group.
    authority.may_grant_workspaces(op, &authz::WorkspaceList::Only(workspaces.clone()))?;
    if let Some(directory) = &directory {
        crate::service::directories::check_ceiling(op, directory, Some(&role.id), &workspaces)
            .map_err(|message| AppError::BadRequest {
                code: "beyond_ceiling",
                message,
            })?;
    }
    let mapping = GroupMapping {
        id: MappingId::new(uuid::Uuid::now_v7().to_string()),
        kind: input.kind,
        group: input.group.trim().to_owned(),
        role: role.id.clone(),
        workspaces,
        priority: input.priority,
    };
    store::mappings::insert(conn, &org.id, &source_id, &mapping, ctx.now)?;
    let stored = store::mappings::get(conn, &org.id, mapping.id.as_str())?;
    let view = mapping_view(op, &stored);
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "group_mapping.created",
            "group_mapping",
            Some(mapping.id.to_string()),
            None,
            Some(view.clone()),
        )],
    )?;
    reapply_source(conn, ctx, org, op, input.kind, &stored.source_id)?;
    Ok(view)
}

pub fn delete_mapping(conn: &mut DbConnection, a: &Acting<'_>, id: &str) -> Result<(), AppError> {
    // An unknown id is answered (404) to any mapping administrator.
    let stored_kind = match store::mappings::get(conn, &a.org.id, id) {
        Ok(m) => Some(m.mapping.kind),
        Err(StoreError::NotFound) => None,
        Err(other) => return Err(other.into()),
    };
    require_mapping_admin(a, stored_kind)?;
    let (ctx, org, op, authority) = (a.ctx, a.org, a.op, a.authority);
    let stored = store::mappings::get(conn, &org.id, id).map_err(|e| match e {
        StoreError::NotFound => AppError::not_found("group mapping", id),
        other => other.into(),
    })?;
    authority.may_grant_role(&op.policy, &stored.mapping.role, &BindingScope::Org)?;
    authority.may_grant_workspaces(
        op,
        &authz::WorkspaceList::Only(stored.mapping.workspaces.iter().cloned().collect()),
    )?;
    store::mappings::delete(conn, &org.id, id)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "group_mapping.deleted",
            "group_mapping",
            Some(id.to_owned()),
            Some(mapping_view(op, &stored)),
            None,
        )],
    )?;
    reapply_source(conn, ctx, org, op, stored.mapping.kind, &stored.source_id)?;
    Ok(())
}

/// After a mapping of `source` was created or deleted: re-resolve the users
/// it can concern (the directory's users, or those signed in through the
/// connection).
fn reapply_source(
    conn: &mut DbConnection,
    ctx: &Ctx,
    org: &Org,
    op: &OrgPolicy,
    kind: MappingKind,
    source: &str,
) -> Result<usize, AppError> {
    use crate::service::role_sources;
    match kind {
        MappingKind::ScimGroup => role_sources::reapply_directory(conn, ctx, org, op, source),
        MappingKind::SsoClaim => role_sources::reapply_connection(conn, ctx, org, op, source),
    }
}
