//! Users through the admin API and the CLI: create (source `admin`), list with
//! search and pagination, get, profile updates, suspend and reactivate.

use serde_json::{Value, json};

use crate::domain::authz::{
    self, BindingScope, BindingSource, ScopeKind, WorkspaceAccess, WorkspaceList, gate,
};
use crate::domain::names;
use crate::domain::{Email, UserId, UserName, UserSource, UserStatus};
use crate::error::AppError;
use crate::service::Acting;
use crate::service::Ctx;
use crate::store::orgs::Org;
use crate::store::users::{User, UserFields, UserQuery};
use crate::store::{self, DbConnection, PageCursor, StoreError, UniqueField, audit};

/// What audit events and API answers record of a user.
pub fn view(u: &User) -> Value {
    json!({
        "id": u.id,
        "userName": u.user_name,
        "email": u.email,
        "givenName": u.given_name,
        "familyName": u.family_name,
        "displayName": u.display_name,
        "externalId": u.external_id,
        "status": u.status,
        "source": u.source,
        "directoryId": u.directory_id,
        "version": u.version,
    })
}

/// Map uniqueness failures on users to messages naming the value.
pub fn unique_error(field: &UniqueField, user_name: &str, email: Option<&str>) -> AppError {
    let message = match field {
        UniqueField::Email => format!(
            "a user with email `{}` already exists in this organization",
            email.unwrap_or_default()
        ),
        UniqueField::ExternalId => "this externalId is already used in this directory".to_owned(),
        _ => format!(
            "a user with userName `{user_name}` already exists in this organization (userName is case-insensitive)"
        ),
    };
    AppError::Conflict {
        code: "already_exists",
        message,
    }
}

/// A user, for someone who manages users.
pub fn get(conn: &mut DbConnection, a: &Acting<'_>, id: &str) -> Result<User, AppError> {
    a.require(gate::USERS_MANAGE)?;
    find(conn, a.org, id)
}

pub fn find(conn: &mut DbConnection, org: &Org, id: &str) -> Result<User, AppError> {
    let not_found = || AppError::not_found("user", id);
    let uid: UserId = id.parse().map_err(|_| not_found())?;
    store::users::get(conn, &org.id, &uid).map_err(|e| match e {
        StoreError::NotFound => not_found(),
        other => other.into(),
    })
}

/// Find by id, or else by userName (the CLI accepts either).
pub fn find_by_id_or_name(conn: &mut DbConnection, org: &Org, key: &str) -> Result<User, AppError> {
    if key.parse::<UserId>().is_ok() {
        return find(conn, org, key);
    }
    let name = UserName::parse(key)?;
    store::users::find_by_user_name(conn, &org.id, name.canonical())?
        .ok_or_else(|| AppError::not_found("user", key))
}

#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub user_name: Option<String>,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    /// Org-level role key; default: the org's default role (source `default`).
    pub role: Option<String>,
    /// Workspace ids or slugs the user is restricted to; default: unrestricted.
    pub workspaces: Option<Vec<String>>,
}

/// The free-text fields of a user are names: [`names::PERSON_NAME_MAX_CHARS`] each.
fn check_names(fields: &[(&'static str, Option<&String>)]) -> Result<(), AppError> {
    for (field, value) in fields {
        if let Some(v) = value {
            names::check_free_text(field, v.trim(), names::PERSON_NAME_MAX_CHARS)?;
        }
    }
    Ok(())
}

fn clean(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The SCIM view of a user the gateway created itself (not pushed by an IdP).
pub(crate) fn synthesized_scim(f: &UserFields) -> Value {
    let mut doc = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f.user_name.as_str(),
    });
    let mut name = serde_json::Map::new();
    if let Some(g) = &f.given_name {
        name.insert("givenName".into(), json!(g));
    }
    if let Some(fam) = &f.family_name {
        name.insert("familyName".into(), json!(fam));
    }
    if !name.is_empty() {
        doc["name"] = Value::Object(name);
    }
    if let Some(d) = &f.display_name {
        doc["displayName"] = json!(d);
    }
    if let Some(e) = &f.email {
        doc["emails"] = json!([{"value": e.as_str(), "type": "work", "primary": true}]);
    }
    if let Some(x) = &f.external_id {
        doc["externalId"] = json!(x);
    }
    doc
}

/// Create a user with source `admin`, active at once, with a role (the
/// given one, source `admin`, within the creator's granting limits; or the
/// org default) and optional workspace restriction.
pub fn create(conn: &mut DbConnection, a: &Acting<'_>, input: NewUser) -> Result<User, AppError> {
    a.require(gate::USERS_MANAGE)?;
    let (ctx, org, op) = (a.ctx, a.org, a.op);
    let grants = resolve_grants(a, input.role.as_deref(), input.workspaces.as_deref())?;
    let role = match grants.role {
        Some(r) => Some((r, BindingSource::Admin)),
        None => {
            crate::service::role_sources::default_role(org, op).map(|r| (r, BindingSource::Default))
        }
    };
    let email = clean(input.email).map(|e| Email::parse(&e)).transpose()?;
    let user_name = match (clean(input.user_name), &email) {
        (Some(n), _) => UserName::parse(&n)?,
        (None, Some(e)) => UserName::parse(e.as_str())?,
        (None, None) => {
            return Err(AppError::bad_request("a user needs a userName or an email"));
        }
    };
    check_names(&[
        ("given_name", input.given_name.as_ref()),
        ("family_name", input.family_name.as_ref()),
        ("display_name", input.display_name.as_ref()),
        ("external_id", input.external_id.as_ref()),
    ])?;
    let mut fields = UserFields {
        user_name,
        email,
        given_name: clean(input.given_name),
        family_name: clean(input.family_name),
        display_name: clean(input.display_name),
        external_id: clean(input.external_id),
        directory_id: None,
        status: UserStatus::Active,
        source: UserSource::Admin,
        scim: Value::Null,
    };
    fields.scim = synthesized_scim(&fields);
    let user = store::users::insert(conn, &org.id, &fields, ctx.now).map_err(|e| match e {
        StoreError::Unique(f) => unique_error(
            &f,
            fields.user_name.as_str(),
            fields.email.as_ref().map(Email::as_str),
        ),
        other => other.into(),
    })?;
    apply_grants(
        conn,
        org,
        &user.id,
        role.as_ref().map(|(r, s)| (r, *s)),
        grants.workspaces,
        ctx.now,
    )?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "user.created",
            "user",
            Some(user.id.to_string()),
            None,
            Some({
                let mut v = view(&user);
                v["role"] = serde_json::json!(
                    role.as_ref()
                        .and_then(|(r, _)| op.policy.role(r.as_str()))
                        .map(|r| r.key.as_str())
                );
                v
            }),
        )],
    )?;
    Ok(user)
}

