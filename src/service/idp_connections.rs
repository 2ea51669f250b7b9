//! IdP connections of an org (issue "8 of 11" item 1): create (OIDC or
//! SAML), list, show, change, approve and delete, for the admin API and the
//! CLI; and the periodic re-import of SAML metadata from its URL.
//!
//! Every operation needs `gateway.sso.manage`. The rules:
//! - `trusted_domains` are verified domains of the org;
//! - an OIDC issuer is checked by discovery (Discovery 1.0 §4) and a SAML
//!   metadata URL fetched *before* the write transaction, through the
//!   network guard (`sso.allow_private_networks` / `allow_plain_http`); the
//!   write only accepts what was fetched for exactly the values it stores;
//! - a SAML connection without a pinned signing certificate is refused;
//! - the OIDC client secret is sealed with `sso.secret_key` and never shown
//!   nor audited (views say `client_secret_set`); certificates appear as
//!   SHA-256 fingerprints;
//! - a connection made or re-pointed (issuer, client, certificates, email
//!   trust, trusted domains…) by someone who holds no owner role is not
//!   `owner_approved`: the login never links to or signs in an owner through
//!   it until an owner approves it. `created_by` names whoever vouched last:
//!   a user id, `operator` (the CLI, instance-admin keys) or `key:{id}` (an
//!   org API key acting with a role).

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::configuration::OutboxKey;
use crate::domain::authz::{self, BindingScope, MappingKind, Principal, gate};
use crate::domain::{DomainName, OrgId};
use crate::error::AppError;
use crate::service::authz::Authority;
use crate::service::{Acting, Ctx, domains};
use crate::sso::connection::{
    ConnectionSettings, EmailTrustKind, OidcClaims, OidcSettings, SamlAttributes, SamlSettings,
    SpUrls, seal_secret,
};
use crate::sso::oidc::{GuardedClient, NetworkPolicy, OidcError, OidcProvider};
use crate::sso::saml::{SamlConfigError, SigningCertificate};
use crate::store::idp_connections::{self as rows, Change, IdpConnection};
use crate::store::{self, DbConnection, Store, StoreError, audit};

// ---------------------------------------------------------------- inputs

/// How an OIDC IdP vouches for email addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailTrust {
    /// `email_verified: true` (a missing claim is false).
    Standard,
    /// Microsoft Entra ID: `xms_edov: true`.
    Entra,
    /// Google: `email_verified` and `hd` equal to `hosted_domain`.
    Google,
}

impl From<EmailTrust> for EmailTrustKind {
    fn from(t: EmailTrust) -> Self {
        match t {
            EmailTrust::Standard => EmailTrustKind::Standard,
            EmailTrust::Entra => EmailTrustKind::Entra,
            EmailTrust::Google => EmailTrustKind::Google,
        }
    }
}

/// Claim names read from the ID token / userinfo; unset ones keep their
/// current value (the standard names on create).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimNames {
    pub email: Option<String>,
    pub email_verified: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    /// The claim holding groups; `""` reads no groups.
    pub groups: Option<String>,
}

/// SAML attribute names (`saml:Attribute/@Name`); unset ones keep their
/// current value, `""` clears one.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeNames {
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub groups: Option<String>,
}

/// A new OIDC connection.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOidc {
    pub name: String,
    /// Exactly as the IdP's discovery document states it (trailing slash matters).
    pub issuer: String,
    pub client_id: String,
    /// Stored encrypted; never shown again.
    #[schema(value_type = String)]
    pub client_secret: SecretString,
    /// Scopes besides `openid` (default `email`, `profile`).
    pub scopes: Option<Vec<String>>,
    /// Accepted ID-token algorithms (`RS256`, `ES256`, …); default every asymmetric one.
    #[serde(default)]
    pub allowed_algs: Vec<String>,
    pub claims: Option<ClaimNames>,
    pub email_trust: Option<EmailTrust>,
    /// Google's hosted domain (`hd`), with `email_trust: google`.
    pub hosted_domain: Option<String>,
    pub fetch_userinfo: Option<bool>,
    /// Verified domains of the org this connection may vouch for.
    #[serde(default)]
    pub trusted_domains: Vec<String>,
    pub enabled: Option<bool>,
}

/// A new SAML connection: IdP metadata as XML or from a URL (re-fetched
/// periodically), or the IdP's fields given one by one.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSaml {
    pub name: String,
    pub metadata_xml: Option<String>,
    pub metadata_url: Option<String>,
    pub idp_entity_id: Option<String>,
    /// The IdP's SingleSignOnService (HTTP-Redirect binding).
    pub idp_sso_url: Option<String>,
    pub idp_slo_url: Option<String>,
    /// PEM or bare base64 certificates (several during a rollover).
    #[serde(default)]
    pub signing_certs: Vec<String>,
    /// Our entity id; default our metadata URL.
    pub sp_entity_id: Option<String>,
    /// An immutable attribute keying identities instead of a persistent NameID.
    pub subject_attribute: Option<String>,
    pub attributes: Option<AttributeNames>,
    #[serde(default)]
    pub allow_idp_initiated: bool,
    #[serde(default)]
    pub trusted_domains: Vec<String>,
    pub enabled: Option<bool>,
}

/// A new connection, tagged by `kind`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NewConnection {
    Oidc(NewOidc),
    Saml(NewSaml),
}

