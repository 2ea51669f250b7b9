//! Browser sessions and emailed sign-in links. The cookie (or link) carries
//! `{prefix}_{id}_{secret}` (see `token`); only the SHA-256 of the secret is
//! stored. A session is valid while it has not ended, neither its idle nor
//! its absolute deadline has passed, and its user is `active` — the lookup
//! reads the user's status, so a suspension ends every session at once.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{login_links, sessions, users};
use super::{DbConnection, StoreError};
use crate::domain::{OrgId, UserId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub secret_hash: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
    /// `email_link`, `invite`, `oidc` or `saml`.
    pub method: String,
    pub connection_id: Option<String>,
    pub idp_name_id: Option<String>,
    pub idp_session_index: Option<String>,
    /// A step to finish before the session is usable (`pick_workspaces`).
    pub pending: Option<String>,
}

/// How a session was signed in (stored with it).
#[derive(Debug, Clone, Copy, Default)]
pub struct SignedInBy<'a> {
    /// `email_link`, `invite`, `oidc` or `saml`.
    pub method: &'a str,
    pub connection_id: Option<&'a str>,
    pub name_id: Option<&'a str>,
    pub session_index: Option<&'a str>,
    /// A step to finish first (`pick_workspaces`).
    pub pending: Option<&'a str>,
}

#[allow(clippy::too_many_arguments)]
pub fn insert(
    conn: &mut DbConnection,
    id: &str,
    org: &OrgId,
    user: &UserId,
    secret_hash: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
    by: SignedInBy<'_>,
) -> Result<(), StoreError> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(id),
            sessions::org_id.eq(org.as_str()),
            sessions::user_id.eq(user.as_str()),
            sessions::secret_hash.eq(secret_hash),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(expires_at),
            sessions::method.eq(by.method),
            sessions::connection_id.eq(by.connection_id),
            sessions::idp_name_id.eq(by.name_id),
            sessions::idp_session_index.eq(by.session_index),
            sessions::pending.eq(by.pending),
        ))
        .execute(conn)?;
    Ok(())
}

/// End the sessions an IdP's logout names (SAML SLO: the connection and
/// NameID); returns how many ended.
pub fn end_for_idp_subject(
    conn: &mut DbConnection,
    connection_id: &str,
    name_id: &str,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::connection_id.eq(connection_id))
            .filter(sessions::idp_name_id.eq(name_id))
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(Some(now)))
    .execute(conn)?)
}

/// The pending step is done.
pub fn clear_pending(conn: &mut DbConnection, id: &str) -> Result<(), StoreError> {
    diesel::update(sessions::table.find(id))
        .set(sessions::pending.eq(None::<String>))
        .execute(conn)?;
    Ok(())
}

/// The session with its user's status, if it exists and has not ended.
pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<(Session, String)>, StoreError> {
    Ok(sessions::table
        .inner_join(users::table.on(users::id.eq(sessions::user_id)))
        .filter(sessions::id.eq(id))
        .filter(sessions::ended_at.is_null())
        .select((Session::as_select(), users::status))
        .first(conn)
        .optional()?)
}

pub fn touch(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<(), StoreError> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)?;
    Ok(())
}

pub fn end(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<(), StoreError> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

/// End every session of a user (suspension, deprovisioning).
pub fn end_all_for(
    conn: &mut DbConnection,
    user: &UserId,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user.as_str()))
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(Some(now)))
    .execute(conn)?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = login_links)]
pub struct LoginLink {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub secret_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn insert_login_link(
    conn: &mut DbConnection,
    id: &str,
    org: &OrgId,
    user: &UserId,
    secret_hash: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(login_links::table)
        .values((
            login_links::id.eq(id),
            login_links::org_id.eq(org.as_str()),
            login_links::user_id.eq(user.as_str()),
            login_links::secret_hash.eq(secret_hash),
            login_links::created_at.eq(now),
            login_links::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn login_link(conn: &mut DbConnection, id: &str) -> Result<Option<LoginLink>, StoreError> {
    Ok(login_links::table
        .find(id)
        .select(LoginLink::as_select())
        .first(conn)
        .optional()?)
}

/// Mark a link used; `false` if it was used already (single use under races).
pub fn use_login_link(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        login_links::table
            .find(id)
            .filter(login_links::used_at.is_null()),
    )
    .set(login_links::used_at.eq(Some(now)))
    .execute(conn)?
        == 1)
}
