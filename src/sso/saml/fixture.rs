//! A test SAML IdP: an RSA-2048 key and self-signed certificate generated at
//! run time, and responses signed for real with xmlsec (RSA-SHA256 signature,
//! SHA-256 digest, exclusive C14N). Used by the unit tests and the
//! `saml_verify` benchmark; never configured by the gateway itself.
//!
//! Built from samael's schema types rather than its `sign_authn_response`,
//! which omits `SubjectConfirmationData/@NotOnOrAfter` and digests with SHA-1.

use chrono::{DateTime, Duration, Utc};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};
use samael::attribute::{Attribute, AttributeValue};
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use samael::schema::{
    Assertion, AttributeStatement, AudienceRestriction, AuthnContext, AuthnContextClassRef,
    AuthnStatement, Conditions, Issuer, Response, Status, StatusCode, Subject, SubjectConfirmation,
    SubjectConfirmationData, SubjectNameID,
};
use samael::signature::{DigestAlgorithm, Signature};
use samael::traits::ToXml;

use super::{IdpDescriptor, NAMEID_PERSISTENT, SigningCertificate};

/// Which elements the test IdP signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    Response,
    Assertion,
    Both,
    Neither,
}

/// One key pair and its self-signed certificate.
pub struct TestIdp {
    pub entity_id: String,
    key_der: Vec<u8>,
    cert: SigningCertificate,
}

impl TestIdp {
    /// Generates a fresh RSA-2048 key and a self-signed certificate.
    pub fn generate(entity_id: &str) -> TestIdp {
        let rsa = Rsa::generate(2048).expect("RSA key generation");
        let key = PKey::from_rsa(rsa).expect("PKey");
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", "rollcall test idp")
            .expect("CN");
        let name = name.build();
        let mut builder = X509Builder::new().expect("x509");
        builder.set_version(2).expect("version");
        let mut serial = BigNum::new().expect("bn");
        serial
            .rand(64, MsbOption::MAYBE_ZERO, false)
            .expect("serial");
        builder
            .set_serial_number(&serial.to_asn1_integer().expect("serial"))
            .expect("serial");
        builder.set_subject_name(&name).expect("subject");
        builder.set_issuer_name(&name).expect("issuer");
        builder.set_pubkey(&key).expect("pubkey");
        builder
            .set_not_before(&Asn1Time::days_from_now(0).expect("time"))
            .expect("nb");
        builder
            .set_not_after(&Asn1Time::days_from_now(365).expect("time"))
            .expect("na");
        builder.sign(&key, MessageDigest::sha256()).expect("sign");
        let cert_der = builder.build().to_der().expect("der");
        TestIdp {
            entity_id: entity_id.to_owned(),
            key_der: key.private_key_to_der().expect("key der"),
            cert: SigningCertificate::from_der(cert_der).expect("certificate"),
        }
    }

