//! An IdP connection's stored settings (the `config` column of
//! `idp_connections`, issue "8 of 11" item 1) and their conversion into the
//! verification cores' runtime configurations. Secrets are not here: the
//! OIDC client secret is sealed in its own column and handed in by the caller.
//!
//! The URLs the IdP admin enters are derived from the gateway's public URL
//! and the connection id ([`SpUrls`]), so they never change when an org is
//! renamed.

use std::time::Duration as StdDuration;

use chrono::Duration;
use openidconnect::core::CoreJwsSigningAlgorithm;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::configuration::OutboxKey;

use super::oidc::{ClaimNames, EmailTrust, NetworkPolicy, OidcConfig};
use super::saml::{
    AttributeNames, IdpDescriptor, SamlConfigError, SamlConnectionConfig, SigningCertificate,
    SubjectSource,
};

/// A connection's settings, tagged by protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectionSettings {
    Oidc(OidcSettings),
    Saml(SamlSettings),
}

impl ConnectionSettings {
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectionSettings::Oidc(_) => "oidc",
            ConnectionSettings::Saml(_) => "saml",
        }
    }
}

/// How an OIDC IdP vouches for email addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailTrustKind {
    /// `email_verified: true`; a missing claim is false.
    #[default]
    Standard,
    /// Microsoft Entra ID: `xms_edov: true`.
    Entra,
    /// Google: `email_verified` and the `hd` claim equal to `hosted_domain`.
    Google,
}

/// Claim names (OIDC) read into the identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcClaims {
    pub email: String,
    pub email_verified: String,
    pub given_name: String,
    pub family_name: String,
    pub name: String,
    /// The claim holding group names or ids; `None` reads no groups.
    pub groups: Option<String>,
}

impl Default for OidcClaims {
    fn default() -> Self {
        let d = ClaimNames::default();
        OidcClaims {
            email: d.email,
            email_verified: d.email_verified,
            given_name: d.given_name,
            family_name: d.family_name,
            name: d.name,
            groups: d.groups,
        }
    }
}

fn default_scopes() -> Vec<String> {
    vec!["email".into(), "profile".into()]
}

fn default_true() -> bool {
    true
}

fn default_skew() -> u32 {
    180
}

/// An OIDC relying-party connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// Exactly as the IdP's discovery document states it.
    pub issuer: String,
    pub client_id: String,
    /// Scopes besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// JWS algorithm names (`RS256`, `ES256`, …); empty means every
    /// asymmetric algorithm. `none` and HMAC are refused.
    #[serde(default)]
    pub allowed_algs: Vec<String>,
    #[serde(default)]
    pub claims: OidcClaims,
    #[serde(default)]
    pub email_trust: EmailTrustKind,
    /// Google's hosted domain (`hd`) that must match when `email_trust` is `google`.
    #[serde(default)]
    pub hosted_domain: Option<String>,
    #[serde(default = "default_true")]
    pub fetch_userinfo: bool,
    #[serde(default = "default_skew")]
    pub clock_skew_secs: u32,
}

/// Attribute names (SAML) read into the identity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamlAttributes {
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub groups: Option<String>,
}

/// A SAML service-provider connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlSettings {
    pub idp_entity_id: String,
    /// The IdP's SingleSignOnService for the HTTP-Redirect binding.
    pub idp_sso_url: String,
    /// The IdP's SingleLogoutService (HTTP-Redirect), when it has one.
    #[serde(default)]
    pub idp_slo_url: Option<String>,
    /// Pinned signing certificates (base64 DER); several during a rollover.
    pub signing_certs: Vec<String>,
    /// Our entity id; `None` means the connection's metadata URL.
    #[serde(default)]
    pub sp_entity_id: Option<String>,
    /// An immutable attribute to key identities by instead of a persistent NameID.
    #[serde(default)]
    pub subject_attribute: Option<String>,
    #[serde(default)]
    pub attributes: SamlAttributes,
    #[serde(default)]
    pub allow_idp_initiated: bool,
    #[serde(default = "default_skew")]
    pub clock_skew_secs: u32,
}

