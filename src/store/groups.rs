//! Groups and memberships. Memberships are rows (`group_members`), so adding
//! or removing members costs the same whatever the group's size, and a group
//! is never loaded with its whole member list.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{group_members, groups};
use super::{DbConnection, StoreError};
use crate::domain::{DirectoryId, GroupId, OrgId, UserId};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = groups)]
pub(crate) struct GroupRow {
    id: String,
    org_id: String,
    directory_id: Option<String>,
    display_name: String,
    display_name_lower: String,
    external_id: Option<String>,
    scim: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: GroupId,
    pub org_id: OrgId,
    pub directory_id: Option<DirectoryId>,
    pub display_name: String,
    pub external_id: Option<String>,
    /// The SCIM resource as received, without `members`.
    pub scim: serde_json::Value,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl TryFrom<GroupRow> for Group {
    type Error = StoreError;
    fn try_from(r: GroupRow) -> Result<Self, StoreError> {
        Ok(Group {
            id: GroupId::from_trusted(r.id),
            org_id: OrgId::from_trusted(r.org_id),
            directory_id: r.directory_id.map(DirectoryId::from_trusted),
            display_name: r.display_name,
            external_id: r.external_id,
            scim: serde_json::from_str(&r.scim)?,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The writable state of a group.
#[derive(Debug, Clone)]
pub struct GroupFields {
    pub display_name: String,
    pub external_id: Option<String>,
    pub scim: serde_json::Value,
}

pub fn insert(
    conn: &mut DbConnection,
    org: &OrgId,
    directory: Option<&DirectoryId>,
    f: &GroupFields,
    now: NaiveDateTime,
) -> Result<Group, StoreError> {
    let row = GroupRow {
        id: GroupId::generate().into_string(),
        org_id: org.as_str().to_owned(),
        directory_id: directory.map(|d| d.as_str().to_owned()),
        display_name: f.display_name.clone(),
        display_name_lower: crate::domain::names::canonical_lower(&f.display_name),
        external_id: f.external_id.clone(),
        scim: serde_json::to_string(&f.scim)?,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(groups::table)
        .values(&row)
        .execute(conn)?;
    row.try_into()
}

pub fn get(conn: &mut DbConnection, org: &OrgId, id: &GroupId) -> Result<Group, StoreError> {
    groups::table
        .filter(groups::org_id.eq(org.as_str()))
        .filter(groups::id.eq(id.as_str()))
        .select(GroupRow::as_select())
        .first(conn)?
        .try_into()
}

/// Overwrite the group's fields if it is still at `expected_version`.
pub fn update(
    conn: &mut DbConnection,
    group: &Group,
    expected_version: i64,
    f: &GroupFields,
    now: NaiveDateTime,
) -> Result<Group, StoreError> {
    let n = diesel::update(
        groups::table
            .filter(groups::id.eq(group.id.as_str()))
            .filter(groups::version.eq(expected_version)),
    )
    .set((
        groups::display_name.eq(&f.display_name),
        groups::display_name_lower.eq(crate::domain::names::canonical_lower(&f.display_name)),
        groups::external_id.eq(&f.external_id),
        groups::scim.eq(serde_json::to_string(&f.scim)?),
        groups::version.eq(groups::version + 1),
        groups::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        get(conn, &group.org_id, &group.id)?;
        return Err(StoreError::VersionConflict);
    }
    get(conn, &group.org_id, &group.id)
}

/// Bump the version (membership changed) without touching other fields,
/// if it is still `expected` (else [`StoreError::VersionConflict`]).
pub fn touch(
    conn: &mut DbConnection,
    id: &GroupId,
    expected: i64,
    now: NaiveDateTime,
) -> Result<i64, StoreError> {
    let n = diesel::update(
        groups::table
            .find(id.as_str())
            .filter(groups::version.eq(expected)),
    )
    .set((
        groups::version.eq(groups::version + 1),
        groups::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::VersionConflict);
    }
    Ok(groups::table
        .find(id.as_str())
        .select(groups::version)
        .first(conn)?)
}

pub fn delete(conn: &mut DbConnection, id: &GroupId) -> Result<(), StoreError> {
    let n = diesel::delete(groups::table.find(id.as_str())).execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Add members; ids already present are skipped. Returns the ids actually added.
pub fn add_members(
    conn: &mut DbConnection,
    group: &GroupId,
    users: &[UserId],
    now: NaiveDateTime,
) -> Result<Vec<UserId>, StoreError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    // Idempotent under concurrency (Entra sends group PATCHes in parallel):
    // a member already present — or added by a concurrent request — is
    // skipped by the database, and only the rows really inserted come back.
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<_> = users
        .iter()
        .filter(|u| seen.insert(u.as_str()))
        .map(|u| {
            (
                group_members::group_id.eq(group.as_str()),
                group_members::user_id.eq(u.as_str()),
                group_members::created_at.eq(now),
            )
        })
        .collect();
    let mut added = Vec::new();
    for chunk in rows.chunks(300) {
        let ids: Vec<String> =
            crate::on_backend!(conn, |c| diesel::insert_into(group_members::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .returning(group_members::user_id)
                .get_results(c))?;
        added.extend(ids.into_iter().map(UserId::from_trusted));
    }
    Ok(added)
}

/// Remove members; absent ids are ignored. Returns the ids actually removed.
pub fn remove_members(
    conn: &mut DbConnection,
    group: &GroupId,
    users: &[UserId],
) -> Result<Vec<UserId>, StoreError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<&str> = users.iter().map(UserId::as_str).collect();
    let mut removed = Vec::new();
    for chunk in wanted.chunks(500) {
        let present: Vec<String> = group_members::table
            .filter(group_members::group_id.eq(group.as_str()))
            .filter(group_members::user_id.eq_any(chunk))
            .select(group_members::user_id)
            .load(conn)?;
        if present.is_empty() {
            continue;
        }
        diesel::delete(
            group_members::table
                .filter(group_members::group_id.eq(group.as_str()))
                .filter(group_members::user_id.eq_any(&present)),
        )
        .execute(conn)?;
        removed.extend(present.into_iter().map(UserId::from_trusted));
    }
    Ok(removed)
}

/// The groups a user belongs to.
pub fn of_user(conn: &mut DbConnection, user: &UserId) -> Result<Vec<GroupId>, StoreError> {
    Ok(group_members::table
        .filter(group_members::user_id.eq(user.as_str()))
        .select(group_members::group_id)
        .order(group_members::group_id)
        .load::<String>(conn)?
        .into_iter()
        .map(GroupId::from_trusted)
        .collect())
}

/// For each of `users`, the groups of `directory` they belong to:
/// `(user id, group id, displayName)`.
pub fn memberships_in_directory(
    conn: &mut DbConnection,
    users: &[UserId],
    directory: &DirectoryId,
) -> Result<Vec<(String, String, String)>, StoreError> {
    let ids: Vec<&str> = users.iter().map(UserId::as_str).collect();
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            group_members::table
                .inner_join(groups::table)
                .filter(group_members::user_id.eq_any(chunk))
                .filter(groups::directory_id.eq(directory.as_str()))
                .select((group_members::user_id, groups::id, groups::display_name))
                .load::<(String, String, String)>(conn)?,
        );
    }
    Ok(out)
}

/// Member ids of a group (for re-evaluating mappings after a group change).
pub fn member_ids(conn: &mut DbConnection, group: &GroupId) -> Result<Vec<UserId>, StoreError> {
    Ok(group_members::table
        .filter(group_members::group_id.eq(group.as_str()))
        .select(group_members::user_id)
        .load::<String>(conn)?
        .into_iter()
        .map(UserId::from_trusted)
        .collect())
}

/// A group of the directory.
pub fn in_directory(
    conn: &mut DbConnection,
    directory: &DirectoryId,
    id: &str,
) -> Result<Group, StoreError> {
    groups::table
        .filter(groups::id.eq(id))
        .filter(groups::directory_id.eq(directory.as_str()))
        .select(GroupRow::as_select())
        .first(conn)?
        .try_into()
}

/// Remove a user from every group of a directory (deprovisioning).
pub fn remove_user_from_directory_groups(
    conn: &mut DbConnection,
    user: &UserId,
    directory: &DirectoryId,
) -> Result<Vec<GroupId>, StoreError> {
    let in_dir = groups::table
        .filter(groups::directory_id.eq(directory.as_str()))
        .select(groups::id);
    let affected: Vec<String> = group_members::table
        .filter(group_members::user_id.eq(user.as_str()))
        .filter(group_members::group_id.eq_any(in_dir))
        .select(group_members::group_id)
        .load(conn)?;
    if !affected.is_empty() {
        diesel::delete(
            group_members::table
                .filter(group_members::user_id.eq(user.as_str()))
                .filter(group_members::group_id.eq_any(&affected)),
        )
        .execute(conn)?;
    }
    Ok(affected.into_iter().map(GroupId::from_trusted).collect())
}
