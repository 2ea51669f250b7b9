//! Users: the canonical record of a person in an org (SPEC §1).
//!
//! Uniqueness of `userName` and email is enforced by partial unique indexes
//! on their comparison keys (`user_name_lower`, `email_lower`: NFKC, case
//! folded, see `domain::names::comparison_key`), ignoring deprovisioned
//! users. Every update is checked against the `version` column in its WHERE
//! clause, so two writers racing on one user end with one success and one
//! [`StoreError::VersionConflict`] — never a lost write.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::access::AccessSnapshot;
use super::schema::users;
use super::{DbConnection, PageCursor, StoreError};
use crate::domain::{DirectoryId, Email, OrgId, UserId, UserName, UserSource, UserStatus};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    id: String,
    org_id: String,
    user_name: String,
    user_name_lower: String,
    email: Option<String>,
    email_lower: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    display_name: Option<String>,
    external_id: Option<String>,
    directory_id: Option<String>,
    status: String,
    source: String,
    scim: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deprovisioned_at: Option<NaiveDateTime>,
    access: String,
    display_name_lower: Option<String>,
    given_name_lower: Option<String>,
    family_name_lower: Option<String>,
}

/// The stored case-folded form of an optional name (SCIM filters compare
/// these columns; see `store::scim`).
fn folded(s: Option<&str>) -> Option<String> {
    s.map(crate::domain::names::canonical_lower)
}

/// `status <> 'deprovisioned'`, written as a literal rather than a bound
/// value: PostgreSQL can then prove the partial unique indexes' predicate
/// even in the generic plan of a cached prepared statement (with a bound
/// value it falls back to a sequential scan).
pub fn live() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql("users.status <> 'deprovisioned'")
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub user_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    /// The SCIM directory that owns this user, if any.
    pub directory_id: Option<DirectoryId>,
    pub status: UserStatus,
    pub source: UserSource,
    /// The SCIM resource as last received (attributes we do not model included).
    pub scim: serde_json::Value,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deprovisioned_at: Option<NaiveDateTime>,
    /// The materialised access snapshot (see `store::access`).
    pub access: AccessSnapshot,
}

impl User {
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            created_at: self.created_at,
            id: self.id.as_str().to_owned(),
        }
    }
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: UserId::from_trusted(r.id),
            org_id: OrgId::from_trusted(r.org_id),
            user_name: r.user_name,
            email: r.email,
            given_name: r.given_name,
            family_name: r.family_name,
            display_name: r.display_name,
            external_id: r.external_id,
            directory_id: r.directory_id.map(DirectoryId::from_trusted),
            status: r.status.parse().map_err(StoreError::corrupt)?,
            source: r.source.parse().map_err(StoreError::corrupt)?,
            scim: serde_json::from_str(&r.scim)?,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deprovisioned_at: r.deprovisioned_at,
            access: serde_json::from_str(&r.access)?,
        })
    }
}

/// The writable state of a user: what inserts and updates set.
#[derive(Debug, Clone)]
pub struct UserFields {
    pub user_name: UserName,
    pub email: Option<Email>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub directory_id: Option<DirectoryId>,
    pub status: UserStatus,
    pub source: UserSource,
    pub scim: serde_json::Value,
}

impl UserFields {
    /// The current state of `user`, to be modified and written back.
    pub fn of(user: &User) -> Result<UserFields, StoreError> {
        Ok(UserFields {
            user_name: UserName::from_stored(&user.user_name),
            email: user.email.as_deref().map(Email::from_stored),
            given_name: user.given_name.clone(),
            family_name: user.family_name.clone(),
            display_name: user.display_name.clone(),
            external_id: user.external_id.clone(),
            directory_id: user.directory_id.clone(),
            status: user.status,
            source: user.source,
            scim: user.scim.clone(),
        })
    }
}

#[derive(AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
struct UserChanges<'a> {
    user_name: &'a str,
    user_name_lower: &'a str,
    email: Option<&'a str>,
    email_lower: Option<&'a str>,
    given_name: Option<&'a str>,
    family_name: Option<&'a str>,
    display_name: Option<&'a str>,
    external_id: Option<&'a str>,
    directory_id: Option<&'a str>,
    status: &'a str,
    source: &'a str,
    scim: String,
    updated_at: NaiveDateTime,
    deprovisioned_at: Option<NaiveDateTime>,
    display_name_lower: Option<String>,
    given_name_lower: Option<String>,
    family_name_lower: Option<String>,
}

