//! A user's access, changed by admins and explained to the product (SPEC §2):
//! the org-level role (with `roles_managed_by`, granting limits and
//! last-owner protection), workspace- and resource-scoped bindings, workspace
//! access and home workspace, individual overrides, directly attached
//! permission sets, and the access answer with a reason for everything.

use serde::Serialize;

use crate::domain::authz::gate;
use crate::domain::authz::{
    self, BindingScope, BindingSource, Decision, Grant, IndividualOverride, MappedBinding,
    OverrideId, PermissionKey, Principal, ResourceId, ResourceType, Role, ScopeKind, SetId,
    Subject, WorkspaceAccess, WorkspaceList,
};
use crate::domain::{UserId, UserStatus};
use crate::error::AppError;
use crate::service::authz::{OrgPolicy, check_error};
use crate::service::{Acting, owners};
use crate::store::access::{self as rows, Holder, NewBinding, StoredBinding};
use crate::store::orgs::Org;
use crate::store::users::User;
use crate::store::{self, DbConnection, StoreError, audit};

fn binding_view(op: &OrgPolicy, b: &StoredBinding) -> serde_json::Value {
    let role = op.policy.role(b.binding.role.as_str());
    serde_json::json!({
        "id": b.binding.id,
        "role": role.map(|r| r.key.as_str()),
        "scope": scope_view(op, &b.binding.scope),
        "source": b.binding.source,
        "mapping": b.mapping,
    })
}

/// A scope as clients see it (`{"org": true}`, `{"workspace": slug}`,
/// `{"resource_type", "resource_id"}`).
pub fn scope_view(op: &OrgPolicy, scope: &BindingScope) -> serde_json::Value {
    match scope {
        BindingScope::Org => serde_json::json!({"kind": "org"}),
        BindingScope::Workspace { workspace } => {
            let slug = op
                .workspaces
                .iter()
                .find(|w| w.id.as_str() == workspace.as_str())
                .map(|w| w.slug.as_str());
            serde_json::json!({"kind": "workspace", "workspace": slug.unwrap_or(workspace.as_str())})
        }
        BindingScope::Resource { resource_type, id } => {
            serde_json::json!({"kind": "resource", "resource_type": resource_type, "resource_id": id})
        }
    }
}

/// A scope named by a client: nothing (org), a workspace (id or slug), or a resource.
#[derive(Debug, Clone, Default)]
pub struct ScopeInput {
    pub workspace: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
}

impl ScopeInput {
    pub fn resolve(&self, op: &OrgPolicy) -> Result<BindingScope, AppError> {
        match (&self.workspace, &self.resource_type, &self.resource_id) {
            (None, None, None) => Ok(BindingScope::Org),
            (Some(w), None, None) => Ok(BindingScope::workspace(authz::WorkspaceId::new(
                op.workspace(w)?.id.as_str(),
            ))),
            (None, Some(t), Some(id)) if !id.trim().is_empty() => Ok(BindingScope::resource(
                ResourceType::parse(t)
                    .map_err(|e| AppError::bad_request(format!("resource_type: {e}")))?,
                ResourceId::new(id.trim()),
            )),
            _ => Err(AppError::bad_request(
                "a scope is the organization (nothing), a `workspace`, or a `resource_type` with a `resource_id`",
            )),
        }
    }
}

fn live_user(conn: &mut DbConnection, org: &Org, key: &str) -> Result<User, AppError> {
    let user = crate::service::users::find(conn, org, key)?;
    if user.status == UserStatus::Deprovisioned {
        return Err(AppError::Conflict {
            code: "deprovisioned",
            message: format!("user `{key}` is deprovisioned"),
        });
    }
    Ok(user)
}

/// Overrides shape one's own rights: nobody adds or removes their own.
fn not_self(a: &Acting<'_>, user: &User) -> Result<(), AppError> {
    if a.authority.is_user(&user.id) {
        return Err(AppError::Forbidden(
            "nobody adds or removes individual overrides on themselves".to_owned(),
        ));
    }
    Ok(())
}