/// An org-level role and workspace restriction someone hands out, resolved
/// and checked against their granting limits (user creation and invites
/// share this, so neither can grant more than the other).
pub struct Grants {
    pub role: Option<authz::RoleId>,
    /// `None`: unrestricted.
    pub workspaces: Option<std::collections::BTreeSet<authz::WorkspaceId>>,
}

pub fn resolve_grants(
    a: &Acting<'_>,
    role: Option<&str>,
    workspaces: Option<&[String]>,
) -> Result<Grants, AppError> {
    let (op, authority) = (a.op, a.authority);
    let role = match role {
        Some(key) => {
            let role = op.role(key)?;
            if role.binds_at != ScopeKind::Org {
                return Err(AppError::bad_request(format!(
                    "role `{key}` is not an org-level role"
                )));
            }
            authority.may_grant_role(&op.policy, &role.id, &BindingScope::Org)?;
            Some(role.id.clone())
        }
        None => None,
    };
    let workspaces = workspaces
        .map(|list| {
            list.iter()
                .map(|w| {
                    op.workspace(w)
                        .map(|x| authz::WorkspaceId::new(x.id.as_str()))
                })
                .collect::<Result<std::collections::BTreeSet<_>, _>>()
        })
        .transpose()?;
    if let Some(list) = &workspaces {
        authority.may_grant_workspaces(op, &WorkspaceList::Only(list.clone()))?;
    }
    Ok(Grants { role, workspaces })
}

/// Write a user's org-level binding and workspace restriction (then the
/// access snapshot follows).
pub fn apply_grants(
    conn: &mut DbConnection,
    org: &Org,
    user: &UserId,
    role: Option<(&authz::RoleId, BindingSource)>,
    workspaces: Option<std::collections::BTreeSet<authz::WorkspaceId>>,
    now: chrono::NaiveDateTime,
) -> Result<(), AppError> {
    if let Some((role, source)) = role {
        store::access::put_org_binding(conn, &org.id, user, Some((role, source, None)), now)?;
    }
    store::access::put_workspace_access(
        conn,
        user,
        &WorkspaceAccess {
            list: workspaces.map_or(WorkspaceList::All, WorkspaceList::Only),
            home: None,
        },
    )?;
    Ok(())
}

pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub fn list(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    search: Option<String>,
    status: Option<UserStatus>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<User>, AppError> {
    a.require(gate::USERS_MANAGE)?;
    let org = a.org;
    let after = cursor
        .map(|c| PageCursor::decode(c).ok_or_else(|| AppError::bad_request("invalid cursor")))
        .transpose()?;
    // One extra row tells whether there is a next page.
    let mut items = store::users::list(
        conn,
        &org.id,
        &UserQuery {
            search,
            status,
            after,
            limit: limit + 1,
        },
    )?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|u| u.cursor().encode())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// Changes to a user's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    pub user_name: Option<String>,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
}

