//! Accepted and refused responses, each built by the test IdP with real
//! RSA-SHA256 signatures and then (for the attacks) edited as text.

use std::sync::OnceLock;

use chrono::{Duration, Utc};

use super::fixture::{ResponseSpec, Signing, TestIdp, encode};
use super::verify::verify_response_xml;
use super::*;

const SP: &str = "https://rollcall.test/sso/saml/acme";
const ACS: &str = "https://rollcall.test/sso/saml/acme/acs";
const SSO: &str = "https://idp.test/sso";
const REQ: &str = "_req0001";

fn idp() -> &'static TestIdp {
    static IDP: OnceLock<TestIdp> = OnceLock::new();
    IDP.get_or_init(|| TestIdp::generate("https://idp.test/metadata"))
}

fn other_idp() -> &'static TestIdp {
    static IDP: OnceLock<TestIdp> = OnceLock::new();
    IDP.get_or_init(|| TestIdp::generate("https://idp.test/metadata"))
}

fn config() -> SamlConnectionConfig {
    SamlConnectionConfig::new(SP, ACS, idp().descriptor(SSO))
        .expect("config")
        .with_attributes(AttributeNames {
            email: Some("email".into()),
            given_name: Some("givenName".into()),
            family_name: Some("sn".into()),
            display_name: Some("displayName".into()),
            groups: Some("groups".into()),
        })
}

fn spec() -> ResponseSpec {
    ResponseSpec::new(SP, ACS, Some(REQ))
        .attribute("email", &["ada@acme.test"])
        .attribute("givenName", &["Ada"])
        .attribute("sn", &["Lovelace"])
        .attribute("groups", &["analysts", "admins"])
}

fn expect() -> Expected<'static> {
    Expected {
        request_id: Some(REQ),
        now: Utc::now(),
    }
}

fn verify_xml(xml: &str) -> Result<VerifiedAssertion, SamlRejection> {
    verify_response_xml(&config(), xml, expect(), &MemoryReplayCache::default())
}

fn verify_b64(b64: &str) -> Result<VerifiedAssertion, SamlRejection> {
    verify_response(&config(), b64, expect(), &MemoryReplayCache::default())
}

/// The one Assertion element of a document, as text.
fn assertion_of(xml: &str) -> &str {
    let start = xml.find("<saml2:Assertion").expect("assertion start");
    let end = xml.find("</saml2:Assertion>").expect("assertion end") + "</saml2:Assertion>".len();
    &xml[start..end]
}

fn without_assertion(xml: &str) -> String {
    xml.replace(assertion_of(xml), "")
}

/// Inserts `extra` right before the Response's closing tag.
fn before_response_end(xml: &str, extra: &str) -> String {
    let close = xml.rfind("</").expect("closing tag");
    format!("{}{}{}", &xml[..close], extra, &xml[close..])
}

#[test]
fn a_signed_assertion_verifies_and_yields_the_mapped_identity() {
    let v = verify_b64(&idp().response_b64(&spec())).expect("valid");
    assert_eq!(v.issuer, "https://idp.test/metadata");
    assert_eq!(v.subject, "u-1f0c2a77");
    assert_eq!(v.subject_format, NAMEID_PERSISTENT);
    assert_eq!(v.attributes.email.as_deref(), Some("ada@acme.test"));
    assert_eq!(v.attributes.given_name.as_deref(), Some("Ada"));
    assert_eq!(v.attributes.family_name.as_deref(), Some("Lovelace"));
    assert_eq!(v.attributes.display_name, None);
    assert_eq!(v.attributes.groups, vec!["analysts", "admins"]);
    assert!(v.assertion_id.starts_with("_a"));
    assert!(v.session_index.is_some());
    assert!(v.authn_instant.is_some());
    assert!(v.not_on_or_after > Utc::now());
}

