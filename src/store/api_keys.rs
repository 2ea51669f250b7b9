//! API keys for the admin API: org-scoped keys acting with a role, and
//! instance-admin keys that can create orgs. Only a SHA-256 hash of the secret
//! is stored; the token is shown once, at creation.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::api_keys;
use super::{DbConnection, StoreError};
use crate::domain::{ApiKeyId, OrgId, UserId};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
struct ApiKeyRow {
    id: String,
    org_id: Option<String>,
    name: String,
    role_key: Option<String>,
    instance_admin: bool,
    secret_hash: String,
    created_at: NaiveDateTime,
    last_used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
    user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: Option<OrgId>,
    pub name: String,
    /// The role this key acts with inside its org.
    pub role_key: Option<String>,
    pub instance_admin: bool,
    /// Hex SHA-256 of the secret half of the token.
    pub secret_hash: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    /// A personal key acts as this user, with the user's access.
    pub user_id: Option<UserId>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        ApiKey {
            id: ApiKeyId::from_trusted(r.id),
            org_id: r.org_id.map(OrgId::from_trusted),
            name: r.name,
            role_key: r.role_key,
            instance_admin: r.instance_admin,
            secret_hash: r.secret_hash,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
            user_id: r.user_id.map(UserId::from_trusted),
        }
    }
}

pub struct NewApiKey<'a> {
    pub id: &'a ApiKeyId,
    pub org_id: Option<&'a OrgId>,
    pub name: &'a str,
    pub role_key: Option<&'a str>,
    pub instance_admin: bool,
    pub secret_hash: &'a str,
    pub user_id: Option<&'a UserId>,
}

pub fn insert(
    conn: &mut DbConnection,
    k: NewApiKey<'_>,
    now: NaiveDateTime,
) -> Result<ApiKey, StoreError> {
    let row = ApiKeyRow {
        id: k.id.as_str().to_owned(),
        org_id: k.org_id.map(|o| o.as_str().to_owned()),
        name: k.name.to_owned(),
        role_key: k.role_key.map(str::to_owned),
        instance_admin: k.instance_admin,
        secret_hash: k.secret_hash.to_owned(),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
        user_id: k.user_id.map(|u| u.as_str().to_owned()),
    };
    diesel::insert_into(api_keys::table)
        .values(&row)
        .execute(conn)?;
    Ok(row.into())
}

pub fn get(conn: &mut DbConnection, id: &ApiKeyId) -> Result<ApiKey, StoreError> {
    Ok(api_keys::table
        .find(id.as_str())
        .select(ApiKeyRow::as_select())
        .first(conn)?
        .into())
}

/// Keys of one org, or the instance-admin keys when `org` is `None`.
pub fn list(conn: &mut DbConnection, org: Option<&OrgId>) -> Result<Vec<ApiKey>, StoreError> {
    let query = api_keys::table
        .select(ApiKeyRow::as_select())
        .order((api_keys::created_at, api_keys::id))
        .into_boxed();
    let query = match org {
        Some(o) => query.filter(api_keys::org_id.eq(o.as_str())),
        None => query.filter(api_keys::org_id.is_null()),
    };
    Ok(query.load(conn)?.into_iter().map(ApiKey::from).collect())
}

/// Revoke (idempotent: the first revocation time is kept).
pub fn revoke(
    conn: &mut DbConnection,
    id: &ApiKeyId,
    now: NaiveDateTime,
) -> Result<ApiKey, StoreError> {
    diesel::update(
        api_keys::table
            .find(id.as_str())
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(now))
    .execute(conn)?;
    get(conn, id)
}

/// Record use, at most once a minute per key (keeps authentication read-only
/// on the hot path).
pub fn touch(conn: &mut DbConnection, id: &ApiKeyId, now: NaiveDateTime) -> Result<(), StoreError> {
    let stale = now - chrono::Duration::seconds(60);
    diesel::update(
        api_keys::table.find(id.as_str()).filter(
            api_keys::last_used_at
                .is_null()
                .or(api_keys::last_used_at.lt(stale)),
        ),
    )
    .set(api_keys::last_used_at.eq(now))
    .execute(conn)?;
    Ok(())
}