/// Apply `change` to the user's current state and write it with a version check.
/// With `if_match` the caller's version must still be current (412 otherwise);
/// without it, a concurrent change is retried on the fresh state, so no write
/// is lost either way.
pub fn modify(
    conn: &mut DbConnection,
    ctx: &Ctx,
    org: &Org,
    id: &str,
    if_match: Option<i64>,
    action: &'static str,
    change: impl Fn(&User, &mut UserFields) -> Result<(), AppError>,
) -> Result<User, AppError> {
    for _ in 0..3 {
        let before = find(conn, org, id)?;
        if let Some(v) = if_match
            && v != before.version
        {
            return Err(AppError::PreconditionFailed(format!(
                "user `{id}` is at version {}, not {v}",
                before.version
            )));
        }
        let mut fields = UserFields::of(&before)?;
        change(&before, &mut fields)?;
        match store::users::update(
            conn,
            &before,
            if_match.unwrap_or(before.version),
            &fields,
            ctx.now,
        ) {
            Ok(after) => {
                audit::insert(
                    conn,
                    &[ctx.event(
                        Some(&org.id),
                        action,
                        "user",
                        Some(after.id.to_string()),
                        Some(view(&before)),
                        Some(view(&after)),
                    )],
                )?;
                return Ok(after);
            }
            Err(StoreError::VersionConflict) if if_match.is_some() => {
                return Err(AppError::PreconditionFailed(format!(
                    "user `{id}` was changed by someone else"
                )));
            }
            Err(StoreError::VersionConflict) => continue,
            Err(StoreError::Unique(f)) => {
                return Err(unique_error(
                    &f,
                    fields.user_name.as_str(),
                    fields.email.as_ref().map(Email::as_str),
                ));
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(AppError::conflict(format!(
        "user `{id}` keeps changing; retry the request"
    )))
}

/// Change profile fields. Changing someone's userName or email is the way
/// into their account once they sign in by email or SSO, so it needs the
/// right to act for them (to grant everything they hold); any write to an
/// owner needs the owner's own rights.
pub fn update_profile(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    id: &str,
    if_match: Option<i64>,
    changes: ProfileChanges,
) -> Result<User, AppError> {
    a.require(gate::USERS_MANAGE)?;
    let (ctx, org) = (a.ctx, a.org);
    let target = find(conn, org, id)?;
    if changes.user_name.is_some() || changes.email.is_some() {
        crate::service::owners::act_for(conn, a, &target)?;
    } else {
        crate::service::owners::guard_target(conn, a, &target)?;
    }
    let user_name = changes
        .user_name
        .as_deref()
        .map(UserName::parse)
        .transpose()?;
    let email = changes.email.as_deref().map(Email::parse).transpose()?;
    check_names(&[
        ("given_name", changes.given_name.as_ref()),
        ("family_name", changes.family_name.as_ref()),
        ("display_name", changes.display_name.as_ref()),
    ])?;
    modify(conn, ctx, org, id, if_match, "user.updated", |_, f| {
        if let Some(n) = &user_name {
            f.user_name = n.clone();
            f.scim["userName"] = json!(n.as_str());
        }
        if let Some(e) = &email {
            f.email = Some(e.clone());
        }
        if let Some(g) = &changes.given_name {
            f.given_name = clean(Some(g.clone()));
        }
        if let Some(fam) = &changes.family_name {
            f.family_name = clean(Some(fam.clone()));
        }
        if let Some(d) = &changes.display_name {
            f.display_name = clean(Some(d.clone()));
        }
        Ok(())
    })
}

/// Suspend (`active`/`invited` → `suspended`) or reactivate (`suspended` → `active`).
pub fn set_status(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    id: &str,
    if_match: Option<i64>,
    target: UserStatus,
) -> Result<User, AppError> {
    a.require(gate::USERS_MANAGE)?;
    let (ctx, org) = (a.ctx, a.org);
    let action = match target {
        UserStatus::Suspended => "user.suspended",
        UserStatus::Active => "user.reactivated",
        other => {
            return Err(AppError::bad_request(format!(
                "cannot set status `{other}` here"
            )));
        }
    };
    let user = find(conn, org, id)?;
    crate::service::owners::guard_target(conn, a, &user)?;
    if target == UserStatus::Suspended {
        crate::service::owners::guard(conn, org, &user)?;
    }
    // An invited user who never accepted returns to `invited`: reactivation
    // never activates someone who has not accepted their invite.
    let never_accepted = target == UserStatus::Active
        && store::invites::invited_ever(conn, &user.id)?
        && !store::invites::accepted_any(conn, &user.id)?;
    modify(conn, ctx, org, id, if_match, action, |user, f| {
        let allowed = match target {
            UserStatus::Suspended => matches!(
                user.status,
                UserStatus::Active | UserStatus::Invited | UserStatus::Suspended
            ),
            _ => matches!(user.status, UserStatus::Suspended | UserStatus::Active),
        };
        if !allowed {
            return Err(AppError::Conflict {
                code: "invalid_transition",
                message: format!("a {} user cannot become {target}", user.status),
            });
        }
        f.status = if never_accepted && user.status == UserStatus::Suspended {
            UserStatus::Invited
        } else {
            target
        };
        Ok(())
    })
}
