//! SCIM 2.0 service provider operations for one directory (RFC 7644 §3):
//! Users and Groups — create, get, replace (PUT), modify (PATCH), delete,
//! list/search — and Bulk (§3.7). Each write runs in the caller's
//! transaction together with its audit event (actor: the directory).
//!
//! Provisioning effects (SPEC §2–3): a created user is `active` with the role
//! the role sources give (the SCIM `roles` attribute or the org default — a
//! new user is in no group yet); `active=false` suspends, `DELETE`
//! deprovisions (soft); the last active owner can be neither; a POST whose
//! userName or email matches a user the gateway created itself (invite, SSO,
//! admin) adopts it; group and membership changes re-apply the directory's
//! group mappings to the affected members only.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use crate::domain::authz::{
    self, Binding, BindingId, BindingScope, Principal, WorkspaceAccess, WorkspaceList,
};
use crate::domain::{Email, GroupId, UserId, UserName, UserSource, UserStatus};
use crate::error::ScimApiError;
use crate::scim::cursor::{Cursor, CursorError, Kind, Position};
use crate::scim::index::{self, IndexedValue};
use crate::scim::schema::{AttrPath, GROUP, USER, urn};
use crate::scim::{
    Filter, PatchRequest, ScimType, normalize_for_write, parse_attribute_list, project,
};
use crate::service::Ctx;
use crate::service::authz::OrgPolicy;
use crate::service::role_sources;
use crate::store::access::AccessSnapshot;
use crate::store::directories::Directory;
use crate::store::groups::{Group, GroupFields};
use crate::store::orgs::Org;
use crate::store::scim::ListSpec;
use crate::store::users::{User, UserFields};
use crate::store::{self, DbConnection, StoreError, audit};

/// Where a SCIM request acts: the directory, its org and policy, the
/// request context, and the base URL of the directory for `Location`/`$ref`.
pub struct Scope<'a> {
    pub ctx: &'a Ctx,
    pub org: &'a Org,
    pub op: &'a OrgPolicy,
    pub directory: &'a Directory,
    /// `https://host/scim/v2/{directory}` (no trailing slash).
    pub base_url: &'a str,
}

/// A rendered resource and what the HTTP layer puts in headers.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: Value,
    pub version: i64,
    pub location: String,
}

/// `If-Match` / `If-None-Match` values: a version, or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    Any,
    Version(i64),
}

/// Parse an ETag list (`W/"3"`, `"3"`, `*`); versions we never issued match nothing.
pub fn parse_etags(header: &str) -> Vec<Precondition> {
    header
        .split(',')
        .map(|t| {
            let t = t.trim();
            if t == "*" {
                return Precondition::Any;
            }
            let t = t.strip_prefix("W/").unwrap_or(t).trim_matches('"');
            Precondition::Version(t.parse().unwrap_or(-1))
        })
        .collect()
}

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn check_if_match(if_match: &[Precondition], version: i64) -> Result<(), ScimApiError> {
    if if_match.is_empty()
        || if_match
            .iter()
            .any(|p| matches!(p, Precondition::Any) || *p == Precondition::Version(version))
    {
        Ok(())
    } else {
        Err(ScimApiError::PreconditionFailed(format!(
            "the resource is at version {}, not the one If-Match names",
            etag(version)
        )))
    }
}

fn time(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn not_found(kind: &str, id: &str) -> ScimApiError {
    ScimApiError::NotFound(format!("{kind} {id} not found"))
}

// ====================================================================== users

/// What a User write sets, extracted from a normalised document.
struct UserWrite {
    fields: UserFields,
    values: Vec<IndexedValue>,
    active: bool,
    /// Workspaces named by the rollcall extension (only where allowed).
    workspaces: Option<(Vec<String>, Option<String>)>,
}

fn text(doc: &Value, key: &str) -> Option<String> {
    doc.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The email that stands for the user: primary, else work, else the first.
fn primary_email(doc: &Value) -> Option<String> {
    let emails = doc.get("emails")?.as_array()?;
    let pick = emails
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| {
            emails.iter().find(|e| {
                e.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("work"))
            })
        })
        .or_else(|| emails.first())?;
    pick.get("value").and_then(Value::as_str).map(str::to_owned)
}

/// Split a normalised User document into stored fields. `active` and the
/// rollcall extension are derived on read, so they leave the document here
/// (the extension stays as the IdP's request when the org lets the IdP
/// manage roles).
fn user_write(
    s: &Scope<'_>,
    mut doc: Value,
    previous_ext: Option<&Value>,
    patching: bool,
) -> Result<UserWrite, ScimApiError> {
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| ScimApiError::invalid_syntax("a User must be a JSON object"))?;
    // `active` stays in the document only to remember that the client set it
    // (a removed `active` is not rendered); its value is the user's status.
    if obj.get("active") == Some(&Value::Null) {
        obj.remove("active");
    }
    let active = match obj.get("active") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ScimApiError::invalid_value(format!(
                "active must be a boolean, not {other}"
            )));
        }
    };
    obj.remove("id");
    obj.remove("meta");
    obj.remove("groups");
    // The rollcall extension is the IdP's to write only where it is offered;
    // elsewhere it is ignored in a POST or PUT body (like any readOnly value,
    // RFC 7644 §3.5.1) and a `mutability` error when a PATCH sets it.
    let writable = extension_offered(s);
    let ext = obj.remove(urn::ROLLCALL_USER);
    if !writable {
        if patching && ext.as_ref() != previous_ext {
            return Err(ScimApiError::mutability(format!(
                "{} is readOnly here: the organization manages roles itself (roles_managed_by = admin)",
                urn::ROLLCALL_USER
            )));
        }
        if let Some(Value::Array(schemas)) = obj.get_mut("schemas") {
            schemas.retain(|v| v.as_str() != Some(urn::ROLLCALL_USER));
        }
    }
    let mut workspaces = None;
    if let Some(ext) = ext
        .as_ref()
        .filter(|e| writable && Some(*e) != previous_ext)
    {
        if let Some(role) = ext.get("role").and_then(Value::as_str) {
            let r = s.op.role(role).map_err(|_| {
                ScimApiError::invalid_value(format!(
                    "role `{}` does not exist",
                    crate::domain::names::excerpt(role)
                ))
            })?;
            if r.binds_at != authz::ScopeKind::Org {
                return Err(ScimApiError::invalid_value(format!(
                    "role `{role}` is not an organization-level role"
                )));
            }
        }
        if let Some(list) = ext.get("workspaces").and_then(Value::as_array) {
            let names: Vec<String> = list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            for n in &names {
                s.op.workspace(n).map_err(|_| {
                    ScimApiError::invalid_value(format!(
                        "workspace `{}` does not exist",
                        crate::domain::names::excerpt(n)
                    ))
                })?;
            }
            let home = ext
                .get("homeWorkspace")
                .and_then(Value::as_str)
                .map(str::to_owned);
            workspaces = Some((names, home));
        }
    }
    if let (Some(ext), true) = (ext, writable) {
        obj.insert(urn::ROLLCALL_USER.to_owned(), ext);
    }
    let user_name = UserName::parse(
        doc.get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    )
    .map_err(|e| ScimApiError::invalid_value(e.to_string()))?;
    // Every address is validated, not only the one stored as the email: a
    // secondary value such as `a@b.com,c@d.com` is as hostile as a primary.
    for value in doc
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("value").and_then(Value::as_str))
        .filter(|v| !v.is_empty())
    {
        Email::parse(value)
            .map_err(|e| ScimApiError::invalid_value(format!("emails: {}", e.message)))?;
    }
    let email = primary_email(&doc)
        .map(|e| Email::parse(&e))
        .transpose()
        .map_err(|e| ScimApiError::invalid_value(format!("emails: {}", e.message)))?;
    let name = doc.get("name").cloned().unwrap_or(Value::Null);
    let external_id = match doc.get("externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            return Err(ScimApiError::invalid_value(format!(
                "externalId must be a string, not {}",
                crate::domain::names::excerpt(&other.to_string())
            )));
        }
    };
    let values = index::user_values(&doc);
    Ok(UserWrite {
        fields: UserFields {
            user_name,
            email,
            given_name: text(&name, "givenName"),
            family_name: text(&name, "familyName"),
            display_name: text(&doc, "displayName"),
            external_id,
            directory_id: Some(s.directory.id.clone()),
            status: if active {
                UserStatus::Active
            } else {
                UserStatus::Suspended
            },
            source: UserSource::Scim,
            scim: doc,
        },
        values,
        active,
        workspaces,
    })
}

