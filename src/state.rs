//! What every request handler shares: the store, the settings, and the
//! per-process caches.

use std::sync::Arc;

use crate::auth::cache::TtlCache;
use crate::configuration::Settings;
use crate::domain::ApiKeyId;
use crate::store::Store;
use crate::store::api_keys::ApiKey;

pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    /// Verified API keys by id (see `auth::cache`).
    pub api_keys: TtlCache<ApiKeyId, ApiKey>,
}

impl AppState {
    pub fn new(store: Store, settings: Arc<Settings>) -> AppState {
        let ttl = settings.auth.token_cache;
        AppState {
            store,
            settings,
            api_keys: TtlCache::new(ttl),
        }
    }
}