pub fn insert(
    conn: &mut DbConnection,
    org: &OrgId,
    f: &UserFields,
    now: NaiveDateTime,
) -> Result<User, StoreError> {
    insert_with(
        conn,
        &UserId::generate(),
        org,
        f,
        &AccessSnapshot::default(),
        now,
    )
}

/// Insert with a chosen id and an initial access snapshot (the caller also
/// writes the rows the snapshot is derived from, in the same transaction).
pub fn insert_with(
    conn: &mut DbConnection,
    id: &UserId,
    org: &OrgId,
    f: &UserFields,
    access: &AccessSnapshot,
    now: NaiveDateTime,
) -> Result<User, StoreError> {
    let row = new_row(id, org, f, access, now)?;
    diesel::insert_into(users::table)
        .values(&row)
        .execute(conn)?;
    row.try_into()
}

/// Several new users (each with its access snapshot) in multi-row INSERTs:
/// what [`insert_with`] does for one, set-based (bulk invites).
pub fn insert_many(
    conn: &mut DbConnection,
    org: &OrgId,
    items: &[(&UserId, &UserFields, &AccessSnapshot)],
    now: NaiveDateTime,
) -> Result<Vec<User>, StoreError> {
    let rows = items
        .iter()
        .map(|(id, f, access)| new_row(id, org, f, access, now))
        .collect::<Result<Vec<_>, _>>()?;
    // 22 columns: 200 rows stay far below SQLite's bound-parameter cap.
    for chunk in rows.chunks(200) {
        crate::on_backend!(conn, |c| diesel::insert_into(users::table)
            .values(chunk)
            .execute(c))?;
    }
    rows.into_iter().map(User::try_from).collect()
}

fn new_row(
    id: &UserId,
    org: &OrgId,
    f: &UserFields,
    access: &AccessSnapshot,
    now: NaiveDateTime,
) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        id: id.as_str().to_owned(),
        org_id: org.as_str().to_owned(),
        user_name: f.user_name.as_str().to_owned(),
        user_name_lower: f.user_name.canonical().to_owned(),
        email: f.email.as_ref().map(|e| e.as_str().to_owned()),
        email_lower: f.email.as_ref().map(|e| e.canonical().to_owned()),
        given_name: f.given_name.clone(),
        family_name: f.family_name.clone(),
        display_name: f.display_name.clone(),
        external_id: f.external_id.clone(),
        directory_id: f.directory_id.as_ref().map(|d| d.as_str().to_owned()),
        status: f.status.as_str().to_owned(),
        source: f.source.as_str().to_owned(),
        scim: serde_json::to_string(&f.scim)?,
        version: 1,
        created_at: now,
        updated_at: now,
        deprovisioned_at: (f.status == UserStatus::Deprovisioned).then_some(now),
        access: serde_json::to_string(access)?,
        display_name_lower: folded(f.display_name.as_deref()),
        given_name_lower: folded(f.given_name.as_deref()),
        family_name_lower: folded(f.family_name.as_deref()),
    })
}

