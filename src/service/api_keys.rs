//! Admin API keys: create (token shown once), list, revoke, and authenticate a
//! presented token.

use secrecy::SecretString;

use crate::domain::authz::{ACCESS_READER, BindingScope, gate};
use crate::domain::{ApiKeyId, Label};
use crate::error::AppError;
use crate::service::authz::OrgPolicy;
use crate::service::{Acting, Ctx};
use crate::store::api_keys::{ApiKey, NewApiKey};
use crate::store::orgs::Org;
use crate::store::users::User;
use crate::store::{self, DbConnection, StoreError, audit};
use crate::token;

pub struct NewKey<'a> {
    /// `None` with `instance_admin`.
    pub org: Option<&'a Org>,
    pub name: String,
    /// The role an org key acts with; default: the org's owner role.
    pub role_key: Option<String>,
    /// A personal key acts as this user instead of with a role.
    pub user: Option<&'a User>,
    pub instance_admin: bool,
}

/// What audit events and listings show of a key (never the hash).
pub fn view(k: &ApiKey) -> serde_json::Value {
    serde_json::json!({
        "id": k.id,
        "name": k.name,
        "org_id": k.org_id,
        "role": k.role_key,
        "instance_admin": k.instance_admin,
        "user_id": k.user_id,
        "created_at": k.created_at,
        "last_used_at": k.last_used_at,
        "revoked_at": k.revoked_at,
    })
}

/// Create a key. The token is returned once and never stored.
pub fn create(
    conn: &mut DbConnection,
    ctx: &Ctx,
    input: NewKey<'_>,
) -> Result<(ApiKey, SecretString), AppError> {
    let name = Label::parse("name", &input.name)?;
    match (input.instance_admin, input.org) {
        (true, Some(_)) => {
            return Err(AppError::bad_request(
                "an instance-admin key belongs to no organization",
            ));
        }
        (false, None) => return Err(AppError::bad_request("an API key needs an organization")),
        _ => {}
    }
    let role_key = match (input.org, &input.user, input.role_key) {
        (Some(_), Some(_), Some(_)) => {
            return Err(AppError::bad_request(
                "a personal key acts with its user's access; it takes no role",
            ));
        }
        (Some(org), None, role) => {
            let policy = OrgPolicy::load(conn, org)?;
            let role = match role {
                Some(k) => policy.role(&k)?,
                None => policy
                    .owner_role()
                    .ok_or_else(|| AppError::bad_request("this organization has no owner role"))?,
            };
            if role.binds_at != crate::domain::authz::ScopeKind::Org {
                return Err(AppError::bad_request(format!(
                    "role `{}` is bound at {}, not at the organization",
                    role.key, role.binds_at
                )));
            }
            Some(role.key.as_str().to_owned())
        }
        (_, _, role) => role,
    };
    let issued = token::issue(token::API_KEY_PREFIX);
    let id = ApiKeyId::from_trusted(issued.id.hyphenated().to_string());
    let key = store::api_keys::insert(
        conn,
        NewApiKey {
            id: &id,
            org_id: input.org.map(|o| &o.id),
            name: name.as_str(),
            role_key: role_key.as_deref(),
            instance_admin: input.instance_admin,
            secret_hash: &issued.hash,
            user_id: input.user.map(|u| &u.id),
        },
        ctx.now,
    )?;
    audit::insert(
        conn,
        &[ctx.event(
            input.org.map(|o| &o.id),
            "api_key.created",
            "api_key",
            Some(key.id.to_string()),
            None,
            Some(view(&key)),
        )],
    )?;
    Ok((key, issued.token))
}

/// What an admin asks for through the API: a key acting with a role (by
/// key or name; default the least role, `access_reader`), or a personal key
/// acting as a user.
pub struct KeyRequest {
    pub name: String,
    pub role: Option<String>,
    pub user: Option<String>,
}

/// Create an org key through the admin API, within the creator's rights: a
/// role key only with a role the creator may grant; a personal key only for
/// oneself or for a user the creator may act for (who holds nothing the
/// creator could not grant). Keys asked for without a role get
/// `access_reader`; only the host's operator (the CLI) makes owner keys
/// without naming the role.
pub fn create_in_org(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    req: KeyRequest,
) -> Result<(ApiKey, SecretString), AppError> {
    a.require(gate::KEYS_MANAGE)?;
    let user = match (&req.role, &req.user) {
        (Some(_), Some(_)) => {
            return Err(AppError::bad_request("a personal key (user) takes no role"));
        }
        (_, Some(u)) => {
            let user = crate::service::users::find_by_id_or_name(conn, a.org, u)?;
            crate::service::owners::act_for(conn, a, &user)?;
            Some(user)
        }
        (_, None) => None,
    };
    let role_key = match (&user, &req.role) {
        (Some(_), _) => None,
        (None, role) => {
            let role = a.op.role(role.as_deref().unwrap_or(ACCESS_READER))?;
            a.authority
                .may_grant_role(&a.op.policy, &role.id, &BindingScope::Org)?;
            Some(role.key.as_str().to_owned())
        }
    };
    create(
        conn,
        a.ctx,
        NewKey {
            org: Some(a.org),
            name: req.name,
            role_key,
            instance_admin: false,
            user: user.as_ref(),
        },
    )
}

/// The org's keys (never their secrets), for key administrators.
pub fn list_in_org(conn: &mut DbConnection, a: &Acting<'_>) -> Result<Vec<ApiKey>, AppError> {
    a.require(gate::KEYS_MANAGE)?;
    list(conn, Some(a.org))
}

/// Revoke one of the org's keys. A key that acts as an owner (an owner's
/// personal key, or a key with an owner role) is revoked only by someone
/// with the owner's rights.
pub fn revoke_in_org(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    id: &str,
) -> Result<ApiKey, AppError> {
    a.require(gate::KEYS_MANAGE)?;
    let key = get(conn, id)?;
    if key.org_id.as_ref() != Some(&a.org.id) {
        return Err(AppError::not_found("API key", id));
    }
    if let Some(user) = &key.user_id {
        let user = crate::service::users::find(conn, a.org, user.as_str())?;
        crate::service::owners::guard_target(conn, a, &user)?;
    }
    if let Some(role) = key
        .role_key
        .as_deref()
        .and_then(|k| a.op.policy.role_by_key(k))
    {
        a.authority
            .may_grant_role(&a.op.policy, &role.id, &BindingScope::Org)?;
    }
    revoke(conn, a.ctx, &key)
}

pub fn list(conn: &mut DbConnection, org: Option<&Org>) -> Result<Vec<ApiKey>, AppError> {
    Ok(store::api_keys::list(conn, org.map(|o| &o.id))?)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<ApiKey, AppError> {
    let not_found = || AppError::not_found("API key", id);
    let kid: ApiKeyId = id.parse().map_err(|_| not_found())?;
    store::api_keys::get(conn, &kid).map_err(|e| match e {
        StoreError::NotFound => not_found(),
        other => other.into(),
    })
}

pub fn revoke(conn: &mut DbConnection, ctx: &Ctx, key: &ApiKey) -> Result<ApiKey, AppError> {
    let after = store::api_keys::revoke(conn, &key.id, ctx.now)?;
    if key.revoked_at.is_none() {
        audit::insert(
            conn,
            &[ctx.event(
                key.org_id.as_ref(),
                "api_key.revoked",
                "api_key",
                Some(key.id.to_string()),
                Some(view(key)),
                Some(view(&after)),
            )],
        )?;
    }
    Ok(after)
}
