//! Organizations (tenants) and their settings.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::orgs;
use super::{DbConnection, StoreError};
use crate::domain::{OrgId, OrgSettings};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = orgs)]
struct OrgRow {
    id: String,
    slug: String,
    name: String,
    settings: String,
    policy_version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Org {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
    pub settings: OrgSettings,
    /// Bumped on every change to roles, sets or settings, so caches of the
    /// org's compiled policy can tell they are stale.
    pub policy_version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl TryFrom<OrgRow> for Org {
    type Error = StoreError;
    fn try_from(r: OrgRow) -> Result<Self, StoreError> {
        Ok(Org {
            id: OrgId::from_trusted(r.id),
            slug: r.slug,
            name: r.name,
            settings: serde_json::from_str(&r.settings)?,
            policy_version: r.policy_version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

pub fn insert(
    conn: &mut DbConnection,
    slug: &str,
    name: &str,
    settings: &OrgSettings,
    now: NaiveDateTime,
) -> Result<Org, StoreError> {
    let row = OrgRow {
        id: OrgId::generate().into_string(),
        slug: slug.to_owned(),
        name: name.to_owned(),
        settings: serde_json::to_string(settings)?,
        policy_version: 1,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(orgs::table)
        .values(&row)
        .execute(conn)?;
    row.try_into()
}

pub fn by_slug(conn: &mut DbConnection, slug: &str) -> Result<Org, StoreError> {
    orgs::table
        .filter(orgs::slug.eq(slug))
        .select(OrgRow::as_select())
        .first(conn)?
        .try_into()
}

pub fn by_id(conn: &mut DbConnection, id: &OrgId) -> Result<Org, StoreError> {
    orgs::table
        .find(id.as_str())
        .select(OrgRow::as_select())
        .first(conn)?
        .try_into()
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<Org>, StoreError> {
    orgs::table
        .order((orgs::created_at, orgs::id))
        .select(OrgRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Org::try_from)
        .collect()
}

pub fn update_settings(
    conn: &mut DbConnection,
    id: &OrgId,
    settings: &OrgSettings,
    now: NaiveDateTime,
) -> Result<Org, StoreError> {
    let n = diesel::update(orgs::table.find(id.as_str()))
        .set((
            orgs::settings.eq(serde_json::to_string(settings)?),
            orgs::policy_version.eq(orgs::policy_version + 1),
            orgs::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    by_id(conn, id)
}

/// Mark the org's compiled policy stale (roles, sets, mappings changed).
pub fn bump_policy_version(conn: &mut DbConnection, id: &OrgId) -> Result<(), StoreError> {
    diesel::update(orgs::table.find(id.as_str()))
        .set(orgs::policy_version.eq(orgs::policy_version + 1))
        .execute(conn)?;
    Ok(())
}