#[test]
fn a_signed_response_or_both_signed_verifies() {
    for signing in [Signing::Response, Signing::Both] {
        let mut s = spec();
        s.signing = signing;
        let v = verify_b64(&idp().response_b64(&s)).unwrap_or_else(|e| panic!("{signing:?}: {e}"));
        assert_eq!(v.subject, "u-1f0c2a77");
    }
}

#[test]
fn a_rolled_over_certificate_list_accepts_either_key() {
    let mut descriptor = other_idp().descriptor(SSO);
    descriptor.signing_certs.push(idp().certificate().clone());
    let config = SamlConnectionConfig::new(SP, ACS, descriptor).expect("config");
    let v = verify_response(
        &config,
        &idp().response_b64(&spec()),
        expect(),
        &MemoryReplayCache::default(),
    );
    assert!(v.is_ok(), "{v:?}");
}

#[test]
fn an_attribute_can_be_the_subject() {
    let config = config().with_subject_source(SubjectSource::Attribute("objectId".into()));
    let s = spec().attribute("objectId", &["5d1c-oid"]);
    let v = verify_response(
        &config,
        &idp().response_b64(&s),
        expect(),
        &MemoryReplayCache::default(),
    )
    .expect("valid");
    assert_eq!(v.subject, "5d1c-oid");
    assert_eq!(v.subject_format, "attribute:objectId");

    let mut transient = spec();
    transient.name_id_format = NAMEID_TRANSIENT.into();
    let missing = verify_response(
        &config,
        &idp().response_b64(&transient),
        expect(),
        &MemoryReplayCache::default(),
    );
    assert_eq!(
        missing,
        Err(SamlRejection::SubjectAttribute("objectId".into()))
    );
}

#[test]
fn idp_initiated_is_refused_by_default_and_replay_protected_when_allowed() {
    let unsolicited = idp().response_b64(&ResponseSpec::new(SP, ACS, None));
    let none = Expected {
        request_id: None,
        now: Utc::now(),
    };
    let cache = MemoryReplayCache::default();
    assert_eq!(
        verify_response(&config(), &unsolicited, none, &cache),
        Err(SamlRejection::Unsolicited)
    );
    let allowing = config().with_idp_initiated(true);
    assert!(verify_response(&allowing, &unsolicited, none, &cache).is_ok());
    assert_eq!(
        verify_response(&allowing, &unsolicited, none, &cache),
        Err(SamlRejection::Replayed)
    );
    // A solicited response presented without its pre-login record.
    let solicited = idp().response_b64(&spec());
    assert_eq!(
        verify_response(&allowing, &solicited, none, &cache),
        Err(SamlRejection::InResponseToMismatch)
    );
}

#[test]
fn replayed_assertion_is_refused() {
    let cache = MemoryReplayCache::default();
    let b64 = idp().response_b64(&spec());
    assert!(verify_response(&config(), &b64, expect(), &cache).is_ok());
    let again = verify_response(&config(), &b64, expect(), &cache);
    assert_eq!(again, Err(SamlRejection::Replayed));
    assert!(again.unwrap_err().is_attack());
}

#[test]
fn tampered_attribute_is_refused() {
    let xml = idp().response_xml(&spec());
    let forged = xml.replace("ada@acme.test", "eve@acme.test");
    assert_ne!(xml, forged);
    assert!(matches!(
        verify_xml(&forged),
        Err(SamlRejection::SignatureInvalid(_))
    ));
}

#[test]
fn tampered_name_id_is_refused() {
    let xml = idp().response_xml(&spec());
    let forged = xml.replace(">u-1f0c2a77<", ">u-00000000<");
    assert_ne!(xml, forged);
    assert!(matches!(
        verify_xml(&forged),
        Err(SamlRejection::SignatureInvalid(_))
    ));
}

