//! Single sign-on into rollcall (issue "8 of 11" items 2–6): a login starts
//! at `/sso/start` (home-realm discovery by the email's verified domain) or
//! `/sso/{org}/start`, leaves a pre-login record in the database, goes to
//! the IdP, and comes back to the OIDC callback or the SAML ACS. This module
//! owns that round trip:
//!
//! - [`begin`]: choose the connection, check `return_to` against the org's
//!   `allowed_return_urls`, build the authorization request (PKCE S256,
//!   state, nonce) or AuthnRequest, store the pre-login record and a browser
//!   binding;
//! - [`oidc_callback`] / [`saml_acs`]: consume the record (once, whatever
//!   happens next), run the protocol checks of `crate::sso` (CPU work and
//!   network calls outside any transaction), then [`finish`];
//! - [`finish`]: in one transaction — the SAML assertion id enters the
//!   replay cache, the provisioning decision (`domain::provisioning::decide`)
//!   is taken on the facts loaded here and applied (link, accept the invite,
//!   create the SSO-default user), the IdP's groups go through the role
//!   sources, a session records how the user signed in, and an audit event
//!   records the decision and its reason.
//!
//! Nothing here trusts an email by itself: identities are keyed by (org,
//! issuer, subject); an email links or creates only when trusted (see
//! `domain::provisioning::trusted_email`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{NaiveDateTime, Utc};
use secrecy::SecretString;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::configuration::SessionSettings;
use crate::domain::audit::{Actor, ActorKind};
use crate::domain::authz::{
    self, BindingSource, VisibilityMode, WorkspaceAccess, WorkspaceId, WorkspaceList,
};
use crate::domain::provisioning::{
    self, Asserted, Facts, Known, Outcome, Refusal, WorkspaceChoice,
};
use crate::domain::{Email, UserId, UserName, UserSource, UserStatus};
use crate::error::AppError;
use crate::service::Ctx;
use crate::service::authz::OrgPolicy;
use crate::sso::connection::{ConnectionSettings, SpUrls, open_secret};
use crate::sso::oidc::{CallbackParams, OidcError, OidcIdentity, OidcProvider, PendingLogin};
use crate::sso::saml::{self, Expected, ReplayCache, ReplayCacheError, SamlRejection};
use crate::state::AppState;
use crate::store::idp_connections::IdpConnection;
use crate::store::orgs::Org;
use crate::store::sessions as stored_sessions;
use crate::store::sso_logins::{self, NewLogin, SsoLogin};
use crate::store::users::{User, UserFields};
use crate::store::{self, DbConnection, audit};

/// The pre-login purpose of an ordinary sign-in.
pub const PURPOSE_LOGIN: &str = "login";
/// The session step an SSO-default user finishes first.
pub const PICK_WORKSPACES: &str = "pick_workspaces";
/// How long a discovered OIDC provider (metadata, JWKS) is reused.
const DISCOVERY_TTL: StdDuration = StdDuration::from_secs(3600);

/// Why a login did not end in a session. Each is a page for the person;
/// [`SsoError::is_attack`] marks what a well-behaved IdP and browser never
/// produce.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("this sign-in connection does not exist or is disabled")]
    UnknownConnection,
    #[error("single sign-on is not set up for {0}")]
    NoConnectionForDomain(String),
    #[error("that email address is not valid")]
    BadEmail,
    #[error("the return address is not one this organization allows")]
    ReturnToRefused,
    #[error("this sign-in has expired or was already used; please start again")]
    LoginUnknown,
    #[error("this sign-in was started in another browser; please start again here")]
    BrowserMismatch,
    #[error("the sign-in connection is misconfigured: {0}")]
    Misconfigured(String),
    #[error("the identity provider could not be reached or answered wrongly: {0}")]
    Oidc(OidcError),
    #[error("the identity provider's response was refused: {0}")]
    Saml(SamlRejection),
    #[error("the identity provider's logout request was refused: {0}")]
    Logout(crate::sso::saml::logout::LogoutRejection),
    #[error("{}", .0.message())]
    Refused(Refusal),
    #[error(transparent)]
    App(#[from] AppError),
}