/// A change to a connection; absent fields stay as they are. Fields of the
/// other protocol are refused.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub trusted_domains: Option<Vec<String>>,
    // OIDC
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// Rotates the client secret.
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<SecretString>,
    pub scopes: Option<Vec<String>>,
    pub allowed_algs: Option<Vec<String>>,
    pub claims: Option<ClaimNames>,
    pub email_trust: Option<EmailTrust>,
    /// `""` clears it.
    pub hosted_domain: Option<String>,
    pub fetch_userinfo: Option<bool>,
    // SAML
    /// Re-import the IdP's entity id, SSO URL and certificates.
    pub metadata_xml: Option<String>,
    /// Import from this URL (and keep re-fetching it); `""` stops fetching.
    pub metadata_url: Option<String>,
    pub idp_entity_id: Option<String>,
    pub idp_sso_url: Option<String>,
    /// Replaces the pinned certificates.
    pub signing_certs: Option<Vec<String>>,
    /// Pins more certificates beside the current ones (rollover).
    pub add_signing_certs: Option<Vec<String>>,
    /// `""` means the metadata URL.
    pub sp_entity_id: Option<String>,
    /// `""` means the persistent NameID.
    pub subject_attribute: Option<String>,
    pub attributes: Option<AttributeNames>,
    pub allow_idp_initiated: Option<bool>,
}

// ---------------------------------------------------------------- views

/// What the IdP admin enters at the IdP.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Setup {
    /// OIDC: the redirect URI to register.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// SAML: our entity id (audience).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp_entity_id: Option<String>,
    /// SAML: the Assertion Consumer Service URL (HTTP-POST).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acs_url: Option<String>,
    /// SAML: our SP metadata, which most IdPs can import instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
}

/// A connection as the API shows it: no secret, certificates as SHA-256
/// fingerprints.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    pub id: String,
    /// `oidc` or `saml`.
    pub kind: String,
    pub name: String,
    pub enabled: bool,
    pub owner_approved: bool,
    pub trusted_domains: Vec<String>,
    /// The protocol settings (`signing_certs` as fingerprints).
    #[schema(value_type = Object)]
    pub settings: Value,
    /// OIDC: whether a client secret is stored.
    pub client_secret_set: bool,
    /// SAML: where the metadata is re-fetched from.
    pub metadata_url: Option<String>,
    /// UTC, RFC 3339.
    pub metadata_refreshed_at: Option<String>,
    /// A user id, `operator` or `key:{api key id}`.
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub setup: Setup,
}

fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `AB:CD:…`, the SHA-256 of the certificate's DER (as `openssl x509
/// -fingerprint -sha256` prints it).
pub fn fingerprint(cert: &str) -> String {
    match SigningCertificate::from_pem_or_base64(cert) {
        Ok(c) => Sha256::digest(c.der())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
        Err(_) => "(not a certificate)".to_owned(),
    }
}

fn fingerprints(certs: &[String]) -> Vec<String> {
    certs.iter().map(|c| fingerprint(c)).collect()
}

/// The settings as JSON with certificates replaced by their fingerprints.
fn settings_json(settings: &ConnectionSettings) -> Value {
    let mut v = serde_json::to_value(settings).unwrap_or(Value::Null);
    if let (ConnectionSettings::Saml(s), Some(o)) = (settings, v.as_object_mut()) {
        o.insert(
            "signing_certs".into(),
            json!(fingerprints(&s.signing_certs)),
        );
    }
    v
}

fn parse_settings(row: &IdpConnection) -> Result<ConnectionSettings, AppError> {
    serde_json::from_str(&row.config).map_err(|e| {
        AppError::from(StoreError::Corrupt(format!(
            "idp connection {} settings: {e}",
            row.id
        )))
    })
}

pub fn setup(settings: &ConnectionSettings, urls: &SpUrls) -> Setup {
    match settings {
        ConnectionSettings::Oidc(_) => Setup {
            redirect_uri: Some(urls.oidc_redirect.clone()),
            sp_entity_id: None,
            acs_url: None,
            metadata_url: None,
        },
        ConnectionSettings::Saml(s) => Setup {
            redirect_uri: None,
            sp_entity_id: Some(
                s.sp_entity_id
                    .clone()
                    .unwrap_or_else(|| urls.saml_metadata.clone()),
            ),
            acs_url: Some(urls.saml_acs.clone()),
            metadata_url: Some(urls.saml_metadata.clone()),
        },
    }
}

pub fn view(row: &IdpConnection, base: &str) -> Result<ConnectionView, AppError> {
    let settings = parse_settings(row)?;
    let urls = SpUrls::new(base, &row.id);
    Ok(ConnectionView {
        id: row.id.clone(),
        kind: row.kind.clone(),
        name: row.name.clone(),
        enabled: row.enabled,
        owner_approved: row.owner_approved,
        trusted_domains: row.trusted_domains(),
        settings: settings_json(&settings),
        client_secret_set: row.secret.is_some(),
        metadata_url: row.metadata_url.clone(),
        metadata_refreshed_at: row.metadata_refreshed_at.map(rfc3339),
        created_by: row.created_by.clone(),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        setup: setup(&settings, &urls),
    })
}

/// The audit snapshot of a connection: no secret, fingerprints.
fn audit_json(row: &IdpConnection) -> Value {
    let settings = parse_settings(row)
        .map(|s| settings_json(&s))
        .unwrap_or(Value::Null);
    json!({
        "id": row.id,
        "kind": row.kind,
        "name": row.name,
        "enabled": row.enabled,
        "owner_approved": row.owner_approved,
        "trusted_domains": row.trusted_domains(),
        "settings": settings,
        "client_secret_set": row.secret.is_some(),
        "metadata_url": row.metadata_url,
        "created_by": row.created_by,
    })
}

