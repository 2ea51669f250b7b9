//! rollcall as a SAML 2.0 service provider (SAML 2.0 Core, Bindings §3.4
//! HTTP-Redirect and §3.5 HTTP-POST, Profiles §4.1 Web Browser SSO).
//!
//! samael does the XML-signature cryptography (xmlsec); everything it leaves
//! to its caller is done here — see [`verify_response`] for the full list:
//! refusing DTDs, a structural check of the raw document against signature
//! wrapping (OWASP SAML cheat sheet), verification with pinned certificates
//! only, claims read only from the verified node, Status / Destination /
//! InResponseTo / Issuer / Audience / Recipient / validity windows, and the
//! replay cache (a [`ReplayCache`] the caller implements with the database).
//!
//! A connection cannot exist without a pinned IdP signing certificate:
//! samael accepts unsigned responses when it has none, so
//! [`SamlConnectionConfig::new`] refuses that configuration.

pub mod logout;
mod verify;

#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixture;

#[cfg(test)]
mod tests;

use std::io::Write;
use std::str::FromStr;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer};
use samael::metadata::{EntityDescriptor, IndexedEndpoint, KeyDescriptor, SpSsoDescriptor};
use samael::schema::{AuthnRequest, Issuer, NameIdPolicy};
use samael::traits::ToXml;

pub use verify::{
    Expected, MemoryReplayCache, ReplayCache, ReplayCacheError, SamlRejection, VerifiedAssertion,
    VerifiedAttributes, verify_response,
};

/// The SAML 2.0 protocol namespace.
pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// The SAML 2.0 assertion namespace.
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// The XML-signature namespace.
pub const NS_XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// NameID formats (SAML 2.0 Core §8.3).
pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
pub const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
pub const BINDING_HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// Default allowance for clock differences between rollcall and the IdP.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::seconds(180);
/// Default cap on a decoded SAMLResponse (real responses are 5–30 KB).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// How old an assertion's IssueInstant may be (beyond the skew).
pub const DEFAULT_MAX_ASSERTION_AGE: Duration = Duration::seconds(300);

/// A configuration that cannot be used, or metadata that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlConfigError {
    #[error("a SAML connection needs at least one pinned IdP signing certificate")]
    NoSigningCertificate,
    #[error("an IdP signing certificate is not a valid X.509 certificate: {0}")]
    InvalidCertificate(String),
    #[error("IdP metadata is not usable: {0}")]
    InvalidMetadata(String),
    #[error("{0} must not be empty")]
    Missing(&'static str),
    #[error("signature algorithms must be RSA-SHA256 or stronger; at least one is needed")]
    WeakAlgorithms,
    #[error("cannot build the SAML message: {0}")]
    Build(String),
}

/// A pinned IdP signing certificate (DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCertificate(Vec<u8>);

impl SigningCertificate {
    /// A DER-encoded X.509 certificate; refused unless it parses.
    pub fn from_der(der: Vec<u8>) -> Result<Self, SamlConfigError> {
        openssl::x509::X509::from_der(&der)
            .map_err(|e| SamlConfigError::InvalidCertificate(e.to_string()))?;
        Ok(SigningCertificate(der))
    }

    /// A PEM certificate, or the bare base64 body found in metadata.
    pub fn from_pem_or_base64(text: &str) -> Result<Self, SamlConfigError> {
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .flat_map(|l| l.chars())
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| SamlConfigError::InvalidCertificate(e.to_string()))?;
        Self::from_der(der)
    }

    pub fn der(&self) -> &[u8] {
        &self.0
    }

    /// Base64 of the DER, as it appears in metadata `X509Certificate`.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }
}

/// The IdP side of a connection: what its metadata says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpDescriptor {
    pub entity_id: String,
    /// The SingleSignOnService location for the HTTP-Redirect binding.
    pub sso_url: Option<String>,
    pub signing_certs: Vec<SigningCertificate>,
}

