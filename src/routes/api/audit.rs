//! `GET /api/v1/orgs/{org}/audit`: the org's audit trail, newest first.

use actix_web::{HttpResponse, get, web};

use super::dto::{AuditEventDto, AuditPage, AuditParams, parse_time};
use crate::auth::access::OrgAccess;
use crate::error::{AppError, ErrorBody};
use crate::service::{self, audit::AuditFilter};
use crate::state::AppState;

#[utoipa::path(
    tag = "audit",
    params(("org" = String, Path, description = "Org slug or id"), AuditParams),
    responses((status = 200, description = "OK", body = AuditPage), (status = 400, description = "The request is invalid", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.audit.read")))
)]
#[get("/orgs/{org}/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    access: OrgAccess,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, AppError> {
    let p = params.into_inner();
    let filter = AuditFilter {
        actor: p.actor,
        target: p.target,
        action: p.action,
        since: p
            .since
            .as_deref()
            .map(|s| parse_time("since", s))
            .transpose()?,
        until: p
            .until
            .as_deref()
            .map(|s| parse_time("until", s))
            .transpose()?,
        cursor: p.cursor,
    };
    let limit = service::page_size(p.limit, 50, 500);
    let page = state
        .store
        .read(move |c| service::audit::list(c, &access.acting(), filter, limit))
        .await?;
    Ok(HttpResponse::Ok().json(AuditPage {
        items: page.items.into_iter().map(AuditEventDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
