//! rollcall as an OpenID Connect relying party: authorization code flow with
//! PKCE S256 (RFC 7636), OpenID Connect Core 1.0 §3.1 and Discovery 1.0,
//! RFC 9207 issuer identification.
//!
//! openidconnect supplies the metadata and JWKS types, PKCE, random state and
//! nonce, and ID-token signature/claims verification; the HTTP calls are ours
//! (one guarded reqwest client, see [`http`]) so that discovery, JWKS, token
//! and userinfo requests never follow redirects or reach internal addresses.
//!
//! What [`OidcProvider::callback`] checks, in order: the `error` parameter;
//! `state` equals the pre-login record's (constant time); RFC 9207 `iss`
//! equals the issuer when present, and is required when the provider
//! advertises it; the code exchange (with the PKCE verifier); the ID token's
//! signature with the cached JWKS (refreshed once on an unknown `kid`, at most
//! once per `jwks_min_refresh`), its algorithm against the allow-list (never
//! `none`), `iss` exactly, `aud`, `azp` (required with several audiences,
//! equal to our client id when present), `exp`/`iat` with skew, `nonce`;
//! then userinfo, whose `sub` must equal the ID token's.

#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixture;
pub mod http;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalClaims, Audience, ClaimsVerificationError, ClientId,
    ClientSecret, IdToken, IdTokenVerifier, IssuerUrl, Nonce, PkceCodeChallenge,
    SignatureVerificationError,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use http::{GuardedClient, NetworkPolicy};

/// Every claim of a token that is not a standard one, kept as JSON so that
/// claim names can be configured per connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims(pub HashMap<String, Value>);
impl AdditionalClaims for OtherClaims {}

pub(crate) type RpIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// Why an OIDC step failed. [`OidcError::is_attack`] marks forged or
/// misdirected tokens and callbacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("outbound request refused by the network guard: {0}")]
    Blocked(String),
    #[error("network: {0}")]
    Network(String),
    #[error("discovery: {0}")]
    Discovery(String),
    #[error("the discovery document names issuer `{found}`, not `{expected}`")]
    DiscoveryIssuerMismatch { expected: String, found: String },
    #[error("JWKS: {0}")]
    Jwks(String),
    #[error("the IdP answered with error `{error}`")]
    IdpError {
        error: String,
        description: Option<String>,
    },
    #[error("state does not match the pre-login record")]
    StateMismatch,
    #[error("the `iss` parameter `{0}` is not this connection's issuer (RFC 9207)")]
    IssuerParamMismatch(String),
    #[error("the provider sends `iss` (RFC 9207) but the callback has none")]
    IssuerParamMissing,
    #[error("token endpoint: {0}")]
    TokenEndpoint(String),
    #[error("the token response holds no ID token")]
    NoIdToken,
    #[error("the ID token is malformed: {0}")]
    MalformedIdToken(String),
    #[error("ID token signature algorithm not allowed: {0}")]
    AlgorithmNotAllowed(String),
    #[error("the ID token signature does not verify: {0}")]
    BadSignature(String),
    #[error("no JWKS key matches the ID token (after a refresh)")]
    UnknownKey,
    #[error("ID token issuer is wrong: {0}")]
    WrongIssuer(String),
    #[error("ID token audience is wrong: {0}")]
    WrongAudience(String),
    #[error("ID token azp is not our client id")]
    AzpMismatch,
    #[error("ID token expired: {0}")]
    Expired(String),
    #[error("ID token issued in the future: {0}")]
    IssuedInFuture(String),
    #[error("ID token nonce does not match the pre-login record")]
    NonceMismatch,
    #[error("ID token rejected: {0}")]
    IdToken(String),
    #[error("ID token at_hash does not match the access token")]
    AccessTokenHashMismatch,
    #[error("userinfo: {0}")]
    Userinfo(String),
    #[error("userinfo `sub` differs from the ID token's")]
    UserinfoSubjectMismatch,
}

