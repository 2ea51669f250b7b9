//! The admin lists over who holds what (seeds 002 and 004): permission sets
//! searched by name or application, the users holding a role, and the users
//! on a workspace's RACI selection lists. The engine's
//! [`lists`](crate::domain::authz::lists) module decides what each list
//! shows; the store only narrows the candidates and pages them.
//!
//! All three are reads of access, so they need `gateway.access.read` — the
//! permission of the product's `access_reader` key, which fills its pickers
//! (selection lists) and role screens from them, and of every administrator.
//! The set search also answers builders of any application (`app.build`),
//! as seed 002's builders search sets: it only ever shows sets of the
//! applications the caller builds.

use serde_json::Value;

use crate::domain::UserStatus;
use crate::domain::authz::{
    self, Binding, Principal, ResourceId, RoleId, SelectionList, SetSearch, WorkspaceId, gate,
};
use crate::error::AppError;
use crate::service::Acting;
use crate::service::access::scope_view;
use crate::service::authz::{OrgPolicy, check_error};
use crate::service::roles::set_view;
use crate::service::users::Page;
use crate::store::users::{Held, User, UserQuery};
use crate::store::{self, DbConnection, PageCursor};

/// A permission-set search as the client sends it.
#[derive(Debug, Clone, Default)]
pub struct SetSearchInput {
    /// Case-insensitive substring of a set's name or application.
    pub search: Option<String>,
    /// Only sets of this application (exact id).
    pub application: Option<String>,
}

/// The org's permission sets matching the search, hiding those of
/// applications the caller may not build (seed 002). Readers of access may
/// search; so may builders of any application (they see only their own
/// applications' sets either way).
pub fn find_sets(a: &Acting<'_>, input: SetSearchInput) -> Result<Vec<Value>, AppError> {
    if let Err(refused) = a.require(gate::ACCESS_READ) {
        let builds = match a.authority.subject() {
            Some(s) => authz::builds_some_application(&a.op.policy, s).map_err(check_error)?,
            None => true,
        };
        if !builds {
            return Err(match refused {
                AppError::Forbidden(m) => AppError::Forbidden(format!(
                    "{m}; nor does it build any application ({})",
                    authz::APP_BUILD
                )),
                other => other,
            });
        }
    }
    let search = SetSearch {
        text: input.search,
        application: input
            .application
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(ResourceId::new),
    };
    let sets =
        authz::find_sets(&a.op.policy, a.authority.subject(), &search).map_err(check_error)?;
    Ok(sets.into_iter().map(set_view).collect())
}

/// One user on a holders' list, with the bindings that put them there.
pub struct Holder {
    pub user: User,
    pub bindings: Vec<Binding>,
}

impl Holder {
    pub fn view(&self, op: &OrgPolicy) -> Value {
        let bindings: Vec<Value> = self
            .bindings
            .iter()
            .map(|b| {
                let group = match &b.principal {
                    Principal::Group(g) => Some(g.as_str()),
                    Principal::User(_) => None,
                };
                serde_json::json!({
                    "id": b.id,
                    "role": op.policy.role(b.role.as_str()).map(|r| r.key.as_str()),
                    "scope": scope_view(op, &b.scope),
                    "source": b.source,
                    "group": group,
                })
            })
            .collect();
        serde_json::json!({
            "id": self.user.id,
            "user_name": self.user.user_name,
            "display_name": self.user.display_name,
            "email": self.user.email,
            "status": self.user.status,
            "bindings": bindings,
        })
    }
}

/// Paging of a holders' list: the client's search, status and cursor.
#[derive(Debug, Clone, Default)]
pub struct HolderPaging {
    /// Case-insensitive substring of userName, email or display name.
    pub search: Option<String>,
    pub status: Option<UserStatus>,
    pub cursor: Option<String>,
    pub limit: i64,
}

fn decode(cursor: Option<&str>) -> Result<Option<PageCursor>, AppError> {
    cursor
        .map(|c| PageCursor::decode(c).ok_or_else(|| AppError::bad_request("invalid cursor")))
        .transpose()
}

/// Page through the users `held` selects, keeping those `keep` accepts
/// (with the bindings it names). Candidates come in creation order; the
/// cursor is the last *returned* user's, so a page is never short because
/// the rule dropped a candidate.
fn page_holders(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    held: Held<'_>,
    paging: HolderPaging,
    keep: impl Fn(&User) -> Vec<Binding>,
) -> Result<Page<Holder>, AppError> {
    let limit = paging.limit.max(1);
    let mut after = decode(paging.cursor.as_deref())?;
    let mut items: Vec<Holder> = Vec::new();
    loop {
        let batch = store::users::holding(
            conn,
            &a.org.id,
            held,
            &UserQuery {
                search: paging.search.clone(),
                status: paging.status,
                after: after.clone(),
                limit: limit + 1,
            },
        )?;
        let exhausted = (batch.len() as i64) <= limit;
        after = batch.last().map(User::cursor);
        for user in batch {
            let bindings = keep(&user);
            if !bindings.is_empty() {
                items.push(Holder { user, bindings });
            }
        }
        if items.len() as i64 > limit || exhausted {
            break;
        }
    }
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|h| h.user.cursor().encode())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// The users holding `role` (key, id or name) at any scope, directly or
/// through a group (seed 002: "you will see a list of all the users").
pub fn role_holders(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    role: &str,
    paging: HolderPaging,
) -> Result<Page<Holder>, AppError> {
    a.require(gate::ACCESS_READ)?;
    let role: RoleId = a.op.role(role)?.id.clone();
    let roles = [role.as_str()];
    let held = Held {
        roles: &roles,
        workspaces: None,
    };
    page_holders(conn, a, held, paging, |user| {
        user.access
            .bindings
            .iter()
            .filter(|b| b.role == role)
            .cloned()
            .collect()
    })
}

/// The users on RACI selection list `list` of `workspace` (id or slug):
/// active users whose workspace role, bound on that workspace or inherited
/// from an ancestor, names the list (seed 004). An unknown list is a 404 naming the four.
pub fn selection_list(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    workspace: &str,
    list: &str,
    mut paging: HolderPaging,
) -> Result<Page<Holder>, AppError> {
    a.require(gate::ACCESS_READ)?;
    let list: SelectionList = list.parse().map_err(AppError::NotFound)?;
    let workspace = WorkspaceId::new(a.op.workspace(workspace)?.id.as_str());
    let policy = &a.op.policy;
    let roles = authz::roles_on_list(policy, list);
    let roles: Vec<&str> = roles.iter().map(RoleId::as_str).collect();
    // People to pick for an item: only active users.
    paging.status = Some(UserStatus::Active);
    // Bindings on the workspace or an ancestor (inherited by sub-workspaces).
    let reach: Vec<&str> = std::iter::once(&workspace)
        .chain(policy.tree().ancestors(&workspace))
        .map(WorkspaceId::as_str)
        .collect();
    let held = Held {
        roles: &roles,
        workspaces: Some(&reach),
    };
    page_holders(conn, a, held, paging, |user| {
        let subject = user.access.clone().into_subject(user.status);
        if !authz::on_selection_list(policy, &subject, &workspace, list) {
            return Vec::new();
        }
        subject
            .bindings
            .into_iter()
            .filter(|b| authz::puts_on_list(policy, b, &workspace, list))
            .collect()
    })
}