/// Whether this directory offers the rollcall extension: only where the org
/// lets the IdP manage roles (`roles_managed_by = idp`). Elsewhere role and
/// workspaces are the admins' (and the access API's), and the extension is
/// neither advertised, returned nor accepted.
pub fn extension_offered(s: &Scope<'_>) -> bool {
    s.org.settings.roles_managed_by == crate::domain::RolesManagedBy::Idp
}

/// The rollcall extension as rendered from the user's access (the truth).
fn rollcall_extension(s: &Scope<'_>, access: &AccessSnapshot) -> Option<Value> {
    let org_role = access
        .bindings
        .iter()
        .find(|b| b.scope == BindingScope::Org && matches!(b.principal, Principal::User(_)))
        .and_then(|b| s.op.policy.role(b.role.as_str()));
    let slug = |id: &authz::WorkspaceId| {
        s.op.workspaces
            .iter()
            .find(|w| w.id.as_str() == id.as_str())
            .map(|w| w.slug.clone())
    };
    let mut ext = Map::new();
    if let Some(r) = org_role {
        ext.insert("role".into(), json!(r.key.as_str()));
    }
    if let WorkspaceList::Only(list) = &access.workspaces.list {
        ext.insert(
            "workspaces".into(),
            json!(list.iter().filter_map(slug).collect::<Vec<_>>()),
        );
    }
    if let Some(home) = access.workspaces.home.as_ref().and_then(slug) {
        ext.insert("homeWorkspace".into(), json!(home));
    }
    (!ext.is_empty()).then_some(Value::Object(ext))
}

/// The full SCIM representation of a user.
pub fn render_user(s: &Scope<'_>, user: &User, groups: &[(String, String)]) -> Rendered {
    let location = format!("{}/Users/{}", s.base_url, user.id);
    let mut doc = match &user.scim {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    doc.insert("id".into(), json!(user.id));
    if doc.contains_key("active") || user.status != UserStatus::Active {
        doc.insert("active".into(), json!(user.status == UserStatus::Active));
    }
    if !groups.is_empty() {
        doc.insert(
            "groups".into(),
            Value::Array(
                groups
                    .iter()
                    .map(|(id, name)| {
                        json!({"value": id, "display": name, "$ref": format!("{}/Groups/{id}", s.base_url), "type": "direct"})
                    })
                    .collect(),
            ),
        );
    }
    let ext = extension_offered(s)
        .then(|| rollcall_extension(s, &user.access))
        .flatten();
    let mut schemas: Vec<Value> = doc
        .get("schemas")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| vec![json!(urn::USER)]);
    schemas.retain(|v| v.as_str() != Some(urn::ROLLCALL_USER));
    match ext {
        Some(e) => {
            doc.insert(urn::ROLLCALL_USER.into(), e);
            schemas.push(json!(urn::ROLLCALL_USER));
        }
        None => {
            doc.remove(urn::ROLLCALL_USER);
        }
    }
    doc.insert("schemas".into(), Value::Array(schemas));
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": time(user.created_at),
            "lastModified": time(user.updated_at),
            "location": location,
            "version": etag(user.version),
        }),
    );
    Rendered {
        body: Value::Object(doc),
        version: user.version,
        location,
    }
}

fn user_groups(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    user: &UserId,
) -> Result<Vec<(String, String)>, ScimApiError> {
    Ok(
        store::scim::groups_of_users(conn, &s.directory.id, std::slice::from_ref(user))?
            .remove(user.as_str())
            .unwrap_or_default(),
    )
}

fn audit_user(
    s: &Scope<'_>,
    action: &'static str,
    before: Option<&User>,
    after: Option<&User>,
) -> store::audit::NewAuditEvent {
    let id = after.or(before).map(|u| u.id.to_string());
    s.ctx.event(
        Some(&s.org.id),
        action,
        "user",
        id,
        before.map(crate::service::users::view),
        after.map(crate::service::users::view),
    )
}

/// Refuse to suspend or remove the last active owner (400 `mutability`).
fn guard_last_owner(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    user: &User,
    what: &str,
) -> Result<(), ScimApiError> {
    // The user's own org role is in their access snapshot: only an owner
    // needs the count of active owners.
    if holds_owner(s, user)
        && user.status == UserStatus::Active
        && crate::service::owners::is_last_owner(conn, s.org, &user.id)?
    {
        return Err(ScimApiError::mutability(format!(
            "cannot {what} `{}`: the last active owner of the organization",
            user.user_name
        )));
    }
    Ok(())
}

/// Whether the user holds an owner role at org level (from their snapshot).
fn holds_owner(s: &Scope<'_>, user: &User) -> bool {
    user.access.bindings.iter().any(|b| {
        b.scope == BindingScope::Org
            && matches!(b.principal, Principal::User(_))
            && s.op.policy.role(b.role.as_str()).is_some_and(|r| r.owner)
    })
}

/// The audit event of a write the directory was refused (its own
/// transaction rolled back, so this one is written on its own).
pub fn refusal_event(
    ctx: &Ctx,
    org: &crate::domain::OrgId,
    directory: &crate::domain::DirectoryId,
    e: &ScimApiError,
) -> store::audit::NewAuditEvent {
    ctx.event(
        Some(org),
        "scim.write_refused",
        "scim_directory",
        Some(directory.to_string()),
        None,
        Some(json!({"status": e.status().as_u16(), "reason": e.to_string()})),
    )
}

fn refused(forbidden: bool, message: String) -> ScimApiError {
    ScimApiError::Refused { forbidden, message }
}

/// The directory's ceiling and its rules toward owners (SPEC §2 "Granting
/// limits"): every role named by `roles` or the rollcall extension, and
/// every workspace the extension names, must be within the ceiling; a
/// directory never takes over an owner (adoption), never changes an owner's
/// userName, email or role, and suspends an owner only if it provisioned
/// them itself (and they are not the last one).
fn check_directory_rules(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    before: Option<&User>,
    w: &UserWrite,
) -> Result<(), ScimApiError> {
    let roles_changed = before.is_none_or(|b| {
        b.scim.get("roles") != w.fields.scim.get("roles")
            || b.scim.get(urn::ROLLCALL_USER) != w.fields.scim.get(urn::ROLLCALL_USER)
    });
    if roles_changed {
        for r in role_sources::scim_roles(s.op, &w.fields.scim) {
            crate::service::directories::check_ceiling(s.op, s.directory, Some(&r.role), [])
                .map_err(|m| refused(false, m))?;
        }
    }
    if let Some((list, home)) = &w.workspaces {
        let ids: Vec<authz::WorkspaceId> = list
            .iter()
            .chain(home.iter())
            .filter_map(|n| s.op.workspace(n).ok())
            .map(|x| authz::WorkspaceId::new(x.id.as_str()))
            .collect();
        crate::service::directories::check_ceiling(s.op, s.directory, None, &ids)
            .map_err(|m| refused(false, m))?;
    }
    let Some(before) = before.filter(|b| holds_owner(s, b)) else {
        return Ok(());
    };
    let name = &before.user_name;
    let same_name = UserName::parse(&before.user_name)
        .is_ok_and(|n| n.canonical() == w.fields.user_name.canonical());
    let same_email = before.email.as_deref().map(str::to_lowercase)
        == w.fields.email.as_ref().map(|e| e.canonical().to_owned());
    if !same_name || !same_email {
        return Err(refused(
            true,
            format!("a SCIM directory never changes an owner's userName or email (`{name}`)"),
        ));
    }
    if roles_changed {
        if crate::service::owners::is_last_owner(conn, s.org, &before.id)? {
            return Err(ScimApiError::mutability(format!(
                "cannot change the roles of `{name}`: the last active owner of the organization keeps the owner role"
            )));
        }
        return Err(refused(
            true,
            format!("a SCIM directory never changes an owner's role (`{name}`)"),
        ));
    }
    if !w.active && before.status == UserStatus::Active {
        own_owner(s, before, "suspend")?;
    }
    Ok(())
}