impl OidcError {
    pub fn is_attack(&self) -> bool {
        use OidcError::*;
        matches!(
            self,
            StateMismatch
                | IssuerParamMismatch(_)
                | AlgorithmNotAllowed(_)
                | BadSignature(_)
                | UnknownKey
                | WrongIssuer(_)
                | WrongAudience(_)
                | AzpMismatch
                | NonceMismatch
                | UserinfoSubjectMismatch
                | AccessTokenHashMismatch
        )
    }
}

/// Claim names read into [`OidcIdentity`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    pub email: String,
    pub email_verified: String,
    pub given_name: String,
    pub family_name: String,
    pub name: String,
    pub groups: Option<String>,
}

impl Default for ClaimNames {
    fn default() -> Self {
        ClaimNames {
            email: "email".into(),
            email_verified: "email_verified".into(),
            given_name: "given_name".into(),
            family_name: "family_name".into(),
            name: "name".into(),
            groups: Some("groups".into()),
        }
    }
}

/// Provider-specific rules for trusting an email address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EmailTrust {
    /// `email_verified: true` (a missing claim is false).
    #[default]
    Standard,
    /// Microsoft Entra ID sends no `email_verified`; `xms_edov: true` (email
    /// domain owner verified, an optional claim) stands in for it.
    Entra,
    /// Google: `email_verified` and, when set, `hd` equal to this hosted domain.
    Google { hosted_domain: Option<String> },
}

/// One OIDC connection.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_uri: String,
    /// Requested scopes besides `openid`.
    pub scopes: Vec<String>,
    /// Accepted ID-token algorithms (`none` and HMAC are never accepted).
    pub allowed_algs: Vec<CoreJwsSigningAlgorithm>,
    pub clock_skew: Duration,
    pub claims: ClaimNames,
    pub email_trust: EmailTrust,
    pub fetch_userinfo: bool,
    pub network: NetworkPolicy,
    /// The JWKS is re-fetched on an unknown `kid` at most this often.
    pub jwks_min_refresh: StdDuration,
}

impl OidcConfig {
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: SecretString,
        redirect_uri: impl Into<String>,
    ) -> Self {
        OidcConfig {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            scopes: vec!["email".into(), "profile".into()],
            allowed_algs: vec![
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
                CoreJwsSigningAlgorithm::RsaSsaPssSha256,
                CoreJwsSigningAlgorithm::RsaSsaPssSha384,
                CoreJwsSigningAlgorithm::RsaSsaPssSha512,
                CoreJwsSigningAlgorithm::EcdsaP256Sha256,
                CoreJwsSigningAlgorithm::EcdsaP384Sha384,
                CoreJwsSigningAlgorithm::EdDsa,
            ],
            clock_skew: Duration::seconds(180),
            claims: ClaimNames::default(),
            email_trust: EmailTrust::default(),
            fetch_userinfo: true,
            network: NetworkPolicy::default(),
            jwks_min_refresh: StdDuration::from_secs(60),
        }
    }

    fn validate(&self) -> Result<(), OidcError> {
        if self.client_id.is_empty() {
            return Err(OidcError::Config("client id is empty".into()));
        }
        url::Url::parse(&self.redirect_uri)
            .map_err(|e| OidcError::Config(format!("redirect URI: {e}")))?;
        let bad = self.allowed_algs.iter().any(|a| {
            matches!(
                a,
                CoreJwsSigningAlgorithm::None
                    | CoreJwsSigningAlgorithm::HmacSha256
                    | CoreJwsSigningAlgorithm::HmacSha384
                    | CoreJwsSigningAlgorithm::HmacSha512
            )
        });
        if bad || self.allowed_algs.is_empty() {
            return Err(OidcError::Config(
                "allowed algorithms must be asymmetric (never `none` or HMAC)".into(),
            ));
        }
        Ok(())
    }
}

/// What the caller keeps in its pre-login record. Debug output hides the secrets.
#[derive(Clone)]
pub struct AuthorizationStart {
    pub url: url::Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The pre-login record's OIDC part, as stored at start.
#[derive(Clone)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl std::fmt::Debug for AuthorizationStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationStart")
            .field("url_host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin").finish_non_exhaustive()
    }
}