impl SsoError {
    pub fn is_attack(&self) -> bool {
        match self {
            SsoError::Oidc(e) => e.is_attack(),
            SsoError::Saml(e) => e.is_attack(),
            SsoError::Logout(e) => e.is_attack(),
            SsoError::BrowserMismatch => true,
            _ => false,
        }
    }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_token() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Who acts when a connection does something on its own (a login before
/// anyone is known, an IdP's logout, a refused response).
fn connection_ctx(connection_id: &str, now: NaiveDateTime) -> Ctx {
    Ctx {
        actor: Actor {
            kind: ActorKind::User,
            id: None,
            label: format!("sso:{connection_id}"),
        },
        request_id: None,
        now,
    }
}

/// A connection ready for a login.
#[derive(Clone)]
pub struct Loaded {
    pub org: Org,
    pub record: IdpConnection,
    pub settings: ConnectionSettings,
}

fn loaded(conn: &mut DbConnection, record: IdpConnection) -> Result<Option<Loaded>, AppError> {
    if !record.enabled {
        return Ok(None);
    }
    let Ok(settings) = serde_json::from_str::<ConnectionSettings>(&record.config) else {
        tracing::error!(connection = %record.id, "stored connection settings do not parse");
        return Ok(None);
    };
    let org = store::orgs::by_id(
        conn,
        &crate::domain::OrgId::from_trusted(record.org_id.clone()),
    )?;
    Ok(Some(Loaded {
        org,
        record,
        settings,
    }))
}

/// An enabled connection by id.
pub fn connection(conn: &mut DbConnection, id: &str) -> Result<Option<Loaded>, AppError> {
    match store::idp_connections::find(conn, id)? {
        Some(record) => loaded(conn, record),
        None => Ok(None),
    }
}

/// The connection a login of `org` goes through: the one named, else the
/// first enabled one trusted for the hint's domain, else the first enabled.
pub fn choose(
    conn: &mut DbConnection,
    org: &Org,
    named: Option<&str>,
    hint_domain: Option<&str>,
) -> Result<Option<Loaded>, AppError> {
    let all = store::idp_connections::list(conn, &org.id)?;
    let pick = match named {
        Some(id) => all.into_iter().find(|c| c.id == id && c.enabled),
        None => {
            let enabled: Vec<IdpConnection> = all.into_iter().filter(|c| c.enabled).collect();
            let trusted = hint_domain.and_then(|d| {
                enabled
                    .iter()
                    .position(|c| c.trusted_domains().iter().any(|t| t == d))
            });
            match trusted {
                Some(i) => enabled.into_iter().nth(i),
                None => enabled.into_iter().next(),
            }
        }
    };
    match pick {
        Some(record) => loaded(conn, record),
        None => Ok(None),
    }
}

/// The enabled connection of `org` trusted for `email`'s domain, if any:
/// where an invitee for that address accepts (SPEC §3), and what home-realm
/// discovery picks within the org.
pub fn trusted_for(
    conn: &mut DbConnection,
    org: &Org,
    email: &str,
) -> Result<Option<Loaded>, AppError> {
    let Some((_, domain)) = email.trim().rsplit_once('@') else {
        return Ok(None);
    };
    let domain = domain.to_lowercase();
    Ok(choose(conn, org, None, Some(&domain))?
        .filter(|l| l.record.trusted_domains().contains(&domain)))
}

/// Home-realm discovery: the org that verified the email's domain, and its
/// connection for that domain.
pub fn for_email(
    conn: &mut DbConnection,
    email: &str,
) -> Result<Result<Loaded, SsoError>, AppError> {
    let Ok(email) = Email::parse(email.trim()) else {
        return Ok(Err(SsoError::BadEmail));
    };
    let domain = email.domain().to_owned();
    let Some(org_id) = store::domains::verified_owner(conn, &domain)? else {
        return Ok(Err(SsoError::NoConnectionForDomain(domain)));
    };
    let org = store::orgs::by_id(conn, &org_id)?;
    Ok(choose(conn, &org, None, Some(&domain))?.ok_or(SsoError::NoConnectionForDomain(domain)))
}

/// This node's SSO state: discovered OIDC providers, and when expired
/// pre-login records and replay-cache rows were last swept.
#[derive(Default)]
pub struct SsoState {
    pub providers: OidcProviders,
    last_sweep: std::sync::atomic::AtomicI64,
}

/// Expired pre-login records and assertion ids are deleted by the next
/// login start after this many seconds (on any node).
const SWEEP_EVERY_SECS: i64 = 300;

impl SsoState {
    /// Whether this start should also sweep (at most once per interval per node).
    fn sweep_due(&self, now: NaiveDateTime) -> bool {
        use std::sync::atomic::Ordering;
        let t = now.and_utc().timestamp();
        let last = self.last_sweep.load(Ordering::Relaxed);
        t - last >= SWEEP_EVERY_SECS
            && self
                .last_sweep
                .compare_exchange(last, t, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// A provider as discovered: the connection's `updated_at` it was built
/// from, when, and the provider.
type Discovered = (NaiveDateTime, Instant, Arc<OidcProvider>);

/// Discovered OIDC providers per connection (metadata and JWKS cache),
/// rebuilt after [`DISCOVERY_TTL`] or when the connection changed.
#[derive(Default)]
pub struct OidcProviders {
    cache: Mutex<HashMap<String, Discovered>>,
}

impl OidcProviders {
    pub async fn get(
        &self,
        state: &AppState,
        l: &Loaded,
        base: &str,
    ) -> Result<Arc<OidcProvider>, SsoError> {
        let ConnectionSettings::Oidc(settings) = &l.settings else {
            return Err(SsoError::Misconfigured("not an OIDC connection".into()));
        };
        if let Some((updated, at, p)) = self.cache.lock().expect("provider cache").get(&l.record.id)
            && *updated == l.record.updated_at
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(p.clone());
        }
        let secret = l
            .record
            .secret
            .as_deref()
            .and_then(|s| open_secret(&state.settings.sso.secret_key, &l.record.id, s))
            .ok_or_else(|| {
                SsoError::Misconfigured(
                    "the client secret cannot be read with this gateway's sso.secret_key".into(),
                )
            })?;
        let config = settings
            .runtime(
                secret,
                &SpUrls::new(base, &l.record.id),
                state.settings.sso.network,
            )
            .map_err(|e| SsoError::Misconfigured(e.to_string()))?;
        let provider = Arc::new(
            OidcProvider::discover(config)
                .await
                .map_err(SsoError::Oidc)?,
        );
        self.cache.lock().expect("provider cache").insert(
            l.record.id.clone(),
            (l.record.updated_at, Instant::now(), provider.clone()),
        );
        Ok(provider)
    }
}

/// Where to send the browser, and the cookie binding the login to it.
pub struct Begun {
    pub redirect: String,
    /// The state (OIDC) or RelayState (SAML) that comes back; names the
    /// binding cookie (see [`binding_suffix`]).
    pub key: String,
    pub browser_token: String,
}

/// A short name for the login keyed by `value` (its state / RelayState),
/// for the browser-binding cookie's name.
pub fn binding_suffix(value: &str) -> String {
    sha256_hex(value)[..16].to_owned()
}

/// Starts a login through `l`: checks `return_to`, builds the request and
/// stores the pre-login record.
pub async fn begin(
    state: &AppState,
    l: Loaded,
    base: &str,
    return_to: Option<String>,
    login_hint: Option<String>,
) -> Result<Begun, SsoError> {
    if let Some(r) = &return_to
        && !l.org.settings.return_allowed(r)
    {
        return Err(SsoError::ReturnToRefused);
    }
    let now = Utc::now();
    let browser_token = random_token();
    let urls = SpUrls::new(base, &l.record.id);
    let (redirect, key, request_id, nonce, verifier) = match &l.settings {
        ConnectionSettings::Oidc(_) => {
            let provider = state.sso.providers.get(state, &l, base).await?;
            let start = provider.authorization_start();
            let mut url = start.url.clone();
            if let Some(hint) = login_hint.as_deref().filter(|h| !h.is_empty()) {
                url.query_pairs_mut().append_pair("login_hint", hint);
            }
            (
                url.to_string(),
                start.state.clone(),
                None,
                Some(start.nonce.clone()),
                Some(start.pkce_verifier.clone()),
            )
        }
        ConnectionSettings::Saml(s) => {
            let config = s
                .runtime(&urls)
                .map_err(|e| SsoError::Misconfigured(e.to_string()))?;
            let relay = random_token();
            let authn = config
                .authn_request_redirect(&relay, now)
                .map_err(|e| SsoError::Misconfigured(e.to_string()))?;
            (
                authn.url.to_string(),
                relay,
                Some(authn.request_id),
                None,
                None,
            )
        }
    };
    let ttl = chrono::Duration::from_std(state.settings.sso.login_ttl)
        .unwrap_or(chrono::Duration::minutes(10));
    let browser_hash = sha256_hex(&browser_token);
    let id = sha256_hex(&key);
    let org_id = l.org.id.clone();
    let conn_id = l.record.id.clone();
    let now = now.naive_utc();
    let sweep = state.sso.sweep_due(now);
    state
        .store
        .write(move |c| {
            if sweep {
                let n = sso_logins::sweep(c, now)?;
                tracing::debug!(
                    deleted = n,
                    "swept expired SSO pre-login records and assertion ids"
                );
            }
            sso_logins::insert(
                c,
                NewLogin {
                    id: &id,
                    org: &org_id,
                    connection_id: &conn_id,
                    request_id: request_id.as_deref(),
                    nonce: nonce.as_deref(),
                    pkce_verifier: verifier.as_deref(),
                    browser_hash: Some(&browser_hash),
                    return_to: return_to.as_deref(),
                    purpose: PURPOSE_LOGIN,
                    expires_at: now + ttl,
                },
                now,
            )
            .map_err(AppError::from)
        })
        .await?;
    Ok(Begun {
        redirect,
        key,
        browser_token,
    })
}

/// Takes the pre-login record (consumed whatever happens next) and checks
/// that it is unexpired and belongs to this browser. `browser` is the
/// binding cookie when the browser sent it; a record is bound only when
/// `bound` (the SAML ACS is a cross-site POST that brings the cookie only
/// over HTTPS with `SameSite=None`).
async fn take(
    state: &AppState,
    connection_id: &str,
    key: String,
    browser: Option<String>,
    bound: bool,
) -> Result<(Loaded, SsoLogin), SsoError> {
    let conn_id = connection_id.to_owned();
    let now = crate::store::now();
    let (record, loaded) = state
        .store
        .write(move |c| {
            let record = sso_logins::consume(c, &conn_id, &key, now)?;
            let loaded = connection(c, &conn_id)?;
            Ok::<_, AppError>((record, loaded))
        })
        .await?;
    let loaded = loaded.ok_or(SsoError::UnknownConnection)?;
    let record = record.ok_or(SsoError::LoginUnknown)?;
    if record.expires_at <= now {
        return Err(SsoError::LoginUnknown);
    }
    if bound && let Some(expected) = &record.browser_hash {
        let presented = browser.map(|b| sha256_hex(&b)).unwrap_or_default();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            presented.as_bytes(),
            expected.as_bytes(),
        )) {
            return Err(SsoError::BrowserMismatch);
        }
    }
    Ok((loaded, record))
}

/// What a verified login asserts, for [`finish`].
#[derive(Debug, Clone)]
pub struct LoginAssertion {
    pub method: &'static str,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub groups: Vec<String>,
    /// SAML: the assertion id and until when it stays in the replay cache.
    pub assertion: Option<(String, NaiveDateTime)>,
    pub name_id: Option<String>,
    pub session_index: Option<String>,
}

impl From<OidcIdentity> for LoginAssertion {
    fn from(i: OidcIdentity) -> Self {
        LoginAssertion {
            method: "oidc",
            issuer: i.issuer,
            subject: i.subject,
            email: i.email,
            email_verified: i.email_verified,
            given_name: i.given_name,
            family_name: i.family_name,
            display_name: i.name,
            groups: i.groups,
            assertion: None,
            name_id: None,
            session_index: None,
        }
    }
}

/// Where the browser goes after a successful login.
pub struct SignedIn {
    pub cookie: SecretString,
    pub user: User,
    /// `/sso/welcome` while the workspace pick is pending, else `return_to`
    /// or `/account`.
    pub next: String,
}

/// The OIDC redirect back to us.
pub async fn oidc_callback(
    state: &AppState,
    connection_id: &str,
    params: CallbackParams,
    browser: Option<String>,
    base: &str,
) -> Result<SignedIn, SsoError> {
    let key = sha256_hex(params.state.as_deref().unwrap_or_default());
    let (l, record) = take(state, connection_id, key, browser, true).await?;
    let provider = state.sso.providers.get(state, &l, base).await?;
    let pending = PendingLogin {
        state: params.state.clone().unwrap_or_default(),
        nonce: record.nonce.clone().unwrap_or_default(),
        pkce_verifier: record.pkce_verifier.clone().unwrap_or_default(),
    };
    let identity = provider
        .callback(&params, &pending, Utc::now())
        .await
        .map_err(SsoError::Oidc)?;
    finish_in_store(state, l, identity.into(), record.return_to).await
}

/// Collects the assertion id the verifier reports; the transaction of
/// [`finish`] inserts it, so a replay is refused on every node and the
/// cache entry commits with the login.
#[derive(Default)]
struct Deferred(Mutex<Option<(String, String, chrono::DateTime<Utc>)>>);

impl ReplayCache for Deferred {
    fn first_use(
        &self,
        issuer: &str,
        assertion_id: &str,
        expires_at: chrono::DateTime<Utc>,
    ) -> Result<bool, ReplayCacheError> {
        *self.0.lock().expect("deferred replay") =
            Some((issuer.to_owned(), assertion_id.to_owned(), expires_at));
        Ok(true)
    }
}

/// The SAML ACS (HTTP-POST binding). A response with a RelayState must
/// match a pre-login record (whose request id must come back as
/// InResponseTo); one without is IdP-initiated, accepted only where the
/// connection allows it.
pub async fn saml_acs(
    state: &AppState,
    connection_id: &str,
    saml_response: String,
    relay_state: Option<String>,
    browser: Option<String>,
    base: &str,
) -> Result<SignedIn, SsoError> {
    let bound = state.settings.session.cookie_secure;
    let (l, record) = match relay_state.filter(|r| !r.is_empty()) {
        Some(relay) => {
            let (l, r) = take(state, connection_id, sha256_hex(&relay), browser, bound).await?;
            (l, Some(r))
        }
        None => {
            let id = connection_id.to_owned();
            let l = state
                .store
                .read(move |c| connection(c, &id))
                .await?
                .ok_or(SsoError::UnknownConnection)?;
            (l, None)
        }
    };
    let ConnectionSettings::Saml(settings) = &l.settings else {
        return Err(SsoError::UnknownConnection);
    };
    let config = settings
        .runtime(&SpUrls::new(base, &l.record.id))
        .map_err(|e| SsoError::Misconfigured(e.to_string()))?;
    let request_id = record.as_ref().and_then(|r| r.request_id.clone());
    let verified = actix_web::rt::task::spawn_blocking(move || {
        let replay = Deferred::default();
        let v = saml::verify_response(
            &config,
            &saml_response,
            Expected {
                request_id: request_id.as_deref(),
                now: Utc::now(),
            },
            &replay,
        )?;
        let seen = replay.0.into_inner().expect("deferred replay");
        Ok::<_, SamlRejection>((v, seen))
    })
    .await
    .map_err(|e| AppError::Internal(format!("SAML verification task: {e}")))?
    .map_err(SsoError::Saml)?;
    let (v, seen) = verified;
    let assertion = LoginAssertion {
        method: "saml",
        issuer: v.issuer.clone(),
        subject: v.subject.clone(),
        email: v.attributes.email.clone(),
        // SAML asserts no verification flag: trust rests on the domain
        // being verified for the org and trusted for this connection.
        email_verified: true,
        given_name: v.attributes.given_name.clone(),
        family_name: v.attributes.family_name.clone(),
        display_name: v.attributes.display_name.clone(),
        groups: v.attributes.groups.clone(),
        assertion: seen.map(|(_, id, exp)| (id, exp.naive_utc())),
        name_id: v.name_id.clone(),
        session_index: v.session_index.clone(),
    };
    finish_in_store(state, l, assertion, record.and_then(|r| r.return_to)).await
}

async fn finish_in_store(
    state: &AppState,
    l: Loaded,
    a: LoginAssertion,
    return_to: Option<String>,
) -> Result<SignedIn, SsoError> {
    let settings = state.settings.session.clone();
    // The org's compiled policy from this node's cache (valid for the
    // `policy_version` of the org row `take` just read), as the API's
    // extractors use it: loading it costs about eight statements per login.
    // A login changes no role, set, workspace or org setting (nothing here
    // bumps `policy_version`), so the org and its policy stay cached for the
    // next login; they used to be forgotten after each one.
    let op = match state.policies.get(&l.org) {
        Some(op) => op,
        None => {
            let loaded = state.policies.stamp();
            let org = l.org.clone();
            let op = Arc::new(state.store.read(move |c| OrgPolicy::load(c, &org)).await?);
            state.policies.insert_loaded(&l.org, op.clone(), loaded);
            op
        }
    };
    state
        .store
        .write(move |c| finish(c, &l, &op, a, return_to, &settings, crate::store::now()))
        .await?
}

fn known(
    conn: &mut DbConnection,
    l: &Loaded,
    op: &OrgPolicy,
    user: &User,
) -> Result<Known, AppError> {
    let owner = crate::service::owners::is_owner(conn, &user.id)?;
    let within_creator_limits = l.record.owner_approved
        || match l.record.created_by.as_deref() {
            Some(creator)
                if !creator.is_empty() && !creator.contains(':') && creator != "operator" =>
            {
                let creator = UserId::from_trusted(creator.to_owned());
                let granter = store::access::subject(conn, &l.org.id, &creator)?;
                let target = store::access::subject(conn, &l.org.id, &user.id)?;
                authz::can_act_for(&op.policy, &granter, &target).is_ok()
            }
            Some("operator") => true,
            _ => false,
        };
    Ok(Known {
        id: user.id.clone(),
        status: user.status,
        owner,
        within_creator_limits,
    })
}

/// Decide and apply, in the caller's transaction (see the module docs);
/// `op` is the org's compiled policy for `l.org`'s `policy_version`.
pub fn finish(
    conn: &mut DbConnection,
    l: &Loaded,
    op: &OrgPolicy,
    a: LoginAssertion,
    return_to: Option<String>,
    settings: &SessionSettings,
    now: NaiveDateTime,
) -> Result<Result<SignedIn, SsoError>, AppError> {
    let org = &l.org;
    if let Some((id, expires)) = &a.assertion
        && !sso_logins::first_use_of_assertion(conn, &a.issuer, id, *expires)?
    {
        tracing::warn!(connection = %l.record.id, issuer = %a.issuer, "SAML assertion replayed (attack?)");
        return Ok(Err(SsoError::Saml(SamlRejection::Replayed)));
    }
    let email = a.email.as_deref().and_then(|e| Email::parse(e.trim()).ok());

    let trusted_domains = l.record.trusted_domains();
    let identity = store::identities::find(conn, &org.id, &a.issuer, &a.subject)?;
    let linked_user = match &identity {
        Some(i) => Some(store::users::get(
            conn,
            &org.id,
            &UserId::from_trusted(i.user_id.clone()),
        )?),
        None => None,
    };
    let linked = match &linked_user {
        Some(user) => Some(known(conn, l, op, user)?),
        None => None,
    };
    // A linked identity decides without the email (step 1), so the
    // verified domains are read only for the other steps.
    let verified_domains = if linked.is_some() {
        Vec::new()
    } else {
        crate::service::domains::verified(conn, &org.id)?
    };
    let mut facts = Facts {
        asserted: Asserted {
            email: email.clone(),
            email_verified: a.email_verified,
        },
        connection: provisioning::Connection {
            trusted_domains: &trusted_domains,
            owner_approved: l.record.owner_approved,
        },
        org: provisioning::Org {
            verified_domains: &verified_domains,
            sso_default: org.settings.provisioning.sso_default,
            allowed_email_domains: &org.settings.allowed_email_domains,
            workspace_self_select: org.settings.workspace_self_select,
        },
        linked,
        invited: None,
        same_email: None,
    };
    if facts.linked.is_none()
        && let Ok(e) = provisioning::trusted_email(&facts)
    {
        let canonical = e.canonical().to_owned();
        for (id, status) in store::invites::users_with_email(conn, &org.id, &canonical)? {
            let user = store::users::get(conn, &org.id, &UserId::from_trusted(id))?;
            if status == UserStatus::Invited.as_str() {
                let pending = store::invites::pending_for(conn, &user.id)?
                    .is_some_and(|i| i.expires_at > now);
                if pending && facts.invited.is_none() {
                    facts.invited = Some(known(conn, l, op, &user)?);
                }
            } else if status != UserStatus::Deprovisioned.as_str() && facts.same_email.is_none() {
                facts.same_email = Some(known(conn, l, op, &user)?);
            }
        }
    }
    let outcome = provisioning::decide(&facts);
    let ctx = connection_ctx(&l.record.id, now);
    let decision = json!({
        "connection": l.record.id,
        "method": a.method,
        "issuer": a.issuer,
        "subject": a.subject,
        "email": email.as_ref().map(Email::as_str),
        "decision": outcome,
        "reason": outcome.reason(),
    });
    let (user, pending_pick) = match &outcome {
        Outcome::Refused(r) => {
            audit::insert(
                conn,
                &[ctx.event(
                    Some(&org.id),
                    "sso.login_refused",
                    "idp_connection",
                    Some(l.record.id.clone()),
                    None,
                    Some(decision),
                )],
            )?;
            return Ok(Err(SsoError::Refused(r.clone())));
        }
        Outcome::SignIn { user } => match linked_user {
            Some(u) if u.id == *user => (u, false),
            _ => (store::users::get(conn, &org.id, user)?, false),
        },
        Outcome::AcceptInvite { user } => {
            let user = activate_invited(conn, &ctx, org, user)?;
            (user, false)
        }
        Outcome::Link { user } => (store::users::get(conn, &org.id, user)?, false),
        Outcome::CreateDefault { workspaces } => {
            let Some(email) = email.as_ref() else {
                return Ok(Err(SsoError::Refused(Refusal::UntrustedEmail {
                    why: "the identity provider sent no email",
                })));
            };
            let user = create_default(conn, &ctx, org, op, email, &a, *workspaces)?;
            (user, *workspaces == WorkspaceChoice::SelfSelect)
        }
    };
    let identity_id = match identity {
        Some(i) => {
            store::identities::seen(conn, &i.id, email.as_ref().map(Email::as_str), now)?;
            i.id
        }
        None => {
            let id = uuid::Uuid::now_v7().to_string();
            store::identities::insert(
                conn,
                &id,
                &org.id,
                &user.id,
                &l.record.id,
                &a.issuer,
                &a.subject,
                email.as_ref().map(Email::as_str),
                now,
            )?;
            id
        }
    };
    // The IdP's groups go through the role sources (`sso_claim` mappings of
    // this connection, resolved together with the user's SCIM groups).
    crate::service::role_sources::apply_login(
        conn,
        &ctx,
        org,
        op,
        &user.id,
        &identity_id,
        &l.record.id,
        &a.groups,
    )?;
    let ctx = Ctx {
        actor: Actor {
            kind: ActorKind::User,
            id: Some(user.id.to_string()),
            label: user.user_name.clone(),
        },
        ..ctx
    };
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "sso.login",
            "user",
            Some(user.id.to_string()),
            None,
            Some(decision),
        )],
    )?;
    let cookie = crate::service::sessions::open_with(
        conn,
        org,
        &user,
        settings,
        now,
        crate::service::sessions::SignedInBy {
            method: a.method,
            connection_id: Some(&l.record.id),
            name_id: a.name_id.as_deref(),
            session_index: a.session_index.as_deref(),
            pending: pending_pick.then_some(PICK_WORKSPACES),
        },
    )?;
    let next = if pending_pick {
        match &return_to {
            Some(r) => format!(
                "/sso/welcome?return_to={}",
                url::form_urlencoded::byte_serialize(r.as_bytes()).collect::<String>()
            ),
            None => "/sso/welcome".to_owned(),
        }
    } else {
        return_to.unwrap_or_else(|| "/account".to_owned())
    };
    Ok(Ok(SignedIn { cookie, user, next }))
}