/// A directory may suspend or deprovision only an owner it provisioned itself.
fn own_owner(s: &Scope<'_>, user: &User, what: &str) -> Result<(), ScimApiError> {
    if user.source == UserSource::Scim && user.directory_id.as_ref() == Some(&s.directory.id) {
        Ok(())
    } else {
        Err(refused(
            true,
            format!(
                "a SCIM directory may {what} only owners it provisioned itself; `{}` was not",
                user.user_name
            ),
        ))
    }
}

/// Apply workspaces named by the rollcall extension.
fn apply_extension_workspaces(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    user: &UserId,
    workspaces: Option<(Vec<String>, Option<String>)>,
) -> Result<(), ScimApiError> {
    let Some((list, home)) = workspaces else {
        return Ok(());
    };
    let ids = list
        .iter()
        .map(|w| {
            s.op.workspace(w)
                .map(|x| authz::WorkspaceId::new(x.id.as_str()))
        })
        .collect::<Result<BTreeSet<_>, _>>()?;
    let home = home
        .map(|h| {
            s.op.workspace(&h)
                .map(|x| authz::WorkspaceId::new(x.id.as_str()))
        })
        .transpose()?;
    store::access::put_workspace_access(
        conn,
        user,
        &WorkspaceAccess {
            list: WorkspaceList::Only(ids),
            home,
        },
    )?;
    Ok(())
}

/// `POST /Users`: create, or adopt the user the gateway already has for
/// this person (invite, SSO, admin). Runs its own transaction: on
/// PostgreSQL the common case — nobody of that name or email yet — is one
/// statement ([`store::users::insert_scim_user_pg`]); anything else takes
/// the general path.
pub fn create_user(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    body: Value,
) -> Result<Rendered, ScimApiError> {
    let normalized = normalize_for_write(body, &USER)?;
    let w = user_write(s, normalized.doc, None, false)?;
    check_directory_rules(conn, s, None, &w)?;
    if let (DbConnection::Pg(pg), None) = (&mut *conn, &w.workspaces) {
        let (user, binding) = new_user(s, &w);
        let audit = audit_user(s, "user.created", None, Some(&user));
        let binding_cols = binding
            .as_ref()
            .map(|b| (b.id.as_str(), b.role.as_str(), b.source.as_str()));
        if store::users::insert_scim_user_pg(pg, &user, binding_cols, &w.values, &audit)? {
            return Ok(render_user(s, &user, &[]));
        }
    }
    store::write_tx(conn, |c| create_user_in_tx(c, s, w))
}

/// A user as SCIM creates it, with the org-level binding its snapshot names:
/// no group of this directory holds them yet, so their role comes from the
/// SCIM `roles` attribute (or the rollcall extension) or the org default.
fn new_user(s: &Scope<'_>, w: &UserWrite) -> (User, Option<Binding>) {
    let id = UserId::generate();
    let binding =
        role_sources::initial_binding(s.op, s.org, &w.fields.scim).map(|(role, source)| Binding {
            id: BindingId::new(uuid::Uuid::now_v7().to_string()),
            principal: Principal::User(authz::UserId::new(id.as_str())),
            role,
            scope: BindingScope::Org,
            source,
        });
    let f = &w.fields;
    let user = User {
        id,
        org_id: s.org.id.clone(),
        user_name: f.user_name.as_str().to_owned(),
        email: f.email.as_ref().map(|e| e.as_str().to_owned()),
        given_name: f.given_name.clone(),
        family_name: f.family_name.clone(),
        display_name: f.display_name.clone(),
        external_id: f.external_id.clone(),
        directory_id: f.directory_id.clone(),
        status: f.status,
        source: f.source,
        scim: f.scim.clone(),
        version: 1,
        created_at: s.ctx.now,
        updated_at: s.ctx.now,
        deprovisioned_at: None,
        access: AccessSnapshot {
            bindings: binding.iter().cloned().collect(),
            ..AccessSnapshot::default()
        },
    };
    (user, binding)
}

fn create_user_in_tx(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    w: UserWrite,
) -> Result<Rendered, ScimApiError> {
    let existing = store::users::find_by_name_or_email(
        conn,
        &s.org.id,
        w.fields.user_name.canonical(),
        w.fields.email.as_ref().map(Email::canonical),
    )?;
    if let Some(other) = existing.iter().find(|u| u.directory_id.is_some()) {
        let whose = if other.directory_id.as_ref() == Some(&s.directory.id) {
            "this directory already has"
        } else {
            "another directory provisions"
        };
        return Err(ScimApiError::Conflict(format!(
            "{whose} a user with this userName or email (`{}`)",
            other.user_name
        )));
    }
    if existing.len() > 1 {
        return Err(ScimApiError::Conflict(
            "the userName and the email belong to two different users of the organization"
                .to_owned(),
        ));
    }
    if let Some(found) = existing.into_iter().next() {
        return adopt(conn, s, found, w);
    }
    let (user, binding) = new_user(s, &w);
    let user = store::users::insert_with(
        conn,
        &user.id,
        &s.org.id,
        &w.fields,
        &user.access,
        s.ctx.now,
    )?;
    if let Some(b) = &binding {
        store::access::insert_org_binding_row(conn, &s.org.id, &user.id, b, None, s.ctx.now)?;
    }
    store::scim::insert_values(conn, &user.id, &s.directory.id, &w.values)?;
    let user = if w.workspaces.is_some() {
        apply_extension_workspaces(conn, s, &user.id, w.workspaces)?;
        store::users::get(conn, &s.org.id, &user.id)?
    } else {
        user
    };
    audit::insert(conn, &[audit_user(s, "user.created", None, Some(&user))])?;
    Ok(render_user(s, &user, &[]))
}

fn adopt(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    found: User,
    mut w: UserWrite,
) -> Result<Rendered, ScimApiError> {
    if holds_owner(s, &found) {
        return Err(refused(
            true,
            format!(
                "a SCIM directory never adopts an owner (`{}` already exists in the organization)",
                found.user_name
            ),
        ));
    }
    w.fields.source = found.source;
    if !w.active {
        guard_last_owner(conn, s, &found, "deactivate")?;
    }
    let user = store::users::update(conn, &found, found.version, &w.fields, s.ctx.now)?;
    store::scim::insert_values(conn, &user.id, &s.directory.id, &w.values)?;
    role_sources::reapply(conn, s.ctx, s.org, s.op, std::slice::from_ref(&user.id))?;
    apply_extension_workspaces(conn, s, &user.id, w.workspaces)?;
    let user = store::users::get(conn, &s.org.id, &user.id)?;
    audit::insert(
        conn,
        &[audit_user(s, "user.adopted", Some(&found), Some(&user))],
    )?;
    // An invited user the directory adopts as active: the invite closes.
    crate::service::invites::close_on_activation(conn, s.ctx, &user, "scim")?;
    Ok(render_user(s, &user, &[]))
}

fn live_user(conn: &mut DbConnection, s: &Scope<'_>, id: &str) -> Result<User, ScimApiError> {
    store::users::in_directory(conn, &s.directory.id, id).map_err(|e| match e {
        StoreError::NotFound => not_found("User", id),
        other => other.into(),
    })
}

pub fn get_user(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
) -> Result<Rendered, ScimApiError> {
    let user = live_user(conn, s, id)?;
    let groups = user_groups(conn, s, &user.id)?;
    Ok(render_user(s, &user, &groups))
}

