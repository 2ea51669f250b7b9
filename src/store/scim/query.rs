// The SCIM filter translation and listings, written once against the
// concrete backend types `Db` and `Conn` of the module that includes this file
// (`store::scim::pg`, `store::scim::sqlite`). Diesel cannot box a subquery
// whose condition is itself boxed for its multi-backend type, so this code is
// compiled per backend instead and dispatched on the connection.

use chrono::NaiveDateTime;
use diesel::dsl::{not, sql};
use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use crate::domain::names::canonical_lower;
use crate::domain::{DirectoryId, OrgId, UserStatus};
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::index::{self, GroupTarget, UserColumn, UserTarget, ValuePart};
use crate::scim::schema::AttrPath;
use crate::store::StoreError;
use crate::store::groups::{Group, GroupRow};
use crate::store::schema::{group_members, groups, scim_values, users};
use crate::store::scim::{FilterUnsupported, Keyset, ListError, ListSpec, Page, bad};
use crate::store::users::{User, UserRow, like_escape};

pub type UserPred = Box<dyn BoxableExpression<users::table, Db, SqlType = Bool>>;
pub type GroupPred = Box<dyn BoxableExpression<groups::table, Db, SqlType = Bool>>;
type ValuePred = Box<dyn BoxableExpression<scim_values::table, Db, SqlType = Bool>>;

fn always(v: bool) -> UserPred {
    Box::new(sql::<Bool>(if v { "1 = 1" } else { "1 = 0" }))
}

fn always_group(v: bool) -> GroupPred {
    Box::new(sql::<Bool>(if v { "1 = 1" } else { "1 = 0" }))
}

/// The text a string comparison uses: strings, and numbers written without
/// quotes (Entra's `externalId eq 12345`).
fn text_value(path: &AttrPath, v: &CompValue) -> Result<String, FilterUnsupported> {
    match v {
        CompValue::Str(s) => Ok(s.clone()),
        CompValue::Num(n) => Ok(n.to_string()),
        CompValue::Bool(_) => Err(bad(format!("`{path}` is a string; compare it with a string"))),
        CompValue::Null => Err(bad(format!("`{path}` compared with null"))),
    }
}

fn time_value(path: &AttrPath, v: &CompValue) -> Result<NaiveDateTime, FilterUnsupported> {
    match v {
        CompValue::Str(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.naive_utc())
            .map_err(|_| bad(format!("`{path}` needs an RFC 3339 dateTime, not `{s}`"))),
        _ => Err(bad(format!("`{path}` needs a dateTime string"))),
    }
}

/// A `LIKE … ESCAPE '\\'` pattern for co/sw/ew.
fn pattern(op: CompareOp, v: &str) -> String {
    let v = like_escape(v);
    match op {
        CompareOp::Co => format!("%{v}%"),
        CompareOp::Sw => format!("{v}%"),
        _ => format!("%{v}"),
    }
}

/// A comparison on a text expression `$e` (Bool-typed results), null-safe via
/// `$present` (a Bool expression true when the column has a value).
/// `folded`: `$e` is a stored folding and `$v` already folded, so `LIKE`
/// (ASCII-case-insensitive on SQLite, sensitive on PostgreSQL) answers alike
/// on both backends. `exact`: a case-exact attribute, matched with the
/// backend's case-sensitive substring test (`exact_like!`).
macro_rules! compare_text {
    (folded $e:expr, $present:expr, $op:expr, $v:expr) => {
        compare_text!(@ $e, $present, $op, $v, |e, op, v: &str| e.like(pattern(op, v)).escape('\\'))
    };
    (exact $e:expr, $present:expr, $op:expr, $v:expr) => {
        compare_text!(@ $e, $present, $op, $v, |e, op, v: &str| exact_like!(e, op, v))
    };
    (@ $e:expr, $present:expr, $op:expr, $v:expr, |$le:ident, $lop:ident, $lv:ident: &str| $like:expr) => {{
        let v: String = $v;
        match $op {
            CompareOp::Eq => Box::new($present.and($e.eq(v))) as _,
            CompareOp::Ne => Box::new(not($present.and($e.eq(v)))) as _,
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                let $le = $e;
                let $lop = $op;
                let $lv: &str = &v;
                Box::new($present.and($like)) as _
            }
            CompareOp::Gt => Box::new($present.and($e.gt(v))) as _,
            CompareOp::Ge => Box::new($present.and($e.ge(v))) as _,
            CompareOp::Lt => Box::new($present.and($e.lt(v))) as _,
            CompareOp::Le => Box::new($present.and($e.le(v))) as _,
        }
    }};
}

