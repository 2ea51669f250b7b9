//! Turning a bearer token into a proof of identity.
//!
//! [`Principal`] is what an admin API request acts as: an instance-admin key,
//! or an org-scoped key acting with a role. Extracting it from a request
//! verifies the token (hash compared in constant time) through a short-lived
//! in-process cache so the hot path does no database read.

pub mod access;
pub mod cache;
pub mod rate;
pub mod scim;

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::domain::audit::{Actor, ActorKind};
use crate::domain::{ApiKeyId, OrgId, UserId};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::api_keys::ApiKey;
use crate::telemetry::RequestId;
use crate::token;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// May create orgs and act in any org.
    InstanceAdmin { key_id: ApiKeyId, name: String },
    /// Acts inside one org, with a role or as a user.
    OrgKey {
        key_id: ApiKeyId,
        name: String,
        org_id: OrgId,
        acts_as: KeyActsAs,
    },
}

/// What an org key acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyActsAs {
    /// An org key acting with this role (by key).
    Role(String),
    /// A personal key acting as this user.
    User(UserId),
}

impl Principal {
    /// The principal a stored key stands for. A row that is neither an
    /// instance-admin key (no org, no role, no user) nor an org key with
    /// exactly one of role and user is refused, never promoted (the
    /// database's CHECK constraint keeps such rows out as well).
    pub fn from_key(k: &ApiKey) -> Result<Principal, AppError> {
        let refused = || AppError::Unauthenticated("invalid or revoked API key".to_owned());
        match (k.instance_admin, &k.org_id, &k.role_key, &k.user_id) {
            (true, None, None, None) => Ok(Principal::InstanceAdmin {
                key_id: k.id.clone(),
                name: k.name.clone(),
            }),
            (false, Some(org), role, user) => {
                let acts_as = match (role, user) {
                    (Some(role), None) => KeyActsAs::Role(role.clone()),
                    (None, Some(user)) => KeyActsAs::User(user.clone()),
                    _ => {
                        tracing::error!(key = %k.id, "API key row has both or neither of role and user; refused");
                        return Err(refused());
                    }
                };
                Ok(Principal::OrgKey {
                    key_id: k.id.clone(),
                    name: k.name.clone(),
                    org_id: org.clone(),
                    acts_as,
                })
            }
            _ => {
                tracing::error!(key = %k.id, "API key row is neither an org key nor an instance-admin key; refused");
                Err(refused())
            }
        }
    }

    pub fn actor(&self) -> Actor {
        let (id, name) = match self {
            Principal::InstanceAdmin { key_id, name } | Principal::OrgKey { key_id, name, .. } => {
                (key_id, name)
            }
        };
        Actor {
            kind: ActorKind::ApiKey,
            id: Some(id.to_string()),
            label: name.clone(),
        }
    }

    pub fn is_instance_admin(&self) -> bool {
        matches!(self, Principal::InstanceAdmin { .. })
    }
}

/// The bearer token of a request, if it sent one.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The request id the telemetry middleware assigned.
pub fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|r| r.0.clone())
}

async fn authenticate(
    state: web::Data<AppState>,
    token: Option<String>,
) -> Result<Principal, AppError> {
    let token = token.ok_or_else(|| {
        AppError::Unauthenticated("send an API key as `Authorization: Bearer <key>`".to_owned())
    })?;
    let (id, secret) = token::parse(token::API_KEY_PREFIX, &token)
        .ok_or_else(|| AppError::Unauthenticated("invalid or revoked API key".to_owned()))?;
    let key_id = ApiKeyId::from_trusted(id.hyphenated().to_string());
    let key = match state.api_keys.get(&key_id) {
        Some(k) => Some(k),
        None => {
            let stamp = state.api_keys.stamp();
            let kid = key_id.clone();
            let now = crate::store::now();
            let found = state
                .store
                // Records the key's last use: a write.
                .write(move |c| match crate::store::api_keys::get(c, &kid) {
                    Ok(k) => {
                        crate::store::api_keys::touch(c, &kid, now)?;
                        Ok(Some(k))
                    }
                    Err(crate::store::StoreError::NotFound) => Ok(None),
                    Err(e) => Err(AppError::from(e)),
                })
                .await?;
            if let Some(k) = &found {
                state.api_keys.insert_loaded(key_id, k.clone(), stamp);
            }
            found
        }
    };
    verify(key, secret)
}

impl FromRequest for Principal {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Principal, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req).map(str::to_owned);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::Internal("application state missing".to_owned()))?;
            authenticate(state, token).await
        })
    }
}

/// Check a presented API key against its stored hash (constant time).
/// Errors never say which part was wrong.
pub fn verify(key: Option<ApiKey>, secret: &str) -> Result<Principal, AppError> {
    let refused = || AppError::Unauthenticated("invalid or revoked API key".to_owned());
    let key = key.ok_or_else(refused)?;
    if !token::verify(secret, &key.secret_hash) || key.revoked_at.is_some() {
        return Err(refused());
    }
    Principal::from_key(&key)
}
