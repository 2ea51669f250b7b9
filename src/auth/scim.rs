//! [`DirectoryAccess`]: the proof that a SCIM request may act on one
//! directory — its bearer token verified (hash compared in constant time,
//! not revoked, issued for this very directory), the org's SCIM path enabled,
//! the directory's rate not exceeded. A token of one directory never reaches
//! another's data: a mismatch is the same 401 as a wrong token.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, web};

use super::{bearer, request_id};
use crate::domain::DirectoryId;
use crate::domain::audit::{Actor, ActorKind};
use crate::error::ScimApiError;
use crate::service::Ctx;
use crate::service::authz::OrgPolicy;
use crate::state::AppState;
use crate::store::directories::Directory;
use crate::store::orgs::Org;
use crate::store::scim::ScimToken;
use crate::token;

/// Clone: store operations may run twice (after a broken connection).
#[derive(Clone)]
pub struct DirectoryAccess {
    pub directory: Directory,
    pub org: Org,
    pub policy: Arc<OrgPolicy>,
    pub ctx: Ctx,
    /// `{scheme}://{host}/scim/v2/{directory}`.
    pub base_url: String,
}

impl DirectoryAccess {
    pub fn scope(&self) -> crate::service::scim::Scope<'_> {
        crate::service::scim::Scope {
            ctx: &self.ctx,
            org: &self.org,
            op: &self.policy,
            directory: &self.directory,
            base_url: &self.base_url,
        }
    }
}

fn refused() -> ScimApiError {
    ScimApiError::Unauthorized(
        "invalid, revoked or foreign bearer token for this directory".to_owned(),
    )
}

async fn resolve(
    state: web::Data<AppState>,
    directory: String,
    presented: Option<String>,
) -> Result<(Directory, Org, Arc<OrgPolicy>), ScimApiError> {
    let presented = presented.ok_or_else(|| {
        ScimApiError::Unauthorized(
            "send the directory's token as `Authorization: Bearer <token>`".to_owned(),
        )
    })?;
    let dir_id: DirectoryId = directory.parse().map_err(|_| refused())?;
    let (token_id, secret) =
        token::parse(token::SCIM_TOKEN_PREFIX, &presented).ok_or_else(refused)?;
    let token_id = token_id.hyphenated().to_string();
    // Stamps before any read: what is loaded below is cached only if no
    // invalidation arrived meanwhile, and expires one TTL after this point.
    let stamps = (
        state.scim_tokens.stamp(),
        state.directories.stamp(),
        state.orgs.stamp(),
        state.policies.stamp(),
    );
    let cached_token = state.scim_tokens.get(&token_id);
    let cached_dir = state.directories.get(&dir_id);
    let cached_org = cached_dir
        .as_ref()
        .and_then(|d| state.orgs.get(&d.org_id.to_string()));
    let cached_policy = cached_org.as_ref().and_then(|o| state.policies.get(o));
    let (tok, dir, org, policy) = match (cached_token, cached_dir, cached_org, cached_policy) {
        (Some(t), Some(d), Some(o), Some(p)) => (Some(t), d, o, p),
        (t, d, o, p) => {
            let loaded = (t.is_none(), d.is_none(), o.is_none(), p.is_none());
            let now = crate::store::now();
            let tid = token_id.clone();
            let did = dir_id.clone();
            // A write (the token's last use is recorded): on SQLite it
            // belongs to the writer.
            let found = state
                .store
                .write(move |c| -> Result<_, ScimApiError> {
                    let tok = match t {
                        Some(t) => Some(t),
                        None => match crate::store::scim::get_token(c, &tid) {
                            Ok(t) => {
                                crate::store::scim::touch_token(c, &tid, now)?;
                                Some(t)
                            }
                            Err(crate::store::StoreError::NotFound) => None,
                            Err(e) => return Err(e.into()),
                        },
                    };
                    let d = match d {
                        Some(d) => d,
                        None => crate::store::directories::by_id(c, &did).map_err(|e| match e {
                            crate::store::StoreError::NotFound => refused(),
                            other => other.into(),
                        })?,
                    };
                    let o = match o {
                        Some(o) => o,
                        None => crate::store::orgs::by_id(c, &d.org_id)?,
                    };
                    let p = match p {
                        Some(p) => p,
                        None => Arc::new(OrgPolicy::load(c, &o)?),
                    };
                    Ok((tok, d, o, p))
                })
                .await?;
            let (tok, dir, org, policy) = &found;
            if let (true, Some(t)) = (loaded.0, tok) {
                state
                    .scim_tokens
                    .insert_loaded(token_id, t.clone(), stamps.0);
            }
            if loaded.1 {
                state
                    .directories
                    .insert_loaded(dir_id.clone(), dir.clone(), stamps.1);
            }
            if loaded.2 {
                state
                    .orgs
                    .insert_loaded(org.id.to_string(), org.clone(), stamps.2);
            }
            if loaded.3 {
                state.policies.insert_loaded(org, policy.clone(), stamps.3);
            }
            found
        }
    };
    let tok: ScimToken = tok.ok_or_else(refused)?;
    if !token::verify(secret, &tok.secret_hash)
        || tok.revoked_at.is_some()
        || tok.directory_id != dir_id.as_str()
    {
        return Err(refused());
    }
    if !org.settings.provisioning.scim {
        return Err(ScimApiError::Forbidden(
            "SCIM provisioning is disabled for this organization (settings.provisioning.scim)"
                .to_owned(),
        ));
    }
    state
        .scim_rate
        .check(&dir_id)
        .map_err(|retry_after_secs| ScimApiError::TooManyRequests { retry_after_secs })?;
    Ok((dir, org, policy))
}

/// The external base URL of a directory: configured, or from the request.
pub fn base_url(state: &AppState, req: &HttpRequest, directory: &str) -> String {
    format!(
        "{}/scim/v2/{directory}",
        crate::routes::public_base(state, req)
    )
}

impl FromRequest for DirectoryAccess {
    type Error = ScimApiError;
    type Future = Pin<Box<dyn Future<Output = Result<DirectoryAccess, ScimApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let directory = req
            .match_info()
            .get("directory")
            .unwrap_or_default()
            .to_owned();
        let presented = bearer(req).map(str::to_owned);
        let request_id = request_id(req);
        let base = state.as_ref().map(|s| base_url(s, req, &directory));
        Box::pin(async move {
            let state = state
                .ok_or_else(|| ScimApiError::Internal("application state missing".to_owned()))?;
            let (directory, org, policy) = resolve(state, directory, presented).await?;
            let ctx = Ctx::new(
                Actor {
                    kind: ActorKind::ScimDirectory,
                    id: Some(directory.id.to_string()),
                    label: directory.name.clone(),
                },
                request_id,
            );
            Ok(DirectoryAccess {
                directory,
                org,
                policy,
                ctx,
                base_url: base.unwrap_or_default(),
            })
        })
    }
}