/// The query of the redirect back to us.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A signed-in person as the IdP describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// True only when the IdP vouches for the address (see [`EmailTrust`]).
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// Google's `hd` claim, when present.
    pub hosted_domain: Option<String>,
}

struct JwksState {
    keys: CoreJsonWebKeySet,
    fetched_at: Instant,
}

/// A discovered provider: metadata, a JWKS cache and the guarded client.
pub struct OidcProvider {
    config: OidcConfig,
    metadata: CoreProviderMetadata,
    iss_parameter_supported: bool,
    /// RP-Initiated Logout 1.0 `end_session_endpoint`, when advertised.
    end_session_endpoint: Option<url::Url>,
    http: GuardedClient,
    jwks: RwLock<JwksState>,
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.config.issuer)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// Fetches `{issuer}/.well-known/openid-configuration` (Discovery 1.0
    /// §4), requires its `issuer` to equal the configured one exactly, and
    /// loads the JWKS.
    pub async fn discover(config: OidcConfig) -> Result<Self, OidcError> {
        config.validate()?;
        let http = GuardedClient::new(config.network)?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        let (status, _, body) = http.send(http.client().get(&url)).await?;
        if !status.is_success() {
            return Err(OidcError::Discovery(format!("{url} answered {status}")));
        }
        let raw: Value =
            serde_json::from_slice(&body).map_err(|e| OidcError::Discovery(e.to_string()))?;
        let found = raw
            .get("issuer")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if found != config.issuer {
            return Err(OidcError::DiscoveryIssuerMismatch {
                expected: config.issuer.clone(),
                found: found.to_owned(),
            });
        }
        let iss_parameter_supported = raw
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let end_session_endpoint = raw
            .get("end_session_endpoint")
            .and_then(Value::as_str)
            .and_then(|u| url::Url::parse(u).ok())
            .filter(|u| http.check_url(u).is_ok());
        let metadata: CoreProviderMetadata =
            serde_json::from_value(raw).map_err(|e| OidcError::Discovery(e.to_string()))?;
        if metadata.token_endpoint().is_none() {
            return Err(OidcError::Discovery("no token_endpoint".into()));
        }
        let keys = fetch_jwks(&http, metadata.jwks_uri().url()).await?;
        Ok(OidcProvider {
            config,
            metadata,
            iss_parameter_supported,
            end_session_endpoint,
            http,
            jwks: RwLock::new(JwksState {
                keys,
                fetched_at: Instant::now(),
            }),
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    pub fn metadata(&self) -> &CoreProviderMetadata {
        &self.metadata
    }

    /// Where to send the browser to end the IdP session too (RP-Initiated
    /// Logout 1.0 §2), when the IdP advertises it.
    pub fn logout_url(&self) -> Option<url::Url> {
        let mut url = self.end_session_endpoint.clone()?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.config.client_id);
        Some(url)
    }

    /// The authorization request (Core §3.1.2.1) with PKCE S256, a fresh
    /// `state` and `nonce`; the caller stores all three secrets.
    pub fn authorization_start(&self) -> AuthorizationStart {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = openidconnect::CsrfToken::new_random().secret().clone();
        let nonce = Nonce::new_random().secret().clone();
        let mut url = self.metadata.authorization_endpoint().url().clone();
        let scope = std::iter::once("openid")
            .chain(
                self.config
                    .scopes
                    .iter()
                    .map(String::as_str)
                    .filter(|s| *s != "openid"),
            )
            .collect::<Vec<_>>()
            .join(" ");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &self.config.redirect_uri)
            .append_pair("scope", &scope)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256");
        AuthorizationStart {
            url,
            state,
            nonce,
            pkce_verifier: verifier.secret().clone(),
        }
    }

    /// Completes a login from the redirect's query and the pre-login record.
    pub async fn callback(
        &self,
        params: &CallbackParams,
        pending: &PendingLogin,
        now: DateTime<Utc>,
    ) -> Result<OidcIdentity, OidcError> {
        if let Some(error) = &params.error {
            return Err(OidcError::IdpError {
                error: error.clone(),
                description: params.error_description.clone(),
            });
        }
        let state = params.state.as_deref().unwrap_or_default();
        if !secrets_equal(state, &pending.state) {
            return Err(OidcError::StateMismatch);
        }
        match &params.iss {
            Some(iss) if *iss != self.config.issuer => {
                return Err(OidcError::IssuerParamMismatch(iss.clone()));
            }
            None if self.iss_parameter_supported => return Err(OidcError::IssuerParamMissing),
            _ => {}
        }
        let code = params
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| OidcError::TokenEndpoint("no code in the callback".into()))?;

        let tokens = self.exchange_code(code, &pending.pkce_verifier).await?;
        let id_token: RpIdToken = tokens
            .id_token
            .as_deref()
            .ok_or(OidcError::NoIdToken)?
            .parse()
            .map_err(|e: serde_json::Error| OidcError::MalformedIdToken(e.to_string()))?;
        let mut claims = self
            .verify_id_token(&id_token, &pending.nonce, &tokens.access_token, now)
            .await?;

        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if self.config.fetch_userinfo
            && let Some(endpoint) = self.metadata.userinfo_endpoint()
        {
            let info = self.userinfo(endpoint.url(), &tokens.access_token).await?;
            if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                return Err(OidcError::UserinfoSubjectMismatch);
            }
            // Userinfo wins for profile claims (some IdPs put email only
            // there). A verification flag vouches only for the address it
            // came with: a different userinfo email drops the token's flags.
            let email_claim = self.config.claims.email.as_str();
            if let Some(email) = info.get(email_claim)
                && claims.get(email_claim) != Some(email)
            {
                claims.remove(self.config.claims.email_verified.as_str());
                claims.remove("xms_edov");
            }
            for (k, v) in info {
                if !matches!(k.as_str(), "sub" | "iss" | "aud") {
                    claims.insert(k, v);
                }
            }
        }
        Ok(self.identity(subject, &claims))
    }

    async fn exchange_code(&self, code: &str, verifier: &str) -> Result<TokenResponse, OidcError> {
        let endpoint = self
            .metadata
            .token_endpoint()
            .ok_or_else(|| OidcError::Discovery("no token_endpoint".into()))?;
        let use_post = self
            .metadata
            .token_endpoint_auth_methods_supported()
            .map(|methods| {
                let names: Vec<String> = methods
                    .iter()
                    .filter_map(|m| serde_json::to_value(m).ok())
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
                !names.iter().any(|n| n == "client_secret_basic")
                    && names.iter().any(|n| n == "client_secret_post")
            })
            .unwrap_or(false);
        let secret = self.config.client_secret.expose_secret();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.config.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ];
        let mut request = self.http.client().post(endpoint.url().clone());
        if use_post {
            form.push(("client_id", self.config.client_id.as_str()));
            form.push(("client_secret", secret));
        } else {
            // RFC 6749 §2.3.1: form-urlencode id and secret before Basic.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request = request.basic_auth(enc(&self.config.client_id), Some(enc(secret)));
        }
        let request = request
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form);
        let (status, _, body) = self.http.send(request).await?;
        if !status.is_success() {
            let error = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| status.to_string());
            return Err(OidcError::TokenEndpoint(error));
        }
        let tokens: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| OidcError::TokenEndpoint(e.to_string()))?;
        if !tokens.token_type.eq_ignore_ascii_case("bearer") {
            return Err(OidcError::TokenEndpoint(format!(
                "token type `{}`",
                tokens.token_type
            )));
        }
        Ok(tokens)
    }

    /// Verifies the ID token, re-fetching the JWKS once on an unknown key.
    async fn verify_id_token(
        &self,
        id_token: &RpIdToken,
        nonce: &str,
        access_token: &str,
        now: DateTime<Utc>,
    ) -> Result<Map<String, Value>, OidcError> {
        let first = {
            let keys = self.current_keys();
            self.verify_with(id_token, nonce, access_token, now, keys)
        };
        match first {
            Err(OidcError::UnknownKey) => {
                if self.refresh_jwks().await? {
                    let keys = self.current_keys();
                    self.verify_with(id_token, nonce, access_token, now, keys)
                } else {
                    Err(OidcError::UnknownKey)
                }
            }
            other => other,
        }
    }

    fn current_keys(&self) -> CoreJsonWebKeySet {
        match self.jwks.read() {
            Ok(state) => state.keys.clone(),
            Err(poisoned) => poisoned.into_inner().keys.clone(),
        }
    }

    /// Re-fetches the JWKS unless it was fetched within `jwks_min_refresh`.
    /// Returns whether a new set was loaded.
    async fn refresh_jwks(&self) -> Result<bool, OidcError> {
        let _one_at_a_time = self.refresh.lock().await;
        let fresh = {
            let state = self
                .jwks
                .read()
                .map_err(|_| OidcError::Jwks("lock".into()))?;
            state.fetched_at.elapsed() < self.config.jwks_min_refresh
        };
        if fresh {
            return Ok(false);
        }
        let result = fetch_jwks(&self.http, self.metadata.jwks_uri().url()).await;
        let mut state = self
            .jwks
            .write()
            .map_err(|_| OidcError::Jwks("lock".into()))?;
        // A failed fetch also counts, so an unreachable JWKS is not hammered.
        state.fetched_at = Instant::now();
        state.keys = result?;
        Ok(true)
    }

    fn verify_with(
        &self,
        id_token: &RpIdToken,
        nonce: &str,
        access_token: &str,
        now: DateTime<Utc>,
        keys: CoreJsonWebKeySet,
    ) -> Result<Map<String, Value>, OidcError> {
        let skew = self.config.clock_skew;
        let client_id = self.config.client_id.clone();
        let verifier: IdTokenVerifier<'_, CoreJsonWebKey> =
            IdTokenVerifier::new_confidential_client(
                ClientId::new(client_id.clone()),
                ClientSecret::new(self.config.client_secret.expose_secret().to_owned()),
                IssuerUrl::new(self.config.issuer.clone())
                    .map_err(|e| OidcError::Config(e.to_string()))?,
                keys,
            )
            .set_allowed_algs(self.config.allowed_algs.iter().cloned())
            .require_issuer_match(true)
            .require_audience_match(true)
            // Extra audiences are tolerated only with azp = our client id (below).
            .set_other_audience_verifier_fn(|_: &Audience| true)
            .set_time_fn(move || now - skew)
            .set_issue_time_verifier_fn(move |iat| {
                if iat > now + skew {
                    Err(format!("iat {iat} is after {}", now + skew))
                } else {
                    Ok(())
                }
            });
        let expected_nonce = Nonce::new(nonce.to_owned());
        let claims = id_token
            .claims(&verifier, &expected_nonce)
            .map_err(map_claims_error)?;
        // Core §3.1.3.7 steps 4–5.
        let audiences = claims.audiences();
        match claims.authorized_party() {
            Some(azp) if **azp != client_id => return Err(OidcError::AzpMismatch),
            None if audiences.len() > 1 => return Err(OidcError::AzpMismatch),
            _ => {}
        }
        if !audiences.iter().any(|a| **a == client_id) {
            return Err(OidcError::WrongAudience(
                "client id not among audiences".into(),
            ));
        }
        // Core §3.1.3.8: at_hash is optional in the code flow; when present
        // it must match the access token we were given.
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| OidcError::BadSignature(e.to_string()))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| OidcError::BadSignature(e.to_string()))?;
            let actual =
                AccessTokenHash::from_token(&AccessToken::new(access_token.to_owned()), alg, key)
                    .map_err(|e| OidcError::IdToken(e.to_string()))?;
            if actual != *expected {
                return Err(OidcError::AccessTokenHashMismatch);
            }
        }
        match serde_json::to_value(claims) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) | Err(_) => Err(OidcError::MalformedIdToken(
                "claims are not an object".into(),
            )),
        }
    }

    async fn userinfo(
        &self,
        url: &url::Url,
        access_token: &str,
    ) -> Result<Map<String, Value>, OidcError> {
        let request = self
            .http
            .client()
            .get(url.clone())
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json");
        let (status, headers, body) = self.http.send(request).await?;
        if !status.is_success() {
            return Err(OidcError::Userinfo(format!("answered {status}")));
        }
        let json = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.starts_with("application/json"))
            .unwrap_or(false);
        if !json {
            return Err(OidcError::Userinfo("only JSON userinfo is accepted".into()));
        }
        match serde_json::from_slice(&body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(OidcError::Userinfo("not a JSON object".into())),
        }
    }

    fn identity(&self, subject: String, claims: &Map<String, Value>) -> OidcIdentity {
        let names = &self.config.claims;
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let truthy = |name: &str| match claims.get(name) {
            Some(Value::Bool(b)) => *b,
            // Some IdPs send booleans as strings.
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        let hosted_domain = text("hd");
        let email = text(&names.email);
        let email_verified = email.is_some()
            && match &self.config.email_trust {
                EmailTrust::Standard => truthy(&names.email_verified),
                EmailTrust::Entra => truthy(&names.email_verified) || truthy("xms_edov"),
                EmailTrust::Google {
                    hosted_domain: want,
                } => {
                    truthy(&names.email_verified)
                        && want
                            .as_deref()
                            .is_none_or(|d| hosted_domain.as_deref() == Some(d))
                }
            };
        let groups = names
            .groups
            .as_deref()
            .and_then(|g| claims.get(g))
            .map(|v| match v {
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                Value::String(s) => vec![s.clone()],
                _ => Vec::new(),
            })
            .unwrap_or_default();
        OidcIdentity {
            issuer: self.config.issuer.clone(),
            subject,
            email,
            email_verified,
            given_name: text(&names.given_name),
            family_name: text(&names.family_name),
            name: text(&names.name),
            groups,
            hosted_domain,
        }
    }
}