/// Write `f` over the user if it is still at `expected_version`; the version
/// is bumped. A mismatch is [`StoreError::VersionConflict`]; a missing user
/// [`StoreError::NotFound`].
pub fn update(
    conn: &mut DbConnection,
    user: &User,
    expected_version: i64,
    f: &UserFields,
    now: NaiveDateTime,
) -> Result<User, StoreError> {
    // Users whose identifiers collided when the comparison key changed
    // stay refused until the collision is resolved (see identifier_keys).
    let keys = (f.status != UserStatus::Deprovisioned).then(|| {
        (
            f.user_name.canonical(),
            f.email.as_ref().map(Email::canonical),
        )
    });
    super::identifier_keys::check_write(conn, user.id.as_str(), keys)?;
    let deprovisioned_at = match (f.status, user.deprovisioned_at) {
        (UserStatus::Deprovisioned, Some(at)) => Some(at),
        (UserStatus::Deprovisioned, None) => Some(now),
        _ => None,
    };
    let changes = UserChanges {
        user_name: f.user_name.as_str(),
        user_name_lower: f.user_name.canonical(),
        email: f.email.as_ref().map(Email::as_str),
        email_lower: f.email.as_ref().map(Email::canonical),
        given_name: f.given_name.as_deref(),
        family_name: f.family_name.as_deref(),
        display_name: f.display_name.as_deref(),
        external_id: f.external_id.as_deref(),
        directory_id: f.directory_id.as_ref().map(DirectoryId::as_str),
        status: f.status.as_str(),
        source: f.source.as_str(),
        scim: serde_json::to_string(&f.scim)?,
        updated_at: now,
        deprovisioned_at,
        display_name_lower: folded(f.display_name.as_deref()),
        given_name_lower: folded(f.given_name.as_deref()),
        family_name_lower: folded(f.family_name.as_deref()),
    };
    let target = users::table
        .filter(users::id.eq(user.id.as_str()))
        .filter(users::org_id.eq(user.org_id.as_str()))
        .filter(users::version.eq(expected_version));
    // RETURNING the new row saves reading it back (dispatched per backend:
    // the multi-connection cannot express RETURNING of a selectable struct).
    let n: Option<UserRow> = crate::on_backend!(conn, |c| diesel::update(target)
        .set((&changes, users::version.eq(users::version + 1)))
        .returning(UserRow::as_returning())
        .get_result(c)
        .optional())?;
    match n {
        Some(row) => row.try_into(),
        None => {
            // Tell "gone" from "changed underneath us".
            get(conn, &user.org_id, &user.id)?;
            Err(StoreError::VersionConflict)
        }
    }
}

/// A user of the org by id, whatever its status.
pub fn get(conn: &mut DbConnection, org: &OrgId, id: &UserId) -> Result<User, StoreError> {
    users::table
        .filter(users::org_id.eq(org.as_str()))
        .filter(users::id.eq(id.as_str()))
        .select(UserRow::as_select())
        .first(conn)?
        .try_into()
}

/// The live (not deprovisioned) user with this canonical userName.
pub fn find_by_user_name(
    conn: &mut DbConnection,
    org: &OrgId,
    user_name_lower: &str,
) -> Result<Option<User>, StoreError> {
    users::table
        .filter(users::org_id.eq(org.as_str()))
        .filter(users::user_name_lower.eq(user_name_lower))
        .filter(live())
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(User::try_from)
        .transpose()
}

/// Filters for the admin listing.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Case-insensitive substring of userName, email or display name.
    pub search: Option<String>,
    pub status: Option<UserStatus>,
    pub after: Option<PageCursor>,
    pub limit: i64,
}

/// Escape LIKE wildcards so user input matches literally (`ESCAPE '\'`).
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The users of the org the listing's filters (status, search, cursor)
/// select, unordered and unpaged.
fn filtered<'a>(org: &'a OrgId, q: &'a UserQuery) -> users::BoxedQuery<'a, super::MultiBackend> {
    let mut query = users::table
        .filter(users::org_id.eq(org.as_str()))
        .into_boxed();
    if let Some(status) = q.status {
        query = query.filter(users::status.eq(status.as_str()));
    }
    if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = format!(
            "%{}%",
            like_escape(&crate::domain::names::comparison_key(search))
        );
        query = query.filter(
            users::user_name_lower
                .like(pattern.clone())
                .escape('\\')
                .or(users::email_lower.like(pattern.clone()).escape('\\'))
                .or(users::display_name_lower.like(pattern).escape('\\')),
        );
    }
    if let Some(after) = &q.after {
        query = query.filter(
            users::created_at.gt(after.created_at).or(users::created_at
                .eq(after.created_at)
                .and(users::id.gt(after.id.clone()))),
        );
    }
    query
}

/// Users of the org in creation order, after the cursor.
pub fn list(conn: &mut DbConnection, org: &OrgId, q: &UserQuery) -> Result<Vec<User>, StoreError> {
    filtered(org, q)
        .select(UserRow::as_select())
        .order((users::created_at, users::id))
        .limit(q.limit)
        .load(conn)?
        .into_iter()
        .map(User::try_from)
        .collect()
}