macro_rules! compare_time {
    ($col:expr, $op:expr, $v:expr) => {{
        let v: NaiveDateTime = $v;
        match $op {
            CompareOp::Eq => Box::new($col.eq(v)) as _,
            CompareOp::Ne => Box::new($col.ne(v)) as _,
            CompareOp::Gt => Box::new($col.gt(v)) as _,
            CompareOp::Ge => Box::new($col.ge(v)) as _,
            CompareOp::Lt => Box::new($col.lt(v)) as _,
            CompareOp::Le => Box::new($col.le(v)) as _,
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                return Err(bad("co, sw and ew do not apply to dateTime attributes"));
            }
        }
    }};
}

/// Translate a filter over Users of one directory.
pub fn user_predicate(f: &Filter, directory: &DirectoryId) -> Result<UserPred, FilterUnsupported> {
    Ok(match f {
        Filter::And(a, b) => Box::new(user_predicate(a, directory)?.and(user_predicate(b, directory)?)),
        Filter::Or(a, b) => Box::new(user_predicate(a, directory)?.or(user_predicate(b, directory)?)),
        Filter::Not(a) => Box::new(not(user_predicate(a, directory)?)),
        Filter::Present(path) => user_present(path, directory)?,
        Filter::Compare { path, op, value } => user_compare(path, *op, value, directory)?,
        Filter::ValuePath { path, filter } => {
            let attr = match index::user_target(path).map_err(|e| bad(e.0))? {
                UserTarget::Value { attr, .. } => attr,
                UserTarget::Group => {
                    return group_membership_of_users(path, filter);
                }
                UserTarget::Column(_) => return Err(bad(format!("`{path}` is not multi-valued"))),
            };
            let cond = value_predicate(path, filter)?;
            values_in(directory, &attr, cond)
        }
    })
}

/// `groups[value eq "…"]` on a User.
fn group_membership_of_users(path: &AttrPath, filter: &Filter) -> Result<UserPred, FilterUnsupported> {
    match filter {
        Filter::Compare {
            path: inner,
            op: CompareOp::Eq,
            value,
        } if inner.attr.eq_ignore_ascii_case("value") && inner.sub_attr.is_none() => {
            let id = text_value(path, value)?;
            Ok(Box::new(users::id.eq_any(
                group_members::table
                    .filter(group_members::group_id.eq(id))
                    .select(group_members::user_id),
            )))
        }
        _ => Err(bad(format!("only `{path}[value eq \"…\"]` is supported"))),
    }
}

fn values_in(directory: &DirectoryId, attr: &str, cond: ValuePred) -> UserPred {
    let values = scim_values::table
        .into_boxed::<Db>()
        .filter(scim_values::directory_id.eq(directory.as_str().to_owned()))
        .filter(scim_values::attr.eq(attr.to_owned()))
        .filter(cond)
        .select(scim_values::resource_id);
    Box::new(users::id.eq_any(values))
}

/// Conditions on one indexed value (the inside of a value path, or a plain
/// comparison on a multi-valued attribute).
fn value_predicate(parent: &AttrPath, f: &Filter) -> Result<ValuePred, FilterUnsupported> {
    let sub = |p: &AttrPath| AttrPath {
        urn: parent.urn.clone(),
        attr: parent.attr.clone(),
        sub_attr: Some(p.attr.clone()),
    };
    Ok(match f {
        Filter::And(a, b) => Box::new(value_predicate(parent, a)?.and(value_predicate(parent, b)?)),
        Filter::Or(a, b) => Box::new(value_predicate(parent, a)?.or(value_predicate(parent, b)?)),
        Filter::Not(a) => Box::new(not(value_predicate(parent, a)?)),
        Filter::Present(p) => value_part_present(&sub(p))?,
        Filter::Compare { path, op, value } => value_part_compare(&sub(path), *op, value)?,
        Filter::ValuePath { path, .. } => return Err(bad(format!("nested value path `{path}`"))),
    })
}

