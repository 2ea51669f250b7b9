//! The org's permission model: catalogue, roles (with their grant matrix),
//! permission sets and default permissions.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};

use super::dto::{DefaultsBody, RoleBody, SetBody};
use crate::auth::access::OrgAccess;
use crate::error::{AppError, ErrorBody};
use crate::service::roles::{self, role_view, set_view};
use crate::state::AppState;

/// The permission catalogue: every key with its scope and kind.
#[utoipa::path(tag = "roles", params(("org" = String, Path)), responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
#[get("/orgs/{org}/permissions")]
pub async fn list_permissions(access: OrgAccess) -> Result<HttpResponse, AppError> {
    let list: Vec<_> = access.policy.policy.catalogue().collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Roles with their grants (org-level allow/deny, module-level policies), visibility and flags.
#[utoipa::path(tag = "roles", params(("org" = String, Path)), responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
#[get("/orgs/{org}/roles")]
pub async fn list_roles(access: OrgAccess) -> Result<HttpResponse, AppError> {
    let p = &access.policy.policy;
    let list: Vec<_> = p.roles().map(|r| role_view(r, p)).collect();
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(
    tag = "roles",
    params(("org" = String, Path), ("role" = String, Path, description = "Role key or id")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/orgs/{org}/roles/{role}")]
pub async fn get_role(
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, key) = path.into_inner();
    let role = access.policy.role(&key)?;
    Ok(HttpResponse::Ok().json(role_view(role, &access.policy.policy)))
}

/// Create a custom role, from scratch or as a clone (`clone_from`).
#[utoipa::path(
    tag = "roles",
    params(("org" = String, Path)),
    request_body = RoleBody,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/roles")]
pub async fn create_role(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<RoleBody>,
) -> Result<HttpResponse, AppError> {
    access.require("gateway.roles.manage")?;
    let input = body.into_inner().into();
    let view = state
        .store
        .write(move |c| roles::create_role(c, &access.acting(), input))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Change a custom role (built-in roles are read-only: clone them).
#[utoipa::path(
    tag = "roles",
    params(("org" = String, Path), ("role" = String, Path, description = "Role key or id")),
    request_body = RoleBody,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []))
)]
#[patch("/orgs/{org}/roles/{role}")]
pub async fn update_role(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
    body: web::Json<RoleBody>,
) -> Result<HttpResponse, AppError> {
    access.require("gateway.roles.manage")?;
    let (_, key) = path.into_inner();
    let input = body.into_inner().into();
    let view = state
        .store
        .write(move |c| roles::update_role(c, &access.acting(), &key, input))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(
    tag = "roles",
    params(("org" = String, Path), ("role" = String, Path, description = "Role key or id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []))
)]
#[delete("/orgs/{org}/roles/{role}")]
pub async fn delete_role(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    access.require("gateway.roles.manage")?;
    let (_, key) = path.into_inner();
    state
        .store
        .write(move |c| roles::delete_role(c, &access.acting(), &key))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "roles", params(("org" = String, Path)), responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
#[get("/orgs/{org}/permission-sets")]
pub async fn list_sets(access: OrgAccess) -> Result<HttpResponse, AppError> {
    let list: Vec<_> = access.policy.policy.sets().map(set_view).collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Create a permission set for an application (needs `app.build` on it).
#[utoipa::path(
    tag = "roles",
    params(("org" = String, Path)),
    request_body = SetBody,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/permission-sets")]
pub async fn create_set(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<SetBody>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_inner().into();
    let view = state
        .store
        .write(move |c| roles::create_set(c, &access.acting(), input))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[utoipa::path(
    tag = "roles",
    params(("org" = String, Path), ("set" = String, Path)),
    request_body = SetBody,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[patch("/orgs/{org}/permission-sets/{set}")]
pub async fn update_set(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
    body: web::Json<SetBody>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let input = body.into_inner().into();
    let view = state
        .store
        .write(move |c| roles::update_set(c, &access.acting(), &id, input))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(
    tag = "roles",
    params(("org" = String, Path), ("set" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[delete("/orgs/{org}/permission-sets/{set}")]
pub async fn delete_set(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    state
        .store
        .write(move |c| roles::delete_set(c, &access.acting(), &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "roles", params(("org" = String, Path)), responses((status = 200, body = Vec<String>)), security(("bearer" = [])))]
#[get("/orgs/{org}/default-permissions")]
pub async fn get_defaults(access: OrgAccess) -> Result<HttpResponse, AppError> {
    let list: Vec<&str> = access
        .policy
        .policy
        .defaults()
        .allow
        .iter()
        .map(|k| k.as_str())
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Replace the permissions users get where they hold no binding.
#[utoipa::path(
    tag = "roles",
    params(("org" = String, Path)),
    request_body = DefaultsBody,
    responses((status = 200, body = Vec<String>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
#[put("/orgs/{org}/default-permissions")]
pub async fn set_defaults(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<DefaultsBody>,
) -> Result<HttpResponse, AppError> {
    access.require("gateway.roles.manage")?;
    let allow = body.into_inner().allow;
    let list = state
        .store
        .write(move |c| roles::set_defaults(c, &access.acting(), allow))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}
