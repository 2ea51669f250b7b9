//! What every request handler shares: the store, the settings, and the
//! per-process caches.

use std::sync::Arc;

use crate::auth::cache::TtlCache;
use crate::auth::rate::RateLimiter;
use crate::configuration::Settings;
use crate::domain::{ApiKeyId, DirectoryId};
use crate::service::authz::PolicyCache;
use crate::store::Store;
use crate::store::api_keys::ApiKey;
use crate::store::directories::Directory;
use crate::store::orgs::Org;
use crate::store::scim::ScimToken;

pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    /// Verified API keys by id (see `auth::cache`).
    pub api_keys: TtlCache<ApiKeyId, ApiKey>,
    /// Orgs by slug and by id, briefly (same TTL as credentials); local
    /// changes to an org evict it at once.
    pub orgs: TtlCache<String, Org>,
    /// Compiled policies per org and policy version.
    pub policies: PolicyCache,
    /// Verified SCIM tokens by id, and directories by id (same TTL).
    pub scim_tokens: TtlCache<String, ScimToken>,
    pub directories: TtlCache<DirectoryId, Directory>,
    /// Requests per second per SCIM directory, on this node.
    pub scim_rate: RateLimiter<DirectoryId>,
}

impl AppState {
    pub fn new(store: Store, settings: Arc<Settings>) -> AppState {
        let ttl = settings.auth.token_cache;
        let scim_rate = RateLimiter::new(
            settings.scim.rate_limit_per_second,
            settings.scim.rate_limit_burst,
        );
        AppState {
            store,
            settings,
            api_keys: TtlCache::new(ttl),
            orgs: TtlCache::new(ttl),
            policies: PolicyCache::default(),
            scim_tokens: TtlCache::new(ttl),
            directories: TtlCache::new(ttl),
            scim_rate,
        }
    }
}

impl AppState {
    /// Forget a cached org after changing it (settings, policy version).
    pub fn forget_org(&self, org: &Org) {
        self.orgs.remove(&org.slug);
        self.orgs.remove(&org.id.to_string());
    }

    /// Forget a cached directory after changing it (its ceiling).
    pub fn forget_directory(&self, id: &DirectoryId) {
        self.directories.remove(id);
    }
}

/// Middleware for `/api/v1`: after a successful write under
/// `/api/v1/orgs/{org}/…`, forget the cached org so this node's next request
/// sees the new policy version (roles, sets, workspaces, settings) at once.
pub async fn forget_org_after_write(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    // POST …/authz/check only reads: the product's checks keep the cache warm.
    let write = !matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    ) && !req.path().ends_with("/authz/check");
    let org_key = req
        .path()
        .strip_prefix("/api/v1/orgs/")
        .and_then(|rest| rest.split('/').next())
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    let state = req.app_data::<actix_web::web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    if write
        && res.status().is_success()
        && let (Some(key), Some(state)) = (org_key, state)
        && let Some(org) = state.orgs.get(&key)
    {
        state.forget_org(&org);
    }
    Ok(res)
}