/// Refuse an admin edit of a role the IdP manages (`roles_managed_by = idp`).
fn check_managed_by_idp(
    conn: &mut DbConnection,
    org: &Org,
    current: Option<&StoredBinding>,
) -> Result<(), AppError> {
    let Some(current) = current else {
        return Ok(());
    };
    let (Some(mapping_id), BindingSource::ScimGroup | BindingSource::SsoClaim) =
        (&current.mapping, current.binding.source)
    else {
        return Ok(());
    };
    let mapped = match store::mappings::get(conn, &org.id, mapping_id.as_str()) {
        Ok(m) => MappedBinding {
            mapping: m.mapping.id,
            group: m.mapping.group,
            kind: m.mapping.kind,
        },
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    authz::check_admin_role_edit(org.settings.roles_managed_by, Some(&mapped)).map_err(|r| {
        AppError::Conflict {
            code: "managed_by_idp",
            message: r.message,
        }
    })
}

fn org_role<'a>(op: &'a OrgPolicy, key: &str) -> Result<&'a Role, AppError> {
    let role = op.role(key)?;
    if role.binds_at != ScopeKind::Org {
        return Err(AppError::BadRequest {
            code: "wrong_scope",
            message: format!(
                "role `{key}` is bound at {}; give it with a {} binding instead",
                role.binds_at, role.binds_at
            ),
        });
    }
    Ok(role)
}

/// Set the user's org-level role (source `admin`).
pub fn set_org_role(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    user_key: &str,
    role_key: &str,
) -> Result<User, AppError> {
    a.require(gate::USERS_MANAGE)?;
    let (ctx, org, op, authority) = (a.ctx, a.org, a.op, a.authority);
    let user = live_user(conn, org, user_key)?;
    let role = org_role(op, role_key)?;
    owners::guard_target(conn, a, &user)?;
    let current = rows::org_binding(conn, &user.id)?;
    check_managed_by_idp(conn, org, current.as_ref())?;
    authority.may_grant_role(&op.policy, &role.id, &BindingScope::Org)?;
    if let Some(c) = &current {
        authority.may_grant_role(&op.policy, &c.binding.role, &BindingScope::Org)?;
        let was_owner = op
            .policy
            .role(c.binding.role.as_str())
            .is_some_and(|r| r.owner);
        if was_owner && !role.owner {
            owners::guard(conn, org, &user)?;
        }
    }
    rows::put_org_binding(
        conn,
        &org.id,
        &user.id,
        Some((&role.id, BindingSource::Admin, None)),
        ctx.now,
    )?;
    rows::refresh(conn, std::slice::from_ref(&user.id))?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "user.role_changed",
            "user",
            Some(user.id.to_string()),
            current.as_ref().map(|c| binding_view(op, c)),
            Some(
                serde_json::json!({"role": role.key, "scope": {"kind": "org"}, "source": "admin"}),
            ),
        )],
    )?;
    Ok(user)
}

