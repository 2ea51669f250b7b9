//! SCIM directories and their bearer tokens (several active at once for
//! rotation, revocable; hashed at rest, shown once), and each directory's
//! ceiling: the org-level roles and workspaces it may assign through SCIM
//! `roles` values, the rollcall extension and its group mappings. A
//! directory token is a credential held by an IdP; the ceiling keeps it from
//! ever being an owner credential (SPEC §2 "Granting limits").

use secrecy::SecretString;

use crate::domain::authz::{self, BindingScope, RoleId, WorkspaceId, gate};
use crate::domain::{DirectoryId, Label};
use crate::error::AppError;
use crate::service::Acting;
use crate::service::authz::OrgPolicy;
use crate::store::directories::{Ceiling, Directory};
use crate::store::orgs::Org;
use crate::store::scim::ScimToken;
use crate::store::{self, DbConnection, StoreError, audit};
use crate::token;

/// The SCIM base path of a directory.
pub fn base_path(d: &Directory) -> String {
    format!("/scim/v2/{}", d.id)
}

pub fn view(d: &Directory) -> serde_json::Value {
    serde_json::json!({"id": d.id, "name": d.name, "scim_base_path": base_path(d), "created_at": d.created_at})
}

/// A directory with its ceiling named by role keys and workspace slugs.
pub fn view_with_ceiling(op: &OrgPolicy, d: &Directory) -> serde_json::Value {
    let mut v = view(d);
    v["ceiling"] = ceiling_view(op, &d.ceiling);
    v
}

pub fn ceiling_view(op: &OrgPolicy, c: &Ceiling) -> serde_json::Value {
    let roles: Vec<&str> = op
        .policy
        .roles()
        .filter(|r| c.roles.contains(r.id.as_str()))
        .map(|r| r.key.as_str())
        .collect();
    let workspaces = c.workspaces.as_ref().map(|ws| {
        op.workspaces
            .iter()
            .filter(|w| ws.contains(w.id.as_str()))
            .map(|w| w.slug.clone())
            .collect::<Vec<_>>()
    });
    serde_json::json!({"roles": roles, "workspaces": workspaces})
}

/// Why a value is beyond a directory's ceiling (a client error: SCIM `400
/// invalidValue`, the admin API 400 `beyond_ceiling`).
pub fn beyond_ceiling(op: &OrgPolicy, d: &Directory, what: &str) -> String {
    let allowed = ceiling_view(op, &d.ceiling);
    format!(
        "{what} is beyond the ceiling of SCIM directory `{}`; it may assign roles {} and workspaces {}",
        d.name,
        allowed["roles"],
        if allowed["workspaces"].is_null() {
            "(all)".to_owned()
        } else {
            allowed["workspaces"].to_string()
        }
    )
}

/// Check a role (by id) and workspaces against the directory's ceiling;
/// `Err` carries the message of [`beyond_ceiling`].
pub fn check_ceiling<'w>(
    op: &OrgPolicy,
    d: &Directory,
    role: Option<&RoleId>,
    workspaces: impl IntoIterator<Item = &'w WorkspaceId>,
) -> Result<(), String> {
    if let Some(role) = role
        && !d.ceiling.roles.contains(role.as_str())
    {
        let key = op
            .policy
            .role(role.as_str())
            .map(|r| r.key.as_str().to_owned())
            .unwrap_or_else(|| role.as_str().to_owned());
        return Err(beyond_ceiling(op, d, &format!("role `{key}`")));
    }
    if let Some(allowed) = &d.ceiling.workspaces {
        for w in workspaces {
            if !allowed.contains(w.as_str()) {
                let slug = op
                    .workspaces
                    .iter()
                    .find(|x| x.id.as_str() == w.as_str())
                    .map(|x| x.slug.clone())
                    .unwrap_or_else(|| w.as_str().to_owned());
                return Err(beyond_ceiling(op, d, &format!("workspace `{slug}`")));
            }
        }
    }
    Ok(())
}

