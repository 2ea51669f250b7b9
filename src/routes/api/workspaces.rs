//! `/api/v1/orgs/{org}/workspaces` (with sub-workspaces and per-workspace
//! members, seed 004) and `/api/v1/orgs/{org}/item-types`.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};

use super::dto::{CreateWorkspace, ItemTypeBody, UpdateWorkspace, WorkspaceDto, WorkspaceMember};
use crate::auth::access::OrgAccess;
use crate::error::{AppError, ErrorBody};
use crate::service;
use crate::service::access::MembershipView;
use crate::state::AppState;

#[utoipa::path(
    tag = "workspaces",
    params(("org" = String, Path, description = "Org slug or id")),
    request_body = CreateWorkspace,
    responses((status = 201, description = "Created", body = WorkspaceDto), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 409, description = "Conflicts with the current state", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.settings.manage or workspaces.create_top_level or workspaces.create_sub")))
)]
#[post("/orgs/{org}/workspaces")]
pub async fn create_workspace(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<CreateWorkspace>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let ws = state
        .store
        .write(move |c| {
            service::workspaces::create(
                c,
                &access.acting(),
                service::workspaces::NewWorkspace {
                    slug: body.slug,
                    name: body.name,
                    parent: body.parent,
                },
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(WorkspaceDto::from(ws)))
}

#[utoipa::path(
    tag = "workspaces",
    params(("org" = String, Path, description = "Org slug or id")),
    responses((status = 200, description = "OK", body = Vec<WorkspaceDto>)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.access.read")))
)]
#[get("/orgs/{org}/workspaces")]
pub async fn list_workspaces(access: OrgAccess) -> Result<HttpResponse, AppError> {
    let list: Vec<WorkspaceDto> = service::workspaces::listed(&access.acting())?
        .iter()
        .cloned()
        .map(WorkspaceDto::from)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(
    tag = "workspaces",
    params(("org" = String, Path, description = "Org slug or id"), ("workspace" = String, Path, description = "Workspace slug or id")),
    responses((status = 200, description = "OK", body = WorkspaceDto), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.access.read")))
)]
#[get("/orgs/{org}/workspaces/{workspace}")]
pub async fn get_workspace(
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, key) = path.into_inner();
    let listed = service::workspaces::listed(&access.acting())?;
    let ws = listed
        .iter()
        .find(|w| w.id.as_str() == key || w.slug == key)
        .cloned()
        .ok_or_else(|| AppError::not_found("workspace", &key))?;
    Ok(HttpResponse::Ok().json(WorkspaceDto::from(ws)))
}

/// Rename a workspace, or move it under another parent (`"parent": null`
/// makes it top-level). Renaming needs gateway.settings.manage or, where the
/// preset defines it, workspace.settings.manage in the workspace; moving
/// needs the right to create a workspace at both the old and the new place.
#[utoipa::path(
    tag = "workspaces",
    params(("org" = String, Path, description = "Org slug or id"), ("workspace" = String, Path, description = "Workspace slug or id")),
    request_body = UpdateWorkspace,
    responses((status = 200, description = "OK", body = WorkspaceDto), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "The move would make a cycle or nest deeper than 8 levels", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.settings.manage or workspace.settings.manage")))
)]
#[patch("/orgs/{org}/workspaces/{workspace}")]
pub async fn update_workspace(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateWorkspace>,
) -> Result<HttpResponse, AppError> {
    let (_, key) = path.into_inner();
    let body = body.into_inner();
    let ws = state
        .store
        .write(move |c| {
            service::workspaces::update(
                c,
                &access.acting(),
                &key,
                service::workspaces::WorkspaceChange {
                    name: body.name.clone(),
                    parent: body.parent.clone(),
                },
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(WorkspaceDto::from(ws)))
}

/// Give one user access to one workspace, optionally with a workspace role
/// (seed 004: a workspace admin assigns users to the workspace, within their
/// own granting limits). Needs gateway.users.manage, or
/// workspace.members.manage in the workspace where the preset defines it.
#[utoipa::path(
    tag = "workspaces",
    params(("org" = String, Path, description = "Org slug or id"), ("workspace" = String, Path, description = "Workspace slug or id"), ("user" = String, Path, description = "User id or userName")),
    request_body = WorkspaceMember,
    responses((status = 200, description = "OK", body = MembershipView), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "Not allowed, with the reasons", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage or workspace.members.manage")))
)]
#[put("/orgs/{org}/workspaces/{workspace}/members/{user}")]
pub async fn put_member(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String, String)>,
    body: Option<web::Json<WorkspaceMember>>,
) -> Result<HttpResponse, AppError> {
    let (_, workspace, user) = path.into_inner();
    let role = body.and_then(|b| b.into_inner().role);
    let view = state
        .store
        .write(move |c| {
            service::access::add_to_workspace(
                c,
                &access.acting(),
                &workspace,
                &user,
                role.as_deref(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Take one user's access to one workspace away: off their workspace list,
/// and their own admin- or invite-given roles there removed.
#[utoipa::path(
    tag = "workspaces",
    params(("org" = String, Path, description = "Org slug or id"), ("workspace" = String, Path, description = "Workspace slug or id"), ("user" = String, Path, description = "User id or userName")),
    responses((status = 200, description = "OK: what access remains", body = MembershipView), (status = 403, description = "Not allowed, with the reasons", body = ErrorBody), (status = 404, description = "Not found", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage or workspace.members.manage")))
)]
#[delete("/orgs/{org}/workspaces/{workspace}/members/{user}")]
pub async fn delete_member(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, workspace, user) = path.into_inner();
    let view = state
        .store
        .write(move |c| {
            service::access::remove_from_workspace(c, &access.acting(), &workspace, &user)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Define (or replace) an item type and its fields (seed 004).
#[utoipa::path(
    tag = "workspaces",
    params(("org" = String, Path, description = "Org slug or id"), ("type" = String, Path, description = "Item type key, [a-z0-9_]+")),
    request_body = ItemTypeBody,
    responses((status = 201, description = "Created", body = Object), (status = 200, description = "Replaced", body = Object), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 409, description = "A role restricts a field this change removes", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.settings.manage")))
)]
#[put("/orgs/{org}/item-types/{type}")]
pub async fn put_item_type(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
    body: web::Json<ItemTypeBody>,
) -> Result<HttpResponse, AppError> {
    let (_, key) = path.into_inner();
    let body = body.into_inner();
    let input = service::item_types::ItemTypeInput {
        name: body.name,
        fields: body.fields.into_iter().map(|f| (f.key, f.name)).collect(),
    };
    let written = state
        .store
        .write(move |c| service::item_types::put(c, &access.acting(), &key, input.clone()))
        .await?;
    let mut response = if written.created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(written.item_type))
}

/// The org's item types with their fields.
#[utoipa::path(
    tag = "workspaces",
    params(("org" = String, Path, description = "Org slug or id")),
    responses((status = 200, description = "OK", body = Vec<Object>)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.access.read")))
)]
#[get("/orgs/{org}/item-types")]
pub async fn list_item_types(access: OrgAccess) -> Result<HttpResponse, AppError> {
    let acting = access.acting();
    let list = service::item_types::list(&acting)?;
    Ok(HttpResponse::Ok().json(list))
}