/// Step 2: the invited user becomes active with the invite's role and
/// workspaces (bound when invited); the invite closes as accepted.
fn activate_invited(
    conn: &mut DbConnection,
    ctx: &Ctx,
    org: &Org,
    user: &UserId,
) -> Result<User, AppError> {
    let user = crate::service::invites::activate(conn, ctx, org, user)?;
    crate::service::invites::close_on_activation(conn, ctx, &user, "sso")?;
    Ok(user)
}

/// Step 4: a new active user (source `sso`) with the org's default role;
/// workspaces from `default_workspaces` unless they pick on first login.
fn create_default(
    conn: &mut DbConnection,
    ctx: &Ctx,
    org: &Org,
    op: &OrgPolicy,
    email: &Email,
    a: &LoginAssertion,
    choice: WorkspaceChoice,
) -> Result<User, AppError> {
    let mut fields = UserFields {
        user_name: UserName::parse(email.as_str())?,
        email: Some(email.clone()),
        given_name: a.given_name.clone().filter(|s| !s.trim().is_empty()),
        family_name: a.family_name.clone().filter(|s| !s.trim().is_empty()),
        display_name: a.display_name.clone().filter(|s| !s.trim().is_empty()),
        external_id: None,
        directory_id: None,
        status: UserStatus::Active,
        source: UserSource::Sso,
        scim: serde_json::Value::Null,
    };
    fields.scim = crate::service::users::synthesized_scim(&fields);
    let user = store::users::insert(conn, &org.id, &fields, ctx.now).map_err(|e| match e {
        store::StoreError::Unique(f) => {
            crate::service::users::unique_error(&f, email.as_str(), Some(email.as_str()))
        }
        other => other.into(),
    })?;
    let role = crate::service::role_sources::default_role(org, op);
    let workspaces = match choice {
        // Until they pick, an empty restriction: nothing is visible through
        // the list (roles with `yes` visibility see everything anyway).
        WorkspaceChoice::SelfSelect => Some(BTreeSet::new()),
        WorkspaceChoice::OrgDefault if org.settings.default_workspaces.is_empty() => None,
        WorkspaceChoice::OrgDefault => Some(
            org.settings
                .default_workspaces
                .iter()
                .filter_map(|w| op.workspace(w).ok())
                .map(|w| WorkspaceId::new(w.id.as_str()))
                .collect(),
        ),
    };
    crate::service::users::apply_grants(
        conn,
        org,
        &user.id,
        role.as_ref().map(|r| (r, BindingSource::Default)),
        workspaces,
        ctx.now,
    )?;
    store::access::refresh(conn, std::slice::from_ref(&user.id))?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "user.created",
            "user",
            Some(user.id.to_string()),
            None,
            Some({
                let mut v = crate::service::users::view(&user);
                v["role"] = json!(
                    role.as_ref()
                        .and_then(|r| op.policy.role(r.as_str()))
                        .map(|r| r.key.as_str())
                );
                v["via"] = json!("sso_default");
                v
            }),
        )],
    )?;
    store::users::get(conn, &org.id, &user.id).map_err(Into::into)
}

