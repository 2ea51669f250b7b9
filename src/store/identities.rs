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