#[test]
fn tampered_response_status_of_a_signed_response_is_refused() {
    let mut s = spec();
    s.signing = Signing::Response;
    let xml = idp().response_xml(&s);
    let forged = xml.replace(ACS, "https://rollcall.test/sso/saml/acme/acs2");
    let result = verify_response_xml(
        &SamlConnectionConfig::new(
            SP,
            "https://rollcall.test/sso/saml/acme/acs2",
            idp().descriptor(SSO),
        )
        .expect("config"),
        &forged,
        expect(),
        &MemoryReplayCache::default(),
    );
    assert!(
        matches!(result, Err(SamlRejection::SignatureInvalid(_))),
        "{result:?}"
    );
}

#[test]
fn wrapped_assertion_in_extensions_is_refused() {
    // The signed original is hidden in Extensions; an evil copy takes its place.
    let xml = idp().response_xml(&spec());
    let original = assertion_of(&xml).to_owned();
    let evil = original
        .replace(">u-1f0c2a77<", ">u-evil<")
        .replace("ID=\"_a", "ID=\"_evil");
    let wrapped = xml.replace(
        &original,
        &format!("<saml2p:Extensions>{original}</saml2p:Extensions>{evil}"),
    );
    let result = verify_xml(&wrapped);
    assert_eq!(result, Err(SamlRejection::AssertionCount(2)));
    assert!(result.unwrap_err().is_attack());
}

#[test]
fn wrapped_assertion_in_signature_object_is_refused() {
    let xml = idp().response_xml(&spec());
    let original = assertion_of(&xml).to_owned();
    let evil = original
        .replace(">u-1f0c2a77<", ">u-evil<")
        .replace("ID=\"_a", "ID=\"_evil")
        .replace(
            "</ds:Signature>",
            &format!("<ds:Object>{original}</ds:Object></ds:Signature>"),
        );
    let wrapped = xml.replace(&original, &evil);
    assert_eq!(verify_xml(&wrapped), Err(SamlRejection::AssertionCount(2)));
}

#[test]
fn second_assertion_is_refused() {
    let xml = idp().response_xml(&spec());
    let second = assertion_of(&xml)
        .replace(">u-1f0c2a77<", ">u-evil<")
        .replace("ID=\"_a", "ID=\"_second");
    let doubled = before_response_end(&xml, &second);
    assert_eq!(verify_xml(&doubled), Err(SamlRejection::AssertionCount(2)));
}

#[test]
fn assertion_moved_under_another_element_is_refused() {
    let xml = idp().response_xml(&spec());
    let original = assertion_of(&xml).to_owned();
    let moved = before_response_end(
        &without_assertion(&xml),
        &format!("<saml2p:Extensions>{original}</saml2p:Extensions>"),
    );
    let result = verify_xml(&moved);
    assert_eq!(result, Err(SamlRejection::AssertionMisplaced));
    assert!(result.unwrap_err().is_attack());
}