fn value_part_present(path: &AttrPath) -> Result<ValuePred, FilterUnsupported> {
    match index::user_target(path).map_err(|e| bad(e.0))? {
        UserTarget::Value { part: ValuePart::Type, .. } => Ok(Box::new(scim_values::value_type.is_not_null())),
        UserTarget::Value { .. } => Ok(Box::new(sql::<Bool>("1 = 1"))),
        _ => Err(bad(format!("`{path}` is not a sub-attribute of a multi-valued attribute"))),
    }
}

fn value_part_compare(path: &AttrPath, op: CompareOp, value: &CompValue) -> Result<ValuePred, FilterUnsupported> {
    let UserTarget::Value { part, case_exact, .. } = index::user_target(path).map_err(|e| bad(e.0))? else {
        return Err(bad(format!("`{path}` is not a sub-attribute of a multi-valued attribute")));
    };
    if matches!(value, CompValue::Null) && part != ValuePart::Type {
        // Every indexed element has a value, and an unstated `primary` is
        // false (RFC 7643 §2.4): neither is ever null.
        return match op {
            CompareOp::Eq => Ok(Box::new(sql::<Bool>("1 = 0"))),
            CompareOp::Ne => Ok(Box::new(sql::<Bool>("1 = 1"))),
            _ => Err(bad(format!("only eq and ne compare `{path}` with null"))),
        };
    }
    Ok(match part {
        ValuePart::Primary => {
            let b = match value {
                CompValue::Bool(b) => *b,
                CompValue::Str(s) if s.eq_ignore_ascii_case("true") => true,
                CompValue::Str(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return Err(bad(format!("`{path}` is a boolean"))),
            };
            match op {
                CompareOp::Eq => Box::new(scim_values::is_primary.eq(b)),
                CompareOp::Ne => Box::new(scim_values::is_primary.ne(b)),
                _ => return Err(bad(format!("only eq and ne apply to the boolean `{path}`"))),
            }
        }
        ValuePart::Type => {
            if matches!(value, CompValue::Null) {
                return match op {
                    CompareOp::Eq => Ok(Box::new(scim_values::value_type.is_null())),
                    CompareOp::Ne => Ok(Box::new(scim_values::value_type.is_not_null())),
                    _ => Err(bad(format!("only eq and ne compare `{path}` with null"))),
                };
            }
            let v = canonical_lower(&text_value(path, value)?);
            compare_text!(folded scim_values::value_type.assume_not_null(), scim_values::value_type.is_not_null(), op, v)
        }
        ValuePart::Value => {
            let v = text_value(path, value)?;
            if case_exact {
                compare_text!(exact scim_values::value, sql::<Bool>("1 = 1"), op, v)
            } else {
                compare_text!(folded scim_values::value_lower, sql::<Bool>("1 = 1"), op, canonical_lower(&v))
            }
        }
    })
}

fn user_present(path: &AttrPath, directory: &DirectoryId) -> Result<UserPred, FilterUnsupported> {
    Ok(match index::user_target(path).map_err(|e| bad(e.0))? {
        UserTarget::Column(c) => match c {
            UserColumn::Id | UserColumn::UserName | UserColumn::Active | UserColumn::Created | UserColumn::Modified => {
                always(true)
            }
            UserColumn::ExternalId => Box::new(users::external_id.is_not_null().and(users::external_id.assume_not_null().ne(""))),
            UserColumn::DisplayName => Box::new(users::display_name.is_not_null().and(users::display_name.assume_not_null().ne(""))),
            UserColumn::GivenName => Box::new(users::given_name.is_not_null().and(users::given_name.assume_not_null().ne(""))),
            UserColumn::FamilyName => Box::new(users::family_name.is_not_null().and(users::family_name.assume_not_null().ne(""))),
            UserColumn::Email => Box::new(users::email_lower.is_not_null()),
        },
        UserTarget::Value { attr, part, .. } => {
            let cond: ValuePred = match part {
                ValuePart::Type => Box::new(scim_values::value_type.is_not_null()),
                _ => Box::new(sql::<Bool>("1 = 1")),
            };
            values_in(directory, &attr, cond)
        }
        UserTarget::Group => Box::new(users::id.eq_any(group_members::table.select(group_members::user_id))),
    })
}

fn user_compare(path: &AttrPath, op: CompareOp, value: &CompValue, directory: &DirectoryId) -> Result<UserPred, FilterUnsupported> {
    if matches!(value, CompValue::Null) {
        // `attr eq null` is "absent" (RFC 7644 treats null as unassigned).
        let present = user_present(path, directory)?;
        return match op {
            CompareOp::Eq => Ok(Box::new(not(present))),
            CompareOp::Ne => Ok(present),
            _ => Err(bad(format!("only eq and ne compare `{path}` with null"))),
        };
    }
    Ok(match index::user_target(path).map_err(|e| bad(e.0))? {
        UserTarget::Column(c) => match c {
            UserColumn::Id => compare_text!(exact users::id, sql::<Bool>("1 = 1"), op, text_value(path, value)?),
            UserColumn::UserName => compare_text!(
                folded users::user_name_lower,
                sql::<Bool>("1 = 1"),
                op,
                crate::domain::names::comparison_key(&text_value(path, value)?)
            ),
            UserColumn::ExternalId => compare_text!(
                exact users::external_id.assume_not_null(),
                users::external_id.is_not_null(),
                op,
                text_value(path, value)?
            ),
            UserColumn::DisplayName => compare_text!(
                folded users::display_name_lower.assume_not_null(),
                users::display_name_lower.is_not_null(),
                op,
                canonical_lower(&text_value(path, value)?)
            ),
            UserColumn::GivenName => compare_text!(
                folded users::given_name_lower.assume_not_null(),
                users::given_name_lower.is_not_null(),
                op,
                canonical_lower(&text_value(path, value)?)
            ),
            UserColumn::FamilyName => compare_text!(
                folded users::family_name_lower.assume_not_null(),
                users::family_name_lower.is_not_null(),
                op,
                canonical_lower(&text_value(path, value)?)
            ),
            UserColumn::Email => compare_text!(
                folded users::email_lower.assume_not_null(),
                users::email_lower.is_not_null(),
                op,
                crate::domain::names::comparison_key(&text_value(path, value)?)
            ),
            UserColumn::Active => {
                let b = match value {
                    CompValue::Bool(b) => *b,
                    CompValue::Str(s) if s.eq_ignore_ascii_case("true") => true,
                    CompValue::Str(s) if s.eq_ignore_ascii_case("false") => false,
                    _ => return Err(bad("`active` is a boolean")),
                };
                let is_active = users::status.eq(UserStatus::Active.as_str());
                match (op, b) {
                    (CompareOp::Eq, true) | (CompareOp::Ne, false) => Box::new(is_active),
                    (CompareOp::Eq, false) | (CompareOp::Ne, true) => Box::new(not(is_active)),
                    _ => return Err(bad("only eq and ne apply to the boolean `active`")),
                }
            }
            UserColumn::Created => compare_time!(users::created_at, op, time_value(path, value)?),
            UserColumn::Modified => compare_time!(users::updated_at, op, time_value(path, value)?),
        },
        UserTarget::Value { attr, .. } => {
            // A plain comparison on a multi-valued attribute matches when any
            // value matches; `ne` when none equals (RFC 7644 §3.4.2.2).
            let (op, negate) = if op == CompareOp::Ne { (CompareOp::Eq, true) } else { (op, false) };
            let cond = value_part_compare(path, op, value)?;
            let p = values_in(directory, &attr, cond);
            if negate { Box::new(not(p)) } else { p }
        }
        UserTarget::Group => {
            if op != CompareOp::Eq {
                return Err(bad(format!("only `{path} eq \"group id\"` is supported")));
            }
            let id = text_value(path, value)?;
            Box::new(users::id.eq_any(
                group_members::table
                    .filter(group_members::group_id.eq(id))
                    .select(group_members::user_id),
            ))
        }
    })
}

/// Translate a filter over Groups.
pub fn group_predicate(f: &Filter) -> Result<GroupPred, FilterUnsupported> {
    Ok(match f {
        Filter::And(a, b) => Box::new(group_predicate(a)?.and(group_predicate(b)?)),
        Filter::Or(a, b) => Box::new(group_predicate(a)?.or(group_predicate(b)?)),
        Filter::Not(a) => Box::new(not(group_predicate(a)?)),
        Filter::Present(path) => match index::group_target(path).map_err(|e| bad(e.0))? {
            GroupTarget::ExternalId => Box::new(groups::external_id.is_not_null().and(groups::external_id.assume_not_null().ne(""))),
            GroupTarget::Member => Box::new(groups::id.eq_any(group_members::table.select(group_members::group_id))),
            _ => always_group(true),
        },
        Filter::ValuePath { path, filter } => match (index::group_target(path).map_err(|e| bad(e.0))?, &**filter) {
            (
                GroupTarget::Member,
                Filter::Compare {
                    path: inner,
                    op: CompareOp::Eq,
                    value,
                },
            ) if inner.attr.eq_ignore_ascii_case("value") => member_is(text_value(path, value)?),
            _ => return Err(bad(format!("only `{path}[value eq \"…\"]` is supported"))),
        },
        Filter::Compare { path, op, value } => {
            if matches!(value, CompValue::Null) {
                let present = group_predicate(&Filter::Present(path.clone()))?;
                return match op {
                    CompareOp::Eq => Ok(Box::new(not(present))),
                    CompareOp::Ne => Ok(present),
                    _ => Err(bad(format!("only eq and ne compare `{path}` with null"))),
                };
            }
            match index::group_target(path).map_err(|e| bad(e.0))? {
                GroupTarget::Id => compare_text!(exact groups::id, sql::<Bool>("1 = 1"), *op, text_value(path, value)?),
                GroupTarget::DisplayName => compare_text!(
                    folded groups::display_name_lower,
                    sql::<Bool>("1 = 1"),
                    *op,
                    canonical_lower(&text_value(path, value)?)
                ),
                GroupTarget::ExternalId => compare_text!(
                    exact groups::external_id.assume_not_null(),
                    groups::external_id.is_not_null(),
                    *op,
                    text_value(path, value)?
                ),
                GroupTarget::Created => compare_time!(groups::created_at, *op, time_value(path, value)?),
                GroupTarget::Modified => compare_time!(groups::updated_at, *op, time_value(path, value)?),
                GroupTarget::Member => match op {
                    CompareOp::Eq => member_is(text_value(path, value)?),
                    _ => return Err(bad(format!("only `{path} eq \"user id\"` is supported"))),
                },
            }
        }
    })
}

fn member_is(user: String) -> GroupPred {
    Box::new(groups::id.eq_any(
        group_members::table
            .filter(group_members::user_id.eq(user))
            .select(group_members::group_id),
    ))
}

// ------------------------------------------------------------ sorting and listing

macro_rules! order_users {
    ($q:expr, $sort:expr) => {{
        let q = $q;
        match $sort {
            None => q.order((users::created_at.asc(), users::id.asc())),
            Some((c, desc)) => {
                // Unassigned values sort as the greatest on both backends
                // (PostgreSQL and SQLite place NULL at opposite ends).
                macro_rules! by {
                    ($col:expr) => {
                        if desc {
                            q.order(($col.desc(), users::created_at.desc(), users::id.desc()))
                        } else {
                            q.order(($col.asc(), users::created_at.asc(), users::id.asc()))
                        }
                    };
                    (nullable $col:expr) => {
                        if desc {
                            q.order(($col.is_null().desc(), $col.desc(), users::created_at.desc(), users::id.desc()))
                        } else {
                            q.order(($col.is_null().asc(), $col.asc(), users::created_at.asc(), users::id.asc()))
                        }
                    };
                }
                match c {
                    UserColumn::Id => by!(users::id),
                    UserColumn::UserName => by!(users::user_name_lower),
                    UserColumn::ExternalId => by!(nullable users::external_id),
                    UserColumn::DisplayName => by!(nullable users::display_name_lower),
                    UserColumn::GivenName => by!(nullable users::given_name_lower),
                    UserColumn::FamilyName => by!(nullable users::family_name_lower),
                    UserColumn::Email => by!(nullable users::email_lower),
                    UserColumn::Active | UserColumn::Created => by!(users::created_at),
                    UserColumn::Modified => by!(users::updated_at),
                }
            }
        }
    }};
}

/// Live users of a directory matching `filter` (built twice: page and count).
pub fn list_users(
    conn: &mut Conn,
    org: &OrgId,
    directory: &DirectoryId,
    filter: Option<&Filter>,
    spec: &ListSpec<UserColumn>,
) -> Result<Page<User>, ListError> {
    // A filter is answered through the org-wide indexes (userName, email);
    // a plain listing walks the directory's partial index of live users,
    // where the directory alone scopes the rows.
    let base = || {
        let q = users::table
            .filter(users::directory_id.eq(directory.as_str().to_owned()))
            .filter(crate::store::users::live())
            .into_boxed();
        match filter {
            Some(f) => Ok::<_, ListError>(
                q.filter(users::org_id.eq(org.as_str().to_owned()))
                    .filter(user_predicate(f, directory)?),
            ),
            None => Ok(q),
        }
    };
    let load_rows = |conn: &mut Conn, q: users::BoxedQuery<'static, Db>| -> Result<Vec<User>, ListError> {
        q.select(UserRow::as_select())
            .load::<UserRow>(conn)
            .map_err(StoreError::from)?
            .into_iter()
            .map(|r| User::try_from(r).map_err(ListError::from))
            .collect()
    };
    let items = if spec.limit <= 0 {
        Vec::new()
    } else if filter.is_some() {
        let q = order_users!(base()?, spec.sort);
        load_rows(conn, q.offset(spec.offset).limit(spec.limit))?
    } else {
        // Deep pages: find the page's ids on the narrow index first, then
        // read just those rows (never sort or skip over whole rows).
        let q = order_users!(base()?, spec.sort);
        let ids: Vec<String> = q
            .offset(spec.offset)
            .limit(spec.limit)
            .select(users::id)
            .load(conn)
            .map_err(StoreError::from)?;
        let mut rows = load_rows(conn, users::table.filter(users::id.eq_any(ids.clone())).into_boxed())?;
        let position: std::collections::HashMap<&str, usize> =
            ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
        rows.sort_by_key(|u| position.get(u.id.as_str()).copied().unwrap_or(usize::MAX));
        rows
    };
    let total = if spec.offset == 0 && (items.len() as i64) < spec.limit {
        items.len() as i64
    } else {
        base()?.count().get_result(conn).map_err(StoreError::from)?
    };
    Ok(Page { items, total })
}