/// Write a changed user: fields with a version check, indexed values, the
/// role sources when `roles` or the extension changed, and the audit event.
fn save_user(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    before: &User,
    w: UserWrite,
    action: &'static str,
) -> Result<Rendered, ScimApiError> {
    if !w.active && before.status == UserStatus::Active {
        guard_last_owner(conn, s, before, "deactivate")?;
    }
    check_directory_rules(conn, s, Some(before), &w)?;
    let roles_changed = before.scim.get("roles") != w.fields.scim.get("roles")
        || before.scim.get(urn::ROLLCALL_USER) != w.fields.scim.get(urn::ROLLCALL_USER);
    let old_values = index::user_values(&before.scim);
    let mut fields = w.fields;
    // An invited user activated by SCIM becomes active; a suspended one returns.
    fields.source = before.source;
    let user = store::users::update(conn, before, before.version, &fields, s.ctx.now)?;
    store::scim::put_values(conn, &user.id, &s.directory.id, &old_values, &w.values)?;
    let mut user = user;
    if roles_changed {
        role_sources::reapply(conn, s.ctx, s.org, s.op, std::slice::from_ref(&user.id))?;
        user = store::users::get(conn, &s.org.id, &user.id)?;
    }
    if w.workspaces.is_some() {
        apply_extension_workspaces(conn, s, &user.id, w.workspaces)?;
        user = store::users::get(conn, &s.org.id, &user.id)?;
    }
    let action = match (before.status, user.status) {
        (UserStatus::Active, UserStatus::Suspended) => "user.suspended",
        (UserStatus::Suspended, UserStatus::Active) => "user.reactivated",
        _ => action,
    };
    audit::insert(conn, &[audit_user(s, action, Some(before), Some(&user))])?;
    let groups = user_groups(conn, s, &user.id)?;
    Ok(render_user(s, &user, &groups))
}

/// One attempt of [`replace_user`] (see [`retrying`]).
fn replace_user_once(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
    body: Value,
    if_match: &[Precondition],
) -> Result<Rendered, ScimApiError> {
    let before = live_user(conn, s, id)?;
    check_if_match(if_match, before.version)?;
    if let Some(given) = body.get("id").and_then(Value::as_str)
        && given != before.id.as_str()
    {
        return Err(ScimApiError::mutability("id cannot be changed"));
    }
    let normalized = normalize_for_write(body, &USER)?;
    let previous_ext = render_user(s, &before, &[])
        .body
        .get(urn::ROLLCALL_USER)
        .cloned();
    let w = user_write(s, normalized.doc, previous_ext.as_ref(), false)?;
    save_user(conn, s, &before, w, "user.replaced")
}

/// One attempt of [`patch_user`] (see [`retrying`]).
fn patch_user_once(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
    body: &Value,
    if_match: &[Precondition],
) -> Result<Rendered, ScimApiError> {
    let req = PatchRequest::parse(body)?;
    let before = live_user(conn, s, id)?;
    check_if_match(if_match, before.version)?;
    // Patch what the client sees (id, active, the extension), then split it again.
    let mut doc = render_user(s, &before, &[]).body;
    if let Some(o) = doc.as_object_mut() {
        o.remove("meta");
    }
    let previous_ext = doc.get(urn::ROLLCALL_USER).cloned();
    let outcome = crate::scim::patch::apply(&mut doc, &req, &USER)?;
    if !outcome.changed {
        let groups = user_groups(conn, s, &before.id)?;
        return Ok(render_user(s, &before, &groups));
    }
    let w = user_write(s, doc, previous_ext.as_ref(), true)?;
    save_user(conn, s, &before, w, "user.updated")
}

/// One attempt of [`delete_user`] (see [`retrying`]).
fn delete_user_once(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
    if_match: &[Precondition],
) -> Result<(), ScimApiError> {
    let before = live_user(conn, s, id)?;
    check_if_match(if_match, before.version)?;
    guard_last_owner(conn, s, &before, "delete")?;
    if holds_owner(s, &before) {
        own_owner(s, &before, "deprovision")?;
    }
    let mut fields = UserFields::of(&before)?;
    fields.status = UserStatus::Deprovisioned;
    let after = store::users::update(conn, &before, before.version, &fields, s.ctx.now)?;
    let left = store::groups::remove_user_from_directory_groups(conn, &before.id, &s.directory.id)?;
    let mut events = vec![audit_user(
        s,
        "user.deprovisioned",
        Some(&before),
        Some(&after),
    )];
    for g in left {
        events.push(s.ctx.event(
            Some(&s.org.id),
            "group.members_removed",
            "group",
            Some(g.to_string()),
            None,
            Some(json!({"removed": [before.id]})),
        ));
    }
    audit::insert(conn, &events)?;
    Ok(())
}

// ====================================================================== groups

fn live_group(conn: &mut DbConnection, s: &Scope<'_>, id: &str) -> Result<Group, ScimApiError> {
    store::groups::in_directory(conn, &s.directory.id, id).map_err(|e| match e {
        StoreError::NotFound => not_found("Group", id),
        other => other.into(),
    })
}

/// The full SCIM representation of a group; `members` when given.
pub fn render_group(
    s: &Scope<'_>,
    group: &Group,
    members: Option<&[(String, String)]>,
) -> Rendered {
    let location = format!("{}/Groups/{}", s.base_url, group.id);
    let mut doc = match &group.scim {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    doc.insert("id".into(), json!(group.id));
    doc.insert("displayName".into(), json!(group.display_name));
    if !doc.contains_key("schemas") {
        doc.insert("schemas".into(), json!([urn::GROUP]));
    }
    if let Some(members) = members {
        doc.insert(
            "members".into(),
            Value::Array(
                members
                    .iter()
                    .map(|(id, _)| json!({"value": id, "$ref": format!("{}/Users/{id}", s.base_url), "type": "User"}))
                    .collect(),
            ),
        );
    }
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": time(group.created_at),
            "lastModified": time(group.updated_at),
            "location": location,
            "version": etag(group.version),
        }),
    );
    Rendered {
        body: Value::Object(doc),
        version: group.version,
        location,
    }
}

/// Members named by a client must be live users of this directory.
fn resolve_members(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    ids: &[String],
) -> Result<Vec<(String, String)>, ScimApiError> {
    let mut wanted: Vec<String> = Vec::with_capacity(ids.len());
    let mut seen = BTreeSet::new();
    for id in ids {
        if seen.insert(id.as_str()) {
            wanted.push(id.clone());
        }
    }
    let found = store::users::live_in_directory(conn, &s.directory.id, &wanted)?;
    let by_id: HashMap<String, String> = found
        .into_iter()
        .map(|(id, user_name, display)| (id, display.unwrap_or(user_name)))
        .collect();
    let unknown: Vec<&str> = wanted
        .iter()
        .filter(|id| !by_id.contains_key(*id))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(ScimApiError::invalid_value(format!(
            "members: no user of this directory has id {}{}",
            unknown
                .iter()
                .take(10)
                .map(|u| format!("`{}`", crate::domain::names::excerpt(u)))
                .collect::<Vec<_>>()
                .join(", "),
            match unknown.len() {
                n if n > 10 => format!(" (and {} more)", n - 10),
                _ => String::new(),
            }
        )));
    }
    Ok(wanted
        .into_iter()
        .map(|id| {
            let name = by_id[&id].clone();
            (id, name)
        })
        .collect())
}

fn group_fields(doc: &Value) -> Result<GroupFields, ScimApiError> {
    let display_name = text(doc, "displayName")
        .ok_or_else(|| ScimApiError::invalid_value("displayName is required"))?;
    let external_id = match doc.get("externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            return Err(ScimApiError::invalid_value(format!(
                "externalId must be a string, not {}",
                crate::domain::names::excerpt(&other.to_string())
            )));
        }
    };
    let mut scim = doc.clone();
    if let Some(o) = scim.as_object_mut() {
        for k in ["id", "meta", "members"] {
            o.remove(k);
        }
    }
    Ok(GroupFields {
        display_name,
        external_id,
        scim,
    })
}

fn duplicate_group(e: StoreError, name: &str) -> ScimApiError {
    match e {
        StoreError::Unique(store::UniqueField::DisplayName) => ScimApiError::Conflict(format!(
            "a group named `{name}` already exists in this directory"
        )),
        other => other.into(),
    }
}

