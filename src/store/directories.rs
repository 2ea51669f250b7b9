//! SCIM directories: one IdP provisioning connection of an org, with its own
//! base URL `/scim/v2/{directory}`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::scim_directories;
use super::{DbConnection, StoreError};
use crate::domain::{DirectoryId, OrgId};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = scim_directories)]
struct DirectoryRow {
    id: String,
    org_id: String,
    name: String,
    created_at: NaiveDateTime,
    ceiling_roles: String,
    ceiling_workspaces: Option<String>,
}

/// What a directory may assign (SPEC §2 "Granting limits" applied to an
/// IdP): org-level roles by id, and workspaces by id (`None`: every
/// workspace). The rules that use it live in `service::directories`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ceiling {
    pub roles: std::collections::BTreeSet<String>,
    pub workspaces: Option<std::collections::BTreeSet<String>>,
}

impl Ceiling {
    /// Stored text is ours; a value that does not parse admits nothing
    /// (never "every workspace").
    fn from_columns(roles: &str, workspaces: Option<&str>) -> Ceiling {
        Ceiling {
            roles: serde_json::from_str(roles).unwrap_or_default(),
            workspaces: workspaces.map(|w| serde_json::from_str(w).unwrap_or_default()),
        }
    }

    fn columns(&self) -> Result<(String, Option<String>), StoreError> {
        Ok((
            serde_json::to_string(&self.roles)?,
            self.workspaces
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    pub id: DirectoryId,
    pub org_id: OrgId,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub ceiling: Ceiling,
}

impl From<DirectoryRow> for Directory {
    fn from(r: DirectoryRow) -> Self {
        Directory {
            id: DirectoryId::from_trusted(r.id),
            org_id: OrgId::from_trusted(r.org_id),
            name: r.name,
            created_at: r.created_at,
            ceiling: Ceiling::from_columns(&r.ceiling_roles, r.ceiling_workspaces.as_deref()),
        }
    }
}

pub fn insert(
    conn: &mut DbConnection,
    org: &OrgId,
    name: &str,
    ceiling: &Ceiling,
    now: NaiveDateTime,
) -> Result<Directory, StoreError> {
    let (ceiling_roles, ceiling_workspaces) = ceiling.columns()?;
    let row = DirectoryRow {
        id: DirectoryId::generate().into_string(),
        org_id: org.as_str().to_owned(),
        name: name.to_owned(),
        created_at: now,
        ceiling_roles,
        ceiling_workspaces,
    };
    diesel::insert_into(scim_directories::table)
        .values((
            scim_directories::id.eq(&row.id),
            scim_directories::org_id.eq(&row.org_id),
            scim_directories::name.eq(&row.name),
            scim_directories::created_at.eq(row.created_at),
            scim_directories::ceiling_roles.eq(&row.ceiling_roles),
            scim_directories::ceiling_workspaces.eq(&row.ceiling_workspaces),
        ))
        .execute(conn)?;
    Ok(row.into())
}

/// Replace a directory's ceiling.
pub fn set_ceiling(
    conn: &mut DbConnection,
    id: &DirectoryId,
    ceiling: &Ceiling,
) -> Result<Directory, StoreError> {
    let (roles, workspaces) = ceiling.columns()?;
    diesel::update(scim_directories::table.find(id.as_str()))
        .set((
            scim_directories::ceiling_roles.eq(roles),
            scim_directories::ceiling_workspaces.eq(workspaces),
        ))
        .execute(conn)?;
    by_id(conn, id)
}

/// A directory of the org by id or name.
pub fn get(conn: &mut DbConnection, org: &OrgId, key: &str) -> Result<Directory, StoreError> {
    let query = scim_directories::table
        .filter(scim_directories::org_id.eq(org.as_str()))
        .select(DirectoryRow::as_select());
    let found = match key.parse::<DirectoryId>() {
        Ok(id) => query
            .filter(scim_directories::id.eq(id.as_str().to_owned()))
            .first(conn),
        Err(_) => query.filter(scim_directories::name.eq(key)).first(conn),
    };
    Ok(found?.into())
}

/// A directory by id alone (SCIM requests name only the directory).
pub fn by_id(conn: &mut DbConnection, id: &DirectoryId) -> Result<Directory, StoreError> {
    Ok(scim_directories::table
        .find(id.as_str())
        .select(DirectoryRow::as_select())
        .first(conn)?
        .into())
}

pub fn list(conn: &mut DbConnection, org: &OrgId) -> Result<Vec<Directory>, StoreError> {
    Ok(scim_directories::table
        .filter(scim_directories::org_id.eq(org.as_str()))
        .order((scim_directories::created_at, scim_directories::id))
        .select(DirectoryRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Directory::from)
        .collect())
}