/// What a ceiling names, as a client sends it: role keys (or names) and
/// workspace slugs (`None`: every workspace).
#[derive(Debug, Clone, Default)]
pub struct CeilingInput {
    pub roles: Vec<String>,
    pub workspaces: Option<Vec<String>>,
}

/// Resolve and bound a ceiling: never an owner role, and nothing beyond
/// what the person setting it may grant themselves.
fn resolve_ceiling(a: &Acting<'_>, input: &CeilingInput) -> Result<Ceiling, AppError> {
    let mut roles = std::collections::BTreeSet::new();
    for key in &input.roles {
        let role = a.op.role(key)?;
        if role.binds_at != authz::ScopeKind::Org {
            return Err(AppError::bad_request(format!(
                "role `{key}` is not an org-level role"
            )));
        }
        if role.owner {
            return Err(AppError::BadRequest {
                code: "owner_role",
                message: format!(
                    "role `{key}` is an owner role; a SCIM directory may never assign an owner role"
                ),
            });
        }
        a.authority
            .may_grant_role(&a.op.policy, &role.id, &BindingScope::Org)?;
        roles.insert(role.id.as_str().to_owned());
    }
    let workspaces = match &input.workspaces {
        None => {
            a.authority
                .may_grant_workspaces(a.op, &authz::WorkspaceList::All)?;
            None
        }
        Some(list) => {
            let ids = list
                .iter()
                .map(|w| a.op.workspace(w).map(|x| WorkspaceId::new(x.id.as_str())))
                .collect::<Result<std::collections::BTreeSet<_>, _>>()?;
            a.authority
                .may_grant_workspaces(a.op, &authz::WorkspaceList::Only(ids.clone()))?;
            Some(ids.iter().map(|w| w.as_str().to_owned()).collect())
        }
    };
    Ok(Ceiling { roles, workspaces })
}

/// The default ceiling of a new directory: every org-level role its creator
/// may grant, minus owner roles; the workspaces its creator sees.
fn default_ceiling(a: &Acting<'_>) -> Result<Ceiling, AppError> {
    let roles =
        a.op.policy
            .roles()
            .filter(|r| r.binds_at == authz::ScopeKind::Org && !r.owner)
            .filter(|r| {
                a.authority
                    .may_grant_role(&a.op.policy, &r.id, &BindingScope::Org)
                    .is_ok()
            })
            .map(|r| r.id.as_str().to_owned())
            .collect();
    let workspaces = match a
        .authority
        .may_grant_workspaces(a.op, &authz::WorkspaceList::All)
    {
        Ok(()) => None,
        Err(_) => Some(
            a.op.workspaces
                .iter()
                .filter(|w| {
                    a.authority
                        .may_grant_workspaces(
                            a.op,
                            &authz::WorkspaceList::Only([WorkspaceId::new(w.id.as_str())].into()),
                        )
                        .is_ok()
                })
                .map(|w| w.id.as_str().to_owned())
                .collect(),
        ),
    };
    Ok(Ceiling { roles, workspaces })
}

/// Replace a directory's ceiling (admin API and CLI).
pub fn set_ceiling(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    directory: &str,
    input: &CeilingInput,
) -> Result<Directory, AppError> {
    a.require(gate::SCIM_MANAGE)?;
    let d = resolve(conn, a.org, directory)?;
    let ceiling = resolve_ceiling(a, input)?;
    let after = store::directories::set_ceiling(conn, &d.id, &ceiling)?;
    audit::insert(
        conn,
        &[a.ctx.event(
            Some(&a.org.id),
            "scim_directory.ceiling_changed",
            "scim_directory",
            Some(d.id.to_string()),
            Some(ceiling_view(a.op, &d.ceiling)),
            Some(ceiling_view(a.op, &after.ceiling)),
        )],
    )?;
    Ok(after)
}

