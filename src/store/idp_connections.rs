//! IdP connections of an org (issue "8 of 11" item 1): one row each, the
//! settings as JSON (`sso::connection::ConnectionSettings`), the OIDC client
//! secret sealed, the verified domains the connection is trusted for.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::idp_connections;
use super::{DbConnection, StoreError};
use crate::domain::OrgId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idp_connections)]
pub struct IdpConnection {
    pub id: String,
    pub org_id: String,
    pub kind: String,
    pub name: String,
    /// `ConnectionSettings` as JSON.
    pub config: String,
    /// The OIDC client secret, sealed with the connection id as associated data.
    pub secret: Option<Vec<u8>>,
    /// JSON array of verified domains.
    pub trusted_domains: String,
    pub enabled: bool,
    pub owner_approved: bool,
    pub created_by: Option<String>,
    pub metadata_url: Option<String>,
    pub metadata_refreshed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl IdpConnection {
    pub fn trusted_domains(&self) -> Vec<String> {
        serde_json::from_str(&self.trusted_domains).unwrap_or_default()
    }
}

/// A new connection row.
pub struct NewConnection<'a> {
    pub id: &'a str,
    pub org: &'a OrgId,
    pub kind: &'a str,
    pub name: &'a str,
    pub config: &'a str,
    pub secret: Option<&'a [u8]>,
    pub trusted_domains: &'a str,
    pub enabled: bool,
    pub owner_approved: bool,
    pub created_by: Option<&'a str>,
    pub metadata_url: Option<&'a str>,
    pub metadata_refreshed_at: Option<NaiveDateTime>,
}

pub fn insert(
    conn: &mut DbConnection,
    new: NewConnection<'_>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(idp_connections::table)
        .values((
            idp_connections::id.eq(new.id),
            idp_connections::org_id.eq(new.org.as_str()),
            idp_connections::kind.eq(new.kind),
            idp_connections::name.eq(new.name),
            idp_connections::config.eq(new.config),
            idp_connections::secret.eq(new.secret),
            idp_connections::trusted_domains.eq(new.trusted_domains),
            idp_connections::enabled.eq(new.enabled),
            idp_connections::owner_approved.eq(new.owner_approved),
            idp_connections::created_by.eq(new.created_by),
            idp_connections::metadata_url.eq(new.metadata_url),
            idp_connections::metadata_refreshed_at.eq(new.metadata_refreshed_at),
            idp_connections::created_at.eq(now),
            idp_connections::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The connection `id` of `org`.
pub fn get(conn: &mut DbConnection, org: &OrgId, id: &str) -> Result<IdpConnection, StoreError> {
    Ok(idp_connections::table
        .filter(idp_connections::org_id.eq(org.as_str()))
        .filter(idp_connections::id.eq(id))
        .select(IdpConnection::as_select())
        .first(conn)?)
}

/// The connection `id` whatever its org (the SSO callbacks, whose URL names
/// the connection only).
pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<IdpConnection>, StoreError> {
    Ok(idp_connections::table
        .filter(idp_connections::id.eq(id))
        .select(IdpConnection::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut DbConnection, org: &OrgId) -> Result<Vec<IdpConnection>, StoreError> {
    Ok(idp_connections::table
        .filter(idp_connections::org_id.eq(org.as_str()))
        .order(idp_connections::created_at)
        .select(IdpConnection::as_select())
        .load(conn)?)
}

/// Connections that import their metadata from a URL (the refresh job).
pub fn with_metadata_url(conn: &mut DbConnection) -> Result<Vec<IdpConnection>, StoreError> {
    Ok(idp_connections::table
        .filter(idp_connections::metadata_url.is_not_null())
        .order(idp_connections::id)
        .select(IdpConnection::as_select())
        .load(conn)?)
}

/// Changed fields of a connection; `None` leaves a field as it is.
#[derive(Default)]
pub struct Change<'a> {
    pub name: Option<&'a str>,
    pub config: Option<&'a str>,
    pub secret: Option<Option<&'a [u8]>>,
    pub trusted_domains: Option<&'a str>,
    pub enabled: Option<bool>,
    pub owner_approved: Option<bool>,
    /// Who vouches for the connection now (see `service::idp_connections`).
    pub created_by: Option<Option<&'a str>>,
    pub metadata_url: Option<Option<&'a str>>,
    pub metadata_refreshed_at: Option<NaiveDateTime>,
    /// Write only if the row is still as read (its `updated_at`): a change
    /// computed from a row another request has changed since is not
    /// written (`update` answers `false`).
    pub unchanged_since: Option<NaiveDateTime>,
}

#[derive(AsChangeset)]
#[diesel(table_name = idp_connections)]
struct Changeset<'a> {
    name: Option<&'a str>,
    config: Option<&'a str>,
    secret: Option<Option<&'a [u8]>>,
    trusted_domains: Option<&'a str>,
    enabled: Option<bool>,
    owner_approved: Option<bool>,
    created_by: Option<Option<&'a str>>,
    metadata_url: Option<Option<&'a str>>,
    metadata_refreshed_at: Option<Option<NaiveDateTime>>,
    updated_at: NaiveDateTime,
}

pub fn update(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &str,
    change: Change<'_>,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let set = Changeset {
        name: change.name,
        config: change.config,
        secret: change.secret,
        trusted_domains: change.trusted_domains,
        enabled: change.enabled,
        owner_approved: change.owner_approved,
        created_by: change.created_by,
        metadata_url: change.metadata_url,
        metadata_refreshed_at: change.metadata_refreshed_at.map(Some),
        updated_at: now,
    };
    let row = idp_connections::table
        .filter(idp_connections::org_id.eq(org.as_str()))
        .filter(idp_connections::id.eq(id));
    let n = match change.unchanged_since {
        Some(t) => diesel::update(row.filter(idp_connections::updated_at.eq(t)))
            .set(set)
            .execute(conn)?,
        None => diesel::update(row).set(set).execute(conn)?,
    };
    Ok(n == 1)
}

pub fn delete(conn: &mut DbConnection, org: &OrgId, id: &str) -> Result<bool, StoreError> {
    let n = diesel::delete(
        idp_connections::table
            .filter(idp_connections::org_id.eq(org.as_str()))
            .filter(idp_connections::id.eq(id)),
    )
    .execute(conn)?;
    Ok(n == 1)
}