/// The workspaces offered on the first-login page: all of the org's.
pub fn workspace_choices(
    conn: &mut DbConnection,
    org: &Org,
) -> Result<Vec<(String, String)>, AppError> {
    Ok(store::workspaces::list(conn, &org.id)?
        .into_iter()
        .map(|w| (w.id.as_str().to_owned(), w.name))
        .collect())
}

/// The first-login pick (SPEC §2): for roles with `optional` (or `no`)
/// visibility the pick becomes the user's workspace restriction; for `yes`
/// roles, their home workspace. Ends the session's pending step.
pub fn pick_workspaces(
    conn: &mut DbConnection,
    session: &stored_sessions::Session,
    picks: &[String],
    now: NaiveDateTime,
) -> Result<Result<(), String>, AppError> {
    if session.pending.as_deref() != Some(PICK_WORKSPACES) {
        return Ok(Err("there is nothing to pick".into()));
    }
    let org = store::orgs::by_id(
        conn,
        &crate::domain::OrgId::from_trusted(session.org_id.clone()),
    )?;
    let op = OrgPolicy::load(conn, &org)?;
    let mut chosen = BTreeSet::new();
    for p in picks {
        match op.workspace(p) {
            Ok(w) => {
                chosen.insert(WorkspaceId::new(w.id.as_str()));
            }
            Err(_) => return Ok(Err(format!("unknown workspace `{p}`"))),
        }
    }
    if chosen.is_empty() {
        return Ok(Err("pick at least one workspace".into()));
    }
    let user_id = UserId::from_trusted(session.user_id.clone());
    let bindings = store::access::org_bindings_of(conn, std::slice::from_ref(&user_id))?;
    let visibility = bindings
        .get(user_id.as_str())
        .and_then(|b| op.policy.role(b.binding.role.as_str()))
        .map_or(VisibilityMode::No, |r| r.visibility);
    let before = store::access::workspace_access(conn, &user_id)?;
    let after = match visibility {
        VisibilityMode::Yes => WorkspaceAccess {
            list: before.list.clone(),
            home: chosen.iter().next().cloned(),
        },
        VisibilityMode::Optional | VisibilityMode::No => WorkspaceAccess {
            list: WorkspaceList::Only(chosen),
            home: before.home.clone(),
        },
    };
    store::access::put_workspace_access(conn, &user_id, &after)?;
    store::access::refresh(conn, std::slice::from_ref(&user_id))?;
    stored_sessions::clear_pending(conn, &session.id)?;
    let ctx = Ctx {
        actor: Actor {
            kind: ActorKind::User,
            id: Some(user_id.to_string()),
            label: user_id.to_string(),
        },
        request_id: None,
        now,
    };
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "user.workspaces_changed",
            "user",
            Some(user_id.to_string()),
            Some(serde_json::to_value(&before).unwrap_or_default()),
            Some(json!({"access": after, "via": "first_login_pick"})),
        )],
    )?;
    Ok(Ok(()))
}