impl IdpDescriptor {
    /// Reads an IdP `EntityDescriptor` (SAML 2.0 Metadata §2.3.2): entity id,
    /// the HTTP-Redirect SSO location and every signing certificate (a
    /// `KeyDescriptor` with `use="signing"` or no `use`). A DOCTYPE is refused.
    pub fn from_metadata_xml(xml: &str) -> Result<Self, SamlConfigError> {
        if contains_doctype(xml) {
            return Err(SamlConfigError::InvalidMetadata(
                "a DOCTYPE is not accepted in metadata".into(),
            ));
        }
        let entity = EntityDescriptor::from_str(xml)
            .map_err(|e| SamlConfigError::InvalidMetadata(e.to_string()))?;
        let entity_id = entity
            .entity_id
            .clone()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| SamlConfigError::InvalidMetadata("no entityID".into()))?;
        let idps = entity.idp_sso_descriptors.unwrap_or_default();
        if idps.is_empty() {
            return Err(SamlConfigError::InvalidMetadata(
                "no IDPSSODescriptor".into(),
            ));
        }
        let mut sso_url = None;
        let mut signing_certs: Vec<SigningCertificate> = Vec::new();
        for idp in &idps {
            if sso_url.is_none() {
                sso_url = idp
                    .single_sign_on_services
                    .iter()
                    .find(|s| s.binding == BINDING_HTTP_REDIRECT)
                    .map(|s| s.location.clone());
            }
            for kd in idp.key_descriptors.iter().filter(|k| is_signing(k)) {
                for cert in kd
                    .key_info
                    .x509_data
                    .iter()
                    .flat_map(|d| d.certificates.iter())
                {
                    let cert = SigningCertificate::from_pem_or_base64(cert)?;
                    if !signing_certs.contains(&cert) {
                        signing_certs.push(cert);
                    }
                }
            }
        }
        if signing_certs.is_empty() {
            return Err(SamlConfigError::NoSigningCertificate);
        }
        Ok(IdpDescriptor {
            entity_id,
            sso_url,
            signing_certs,
        })
    }
}

fn is_signing(k: &KeyDescriptor) -> bool {
    matches!(k.key_use.as_deref(), None | Some("signing"))
}

/// Where the stable subject of an identity comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectSource {
    /// The NameID, which must have the persistent format.
    PersistentNameId,
    /// A named attribute the IdP keeps immutable per person (e.g. an object id).
    Attribute(String),
}

/// Attribute names (the `Name` of `saml:Attribute`) read into the identity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributeNames {
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub groups: Option<String>,
}

/// One SAML connection as the verifier sees it. Fields are private so that a
/// value always holds at least one pinned signing certificate.
#[derive(Debug, Clone)]
pub struct SamlConnectionConfig {
    sp_entity_id: String,
    acs_url: String,
    idp: IdpDescriptor,
    certs_der: Vec<CertificateDer>,
    allowed_algorithms: Vec<AllowedSignatureAlgorithm>,
    clock_skew: Duration,
    max_assertion_age: Duration,
    max_response_bytes: usize,
    allow_idp_initiated: bool,
    subject_source: SubjectSource,
    attributes: AttributeNames,
    /// Our Single Logout endpoint (HTTP-Redirect), published in SP metadata.
    slo_url: Option<String>,
}

impl SamlConnectionConfig {
    /// A connection with the defaults: RSA-SHA256/384/512, skew 180 s,
    /// 256 KB cap, SP-initiated only, persistent NameID as the subject.
    pub fn new(
        sp_entity_id: impl Into<String>,
        acs_url: impl Into<String>,
        idp: IdpDescriptor,
    ) -> Result<Self, SamlConfigError> {
        let sp_entity_id = sp_entity_id.into();
        let acs_url = acs_url.into();
        if sp_entity_id.trim().is_empty() {
            return Err(SamlConfigError::Missing("SP entity id"));
        }
        if acs_url.trim().is_empty() {
            return Err(SamlConfigError::Missing("ACS URL"));
        }
        if idp.entity_id.trim().is_empty() {
            return Err(SamlConfigError::Missing("IdP entity id"));
        }
        if idp.signing_certs.is_empty() {
            return Err(SamlConfigError::NoSigningCertificate);
        }
        let certs_der = idp
            .signing_certs
            .iter()
            .map(|c| CertificateDer::from(c.der().to_vec()))
            .collect();
        Ok(SamlConnectionConfig {
            sp_entity_id,
            acs_url,
            idp,
            certs_der,
            allowed_algorithms: vec![
                AllowedSignatureAlgorithm::RsaSha256,
                AllowedSignatureAlgorithm::RsaSha384,
                AllowedSignatureAlgorithm::RsaSha512,
            ],
            clock_skew: DEFAULT_CLOCK_SKEW,
            max_assertion_age: DEFAULT_MAX_ASSERTION_AGE,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            allow_idp_initiated: false,
            subject_source: SubjectSource::PersistentNameId,
            attributes: AttributeNames::default(),
            slo_url: None,
        })
    }