/// Set the user's workspace list (`None` = unrestricted) and home workspace.
pub fn set_workspaces(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    user_key: &str,
    list: Option<Vec<String>>,
    home: Option<String>,
) -> Result<User, AppError> {
    a.require(gate::USERS_MANAGE)?;
    let (ctx, org, op) = (a.ctx, a.org, a.op);
    let user = live_user(conn, org, user_key)?;
    owners::guard_target(conn, a, &user)?;
    let before = rows::workspace_access(conn, &user.id)?;
    let list = match list {
        None => WorkspaceList::All,
        Some(keys) => WorkspaceList::Only(
            keys.iter()
                .map(|k| {
                    op.workspace(k)
                        .map(|w| authz::WorkspaceId::new(w.id.as_str()))
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    let home = home
        .map(|h| {
            op.workspace(&h)
                .map(|w| authz::WorkspaceId::new(w.id.as_str()))
        })
        .transpose()?;
    a.authority.may_grant_workspaces(op, &list)?;
    if let Some(h) = &home {
        a.authority
            .may_grant_workspaces(op, &WorkspaceList::Only([h.clone()].into()))?;
    }
    let after = WorkspaceAccess { list, home };
    rows::put_workspace_access(conn, &user.id, &after)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "user.workspaces_changed",
            "user",
            Some(user.id.to_string()),
            Some(serde_json::to_value(&before).map_err(StoreError::from)?),
            Some(serde_json::to_value(&after).map_err(StoreError::from)?),
        )],
    )?;
    Ok(user)
}

/// Bind a workspace- or resource-scoped role to the user.
pub fn add_binding(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    user_key: &str,
    role_key: &str,
    scope: &ScopeInput,
) -> Result<String, AppError> {
    a.require(gate::USERS_MANAGE)?;
    let (ctx, org, op, authority) = (a.ctx, a.org, a.op, a.authority);
    let user = live_user(conn, org, user_key)?;
    owners::guard_target(conn, a, &user)?;
    let role = op.role(role_key)?;
    let scope = scope.resolve(op)?;
    let fits = matches!(
        (&role.binds_at, &scope),
        (ScopeKind::Workspace, BindingScope::Workspace { .. })
    ) || matches!((&role.binds_at, &scope), (ScopeKind::Resource(t), BindingScope::Resource { resource_type, .. }) if t == resource_type);
    if !fits {
        return Err(AppError::BadRequest {
            code: "wrong_scope",
            message: format!(
                "role `{role_key}` is bound at {}; use PUT …/role for org-level roles",
                role.binds_at
            ),
        });
    }
    authority.may_grant_role(&op.policy, &role.id, &scope)?;
    let id = rows::insert_binding(
        conn,
        &org.id,
        NewBinding {
            holder: Holder::User(&user.id),
            role: &role.id,
            scope: &scope,
            source: BindingSource::Admin,
            mapping: None,
        },
        ctx.now,
    )?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "user.binding_added",
            "user",
            Some(user.id.to_string()),
            None,
            Some(serde_json::json!({"binding": id, "role": role.key, "scope": scope_view(op, &scope)})),
        )],
    )?;
    Ok(id.as_str().to_owned())
}

/// Remove one of the user's own bindings.
pub fn remove_binding(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    user_key: &str,
    binding_id: &str,
) -> Result<(), AppError> {
    a.require(gate::USERS_MANAGE)?;
    let (ctx, org, op, authority) = (a.ctx, a.org, a.op, a.authority);
    let user = live_user(conn, org, user_key)?;
    owners::guard_target(conn, a, &user)?;
    let not_found = || AppError::not_found("binding", binding_id);
    let binding = rows::get_binding(conn, &org.id, binding_id).map_err(|e| match e {
        StoreError::NotFound => not_found(),
        other => other.into(),
    })?;
    if binding.binding.principal != Principal::User(authz::UserId::new(user.id.as_str())) {
        return Err(not_found());
    }
    if binding.binding.scope == BindingScope::Org {
        check_managed_by_idp(conn, org, Some(&binding))?;
        let owner = op
            .policy
            .role(binding.binding.role.as_str())
            .is_some_and(|r| r.owner);
        if owner {
            owners::guard(conn, org, &user)?;
        }
    }
    authority.may_grant_role(&op.policy, &binding.binding.role, &binding.binding.scope)?;
    rows::delete_binding(conn, &org.id, binding_id)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "user.binding_removed",
            "user",
            Some(user.id.to_string()),
            Some(binding_view(op, &binding)),
            None,
        )],
    )?;
    Ok(())
}