// ---------------------------------------------------------------- who acts

/// Whether whoever acts holds an owner role at org level (the operator
/// does). Group-derived bindings do not count, as for last-owner protection.
pub fn acts_as_owner(a: &Acting<'_>) -> bool {
    match a.authority {
        Authority::Operator => true,
        Authority::Subject { subject, .. } => subject.bindings.iter().any(|b| {
            b.scope == BindingScope::Org
                && matches!(b.principal, Principal::User(_))
                && a.op.policy.role(b.role.as_str()).is_some_and(|r| r.owner)
        }),
    }
}

/// `created_by` for whoever acts (the login side reads it).
pub fn creator(a: &Acting<'_>) -> String {
    match a.authority {
        Authority::Operator => "operator".to_owned(),
        Authority::Subject { user: Some(u), .. } => u.to_string(),
        Authority::Subject { user: None, .. } => {
            format!("key:{}", a.ctx.actor.id.as_deref().unwrap_or("unknown"))
        }
    }
}

// ---------------------------------------------------------------- validation

fn name(raw: &str) -> Result<String, AppError> {
    let n = raw.trim();
    if n.is_empty() || n.chars().count() > 200 {
        return Err(AppError::bad_request("name must hold 1 to 200 characters"));
    }
    Ok(n.to_owned())
}

/// The trusted domains, normalised: each must be a verified domain of the org.
fn trusted_domains(
    conn: &mut DbConnection,
    org: &OrgId,
    raw: &[String],
) -> Result<Vec<String>, AppError> {
    let verified = domains::verified(conn, org)?;
    let mut out = BTreeSet::new();
    for d in raw {
        let domain = DomainName::parse(d)?;
        if !verified.iter().any(|v| v == domain.as_str()) {
            return Err(AppError::BadRequest {
                code: "unverified_domain",
                message: format!(
                    "`{domain}` is not a verified domain of this organization: claim and verify it under /domains first"
                ),
            });
        }
        out.insert(domain.as_str().to_owned());
    }
    Ok(out.into_iter().collect())
}

fn saml_error(e: SamlConfigError) -> AppError {
    match e {
        SamlConfigError::NoSigningCertificate => AppError::BadRequest {
            code: "no_signing_certificate",
            message: format!(
                "{e}: without one, responses could not be verified (give signing_certs or metadata that lists one)"
            ),
        },
        other => AppError::BadRequest {
            code: "invalid_saml_settings",
            message: other.to_string(),
        },
    }
}

/// Discovery and fetch failures: the IdP's answer is a client error (400)
/// unless the network itself failed (502). Never a 500.
fn oidc_error(e: OidcError) -> AppError {
    match e {
        OidcError::Network(m) => AppError::BadGateway(format!("the IdP could not be reached: {m}")),
        OidcError::Blocked(m) => AppError::BadRequest {
            code: "address_refused",
            message: format!(
                "{m} (only public HTTPS addresses are fetched unless sso.allow_private_networks / sso.allow_plain_http allow it)"
            ),
        },
        other => AppError::BadRequest {
            code: "discovery_failed",
            message: other.to_string(),
        },
    }
}

fn url_field(field: &str, raw: &str) -> Result<String, AppError> {
    let s = raw.trim();
    let u = url::Url::parse(s)
        .map_err(|e| AppError::bad_request(format!("{field} `{s}` is not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(AppError::bad_request(format!(
            "{field} must be an http(s) URL"
        )));
    }
    Ok(s.to_owned())
}

fn apply_claims(claims: &mut OidcClaims, input: &ClaimNames) {
    let set = |target: &mut String, v: &Option<String>| {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            *target = v.to_owned();
        }
    };
    set(&mut claims.email, &input.email);
    set(&mut claims.email_verified, &input.email_verified);
    set(&mut claims.given_name, &input.given_name);
    set(&mut claims.family_name, &input.family_name);
    set(&mut claims.name, &input.name);
    if let Some(g) = &input.groups {
        claims.groups = Some(g.trim().to_owned()).filter(|g| !g.is_empty());
    }
}

fn apply_attributes(attrs: &mut SamlAttributes, input: &AttributeNames) {
    let set = |target: &mut Option<String>, v: &Option<String>| {
        if let Some(v) = v {
            *target = Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        }
    };
    set(&mut attrs.email, &input.email);
    set(&mut attrs.given_name, &input.given_name);
    set(&mut attrs.family_name, &input.family_name);
    set(&mut attrs.display_name, &input.display_name);
    set(&mut attrs.groups, &input.groups);
}

fn oidc_settings(input: &NewOidc) -> Result<OidcSettings, AppError> {
    let issuer = url_field("issuer", &input.issuer)?;
    let client_id = input.client_id.trim();
    if client_id.is_empty() {
        return Err(AppError::bad_request("client_id must not be empty"));
    }
    let mut claims = OidcClaims::default();
    if let Some(c) = &input.claims {
        apply_claims(&mut claims, c);
    }
    let mut s: OidcSettings = serde_json::from_value(json!({
        "issuer": issuer,
        "client_id": client_id,
    }))
    .map_err(|e| AppError::Internal(format!("OIDC defaults: {e}")))?;
    if let Some(scopes) = &input.scopes {
        s.scopes = scopes.iter().map(|x| x.trim().to_owned()).collect();
    }
    s.allowed_algs = input.allowed_algs.clone();
    s.claims = claims;
    s.email_trust = input.email_trust.map(Into::into).unwrap_or_default();
    s.hosted_domain = input
        .hosted_domain
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    if let Some(f) = input.fetch_userinfo {
        s.fetch_userinfo = f;
    }
    check_oidc(&s)?;
    Ok(s)
}