    /// Restricts (or widens within SHA-256+) the accepted signature algorithms.
    pub fn with_allowed_algorithms(
        mut self,
        algorithms: Vec<AllowedSignatureAlgorithm>,
    ) -> Result<Self, SamlConfigError> {
        use AllowedSignatureAlgorithm as A;
        let weak = algorithms
            .iter()
            .any(|a| matches!(a, A::RsaSha224 | A::EcdsaSha224 | A::DsaSha256));
        if algorithms.is_empty() || weak {
            return Err(SamlConfigError::WeakAlgorithms);
        }
        self.allowed_algorithms = algorithms;
        Ok(self)
    }

    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew.max(Duration::zero());
        self
    }

    pub fn with_max_assertion_age(mut self, age: Duration) -> Self {
        self.max_assertion_age = age.max(Duration::zero());
        self
    }

    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    pub fn with_idp_initiated(mut self, allow: bool) -> Self {
        self.allow_idp_initiated = allow;
        self
    }

    pub fn with_subject_source(mut self, source: SubjectSource) -> Self {
        self.subject_source = source;
        self
    }

    pub fn with_attributes(mut self, names: AttributeNames) -> Self {
        self.attributes = names;
        self
    }

    /// Publishes our Single Logout endpoint (HTTP-Redirect) in SP metadata.
    pub fn with_slo_url(mut self, url: impl Into<String>) -> Self {
        self.slo_url = Some(url.into());
        self
    }

    pub fn sp_entity_id(&self) -> &str {
        &self.sp_entity_id
    }
    pub fn acs_url(&self) -> &str {
        &self.acs_url
    }
    pub fn idp(&self) -> &IdpDescriptor {
        &self.idp
    }
    pub fn clock_skew(&self) -> Duration {
        self.clock_skew
    }
    pub fn allow_idp_initiated(&self) -> bool {
        self.allow_idp_initiated
    }
    pub fn subject_source(&self) -> &SubjectSource {
        &self.subject_source
    }

    /// SP metadata (SAML 2.0 Metadata §2.4.4) for the IdP admin: entity id,
    /// the HTTP-POST ACS, persistent NameID, signed assertions wanted.
    /// `sp_signing_cert` is published when the SP signs its AuthnRequests.
    pub fn sp_metadata_xml(
        &self,
        sp_signing_cert: Option<&SigningCertificate>,
    ) -> Result<String, SamlConfigError> {
        let key_descriptors = sp_signing_cert.map(|c| {
            vec![KeyDescriptor {
                key_use: Some("signing".into()),
                key_info: samael::key_info::KeyInfo {
                    id: None,
                    x509_data: Some(samael::key_info::X509Data {
                        certificates: vec![c.to_base64()],
                    }),
                },
                encryption_methods: None,
            }]
        });
        let sp = SpSsoDescriptor {
            protocol_support_enumeration: Some(NS_PROTOCOL.into()),
            key_descriptors,
            name_id_formats: Some(vec![NAMEID_PERSISTENT.into()]),
            authn_requests_signed: Some(sp_signing_cert.is_some()),
            want_assertions_signed: Some(true),
            single_logout_services: self.slo_url.as_ref().map(|location| {
                vec![samael::metadata::Endpoint {
                    binding: BINDING_HTTP_REDIRECT.into(),
                    location: location.clone(),
                    response_location: None,
                }]
            }),
            assertion_consumer_services: vec![IndexedEndpoint {
                binding: BINDING_HTTP_POST.into(),
                location: self.acs_url.clone(),
                response_location: None,
                index: 0,
                is_default: Some(true),
            }],
            ..SpSsoDescriptor::default()
        };
        let entity = EntityDescriptor {
            entity_id: Some(self.sp_entity_id.clone()),
            sp_sso_descriptors: Some(vec![sp]),
            ..EntityDescriptor::default()
        };
        entity
            .to_string()
            .map_err(|e| SamlConfigError::Build(e.to_string()))
    }

    /// An AuthnRequest for the HTTP-Redirect binding (Bindings §3.4.4.1:
    /// DEFLATE, base64, `SAMLRequest` and `RelayState` query parameters).
    /// The returned `request_id` goes into the caller's pre-login record and
    /// comes back as `InResponseTo`.
    pub fn authn_request_redirect(
        &self,
        relay_state: &str,
        now: DateTime<Utc>,
    ) -> Result<AuthnRedirect, SamlConfigError> {
        let destination = self
            .idp
            .sso_url
            .clone()
            .ok_or(SamlConfigError::Missing("IdP SSO URL (HTTP-Redirect)"))?;
        let request_id = format!("_{}", hex::encode(rand::random::<[u8; 20]>()));
        let request = AuthnRequest {
            id: request_id.clone(),
            version: "2.0".into(),
            issue_instant: now,
            destination: Some(destination.clone()),
            issuer: Some(Issuer {
                value: Some(self.sp_entity_id.clone()),
                ..Issuer::default()
            }),
            name_id_policy: Some(NameIdPolicy {
                format: Some(match self.subject_source {
                    SubjectSource::PersistentNameId => NAMEID_PERSISTENT.into(),
                    SubjectSource::Attribute(_) => {
                        "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified".into()
                    }
                }),
                sp_name_qualifier: None,
                allow_create: Some(true),
            }),
            assertion_consumer_service_url: Some(self.acs_url.clone()),
            protocol_binding: Some(BINDING_HTTP_POST.into()),
            ..AuthnRequest::default()
        };
        let xml = request
            .to_string()
            .map_err(|e| SamlConfigError::Build(format!("{e:?}")))?;
        let mut deflated = Vec::new();
        {
            let mut encoder =
                flate2::write::DeflateEncoder::new(&mut deflated, flate2::Compression::default());
            encoder
                .write_all(xml.as_bytes())
                .and_then(|_| encoder.finish().map(|_| ()))
                .map_err(|e| SamlConfigError::Build(e.to_string()))?;
        }
        let mut url = url::Url::parse(&destination)
            .map_err(|e| SamlConfigError::InvalidMetadata(format!("SSO URL: {e}")))?;
        url.query_pairs_mut().append_pair(
            "SAMLRequest",
            &base64::engine::general_purpose::STANDARD.encode(&deflated),
        );
        if !relay_state.is_empty() {
            url.query_pairs_mut().append_pair("RelayState", relay_state);
        }
        Ok(AuthnRedirect { url, request_id })
    }

    pub(crate) fn certs_der(&self) -> &[CertificateDer] {
        &self.certs_der
    }
    pub(crate) fn allowed_algorithms(&self) -> &[AllowedSignatureAlgorithm] {
        &self.allowed_algorithms
    }
    pub(crate) fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }
    pub(crate) fn max_assertion_age(&self) -> Duration {
        self.max_assertion_age
    }
    pub(crate) fn attribute_names(&self) -> &AttributeNames {
        &self.attributes
    }
}

/// Where to send the browser, and the id to keep in the pre-login record.
#[derive(Debug, Clone)]
pub struct AuthnRedirect {
    pub url: url::Url,
    pub request_id: String,
}

/// A DOCTYPE anywhere (case-insensitive) — DTDs and entities are refused.
pub(crate) fn contains_doctype(xml: &str) -> bool {
    xml.as_bytes()
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"<!DOCTYPE"))
}
