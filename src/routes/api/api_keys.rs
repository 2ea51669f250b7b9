//! `/api/v1/orgs/{org}/api-keys`: create (token shown once), list, revoke.

use actix_web::{HttpResponse, delete, get, post, web};
use secrecy::ExposeSecret;

use super::dto::{ApiKeyDto, CreateApiKey, CreatedApiKey};
use crate::auth::access::OrgAccess;
use crate::error::{AppError, ErrorBody};
use crate::service;
use crate::state::AppState;

#[utoipa::path(
    tag = "api-keys",
    params(("org" = String, Path, description = "Org slug or id")),
    request_body = CreateApiKey,
    responses((status = 201, description = "Created", body = CreatedApiKey), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.keys.manage")))
)]
#[post("/orgs/{org}/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<CreateApiKey>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let (key, token) = state
        .store
        .write(move |c| {
            service::api_keys::create_in_org(
                c,
                &access.acting(),
                service::api_keys::KeyRequest {
                    name: b.name,
                    role: b.role,
                    user: b.user,
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
    responses((status = 200, description = "OK", body = Vec<ApiKeyDto>)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.keys.manage")))
)]
#[get("/orgs/{org}/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    access: OrgAccess,
) -> Result<HttpResponse, AppError> {
    let keys = state
        .store
        .read(move |c| service::api_keys::list_in_org(c, &access.acting()))
        .await?;
    Ok(HttpResponse::Ok().json(keys.into_iter().map(ApiKeyDto::from).collect::<Vec<_>>()))
}

/// Revoke a key; it stops working at once on this node.
#[utoipa::path(
    tag = "api-keys",
    params(("org" = String, Path, description = "Org slug or id"), ("id" = String, Path, description = "Key id")),
    responses((status = 200, description = "OK", body = ApiKeyDto), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.keys.manage")))
)]
#[delete("/orgs/{org}/api-keys/{id}")]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let key = state
        .store
        .write(move |c| service::api_keys::revoke_in_org(c, &access.acting(), &id))
        .await?;
    state.api_keys.remove(&key.id);
    Ok(HttpResponse::Ok().json(ApiKeyDto::from(key)))
}
