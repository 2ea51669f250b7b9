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
        (status = 201, description = "Created", body = OrgDto),
        (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody), (status = 409, description = "Conflicts with the current state", body = ErrorBody),
    ),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("instance-admin")))
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
    responses((status = 200, description = "OK", body = Vec<OrgDto>), (status = 401, description = "No valid API key", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("authenticated")))
)]
#[get("/orgs")]
pub async fn list_orgs(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, AppError> {
    let orgs = state.store.read(service::orgs::list).await?;
    let visible: Vec<OrgDto> = orgs
        .into_iter()
        .filter(|o| OrgAccess::admit(&principal, o, &o.slug).is_ok())
        .map(OrgDto::from)
        .collect();
    Ok(HttpResponse::Ok().json(visible))
}

#[utoipa::path(
    tag = "orgs",
    params(("org" = String, Path, description = "Org slug or id")),
    responses((status = 200, description = "OK", body = OrgDto), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.access.read")))
)]
#[get("/orgs/{org}")]
pub async fn get_org(access: OrgAccess) -> Result<HttpResponse, AppError> {
    let org = service::orgs::get(&access.acting())?;
    Ok(HttpResponse::Ok().json(OrgDto::from(org.clone())))
}
