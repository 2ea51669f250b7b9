//! What every request handler shares: the store, the settings, and the
//! per-process caches with their invalidation (SPEC §5): each entry expires
//! `auth.token_cache_secs` after its load (see `auth::cache`); changes made
//! through this node drop the entry at once; on PostgreSQL every node also
//! drops it when the database announces the change (`store::notify`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::auth::cache::{Stamp, TtlCache};
use crate::auth::rate::RateLimiter;
use crate::configuration::Settings;
use crate::domain::{ApiKeyId, DirectoryId, OrgId};
use crate::error::AppError;
use crate::service::authz::OrgPolicy;
use crate::store::Store;
use crate::store::api_keys::ApiKey;
use crate::store::directories::Directory;
use crate::store::notify::{Invalidation, Subscriber};
use crate::store::orgs::Org;
use crate::store::scim::ScimToken;

pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    /// Verified API keys by id (see `auth::cache`).
    pub api_keys: TtlCache<ApiKeyId, ApiKey>,
    /// Orgs by slug and by id.
    pub orgs: TtlCache<String, Org>,
    /// Compiled policies per org, with the `policy_version` they were built from.
    pub policies: PolicyCache,
    /// Verified SCIM tokens by id, and directories by id.
    pub scim_tokens: TtlCache<String, ScimToken>,
    pub directories: TtlCache<DirectoryId, Directory>,
    /// Requests per second per SCIM directory, on this node.
    pub scim_rate: RateLimiter<DirectoryId>,
    /// Whether this node currently receives the database's invalidations
    /// (PostgreSQL only; set by `store::notify::Listener`).
    pub listening: Arc<AtomicBool>,
    /// TXT lookups for domain verification (DNS, or a fixture file).
    pub dns: crate::dns::TxtResolver,
    /// Renders and seals mail for the outbox (links from `server.public_url`).
    pub mail: crate::email::Composer,
    /// Wakes this node's outbox worker after a commit that queued mail.
    pub outbox: crate::email::worker::Waker,
    /// Wakes this node's bulk-invite job worker after a job was queued.
    pub jobs: Arc<tokio::sync::Notify>,
    /// Emailed sign-in requests per address and per client IP, on this node.
    pub login_rate_address: RateLimiter<String>,
    pub login_rate_ip: RateLimiter<String>,
    /// SSO: discovered OIDC providers (metadata, JWKS) and the sweep clock.
    pub sso: crate::service::sso_login::SsoState,
}

/// A bucket of `n` requests refilling over an hour (0: unlimited).
fn per_hour(n: u32) -> RateLimiter<String> {
    RateLimiter::per_period(n, std::time::Duration::from_secs(3600))
}

impl AppState {
    pub fn new(
        store: Store,
        settings: Arc<Settings>,
        outbox: crate::email::worker::Waker,
        jobs: Arc<tokio::sync::Notify>,
    ) -> AppState {
        let ttl = settings.auth.token_cache;
        let scim_rate = RateLimiter::new(
            settings.scim.rate_limit_per_second,
            settings.scim.rate_limit_burst,
        );
        let dns = crate::dns::TxtResolver::new(settings.sso.domain_txt_fixture.clone());
        AppState {
            dns,
            store,
            api_keys: TtlCache::new(ttl),
            orgs: TtlCache::new(ttl),
            policies: PolicyCache(TtlCache::new(ttl)),
            scim_tokens: TtlCache::new(ttl),
            directories: TtlCache::new(ttl),
            scim_rate,
            listening: Arc::new(AtomicBool::new(false)),
            mail: crate::email::Composer::new(&settings),
            outbox,
            jobs,
            login_rate_address: per_hour(settings.session.login_rate_per_address_per_hour),
            login_rate_ip: per_hour(settings.session.login_rate_per_ip_per_hour),
            sso: Default::default(),
            settings,
        }
    }

    /// Whether database notifications reach this node's caches now.
    pub fn receives_invalidations(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }

    /// Forget a cached org after changing it (settings, policy version).
    pub fn forget_org(&self, org: &Org) {
        self.forget_org_id(&org.id);
    }

    /// Forget an org under both its keys, and its compiled policy.
    /// Forget a cached directory after changing it (its ceiling).
    pub fn forget_directory(&self, id: &DirectoryId) {
        self.directories.remove(id);
    }

    pub fn forget_org_id(&self, id: &OrgId) {
        self.orgs.remove_where(|_, o| o.id == *id);
        self.policies.0.remove(id);
    }
}

impl AppState {
    /// The org and its policy as stored now (and cached): for a request that
    /// found the cached policy older than other records it read.
    pub async fn reload_policy(&self, org: &OrgId) -> Result<(Org, Arc<OrgPolicy>), AppError> {
        self.forget_org_id(org);
        let stamps = (self.orgs.stamp(), self.policies.stamp());
        let id = org.clone();
        let (org, policy) = self
            .store
            .read(move |c| -> Result<_, AppError> {
                let org = crate::store::orgs::by_id(c, &id)?;
                let policy = Arc::new(OrgPolicy::load(c, &org)?);
                Ok((org, policy))
            })
            .await?;
        self.orgs
            .insert_loaded(org.slug.clone(), org.clone(), stamps.0);
        self.orgs
            .insert_loaded(org.id.to_string(), org.clone(), stamps.0);
        self.policies.insert_loaded(&org, policy.clone(), stamps.1);
        Ok((org, policy))
    }
}

impl Subscriber for AppState {
    fn invalidate(&self, what: Invalidation) {
        tracing::debug!(?what, "cache invalidation");
        match what {
            Invalidation::ApiKey(id) => self.api_keys.remove(&ApiKeyId::from_trusted(id)),
            Invalidation::ScimToken(id) => self.scim_tokens.remove(&id),
            Invalidation::Directory(id) => self.directories.remove_where(|k, _| k.as_str() == id),
            Invalidation::Org(id) => self.forget_org_id(&OrgId::from_trusted(id)),
        }
    }

    fn reset(&self) {
        self.api_keys.clear();
        self.orgs.clear();
        self.policies.0.clear();
        self.scim_tokens.clear();
        self.directories.clear();
    }
}

/// Compiled policies per org: valid while the org's `policy_version` is
/// unchanged, and never longer than the cache's TTL after their load.
pub struct PolicyCache(TtlCache<OrgId, (i64, Arc<OrgPolicy>)>);

impl PolicyCache {
    pub fn get(&self, org: &Org) -> Option<Arc<OrgPolicy>> {
        self.0
            .get(&org.id)
            .filter(|(v, _)| *v == org.policy_version)
            .map(|(_, p)| p)
    }

    pub fn stamp(&self) -> Stamp {
        self.0.stamp()
    }

    /// Cache a policy compiled from `org` (see [`TtlCache::insert_loaded`]).
    pub fn insert_loaded(&self, org: &Org, policy: Arc<OrgPolicy>, loaded: Stamp) {
        self.0
            .insert_loaded(org.id.clone(), (org.policy_version, policy), loaded);
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
