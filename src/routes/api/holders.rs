//! Who holds what, as paged lists: `GET …/roles/{role}/users` (seed 002)
//! and `GET …/workspaces/{workspace}/selection-lists/{list}` (seed 004's
//! RACI lists). Both read access, so both need `gateway.access.read`: the
//! product's `access_reader` key fills its role screens and item pickers
//! from them, and administrators hold it too.

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::access::OrgAccess;
use crate::domain::UserStatus;
use crate::error::{AppError, ErrorBody};
use crate::service::authz::OrgPolicy;
use crate::service::{self, lists::HolderPaging};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoleUsersParams {
    /// Case-insensitive substring of userName, email or display name.
    pub q: Option<String>,
    pub status: Option<UserStatus>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SelectionListParams {
    /// Case-insensitive substring of userName, email or display name.
    pub q: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn page_json(
    op: &OrgPolicy,
    page: service::users::Page<service::lists::Holder>,
) -> serde_json::Value {
    let items: Vec<_> = page.items.iter().map(|h| h.view(op)).collect();
    serde_json::json!({"items": items, "next_cursor": page.next_cursor})
}

/// The users holding a role — at any scope, directly or through a group —
/// in creation order, each with the bindings that give it (`items`,
/// `next_cursor` as in the user listing). Needs `gateway.access.read`:
/// who holds a role is access data, like a user's access answer, and
/// the product's `access_reader` key shows it beside the role.
#[utoipa::path(
    tag = "roles",
    params(("org" = String, Path), ("role" = String, Path, description = "Role key, id or name"), RoleUsersParams),
    responses((status = 200, description = "A page of holders: `items` and `next_cursor`", body = Object), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.access.read")))
)]
#[get("/orgs/{org}/roles/{role}/users")]
pub async fn list_role_users(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
    params: web::Query<RoleUsersParams>,
) -> Result<HttpResponse, AppError> {
    let (_, role) = path.into_inner();
    let p = params.into_inner();
    let paging = HolderPaging {
        search: p.q,
        status: p.status,
        cursor: p.cursor,
        limit: service::page_size(p.limit, 50, 200),
    };
    let policy = access.policy.clone();
    let page = state
        .store
        .read(move |c| service::lists::role_holders(c, &access.acting(), &role, paging))
        .await?;
    Ok(HttpResponse::Ok().json(page_json(&policy, page)))
}

/// A RACI selection list of a workspace (`manager`, `responsible`, `editor`
/// or `reader`): the active users whose workspace role, bound on this
/// workspace, puts them on it (the role attribute `selection_lists`), each
/// with those bindings; searchable and paged like the user listing. Needs
/// `gateway.access.read`: the lists are derived from role bindings (access
/// data), and the product's `access_reader` key fills its item pickers
/// from them.
#[utoipa::path(
    tag = "workspaces",
    params(("org" = String, Path), ("workspace" = String, Path, description = "Workspace slug or id"), ("list" = String, Path, description = "manager, responsible, editor or reader"), SelectionListParams),
    responses((status = 200, description = "A page of users: `items` and `next_cursor`", body = Object), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody), (status = 404, description = "Unknown workspace or selection list", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.access.read")))
)]
#[get("/orgs/{org}/workspaces/{workspace}/selection-lists/{list}")]
pub async fn list_selection(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String, String)>,
    params: web::Query<SelectionListParams>,
) -> Result<HttpResponse, AppError> {
    let (_, workspace, list) = path.into_inner();
    let p = params.into_inner();
    let paging = HolderPaging {
        search: p.q,
        status: None,
        cursor: p.cursor,
        limit: service::page_size(p.limit, 50, 200),
    };
    let policy = access.policy.clone();
    let page = state
        .store
        .read(move |c| {
            service::lists::selection_list(c, &access.acting(), &workspace, &list, paging)
        })
        .await?;
    Ok(HttpResponse::Ok().json(page_json(&policy, page)))
}