/// Which bindings make a user a holder (see [`holding`]).
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    /// Role ids; a binding to any of them counts.
    pub roles: &'a [&'a str],
    /// Only bindings on these workspaces (workspace-scoped) count — a
    /// workspace and its ancestors, whose bindings may be inherited; `None`:
    /// bindings at any scope.
    pub workspaces: Option<&'a [&'a str]>,
}

/// Users of the org holding a binding `held` describes — their own or one
/// of their groups' — filtered and paged like [`list`].
pub fn holding(
    conn: &mut DbConnection,
    org: &OrgId,
    held: Held<'_>,
    q: &UserQuery,
) -> Result<Vec<User>, StoreError> {
    use super::schema::{bindings, group_members};
    // A bound flag rather than a boxed subquery: the multi-backend cannot
    // box a subquery, and this keeps one statement for both cases.
    let any_scope = held.workspaces.is_none();
    let workspaces = held.workspaces.unwrap_or_default();
    let bound = || {
        bindings::table
            .filter(bindings::org_id.eq(org.as_str()))
            .filter(bindings::role_id.eq_any(held.roles))
            .filter(
                any_scope
                    .into_sql::<diesel::sql_types::Bool>()
                    .or(bindings::scope_kind
                        .eq("workspace")
                        .and(bindings::workspace_id.eq_any(workspaces))),
            )
    };
    let direct = bound()
        .filter(bindings::user_id.is_not_null())
        .select(bindings::user_id);
    let through_groups = group_members::table
        .filter(
            group_members::group_id.nullable().eq_any(
                bound()
                    .filter(bindings::group_id.is_not_null())
                    .select(bindings::group_id),
            ),
        )
        .select(group_members::user_id);
    filtered(org, q)
        .filter(
            users::id
                .nullable()
                .eq_any(direct)
                .or(users::id.eq_any(through_groups)),
        )
        .select(UserRow::as_select())
        .order((users::created_at, users::id))
        .limit(q.limit)
        .load(conn)?
        .into_iter()
        .map(User::try_from)
        .collect()
}

/// Users of the org by id (any status), in no particular order.
pub fn get_many(
    conn: &mut DbConnection,
    org: &OrgId,
    ids: &[UserId],
) -> Result<Vec<User>, StoreError> {
    let ids: Vec<&str> = ids.iter().map(UserId::as_str).collect();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        for row in users::table
            .filter(users::org_id.eq(org.as_str()))
            .filter(users::id.eq_any(chunk))
            .select(UserRow::as_select())
            .load(conn)?
        {
            out.push(User::try_from(row)?);
        }
    }
    Ok(out)
}

/// Live users a directory owns.
pub fn ids_in_directory(
    conn: &mut DbConnection,
    directory: &DirectoryId,
) -> Result<Vec<UserId>, StoreError> {
    Ok(users::table
        .filter(users::directory_id.eq(directory.as_str()))
        .filter(live())
        .select(users::id)
        .load::<String>(conn)?
        .into_iter()
        .map(UserId::from_trusted)
        .collect())
}

/// The live user whose canonical userName or email matches (for SCIM's
/// "one person, one user": adopt or refuse).
pub fn find_by_name_or_email(
    conn: &mut DbConnection,
    org: &OrgId,
    user_name_lower: &str,
    email_lower: Option<&str>,
) -> Result<Vec<User>, StoreError> {
    // userName is often the email address: compare each with both columns.
    let mut keys = vec![user_name_lower.to_owned()];
    if let Some(e) = email_lower
        && e != user_name_lower
    {
        keys.push(e.to_owned());
    }
    // Two lookups, one per partial unique index: with `a OR b` SQLite uses
    // the index on `org_id` alone and reads every user of the org (a create
    // then costs time linear in the org's size).
    let mut rows: Vec<UserRow> = users::table
        .filter(users::org_id.eq(org.as_str()))
        .filter(live())
        .filter(users::user_name_lower.eq_any(keys.clone()))
        .select(UserRow::as_select())
        .load(conn)?;
    let by_email: Vec<UserRow> = users::table
        .filter(users::org_id.eq(org.as_str()))
        .filter(live())
        .filter(users::email_lower.is_not_null())
        .filter(users::email_lower.eq_any(keys))
        .select(UserRow::as_select())
        .load(conn)?;
    for row in by_email {
        if !rows.iter().any(|r| r.id == row.id) {
            rows.push(row);
        }
    }
    rows.into_iter().map(User::try_from).collect()
}

