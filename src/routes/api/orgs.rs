//! `/api/v1/orgs`: create (instance admin), list, get.

use actix_web::{HttpRequest, HttpResponse, get, post, web};

use super::dto::{CreateOrg, OrgDto};
use crate::auth::access::OrgAccess;
use crate::auth::{Principal, request_id};
use crate::error::{AppError, ErrorBody};
use crate::service::{self, Ctx};
use crate::state::AppState;

/// Create an organization (instance-admin keys only).
#[utoipa::path(
    tag = "orgs",
    request_body = CreateOrg,
    responses(
        (status = 201, body = OrgDto),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/orgs")]
pub async fn create_org(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    body: web::Json<CreateOrg>,
) -> Result<HttpResponse, AppError> {
    if !principal.is_instance_admin() {
        return Err(AppError::Forbidden(
            "only an instance-admin key can create organizations".to_owned(),
        ));
    }
    let ctx = Ctx::new(principal.actor(), request_id(&req));
    let body = body.into_inner();
    let org = state
        .store
        .write(move |c| {
            service::orgs::create(
                c,
                &ctx,
                service::orgs::NewOrg {
                    slug: body.slug,
                    name: body.name,
                    preset: body.preset,
                },
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(OrgDto::from(org)))
}

/// Organizations this key can see: all for an instance admin, else its own.
#[utoipa::path(
    tag = "orgs",
    responses((status = 200, body = Vec<OrgDto>), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/orgs")]
pub async fn list_orgs(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, AppError> {
    let orgs = state.store.read(service::orgs::list).await?;
    let visible: Vec<OrgDto> = orgs
        .into_iter()
        .filter(|o| OrgAccess::admit(&principal, o).is_ok())
        .map(OrgDto::from)
        .collect();
    Ok(HttpResponse::Ok().json(visible))
}

#[utoipa::path(
    tag = "orgs",
    params(("org" = String, Path, description = "Org slug or id")),
    responses((status = 200, body = OrgDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/orgs/{org}")]
pub async fn get_org(access: OrgAccess) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(OrgDto::from(access.org)))
}
