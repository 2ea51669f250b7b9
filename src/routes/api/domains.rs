//! `/api/v1/orgs/{org}/domains`: verified domains (issue "8 of 11" item 1).
//! Claim a domain, publish the TXT record the answer names, then ask for
//! verification; the lookup happens outside any database transaction.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::access::OrgAccess;
use crate::error::{AppError, ErrorBody};
use crate::service::domains::{self, DomainView};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimDomain {
    /// e.g. `acme.com`.
    pub domain: String,
}

/// Claim a domain: the answer names the TXT record to publish
/// (`_rollcall-challenge.<domain>`) and its value.
#[utoipa::path(
    tag = "sso",
    params(("org" = String, Path, description = "Org slug or id")),
    request_body = ClaimDomain,
    responses((status = 201, description = "Claimed (or already claimed: the same challenge)", body = DomainView), (status = 400, description = "Not a domain name", body = ErrorBody), (status = 409, description = "Verified by another organization", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.sso.manage")))
)]
#[post("/orgs/{org}/domains")]
pub async fn claim_domain(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<ClaimDomain>,
) -> Result<HttpResponse, AppError> {
    let domain = body.into_inner().domain;
    let view = state
        .store
        .write(move |c| domains::claim(c, &access.acting(), &domain))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// The org's domains, verified or waiting for their TXT record.
#[utoipa::path(
    tag = "sso",
    params(("org" = String, Path, description = "Org slug or id")),
    responses((status = 200, description = "OK", body = Vec<DomainView>)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.sso.manage")))
)]
#[get("/orgs/{org}/domains")]
pub async fn list_domains(
    state: web::Data<AppState>,
    access: OrgAccess,
) -> Result<HttpResponse, AppError> {
    let list = state
        .store
        .read(move |c| domains::list(c, &access.acting()))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Look the TXT record up and mark the domain verified when it holds the
/// challenge (`409 challenge_not_found` otherwise; `502` when DNS fails).
#[utoipa::path(
    tag = "sso",
    params(("org" = String, Path, description = "Org slug or id"), ("domain" = String, Path, description = "The domain")),
    responses((status = 200, description = "Verified", body = DomainView), (status = 404, description = "Not claimed", body = ErrorBody), (status = 409, description = "The record does not hold the challenge, or another org verified the domain first", body = ErrorBody), (status = 502, description = "The DNS lookup failed", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.sso.manage")))
)]
#[post("/orgs/{org}/domains/{domain}/verify")]
pub async fn verify_domain(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, domain) = path.into_inner();
    let claimed = {
        let (access, domain) = (access.clone(), domain.clone());
        state
            .store
            .read(move |c| domains::challenge(c, &access.acting(), &domain))
            .await?
    };
    let published = state
        .dns
        .txt(&domains::record_name(&claimed.domain))
        .await
        .map_err(|e| AppError::BadGateway(e.to_string()))?;
    let view = state
        .store
        .write(move |c| domains::verify(c, &access.acting(), &domain, &published))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Remove a domain (refused while `allowed_email_domains` lists it).
#[utoipa::path(
    tag = "sso",
    params(("org" = String, Path, description = "Org slug or id"), ("domain" = String, Path, description = "The domain")),
    responses((status = 204, description = "Removed"), (status = 404, description = "Not claimed", body = ErrorBody), (status = 409, description = "Still allowed for SSO-default", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.sso.manage")))
)]
#[delete("/orgs/{org}/domains/{domain}")]
pub async fn remove_domain(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, domain) = path.into_inner();
    state
        .store
        .write(move |c| domains::remove(c, &access.acting(), &domain))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