/// IdP-initiated SAML Single Logout (HTTP-Redirect): verifies the signed
/// `LogoutRequest` in `raw_query`, refuses a replayed one, ends the
/// sessions signed in through this connection for its NameID, and returns
/// where to send the `LogoutResponse` (the IdP's SLO URL, when configured).
pub async fn saml_logout(
    state: &AppState,
    connection_id: &str,
    raw_query: String,
    base: &str,
) -> Result<Option<url::Url>, SsoError> {
    let id = connection_id.to_owned();
    let l = state
        .store
        .read(move |c| connection(c, &id))
        .await?
        .ok_or(SsoError::UnknownConnection)?;
    let ConnectionSettings::Saml(settings) = &l.settings else {
        return Err(SsoError::UnknownConnection);
    };
    let urls = SpUrls::new(base, &l.record.id);
    let config = settings
        .runtime(&urls)
        .map_err(|e| SsoError::Misconfigured(e.to_string()))?;
    let v = crate::sso::saml::logout::verify_logout_request(
        &config,
        &raw_query,
        &urls.saml_slo,
        Utc::now(),
    )
    .map_err(SsoError::Logout)?;
    let conn_id = l.record.id.clone();
    let org_id = l.org.id.clone();
    let now = crate::store::now();
    let replay_key = format!("logout:{}", v.id);
    let keep_until = (v.issue_instant + chrono::Duration::minutes(15)).naive_utc();
    let (issuer, name_id) = (v.issuer.clone(), v.name_id.clone());
    let fresh = state
        .store
        .write(move |c| {
            if !sso_logins::first_use_of_assertion(c, &issuer, &replay_key, keep_until)? {
                return Ok::<_, AppError>(false);
            }
            let ended = stored_sessions::end_for_idp_subject(c, &conn_id, &name_id, now)?;
            let ctx = connection_ctx(&conn_id, now);
            audit::insert(
                c,
                &[ctx.event(
                    Some(&org_id),
                    "sso.logout",
                    "idp_connection",
                    Some(conn_id.clone()),
                    None,
                    Some(json!({"name_id": name_id, "sessions_ended": ended, "via": "saml_slo"})),
                )],
            )?;
            Ok(true)
        })
        .await?;
    if !fresh {
        return Err(SsoError::Saml(SamlRejection::Replayed));
    }
    let Some(slo) = settings.idp_slo_url.as_deref() else {
        return Ok(None);
    };
    crate::sso::saml::logout::logout_response_redirect(
        config.sp_entity_id(),
        slo,
        &v.id,
        v.relay_state.as_deref(),
        Utc::now(),
    )
    .map(Some)
    .map_err(SsoError::Misconfigured)
}

