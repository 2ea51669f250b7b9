//! IdP-initiated Single Logout over the HTTP-Redirect binding (SAML 2.0
//! Profiles §4.4, Bindings §3.4.4.1): the IdP sends a `LogoutRequest` as
//! DEFLATE+base64 `SAMLRequest` with `SigAlg` and `Signature` query
//! parameters; the signature covers the query string's own octets
//! `SAMLRequest=…&RelayState=…&SigAlg=…` exactly as sent. We verify it with
//! the connection's pinned certificates only, require our SLO URL as
//! `Destination` when present, the IdP's entity id as `Issuer`, a fresh
//! `IssueInstant`, and answer with a `LogoutResponse` on the same binding.
//!
//! The caller keeps the request id in the replay cache and ends the
//! sessions of the NameID.

use std::io::{Read, Write};
use std::str::FromStr;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use openssl::hash::MessageDigest;
use samael::schema::LogoutRequest;

use super::{SamlConnectionConfig, contains_doctype};

const SIG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SIG_RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
const SIG_RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
const MAX_LOGOUT_BYTES: usize = 64 * 1024;

/// Why a logout request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutRejection {
    #[error("the logout request is not signed (SigAlg and Signature are required)")]
    Unsigned,
    #[error("the signature algorithm `{0}` is not accepted")]
    Algorithm(String),
    #[error("the logout request's signature does not verify with the pinned certificates")]
    BadSignature,
    #[error("the logout request cannot be decoded: {0}")]
    Malformed(String),
    #[error("the logout request carries a DOCTYPE")]
    Doctype,
    #[error("the logout request's Issuer is not this connection's IdP")]
    WrongIssuer,
    #[error("the logout request is addressed to another Destination")]
    WrongDestination,
    #[error("the logout request is too old or from the future")]
    Stale,
    #[error("the logout request names no NameID")]
    NoNameId,
}

impl LogoutRejection {
    /// Refusals a well-behaved IdP never causes.
    pub fn is_attack(&self) -> bool {
        matches!(
            self,
            LogoutRejection::BadSignature
                | LogoutRejection::Doctype
                | LogoutRejection::WrongIssuer
                | LogoutRejection::WrongDestination
                | LogoutRejection::Unsigned
        )
    }
}

/// A verified logout request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogout {
    pub id: String,
    pub issuer: String,
    pub name_id: String,
    pub issue_instant: DateTime<Utc>,
    pub relay_state: Option<String>,
}

