//! [`OrgAccess`]: the proof that a request may act inside one org — the org
//! named in the path, resolved, and the authenticated principal allowed there.
//! Handlers under `/api/v1/orgs/{org}/…` take it as an extractor.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};

use super::{Principal, request_id};
use crate::error::AppError;
use crate::service::Ctx;
use crate::state::AppState;
use crate::store::orgs::Org;

pub struct OrgAccess {
    pub org: Org,
    pub principal: Principal,
    pub ctx: Ctx,
}

impl OrgAccess {
    /// Whether `principal` may act in `org` at all.
    pub fn admit(principal: &Principal, org: &Org) -> Result<(), AppError> {
        match principal {
            Principal::InstanceAdmin { .. } => Ok(()),
            Principal::OrgKey { org_id, .. } if *org_id == org.id => Ok(()),
            Principal::OrgKey { .. } => Err(AppError::Forbidden(format!(
                "this API key belongs to another organization, not `{}`",
                org.slug
            ))),
        }
    }
}

impl FromRequest for OrgAccess {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<OrgAccess, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let principal = Principal::from_request(req, payload);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let org_key = req.match_info().get("org").map(str::to_owned);
        let request_id = request_id(req);
        Box::pin(async move {
            let principal = principal.await?;
            let state =
                state.ok_or_else(|| AppError::Internal("application state missing".to_owned()))?;
            let org_key =
                org_key.ok_or_else(|| AppError::Internal("route has no {org}".to_owned()))?;
            let org = state
                .store
                .read(move |c| crate::service::orgs::resolve(c, &org_key))
                .await?;
            OrgAccess::admit(&principal, &org)?;
            let ctx = Ctx::new(principal.actor(), request_id);
            Ok(OrgAccess {
                org,
                principal,
                ctx,
            })
        })
    }
}