/// The org's directories, for SCIM administrators.
pub fn list(conn: &mut DbConnection, a: &Acting<'_>) -> Result<Vec<Directory>, AppError> {
    a.require(gate::SCIM_MANAGE)?;
    Ok(store::directories::list(conn, &a.org.id)?)
}

/// A directory's tokens, for SCIM administrators.
pub fn list_tokens(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    directory: &str,
) -> Result<Vec<ScimToken>, AppError> {
    a.require(gate::SCIM_MANAGE)?;
    let d = resolve(conn, a.org, directory)?;
    Ok(store::scim::tokens(conn, &d.id)?)
}

pub fn token_view(t: &ScimToken) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "directory_id": t.directory_id,
        "name": t.name,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
        "revoked_at": t.revoked_at,
    })
}

/// A directory of the org by id or name; unknown is a 404 naming it.
pub fn resolve(conn: &mut DbConnection, org: &Org, key: &str) -> Result<Directory, AppError> {
    store::directories::get(conn, &org.id, key).map_err(|e| match e {
        StoreError::NotFound => AppError::not_found("SCIM directory", key),
        other => other.into(),
    })
}

/// Create a directory and its first token (returned once).
pub fn create(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    name: &str,
    ceiling: Option<&CeilingInput>,
) -> Result<(Directory, ScimToken, SecretString), AppError> {
    a.require(gate::SCIM_MANAGE)?;
    let name = Label::parse("name", name)?;
    let ceiling = match ceiling {
        Some(c) => resolve_ceiling(a, c)?,
        None => default_ceiling(a)?,
    };
    let d = store::directories::insert(conn, &a.org.id, name.as_str(), &ceiling, a.ctx.now)
        .map_err(|e| match e {
            StoreError::Unique(_) => AppError::Conflict {
                code: "already_exists",
                message: format!("a SCIM directory named `{}` already exists", name.as_str()),
            },
            other => other.into(),
        })?;
    audit::insert(
        conn,
        &[a.ctx.event(
            Some(&a.org.id),
            "scim_directory.created",
            "scim_directory",
            Some(d.id.to_string()),
            None,
            Some(view_with_ceiling(a.op, &d)),
        )],
    )?;
    let (t, secret) = create_token(conn, a, &d, "initial")?;
    Ok((d, t, secret))
}

pub fn create_token(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    d: &Directory,
    name: &str,
) -> Result<(ScimToken, SecretString), AppError> {
    a.require(gate::SCIM_MANAGE)?;
    let name = Label::parse("name", name)?;
    let issued = token::issue(token::SCIM_TOKEN_PREFIX);
    let t = store::scim::insert_token(
        conn,
        &issued.id.hyphenated().to_string(),
        &d.id,
        name.as_str(),
        &issued.hash,
        a.ctx.now,
    )?;
    audit::insert(
        conn,
        &[a.ctx.event(
            Some(&a.org.id),
            "scim_token.created",
            "scim_token",
            Some(t.id.clone()),
            None,
            Some(token_view(&t)),
        )],
    )?;
    Ok((t, issued.token))
}

/// Revoke a token of one of the org's directories.
pub fn revoke_token(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    id: &str,
) -> Result<ScimToken, AppError> {
    a.require(gate::SCIM_MANAGE)?;
    let not_found = || AppError::not_found("SCIM token", id);
    let before = store::scim::get_token(conn, id).map_err(|e| match e {
        StoreError::NotFound => not_found(),
        other => other.into(),
    })?;
    let dir: DirectoryId = before.directory_id.parse().map_err(|_| not_found())?;
    if store::directories::get(conn, &a.org.id, dir.as_str()).is_err() {
        return Err(not_found());
    }
    let after = store::scim::revoke_token(conn, id, a.ctx.now)?;
    if before.revoked_at.is_none() {
        audit::insert(
            conn,
            &[a.ctx.event(
                Some(&a.org.id),
                "scim_token.revoked",
                "scim_token",
                Some(after.id.clone()),
                Some(token_view(&before)),
                Some(token_view(&after)),
            )],
        )?;
    }
    Ok(after)
}
