//! An org's claimed and verified email domains (SPEC §3: SAML email trust,
//! home-realm discovery, SSO-default all rest on them). A verified domain
//! belongs to one org (a partial unique index).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::org_domains;
use super::{DbConnection, StoreError};
use crate::domain::OrgId;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = org_domains)]
pub struct OrgDomain {
    #[serde(skip)]
    pub org_id: String,
    pub domain: String,
    /// The value the TXT record must hold.
    pub challenge: String,
    pub created_at: NaiveDateTime,
    pub verified_at: Option<NaiveDateTime>,
}

pub fn insert(
    conn: &mut DbConnection,
    org: &OrgId,
    domain: &str,
    challenge: &str,
    now: NaiveDateTime,
) -> Result<OrgDomain, StoreError> {
    diesel::insert_into(org_domains::table)
        .values((
            org_domains::org_id.eq(org.as_str()),
            org_domains::domain.eq(domain),
            org_domains::challenge.eq(challenge),
            org_domains::created_at.eq(now),
        ))
        .execute(conn)?;
    get(conn, org, domain)
}

pub fn get(conn: &mut DbConnection, org: &OrgId, domain: &str) -> Result<OrgDomain, StoreError> {
    Ok(org_domains::table
        .filter(org_domains::org_id.eq(org.as_str()))
        .filter(org_domains::domain.eq(domain))
        .select(OrgDomain::as_select())
        .first(conn)?)
}

pub fn list(conn: &mut DbConnection, org: &OrgId) -> Result<Vec<OrgDomain>, StoreError> {
    Ok(org_domains::table
        .filter(org_domains::org_id.eq(org.as_str()))
        .order(org_domains::domain)
        .select(OrgDomain::as_select())
        .load(conn)?)
}

/// The org that has verified `domain`, if any.
pub fn verified_owner(conn: &mut DbConnection, domain: &str) -> Result<Option<OrgId>, StoreError> {
    Ok(org_domains::table
        .filter(org_domains::domain.eq(domain))
        .filter(org_domains::verified_at.is_not_null())
        .select(org_domains::org_id)
        .first::<String>(conn)
        .optional()?
        .map(OrgId::from_trusted))
}

pub fn mark_verified(
    conn: &mut DbConnection,
    org: &OrgId,
    domain: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(
        org_domains::table
            .filter(org_domains::org_id.eq(org.as_str()))
            .filter(org_domains::domain.eq(domain)),
    )
    .set(org_domains::verified_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, org: &OrgId, domain: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(
        org_domains::table
            .filter(org_domains::org_id.eq(org.as_str()))
            .filter(org_domains::domain.eq(domain)),
    )
    .execute(conn)?
        > 0)
}
