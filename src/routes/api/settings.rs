//! Org settings (provisioning paths, default role, allowed email domains,
//! workspace self-selection, invite expiry, `roles_managed_by`) and group
//! mappings.

use actix_web::{HttpResponse, delete, get, post, put, web};

use super::dto::{MappingBody, MappingKindBody, OrgDto};
use crate::auth::access::OrgAccess;
use crate::domain::OrgSettings;
use crate::domain::authz::MappingKind;
use crate::error::{AppError, ErrorBody};
use crate::service::roles::{self, MappingInput};
use crate::state::AppState;

#[utoipa::path(tag = "settings", params(("org" = String, Path)), responses((status = 200, description = "OK", body = OrgSettings)), security(("bearer" = [])), extensions(("x-rollcall-permission" = json!("gateway.settings.manage"))))]
#[get("/orgs/{org}/settings")]
pub async fn get_settings(access: OrgAccess) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(roles::settings(&access.acting())?))
}

/// Replace the org's settings (send the whole object; unknown keys are refused).
#[utoipa::path(
    tag = "settings",
    params(("org" = String, Path)),
    request_body = OrgSettings,
    responses((status = 200, description = "OK", body = OrgDto), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.settings.manage")))
)]
#[put("/orgs/{org}/settings")]
pub async fn put_settings(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<OrgSettings>,
) -> Result<HttpResponse, AppError> {
    let settings = body.into_inner();
    let st = state.clone();
    let org = state
        .store
        .write(move |c| roles::update_settings(c, &access.acting(), settings))
        .await?;
    st.forget_org(&org);
    Ok(HttpResponse::Ok().json(OrgDto::from(org)))
}

#[utoipa::path(tag = "settings", params(("org" = String, Path)), responses((status = 200, description = "OK", body = Vec<Object>)), security(("bearer" = [])), extensions(("x-rollcall-permission" = json!("gateway.scim.manage or gateway.sso.manage"))))]
#[get("/orgs/{org}/group-mappings")]
pub async fn list_mappings(
    state: web::Data<AppState>,
    access: OrgAccess,
) -> Result<HttpResponse, AppError> {
    let list = state
        .store
        .read(move |c| roles::list_mappings(c, &access.acting()))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Map an IdP group to a role and workspaces. Users in the group are
/// re-evaluated at once (SCIM) or at their next login (SSO).
#[utoipa::path(
    tag = "settings",
    params(("org" = String, Path)),
    request_body = MappingBody,
    responses((status = 201, description = "Created", body = Object), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.scim.manage or gateway.sso.manage")))
)]
#[post("/orgs/{org}/group-mappings")]
pub async fn create_mapping(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<MappingBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let kind = match b.kind {
        MappingKindBody::ScimGroup => MappingKind::ScimGroup,
        MappingKindBody::SsoClaim => MappingKind::SsoClaim,
    };
    let input = MappingInput {
        kind,
        source: b.source,
        group: b.group,
        role: b.role,
        workspaces: b.workspaces,
        priority: b.priority,
    };
    let view = state
        .store
        .write(move |c| roles::create_mapping(c, &access.acting(), input))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[utoipa::path(
    tag = "settings",
    params(("org" = String, Path), ("mapping" = String, Path)),
    responses((status = 204, description = "Done, no content"), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.scim.manage or gateway.sso.manage")))
)]
#[delete("/orgs/{org}/group-mappings/{mapping}")]
pub async fn delete_mapping(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    state
        .store
        .write(move |c| roles::delete_mapping(c, &access.acting(), &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
