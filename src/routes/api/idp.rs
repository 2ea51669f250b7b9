//! `/api/v1/orgs/{org}/idp-connections`: the org's OIDC and SAML identity
//! providers (issue "8 of 11" item 1). Discovery and metadata fetches run
//! after the permission check and outside any database transaction.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};

use crate::auth::access::OrgAccess;
use crate::error::{AppError, ErrorBody};
use crate::routes::public_base;
use crate::service::idp_connections::{
    self as idp, ConnectionPatch, ConnectionView, NewConnection,
};
use crate::state::AppState;

/// Create a connection. OIDC: the issuer is checked by discovery; SAML:
/// metadata as XML, from a URL, or the IdP's fields. The answer's `setup`
/// holds what to enter at the IdP.
#[utoipa::path(
    tag = "sso",
    params(("org" = String, Path, description = "Org slug or id")),
    request_body = NewConnection,
    responses((status = 201, description = "Created", body = ConnectionView), (status = 400, description = "Invalid settings, no signing certificate, an unverified trusted domain, or discovery refused", body = ErrorBody), (status = 502, description = "The IdP could not be reached", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.sso.manage")))
)]
#[post("/orgs/{org}/idp-connections")]
pub async fn create_connection(
    state: web::Data<AppState>,
    req: HttpRequest,
    access: OrgAccess,
    body: web::Json<NewConnection>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_inner();
    let fetched = idp::prepare_create(&access.acting(), &input, state.settings.sso.network).await?;
    let base = public_base(&state, &req);
    let settings = state.settings.clone();
    let view = state
        .store
        .write(move |c| {
            idp::create(
                c,
                &access.acting(),
                &settings.sso.secret_key,
                input.clone(),
                &fetched,
                &base,
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// The org's connections.
#[utoipa::path(
    tag = "sso",
    params(("org" = String, Path, description = "Org slug or id")),
    responses((status = 200, description = "OK", body = Vec<ConnectionView>)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.sso.manage")))
)]
#[get("/orgs/{org}/idp-connections")]
pub async fn list_connections(
    state: web::Data<AppState>,
    req: HttpRequest,
    access: OrgAccess,
) -> Result<HttpResponse, AppError> {
    let base = public_base(&state, &req);
    let list = state
        .store
        .read(move |c| idp::list(c, &access.acting(), &base))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One connection.
#[utoipa::path(
    tag = "sso",
    params(("org" = String, Path, description = "Org slug or id"), ("connection" = String, Path, description = "Connection id")),
    responses((status = 200, description = "OK", body = ConnectionView), (status = 404, description = "No such connection", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.sso.manage")))
)]
#[get("/orgs/{org}/idp-connections/{connection}")]
pub async fn get_connection(
    state: web::Data<AppState>,
    req: HttpRequest,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let base = public_base(&state, &req);
    let view = state
        .store
        .read(move |c| idp::get(c, &access.acting(), &id, &base))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Change a connection: name, enabled, trusted domains, client secret
/// rotation, claims or attributes, certificates (replace or add for a
/// rollover), … A change of who the IdP is, what it may assert or for which
/// domains, made by someone without an owner role, withdraws the owner's
/// approval.
#[utoipa::path(
    tag = "sso",
    params(("org" = String, Path, description = "Org slug or id"), ("connection" = String, Path, description = "Connection id")),
    request_body = ConnectionPatch,
    responses((status = 200, description = "Changed", body = ConnectionView), (status = 400, description = "Invalid change", body = ErrorBody), (status = 404, description = "No such connection", body = ErrorBody), (status = 409, description = "Changed by another request meanwhile (changed_meanwhile)", body = ErrorBody), (status = 502, description = "The IdP could not be reached", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.sso.manage")))
)]
#[patch("/orgs/{org}/idp-connections/{connection}")]
pub async fn update_connection(
    state: web::Data<AppState>,
    req: HttpRequest,
    access: OrgAccess,
    path: web::Path<(String, String)>,
    body: web::Json<ConnectionPatch>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let patch = body.into_inner();
    let current = {
        let (access, id) = (access.clone(), id.clone());
        state
            .store
            .read(move |c| idp::get_row(c, &access.acting(), &id))
            .await?
    };
    let fetched = idp::prepare_update(&current, &patch, state.settings.sso.network).await?;
    let base = public_base(&state, &req);
    let settings = state.settings.clone();
    let view = state
        .store
        .write(move |c| {
            idp::update(
                c,
                &access.acting(),
                &settings.sso.secret_key,
                &id,
                patch.clone(),
                &fetched,
                &base,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// An owner approves the connection: it may then link to and sign in owners.
#[utoipa::path(
    tag = "sso",
    params(("org" = String, Path, description = "Org slug or id"), ("connection" = String, Path, description = "Connection id")),
    responses((status = 200, description = "Approved", body = ConnectionView), (status = 403, description = "Not an owner", body = ErrorBody), (status = 404, description = "No such connection", body = ErrorBody), (status = 409, description = "Changed by another request meanwhile (changed_meanwhile)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.sso.manage")))
)]
#[post("/orgs/{org}/idp-connections/{connection}/approve")]
pub async fn approve_connection(
    state: web::Data<AppState>,
    req: HttpRequest,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let base = public_base(&state, &req);
    let view = state
        .store
        .write(move |c| idp::approve(c, &access.acting(), &id, &base))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Delete a connection with its `sso_claim` group mappings.
#[utoipa::path(
    tag = "sso",
    params(("org" = String, Path, description = "Org slug or id"), ("connection" = String, Path, description = "Connection id")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "A group mapping of the connection gives more than the caller may grant", body = ErrorBody), (status = 404, description = "No such connection", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.sso.manage")))
)]
#[delete("/orgs/{org}/idp-connections/{connection}")]
pub async fn delete_connection(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    state
        .store
        .write(move |c| idp::delete(c, &access.acting(), &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