/// Add an individual allow or deny (seed 001 "additional policies").
pub fn add_override(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    user_key: &str,
    permission: &str,
    grant: Grant,
    scope: &ScopeInput,
) -> Result<IndividualOverride, AppError> {
    a.require(gate::USERS_MANAGE)?;
    let (ctx, org, op, authority) = (a.ctx, a.org, a.op, a.authority);
    let user = live_user(conn, org, user_key)?;
    not_self(a, &user)?;
    owners::guard_target(conn, a, &user)?;
    let permission: PermissionKey = op.permission(permission)?;
    let scope = scope.resolve(op)?;
    // Allow or deny, an override is bounded by the granter's own rights: a
    // deny of something one does not hold is not one's to place.
    authority.may_grant_permission(&op.policy, &permission, &scope)?;
    if grant == Grant::Deny {
        owners::guard(conn, org, &user)?;
    }
    let o = IndividualOverride {
        id: OverrideId::new(uuid::Uuid::now_v7().to_string()),
        permission,
        grant,
        scope,
    };
    rows::insert_override(conn, &org.id, &user.id, &o, ctx.now)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "user.override_added",
            "user",
            Some(user.id.to_string()),
            None,
            Some(serde_json::to_value(&o).map_err(StoreError::from)?),
        )],
    )?;
    Ok(o)
}

pub fn remove_override(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    user_key: &str,
    override_id: &str,
) -> Result<(), AppError> {
    a.require(gate::USERS_MANAGE)?;
    let (ctx, org, op, authority) = (a.ctx, a.org, a.op, a.authority);
    let user = live_user(conn, org, user_key)?;
    not_self(a, &user)?;
    owners::guard_target(conn, a, &user)?;
    let removed = rows::delete_override(conn, &user.id, override_id).map_err(|e| match e {
        StoreError::NotFound => AppError::not_found("override", override_id),
        other => other.into(),
    })?;
    // Lifting a deny grants what it denied; removing an allow takes away
    // what only a holder may give: both are bounded by the remover's rights.
    authority.may_grant_permission(&op.policy, &removed.permission, &removed.scope)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "user.override_removed",
            "user",
            Some(user.id.to_string()),
            Some(serde_json::to_value(&removed).map_err(StoreError::from)?),
            None,
        )],
    )?;
    Ok(())
}

/// Add the user to a permission set directly, or take them out (seed 002).
pub fn put_user_set(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    user_key: &str,
    set_id: &str,
    attached: bool,
) -> Result<(), AppError> {
    let (ctx, org, op, authority) = (a.ctx, a.org, a.op, a.authority);
    let user = live_user(conn, org, user_key)?;
    let set = op
        .policy
        .set(set_id)
        .ok_or_else(|| AppError::not_found("permission set", set_id))?;
    authority.may_edit_set(&op.policy, set)?;
    authority.may_grant_set(&op.policy, set)?;
    owners::guard_target(conn, a, &user)?;
    rows::put_user_set(conn, &user.id, &SetId::new(set_id), attached)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            if attached {
                "user.set_attached"
            } else {
                "user.set_detached"
            },
            "user",
            Some(user.id.to_string()),
            None,
            Some(serde_json::json!({"set": set.id, "name": set.name})),
        )],
    )?;
    Ok(())
}

/// The access answer: every binding with its source, effective permissions,
/// visible workspaces and the anonymized flag, each with its reason.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessView {
    pub user_id: String,
    pub status: UserStatus,
    #[schema(value_type = Vec<Object>)]
    pub bindings: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub overrides: Vec<IndividualOverride>,
    #[schema(value_type = Vec<String>)]
    pub permission_sets: Vec<SetId>,
    /// Every org- and workspace-scoped permission of the catalogue, decided.
    pub permissions: Vec<PermissionAnswer>,
    pub workspaces: WorkspacesAnswer,
    pub anonymized: bool,
    pub anonymized_reason: String,
    /// With `item_type`: every field of that type, `hidden | read_only |
    /// writable`, with reasons (seed 004; the product enforces it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub fields: Option<Vec<authz::FieldAnswer>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PermissionAnswer {
    pub permission: String,
    pub allowed: bool,
    #[schema(value_type = Vec<Object>)]
    pub reasons: Vec<authz::Reason>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WorkspacesAnswer {
    /// Sees every workspace, including ones created later.
    pub all: bool,
    /// Slugs of the visible workspaces.
    pub visible: Vec<String>,
    pub home: Option<String>,
    pub reason: String,
}