impl SamlSettings {
    /// Settings from IdP metadata, with the given attribute names.
    pub fn from_metadata(xml: &str) -> Result<SamlSettings, SamlConfigError> {
        let idp = IdpDescriptor::from_metadata_xml(xml)?;
        let sso_url = idp
            .sso_url
            .clone()
            .ok_or(SamlConfigError::Missing("IdP SSO URL (HTTP-Redirect)"))?;
        Ok(SamlSettings {
            idp_entity_id: idp.entity_id.clone(),
            idp_sso_url: sso_url,
            idp_slo_url: None,
            signing_certs: idp.signing_certs.iter().map(|c| c.to_base64()).collect(),
            sp_entity_id: None,
            subject_attribute: None,
            attributes: SamlAttributes::default(),
            allow_idp_initiated: false,
            clock_skew_secs: default_skew(),
        })
    }

    /// The verifier's configuration. Refuses a connection without a usable
    /// signing certificate.
    pub fn runtime(&self, urls: &SpUrls) -> Result<SamlConnectionConfig, SamlConfigError> {
        let certs = self
            .signing_certs
            .iter()
            .map(|c| SigningCertificate::from_pem_or_base64(c))
            .collect::<Result<Vec<_>, _>>()?;
        let idp = IdpDescriptor {
            entity_id: self.idp_entity_id.clone(),
            sso_url: Some(self.idp_sso_url.clone()),
            signing_certs: certs,
        };
        let sp_entity_id = self
            .sp_entity_id
            .clone()
            .unwrap_or_else(|| urls.saml_metadata.clone());
        Ok(
            SamlConnectionConfig::new(sp_entity_id, urls.saml_acs.clone(), idp)?
                .with_clock_skew(Duration::seconds(i64::from(self.clock_skew_secs)))
                .with_idp_initiated(self.allow_idp_initiated)
                .with_slo_url(urls.saml_slo.clone())
                .with_subject_source(match &self.subject_attribute {
                    Some(a) => SubjectSource::Attribute(a.clone()),
                    None => SubjectSource::PersistentNameId,
                })
                .with_attributes(AttributeNames {
                    email: self.attributes.email.clone(),
                    given_name: self.attributes.given_name.clone(),
                    family_name: self.attributes.family_name.clone(),
                    display_name: self.attributes.display_name.clone(),
                    groups: self.attributes.groups.clone(),
                }),
        )
    }
}

/// An algorithm name that is not an accepted asymmetric JWS algorithm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an accepted ID token algorithm (asymmetric JWS algorithms only)")]
pub struct UnknownAlgorithm(pub String);

impl OidcSettings {
    pub fn algorithms(&self) -> Result<Vec<CoreJwsSigningAlgorithm>, UnknownAlgorithm> {
        use CoreJwsSigningAlgorithm as A;
        self.allowed_algs
            .iter()
            .map(|name| {
                Ok(match name.as_str() {
                    "RS256" => A::RsaSsaPkcs1V15Sha256,
                    "RS384" => A::RsaSsaPkcs1V15Sha384,
                    "RS512" => A::RsaSsaPkcs1V15Sha512,
                    "PS256" => A::RsaSsaPssSha256,
                    "PS384" => A::RsaSsaPssSha384,
                    "PS512" => A::RsaSsaPssSha512,
                    "ES256" => A::EcdsaP256Sha256,
                    "ES384" => A::EcdsaP384Sha384,
                    "EdDSA" => A::EdDsa,
                    other => return Err(UnknownAlgorithm(other.to_owned())),
                })
            })
            .collect()
    }

    /// The relying party's configuration.
    pub fn runtime(
        &self,
        client_secret: SecretString,
        urls: &SpUrls,
        network: NetworkPolicy,
    ) -> Result<OidcConfig, UnknownAlgorithm> {
        let mut config = OidcConfig::new(
            self.issuer.clone(),
            self.client_id.clone(),
            client_secret,
            urls.oidc_redirect.clone(),
        );
        config.scopes = self.scopes.clone();
        let algs = self.algorithms()?;
        if !algs.is_empty() {
            config.allowed_algs = algs;
        }
        config.claims = ClaimNames {
            email: self.claims.email.clone(),
            email_verified: self.claims.email_verified.clone(),
            given_name: self.claims.given_name.clone(),
            family_name: self.claims.family_name.clone(),
            name: self.claims.name.clone(),
            groups: self.claims.groups.clone(),
        };
        config.email_trust = match self.email_trust {
            EmailTrustKind::Standard => EmailTrust::Standard,
            EmailTrustKind::Entra => EmailTrust::Entra,
            EmailTrustKind::Google => EmailTrust::Google {
                hosted_domain: self.hosted_domain.clone(),
            },
        };
        config.fetch_userinfo = self.fetch_userinfo;
        config.clock_skew = Duration::seconds(i64::from(self.clock_skew_secs));
        config.network = network;
        config.jwks_min_refresh = StdDuration::from_secs(60);
        Ok(config)
    }
}

