//! SCIM storage: directory tokens, the indexed values of users, and the
//! translation of RFC 7644 §3.4.2.2 filters into SQL over `users` / `groups`
//! (never evaluated by loading a directory into memory).
//!
//! Comparison rules follow each attribute's `caseExact`, identically on both
//! backends: case-insensitive attributes compare stored foldings (`*_lower`
//! columns, `scim_values.value_lower`, all computed in Rust by
//! `domain::names::canonical_lower`, because SQL `lower()` folds only ASCII)
//! with the folded value; case-exact ones (`id`, `externalId`, …) compare the
//! raw column, and `co`/`sw`/`ew` use `LIKE` on PostgreSQL but `GLOB` on
//! SQLite, whose `LIKE` ignores ASCII case. Text orders by code point on both
//! (`COLLATE "C"` columns on PostgreSQL). Every
//! comparison on a nullable column is null-safe (`col IS NOT NULL AND …`), so
//! `not (…)` keeps SQL's three-valued logic out of SCIM's two-valued one.
//! Multi-valued and extension attributes are answered with
//! `id IN (SELECT resource_id FROM scim_values WHERE …)`, all conditions of a
//! value path on the same row. Attributes nothing here can answer exactly are
//! an `invalidFilter` error, never an empty result.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::groups::Group;
use super::schema::{group_members, groups, scim_tokens, scim_values, users};
use super::users::User;
use super::{DbConnection, StoreError};
use crate::domain::names::canonical_lower;
use crate::domain::{DirectoryId, GroupId, OrgId, UserId};
use crate::scim::filter::Filter;
use crate::scim::index::{self, GroupTarget, IndexedValue, UserColumn, UserTarget, ValuePart};
use crate::scim::schema::AttrPath;

mod pg {
    pub type Db = diesel::pg::Pg;
    pub type Conn = diesel::PgConnection;
    /// Case-sensitive co/sw/ew: PostgreSQL's `LIKE` already is.
    macro_rules! exact_like {
        ($e:expr, $op:expr, $v:expr) => {
            $e.like(pattern($op, $v)).escape('\\')
        };
    }
    include!("query.rs");
}

mod sqlite {
    pub type Db = diesel::sqlite::Sqlite;
    pub type Conn = diesel::SqliteConnection;
    diesel::infix_operator!(Glob, " GLOB ", backend: diesel::sqlite::Sqlite);
    /// Case-sensitive co/sw/ew: SQLite's `LIKE` ignores ASCII case, `GLOB`
    /// does not (and can use an index for a prefix).
    macro_rules! exact_like {
        ($e:expr, $op:expr, $v:expr) => {
            Glob::new(
                $e,
                diesel::IntoSql::into_sql::<diesel::sql_types::Text>(glob_pattern($op, $v)),
            )
        };
    }
    /// A `GLOB` pattern for co/sw/ew that matches `v` literally: `*`, `?`
    /// and `[` are wrapped in brackets.
    fn glob_pattern(op: crate::scim::filter::CompareOp, v: &str) -> String {
        use crate::scim::filter::CompareOp;
        let mut lit = String::with_capacity(v.len() + 2);
        for c in v.chars() {
            match c {
                '*' | '?' | '[' => {
                    lit.push('[');
                    lit.push(c);
                    lit.push(']');
                }
                _ => lit.push(c),
            }
        }
        match op {
            CompareOp::Co => format!("*{lit}*"),
            CompareOp::Sw => format!("{lit}*"),
            _ => format!("*{lit}"),
        }
    }
    include!("query.rs");
}

/// A filter this store cannot answer (the server answers `400 invalidFilter`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterUnsupported(pub String);

fn bad(msg: impl Into<String>) -> FilterUnsupported {
    FilterUnsupported(msg.into())
}

pub fn user_sort(path: &AttrPath) -> Result<UserColumn, FilterUnsupported> {
    match index::user_target(path) {
        Ok(UserTarget::Column(c)) if c != UserColumn::Active => Ok(c),
        Ok(UserTarget::Value {
            attr,
            part: ValuePart::Value,
            ..
        }) if attr == "emails" => Ok(UserColumn::Email),
        _ => Err(bad(format!("sorting by `{path}` is not supported"))),
    }
}

pub fn group_sort(path: &AttrPath) -> Result<GroupTarget, FilterUnsupported> {
    match index::group_target(path) {
        Ok(t) if t != GroupTarget::Member => Ok(t),
        _ => Err(bad(format!("sorting by `{path}` is not supported"))),
    }
}

/// One page of a listing, with the total number of matches.
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

pub struct ListSpec<S> {
    pub sort: Option<(S, bool)>,
    pub offset: i64,
    pub limit: i64,
}