/// After membership or a name changed: re-apply the directory's mappings to
/// the affected users if the group is (or was) mapped, and refresh access
/// snapshots if the group itself holds bindings.
fn membership_effects(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    group: &GroupId,
    names: &[&str],
    affected: &[UserId],
) -> Result<(), ScimApiError> {
    if affected.is_empty() {
        return Ok(());
    }
    let mappings = role_sources::directory_mappings(conn, s.org, s.op, &s.directory.id)?;
    if names
        .iter()
        .any(|n| role_sources::group_is_mapped(&mappings, group.as_str(), n))
    {
        role_sources::reapply(conn, s.ctx, s.org, s.op, affected)?;
    }
    if store::access::group_has_bindings(conn, group)? {
        store::access::refresh(conn, affected)?;
    }
    Ok(())
}

fn audit_members(
    s: &Scope<'_>,
    group: &GroupId,
    added: &[UserId],
    removed: &[UserId],
) -> Option<store::audit::NewAuditEvent> {
    (!added.is_empty() || !removed.is_empty()).then(|| {
        s.ctx.event(
            Some(&s.org.id),
            "group.members_changed",
            "group",
            Some(group.to_string()),
            None,
            Some(json!({"added": added, "removed": removed})),
        )
    })
}

fn group_view(g: &Group) -> Value {
    json!({"id": g.id, "displayName": g.display_name, "externalId": g.external_id, "version": g.version})
}

pub fn create_group(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    body: Value,
) -> Result<Rendered, ScimApiError> {
    let normalized = normalize_for_write(body, &GROUP)?;
    let fields = group_fields(&normalized.doc)?;
    let members = resolve_members(conn, s, normalized.members.as_deref().unwrap_or_default())?;
    let group = store::groups::insert(conn, &s.org.id, Some(&s.directory.id), &fields, s.ctx.now)
        .map_err(|e| duplicate_group(e, &fields.display_name))?;
    let ids: Vec<UserId> = members
        .iter()
        .map(|(id, _)| UserId::from_trusted(id.clone()))
        .collect();
    store::groups::add_members(conn, &group.id, &ids, s.ctx.now)?;
    membership_effects(conn, s, &group.id, &[&group.display_name], &ids)?;
    let mut events = vec![s.ctx.event(
        Some(&s.org.id),
        "group.created",
        "group",
        Some(group.id.to_string()),
        None,
        Some(group_view(&group)),
    )];
    events.extend(audit_members(s, &group.id, &ids, &[]));
    audit::insert(conn, &events)?;
    Ok(render_group(s, &group, Some(&members)))
}

pub fn get_group(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
    with_members: bool,
) -> Result<Rendered, ScimApiError> {
    let group = live_group(conn, s, id)?;
    let members = if with_members {
        Some(
            store::scim::members_of_groups(conn, std::slice::from_ref(&group.id))?
                .remove(group.id.as_str())
                .unwrap_or_default(),
        )
    } else {
        None
    };
    Ok(render_group(s, &group, members.as_deref()))
}

/// Apply membership edits; returns (added, removed).
fn change_members(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    group: &GroupId,
    changes: &crate::scim::MemberChanges,
) -> Result<(Vec<UserId>, Vec<UserId>), ScimApiError> {
    let to_ids = |v: &[String]| {
        v.iter()
            .map(|i| UserId::from_trusted(i.clone()))
            .collect::<Vec<_>>()
    };
    if let Some(all) = &changes.replace_all {
        resolve_members(conn, s, all)?;
        let current = store::groups::member_ids(conn, group)?;
        let wanted: BTreeSet<&str> = all.iter().map(String::as_str).collect();
        let gone: Vec<UserId> = current
            .iter()
            .filter(|u| !wanted.contains(u.as_str()))
            .cloned()
            .collect();
        let removed = store::groups::remove_members(conn, group, &gone)?;
        let added = store::groups::add_members(conn, group, &to_ids(all), s.ctx.now)?;
        return Ok((added, removed));
    }
    if !changes.add.is_empty() {
        resolve_members(conn, s, &changes.add)?;
    }
    let removed = store::groups::remove_members(conn, group, &to_ids(&changes.remove))?;
    let added = store::groups::add_members(conn, group, &to_ids(&changes.add), s.ctx.now)?;
    Ok((added, removed))
}

fn save_group(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    before: &Group,
    fields: Option<GroupFields>,
    members: &crate::scim::MemberChanges,
    action: &'static str,
) -> Result<Group, ScimApiError> {
    let (added, removed) = change_members(conn, s, &before.id, members)?;
    let group = match &fields {
        Some(f) => store::groups::update(conn, before, before.version, f, s.ctx.now)
            .map_err(|e| duplicate_group(e, &f.display_name))?,
        // The version is checked and bumped in one statement: a membership
        // change never lands on a version the client did not see.
        None if !added.is_empty() || !removed.is_empty() => {
            store::groups::touch(conn, &before.id, before.version, s.ctx.now)?;
            store::groups::get(conn, &s.org.id, &before.id)?
        }
        None => before.clone(),
    };
    let renamed = group.display_name != before.display_name;
    let mut affected: Vec<UserId> = added.iter().chain(&removed).cloned().collect();
    if renamed {
        // A rename can make the group (un)mapped for every member.
        affected = store::groups::member_ids(conn, &group.id)?;
        affected.extend(removed.iter().cloned());
    }
    membership_effects(
        conn,
        s,
        &group.id,
        &[&before.display_name, &group.display_name],
        &affected,
    )?;
    let mut events = Vec::new();
    if fields.is_some() && group.version != before.version {
        events.push(s.ctx.event(
            Some(&s.org.id),
            action,
            "group",
            Some(group.id.to_string()),
            Some(group_view(before)),
            Some(group_view(&group)),
        ));
    }
    events.extend(audit_members(s, &group.id, &added, &removed));
    audit::insert(conn, &events)?;
    Ok(group)
}

/// One attempt of [`replace_group`] (see [`retrying`]).
fn replace_group_once(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
    body: Value,
    if_match: &[Precondition],
) -> Result<Rendered, ScimApiError> {
    let before = live_group(conn, s, id)?;
    check_if_match(if_match, before.version)?;
    let normalized = normalize_for_write(body, &GROUP)?;
    let fields = group_fields(&normalized.doc)?;
    let changes = crate::scim::MemberChanges {
        replace_all: Some(normalized.members.unwrap_or_default()),
        ..Default::default()
    };
    let group = save_group(conn, s, &before, Some(fields), &changes, "group.replaced")?;
    let members = store::scim::members_of_groups(conn, std::slice::from_ref(&group.id))?
        .remove(group.id.as_str())
        .unwrap_or_default();
    Ok(render_group(s, &group, Some(&members)))
}

/// One attempt of [`patch_group`] (see [`retrying`]).
fn patch_group_once(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
    body: &Value,
    if_match: &[Precondition],
) -> Result<Rendered, ScimApiError> {
    let req = PatchRequest::parse(body)?;
    let before = live_group(conn, s, id)?;
    check_if_match(if_match, before.version)?;
    let mut doc = render_group(s, &before, None).body;
    if let Some(o) = doc.as_object_mut() {
        o.remove("meta");
    }
    let outcome = crate::scim::patch::apply(&mut doc, &req, &GROUP)?;
    let fields = if outcome.changed {
        Some(group_fields(&doc)?)
    } else {
        None
    };
    let group = save_group(conn, s, &before, fields, &outcome.members, "group.updated")?;
    Ok(render_group(s, &group, None))
}

/// One attempt of [`delete_group`] (see [`retrying`]).
fn delete_group_once(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
    if_match: &[Precondition],
) -> Result<(), ScimApiError> {
    let before = live_group(conn, s, id)?;
    check_if_match(if_match, before.version)?;
    let members = store::groups::member_ids(conn, &before.id)?;
    let mappings = role_sources::directory_mappings(conn, s.org, s.op, &s.directory.id)?;
    let mapped = role_sources::group_is_mapped(&mappings, before.id.as_str(), &before.display_name);
    let had_bindings = store::access::group_has_bindings(conn, &before.id)?;
    store::groups::delete(conn, &before.id)?;
    if mapped {
        role_sources::reapply(conn, s.ctx, s.org, s.op, &members)?;
    }
    if had_bindings {
        store::access::refresh(conn, &members)?;
    }
    audit::insert(
        conn,
        &[s.ctx.event(
            Some(&s.org.id),
            "group.deleted",
            "group",
            Some(before.id.to_string()),
            Some(group_view(&before)),
            None,
        )],
    )?;
    Ok(())
}