fn check_oidc(s: &OidcSettings) -> Result<(), AppError> {
    s.algorithms().map_err(|e| AppError::BadRequest {
        code: "invalid_algorithm",
        message: e.to_string(),
    })?;
    if s.email_trust == EmailTrustKind::Google && s.hosted_domain.is_none() {
        return Err(AppError::bad_request(
            "email_trust `google` needs hosted_domain (the `hd` claim to require)",
        ));
    }
    Ok(())
}

/// Check a SAML connection's settings as the verifier will use them.
fn check_saml(s: &SamlSettings, id: &str) -> Result<(), AppError> {
    url_field("idp_sso_url", &s.idp_sso_url)?;
    s.runtime(&SpUrls::new("https://rollcall.invalid", id))
        .map(|_| ())
        .map_err(saml_error)
}

// ---------------------------------------------------------------- network

/// What the network answered, gathered before the write transaction.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// An issuer whose discovery document and JWKS were loaded.
    pub discovered_issuer: Option<String>,
    /// Metadata fetched from a URL: (url, XML).
    pub metadata: Option<(String, String)>,
}

/// Check an OIDC issuer by discovery (and its JWKS) under `network`.
pub async fn discover(settings: &OidcSettings, network: NetworkPolicy) -> Result<(), AppError> {
    let config = settings
        .runtime(
            SecretString::from("discovery only"),
            &SpUrls::new("https://rollcall.invalid", "discovery"),
            network,
        )
        .map_err(|e| AppError::BadRequest {
            code: "invalid_algorithm",
            message: e.to_string(),
        })?;
    OidcProvider::discover(config)
        .await
        .map(|_| ())
        .map_err(oidc_error)
}

/// IdP metadata from `url` through the network guard (1 MB cap, 10 s timeout).
pub async fn fetch_metadata(url: &str, network: NetworkPolicy) -> Result<String, AppError> {
    let url = url_field("metadata_url", url)?;
    let http = GuardedClient::new(network).map_err(oidc_error)?;
    let (status, _, body) = http
        .send(http.client().get(&url))
        .await
        .map_err(oidc_error)?;
    if !status.is_success() {
        return Err(AppError::BadGateway(format!(
            "metadata URL {url} answered {status}"
        )));
    }
    String::from_utf8(body).map_err(|_| AppError::BadRequest {
        code: "invalid_saml_settings",
        message: format!("metadata at {url} is not UTF-8 text"),
    })
}

/// The network checks a new connection needs. Authorises first, so nobody
/// without `gateway.sso.manage` makes the gateway fetch anything.
pub async fn prepare_create(
    a: &Acting<'_>,
    input: &NewConnection,
    network: NetworkPolicy,
) -> Result<Fetched, AppError> {
    a.require(gate::SSO_MANAGE)?;
    let mut fetched = Fetched::default();
    match input {
        NewConnection::Oidc(o) => {
            let s = oidc_settings(o)?;
            discover(&s, network).await?;
            fetched.discovered_issuer = Some(s.issuer);
        }
        NewConnection::Saml(s) => {
            if let Some(url) = s.metadata_url.as_deref().filter(|u| !u.trim().is_empty()) {
                let xml = fetch_metadata(url, network).await?;
                fetched.metadata = Some((url.trim().to_owned(), xml));
            }
        }
    }
    Ok(fetched)
}

/// The network checks a change needs, given the connection as it is now
/// (read with [`get_row`]).
pub async fn prepare_update(
    current: &IdpConnection,
    patch: &ConnectionPatch,
    network: NetworkPolicy,
) -> Result<Fetched, AppError> {
    let mut fetched = Fetched::default();
    match parse_settings(current)? {
        ConnectionSettings::Oidc(mut s) => {
            if let Some(issuer) = &patch.issuer {
                let issuer = url_field("issuer", issuer)?;
                if issuer != s.issuer {
                    s.issuer = issuer;
                    if let Some(algs) = &patch.allowed_algs {
                        s.allowed_algs = algs.clone();
                    }
                    discover(&s, network).await?;
                    fetched.discovered_issuer = Some(s.issuer);
                }
            }
        }
        ConnectionSettings::Saml(_) => {
            if let Some(url) = patch
                .metadata_url
                .as_deref()
                .filter(|u| !u.trim().is_empty())
            {
                let xml = fetch_metadata(url, network).await?;
                fetched.metadata = Some((url.trim().to_owned(), xml));
            }
        }
    }
    Ok(fetched)
}

// ---------------------------------------------------------------- operations

/// SAML settings from imported metadata, or from the IdP's fields given
/// one by one (entity id, SSO URL, certificates).
fn saml_from_source(
    xml: Option<&str>,
    explicit: Option<(&str, &str, &[String])>,
) -> Result<SamlSettings, AppError> {
    match (xml, explicit) {
        (Some(xml), None) => SamlSettings::from_metadata(xml).map_err(saml_error),
        (None, Some((entity, sso, certs))) => Ok(SamlSettings {
            idp_entity_id: entity.trim().to_owned(),
            idp_sso_url: sso.trim().to_owned(),
            idp_slo_url: None,
            signing_certs: certificates(certs)?,
            sp_entity_id: None,
            subject_attribute: None,
            attributes: SamlAttributes::default(),
            allow_idp_initiated: false,
            clock_skew_secs: 180,
        }),
        _ => Err(one_source()),
    }
}