/// After a rollcall logout of a session signed in through OIDC: the IdP's
/// RP-initiated logout URL, when it advertises one.
pub async fn idp_logout_url(
    state: &AppState,
    session: &stored_sessions::Session,
    base: &str,
) -> Option<String> {
    if session.method != "oidc" {
        return None;
    }
    let id = session.connection_id.clone()?;
    let l = state.store.read(move |c| connection(c, &id)).await.ok()??;
    let provider = state.sso.providers.get(state, &l, base).await.ok()?;
    provider.logout_url().map(|u| u.to_string())
}

/// Audits a refused response that a well-behaved IdP and browser never
/// produce (forgery, wrapping, replay, a login carried to another browser),
/// against the connection's org. Best effort: the refusal stands whatever
/// happens here.
pub async fn record_attack(state: &AppState, connection_id: &str, e: &SsoError) {
    if !e.is_attack() {
        return;
    }
    let id = connection_id.to_owned();
    let detail = e.to_string();
    let result = state
        .store
        .write(move |c| {
            let Some(record) = store::idp_connections::find(c, &id)? else {
                return Ok::<_, AppError>(());
            };
            let ctx = connection_ctx(&id, crate::store::now());
            audit::insert(
                c,
                &[ctx.event(
                    Some(&crate::domain::OrgId::from_trusted(record.org_id)),
                    "sso.attack_refused",
                    "idp_connection",
                    Some(id.clone()),
                    None,
                    Some(json!({"refused": detail})),
                )],
            )?;
            Ok(())
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not audit a refused SSO response");
    }
}
