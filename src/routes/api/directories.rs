//! `/api/v1/orgs/{org}/scim-directories`: SCIM directories and their tokens
//! (tokens are shown once; several may be active at once for rotation).

use actix_web::{HttpResponse, delete, get, post, put, web};
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
    /// What the directory may assign; default: every org-level role the
    /// creator may grant except owner roles, and the workspaces the creator sees.
    pub ceiling: Option<CeilingBody>,
}

/// A directory's ceiling: org-level roles (keys or names; never an owner
/// role) and workspaces (slugs; `null` = every workspace) it may assign
/// through SCIM `roles`, the rollcall extension and group mappings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CeilingBody {
    pub roles: Vec<String>,
    pub workspaces: Option<Vec<String>>,
}

impl From<CeilingBody> for directories::CeilingInput {
    fn from(b: CeilingBody) -> Self {
        directories::CeilingInput {
            roles: b.roles,
            workspaces: b.workspaces,
        }
    }
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
    responses((status = 201, description = "Created", body = Object), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody), (status = 409, description = "Conflicts with the current state", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.scim.manage")))
)]
#[post("/orgs/{org}/scim-directories")]
pub async fn create_directory(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<CreateDirectory>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let ceiling = b.ceiling.map(directories::CeilingInput::from);
    let op = access.policy.clone();
    let (d, t, secret) = state
        .store
        .write(move |c| directories::create(c, &access.acting(), &b.name, ceiling.as_ref()))
        .await?;
    let mut view = directories::view_with_ceiling(&op, &d);
    view["token"] = serde_json::json!(secret.expose_secret());
    view["token_id"] = serde_json::json!(t.id);
    Ok(HttpResponse::Created().json(view))
}

#[utoipa::path(tag = "scim", params(("org" = String, Path)), responses((status = 200, description = "OK", body = Vec<Object>)), security(("bearer" = [])), extensions(("x-rollcall-permission" = json!("gateway.scim.manage"))))]
#[get("/orgs/{org}/scim-directories")]
pub async fn list_directories(
    state: web::Data<AppState>,
    access: OrgAccess,
) -> Result<HttpResponse, AppError> {
    let op = access.policy.clone();
    let list = state
        .store
        .read(move |c| directories::list(c, &access.acting()))
        .await?;
    Ok(HttpResponse::Ok().json(
        list.iter()
            .map(|d| directories::view_with_ceiling(&op, d))
            .collect::<Vec<_>>(),
    ))
}

/// Create another token for a directory (rotation); shown once.
#[utoipa::path(
    tag = "scim",
    params(("org" = String, Path), ("directory" = String, Path, description = "Directory id or name")),
    request_body = CreateToken,
    responses((status = 201, description = "Created", body = Object), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.scim.manage")))
)]
#[post("/orgs/{org}/scim-directories/{directory}/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, AppError> {
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
    responses((status = 200, description = "OK", body = Vec<Object>), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.scim.manage")))
)]
#[get("/orgs/{org}/scim-directories/{directory}/tokens")]
pub async fn list_tokens(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, dir) = path.into_inner();
    let list = state
        .store
        .read(move |c| directories::list_tokens(c, &access.acting(), &dir))
        .await?;
    Ok(HttpResponse::Ok().json(list.iter().map(directories::token_view).collect::<Vec<_>>()))
}

/// Revoke a token; it stops working at once on this node.
#[utoipa::path(
    tag = "scim",
    params(("org" = String, Path), ("directory" = String, Path), ("token" = String, Path)),
    responses((status = 200, description = "OK", body = Object), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.scim.manage")))
)]
#[delete("/orgs/{org}/scim-directories/{directory}/tokens/{token}")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, _, token) = path.into_inner();
    let st = state.clone();
    let t = state
        .store
        .write(move |c| directories::revoke_token(c, &access.acting(), &token))
        .await?;
    st.scim_tokens.remove(&t.id);
    Ok(HttpResponse::Ok().json(directories::token_view(&t)))
}

/// Replace the directory's ceiling (the roles and workspaces it may assign).
/// Owner roles are refused; nothing beyond what the caller may grant.
#[utoipa::path(
    tag = "scim",
    params(("org" = String, Path), ("directory" = String, Path, description = "Directory id or name")),
    request_body = CeilingBody,
    responses((status = 200, description = "The directory with its new ceiling", body = Object), (status = 400, description = "An owner role or an unknown role or workspace", body = ErrorBody), (status = 403, description = "Beyond the caller's own rights", body = ErrorBody), (status = 404, description = "No such directory", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.scim.manage")))
)]
#[put("/orgs/{org}/scim-directories/{directory}/ceiling")]
pub async fn set_ceiling(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
    body: web::Json<CeilingBody>,
) -> Result<HttpResponse, AppError> {
    let (_, dir) = path.into_inner();
    let input = directories::CeilingInput::from(body.into_inner());
    let op = access.policy.clone();
    let st = state.clone();
    let d = state
        .store
        .write(move |c| directories::set_ceiling(c, &access.acting(), &dir, &input))
        .await?;
    st.forget_directory(&d.id);
    Ok(HttpResponse::Ok().json(directories::view_with_ceiling(&op, &d)))
}