/// The raw (still URL-encoded) value of `name` in a query string.
fn raw_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn decoded(raw: &str) -> String {
    url::form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Verifies the `LogoutRequest` in `query` (the request's raw query string)
/// for a connection whose SLO endpoint is `slo_url`.
pub fn verify_logout_request(
    config: &SamlConnectionConfig,
    query: &str,
    slo_url: &str,
    now: DateTime<Utc>,
) -> Result<VerifiedLogout, LogoutRejection> {
    let request = raw_param(query, "SAMLRequest")
        .ok_or(LogoutRejection::Malformed("no SAMLRequest".into()))?;
    let (Some(sig_alg), Some(signature)) =
        (raw_param(query, "SigAlg"), raw_param(query, "Signature"))
    else {
        return Err(LogoutRejection::Unsigned);
    };
    let relay = raw_param(query, "RelayState");
    let alg = decoded(sig_alg);
    let digest = match alg.as_str() {
        SIG_RSA_SHA256 => MessageDigest::sha256(),
        SIG_RSA_SHA384 => MessageDigest::sha384(),
        SIG_RSA_SHA512 => MessageDigest::sha512(),
        other => return Err(LogoutRejection::Algorithm(other.to_owned())),
    };
    let mut signed = format!("SAMLRequest={request}");
    if let Some(r) = relay {
        signed.push_str(&format!("&RelayState={r}"));
    }
    signed.push_str(&format!("&SigAlg={sig_alg}"));
    let signature = base64::engine::general_purpose::STANDARD
        .decode(decoded(signature).replace(['\n', '\r', ' '], ""))
        .map_err(|_| LogoutRejection::BadSignature)?;
    let verified = config.idp().signing_certs.iter().any(|cert| {
        let Ok(x509) = openssl::x509::X509::from_der(cert.der()) else {
            return false;
        };
        let Ok(key) = x509.public_key() else {
            return false;
        };
        openssl::sign::Verifier::new(digest, &key)
            .and_then(|mut v| {
                v.update(signed.as_bytes())?;
                v.verify(&signature)
            })
            .unwrap_or(false)
    });
    if !verified {
        return Err(LogoutRejection::BadSignature);
    }
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(decoded(request).replace(['\n', '\r', ' '], ""))
        .map_err(|e| LogoutRejection::Malformed(e.to_string()))?;
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .take(MAX_LOGOUT_BYTES as u64)
        .read_to_string(&mut xml)
        .map_err(|e| LogoutRejection::Malformed(e.to_string()))?;
    if contains_doctype(&xml) {
        return Err(LogoutRejection::Doctype);
    }
    let parsed =
        LogoutRequest::from_str(&xml).map_err(|e| LogoutRejection::Malformed(e.to_string()))?;
    let issuer = parsed.issuer.and_then(|i| i.value).unwrap_or_default();
    if issuer != config.idp().entity_id {
        return Err(LogoutRejection::WrongIssuer);
    }
    if let Some(d) = &parsed.destination
        && d != slo_url
    {
        return Err(LogoutRejection::WrongDestination);
    }
    let instant = parsed.issue_instant.ok_or(LogoutRejection::Stale)?;
    let skew = config.clock_skew();
    if instant > now + skew || instant + Duration::minutes(5) + skew < now {
        return Err(LogoutRejection::Stale);
    }
    let name_id = parsed
        .name_id
        .map(|n| n.value.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or(LogoutRejection::NoNameId)?;
    Ok(VerifiedLogout {
        id: parsed.id.unwrap_or_default(),
        issuer,
        name_id,
        issue_instant: instant,
        relay_state: relay.map(decoded),
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The `LogoutResponse` (status Success) for the IdP's SLO endpoint over
/// HTTP-Redirect, unsigned (rollcall holds no SP signing key).
pub fn logout_response_redirect(
    sp_entity_id: &str,
    idp_slo_url: &str,
    in_response_to: &str,
    relay_state: Option<&str>,
    now: DateTime<Utc>,
) -> Result<url::Url, String> {
    let id = format!("_{}", hex::encode(rand::random::<[u8; 20]>()));
    let xml = format!(
        "<samlp:LogoutResponse xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{instant}\" Destination=\"{dest}\" InResponseTo=\"{irt}\"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status></samlp:LogoutResponse>",
        instant = now.format("%Y-%m-%dT%H:%M:%SZ"),
        dest = escape(idp_slo_url),
        irt = escape(in_response_to),
        issuer = escape(sp_entity_id),
    );
    let mut deflated = Vec::new();
    {
        let mut e =
            flate2::write::DeflateEncoder::new(&mut deflated, flate2::Compression::default());
        e.write_all(xml.as_bytes()).map_err(|e| e.to_string())?;
        e.finish().map_err(|e| e.to_string())?;
    }
    let mut url = url::Url::parse(idp_slo_url).map_err(|e| e.to_string())?;
    url.query_pairs_mut().append_pair(
        "SAMLResponse",
        &base64::engine::general_purpose::STANDARD.encode(&deflated),
    );
    if let Some(r) = relay_state {
        url.query_pairs_mut().append_pair("RelayState", r);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sso::saml::fixture::TestIdp;

    const SLO: &str = "https://rollcall.example/sso/saml/c1/slo";

    fn config(idp: &TestIdp) -> SamlConnectionConfig {
        SamlConnectionConfig::new(
            "https://rollcall.example/sso/saml/c1/metadata",
            "https://rollcall.example/sso/saml/c1/acs",
            idp.descriptor("https://idp.example/sso"),
        )
        .unwrap()
    }

    fn request_xml(issuer: &str, destination: &str, instant: DateTime<Utc>) -> String {
        format!(
            "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_lr1\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{destination}\"><saml:Issuer>{issuer}</saml:Issuer><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">u-42</saml:NameID></samlp:LogoutRequest>",
            instant.format("%Y-%m-%dT%H:%M:%SZ")
        )
    }

    /// The query string an IdP sends, signed with `idp`'s key.
    fn signed_query(idp: &TestIdp, xml: &str) -> String {
        let mut deflated = Vec::new();
        let mut e =
            flate2::write::DeflateEncoder::new(&mut deflated, flate2::Compression::default());
        e.write_all(xml.as_bytes()).unwrap();
        e.finish().unwrap();
        let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        let signed = format!(
            "SAMLRequest={}&RelayState={}&SigAlg={}",
            enc(&base64::engine::general_purpose::STANDARD.encode(&deflated)),
            enc("rs-1"),
            enc(SIG_RSA_SHA256)
        );
        let sig = idp.sign_bytes(signed.as_bytes());
        format!(
            "{signed}&Signature={}",
            enc(&base64::engine::general_purpose::STANDARD.encode(sig))
        )
    }

    #[test]
    fn a_signed_logout_request_is_accepted_and_forgeries_are_not() {
        let idp = TestIdp::generate("https://idp.example/entity");
        let other = TestIdp::generate("https://idp.example/entity");
        let c = config(&idp);
        let now = Utc::now();
        let good = signed_query(&idp, &request_xml("https://idp.example/entity", SLO, now));
        let v = verify_logout_request(&c, &good, SLO, now).unwrap();
        assert_eq!(v.name_id, "u-42");
        assert_eq!(v.id, "_lr1");
        assert_eq!(v.relay_state.as_deref(), Some("rs-1"));

        let forged = signed_query(&other, &request_xml("https://idp.example/entity", SLO, now));
        assert_eq!(
            verify_logout_request(&c, &forged, SLO, now),
            Err(LogoutRejection::BadSignature)
        );
        let unsigned = good.split("&SigAlg").next().unwrap();
        assert_eq!(
            verify_logout_request(&c, unsigned, SLO, now),
            Err(LogoutRejection::Unsigned)
        );
        let tampered = good.replace("RelayState=rs-1", "RelayState=rs-2");
        assert_eq!(
            verify_logout_request(&c, &tampered, SLO, now),
            Err(LogoutRejection::BadSignature)
        );
        let wrong_issuer = signed_query(&idp, &request_xml("https://evil.example", SLO, now));
        assert_eq!(
            verify_logout_request(&c, &wrong_issuer, SLO, now),
            Err(LogoutRejection::WrongIssuer)
        );
        let wrong_dest = signed_query(
            &idp,
            &request_xml("https://idp.example/entity", "https://x/slo", now),
        );
        assert_eq!(
            verify_logout_request(&c, &wrong_dest, SLO, now),
            Err(LogoutRejection::WrongDestination)
        );
        let old = signed_query(
            &idp,
            &request_xml("https://idp.example/entity", SLO, now - Duration::hours(1)),
        );
        assert_eq!(
            verify_logout_request(&c, &old, SLO, now),
            Err(LogoutRejection::Stale)
        );
    }

    #[test]
    fn the_logout_response_goes_to_the_idp() {
        let url = logout_response_redirect(
            "https://rollcall.example/sp",
            "https://idp.example/slo",
            "_lr1",
            Some("rs"),
            Utc::now(),
        )
        .unwrap();
        assert!(
            url.as_str()
                .starts_with("https://idp.example/slo?SAMLResponse=")
        );
        assert!(
            url.query_pairs()
                .any(|(k, v)| k == "RelayState" && v == "rs")
        );
    }
}