// ============================================================ version races

/// Run one write attempt in a savepoint. A client that sent no `If-Match`
/// asked for no precondition, so a version race it lost (another writer
/// committed in between) is retried on the fresh state, a bounded number of
/// times — never answered with 412. With `If-Match`, the 412 stands.
fn retrying<T>(
    conn: &mut DbConnection,
    if_match: &[Precondition],
    mut attempt: impl FnMut(&mut DbConnection) -> Result<T, ScimApiError>,
) -> Result<T, ScimApiError> {
    use diesel::Connection;
    // Each lost race means another writer committed: a client loses at
    // most once per concurrent writer, so this bound is only reached
    // under sustained contention on one resource (then 503, Retry-After).
    for _ in 0..16 {
        match conn.transaction(|c| attempt(c)) {
            Err(ScimApiError::PreconditionFailed(_)) if if_match.is_empty() => continue,
            other => return other,
        }
    }
    Err(ScimApiError::Unavailable(
        "the resource keeps changing under concurrent writes; retry the request".to_owned(),
    ))
}

/// `PUT /Users/{id}`: full replace (attributes not sent are cleared).
pub fn replace_user(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
    body: Value,
    if_match: &[Precondition],
) -> Result<Rendered, ScimApiError> {
    retrying(conn, if_match, |c| {
        replace_user_once(c, s, id, body.clone(), if_match)
    })
}

/// `PATCH /Users/{id}` (RFC 7644 §3.5.2, with the Okta and Entra dialects).
pub fn patch_user(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
    body: &Value,
    if_match: &[Precondition],
) -> Result<Rendered, ScimApiError> {
    retrying(conn, if_match, |c| {
        patch_user_once(c, s, id, body, if_match)
    })
}

/// `DELETE /Users/{id}`: deprovision (soft; later GETs are 404, audit stays).
pub fn delete_user(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
    if_match: &[Precondition],
) -> Result<(), ScimApiError> {
    retrying(conn, if_match, |c| delete_user_once(c, s, id, if_match))
}

/// `PUT /Groups/{id}`: full replace, including `members` when sent.
pub fn replace_group(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
    body: Value,
    if_match: &[Precondition],
) -> Result<Rendered, ScimApiError> {
    retrying(conn, if_match, |c| {
        replace_group_once(c, s, id, body.clone(), if_match)
    })
}

/// `PATCH /Groups/{id}`: attribute changes and membership edits.
pub fn patch_group(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
    body: &Value,
    if_match: &[Precondition],
) -> Result<Rendered, ScimApiError> {
    retrying(conn, if_match, |c| {
        patch_group_once(c, s, id, body, if_match)
    })
}

pub fn delete_group(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    id: &str,
    if_match: &[Precondition],
) -> Result<(), ScimApiError> {
    retrying(conn, if_match, |c| delete_group_once(c, s, id, if_match))
}

// ====================================================================== listing

/// Query parameters of a list or search (RFC 7644 §3.4.2, §3.4.3).
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    /// RFC 9865: present (even empty) asks for cursor paging.
    pub cursor: Option<String>,
}

/// The server's paging limits and cursor settings.
#[derive(Debug, Clone)]
pub struct Paging {
    pub default_page: u32,
    pub max_page: u32,
    pub cursor_key: crate::configuration::CursorKey,
    pub cursor_timeout: std::time::Duration,
}

impl Paging {
    pub fn from_settings(s: &crate::configuration::ScimSettings) -> Paging {
        Paging {
            default_page: s.default_page_size,
            max_page: s.max_page_size,
            cursor_key: s.cursor_key.clone(),
            cursor_timeout: s.cursor_timeout,
        }
    }
}