/// Certificates as PEM or bare base64, stored as base64 DER (what metadata
/// carries); one that does not parse is refused.
fn certificates(raw: &[String]) -> Result<Vec<String>, AppError> {
    raw.iter()
        .map(|c| {
            SigningCertificate::from_pem_or_base64(c)
                .map(|c| c.to_base64())
                .map_err(saml_error)
        })
        .collect()
}

fn one_source() -> AppError {
    AppError::bad_request(
        "give exactly one of metadata_xml, metadata_url, or idp_entity_id with idp_sso_url and signing_certs",
    )
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Create a connection. `fetched` is what [`prepare_create`] gathered for
/// this same input; `base` the gateway's public URL (for the setup URLs).
pub fn create(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    key: &OutboxKey,
    input: NewConnection,
    fetched: &Fetched,
    base: &str,
) -> Result<ConnectionView, AppError> {
    a.require(gate::SSO_MANAGE)?;
    let (ctx, org) = (a.ctx, a.org);
    let id = uuid::Uuid::now_v7().to_string();
    let (name, settings, secret, raw_domains, enabled, metadata_url) = match input {
        NewConnection::Oidc(o) => {
            let s = oidc_settings(&o)?;
            if fetched.discovered_issuer.as_deref() != Some(s.issuer.as_str()) {
                return Err(AppError::Internal(
                    "the issuer was not checked by discovery before the write".into(),
                ));
            }
            let secret = secrecy::ExposeSecret::expose_secret(&o.client_secret).to_owned();
            if secret.is_empty() {
                return Err(AppError::bad_request("client_secret must not be empty"));
            }
            (
                name(&o.name)?,
                ConnectionSettings::Oidc(s),
                Some(seal_secret(key, &id, &secret)),
                o.trusted_domains,
                o.enabled,
                None,
            )
        }
        NewConnection::Saml(s) => {
            let url = non_empty(&s.metadata_url);
            let xml = match (&s.metadata_xml, &url) {
                (Some(x), None) => Some(x.as_str()),
                (None, Some(u)) => match &fetched.metadata {
                    Some((fu, x)) if fu == u => Some(x.as_str()),
                    _ => {
                        return Err(AppError::Internal(
                            "the metadata URL was not fetched before the write".into(),
                        ));
                    }
                },
                (Some(_), Some(_)) => {
                    return Err(AppError::bad_request(
                        "give metadata_xml or metadata_url, not both",
                    ));
                }
                (None, None) => None,
            };
            let explicit = match (&s.idp_entity_id, &s.idp_sso_url) {
                (Some(e), Some(u)) if xml.is_none() => {
                    Some((e.as_str(), u.as_str(), s.signing_certs.as_slice()))
                }
                (None, None) if xml.is_some() && s.signing_certs.is_empty() => None,
                _ => return Err(one_source()),
            };
            let mut settings = saml_from_source(xml, explicit)?;
            settings.idp_slo_url = non_empty(&s.idp_slo_url);
            settings.sp_entity_id = non_empty(&s.sp_entity_id);
            settings.subject_attribute = non_empty(&s.subject_attribute);
            if let Some(attrs) = &s.attributes {
                apply_attributes(&mut settings.attributes, attrs);
            }
            settings.allow_idp_initiated = s.allow_idp_initiated;
            check_saml(&settings, &id)?;
            (
                name(&s.name)?,
                ConnectionSettings::Saml(settings),
                None,
                s.trusted_domains,
                s.enabled,
                url,
            )
        }
    };
    let domains = trusted_domains(conn, &org.id, &raw_domains)?;
    let config = serde_json::to_string(&settings).map_err(StoreError::from)?;
    let domains_json = serde_json::to_string(&domains).map_err(StoreError::from)?;
    let created_by = creator(a);
    rows::insert(
        conn,
        rows::NewConnection {
            id: &id,
            org: &org.id,
            kind: settings.kind(),
            name: &name,
            config: &config,
            secret: secret.as_deref(),
            trusted_domains: &domains_json,
            enabled: enabled.unwrap_or(true),
            owner_approved: acts_as_owner(a),
            created_by: Some(&created_by),
            metadata_url: metadata_url.as_deref(),
            metadata_refreshed_at: metadata_url.as_ref().map(|_| ctx.now),
        },
        ctx.now,
    )?;
    let row = rows::get(conn, &org.id, &id)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "idp_connection.created",
            "idp_connection",
            Some(id.clone()),
            None,
            Some(audit_json(&row)),
        )],
    )?;
    view(&row, base)
}

/// The connection row (authorised; 404 when the org has none of that id).
pub fn get_row(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    id: &str,
) -> Result<IdpConnection, AppError> {
    a.require(gate::SSO_MANAGE)?;
    rows::get(conn, &a.org.id, id).map_err(|e| match e {
        StoreError::NotFound => AppError::not_found("IdP connection", id),
        other => other.into(),
    })
}

pub fn get(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    id: &str,
    base: &str,
) -> Result<ConnectionView, AppError> {
    view(&get_row(conn, a, id)?, base)
}

pub fn list(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    base: &str,
) -> Result<Vec<ConnectionView>, AppError> {
    a.require(gate::SSO_MANAGE)?;
    rows::list(conn, &a.org.id)?
        .iter()
        .map(|r| view(r, base))
        .collect()
}