/// Constant-time equality of two secrets (hashed first, so length leaks nothing).
fn secrets_equal(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(a.as_bytes())
        .ct_eq(&Sha256::digest(b.as_bytes()))
        .into()
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    id_token: Option<String>,
}

async fn fetch_jwks(http: &GuardedClient, url: &url::Url) -> Result<CoreJsonWebKeySet, OidcError> {
    let (status, _, body) = http.send(http.client().get(url.clone())).await?;
    if !status.is_success() {
        return Err(OidcError::Jwks(format!("{url} answered {status}")));
    }
    serde_json::from_slice(&body).map_err(|e| OidcError::Jwks(e.to_string()))
}

fn map_claims_error(e: ClaimsVerificationError) -> OidcError {
    match e {
        ClaimsVerificationError::Expired(m) if m.starts_with("iat ") => {
            OidcError::IssuedInFuture(m)
        }
        ClaimsVerificationError::Expired(m) => OidcError::Expired(m),
        ClaimsVerificationError::InvalidAudience(m) => OidcError::WrongAudience(m),
        ClaimsVerificationError::InvalidIssuer(m) => OidcError::WrongIssuer(m),
        ClaimsVerificationError::InvalidNonce(_) => OidcError::NonceMismatch,
        ClaimsVerificationError::SignatureVerification(s) => match s {
            SignatureVerificationError::NoMatchingKey => OidcError::UnknownKey,
            SignatureVerificationError::DisallowedAlg(m)
            | SignatureVerificationError::UnsupportedAlg(m) => OidcError::AlgorithmNotAllowed(m),
            SignatureVerificationError::NoSignature => {
                OidcError::AlgorithmNotAllowed("unsigned (`none`)".into())
            }
            other => OidcError::BadSignature(other.to_string()),
        },
        other => OidcError::IdToken(other.to_string()),
    }
}
