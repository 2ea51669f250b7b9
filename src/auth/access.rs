//! [`OrgAccess`]: the proof that a request may act inside one org — the org
//! named in the path, resolved; the authenticated principal admitted there;
//! the org's compiled policy; and the [`Authority`] the principal acts with.
//! Handlers under `/api/v1/orgs/{org}/…` take it as an extractor and call
//! [`OrgAccess::require`] with the gateway permission their action needs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, web};

use super::{KeyActsAs, Principal, request_id};
use crate::error::AppError;
use crate::service::Ctx;
use crate::service::authz::{Authority, OrgPolicy};
use crate::state::AppState;
use crate::store::orgs::Org;

/// Clone: store operations may run twice (after a broken connection).
#[derive(Clone)]
pub struct OrgAccess {
    pub org: Org,
    pub policy: Arc<OrgPolicy>,
    pub principal: Principal,
    pub authority: Authority,
    pub ctx: Ctx,
}

impl OrgAccess {
    /// Whether `principal` may act in `org` at all. An org the caller
    /// cannot act in answers exactly like one that does not exist (`key` is
    /// what the caller named), so keys cannot enumerate orgs.
    pub fn admit(principal: &Principal, org: &Org, key: &str) -> Result<(), AppError> {
        match principal {
            Principal::InstanceAdmin { .. } => Ok(()),
            Principal::OrgKey { org_id, .. } if *org_id == org.id => Ok(()),
            Principal::OrgKey { .. } => Err(AppError::not_found("organization", key)),
        }
    }

    /// Who acts, for the service layer.
    pub fn acting(&self) -> crate::service::Acting<'_> {
        crate::service::Acting {
            ctx: &self.ctx,
            org: &self.org,
            op: &self.policy,
            authority: &self.authority,
        }
    }

    /// Require a gateway (or any org-level) permission of the acting principal.
    pub fn require(&self, permission: &str) -> Result<(), AppError> {
        self.authority.require(&self.policy.policy, permission)
    }
}

/// Resolve the org (cached briefly), its policy (cached per version) and the
/// principal's authority; one database round trip on a cold cache, none warm.
async fn resolve(
    state: web::Data<AppState>,
    principal: Principal,
    org_key: String,
) -> Result<(Org, Arc<OrgPolicy>, Authority), AppError> {
    let stamps = (state.orgs.stamp(), state.policies.stamp());
    let cached_org = state.orgs.get(&org_key);
    let cached_policy = cached_org.as_ref().and_then(|o| state.policies.get(o));
    let personal = match &principal {
        Principal::OrgKey {
            acts_as: KeyActsAs::User(u),
            ..
        } => Some(u.clone()),
        _ => None,
    };
    let named = org_key.clone();
    let (org, policy, subject) = match (cached_org, cached_policy, &personal) {
        (Some(org), Some(policy), None) => (org, policy, None),
        (cached_org, cached_policy, _) => {
            let principal_for_read = principal.clone();
            let loaded = (cached_org.is_none(), cached_policy.is_none());
            let found = state
                .store
                .read(move |c| -> Result<_, AppError> {
                    let org = match cached_org {
                        Some(o) => o,
                        None => crate::service::orgs::resolve(c, &org_key)?,
                    };
                    // Nothing more is read for an org the key cannot act in.
                    OrgAccess::admit(&principal_for_read, &org, &org_key)?;
                    let policy = match cached_policy {
                        Some(p) => p,
                        None => Arc::new(OrgPolicy::load(c, &org)?),
                    };
                    let subject = match &personal {
                        Some(user) => Some(
                            crate::store::access::subject(c, &org.id, user).map_err(
                                |e| match e {
                                    crate::store::StoreError::NotFound => {
                                        AppError::Unauthenticated(
                                            "the user behind this key no longer exists".to_owned(),
                                        )
                                    }
                                    other => other.into(),
                                },
                            )?,
                        ),
                        None => None,
                    };
                    Ok((org, policy, subject))
                })
                .await?;
            // Only what was read now is cached: a hit never extends an entry.
            let (org, policy, _) = &found;
            if loaded.0 {
                state
                    .orgs
                    .insert_loaded(org.slug.clone(), org.clone(), stamps.0);
                state
                    .orgs
                    .insert_loaded(org.id.to_string(), org.clone(), stamps.0);
            }
            if loaded.1 {
                state.policies.insert_loaded(org, policy.clone(), stamps.1);
            }
            found
        }
    };
    OrgAccess::admit(&principal, &org, &named)?;
    let authority = match (&principal, subject) {
        (Principal::InstanceAdmin { .. }, _) => Authority::Operator,
        (
            Principal::OrgKey {
                name,
                acts_as: KeyActsAs::User(user),
                ..
            },
            Some(subject),
        ) => Authority::of_user(user.clone(), subject, &format!("personal key `{name}`"))?,
        (
            Principal::OrgKey {
                name,
                acts_as: KeyActsAs::Role(role),
                ..
            },
            _,
        ) => Authority::of_role(&policy, role, name)?,
        (Principal::OrgKey { .. }, None) => {
            return Err(AppError::Internal(
                "a personal key's user was not loaded".to_owned(),
            ));
        }
    };
    Ok((org, policy, authority))
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
            let (org, policy, authority) = resolve(state, principal.clone(), org_key).await?;
            let ctx = Ctx::new(principal.actor(), request_id);
            Ok(OrgAccess {
                org,
                policy,
                principal,
                authority,
                ctx,
            })
        })
    }
}