/// What an owner vouches for: who the IdP is and which emails it may
/// assert. A change to any of it by a non-owner withdraws the approval.
fn vouched(settings: &ConnectionSettings, domains: &[String]) -> Value {
    match settings {
        ConnectionSettings::Oidc(s) => json!({
            "issuer": s.issuer,
            "client_id": s.client_id,
            "allowed_algs": s.allowed_algs,
            "email": s.claims.email,
            "email_verified": s.claims.email_verified,
            "email_trust": s.email_trust,
            "hosted_domain": s.hosted_domain,
            "domains": domains,
        }),
        ConnectionSettings::Saml(s) => {
            let certs: BTreeSet<String> = fingerprints(&s.signing_certs).into_iter().collect();
            json!({
                "idp_entity_id": s.idp_entity_id,
                "certs": certs,
                "sp_entity_id": s.sp_entity_id,
                "subject_attribute": s.subject_attribute,
                "email": s.attributes.email,
                "allow_idp_initiated": s.allow_idp_initiated,
                "domains": domains,
            })
        }
    }
}

fn wrong_kind(field: &str, kind: &str) -> AppError {
    AppError::BadRequest {
        code: "wrong_connection_kind",
        message: format!("`{field}` does not apply to a {kind} connection"),
    }
}

/// Change a connection. `fetched` is what [`prepare_update`] gathered.
#[allow(clippy::too_many_arguments)]
pub fn update(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    key: &OutboxKey,
    id: &str,
    patch: ConnectionPatch,
    fetched: &Fetched,
    base: &str,
) -> Result<ConnectionView, AppError> {
    let (ctx, org) = (a.ctx, a.org);
    let before_row = get_row(conn, a, id)?;
    let before = parse_settings(&before_row)?;
    let before_domains = before_row.trusted_domains();
    let mut after = before.clone();
    let mut metadata_url: Option<Option<String>> = None;
    let mut secret: Option<Vec<u8>> = None;
    match &mut after {
        ConnectionSettings::Oidc(s) => {
            for (field, given) in [
                ("metadata_xml", patch.metadata_xml.is_some()),
                ("metadata_url", patch.metadata_url.is_some()),
                ("idp_entity_id", patch.idp_entity_id.is_some()),
                ("idp_sso_url", patch.idp_sso_url.is_some()),
                ("signing_certs", patch.signing_certs.is_some()),
                ("add_signing_certs", patch.add_signing_certs.is_some()),
                ("sp_entity_id", patch.sp_entity_id.is_some()),
                ("subject_attribute", patch.subject_attribute.is_some()),
                ("attributes", patch.attributes.is_some()),
                ("allow_idp_initiated", patch.allow_idp_initiated.is_some()),
            ] {
                if given {
                    return Err(wrong_kind(field, "OIDC"));
                }
            }
            if let Some(issuer) = &patch.issuer {
                let issuer = url_field("issuer", issuer)?;
                if issuer != s.issuer {
                    if fetched.discovered_issuer.as_deref() != Some(issuer.as_str()) {
                        return Err(AppError::conflict(
                            "the connection changed while its new issuer was checked; try again",
                        ));
                    }
                    s.issuer = issuer;
                }
            }
            if let Some(c) = &patch.client_id {
                let c = c.trim();
                if c.is_empty() {
                    return Err(AppError::bad_request("client_id must not be empty"));
                }
                s.client_id = c.to_owned();
            }
            if let Some(scopes) = &patch.scopes {
                s.scopes = scopes.iter().map(|x| x.trim().to_owned()).collect();
            }
            if let Some(algs) = &patch.allowed_algs {
                s.allowed_algs = algs.clone();
            }
            if let Some(c) = &patch.claims {
                apply_claims(&mut s.claims, c);
            }
            if let Some(t) = patch.email_trust {
                s.email_trust = t.into();
            }
            if let Some(h) = &patch.hosted_domain {
                s.hosted_domain = Some(h.trim().to_owned()).filter(|h| !h.is_empty());
            }
            if let Some(f) = patch.fetch_userinfo {
                s.fetch_userinfo = f;
            }
            check_oidc(s)?;
            if let Some(new) = &patch.client_secret {
                let new = secrecy::ExposeSecret::expose_secret(new);
                if new.is_empty() {
                    return Err(AppError::bad_request("client_secret must not be empty"));
                }
                secret = Some(seal_secret(key, id, new));
            }
        }
        ConnectionSettings::Saml(s) => {
            for (field, given) in [
                ("issuer", patch.issuer.is_some()),
                ("client_id", patch.client_id.is_some()),
                ("client_secret", patch.client_secret.is_some()),
                ("scopes", patch.scopes.is_some()),
                ("allowed_algs", patch.allowed_algs.is_some()),
                ("claims", patch.claims.is_some()),
                ("email_trust", patch.email_trust.is_some()),
                ("hosted_domain", patch.hosted_domain.is_some()),
                ("fetch_userinfo", patch.fetch_userinfo.is_some()),
            ] {
                if given {
                    return Err(wrong_kind(field, "SAML"));
                }
            }
            let url = patch.metadata_url.as_deref().map(str::trim);
            let xml = match (&patch.metadata_xml, url) {
                (Some(_), Some(u)) if !u.is_empty() => {
                    return Err(AppError::bad_request(
                        "give metadata_xml or metadata_url, not both",
                    ));
                }
                (Some(x), _) => Some(x.as_str()),
                (None, Some(u)) if !u.is_empty() => match &fetched.metadata {
                    Some((fu, x)) if fu == u => Some(x.as_str()),
                    _ => {
                        return Err(AppError::conflict(
                            "the metadata URL was not fetched before the write; try again",
                        ));
                    }
                },
                _ => None,
            };
            match url {
                Some("") => metadata_url = Some(None),
                Some(u) => metadata_url = Some(Some(u.to_owned())),
                None if patch.metadata_xml.is_some() => metadata_url = Some(None),
                None => {}
            }
            if let Some(xml) = xml {
                let imported = SamlSettings::from_metadata(xml).map_err(saml_error)?;
                s.idp_entity_id = imported.idp_entity_id;
                s.idp_sso_url = imported.idp_sso_url;
                s.signing_certs = imported.signing_certs;
            }
            if let Some(e) = &patch.idp_entity_id {
                s.idp_entity_id = e.trim().to_owned();
            }
            if let Some(u) = &patch.idp_sso_url {
                s.idp_sso_url = u.trim().to_owned();
            }
            if let Some(certs) = &patch.signing_certs {
                s.signing_certs = certificates(certs)?;
            }
            if let Some(more) = &patch.add_signing_certs {
                for c in certificates(more)? {
                    if !s.signing_certs.contains(&c) {
                        s.signing_certs.push(c);
                    }
                }
            }
            if let Some(e) = &patch.sp_entity_id {
                s.sp_entity_id = Some(e.trim().to_owned()).filter(|e| !e.is_empty());
            }
            if let Some(sa) = &patch.subject_attribute {
                s.subject_attribute = Some(sa.trim().to_owned()).filter(|e| !e.is_empty());
            }
            if let Some(attrs) = &patch.attributes {
                apply_attributes(&mut s.attributes, attrs);
            }
            if let Some(allow) = patch.allow_idp_initiated {
                s.allow_idp_initiated = allow;
            }
            check_saml(s, id)?;
        }
    }
    let domains = match &patch.trusted_domains {
        Some(raw) => trusted_domains(conn, &org.id, raw)?,
        None => before_domains.clone(),
    };
    let name = patch.name.as_deref().map(name).transpose()?;
    let config = serde_json::to_string(&after).map_err(StoreError::from)?;
    let domains_json = serde_json::to_string(&domains).map_err(StoreError::from)?;
    // A non-owner who re-points the connection now vouches for it alone.
    let re_pointed = vouched(&before, &before_domains) != vouched(&after, &domains);
    let withdraw = re_pointed && !acts_as_owner(a);
    let vouching = creator(a);
    if !rows::update(
        conn,
        &org.id,
        id,
        Change {
            name: name.as_deref(),
            config: Some(&config),
            secret: secret.as_deref().map(Some),
            trusted_domains: Some(&domains_json),
            enabled: patch.enabled,
            owner_approved: withdraw.then_some(false),
            created_by: withdraw.then_some(Some(vouching.as_str())),
            metadata_url: metadata_url.as_ref().map(|u| u.as_deref()),
            metadata_refreshed_at: metadata_url
                .as_ref()
                .and_then(|u| u.as_ref().map(|_| ctx.now)),
            unchanged_since: Some(before_row.updated_at),
        },
        ctx.now,
    )? {
        return Err(changed_meanwhile(id));
    }
    let row = rows::get(conn, &org.id, id)?;
    let mut after_json = audit_json(&row);
    if secret.is_some() {
        after_json["client_secret_rotated"] = json!(true);
    }
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "idp_connection.updated",
            "idp_connection",
            Some(id.to_owned()),
            Some(audit_json(&before_row)),
            Some(after_json),
        )],
    )?;
    view(&row, base)
}