/// The OIDC client secret sealed for the `secret` column, bound to the
/// connection id (a sealed value copied onto another row does not open).
pub fn seal_secret(key: &OutboxKey, connection_id: &str, secret: &str) -> Vec<u8> {
    crate::email::seal::seal(key, &format!("idp:{connection_id}"), secret.as_bytes())
}

/// The client secret, or `None` when the key is not the one that sealed it.
pub fn open_secret(key: &OutboxKey, connection_id: &str, sealed: &[u8]) -> Option<SecretString> {
    let plain = crate::email::seal::open(key, &format!("idp:{connection_id}"), sealed)?;
    String::from_utf8(plain).ok().map(SecretString::from)
}

/// What the IdP admin enters, derived from the gateway's public base URL
/// (no trailing slash) and the connection id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpUrls {
    /// OIDC: the redirect URI to register at the IdP.
    pub oidc_redirect: String,
    /// SAML: the Assertion Consumer Service (HTTP-POST).
    pub saml_acs: String,
    /// SAML: our metadata, also the default SP entity id.
    pub saml_metadata: String,
    /// SAML: the Single Logout endpoint.
    pub saml_slo: String,
}

impl SpUrls {
    pub fn new(base: &str, connection_id: &str) -> SpUrls {
        let base = base.trim_end_matches('/');
        SpUrls {
            oidc_redirect: format!("{base}/sso/oidc/{connection_id}/callback"),
            saml_acs: format!("{base}/sso/saml/{connection_id}/acs"),
            saml_metadata: format!("{base}/sso/saml/{connection_id}/metadata"),
            saml_slo: format!("{base}/sso/saml/{connection_id}/slo"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_with_defaults() {
        let raw = r#"{"kind":"oidc","issuer":"https://idp.example","client_id":"c"}"#;
        let s: ConnectionSettings = serde_json::from_str(raw).unwrap();
        let ConnectionSettings::Oidc(o) = &s else {
            panic!("oidc expected")
        };
        assert_eq!(o.scopes, vec!["email", "profile"]);
        assert!(o.fetch_userinfo);
        assert_eq!(o.claims.groups.as_deref(), Some("groups"));
        let back: ConnectionSettings =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn unknown_or_symmetric_algorithms_are_refused() {
        let mut o: OidcSettings =
            serde_json::from_str(r#"{"issuer":"https://i","client_id":"c"}"#).unwrap();
        o.allowed_algs = vec!["RS256".into(), "HS256".into()];
        assert_eq!(o.algorithms(), Err(UnknownAlgorithm("HS256".into())));
        o.allowed_algs = vec!["none".into()];
        assert!(o.algorithms().is_err());
        o.allowed_algs = vec!["ES256".into()];
        assert_eq!(
            o.algorithms().unwrap(),
            vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]
        );
    }

    #[test]
    fn a_saml_connection_without_certificates_is_refused() {
        let s = SamlSettings {
            idp_entity_id: "https://idp".into(),
            idp_sso_url: "https://idp/sso".into(),
            idp_slo_url: None,
            signing_certs: vec![],
            sp_entity_id: None,
            subject_attribute: None,
            attributes: SamlAttributes::default(),
            allow_idp_initiated: false,
            clock_skew_secs: 180,
        };
        let urls = SpUrls::new("https://gw.example/", "c1");
        assert_eq!(urls.saml_acs, "https://gw.example/sso/saml/c1/acs");
        assert!(matches!(
            s.runtime(&urls),
            Err(SamlConfigError::NoSigningCertificate)
        ));
    }
}