    /// RSA-SHA256 over `bytes` with the IdP's key (HTTP-Redirect binding
    /// signatures, e.g. a LogoutRequest's query string).
    pub fn sign_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let key = PKey::private_key_from_der(&self.key_der).expect("key");
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key).expect("signer");
        signer.update(bytes).expect("update");
        signer.sign_to_vec().expect("sign")
    }

    pub fn certificate(&self) -> &SigningCertificate {
        &self.cert
    }

    /// The IdP part of a connection that trusts this IdP.
    pub fn descriptor(&self, sso_url: &str) -> IdpDescriptor {
        IdpDescriptor {
            entity_id: self.entity_id.clone(),
            sso_url: Some(sso_url.to_owned()),
            signing_certs: vec![self.cert.clone()],
        }
    }

    /// IdP metadata XML as an IdP publishes it.
    pub fn metadata_xml(&self, sso_url: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{sso}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#,
            entity = escape(&self.entity_id),
            cert = self.cert.to_base64(),
            sso = escape(sso_url),
        )
    }

    /// A signed Response document (XML, not yet base64) for `spec`.
    pub fn response_xml(&self, spec: &ResponseSpec) -> String {
        let cert = CertificateDer::from(self.cert.der().to_vec());
        let issuer = Issuer {
            value: Some(escape(spec.issuer.as_deref().unwrap_or(&self.entity_id))),
            ..Issuer::default()
        };
        let assertion_id = format!("_a{}", hex::encode(rand::random::<[u8; 16]>()));
        let response_id = format!("_r{}", hex::encode(rand::random::<[u8; 16]>()));
        let sign_assertion = matches!(spec.signing, Signing::Assertion | Signing::Both);
        let sign_response = matches!(spec.signing, Signing::Response | Signing::Both);
        let not_on_or_after = spec.now + spec.validity;

        let attributes = spec
            .attributes
            .iter()
            .map(|(name, values)| Attribute {
                friendly_name: None,
                name: Some(name.clone()),
                name_format: Some("urn:oasis:names:tc:SAML:2.0:attrname-format:basic".into()),
                values: values
                    .iter()
                    .map(|v| AttributeValue {
                        attribute_type: Some("xs:string".into()),
                        value: Some(escape(v)),
                    })
                    .collect(),
            })
            .collect();
        let assertion = Assertion {
            id: assertion_id.clone(),
            issue_instant: spec.now,
            version: "2.0".into(),
            issuer: issuer.clone(),
            signature: sign_assertion.then(|| sha256_template(&assertion_id, &cert)),
            subject: Some(Subject {
                name_id: Some(SubjectNameID {
                    format: Some(spec.name_id_format.clone()),
                    value: escape(&spec.name_id),
                }),
                subject_confirmations: Some(vec![SubjectConfirmation {
                    method: Some("urn:oasis:names:tc:SAML:2.0:cm:bearer".into()),
                    name_id: None,
                    subject_confirmation_data: Some(SubjectConfirmationData {
                        not_before: None,
                        not_on_or_after: Some(not_on_or_after),
                        recipient: Some(spec.recipient.clone()),
                        in_response_to: spec.request_id.clone(),
                        address: None,
                        content: None,
                    }),
                }]),
            }),
            conditions: Some(Conditions {
                not_before: Some(spec.now - Duration::seconds(30)),
                not_on_or_after: Some(not_on_or_after),
                audience_restrictions: Some(vec![AudienceRestriction {
                    audience: vec![escape(&spec.audience)],
                }]),
                one_time_use: None,
                proxy_restriction: None,
            }),
            authn_statements: Some(vec![AuthnStatement {
                authn_instant: Some(spec.now),
                session_index: Some(format!("_s{}", hex::encode(rand::random::<[u8; 8]>()))),
                session_not_on_or_after: Some(spec.now + Duration::hours(8)),
                subject_locality: None,
                authn_context: Some(AuthnContext {
                    value: Some(AuthnContextClassRef {
                        value: Some(
                            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
                                .into(),
                        ),
                    }),
                }),
            }]),
            attribute_statements: Some(vec![AttributeStatement { attributes }]),
        };
        let assertion_xml = assertion.to_string().expect("assertion xml");
        let assertion_xml = if sign_assertion {
            strip_decl(&Crypto::sign_xml(assertion_xml, &self.key_der).expect("sign assertion"))
        } else {
            assertion_xml
        };

        let response = Response {
            id: response_id.clone(),
            in_response_to: spec.request_id.clone(),
            version: "2.0".into(),
            issue_instant: spec.now,
            destination: Some(spec.destination.clone()),
            consent: None,
            issuer: Some(issuer),
            signature: sign_response.then(|| sha256_template(&response_id, &cert)),
            status: Some(Status {
                status_code: StatusCode {
                    value: Some(spec.status.clone()),
                },
                status_message: None,
                status_detail: None,
            }),
            encrypted_assertion: None,
            assertion: None,
        };
        let response_xml = response.to_string().expect("response xml");
        let close = response_xml.rfind("</").expect("closing tag");
        let unsigned = format!(
            "{}{}{}",
            &response_xml[..close],
            assertion_xml,
            &response_xml[close..]
        );
        if sign_response {
            Crypto::sign_xml(unsigned, &self.key_der).expect("sign response")
        } else {
            unsigned
        }
    }

    /// The same, base64-encoded as the HTTP-POST binding carries it.
    pub fn response_b64(&self, spec: &ResponseSpec) -> String {
        encode(&self.response_xml(spec))
    }
}

/// base64 of a document, as the `SAMLResponse` form field.
pub fn encode(xml: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(xml.as_bytes())
}

/// What the test IdP puts into a response.
#[derive(Debug, Clone)]
pub struct ResponseSpec {
    pub now: DateTime<Utc>,
    pub validity: Duration,
    /// Overrides the IdP's entity id as the Issuer.
    pub issuer: Option<String>,
    pub audience: String,
    pub destination: String,
    pub recipient: String,
    pub request_id: Option<String>,
    pub name_id: String,
    pub name_id_format: String,
    pub status: String,
    pub attributes: Vec<(String, Vec<String>)>,
    pub signing: Signing,
}

impl ResponseSpec {
    /// A valid response for an SP (entity id, ACS) answering `request_id`.
    pub fn new(sp_entity_id: &str, acs_url: &str, request_id: Option<&str>) -> ResponseSpec {
        ResponseSpec {
            now: Utc::now(),
            validity: Duration::minutes(5),
            issuer: None,
            audience: sp_entity_id.to_owned(),
            destination: acs_url.to_owned(),
            recipient: acs_url.to_owned(),
            request_id: request_id.map(str::to_owned),
            name_id: "u-1f0c2a77".into(),
            name_id_format: NAMEID_PERSISTENT.into(),
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
            attributes: Vec::new(),
            signing: Signing::Assertion,
        }
    }

    pub fn attribute(mut self, name: &str, values: &[&str]) -> Self {
        self.attributes.push((
            name.to_owned(),
            values.iter().map(|v| (*v).to_owned()).collect(),
        ));
        self
    }
}

fn sha256_template(id: &str, cert: &CertificateDer) -> Signature {
    let mut signature = Signature::template(id, cert);
    for reference in &mut signature.signed_info.reference {
        reference.digest_method.algorithm = DigestAlgorithm::Sha256;
    }
    signature
}

fn strip_decl(xml: &str) -> String {
    match xml.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map(|(_, body)| body.trim_start().to_owned())
            .unwrap_or_else(|| xml.to_owned()),
        None => xml.to_owned(),
    }
}

/// samael writes element text as given (attributes are escaped by quick-xml);
/// escape text here.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