/// Which of these lower-cased addresses are taken in the org: by a live
/// user's userName or email, or by a deprovisioned user's email — what an
/// invite looks up per address, for a whole chunk in three queries (each
/// through its partial index).
pub fn taken_addresses(
    conn: &mut DbConnection,
    org: &OrgId,
    keys: &[String],
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut out = std::collections::HashSet::new();
    for chunk in keys.chunks(500) {
        let by_name: Vec<String> = users::table
            .filter(users::org_id.eq(org.as_str()))
            .filter(live())
            .filter(users::user_name_lower.eq_any(chunk))
            .select(users::user_name_lower)
            .load(conn)?;
        let by_email: Vec<Option<String>> = users::table
            .filter(users::org_id.eq(org.as_str()))
            .filter(live())
            .filter(users::email_lower.is_not_null())
            .filter(users::email_lower.eq_any(chunk))
            .select(users::email_lower)
            .load(conn)?;
        let gone: Vec<Option<String>> = users::table
            .filter(users::org_id.eq(org.as_str()))
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "users.status = 'deprovisioned'",
            ))
            .filter(users::email_lower.eq_any(chunk))
            .select(users::email_lower)
            .load(conn)?;
        out.extend(by_name);
        out.extend(by_email.into_iter().chain(gone).flatten());
    }
    Ok(out)
}

/// A live user owned by the directory.
pub fn in_directory(
    conn: &mut DbConnection,
    directory: &DirectoryId,
    id: &str,
) -> Result<User, StoreError> {
    users::table
        .filter(users::id.eq(id))
        .filter(users::directory_id.eq(directory.as_str()))
        .filter(live())
        .select(UserRow::as_select())
        .first(conn)?
        .try_into()
}

/// Of `ids`, the live users the directory owns: (id, userName, displayName).
pub fn live_in_directory(
    conn: &mut DbConnection,
    directory: &DirectoryId,
    ids: &[String],
) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        out.extend(
            users::table
                .filter(users::id.eq_any(chunk))
                .filter(users::directory_id.eq(directory.as_str()))
                .filter(live())
                .select((users::id, users::user_name, users::display_name))
                .load::<(String, String, Option<String>)>(conn)?,
        );
    }
    Ok(out)
}

