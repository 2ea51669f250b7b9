//! The org's permission model: catalogue, roles (with their grant matrix),
//! permission sets and default permissions.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::{DefaultsBody, RoleBody, SetBody};
use crate::auth::access::OrgAccess;
use crate::error::{AppError, ErrorBody};
use crate::service::roles::{self, role_view};
use crate::state::AppState;

/// The permission catalogue: every key with its scope and kind.
#[utoipa::path(tag = "roles", params(("org" = String, Path)), responses((status = 200, description = "OK", body = Vec<Object>)), security(("bearer" = [])), extensions(("x-rollcall-permission" = json!("gateway.access.read"))))]
#[get("/orgs/{org}/permissions")]
pub async fn list_permissions(access: OrgAccess) -> Result<HttpResponse, AppError> {
    let op = roles::policy_for_reading(&access.acting())?;
    let list: Vec<_> = op.policy.catalogue().collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Roles with their grants (org-level allow/deny, module-level policies), visibility and flags.
#[utoipa::path(tag = "roles", params(("org" = String, Path)), responses((status = 200, description = "OK", body = Vec<Object>)), security(("bearer" = [])), extensions(("x-rollcall-permission" = json!("gateway.access.read"))))]
#[get("/orgs/{org}/roles")]
pub async fn list_roles(access: OrgAccess) -> Result<HttpResponse, AppError> {
    let p = &roles::policy_for_reading(&access.acting())?.policy;
    let list: Vec<_> = p.roles().map(|r| role_view(r, p)).collect();
    Ok(HttpResponse::Ok().json(list))
}

/// One role: its grants, and the permission sets attached to it with each
/// set's application and permissions (seed 002).
#[utoipa::path(
    tag = "roles",
    params(("org" = String, Path), ("role" = String, Path, description = "Role key or id")),
    responses((status = 200, description = "OK", body = Object), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.access.read")))
)]
#[get("/orgs/{org}/roles/{role}")]
pub async fn get_role(
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, key) = path.into_inner();
    let op = roles::policy_for_reading(&access.acting())?;
    let role = op.role(&key)?;
    Ok(HttpResponse::Ok().json(role_view(role, &op.policy)))
}

/// Create a custom role, from scratch or as a clone (`clone_from`).
#[utoipa::path(
    tag = "roles",
    params(("org" = String, Path)),
    request_body = RoleBody,
    responses((status = 201, description = "Created", body = Object), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody), (status = 409, description = "Conflicts with the current state", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.roles.manage")))
)]
#[post("/orgs/{org}/roles")]
pub async fn create_role(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<RoleBody>,
) -> Result<HttpResponse, AppError> {
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
    responses((status = 200, description = "OK", body = Object), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody), (status = 409, description = "Conflicts with the current state", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.roles.manage")))
)]
#[patch("/orgs/{org}/roles/{role}")]
pub async fn update_role(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
    body: web::Json<RoleBody>,
) -> Result<HttpResponse, AppError> {
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
    responses((status = 204, description = "Done, no content"), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody), (status = 409, description = "Conflicts with the current state", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.roles.manage")))
)]
#[delete("/orgs/{org}/roles/{role}")]
pub async fn delete_role(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, key) = path.into_inner();
    state
        .store
        .write(move |c| roles::delete_role(c, &access.acting(), &key))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Filters of the permission-set list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SetListParams {
    /// Case-insensitive substring of the set's name or application.
    pub search: Option<String>,
    /// Only sets of this application (exact id).
    pub application: Option<String>,
}

/// Permission sets, searched by name or application (seed 002). Reading
/// them is reading access (`gateway.access.read`), and seed 002's builders
/// search them too, so `app.build` on any application also admits the
/// caller. Either way the list shows only sets of applications the caller
/// may build (`app.build` on the application), as the seed's Build → Access
/// screen does — the sets a role carries stay visible in the role's answer.
#[utoipa::path(tag = "roles", params(("org" = String, Path), SetListParams), responses((status = 200, description = "OK", body = Vec<Object>), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody)), security(("bearer" = [])), extensions(("x-rollcall-permission" = json!("gateway.access.read or app.build"))))]
#[get("/orgs/{org}/permission-sets")]
pub async fn list_sets(
    access: OrgAccess,
    params: web::Query<SetListParams>,
) -> Result<HttpResponse, AppError> {
    let p = params.into_inner();
    let list = crate::service::lists::find_sets(
        &access.acting(),
        crate::service::lists::SetSearchInput {
            search: p.search,
            application: p.application,
        },
    )?;
    Ok(HttpResponse::Ok().json(list))
}

/// Create a permission set for an application (needs `app.build` on it).
#[utoipa::path(
    tag = "roles",
    params(("org" = String, Path)),
    request_body = SetBody,
    responses((status = 201, description = "Created", body = Object), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("app.build")))
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
    responses((status = 200, description = "OK", body = Object), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("app.build")))
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
    responses((status = 204, description = "Done, no content"), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("app.build")))
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

#[utoipa::path(tag = "roles", params(("org" = String, Path)), responses((status = 200, description = "OK", body = Vec<String>)), security(("bearer" = [])), extensions(("x-rollcall-permission" = json!("gateway.access.read"))))]
#[get("/orgs/{org}/default-permissions")]
pub async fn get_defaults(access: OrgAccess) -> Result<HttpResponse, AppError> {
    let op = roles::policy_for_reading(&access.acting())?;
    let list: Vec<&str> = op
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
    responses((status = 200, description = "OK", body = Vec<String>), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.roles.manage")))
)]
#[put("/orgs/{org}/default-permissions")]
pub async fn set_defaults(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<DefaultsBody>,
) -> Result<HttpResponse, AppError> {
    let allow = body.into_inner().allow;
    let list = state
        .store
        .write(move |c| roles::set_defaults(c, &access.acting(), allow))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}
