//! Workspaces: named partitions of an org's data that roles restrict access
//! to, arranged in a tree (seed 004 sub-workspaces; the rules of the tree
//! live in `domain::authz::tree`, checked by the service).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::workspaces;
use super::{DbConnection, StoreError};
use crate::domain::{OrgId, WorkspaceId};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = workspaces)]
struct WorkspaceRow {
    id: String,
    org_id: String,
    slug: String,
    name: String,
    created_at: NaiveDateTime,
    parent_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub org_id: OrgId,
    pub slug: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    /// The parent workspace, for a sub-workspace.
    pub parent_id: Option<WorkspaceId>,
}

impl From<WorkspaceRow> for Workspace {
    fn from(r: WorkspaceRow) -> Self {
        Workspace {
            id: WorkspaceId::from_trusted(r.id),
            org_id: OrgId::from_trusted(r.org_id),
            slug: r.slug,
            name: r.name,
            created_at: r.created_at,
            parent_id: r.parent_id.map(WorkspaceId::from_trusted),
        }
    }
}

pub fn insert(
    conn: &mut DbConnection,
    org: &OrgId,
    slug: &str,
    name: &str,
    parent: Option<&WorkspaceId>,
    now: NaiveDateTime,
) -> Result<Workspace, StoreError> {
    let row = WorkspaceRow {
        id: WorkspaceId::generate().into_string(),
        org_id: org.as_str().to_owned(),
        slug: slug.to_owned(),
        name: name.to_owned(),
        created_at: now,
        parent_id: parent.map(|p| p.as_str().to_owned()),
    };
    diesel::insert_into(workspaces::table)
        .values(&row)
        .execute(conn)?;
    Ok(row.into())
}

pub fn list(conn: &mut DbConnection, org: &OrgId) -> Result<Vec<Workspace>, StoreError> {
    Ok(workspaces::table
        .filter(workspaces::org_id.eq(org.as_str()))
        .order((workspaces::slug, workspaces::id))
        .select(WorkspaceRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Workspace::from)
        .collect())
}

pub fn by_slug(conn: &mut DbConnection, org: &OrgId, slug: &str) -> Result<Workspace, StoreError> {
    Ok(workspaces::table
        .filter(workspaces::org_id.eq(org.as_str()))
        .filter(workspaces::slug.eq(slug))
        .select(WorkspaceRow::as_select())
        .first(conn)?
        .into())
}

/// Find a workspace by id or slug (the API accepts either).
pub fn by_ref(conn: &mut DbConnection, org: &OrgId, key: &str) -> Result<Workspace, StoreError> {
    match key.parse::<WorkspaceId>() {
        Ok(id) => Ok(workspaces::table
            .filter(workspaces::org_id.eq(org.as_str()))
            .filter(workspaces::id.eq(id.as_str()))
            .select(WorkspaceRow::as_select())
            .first(conn)?
            .into()),
        Err(_) => by_slug(conn, org, key),
    }
}

/// Rename a workspace and/or move it under another parent (`None` makes it
/// top-level). The caller has checked the tree rules.
pub fn update(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &WorkspaceId,
    name: &str,
    parent: Option<&WorkspaceId>,
) -> Result<(), StoreError> {
    let n = diesel::update(
        workspaces::table
            .filter(workspaces::org_id.eq(org.as_str()))
            .filter(workspaces::id.eq(id.as_str())),
    )
    .set((
        workspaces::name.eq(name),
        workspaces::parent_id.eq(parent.map(WorkspaceId::as_str)),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