/// PostgreSQL only: write a SCIM-created user (built in memory, version 1),
/// its org binding, its indexed values and its audit event in ONE statement
/// (data-modifying CTEs), so the common case costs one round trip and one
/// commit. `ON CONFLICT DO NOTHING` makes a clash with an existing userName,
/// email or externalId write nothing and return `false`; the caller then
/// takes the general path, which adopts the existing user or answers 409.
/// A live user of the org whose userName or email equals the new userName
/// or email (in either column) also makes it write nothing, as the general
/// path's adoption check would find it.
/// Writes the same rows as `insert_with` plus the binding, value and audit
/// inserts of that general path.
pub fn insert_scim_user_pg(
    conn: &mut diesel::PgConnection,
    user: &User,
    binding: Option<(&str, &str, &str)>,
    values: &[crate::scim::index::IndexedValue],
    audit: &super::audit::NewAuditEvent,
) -> Result<bool, StoreError> {
    use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamp};
    #[derive(QueryableByName)]
    struct Inserted {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let (binding_id, role_id, source) = match binding {
        Some((b, r, s)) => (Some(b), Some(r), Some(s)),
        None => (None, None, None),
    };
    let lower = |s: &Option<String>| s.as_deref().map(crate::domain::names::comparison_key);
    let inserted: Inserted = diesel::sql_query(
        "WITH u AS ( \
           INSERT INTO users (id, org_id, user_name, user_name_lower, email, email_lower, given_name, family_name, \
                              display_name, external_id, directory_id, status, source, scim, version, created_at, \
                              updated_at, access, display_name_lower, given_name_lower, family_name_lower) \
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $15, $16, $33, $34, $35 \
           WHERE NOT EXISTS (SELECT 1 FROM users o WHERE o.org_id = $2 AND o.status <> 'deprovisioned' \
                             AND (o.user_name_lower IN ($4, $6) OR o.email_lower IN ($4, $6))) \
           ON CONFLICT DO NOTHING RETURNING id), \
         b AS ( \
           INSERT INTO bindings (id, org_id, user_id, role_id, scope_kind, source, created_at) \
           SELECT $17, $2, u.id, $18, 'org', $19, $15 FROM u WHERE $18 IS NOT NULL), \
         v AS ( \
           INSERT INTO scim_values (resource_id, directory_id, attr, type, value, value_lower, is_primary) \
           SELECT u.id, $11, x.attr, x.type, x.value, x.value_lower, x.is_primary \
           FROM u, unnest($20::text[], $21::text[], $22::text[], $32::text[], $23::bool[]) \
                AS x(attr, type, value, value_lower, is_primary)), \
         a AS ( \
           INSERT INTO audit_events (id, org_id, occurred_at, actor_kind, actor_id, actor_label, action, target_kind, \
                                     target_id, before_state, after_state, request_id) \
           SELECT $24, $2, $15, $25, $26, $27, $28, $29, u.id, NULL, $30, $31 FROM u) \
         SELECT count(*) AS n FROM u",
    )
    .bind::<Text, _>(user.id.as_str())
    .bind::<Text, _>(user.org_id.as_str())
    .bind::<Text, _>(&user.user_name)
    .bind::<Text, _>(crate::domain::names::comparison_key(&user.user_name))
    .bind::<Nullable<Text>, _>(user.email.as_deref())
    .bind::<Nullable<Text>, _>(lower(&user.email))
    .bind::<Nullable<Text>, _>(user.given_name.as_deref())
    .bind::<Nullable<Text>, _>(user.family_name.as_deref())
    .bind::<Nullable<Text>, _>(user.display_name.as_deref())
    .bind::<Nullable<Text>, _>(user.external_id.as_deref())
    .bind::<Nullable<Text>, _>(user.directory_id.as_ref().map(DirectoryId::as_str))
    .bind::<Text, _>(user.status.as_str())
    .bind::<Text, _>(user.source.as_str())
    .bind::<Text, _>(serde_json::to_string(&user.scim)?)
    .bind::<Timestamp, _>(user.created_at)
    .bind::<Text, _>(serde_json::to_string(&user.access)?)
    .bind::<Nullable<Text>, _>(binding_id)
    .bind::<Nullable<Text>, _>(role_id)
    .bind::<Nullable<Text>, _>(source)
    .bind::<Array<Text>, _>(values.iter().map(|v| v.attr.as_str()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(
        values
            .iter()
            .map(|v| v.value_type.as_deref().map(crate::domain::names::canonical_lower))
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Text>, _>(values.iter().map(|v| v.value.as_str()).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(values.iter().map(|v| v.primary).collect::<Vec<_>>())
    .bind::<Text, _>(crate::domain::AuditEventId::generate().into_string())
    .bind::<Text, _>(audit.actor.kind.as_str())
    .bind::<Nullable<Text>, _>(audit.actor.id.as_deref())
    .bind::<Text, _>(audit.actor.label.as_str())
    .bind::<Text, _>(audit.action)
    .bind::<Text, _>(audit.target_kind)
    .bind::<Nullable<Text>, _>(audit.after.as_ref().map(serde_json::to_string).transpose()?)
    .bind::<Nullable<Text>, _>(audit.request_id.as_deref())
    .bind::<Array<Text>, _>(
        values
            .iter()
            .map(|v| crate::domain::names::canonical_lower(&v.value))
            .collect::<Vec<_>>(),
    )
    // The names keep the filters' folding (as `insert_with` stores them),
    // not the identifier key the email column takes.
    .bind::<Nullable<Text>, _>(folded(user.display_name.as_deref()))
    .bind::<Nullable<Text>, _>(folded(user.given_name.as_deref()))
    .bind::<Nullable<Text>, _>(folded(user.family_name.as_deref()))
    .get_result(conn)?;
    Ok(inserted.n == 1)
}