/// Groups of a directory matching `filter`.
pub fn list_groups(
    conn: &mut Conn,
    directory: &DirectoryId,
    filter: Option<&Filter>,
    spec: &ListSpec<GroupTarget>,
) -> Result<Page<Group>, ListError> {
    let base = || {
        groups::table
            .filter(groups::directory_id.eq(directory.as_str().to_owned()))
            .into_boxed()
    };
    let with_filter = |q: groups::BoxedQuery<'static, Db>| -> Result<_, ListError> {
        Ok(match filter {
            Some(f) => q.filter(group_predicate(f)?),
            None => q,
        })
    };
    let items = if spec.limit > 0 {
        let q = with_filter(base())?;
        let q = match spec.sort {
            None => q.order((groups::created_at.asc(), groups::id.asc())),
            Some((t, desc)) => {
                // Unassigned values sort as the greatest on both backends
                // (PostgreSQL and SQLite place NULL at opposite ends).
                macro_rules! by {
                    ($col:expr) => {
                        if desc {
                            q.order(($col.desc(), groups::created_at.desc(), groups::id.desc()))
                        } else {
                            q.order(($col.asc(), groups::created_at.asc(), groups::id.asc()))
                        }
                    };
                    (nullable $col:expr) => {
                        if desc {
                            q.order(($col.is_null().desc(), $col.desc(), groups::created_at.desc(), groups::id.desc()))
                        } else {
                            q.order(($col.is_null().asc(), $col.asc(), groups::created_at.asc(), groups::id.asc()))
                        }
                    };
                }
                match t {
                    GroupTarget::Id => by!(groups::id),
                    GroupTarget::DisplayName => by!(groups::display_name_lower),
                    GroupTarget::ExternalId => by!(nullable groups::external_id),
                    GroupTarget::Created | GroupTarget::Member => by!(groups::created_at),
                    GroupTarget::Modified => by!(groups::updated_at),
                }
            }
        };
        q.offset(spec.offset).limit(spec.limit).select(GroupRow::as_select()).load::<GroupRow>(conn).map_err(StoreError::from)?.into_iter().map(Group::try_from).collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let total = if spec.offset == 0 && (items.len() as i64) < spec.limit {
        items.len() as i64
    } else {
        with_filter(base())?.count().get_result(conn).map_err(StoreError::from)?
    };
    Ok(Page { items, total })
}

