//! Links from a user to an IdP subject (SPEC §1 "Identity"): keyed by
//! (org, issuer, subject) — never by email — and recording the connection
//! the login came through.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::identities;
use super::{DbConnection, StoreError};
use crate::domain::{OrgId, UserId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = identities)]
pub struct Identity {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub connection_id: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_seen_at: Option<NaiveDateTime>,
}

/// The identity (issuer, subject) of `org`, if linked.
pub fn find(
    conn: &mut DbConnection,
    org: &OrgId,
    issuer: &str,
    subject: &str,
) -> Result<Option<Identity>, StoreError> {
    Ok(identities::table
        .filter(identities::org_id.eq(org.as_str()))
        .filter(identities::issuer.eq(issuer))
        .filter(identities::subject.eq(subject))
        .select(Identity::as_select())
        .first(conn)
        .optional()?)
}

#[allow(clippy::too_many_arguments)]
pub fn insert(
    conn: &mut DbConnection,
    id: &str,
    org: &OrgId,
    user: &UserId,
    connection_id: &str,
    issuer: &str,
    subject: &str,
    email: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(identities::table)
        .values((
            identities::id.eq(id),
            identities::org_id.eq(org.as_str()),
            identities::user_id.eq(user.as_str()),
            identities::connection_id.eq(connection_id),
            identities::issuer.eq(issuer),
            identities::subject.eq(subject),
            identities::email.eq(email),
            identities::created_at.eq(now),
            identities::last_seen_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a sign-in through the identity.
pub fn seen(
    conn: &mut DbConnection,
    id: &str,
    email: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(identities::table.find(id))
        .set((
            identities::last_seen_at.eq(Some(now)),
            identities::email.eq(email),
        ))
        .execute(conn)?;
    Ok(())
}

/// The identities of a user.
pub fn of_user(conn: &mut DbConnection, user: &UserId) -> Result<Vec<Identity>, StoreError> {
    Ok(identities::table
        .filter(identities::user_id.eq(user.as_str()))
        .order(identities::created_at)
        .select(Identity::as_select())
        .load(conn)?)
}

/// The identity `id` of `org`.
pub fn get(conn: &mut DbConnection, org: &OrgId, id: &str) -> Result<Identity, StoreError> {
    Ok(identities::table
        .filter(identities::org_id.eq(org.as_str()))
        .filter(identities::id.eq(id))
        .select(Identity::as_select())
        .first(conn)?)
}

/// The groups the IdP sent at the last login through the identity `id`.
pub fn groups(conn: &mut DbConnection, id: &str) -> Result<Vec<String>, StoreError> {
    let text: String = identities::table
        .find(id)
        .select(identities::groups)
        .first(conn)?;
    Ok(serde_json::from_str(&text)?)
}

/// Records the groups the IdP sent at this login through the identity `id`
/// (replacing those of the previous login).
pub fn set_groups(conn: &mut DbConnection, id: &str, groups: &[String]) -> Result<(), StoreError> {
    let n = diesel::update(identities::table.find(id))
        .set(identities::groups.eq(serde_json::to_string(groups)?))
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// One identity's connection and last-login groups (role re-evaluation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityGroups {
    pub user_id: String,
    pub connection_id: String,
    pub groups: Vec<String>,
}

/// The connection and last-login groups of every identity of `users` in
/// `org` that has any groups.
pub fn groups_of_users(
    conn: &mut DbConnection,
    org: &OrgId,
    users: &[UserId],
) -> Result<Vec<IdentityGroups>, StoreError> {
    let ids: Vec<&str> = users.iter().map(UserId::as_str).collect();
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        for (user_id, connection_id, groups) in identities::table
            .filter(identities::org_id.eq(org.as_str()))
            .filter(identities::user_id.eq_any(chunk))
            .filter(identities::groups.ne("[]"))
            .select((
                identities::user_id,
                identities::connection_id,
                identities::groups,
            ))
            .load::<(String, String, String)>(conn)?
        {
            out.push(IdentityGroups {
                user_id,
                connection_id,
                groups: serde_json::from_str(&groups)?,
            });
        }
    }
    Ok(out)
}

/// The users with an identity of the connection (each once).
pub fn users_of_connection(
    conn: &mut DbConnection,
    org: &OrgId,
    connection_id: &str,
) -> Result<Vec<UserId>, StoreError> {
    Ok(identities::table
        .filter(identities::org_id.eq(org.as_str()))
        .filter(identities::connection_id.eq(connection_id))
        .select(identities::user_id)
        .distinct()
        .order(identities::user_id)
        .load::<String>(conn)?
        .into_iter()
        .map(UserId::from_trusted)
        .collect())
}