/// Projection requested with `attributes` / `excludedAttributes`.
pub struct Projection {
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

impl Projection {
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Projection, ScimApiError> {
        let list = |s: Option<&str>| -> Result<Vec<AttrPath>, ScimApiError> {
            match s.map(str::trim).filter(|s| !s.is_empty()) {
                Some(s) => parse_attribute_list(s)
                    .map_err(|e| ScimApiError::BadRequest(ScimType::InvalidValue, e.to_string())),
                None => Ok(Vec::new()),
            }
        };
        Ok(Projection {
            attributes: list(attributes)?,
            excluded: list(excluded)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    pub fn apply(&self, body: &Value, rt: &crate::scim::ResourceTypeDef) -> Value {
        if self.is_empty() {
            body.clone()
        } else {
            project(body, rt, &self.attributes, &self.excluded)
        }
    }

    /// Whether `members` will be shown (so they are worth loading).
    pub fn wants_members(&self) -> bool {
        let named = |list: &[AttrPath]| list.iter().any(|p| p.attr.eq_ignore_ascii_case("members"));
        if named(&self.excluded) {
            return false;
        }
        self.attributes.is_empty() || named(&self.attributes)
    }
}

fn parse_filter(text: Option<&str>) -> Result<Option<Filter>, ScimApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => Filter::parse(t)
            .map(Some)
            .map_err(|e| ScimApiError::BadRequest(ScimType::InvalidFilter, e.to_string())),
    }
}

fn page_bounds(p: &ListParams, default: u32, max: u32) -> (i64, i64) {
    let start = p.start_index.unwrap_or(1).max(1);
    let count = p
        .count
        .unwrap_or(i64::from(default))
        .clamp(0, i64::from(max));
    (start, count)
}

fn descending(p: &ListParams) -> Result<bool, ScimApiError> {
    match p
        .sort_order
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("ascending") => Ok(false),
        Some("descending") => Ok(true),
        Some(other) => Err(ScimApiError::invalid_value(format!(
            "sortOrder must be ascending or descending, not `{other}`"
        ))),
    }
}

fn list_response(resources: Vec<Value>, total: i64, start: i64) -> Value {
    json!({
        "schemas": [urn::LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// A listing request, parsed and checked against the resource type before
/// any query runs.
struct Listing<S> {
    filter: Option<Filter>,
    projection: Projection,
    spec: ListSpec<S>,
    start: i64,
}

fn prepare<S>(
    p: &ListParams,
    rt: &crate::scim::ResourceTypeDef,
    sortable: impl Fn(&AttrPath) -> Result<S, store::scim::FilterUnsupported>,
    default_page: u32,
    max_page: u32,
) -> Result<Listing<S>, ScimApiError> {
    let filter = parse_filter(p.filter.as_deref())?;
    if let Some(f) = &filter {
        crate::scim::filter::validate(f, rt)
            .map_err(|e| ScimApiError::BadRequest(ScimType::InvalidFilter, e.to_string()))?;
    }
    let projection = Projection::parse(p.attributes.as_deref(), p.excluded_attributes.as_deref())?;
    let sort = match p
        .sort_by
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(path) => {
            let path =
                AttrPath::parse(path).map_err(|e| ScimApiError::invalid_value(e.to_string()))?;
            Some((
                sortable(&path).map_err(|e| ScimApiError::invalid_value(e.0))?,
                descending(p)?,
            ))
        }
        None => None,
    };
    let (start, count) = page_bounds(p, default_page, max_page);
    Ok(Listing {
        filter,
        projection,
        spec: ListSpec {
            sort,
            offset: start - 1,
            limit: count,
        },
        start,
    })
}

pub fn list_users(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    p: &ListParams,
    paging: &Paging,
) -> Result<Value, ScimApiError> {
    if p.cursor.is_some() {
        return cursor_page(conn, s, p, &[Kind::Users], "Users", paging);
    }
    let l = prepare(
        p,
        &USER,
        store::scim::user_sort,
        paging.default_page,
        paging.max_page,
    )?;
    let page =
        store::scim::list_users(conn, &s.org.id, &s.directory.id, l.filter.as_ref(), &l.spec)?;
    let ids: Vec<UserId> = page.items.iter().map(|u| u.id.clone()).collect();
    let mut groups = store::scim::groups_of_users(conn, &s.directory.id, &ids)?;
    let resources = page
        .items
        .iter()
        .map(|u| {
            let g = groups.remove(u.id.as_str()).unwrap_or_default();
            l.projection.apply(&render_user(s, u, &g).body, &USER)
        })
        .collect();
    Ok(list_response(resources, page.total, l.start))
}

pub fn list_groups(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    p: &ListParams,
    paging: &Paging,
) -> Result<Value, ScimApiError> {
    if p.cursor.is_some() {
        return cursor_page(conn, s, p, &[Kind::Groups], "Groups", paging);
    }
    let l = prepare(
        p,
        &GROUP,
        store::scim::group_sort,
        paging.default_page,
        paging.max_page,
    )?;
    let page = store::scim::list_groups(conn, &s.directory.id, l.filter.as_ref(), &l.spec)?;
    let mut members = if l.projection.wants_members() {
        let ids: Vec<GroupId> = page.items.iter().map(|g| g.id.clone()).collect();
        Some(store::scim::members_of_groups(conn, &ids)?)
    } else {
        None
    };
    let resources = page
        .items
        .iter()
        .map(|g| {
            let m = members
                .as_mut()
                .map(|m| m.remove(g.id.as_str()).unwrap_or_default());
            l.projection
                .apply(&render_group(s, g, m.as_deref()).body, &GROUP)
        })
        .collect();
    Ok(list_response(resources, page.total, l.start))
}

/// `POST /.search` at the root: the resource types the filter can apply to
/// (a filter naming `userName` only concerns Users), paged over their union.
pub fn search_all(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    p: &ListParams,
    paging: &Paging,
) -> Result<Value, ScimApiError> {
    let (default_page, max_page) = (paging.default_page, paging.max_page);
    let filter = parse_filter(p.filter.as_deref())?;
    let applies = |rt| {
        filter
            .as_ref()
            .is_none_or(|f| crate::scim::filter::validate(f, rt).is_ok())
    };
    let (for_users, for_groups) = (applies(&USER), applies(&GROUP));
    if !for_users && !for_groups {
        let f = filter
            .as_ref()
            .expect("a filter exists when neither type applies");
        let e = crate::scim::filter::validate(f, &USER)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        return Err(ScimApiError::BadRequest(ScimType::InvalidFilter, e));
    }
    // Users come first, then groups. Each type is asked only for the part
    // of the page that falls in it (and for its total), so the work is
    // bounded by `count`, whatever `startIndex` is.
    if p.cursor.is_some() {
        let kinds: Vec<Kind> = [(for_users, Kind::Users), (for_groups, Kind::Groups)]
            .into_iter()
            .filter_map(|(applies, k)| applies.then_some(k))
            .collect();
        return cursor_page(conn, s, p, &kinds, "root", paging);
    }
    let (start, count) = page_bounds(p, default_page, max_page);
    let offset = start - 1;
    let resources = |v: &mut Value| match v.get_mut("Resources").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let total_of = |v: &Value| v["totalResults"].as_i64().unwrap_or(0);
    let (mut all, user_total) = if for_users {
        let page = ListParams {
            start_index: Some(start),
            count: Some(count),
            ..p.clone()
        };
        let mut users = list_users(conn, s, &page, paging)?;
        (resources(&mut users), total_of(&users))
    } else {
        (Vec::new(), 0)
    };
    let group_total = if for_groups {
        let page = ListParams {
            start_index: Some((offset - user_total).max(0) + 1),
            count: Some(count - all.len() as i64),
            ..p.clone()
        };
        let mut groups = list_groups(conn, s, &page, paging)?;
        all.extend(resources(&mut groups));
        total_of(&groups)
    } else {
        0
    };
    Ok(list_response(all, user_total + group_total, start))
}

// ====================================================================== cursor paging

/// A row of a cursor walk, before rendering.
enum Row {
    User(Box<User>),
    Group(Box<Group>),
}

impl Row {
    fn position(&self) -> Position {
        let (kind, created, id) = match self {
            Row::User(u) => (Kind::Users, u.created_at, u.id.as_str()),
            Row::Group(g) => (Kind::Groups, g.created_at, g.id.as_str()),
        };
        Position {
            kind,
            created_micros: created.and_utc().timestamp_micros(),
            id: id.to_owned(),
        }
    }
}

fn invalid_cursor() -> ScimApiError {
    ScimApiError::BadRequest(
        ScimType::InvalidCursor,
        "the cursor is not one this server issued for this query (same endpoint, filter and \
         sort); send an empty cursor to start again"
            .into(),
    )
}

/// One keyset step in one resource table: rows strictly after (`ascending`)
/// or before `from`, nearest first.
fn fetch_rows(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    kind: Kind,
    filter: Option<&Filter>,
    from: Option<&Position>,
    ascending: bool,
    limit: usize,
) -> Result<Vec<Row>, ScimApiError> {
    let from = match from {
        None => None,
        Some(p) => Some((
            chrono::DateTime::from_timestamp_micros(p.created_micros)
                .ok_or_else(invalid_cursor)?
                .naive_utc(),
            p.id.clone(),
        )),
    };
    let k = store::scim::Keyset {
        from,
        ascending,
        limit: limit as i64,
    };
    Ok(match kind {
        Kind::Users => store::scim::users_keyset(conn, &s.org.id, &s.directory.id, filter, &k)?
            .into_iter()
            .map(|u| Row::User(Box::new(u)))
            .collect(),
        Kind::Groups => store::scim::groups_keyset(conn, &s.directory.id, filter, &k)?
            .into_iter()
            .map(|g| Row::Group(Box::new(g)))
            .collect(),
    })
}

/// Walks `order` (the resource tables in walk order) from `start`, forward
/// or backward, collecting up to `limit` rows in the direction walked.
#[allow(clippy::too_many_arguments)]
fn walk(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    order: &[Kind],
    filter: Option<&Filter>,
    descending: bool,
    start: Option<&Position>,
    forward: bool,
    limit: usize,
) -> Result<Vec<Row>, ScimApiError> {
    let first = match start {
        None if forward => 0,
        None => order.len().saturating_sub(1),
        Some(p) => order
            .iter()
            .position(|k| *k == p.kind)
            .ok_or_else(invalid_cursor)?,
    };
    let segments: Vec<usize> = if forward {
        (first..order.len()).collect()
    } else {
        (0..=first).rev().collect()
    };
    let mut rows = Vec::new();
    let mut from = start;
    for seg in segments {
        if rows.len() >= limit {
            break;
        }
        let ascending = forward != descending;
        let got = fetch_rows(
            conn,
            s,
            order[seg],
            filter,
            from.take(),
            ascending,
            limit - rows.len(),
        )?;
        rows.extend(got);
    }
    Ok(rows)
}

fn render_rows(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    rows: &[Row],
    projection: &Projection,
) -> Result<Vec<Value>, ScimApiError> {
    let user_ids: Vec<UserId> = rows
        .iter()
        .filter_map(|r| match r {
            Row::User(u) => Some(u.id.clone()),
            Row::Group(_) => None,
        })
        .collect();
    let group_ids: Vec<GroupId> = rows
        .iter()
        .filter_map(|r| match r {
            Row::Group(g) => Some(g.id.clone()),
            Row::User(_) => None,
        })
        .collect();
    let mut groups = store::scim::groups_of_users(conn, &s.directory.id, &user_ids)?;
    let mut members = if projection.wants_members() && !group_ids.is_empty() {
        Some(store::scim::members_of_groups(conn, &group_ids)?)
    } else {
        None
    };
    Ok(rows
        .iter()
        .map(|r| match r {
            Row::User(u) => {
                let g = groups.remove(u.id.as_str()).unwrap_or_default();
                projection.apply(&render_user(s, u, &g).body, &USER)
            }
            Row::Group(g) => {
                let m = members
                    .as_mut()
                    .map(|m| m.remove(g.id.as_str()).unwrap_or_default());
                projection.apply(&render_group(s, g, m.as_deref()).body, &GROUP)
            }
        })
        .collect())
}

/// A page of cursor-based pagination (RFC 9865) over the resource tables
/// `kinds`, in the stable order `(meta.created, id)` (ascending, or
/// descending with `sortBy=meta.created&sortOrder=descending`). `nextCursor`
/// is present exactly when more results follow; `previousCursor` when the
/// page is not the first. Every page re-applies the filter and the
/// directory's scope: a cursor is only a position.
fn cursor_page(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    p: &ListParams,
    kinds: &[Kind],
    endpoint: &str,
    paging: &Paging,
) -> Result<Value, ScimApiError> {
    if p.start_index.is_some() {
        return Err(ScimApiError::invalid_value(
            "send either startIndex (index paging) or cursor (cursor paging, RFC 9865), not both",
        ));
    }
    let filter = parse_filter(p.filter.as_deref())?;
    if let Some(f) = &filter {
        for kind in kinds {
            let rt = match kind {
                Kind::Users => &USER,
                Kind::Groups => &GROUP,
            };
            crate::scim::filter::validate(f, rt)
                .map_err(|e| ScimApiError::BadRequest(ScimType::InvalidFilter, e.to_string()))?;
        }
    }
    let projection = Projection::parse(p.attributes.as_deref(), p.excluded_attributes.as_deref())?;
    let sort_by = p
        .sort_by
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let descending = descending(p)? && sort_by.is_some();
    if let Some(sort_by) = sort_by {
        let path =
            AttrPath::parse(sort_by).map_err(|e| ScimApiError::invalid_value(e.to_string()))?;
        let created = path.urn.is_none()
            && path.attr.eq_ignore_ascii_case("meta")
            && path
                .sub_attr
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case("created"));
        if !created {
            return Err(ScimApiError::invalid_value(format!(
                "cursor paging walks resources in creation order (sortBy=meta.created), which \
                 never changes, so no resource is skipped or repeated; `{sort_by}` is only \
                 available with index paging (startIndex)"
            )));
        }
    }
    let count = match p.count {
        None => i64::from(paging.default_page),
        Some(c) if c < 1 => {
            return Err(ScimApiError::BadRequest(
                ScimType::InvalidCount,
                format!(
                    "count must be between 1 and maxPageSize ({}) with cursor paging",
                    paging.max_page
                ),
            ));
        }
        Some(c) => c.min(i64::from(paging.max_page)),
    } as usize;
    let context = format!(
        "{endpoint}\n{}\n{}\n{descending}",
        s.directory.id,
        filter.as_ref().map(ToString::to_string).unwrap_or_default()
    );
    let now = s.ctx.now.and_utc().timestamp();
    let key = paging.cursor_key.bytes();
    let cursor = match p.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => Some(
            crate::scim::cursor::decode(key, &context, text, now, paging.cursor_timeout.as_secs())
                .map_err(|e| match e {
                    CursorError::Invalid => invalid_cursor(),
                    CursorError::Expired => ScimApiError::BadRequest(
                        ScimType::ExpiredCursor,
                        format!(
                            "the cursor is older than cursorTimeout ({} s); send an empty \
                             cursor to start again",
                            paging.cursor_timeout.as_secs()
                        ),
                    ),
                })?,
        ),
    };
    let order: Vec<Kind> = if descending {
        kinds.iter().rev().copied().collect()
    } else {
        kinds.to_vec()
    };
    let f = filter.as_ref();
    let forward_page = |conn: &mut DbConnection,
                        start: Option<&Position>|
     -> Result<(Vec<Row>, bool), ScimApiError> {
        let mut rows = walk(conn, s, &order, f, descending, start, true, count + 1)?;
        let more = rows.len() > count;
        rows.truncate(count);
        Ok((rows, more))
    };
    let (rows, next, previous) = match &cursor {
        None => {
            let (rows, more) = forward_page(conn, None)?;
            (rows, more, false)
        }
        Some(Cursor::After(at)) => {
            let (rows, more) = forward_page(conn, Some(at))?;
            let previous = !rows.is_empty();
            (rows, more, previous)
        }
        Some(Cursor::Before(at)) => {
            let mut rows = walk(conn, s, &order, f, descending, Some(at), false, count + 1)?;
            let more_before = rows.len() > count;
            rows.truncate(count);
            rows.reverse();
            match rows.last() {
                // Nothing before: the previous page of the first is the first.
                None => {
                    let (rows, more) = forward_page(conn, None)?;
                    (rows, more, false)
                }
                Some(last) => {
                    let after = walk(
                        conn,
                        s,
                        &order,
                        f,
                        descending,
                        Some(&last.position()),
                        true,
                        1,
                    )?;
                    (rows, !after.is_empty(), more_before)
                }
            }
        }
    };
    let mut total = 0;
    for kind in kinds {
        let spec_limit0 = |conn: &mut DbConnection| -> Result<i64, ScimApiError> {
            Ok(match kind {
                Kind::Users => {
                    store::scim::list_users(
                        conn,
                        &s.org.id,
                        &s.directory.id,
                        f,
                        &ListSpec {
                            sort: None,
                            offset: 0,
                            limit: 0,
                        },
                    )?
                    .total
                }
                Kind::Groups => {
                    store::scim::list_groups(
                        conn,
                        &s.directory.id,
                        f,
                        &ListSpec {
                            sort: None,
                            offset: 0,
                            limit: 0,
                        },
                    )?
                    .total
                }
            })
        };
        total += spec_limit0(conn)?;
    }
    let resources = render_rows(conn, s, &rows, &projection)?;
    let mut body = json!({
        "schemas": [urn::LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    let mint = |c: Cursor| crate::scim::cursor::encode(key, &context, &c, now);
    if next && let Some(last) = rows.last() {
        body["nextCursor"] = json!(mint(Cursor::After(last.position())));
    }
    if previous && let Some(first) = rows.first() {
        body["previousCursor"] = json!(mint(Cursor::Before(first.position())));
    }
    Ok(body)
}

// ====================================================================== discovery

/// The schemas this directory offers (the rollcall extension only where
/// [`extension_offered`]).
pub fn schemas_offered(s: &Scope<'_>) -> Vec<&'static crate::scim::SchemaDef> {
    crate::scim::all_schemas()
        .iter()
        .copied()
        .filter(|d| d.id != urn::ROLLCALL_USER || extension_offered(s))
        .collect()
}

/// A resource type as this directory offers it.
pub fn resource_type_document(s: &Scope<'_>, rt: &crate::scim::ResourceTypeDef) -> Value {
    let mut doc = crate::scim::resource_type_json(rt, s.base_url);
    if !extension_offered(s)
        && let Some(list) = doc
            .get_mut("schemaExtensions")
            .and_then(Value::as_array_mut)
    {
        list.retain(|e| e.get("schema").and_then(Value::as_str) != Some(urn::ROLLCALL_USER));
    }
    doc
}

/// A schema as this directory's clients see it. The rollcall extension lists
/// the org-level role keys (`role`) and the org's workspace slugs
/// (`workspaces`, `homeWorkspace`) as `canonicalValues`.
pub fn schema_document(s: &Scope<'_>, schema: &crate::scim::SchemaDef) -> Value {
    let mut doc = crate::scim::schema_json(schema, s.base_url);
    if schema.id != urn::ROLLCALL_USER {
        return doc;
    }
    let roles: Vec<&str> =
        s.op.policy
            .roles()
            .filter(|r| r.binds_at == authz::ScopeKind::Org)
            .map(|r| r.key.as_str())
            .collect();
    let workspaces: Vec<&str> = s.op.workspaces.iter().map(|w| w.slug.as_str()).collect();
    if let Some(attrs) = doc.get_mut("attributes").and_then(Value::as_array_mut) {
        for a in attrs {
            let values: &[&str] = match a.get("name").and_then(Value::as_str) {
                Some("role") => &roles,
                Some("workspaces" | "homeWorkspace") => &workspaces,
                _ => &[],
            };
            if !values.is_empty() {
                a["canonicalValues"] = json!(values);
            }
        }
    }
    doc
}