fn changed_meanwhile(id: &str) -> AppError {
    AppError::Conflict {
        code: "changed_meanwhile",
        message: format!(
            "IdP connection {id} was changed by another request while this one ran: read it again and retry"
        ),
    }
}

/// An owner approves a connection someone else set up: from then on it may
/// link to and sign in owners.
pub fn approve(
    conn: &mut DbConnection,
    a: &Acting<'_>,
    id: &str,
    base: &str,
) -> Result<ConnectionView, AppError> {
    let (ctx, org) = (a.ctx, a.org);
    let before = get_row(conn, a, id)?;
    if !acts_as_owner(a) {
        return Err(AppError::Forbidden(
            "only an owner approves an IdP connection (it may then sign owners in)".into(),
        ));
    }
    if before.owner_approved {
        return view(&before, base);
    }
    if !rows::update(
        conn,
        &org.id,
        id,
        Change {
            owner_approved: Some(true),
            // What the owner approves is the connection as they read it.
            unchanged_since: Some(before.updated_at),
            ..Change::default()
        },
        ctx.now,
    )? {
        return Err(changed_meanwhile(id));
    }
    let row = rows::get(conn, &org.id, id)?;
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "idp_connection.approved",
            "idp_connection",
            Some(id.to_owned()),
            Some(audit_json(&before)),
            Some(audit_json(&row)),
        )],
    )?;
    view(&row, base)
}

