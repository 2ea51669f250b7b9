//! What every request handler shares: the store, the settings, and the
//! per-process caches.

use std::sync::Arc;

use crate::auth::cache::TtlCache;
use crate::configuration::Settings;
use crate::domain::ApiKeyId;
use crate::service::authz::PolicyCache;
use crate::store::Store;
use crate::store::orgs::Org;
use crate::store::api_keys::ApiKey;

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
}

impl AppState {
    pub fn new(store: Store, settings: Arc<Settings>) -> AppState {
        let ttl = settings.auth.token_cache;
        AppState {
            store,
            settings,
            api_keys: TtlCache::new(ttl),
            orgs: TtlCache::new(ttl),
            policies: PolicyCache::default(),
        }
    }
}

impl AppState {
    /// Forget a cached org after changing it (settings, policy version).
    pub fn forget_org(&self, org: &Org) {
        self.orgs.remove(&org.slug);
        self.orgs.remove(&org.id.to_string());
    }
}