/// One keyset page of live users (see [`Keyset`]).
pub fn users_keyset(
    conn: &mut Conn,
    org: &OrgId,
    directory: &DirectoryId,
    filter: Option<&Filter>,
    k: &Keyset,
) -> Result<Vec<User>, ListError> {
    let mut q = users::table
        .filter(users::directory_id.eq(directory.as_str().to_owned()))
        .filter(crate::store::users::live())
        .into_boxed();
    if let Some(f) = filter {
        q = q.filter(users::org_id.eq(org.as_str().to_owned())).filter(user_predicate(f, directory)?);
    }
    if let Some((at, id)) = &k.from {
        q = if k.ascending {
            q.filter(users::created_at.gt(*at).or(users::created_at.eq(*at).and(users::id.gt(id.clone()))))
        } else {
            q.filter(users::created_at.lt(*at).or(users::created_at.eq(*at).and(users::id.lt(id.clone()))))
        };
    }
    let q = if k.ascending {
        q.order((users::created_at.asc(), users::id.asc()))
    } else {
        q.order((users::created_at.desc(), users::id.desc()))
    };
    q.limit(k.limit)
        .select(UserRow::as_select())
        .load::<UserRow>(conn)
        .map_err(StoreError::from)?
        .into_iter()
        .map(|r| User::try_from(r).map_err(ListError::from))
        .collect()
}

/// One keyset page of groups (see [`Keyset`]).
pub fn groups_keyset(
    conn: &mut Conn,
    directory: &DirectoryId,
    filter: Option<&Filter>,
    k: &Keyset,
) -> Result<Vec<Group>, ListError> {
    let mut q = groups::table
        .filter(groups::directory_id.eq(directory.as_str().to_owned()))
        .into_boxed();
    if let Some(f) = filter {
        q = q.filter(group_predicate(f)?);
    }
    if let Some((at, id)) = &k.from {
        q = if k.ascending {
            q.filter(groups::created_at.gt(*at).or(groups::created_at.eq(*at).and(groups::id.gt(id.clone()))))
        } else {
            q.filter(groups::created_at.lt(*at).or(groups::created_at.eq(*at).and(groups::id.lt(id.clone()))))
        };
    }
    let q = if k.ascending {
        q.order((groups::created_at.asc(), groups::id.asc()))
    } else {
        q.order((groups::created_at.desc(), groups::id.desc()))
    };
    Ok(q.limit(k.limit)
        .select(GroupRow::as_select())
        .load::<GroupRow>(conn)
        .map_err(StoreError::from)?
        .into_iter()
        .map(Group::try_from)
        .collect::<Result<Vec<_>, _>>()?)
}
