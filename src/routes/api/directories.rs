//! `/api/v1/orgs/{org}/scim-directories`: SCIM directories and their tokens
//! (tokens are shown once; several may be active at once for rotation).

use actix_web::{HttpResponse, delete, get, post, web};
use secrecy::ExposeSecret;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::access::OrgAccess;
use crate::error::{AppError, ErrorBody};
use crate::service::directories;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDirectory {
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: Option<String>,
}

/// Create a directory; the answer carries its SCIM base path and first token (shown once).
#[utoipa::path(
    tag = "scim",
    params(("org" = String, Path)),
    request_body = CreateDirectory,
    responses((status = 201, body = Object), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/scim-directories")]
pub async fn create_directory(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<CreateDirectory>,
) -> Result<HttpResponse, AppError> {
    access.require("gateway.scim.manage")?;
    let name = body.into_inner().name;
    let (d, t, secret) = state
        .store
        .write(move |c| directories::create(c, &access.acting(), &name))
        .await?;
    let mut view = directories::view(&d);
    view["token"] = serde_json::json!(secret.expose_secret());
    view["token_id"] = serde_json::json!(t.id);
    Ok(HttpResponse::Created().json(view))
}

#[utoipa::path(tag = "scim", params(("org" = String, Path)), responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
#[get("/orgs/{org}/scim-directories")]
pub async fn list_directories(
    state: web::Data<AppState>,
    access: OrgAccess,
) -> Result<HttpResponse, AppError> {
    access.require("gateway.scim.manage")?;
    let list = state
        .store
        .read(move |c| -> Result<_, AppError> {
            Ok(crate::store::directories::list(c, &access.org.id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list.iter().map(directories::view).collect::<Vec<_>>()))
}

/// Create another token for a directory (rotation); shown once.
#[utoipa::path(
    tag = "scim",
    params(("org" = String, Path), ("directory" = String, Path, description = "Directory id or name")),
    request_body = CreateToken,
    responses((status = 201, body = Object), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/scim-directories/{directory}/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, AppError> {
    access.require("gateway.scim.manage")?;
    let (_, dir) = path.into_inner();
    let name = body.into_inner().name.unwrap_or_else(|| "api".to_owned());
    let (t, secret) = state
        .store
        .write(move |c| {
            let d = directories::resolve(c, &access.org, &dir)?;
            directories::create_token(c, &access.acting(), &d, &name)
        })
        .await?;
    let mut view = directories::token_view(&t);
    view["token"] = serde_json::json!(secret.expose_secret());
    Ok(HttpResponse::Created().json(view))
}

#[utoipa::path(
    tag = "scim",
    params(("org" = String, Path), ("directory" = String, Path, description = "Directory id or name")),
    responses((status = 200, body = Vec<Object>), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/orgs/{org}/scim-directories/{directory}/tokens")]
pub async fn list_tokens(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    access.require("gateway.scim.manage")?;
    let (_, dir) = path.into_inner();
    let list = state
        .store
        .read(move |c| -> Result<_, AppError> {
            let d = directories::resolve(c, &access.org, &dir)?;
            Ok(crate::store::scim::tokens(c, &d.id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list.iter().map(directories::token_view).collect::<Vec<_>>()))
}

/// Revoke a token; it stops working at once on this node.
#[utoipa::path(
    tag = "scim",
    params(("org" = String, Path), ("directory" = String, Path), ("token" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[delete("/orgs/{org}/scim-directories/{directory}/tokens/{token}")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    access.require("gateway.scim.manage")?;
    let (_, _, token) = path.into_inner();
    let st = state.clone();
    let t = state
        .store
        .write(move |c| directories::revoke_token(c, &access.acting(), &token))
        .await?;
    st.scim_tokens.remove(&t.id);
    Ok(HttpResponse::Ok().json(directories::token_view(&t)))
}