#[test]
fn signature_referencing_another_id_is_refused() {
    // The Response's signature pointed at the Assertion (signed content
    // elsewhere than the signature's parent).
    let mut s = spec();
    s.signing = Signing::Both;
    let xml = idp().response_xml(&s);
    let response_id = xml
        .split("ID=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("response id")
        .to_owned();
    let assertion_id = assertion_of(&xml)
        .split("ID=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("assertion id")
        .to_owned();
    let forged = xml.replacen(
        &format!("URI=\"#{response_id}\""),
        &format!("URI=\"#{assertion_id}\""),
        1,
    );
    assert_ne!(xml, forged);
    assert_eq!(
        verify_xml(&forged),
        Err(SamlRejection::SignatureReferenceMismatch)
    );
}

#[test]
fn signature_outside_response_and_assertion_is_refused() {
    let xml = idp().response_xml(&spec());
    let sig_start = xml.find("<ds:Signature").expect("signature");
    let sig_end = xml.find("</ds:Signature>").expect("end") + "</ds:Signature>".len();
    let signature = &xml[sig_start..sig_end];
    let moved = xml.replacen(
        "</saml2:Subject>",
        &format!("<saml2:SubjectConfirmation Method=\"x\">{signature}</saml2:SubjectConfirmation></saml2:Subject>"),
        1,
    );
    assert_eq!(verify_xml(&moved), Err(SamlRejection::SignatureMisplaced));
}

#[test]
fn comment_injected_name_id_does_not_read_as_a_different_identity() {
    // The IdP signed `a@x.com.evil`; the attacker splits the text with a
    // comment, which C14N ignores, hoping the SP reads `a@x.com`. xmlsec's
    // reduction refuses the split text node; it is logged as an attack.
    let mut s = spec();
    s.name_id = "a@x.com.evil".into();
    let xml = idp().response_xml(&s);
    let injected = xml.replace(">a@x.com.evil<", ">a@x.com<!---->.evil<");
    assert_ne!(xml, injected);
    let result = verify_xml(&injected);
    assert!(
        matches!(result, Err(SamlRejection::SignatureInvalid(_))),
        "{result:?}"
    );
    assert!(result.unwrap_err().is_attack());

    let mut s = spec();
    s.attributes = vec![("email".into(), vec!["a@x.com.evil".into()])];
    let xml = idp().response_xml(&s);
    let injected = xml.replace(">a@x.com.evil<", ">a@x.com<!-- -->.evil<");
    assert!(matches!(
        verify_xml(&injected),
        Err(SamlRejection::SignatureInvalid(_))
    ));

    // A comment that splits no value changes nothing.
    let commented = xml.replacen("<saml2:Conditions", "<!-- note --><saml2:Conditions", 1);
    assert_ne!(xml, commented);
    let v = verify_xml(&commented).expect("valid");
    assert_eq!(v.attributes.email.as_deref(), Some("a@x.com.evil"));
}

#[test]
fn text_is_read_whole_across_comments() {
    // Our own reader never stops at a comment, whatever xmlsec lets through.
    let doc = roxmltree::Document::parse("<a>a@x.com<!---->.evil</a>").expect("xml");
    assert_eq!(super::verify::full_text(doc.root_element()), "a@x.com.evil");
}

#[test]
fn expired_assertion_is_refused() {
    let mut s = spec();
    s.now = Utc::now() - Duration::minutes(10);
    s.validity = Duration::minutes(5);
    let result = verify_b64(&idp().response_b64(&s));
    assert!(
        matches!(result, Err(SamlRejection::Expired(_))),
        "{result:?}"
    );
}

#[test]
fn assertion_within_skew_is_accepted_and_beyond_is_refused() {
    let mut s = spec();
    s.now = Utc::now() - Duration::minutes(6);
    s.validity = Duration::minutes(5);
    // Expired one minute ago: inside the default 3-minute skew.
    assert!(verify_b64(&idp().response_b64(&s)).is_ok());
    let strict = config().with_clock_skew(Duration::seconds(10));
    let result = verify_response(
        &strict,
        &idp().response_b64(&s),
        expect(),
        &MemoryReplayCache::default(),
    );
    assert!(
        matches!(result, Err(SamlRejection::Expired(_))),
        "{result:?}"
    );
}

#[test]
fn not_yet_valid_assertion_is_refused() {
    let mut s = spec();
    s.now = Utc::now() + Duration::minutes(10);
    let result = verify_b64(&idp().response_b64(&s));
    assert!(
        matches!(result, Err(SamlRejection::NotYetValid(_))),
        "{result:?}"
    );
}

#[test]
fn wrong_audience_is_refused() {
    let mut s = spec();
    s.audience = "https://other-sp.test".into();
    assert_eq!(
        verify_b64(&idp().response_b64(&s)),
        Err(SamlRejection::AudienceMismatch)
    );
}

#[test]
fn wrong_recipient_is_refused() {
    let mut s = spec();
    s.recipient = "https://evil.test/acs".into();
    assert_eq!(
        verify_b64(&idp().response_b64(&s)),
        Err(SamlRejection::RecipientMismatch {
            found: "https://evil.test/acs".into()
        })
    );
}

#[test]
fn wrong_destination_is_refused() {
    let mut s = spec();
    s.destination = "https://evil.test/acs".into();
    assert_eq!(
        verify_b64(&idp().response_b64(&s)),
        Err(SamlRejection::DestinationMismatch {
            found: "https://evil.test/acs".into()
        })
    );
}

#[test]
fn wrong_issuer_is_refused() {
    let mut s = spec();
    s.issuer = Some("https://evil-idp.test".into());
    assert_eq!(
        verify_b64(&idp().response_b64(&s)),
        Err(SamlRejection::IssuerMismatch {
            found: "https://evil-idp.test".into()
        })
    );
}

#[test]
fn unsigned_response_is_refused() {
    let mut s = spec();
    s.signing = Signing::Neither;
    let result = verify_b64(&idp().response_b64(&s));
    assert_eq!(result, Err(SamlRejection::Unsigned));
    assert!(result.unwrap_err().is_attack());
}

#[test]
fn response_signed_by_another_key_is_refused() {
    let stranger = TestIdp::generate("https://idp.test/metadata");
    let result = verify_b64(&stranger.response_b64(&spec()));
    assert!(
        matches!(result, Err(SamlRejection::SignatureInvalid(_))),
        "{result:?}"
    );
}

#[test]
fn dtd_is_refused() {
    let xml = idp().response_xml(&spec());
    let body = xml.split_once("?>").map(|(_, b)| b).unwrap_or(&xml);
    let with_dtd =
        format!("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e \"u-1f0c2a77\">]>{body}");
    let result = verify_b64(&encode(&with_dtd));
    assert_eq!(result, Err(SamlRejection::DtdPresent));
}

#[test]
fn oversize_response_is_refused() {
    let small = config().with_max_response_bytes(2_000);
    let result = verify_response(
        &small,
        &idp().response_b64(&spec()),
        expect(),
        &MemoryReplayCache::default(),
    );
    assert_eq!(result, Err(SamlRejection::TooLarge { limit: 2_000 }));
}

#[test]
fn non_success_status_is_refused() {
    let mut s = spec();
    s.status = "urn:oasis:names:tc:SAML:2.0:status:Requester".into();
    assert_eq!(
        verify_b64(&idp().response_b64(&s)),
        Err(SamlRejection::StatusNotSuccess(
            "urn:oasis:names:tc:SAML:2.0:status:Requester".into()
        ))
    );
}

#[test]
fn transient_name_id_is_refused() {
    let mut s = spec();
    s.name_id_format = NAMEID_TRANSIENT.into();
    assert_eq!(
        verify_b64(&idp().response_b64(&s)),
        Err(SamlRejection::TransientSubject)
    );
}

#[test]
fn wrong_in_response_to_is_refused() {
    let s = ResponseSpec::new(SP, ACS, Some("_someone_elses_request"));
    let result = verify_b64(&idp().response_b64(&s));
    assert_eq!(result, Err(SamlRejection::InResponseToMismatch));
}

#[test]
fn encrypted_assertion_is_refused() {
    let xml = idp().response_xml(&spec());
    let encrypted = before_response_end(
        &xml,
        "<saml2:EncryptedAssertion xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>",
    );
    assert_eq!(
        verify_xml(&encrypted),
        Err(SamlRejection::EncryptedAssertion)
    );
}

#[test]
fn garbage_is_refused_without_panicking() {
    assert_eq!(verify_b64("%%%"), Err(SamlRejection::NotBase64));
    assert!(matches!(
        verify_b64(&encode("<samlp:Response")),
        Err(SamlRejection::MalformedXml(_))
    ));
    assert_eq!(
        verify_b64(&encode("<x xmlns=\"urn:other\"/>")),
        Err(SamlRejection::NotAResponse)
    );
}

#[test]
fn a_connection_without_signing_certificate_is_refused() {
    let mut descriptor = idp().descriptor(SSO);
    descriptor.signing_certs.clear();
    assert_eq!(
        SamlConnectionConfig::new(SP, ACS, descriptor).err(),
        Some(SamlConfigError::NoSigningCertificate)
    );
    let no_key = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.test/metadata"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#;
    assert_eq!(
        IdpDescriptor::from_metadata_xml(no_key),
        Err(SamlConfigError::NoSigningCertificate)
    );
}

#[test]
fn weak_algorithms_cannot_be_configured() {
    use samael::crypto::AllowedSignatureAlgorithm as A;
    assert!(
        config()
            .with_allowed_algorithms(vec![A::RsaSha224])
            .is_err()
    );
    assert!(config().with_allowed_algorithms(vec![]).is_err());
    assert!(config().with_allowed_algorithms(vec![A::RsaSha512]).is_ok());
}

#[test]
fn a_signature_outside_the_allowed_algorithms_is_refused() {
    use samael::crypto::AllowedSignatureAlgorithm as A;
    let only_512 = config()
        .with_allowed_algorithms(vec![A::RsaSha512])
        .expect("config");
    let result = verify_response(
        &only_512,
        &idp().response_b64(&spec()),
        expect(),
        &MemoryReplayCache::default(),
    );
    assert!(
        matches!(result, Err(SamlRejection::SignatureInvalid(_))),
        "{result:?}"
    );
}

#[test]
fn idp_metadata_is_read_into_the_descriptor() {
    let descriptor = IdpDescriptor::from_metadata_xml(&idp().metadata_xml(SSO)).expect("metadata");
    assert_eq!(descriptor, idp().descriptor(SSO));
    let with_dtd = format!("<!DOCTYPE x>{}", idp().metadata_xml(SSO));
    assert!(IdpDescriptor::from_metadata_xml(&with_dtd).is_err());
}

#[test]
fn sp_metadata_names_entity_id_and_acs() {
    let xml = config().sp_metadata_xml(None).expect("metadata");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed");
    let root = doc.root_element();
    assert_eq!(root.attribute("entityID"), Some(SP));
    let acs = root
        .descendants()
        .find(|n| n.tag_name().name() == "AssertionConsumerService")
        .expect("acs");
    assert_eq!(acs.attribute("Location"), Some(ACS));
    assert_eq!(acs.attribute("Binding"), Some(BINDING_HTTP_POST));
    assert!(xml.contains(NAMEID_PERSISTENT));
}

#[test]
fn authn_request_redirect_carries_a_fresh_id_and_relay_state() {
    use std::io::Read;
    let now = Utc::now();
    let a = config()
        .authn_request_redirect("rs-123", now)
        .expect("request");
    let b = config()
        .authn_request_redirect("rs-123", now)
        .expect("request");
    assert_ne!(a.request_id, b.request_id);
    assert!(a.url.as_str().starts_with(SSO));
    let pairs: std::collections::HashMap<_, _> = a.url.query_pairs().into_owned().collect();
    assert_eq!(pairs.get("RelayState").map(String::as_str), Some("rs-123"));
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(pairs.get("SAMLRequest").expect("request"))
        .expect("base64");
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .expect("deflate");
    let doc = roxmltree::Document::parse(&xml).expect("xml");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "AuthnRequest");
    assert_eq!(root.attribute("ID"), Some(a.request_id.as_str()));
    assert_eq!(root.attribute("AssertionConsumerServiceURL"), Some(ACS));
    assert_eq!(root.attribute("Destination"), Some(SSO));
}

#[test]
fn base64_wrapped_in_lines_is_accepted() {
    let b64 = idp().response_b64(&spec());
    let wrapped: String = b64
        .as_bytes()
        .chunks(76)
        .map(|line| format!("{}\r\n", std::str::from_utf8(line).expect("ascii")))
        .collect();
    assert!(verify_b64(&wrapped).is_ok());
}