/// Delete a connection and its `sso_claim` group mappings, in one
/// transaction. Removing a mapping needs the right to grant what it gives,
/// as `DELETE …/group-mappings/{id}` does.
pub fn delete(conn: &mut DbConnection, a: &Acting<'_>, id: &str) -> Result<(), AppError> {
    let (ctx, org, op) = (a.ctx, a.org, a.op);
    let row = get_row(conn, a, id)?;
    let mappings: Vec<_> = store::mappings::for_source(conn, &org.id, id)?
        .into_iter()
        .filter(|m| m.mapping.kind == MappingKind::SsoClaim)
        .collect();
    let mut events = Vec::new();
    for m in &mappings {
        a.authority
            .may_grant_role(&op.policy, &m.mapping.role, &BindingScope::Org)?;
        a.authority.may_grant_workspaces(
            op,
            &authz::WorkspaceList::Only(m.mapping.workspaces.iter().cloned().collect()),
        )?;
        store::mappings::delete(conn, &org.id, m.mapping.id.as_str())?;
        events.push(ctx.event(
            Some(&org.id),
            "group_mapping.deleted",
            "group_mapping",
            Some(m.mapping.id.to_string()),
            Some(crate::service::roles::mapping_view(op, m)),
            None,
        ));
    }
    if !mappings.is_empty() {
        // Bindings those mappings gave at login go with them.
        crate::service::role_sources::reapply_connection(conn, ctx, org, op, id)?;
    }
    if !rows::delete(conn, &org.id, id)? {
        return Err(AppError::not_found("IdP connection", id));
    }
    events.push(ctx.event(
        Some(&org.id),
        "idp_connection.deleted",
        "idp_connection",
        Some(id.to_owned()),
        Some(audit_json(&row)),
        None,
    ));
    audit::insert(conn, &events)?;
    Ok(())
}

// ---------------------------------------------------------------- metadata refresh

/// One refresh round's result.
#[derive(Debug, Default)]
pub struct RefreshReport {
    pub checked: usize,
    /// Connections whose entity id, SSO URL or certificates changed.
    pub changed: Vec<String>,
    /// Connections whose metadata could not be fetched or used: (id, reason).
    pub failed: Vec<(String, String)>,
}

/// Re-fetch the metadata of every connection with a metadata URL that was
/// last fetched before `due` (or never). A change of the IdP's entity id,
/// SSO URL or certificate set is stored and audited
/// (`idp_connection.metadata_changed`, with fingerprints); a fetch or parse
/// failure is logged and leaves the connection as it is.
pub async fn refresh_metadata(
    store: &Store,
    network: NetworkPolicy,
    due: NaiveDateTime,
) -> RefreshReport {
    let mut report = RefreshReport::default();
    let due_rows = match store.read(rows::with_metadata_url).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "IdP metadata refresh: cannot list connections");
            return report;
        }
    };
    for row in due_rows {
        let Some(url) = row.metadata_url.clone() else {
            continue;
        };
        if row.metadata_refreshed_at.is_some_and(|t| t >= due) {
            continue;
        }
        report.checked += 1;
        let fetched = fetch_metadata(&url, network)
            .await
            .and_then(|xml| SamlSettings::from_metadata(&xml).map_err(saml_error));
        let imported = match fetched {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(connection = %row.id, %url, error = %e, "IdP metadata refresh failed; the connection keeps its settings");
                report.failed.push((row.id.clone(), e.to_string()));
                continue;
            }
        };
        let id = row.id.clone();
        let org = OrgId::from_trusted(row.org_id.clone());
        let applied = store
            .write(move |c| apply_refresh(c, &org, &id, &url, &imported))
            .await;
        match applied {
            Ok(true) => report.changed.push(row.id.clone()),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(connection = %row.id, error = %e, "IdP metadata refresh: cannot store");
                report.failed.push((row.id.clone(), e.to_string()));
            }
        }
    }
    report
}

/// Store a refreshed import; `true` when the IdP's side changed.
fn apply_refresh(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &str,
    url: &str,
    imported: &SamlSettings,
) -> Result<bool, AppError> {
    let ctx = Ctx::new(crate::domain::audit::Actor::system(), None);
    let row = match rows::get(conn, org, id) {
        Ok(r) => r,
        Err(StoreError::NotFound) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    // Changed meanwhile (another URL, or no longer fetched): leave it.
    if row.metadata_url.as_deref() != Some(url) {
        return Ok(false);
    }
    let ConnectionSettings::Saml(mut s) = parse_settings(&row)? else {
        return Ok(false);
    };
    let cert_set =
        |certs: &[String]| -> BTreeSet<String> { fingerprints(certs).into_iter().collect() };
    let changed = s.idp_entity_id != imported.idp_entity_id
        || s.idp_sso_url != imported.idp_sso_url
        || cert_set(&s.signing_certs) != cert_set(&imported.signing_certs);
    if !changed {
        rows::update(
            conn,
            org,
            id,
            Change {
                metadata_refreshed_at: Some(ctx.now),
                ..Change::default()
            },
            ctx.now,
        )?;
        return Ok(false);
    }
    let side = |s: &SamlSettings| {
        json!({
            "idp_entity_id": s.idp_entity_id,
            "idp_sso_url": s.idp_sso_url,
            "signing_certs": fingerprints(&s.signing_certs),
            "metadata_url": url,
        })
    };
    let before = side(&s);
    s.idp_entity_id = imported.idp_entity_id.clone();
    s.idp_sso_url = imported.idp_sso_url.clone();
    s.signing_certs = imported.signing_certs.clone();
    let config =
        serde_json::to_string(&ConnectionSettings::Saml(s.clone())).map_err(StoreError::from)?;
    if !rows::update(
        conn,
        org,
        id,
        Change {
            config: Some(&config),
            metadata_refreshed_at: Some(ctx.now),
            unchanged_since: Some(row.updated_at),
            ..Change::default()
        },
        ctx.now,
    )? {
        // An admin changed the connection meanwhile: the next round sees it.
        return Ok(false);
    }
    audit::insert(
        conn,
        &[ctx.event(
            Some(org),
            "idp_connection.metadata_changed",
            "idp_connection",
            Some(id.to_owned()),
            Some(before),
            Some(side(&s)),
        )],
    )?;
    tracing::info!(connection = %id, %url, "IdP metadata changed; stored and audited");
    Ok(true)
}
