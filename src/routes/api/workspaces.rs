//! `/api/v1/orgs/{org}/workspaces`.

use actix_web::{HttpResponse, get, post, web};

use super::dto::{CreateWorkspace, WorkspaceDto};
use crate::auth::access::OrgAccess;
use crate::error::{AppError, ErrorBody};
use crate::service;
use crate::state::AppState;

#[utoipa::path(
    tag = "workspaces",
    params(("org" = String, Path, description = "Org slug or id")),
    request_body = CreateWorkspace,
    responses((status = 201, body = WorkspaceDto), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/workspaces")]
pub async fn create_workspace(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<CreateWorkspace>,
) -> Result<HttpResponse, AppError> {
    access.require("gateway.settings.manage")?;
    let body = body.into_inner();
    let ws = state
        .store
        .write(move |c| {
            service::workspaces::create(
                c,
                &access.ctx,
                &access.org,
                service::workspaces::NewWorkspace {
                    slug: body.slug,
                    name: body.name,
                },
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(WorkspaceDto::from(ws)))
}

#[utoipa::path(
    tag = "workspaces",
    params(("org" = String, Path, description = "Org slug or id")),
    responses((status = 200, body = Vec<WorkspaceDto>)),
    security(("bearer" = []))
)]
#[get("/orgs/{org}/workspaces")]
pub async fn list_workspaces(access: OrgAccess) -> Result<HttpResponse, AppError> {
    let list: Vec<WorkspaceDto> = access
        .policy
        .workspaces
        .iter()
        .cloned()
        .map(WorkspaceDto::from)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(
    tag = "workspaces",
    params(("org" = String, Path, description = "Org slug or id"), ("workspace" = String, Path, description = "Workspace slug or id")),
    responses((status = 200, body = WorkspaceDto), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/orgs/{org}/workspaces/{workspace}")]
pub async fn get_workspace(
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, key) = path.into_inner();
    let ws = access.policy.workspace(&key)?.clone();
    Ok(HttpResponse::Ok().json(WorkspaceDto::from(ws)))
}