pub fn access_view(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    user_key: &str,
    workspace: Option<&str>,
    item_type: Option<&str>,
) -> Result<AccessView, AppError> {
    a.require(gate::ACCESS_READ)?;
    let item_type = item_type
        .map(|t| crate::service::item_types::known(a, t))
        .transpose()?;
    let mut view = view_of(conn, a.org, a.op, user_key, workspace)?;
    if let Some(t) = item_type {
        let user = crate::service::users::find(conn, a.org, user_key)?;
        let subject = rows::subject(conn, &a.org.id, &user.id)?;
        let ws = workspace
            .map(|w| {
                a.op.workspace(w)
                    .map(|w| authz::WorkspaceId::new(w.id.as_str()))
            })
            .transpose()?;
        view.fields = Some(
            authz::field_access(&a.op.policy, &subject, ws.as_ref(), &t).map_err(check_error)?,
        );
    }
    Ok(view)
}

/// The signed-in user's own access answer (`GET /api/v1/me`): a person may
/// always read what they themselves hold.
pub fn own_view(
    conn: &mut DbConnection,
    org: &Org,
    op: &OrgPolicy,
    user: &User,
) -> Result<AccessView, AppError> {
    view_of(conn, org, op, user.id.as_str(), None)
}

/// The access answer returned by a write to a user's access: the writer
/// needed `gateway.users.manage` for the change, which covers reading back
/// what it changed.
pub fn view_after_write(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    user_key: &str,
) -> Result<AccessView, AppError> {
    a.require(gate::USERS_MANAGE)?;
    view_of(conn, a.org, a.op, user_key, None)
}

fn view_of(
    conn: &mut DbConnection,
    org: &Org,
    op: &OrgPolicy,
    user_key: &str,
    workspace: Option<&str>,
) -> Result<AccessView, AppError> {
    let user = crate::service::users::find(conn, org, user_key)?;
    let subject = rows::subject(conn, &org.id, &user.id)?;
    let own = rows::user_bindings(conn, &user.id)?;
    let mut bindings: Vec<serde_json::Value> = own.iter().map(|b| binding_view(op, b)).collect();
    for b in &subject.bindings {
        if let Principal::Group(g) = &b.principal {
            let role = op.policy.role(b.role.as_str());
            bindings.push(serde_json::json!({
                "id": b.id,
                "role": role.map(|r| r.key.as_str()),
                "scope": scope_view(op, &b.scope),
                "source": b.source,
                "via_group": g,
            }));
        }
    }
    let ws = workspace
        .map(|w| {
            op.workspace(w)
                .map(|w| authz::WorkspaceId::new(w.id.as_str()))
        })
        .transpose()?;
    let permissions = authz::effective_permissions(&op.policy, &subject, ws.as_ref())
        .map_err(check_error)?
        .into_iter()
        .map(|(k, d)| PermissionAnswer {
            permission: k.as_str().to_owned(),
            allowed: d.allowed,
            reasons: d.reasons,
        })
        .collect();
    let vis = authz::visible_workspaces(&op.policy, &subject, &op.workspace_ids())
        .map_err(check_error)?;
    let slug = |id: &authz::WorkspaceId| {
        op.workspaces
            .iter()
            .find(|w| w.id.as_str() == id.as_str())
            .map(|w| w.slug.clone())
            .unwrap_or_else(|| id.as_str().to_owned())
    };
    let anonymized = authz::is_anonymized(&op.policy, &subject).map_err(check_error)?;
    let anonymized_reason = if anonymized {
        "every org-level role the user holds is an \"Anonymized Data\" variant: no individuals report".to_owned()
    } else {
        "the user holds an org-level role that is not an anonymized variant (or none)".to_owned()
    };
    Ok(AccessView {
        user_id: user.id.to_string(),
        status: user.status,
        bindings,
        overrides: subject.overrides.clone(),
        permission_sets: subject.sets.clone(),
        permissions,
        workspaces: WorkspacesAnswer {
            all: vis.all,
            visible: vis.workspaces.iter().map(slug).collect(),
            home: vis.home.as_ref().map(slug),
            reason: vis.reason.message,
        },
        anonymized,
        anonymized_reason,
        fields: None,
    })
}