/// A keyset page (RFC 9865 cursors): rows strictly after `from` in
/// `(created_at, id)` order when `ascending`, strictly before it (nearest
/// first) otherwise; at most `limit`.
pub struct Keyset {
    pub from: Option<(NaiveDateTime, String)>,
    pub ascending: bool,
    pub limit: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Filter(#[from] FilterUnsupported),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Live users of a directory matching `filter`, with the exact total.
pub fn list_users(
    conn: &mut DbConnection,
    org: &OrgId,
    directory: &DirectoryId,
    filter: Option<&Filter>,
    spec: &ListSpec<UserColumn>,
) -> Result<Page<User>, ListError> {
    match conn {
        DbConnection::Pg(c) => pg::list_users(c, org, directory, filter, spec),
        DbConnection::Sqlite(c) => sqlite::list_users(c, org, directory, filter, spec),
    }
}

/// Groups of a directory matching `filter`, with the exact total.
pub fn list_groups(
    conn: &mut DbConnection,
    directory: &DirectoryId,
    filter: Option<&Filter>,
    spec: &ListSpec<GroupTarget>,
) -> Result<Page<Group>, ListError> {
    match conn {
        DbConnection::Pg(c) => pg::list_groups(c, directory, filter, spec),
        DbConnection::Sqlite(c) => sqlite::list_groups(c, directory, filter, spec),
    }
}

/// Live users of a directory matching `filter`, one keyset page.
pub fn users_keyset(
    conn: &mut DbConnection,
    org: &OrgId,
    directory: &DirectoryId,
    filter: Option<&Filter>,
    k: &Keyset,
) -> Result<Vec<User>, ListError> {
    match conn {
        DbConnection::Pg(c) => pg::users_keyset(c, org, directory, filter, k),
        DbConnection::Sqlite(c) => sqlite::users_keyset(c, org, directory, filter, k),
    }
}

/// Groups of a directory matching `filter`, one keyset page.
pub fn groups_keyset(
    conn: &mut DbConnection,
    directory: &DirectoryId,
    filter: Option<&Filter>,
    k: &Keyset,
) -> Result<Vec<Group>, ListError> {
    match conn {
        DbConnection::Pg(c) => pg::groups_keyset(c, directory, filter, k),
        DbConnection::Sqlite(c) => sqlite::groups_keyset(c, directory, filter, k),
    }
}

// ------------------------------------------------------------ indexed values

/// Replace the indexed values of a user (skipped when unchanged).
pub fn put_values(
    conn: &mut DbConnection,
    user: &UserId,
    directory: &DirectoryId,
    before: &[IndexedValue],
    after: &[IndexedValue],
) -> Result<(), StoreError> {
    if before == after {
        return Ok(());
    }
    if !before.is_empty() {
        diesel::delete(scim_values::table.filter(scim_values::resource_id.eq(user.as_str())))
            .execute(conn)?;
    }
    insert_values(conn, user, directory, after)
}

/// Rows of `scim_values` written by one INSERT.
const VALUE_ROWS_PER_INSERT: usize = 1000;

pub fn insert_values(
    conn: &mut DbConnection,
    user: &UserId,
    directory: &DirectoryId,
    values: &[IndexedValue],
) -> Result<(), StoreError> {
    if values.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = values
        .iter()
        .map(|v| {
            (
                scim_values::resource_id.eq(user.as_str()),
                scim_values::directory_id.eq(directory.as_str()),
                scim_values::attr.eq(v.attr.as_str()),
                scim_values::value_type.eq(v.value_type.as_deref().map(canonical_lower)),
                scim_values::value.eq(v.value.as_str()),
                scim_values::value_lower.eq(canonical_lower(&v.value)),
                scim_values::is_primary.eq(v.primary),
            )
        })
        .collect();
    // Seven bound values a row: chunks stay far below SQLite's limit on
    // variables in one statement (32,766), whatever the number of values.
    for chunk in rows.chunks(VALUE_ROWS_PER_INSERT) {
        crate::on_backend!(conn, |c| diesel::insert_into(scim_values::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

// ------------------------------------------------------------ folded names

/// (id, displayName, givenName, familyName) of a user.
type NamesRow = (String, Option<String>, Option<String>, Option<String>);

/// Fills the folded name columns (`display_name_lower`, `given_name_lower`,
/// `family_name_lower`) of every user that lacks them — rows written before
/// those columns existed — with the Rust folding the filters use (SQL
/// `lower()` folds only ASCII). Idempotent and cheap when nothing is pending:
/// the partial index `users_refold_pending_idx` lists exactly these rows.
/// Returns how many rows were filled.
pub fn refold_user_names(conn: &mut DbConnection) -> Result<usize, StoreError> {
    let pending = || {
        users::display_name
            .is_not_null()
            .and(users::display_name_lower.is_null())
            .or(users::given_name
                .is_not_null()
                .and(users::given_name_lower.is_null()))
            .or(users::family_name
                .is_not_null()
                .and(users::family_name_lower.is_null()))
    };
    let mut filled = 0;
    loop {
        let n = super::write_tx::<_, StoreError, _>(conn, |conn| {
            let rows: Vec<NamesRow> = users::table
                .filter(pending())
                .select((
                    users::id,
                    users::display_name,
                    users::given_name,
                    users::family_name,
                ))
                .limit(500)
                .load(conn)?;
            for (id, display, given, family) in &rows {
                let fold = |s: &Option<String>| s.as_deref().map(canonical_lower);
                diesel::update(users::table.filter(users::id.eq(id)))
                    .set((
                        users::display_name_lower.eq(fold(display)),
                        users::given_name_lower.eq(fold(given)),
                        users::family_name_lower.eq(fold(family)),
                    ))
                    .execute(conn)?;
            }
            Ok(rows.len())
        })?;
        filled += n;
        if n == 0 {
            return Ok(filled);
        }
    }
}

// ------------------------------------------------------------ memberships for responses

/// For each user, the groups of the directory they are in: (group id, displayName).
/// Two narrow steps — memberships by user, then those groups of this
/// directory — so the plan cannot go through every group of a directory.
pub fn groups_of_users(
    conn: &mut DbConnection,
    directory: &DirectoryId,
    users_: &[UserId],
) -> Result<HashMap<String, Vec<(String, String)>>, StoreError> {
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    if users_.is_empty() {
        return Ok(out);
    }
    let ids: Vec<&str> = users_.iter().map(UserId::as_str).collect();
    let mut memberships: Vec<(String, String)> = Vec::new();
    for chunk in ids.chunks(500) {
        memberships.extend(
            group_members::table
                .filter(group_members::user_id.eq_any(chunk))
                .select((group_members::user_id, group_members::group_id))
                .load::<(String, String)>(conn)?,
        );
    }
    if memberships.is_empty() {
        return Ok(out);
    }
    let mut group_ids: Vec<&str> = memberships.iter().map(|(_, g)| g.as_str()).collect();
    group_ids.sort_unstable();
    group_ids.dedup();
    let mut names: HashMap<String, String> = HashMap::new();
    for chunk in group_ids.chunks(500) {
        names.extend(
            groups::table
                .filter(groups::id.eq_any(chunk))
                .filter(groups::directory_id.eq(directory.as_str()))
                .select((groups::id, groups::display_name))
                .load::<(String, String)>(conn)?,
        );
    }
    for (user, group) in memberships {
        if let Some(name) = names.get(&group) {
            out.entry(user).or_default().push((group, name.clone()));
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    Ok(out)
}

/// For each group, its members: (user id, userName / displayName).
pub fn members_of_groups(
    conn: &mut DbConnection,
    groups_: &[GroupId],
) -> Result<HashMap<String, Vec<(String, String)>>, StoreError> {
    let ids: Vec<&str> = groups_.iter().map(GroupId::as_str).collect();
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for (g, u, name, display) in group_members::table
            .inner_join(users::table)
            .filter(group_members::group_id.eq_any(chunk))
            .order((
                group_members::group_id,
                group_members::created_at,
                group_members::user_id,
            ))
            .select((
                group_members::group_id,
                users::id,
                users::user_name,
                users::display_name,
            ))
            .load::<(String, String, String, Option<String>)>(conn)?
        {
            out.entry(g).or_default().push((u, display.unwrap_or(name)));
        }
    }
    Ok(out)
}

// ------------------------------------------------------------ tokens

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = scim_tokens)]
pub struct ScimToken {
    pub id: String,
    pub directory_id: String,
    pub name: String,
    pub secret_hash: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert_token(
    conn: &mut DbConnection,
    id: &str,
    directory: &DirectoryId,
    name: &str,
    secret_hash: &str,
    now: NaiveDateTime,
) -> Result<ScimToken, StoreError> {
    diesel::insert_into(scim_tokens::table)
        .values((
            scim_tokens::id.eq(id),
            scim_tokens::directory_id.eq(directory.as_str()),
            scim_tokens::name.eq(name),
            scim_tokens::secret_hash.eq(secret_hash),
            scim_tokens::created_at.eq(now),
        ))
        .execute(conn)?;
    get_token(conn, id)
}

pub fn get_token(conn: &mut DbConnection, id: &str) -> Result<ScimToken, StoreError> {
    Ok(scim_tokens::table
        .find(id)
        .select(ScimToken::as_select())
        .first(conn)?)
}

pub fn tokens(
    conn: &mut DbConnection,
    directory: &DirectoryId,
) -> Result<Vec<ScimToken>, StoreError> {
    Ok(scim_tokens::table
        .filter(scim_tokens::directory_id.eq(directory.as_str()))
        .order((scim_tokens::created_at, scim_tokens::id))
        .select(ScimToken::as_select())
        .load(conn)?)
}

pub fn revoke_token(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<ScimToken, StoreError> {
    diesel::update(
        scim_tokens::table
            .find(id)
            .filter(scim_tokens::revoked_at.is_null()),
    )
    .set(scim_tokens::revoked_at.eq(now))
    .execute(conn)?;
    get_token(conn, id)
}

/// Record use at most once a minute per token.
pub fn touch_token(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let stale = now - chrono::Duration::seconds(60);
    diesel::update(
        scim_tokens::table.find(id).filter(
            scim_tokens::last_used_at
                .is_null()
                .or(scim_tokens::last_used_at.lt(stale)),
        ),
    )
    .set(scim_tokens::last_used_at.eq(now))
    .execute(conn)?;
    Ok(())
}
