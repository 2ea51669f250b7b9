//! `/api/v1/orgs/{org}/api-keys`: create (token shown once), list, revoke.

use actix_web::{HttpResponse, delete, get, post, web};
use secrecy::ExposeSecret;

use super::dto::{ApiKeyDto, CreateApiKey, CreatedApiKey};
use crate::auth::access::OrgAccess;
use crate::error::{AppError, ErrorBody};
use crate::service::{self, api_keys::NewKey};
use crate::state::AppState;

#[utoipa::path(
    tag = "api-keys",
    params(("org" = String, Path, description = "Org slug or id")),
    request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<CreateApiKey>,
) -> Result<HttpResponse, AppError> {
    access.require("gateway.settings.manage")?;
    let b = body.into_inner();
    if b.role.is_some() && b.user.is_some() {
        return Err(AppError::bad_request("a personal key (user) takes no role"));
    }
    if let Some(role) = &b.role {
        let role = access.policy.role(role)?;
        access.authority.may_grant_role(
            &access.policy.policy,
            &role.id,
            &crate::domain::authz::BindingScope::Org,
        )?;
    }
    let (key, token) = state
        .store
        .write(move |c| {
            let user = b
                .user
                .as_deref()
                .map(|u| service::users::find_by_id_or_name(c, &access.org, u))
                .transpose()?;
            if b.role.is_none() && user.is_none() {
                // The default role of a key is the owner role: only grantable by an owner.
                let owner = access
                    .policy
                    .owner_role()
                    .ok_or_else(|| AppError::bad_request("this organization has no owner role"))?;
                access.authority.may_grant_role(
                    &access.policy.policy,
                    &owner.id,
                    &crate::domain::authz::BindingScope::Org,
                )?;
            }
            service::api_keys::create(
                c,
                &access.ctx,
                NewKey {
                    org: Some(&access.org),
                    name: b.name,
                    role_key: b.role,
                    instance_admin: false,
                    user: user.as_ref(),
                },
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(CreatedApiKey {
        key: key.into(),
        token: token.expose_secret().to_owned(),
    }))
}

#[utoipa::path(
    tag = "api-keys",
    params(("org" = String, Path, description = "Org slug or id")),
    responses((status = 200, body = Vec<ApiKeyDto>)),
    security(("bearer" = []))
)]
#[get("/orgs/{org}/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    access: OrgAccess,
) -> Result<HttpResponse, AppError> {
    let keys = state
        .store
        .read(move |c| service::api_keys::list(c, Some(&access.org)))
        .await?;
    Ok(HttpResponse::Ok().json(keys.into_iter().map(ApiKeyDto::from).collect::<Vec<_>>()))
}

/// Revoke a key; it stops working at once on this node.
#[utoipa::path(
    tag = "api-keys",
    params(("org" = String, Path, description = "Org slug or id"), ("id" = String, Path, description = "Key id")),
    responses((status = 200, body = ApiKeyDto), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[delete("/orgs/{org}/api-keys/{id}")]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    access.require("gateway.settings.manage")?;
    let (_, id) = path.into_inner();
    let key = state
        .store
        .write(move |c| {
            let key = service::api_keys::get(c, &id)?;
            if key.org_id.as_ref() != Some(&access.org.id) {
                return Err(AppError::not_found("API key", &id));
            }
            service::api_keys::revoke(c, &access.ctx, &key)
        })
        .await?;
    state.api_keys.remove(&key.id);
    Ok(HttpResponse::Ok().json(ApiKeyDto::from(key)))
}