/// One question of `POST …/authz/check`.
#[derive(Debug, Clone)]
pub struct CheckInput {
    pub user: String,
    pub permission: String,
    pub workspace: Option<String>,
    pub resource: Option<(String, String, Option<String>)>,
    pub relations: Vec<String>,
    /// The role being assigned (key or id) and whether it is held now.
    pub assignment: Option<(String, bool)>,
    /// The item type the question is about.
    pub item_type: Option<String>,
}

/// Build the engine's query from a client's names (workspace slugs or ids).
pub fn query_of(op: &OrgPolicy, input: &CheckInput) -> Result<authz::Query, AppError> {
    let permission = PermissionKey::parse(&input.permission)
        .map_err(|e| AppError::bad_request(format!("permission `{}`: {e}", input.permission)))?;
    let mut query = authz::Query::new(permission);
    if let Some(w) = &input.workspace {
        query.workspace = Some(authz::WorkspaceId::new(op.workspace(w)?.id.as_str()));
    }
    if let Some((t, id, w)) = &input.resource {
        let resource_type = ResourceType::parse(t)
            .map_err(|e| AppError::bad_request(format!("resource type `{t}`: {e}")))?;
        let workspace = w
            .as_deref()
            .map(|w| {
                op.workspace(w)
                    .map(|w| authz::WorkspaceId::new(w.id.as_str()))
            })
            .transpose()?;
        query.resource = Some(authz::ResourceRef {
            resource_type,
            id: ResourceId::new(id),
            workspace,
        });
    }
    query.relations = input.relations.iter().cloned().collect();
    query.assignment = input
        .assignment
        .as_ref()
        .map(|(role, held)| authz::Assignment {
            role: authz::RoleKey::new(role),
            held: *held,
        });
    query.item_type = input.item_type.as_deref().map(authz::ItemTypeKey::new);
    Ok(query)
}

/// Answer one check for a user whose subject the caller loaded.
pub fn decide(
    op: &OrgPolicy,
    subject: &Subject,
    query: &authz::Query,
) -> Result<Decision, AppError> {
    authz::check(&op.policy, subject, query).map_err(check_error)
}

/// The subjects of the users a check (or a batch of checks) asks about,
/// each found or an error; the caller needs `gateway.access.read`.
pub fn subjects_for_checks(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    users: Vec<String>,
) -> Result<std::collections::HashMap<String, Result<Subject, AppError>>, AppError> {
    a.require(gate::ACCESS_READ)?;
    Ok(users
        .into_iter()
        .map(|u| {
            let s = subject_of(conn, a.org, &u);
            (u, s)
        })
        .collect())
}

/// The subject of a user named by id (or userName) for checks; 404 if unknown.
fn subject_of(conn: &mut DbConnection, org: &Org, user_key: &str) -> Result<Subject, AppError> {
    let id = match user_key.parse::<UserId>() {
        Ok(id) => id,
        Err(_) => crate::service::users::find_by_id_or_name(conn, org, user_key)?.id,
    };
    rows::subject(conn, &org.id, &id).map_err(|e| match e {
        StoreError::NotFound => AppError::not_found("user", user_key),
        other => other.into(),
    })
}

/// The preset permission that lets a workspace admin assign users to a
/// workspace (seed 004 "you assign users to the workspace").
pub const MEMBERS_MANAGE: &str = "workspace.members.manage";

