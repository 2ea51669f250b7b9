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
    responses((status = 201, description = "Created", body = WorkspaceDto), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 409, description = "Conflicts with the current state", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.settings.manage")))
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
