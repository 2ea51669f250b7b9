//! Group mappings (SPEC §2): an IdP group (a SCIM group of a directory, or a
//! claim value of an SSO connection) gives a role and workspaces, with a
//! priority. They are evaluated when groups or memberships change and at
//! login, and materialised as bindings.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::group_mappings;
use super::{DbConnection, StoreError};
use crate::domain::OrgId;
use crate::domain::authz::{GroupMapping, MappingId, MappingKind, RoleId, WorkspaceId};

#[derive(Queryable, Selectable)]
#[diesel(table_name = group_mappings)]
struct MappingRow {
    id: String,
    source_kind: String,
    source_id: String,
    group_key: String,
    role_id: String,
    workspaces: String,
    priority: i32,
    created_at: NaiveDateTime,
}

/// A mapping as stored: the engine's record plus where its group comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMapping {
    pub mapping: GroupMapping,
    /// The SCIM directory or SSO connection id.
    pub source_id: String,
    pub created_at: NaiveDateTime,
}

fn kind_text(k: MappingKind) -> &'static str {
    match k {
        MappingKind::ScimGroup => "scim_group",
        MappingKind::SsoClaim => "sso_claim",
    }
}

impl TryFrom<MappingRow> for StoredMapping {
    type Error = StoreError;
    fn try_from(r: MappingRow) -> Result<Self, StoreError> {
        let kind = match r.source_kind.as_str() {
            "scim_group" => MappingKind::ScimGroup,
            "sso_claim" => MappingKind::SsoClaim,
            other => return Err(StoreError::Corrupt(format!("mapping kind `{other}`"))),
        };
        let workspaces: BTreeSet<String> = serde_json::from_str(&r.workspaces)?;
        Ok(StoredMapping {
            mapping: GroupMapping {
                id: MappingId::new(r.id),
                kind,
                group: r.group_key,
                role: RoleId::new(r.role_id),
                workspaces: workspaces.into_iter().map(WorkspaceId::new).collect(),
                priority: r.priority,
            },
            source_id: r.source_id,
            created_at: r.created_at,
        })
    }
}

pub fn insert(
    conn: &mut DbConnection,
    org: &OrgId,
    source_id: &str,
    m: &GroupMapping,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let workspaces: Vec<&str> = m.workspaces.iter().map(WorkspaceId::as_str).collect();
    diesel::insert_into(group_mappings::table)
        .values((
            group_mappings::id.eq(m.id.as_str()),
            group_mappings::org_id.eq(org.as_str()),
            group_mappings::source_kind.eq(kind_text(m.kind)),
            group_mappings::source_id.eq(source_id),
            group_mappings::group_key.eq(&m.group),
            group_mappings::role_id.eq(m.role.as_str()),
            group_mappings::workspaces.eq(serde_json::to_string(&workspaces)?),
            group_mappings::priority.eq(m.priority),
            group_mappings::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn list(conn: &mut DbConnection, org: &OrgId) -> Result<Vec<StoredMapping>, StoreError> {
    group_mappings::table
        .filter(group_mappings::org_id.eq(org.as_str()))
        .order((group_mappings::created_at, group_mappings::id))
        .select(MappingRow::as_select())
        .load(conn)?
        .into_iter()
        .map(StoredMapping::try_from)
        .collect()
}

/// The mappings of one source (a SCIM directory or an SSO connection).
pub fn for_source(
    conn: &mut DbConnection,
    org: &OrgId,
    source_id: &str,
) -> Result<Vec<StoredMapping>, StoreError> {
    group_mappings::table
        .filter(group_mappings::org_id.eq(org.as_str()))
        .filter(group_mappings::source_id.eq(source_id))
        .order((group_mappings::created_at, group_mappings::id))
        .select(MappingRow::as_select())
        .load(conn)?
        .into_iter()
        .map(StoredMapping::try_from)
        .collect()
}

/// The org's mappings of one kind (e.g. every `sso_claim` mapping, matched
/// against the groups of each connection a user signed in through).
pub fn of_kind(
    conn: &mut DbConnection,
    org: &OrgId,
    kind: MappingKind,
) -> Result<Vec<StoredMapping>, StoreError> {
    group_mappings::table
        .filter(group_mappings::org_id.eq(org.as_str()))
        .filter(group_mappings::source_kind.eq(kind_text(kind)))
        .order((group_mappings::created_at, group_mappings::id))
        .select(MappingRow::as_select())
        .load(conn)?
        .into_iter()
        .map(StoredMapping::try_from)
        .collect()
}

pub fn get(conn: &mut DbConnection, org: &OrgId, id: &str) -> Result<StoredMapping, StoreError> {
    group_mappings::table
        .filter(group_mappings::org_id.eq(org.as_str()))
        .filter(group_mappings::id.eq(id))
        .select(MappingRow::as_select())
        .first(conn)?
        .try_into()
}

pub fn delete(conn: &mut DbConnection, org: &OrgId, id: &str) -> Result<(), StoreError> {
    let n = diesel::delete(
        group_mappings::table
            .filter(group_mappings::org_id.eq(org.as_str()))
            .filter(group_mappings::id.eq(id)),
    )
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