/// One user's access to one workspace, as the member routes answer it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MembershipView {
    pub workspace: String,
    pub user_id: String,
    /// The workspace is on the user's workspace list (or the list is
    /// unrestricted and the user's role sees every workspace).
    pub listed: bool,
    /// The user's own workspace-scoped bindings on this workspace.
    #[schema(value_type = Vec<Object>)]
    pub bindings: Vec<serde_json::Value>,
    /// Whether the user sees the workspace now, and why.
    pub visible: bool,
    pub reason: String,
}

/// Give one user access to one workspace (seed 004: a workspace admin
/// "assign[s] users to the workspace"): the workspace goes on their list
/// where the list restricts them, and with `role` they hold that workspace
/// role there (replacing their other own roles on that workspace). Allowed
/// to holders of `gateway.users.manage`, or of `workspace.members.manage` in
/// the workspace; either way within the actor's granting limits.
pub fn add_to_workspace(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    workspace: &str,
    user_key: &str,
    role_key: Option<&str>,
) -> Result<MembershipView, AppError> {
    let (ctx, org, op, authority) = (a.ctx, a.org, a.op, a.authority);
    let ws = op.workspace(workspace)?.clone();
    let wid = authz::WorkspaceId::new(ws.id.as_str());
    a.require_in_workspace(gate::USERS_MANAGE, MEMBERS_MANAGE, &wid)?;
    let user = live_user(conn, org, user_key)?;
    // A write that affects an owner needs the owner's own rights.
    owners::guard_target(conn, a, &user)?;
    let scope = BindingScope::Workspace {
        workspace: wid.clone(),
    };
    // Nobody grants access to a workspace they cannot see.
    authority.may_grant_workspaces(op, &WorkspaceList::Only([wid.clone()].into()))?;
    let role = role_key.map(|k| op.role(k)).transpose()?;
    if let Some(role) = role {
        if role.binds_at != ScopeKind::Workspace {
            return Err(AppError::BadRequest {
                code: "wrong_scope",
                message: format!(
                    "role `{}` is bound at {}; only workspace roles are given per workspace",
                    role.key, role.binds_at
                ),
            });
        }
        authority.may_grant_role(&op.policy, &role.id, &scope)?;
    }
    let before = membership(conn, a, &user, &ws)?;
    // The user's own roles on this workspace that the new one replaces: the
    // actor must be able to have given each of them.
    let replaced: Vec<StoredBinding> = match role {
        None => Vec::new(),
        Some(role) => own_workspace_bindings(conn, &user.id, &wid)?
            .into_iter()
            .filter(|b| b.binding.role != role.id)
            .collect(),
    };
    for b in &replaced {
        authority.may_grant_role(&op.policy, &b.binding.role, &b.binding.scope)?;
    }
    for b in &replaced {
        rows::delete_binding(conn, &org.id, b.binding.id.as_str())?;
    }
    if let Some(role) = role {
        let held = own_workspace_bindings(conn, &user.id, &wid)?
            .iter()
            .any(|b| b.binding.role == role.id);
        if !held {
            rows::insert_binding(
                conn,
                &org.id,
                NewBinding {
                    holder: Holder::User(&user.id),
                    role: &role.id,
                    scope: &scope,
                    source: BindingSource::Admin,
                    mapping: None,
                },
                ctx.now,
            )?;
        }
    }
    let mut access = rows::workspace_access(conn, &user.id)?;
    let subject = rows::subject(conn, &org.id, &user.id)?;
    let sees_all = authz::visible_workspaces(&op.policy, &subject, &op.workspace_ids())
        .map_err(check_error)?
        .all;
    let list_changed = match &mut access.list {
        WorkspaceList::Only(list) => list.insert(wid.clone()),
        // An unrestricted list gives nothing to a role that sees only
        // assigned workspaces: the user is now assigned this one.
        WorkspaceList::All if !sees_all => {
            access.list = WorkspaceList::Only([wid.clone()].into());
            true
        }
        WorkspaceList::All => false,
    };
    if list_changed {
        rows::put_workspace_access(conn, &user.id, &access)?;
    }
    let after = membership(conn, a, &user, &ws)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "workspace.member_added",
            "user",
            Some(user.id.to_string()),
            Some(serde_json::to_value(&before).map_err(StoreError::from)?),
            Some(serde_json::to_value(&after).map_err(StoreError::from)?),
        )],
    )?;
    Ok(after)
}

/// Take one user's access to one workspace away: the workspace leaves their
/// list and their own admin- or invite-given roles on it are removed (roles
/// from IdP groups stay: the IdP owns them). Same rights as
/// [`add_to_workspace`]; the actor must be able to have given each removed
/// role.
pub fn remove_from_workspace(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    workspace: &str,
    user_key: &str,
) -> Result<MembershipView, AppError> {
    let (ctx, org, op, authority) = (a.ctx, a.org, a.op, a.authority);
    let ws = op.workspace(workspace)?.clone();
    let wid = authz::WorkspaceId::new(ws.id.as_str());
    a.require_in_workspace(gate::USERS_MANAGE, MEMBERS_MANAGE, &wid)?;
    let user = live_user(conn, org, user_key)?;
    owners::guard_target(conn, a, &user)?;
    authority.may_grant_workspaces(op, &WorkspaceList::Only([wid.clone()].into()))?;
    let before = membership(conn, a, &user, &ws)?;
    let removed: Vec<StoredBinding> = own_workspace_bindings(conn, &user.id, &wid)?
        .into_iter()
        .filter(|b| {
            matches!(
                b.binding.source,
                BindingSource::Admin | BindingSource::Invite
            )
        })
        .collect();
    for b in &removed {
        authority.may_grant_role(&op.policy, &b.binding.role, &b.binding.scope)?;
    }
    for b in &removed {
        rows::delete_binding(conn, &org.id, b.binding.id.as_str())?;
    }
    let mut access = rows::workspace_access(conn, &user.id)?;
    let mut changed = false;
    if let WorkspaceList::Only(list) = &mut access.list {
        changed |= list.remove(&wid);
    }
    if access.home.as_ref() == Some(&wid) {
        access.home = None;
        changed = true;
    }
    if changed {
        rows::put_workspace_access(conn, &user.id, &access)?;
    }
    let after = membership(conn, a, &user, &ws)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "workspace.member_removed",
            "user",
            Some(user.id.to_string()),
            Some(serde_json::to_value(&before).map_err(StoreError::from)?),
            Some(serde_json::to_value(&after).map_err(StoreError::from)?),
        )],
    )?;
    Ok(after)
}

fn own_workspace_bindings(
    conn: &mut DbConnection,
    user: &UserId,
    workspace: &authz::WorkspaceId,
) -> Result<Vec<StoredBinding>, AppError> {
    Ok(rows::user_bindings(conn, user)?
        .into_iter()
        .filter(|b| matches!(&b.binding.scope, BindingScope::Workspace { workspace: w } if w == workspace))
        .collect())
}

fn membership(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    user: &User,
    ws: &crate::store::workspaces::Workspace,
) -> Result<MembershipView, AppError> {
    let op = a.op;
    let wid = authz::WorkspaceId::new(ws.id.as_str());
    let subject = rows::subject(conn, &a.org.id, &user.id)?;
    let listed = match &subject.workspaces.list {
        WorkspaceList::Only(list) => list.contains(&wid),
        WorkspaceList::All => false,
    };
    let bindings = own_workspace_bindings(conn, &user.id, &wid)?
        .iter()
        .map(|b| binding_view(op, b))
        .collect();
    let (visible, reason) =
        authz::workspace_visible(&op.policy, &subject, &wid).map_err(check_error)?;
    Ok(MembershipView {
        workspace: ws.slug.clone(),
        user_id: user.id.to_string(),
        listed,
        bindings,
        visible,
        reason: reason.message,
    })
}
