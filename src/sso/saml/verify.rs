//! Verification of a SAMLResponse received over HTTP-POST at the ACS.
//!
//! Order of checks (each failure is a distinct [`SamlRejection`]):
//! 1. size cap, base64, UTF-8, no DOCTYPE;
//! 2. structure of the raw document (signature-wrapping defence): root
//!    `samlp:Response`; exactly one `saml:Assertion` in the whole document,
//!    a direct child of the Response; no `EncryptedAssertion`;
//!    `ds:Signature` only as a direct child of the Response or of that
//!    Assertion, each with exactly one Reference to its parent's `ID`;
//!    Each Reference may use only the enveloped-signature and exclusive
//!    canonicalization transforms (SAML Core §5.4.4), so what it signs is
//!    exactly its parent element; a comment or processing instruction that
//!    splits a text value is refused (comment injection);
//! 3. signatures verified by xmlsec with the pinned certificates only and the
//!    allowed algorithms; every claim below is read from the pre-digest
//!    content of the verified reference (`ReduceMode::PreDigest`: the
//!    canonical bytes whose digest the IdP signed), never from the POST body.
//!    samael calls this its strictest mode; it is also the cheapest, as it
//!    skips the reduction of the parsed document back to the signed nodes
//!    (two more parses of the signed fragment, a node-by-node match that
//!    copies its sets at every step, pruning and re-serialisation), about
//!    40% of a verification before (see `benches/saml_verify.rs`);
//! 4. Status Success, Destination = ACS, InResponseTo = the pending request
//!    (or unsolicited and allowed), Issuer, Audience, a bearer
//!    SubjectConfirmation with Recipient = ACS and a live NotOnOrAfter,
//!    Conditions NotBefore/NotOnOrAfter, IssueInstant age, all with skew;
//! 5. the subject: a persistent NameID (transient refused) or a configured
//!    attribute — text is the concatenation of every text node, so a comment
//!    cannot truncate it;
//! 6. the replay cache, last, so only an otherwise valid assertion is burnt.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use roxmltree::{Document, Node, ParsingOptions};
use samael::crypto::{Crypto, CryptoProvider, ReduceMode};

use super::{
    NAMEID_PERSISTENT, NAMEID_TRANSIENT, NS_ASSERTION, NS_PROTOCOL, NS_XMLDSIG,
    SamlConnectionConfig, SubjectSource, contains_doctype,
};

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
/// The transforms a SAML signature may use (SAML Core §5.4.4): with only
/// these, a Reference to its parent's ID signs exactly that element.
const ALLOWED_TRANSFORMS: [&str; 3] = [
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
];
const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// What the caller expects: the request id from its pre-login record (None
/// for an unsolicited, IdP-initiated response) and the current time.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub request_id: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// The replay cache: `first_use` records (issuer, assertion id) until
/// `expires_at` and answers whether this is the first time it is seen. The
/// caller implements it with the database (an insert that conflicts on the
/// pair), so a replay is refused on every node.
pub trait ReplayCache {
    fn first_use(
        &self,
        issuer: &str,
        assertion_id: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, ReplayCacheError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replay cache unavailable: {0}")]
pub struct ReplayCacheError(pub String);

/// Attributes mapped by the connection's [`super::AttributeNames`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifiedAttributes {
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub groups: Vec<String>,
}

/// What a verified assertion says, read from the signed node only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub assertion_id: String,
    pub issuer: String,
    pub subject: String,
    /// The NameID format, or `attribute:<name>` when an attribute is the subject.
    pub subject_format: String,
    pub name_id: Option<String>,
    pub in_response_to: Option<String>,
    pub authn_instant: Option<DateTime<Utc>>,
    pub session_index: Option<String>,
    pub session_not_on_or_after: Option<DateTime<Utc>>,
    /// The latest validity bound of the assertion (Conditions or the bearer
    /// confirmation); the replay cache keeps the id until this plus skew.
    pub not_on_or_after: DateTime<Utc>,
    pub attributes: VerifiedAttributes,
}

/// Why a response was refused. [`SamlRejection::is_attack`] marks the ones
/// that a well-behaved IdP never produces (forgery, wrapping, replay).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlRejection {
    #[error("the SAMLResponse is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the SAMLResponse is not valid base64")]
    NotBase64,
    #[error("the SAMLResponse is not UTF-8")]
    NotUtf8,
    #[error("the SAMLResponse carries a DOCTYPE (DTDs and entities are refused)")]
    DtdPresent,
    #[error("the SAMLResponse is not well-formed XML: {0}")]
    MalformedXml(String),
    #[error("the document root is not a samlp:Response")]
    NotAResponse,
    #[error("the document holds {0} assertions; exactly one is accepted")]
    AssertionCount(usize),
    #[error("the assertion is not a direct child of the Response")]
    AssertionMisplaced,
    #[error("encrypted assertions are not accepted")]
    EncryptedAssertion,
    #[error("a ds:Signature sits outside the Response and its Assertion")]
    SignatureMisplaced,
    #[error("a signature does not reference exactly its parent element (or uses other transforms)")]
    SignatureReferenceMismatch,
    #[error("neither the Response nor the Assertion is signed")]
    Unsigned,
    #[error("the signature does not verify with the pinned certificates: {0}")]
    SignatureInvalid(String),
    #[error("the signed content is not the assertion found in the document")]
    SignedContentMismatch,
    #[error("status is not Success: {0}")]
    StatusNotSuccess(String),
    #[error("Destination `{found}` is not this ACS")]
    DestinationMismatch { found: String },
    #[error("a signed Response must carry a Destination")]
    DestinationMissing,
    #[error("InResponseTo does not match the pending request")]
    InResponseToMismatch,
    #[error("an unsolicited (IdP-initiated) response is not allowed on this connection")]
    Unsolicited,
    #[error("issuer `{found}` is not the connection's IdP")]
    IssuerMismatch { found: String },
    #[error("the assertion is not addressed to this SP (audience)")]
    AudienceMismatch,
    #[error("no bearer SubjectConfirmation")]
    NoBearerConfirmation,
    #[error("Recipient `{found}` is not this ACS")]
    RecipientMismatch { found: String },
    #[error("the assertion is not valid before {0}")]
    NotYetValid(DateTime<Utc>),
    #[error("the assertion expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("the assertion was issued at {0}, outside the accepted window")]
    IssueInstantOutOfRange(DateTime<Utc>),
    #[error("the assertion has no expiry (NotOnOrAfter)")]
    NoExpiry,
    #[error("the assertion has no subject")]
    MissingSubject,
    #[error("a transient NameID cannot identify a person")]
    TransientSubject,
    #[error("NameID format `{0}` is not persistent")]
    SubjectFormatNotAccepted(String),
    #[error("the subject attribute `{0}` is missing, empty or multi-valued")]
    SubjectAttribute(String),
    #[error("a time value is not xs:dateTime: `{0}`")]
    BadTime(String),
    #[error("the assertion was already used")]
    Replayed,
    #[error(transparent)]
    ReplayCache(#[from] ReplayCacheError),
}

impl SamlRejection {
    /// True for documents that indicate forgery, wrapping or replay rather
    /// than a misconfiguration or an expired login — log these as attacks.
    pub fn is_attack(&self) -> bool {
        use SamlRejection::*;
        matches!(
            self,
            DtdPresent
                | AssertionCount(_)
                | AssertionMisplaced
                | SignatureMisplaced
                | SignatureReferenceMismatch
                | Unsigned
                | SignatureInvalid(_)
                | SignedContentMismatch
                | InResponseToMismatch
                | Replayed
                | TooLarge { .. }
        )
    }
}

/// What the raw-document check learned about the envelope.
struct Envelope {
    response_signed: bool,
    assertion_id: String,
}

/// Verifies a base64 `SAMLResponse` from the HTTP-POST binding.
pub fn verify_response(
    config: &SamlConnectionConfig,
    base64_post_body: &str,
    expect: Expected<'_>,
    replay: &dyn ReplayCache,
) -> Result<VerifiedAssertion, SamlRejection> {
    let limit = config.max_response_bytes();
    // base64 grows 4/3; refuse before decoding anything absurd.
    if base64_post_body.len() > limit / 3 * 4 + 4 + limit / 64 * 2 {
        return Err(SamlRejection::TooLarge { limit });
    }
    // Most IdPs send one line: decode it in place; others wrap lines.
    let engine = &base64::engine::general_purpose::STANDARD;
    let raw = if base64_post_body.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: Vec<u8> = base64_post_body
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        engine.decode(compact)
    } else {
        engine.decode(base64_post_body)
    }
    .map_err(|_| SamlRejection::NotBase64)?;
    if raw.len() > limit {
        return Err(SamlRejection::TooLarge { limit });
    }
    let xml = String::from_utf8(raw).map_err(|_| SamlRejection::NotUtf8)?;
    verify_response_xml(config, &xml, expect, replay)
}

/// [`verify_response`] on the decoded XML.
pub(crate) fn verify_response_xml(
    config: &SamlConnectionConfig,
    xml: &str,
    expect: Expected<'_>,
    replay: &dyn ReplayCache,
) -> Result<VerifiedAssertion, SamlRejection> {
    if xml.len() > config.max_response_bytes() {
        return Err(SamlRejection::TooLarge {
            limit: config.max_response_bytes(),
        });
    }
    if contains_doctype(xml) {
        return Err(SamlRejection::DtdPresent);
    }
    let raw_doc = parse(xml)?;
    let envelope = check_structure(&raw_doc)?;

    // Every signature must verify; the result is the pre-digest content of
    // the only reference, or of the Response's when both are signed.
    let signed_xml = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        config.certs_der(),
        ReduceMode::PreDigest,
        Some(config.allowed_algorithms()),
    )
    .map_err(|e| SamlRejection::SignatureInvalid(error_chain(&e)))?;

    let signed = parse(&signed_xml)?;
    let root = signed.root_element();
    let (response, assertion) = if is(root, NS_PROTOCOL, "Response") {
        let assertion = children(root, NS_ASSERTION, "Assertion")
            .next()
            .ok_or(SamlRejection::SignedContentMismatch)?;
        (Some(root), assertion)
    } else if is(root, NS_ASSERTION, "Assertion") {
        (None, root)
    } else {
        return Err(SamlRejection::SignedContentMismatch);
    };
    if assertion.attribute("ID") != Some(envelope.assertion_id.as_str())
        || response.is_some() != envelope.response_signed
    {
        return Err(SamlRejection::SignedContentMismatch);
    }

    // Response-level fields: from the verified Response when it is signed;
    // otherwise from the raw envelope, whose shape check_structure pinned.
    let response = response.unwrap_or_else(|| raw_doc.root_element());
    check_response_envelope(config, response, envelope.response_signed, expect)?;

    let verified = check_assertion(config, assertion, expect)?;
    let keep_until = verified.not_on_or_after + config.clock_skew();
    if !replay.first_use(&verified.issuer, &verified.assertion_id, keep_until)? {
        return Err(SamlRejection::Replayed);
    }
    Ok(verified)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn parse(xml: &str) -> Result<Document<'_>, SamlRejection> {
    Document::parse_with_options(
        xml,
        ParsingOptions {
            allow_dtd: false,
            nodes_limit: 100_000,
        },
    )
    .map_err(|e| match e {
        roxmltree::Error::DtdDetected => SamlRejection::DtdPresent,
        other => SamlRejection::MalformedXml(other.to_string()),
    })
}

fn is(node: Node<'_, '_>, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().name() == local && node.tag_name().namespace() == Some(ns)
}

fn children<'a, 'input>(
    node: Node<'a, 'input>,
    ns: &'static str,
    local: &'static str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(move |c| is(*c, ns, local))
}

fn child<'a, 'input>(
    node: Node<'a, 'input>,
    ns: &'static str,
    local: &'static str,
) -> Option<Node<'a, 'input>> {
    children(node, ns, local).next()
}

/// Every text node below `node`, concatenated and trimmed: comments and
/// processing instructions split text nodes but never shorten the value.
pub(super) fn full_text(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<String>()
        .trim()
        .to_owned()
}

fn time_attr(node: Node<'_, '_>, name: &str) -> Result<Option<DateTime<Utc>>, SamlRejection> {
    node.attribute(name)
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| SamlRejection::BadTime(v.to_owned()))
        })
        .transpose()
}

fn check_structure(doc: &Document<'_>) -> Result<Envelope, SamlRejection> {
    let root = doc.root_element();
    if !is(root, NS_PROTOCOL, "Response") {
        return Err(SamlRejection::NotAResponse);
    }
    let mut assertions = Vec::new();
    let mut signatures = Vec::new();
    for node in root.descendants() {
        if node.is_comment() || node.is_pi() {
            // Canonicalization drops comments, so `a@x.com<!---->.evil`
            // verifies as `a@x.com.evil`: a value split this way is a
            // comment-injection attempt (a legitimate IdP never sends one).
            let splits_text = node.parent().is_some_and(|p| {
                p.children()
                    .any(|c| c.is_text() && c.text().is_some_and(|t| !t.trim().is_empty()))
            });
            if splits_text {
                return Err(SamlRejection::SignatureInvalid(
                    "a comment or processing instruction splits a text value (comment injection)"
                        .into(),
                ));
            }
            continue;
        }
        if !node.is_element() {
            continue;
        }
        let name = node.tag_name().name();
        if name == "EncryptedAssertion" {
            return Err(SamlRejection::EncryptedAssertion);
        }
        // Any element called Assertion, whatever its namespace, counts: a
        // wrapped copy in a foreign namespace is still a wrapping attempt.
        if name == "Assertion" {
            assertions.push(node);
        }
        if is(node, NS_XMLDSIG, "Signature") {
            signatures.push(node);
        }
    }
    if assertions.len() != 1 {
        return Err(SamlRejection::AssertionCount(assertions.len()));
    }
    let assertion = assertions[0];
    if !is(assertion, NS_ASSERTION, "Assertion") || assertion.parent_element() != Some(root) {
        return Err(SamlRejection::AssertionMisplaced);
    }
    let assertion_id = assertion
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or(SamlRejection::SignedContentMismatch)?
        .to_owned();
    let (mut response_signed, mut assertion_signed) = (false, false);
    for sig in signatures {
        let parent = sig.parent_element();
        let slot = if parent == Some(root) {
            &mut response_signed
        } else if parent == Some(assertion) {
            &mut assertion_signed
        } else {
            return Err(SamlRejection::SignatureMisplaced);
        };
        if *slot {
            // Two signatures on one element.
            return Err(SamlRejection::SignatureMisplaced);
        }
        *slot = true;
        let parent_id = parent.and_then(|p| p.attribute("ID")).unwrap_or_default();
        let references: Vec<_> = child(sig, NS_XMLDSIG, "SignedInfo")
            .map(|si| children(si, NS_XMLDSIG, "Reference").collect())
            .unwrap_or_default();
        if parent_id.is_empty()
            || references.len() != 1
            || references[0].attribute("URI") != Some(&format!("#{parent_id}"))
        {
            return Err(SamlRejection::SignatureReferenceMismatch);
        }
        let transforms_allowed = child(references[0], NS_XMLDSIG, "Transforms")
            .map(|t| {
                t.children().filter(|c| c.is_element()).all(|c| {
                    is(c, NS_XMLDSIG, "Transform")
                        && c.attribute("Algorithm")
                            .is_some_and(|a| ALLOWED_TRANSFORMS.contains(&a))
                })
            })
            .unwrap_or(true);
        if !transforms_allowed {
            return Err(SamlRejection::SignatureReferenceMismatch);
        }
    }
    if !response_signed && !assertion_signed {
        return Err(SamlRejection::Unsigned);
    }
    Ok(Envelope {
        response_signed,
        assertion_id,
    })
}

fn check_issuer(config: &SamlConnectionConfig, issuer: &str) -> Result<(), SamlRejection> {
    if issuer != config.idp().entity_id {
        return Err(SamlRejection::IssuerMismatch {
            found: issuer.to_owned(),
        });
    }
    Ok(())
}

fn check_in_response_to(
    config: &SamlConnectionConfig,
    found: Option<&str>,
    expect: Expected<'_>,
) -> Result<(), SamlRejection> {
    match (expect.request_id, found) {
        (Some(want), Some(got)) if want == got => Ok(()),
        (Some(_), None) => Ok(()), // checked again on the confirmation; one must carry it
        (Some(_), Some(_)) => Err(SamlRejection::InResponseToMismatch),
        (None, _) if !config.allow_idp_initiated() => Err(SamlRejection::Unsolicited),
        (None, None) => Ok(()),
        // A response to some request we hold no record of.
        (None, Some(_)) => Err(SamlRejection::InResponseToMismatch),
    }
}

fn check_response_envelope(
    config: &SamlConnectionConfig,
    response: Node<'_, '_>,
    response_signed: bool,
    expect: Expected<'_>,
) -> Result<(), SamlRejection> {
    let status = child(response, NS_PROTOCOL, "Status")
        .and_then(|s| child(s, NS_PROTOCOL, "StatusCode"))
        .and_then(|c| c.attribute("Value"))
        .unwrap_or_default();
    if status != STATUS_SUCCESS {
        return Err(SamlRejection::StatusNotSuccess(status.to_owned()));
    }
    match response.attribute("Destination") {
        Some(d) if d != config.acs_url() => {
            return Err(SamlRejection::DestinationMismatch {
                found: d.to_owned(),
            });
        }
        None if response_signed => return Err(SamlRejection::DestinationMissing),
        _ => {}
    }
    if let Some(issuer) = child(response, NS_ASSERTION, "Issuer") {
        check_issuer(config, &full_text(issuer))?;
    }
    // When the Response omits InResponseTo, the bearer confirmation must
    // carry it (check_confirmation).
    check_in_response_to(config, response.attribute("InResponseTo"), expect)
}

fn check_assertion(
    config: &SamlConnectionConfig,
    assertion: Node<'_, '_>,
    expect: Expected<'_>,
) -> Result<VerifiedAssertion, SamlRejection> {
    let now = expect.now;
    let skew = config.clock_skew();
    let assertion_id = assertion.attribute("ID").unwrap_or_default().to_owned();

    let issuer = child(assertion, NS_ASSERTION, "Issuer")
        .map(full_text)
        .unwrap_or_default();
    check_issuer(config, &issuer)?;

    // Conditions: validity window and audience.
    let mut not_on_or_after: Option<DateTime<Utc>> = None;
    let conditions = child(assertion, NS_ASSERTION, "Conditions");
    if let Some(c) = conditions {
        check_window(
            time_attr(c, "NotBefore")?,
            time_attr(c, "NotOnOrAfter")?,
            now,
            skew,
        )?;
        not_on_or_after = time_attr(c, "NotOnOrAfter")?;
        for restriction in children(c, NS_ASSERTION, "AudienceRestriction") {
            let ok = children(restriction, NS_ASSERTION, "Audience")
                .any(|a| full_text(a) == config.sp_entity_id());
            if !ok {
                return Err(SamlRejection::AudienceMismatch);
            }
        }
    }
    if let Some(issued) = time_attr(assertion, "IssueInstant")?
        && (issued > now + skew || issued < now - skew - config.max_assertion_age())
    {
        return Err(SamlRejection::IssueInstantOutOfRange(issued));
    }

    let has_audience = conditions
        .map(|c| {
            children(c, NS_ASSERTION, "AudienceRestriction")
                .next()
                .is_some()
        })
        .unwrap_or(false);
    if !has_audience {
        return Err(SamlRejection::AudienceMismatch);
    }

    // Subject and its bearer confirmation (Profiles §4.1.4.2).
    let subject = child(assertion, NS_ASSERTION, "Subject").ok_or(SamlRejection::MissingSubject)?;
    let mut first_failure = None;
    let mut confirmed = None;
    for sc in children(subject, NS_ASSERTION, "SubjectConfirmation")
        .filter(|sc| sc.attribute("Method") == Some(CM_BEARER))
    {
        match check_confirmation(config, sc, expect) {
            Ok(until) => {
                confirmed = Some(until);
                break;
            }
            Err(e) => {
                first_failure.get_or_insert(e);
            }
        }
    }
    let confirmed_until = match (confirmed, first_failure) {
        (Some(until), _) => until,
        (None, Some(e)) => return Err(e),
        (None, None) => return Err(SamlRejection::NoBearerConfirmation),
    };
    let not_on_or_after = match not_on_or_after {
        Some(c) => c.max(confirmed_until),
        None => confirmed_until,
    };

    let name_id = child(subject, NS_ASSERTION, "NameID");
    let name_id_value = name_id.map(full_text).filter(|v| !v.is_empty());
    let name_id_format = name_id
        .and_then(|n| n.attribute("Format"))
        .unwrap_or("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
        .to_owned();

    let attributes_of = |name: &str| -> Vec<String> {
        children(assertion, NS_ASSERTION, "AttributeStatement")
            .flat_map(|s| children(s, NS_ASSERTION, "Attribute"))
            .filter(|a| a.attribute("Name") == Some(name))
            .flat_map(|a| children(a, NS_ASSERTION, "AttributeValue"))
            .map(full_text)
            .filter(|v| !v.is_empty())
            .collect()
    };
    let (subject_value, subject_format) = match config.subject_source() {
        SubjectSource::PersistentNameId => {
            let value = name_id_value.clone().ok_or(SamlRejection::MissingSubject)?;
            if name_id_format == NAMEID_TRANSIENT {
                return Err(SamlRejection::TransientSubject);
            }
            if name_id_format != NAMEID_PERSISTENT {
                return Err(SamlRejection::SubjectFormatNotAccepted(name_id_format));
            }
            (value, name_id_format.clone())
        }
        SubjectSource::Attribute(name) => {
            let values = attributes_of(name);
            if values.len() != 1 {
                return Err(SamlRejection::SubjectAttribute(name.clone()));
            }
            (values[0].clone(), format!("attribute:{name}"))
        }
    };

    let names = config.attribute_names();
    let first = |n: &Option<String>| {
        n.as_deref()
            .and_then(|n| attributes_of(n).into_iter().next())
    };
    let attributes = VerifiedAttributes {
        email: first(&names.email),
        given_name: first(&names.given_name),
        family_name: first(&names.family_name),
        display_name: first(&names.display_name),
        groups: names
            .groups
            .as_deref()
            .map(attributes_of)
            .unwrap_or_default(),
    };

    let authn = child(assertion, NS_ASSERTION, "AuthnStatement");
    let (authn_instant, session_index, session_not_on_or_after) = match authn {
        Some(a) => (
            time_attr(a, "AuthnInstant")?,
            a.attribute("SessionIndex").map(str::to_owned),
            time_attr(a, "SessionNotOnOrAfter")?,
        ),
        None => (None, None, None),
    };
    if let Some(end) = session_not_on_or_after
        && now - skew >= end
    {
        return Err(SamlRejection::Expired(end));
    }

    Ok(VerifiedAssertion {
        assertion_id,
        issuer,
        subject: subject_value,
        subject_format,
        name_id: name_id_value,
        in_response_to: expect.request_id.map(str::to_owned),
        authn_instant,
        session_index,
        session_not_on_or_after,
        not_on_or_after,
        attributes,
    })
}

fn check_window(
    not_before: Option<DateTime<Utc>>,
    not_on_or_after: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<(), SamlRejection> {
    if let Some(nb) = not_before
        && now + skew < nb
    {
        return Err(SamlRejection::NotYetValid(nb));
    }
    if let Some(end) = not_on_or_after
        && now - skew >= end
    {
        return Err(SamlRejection::Expired(end));
    }
    Ok(())
}

/// One bearer `SubjectConfirmationData`: Recipient, window, InResponseTo.
/// Returns its NotOnOrAfter (required by Profiles §4.1.4.2).
fn check_confirmation(
    config: &SamlConnectionConfig,
    sc: Node<'_, '_>,
    expect: Expected<'_>,
) -> Result<DateTime<Utc>, SamlRejection> {
    let data = child(sc, NS_ASSERTION, "SubjectConfirmationData").ok_or(SamlRejection::NoExpiry)?;
    let recipient = data.attribute("Recipient").unwrap_or_default();
    if recipient != config.acs_url() {
        return Err(SamlRejection::RecipientMismatch {
            found: recipient.to_owned(),
        });
    }
    let end = time_attr(data, "NotOnOrAfter")?.ok_or(SamlRejection::NoExpiry)?;
    check_window(
        time_attr(data, "NotBefore")?,
        Some(end),
        expect.now,
        config.clock_skew(),
    )?;
    let found = data.attribute("InResponseTo");
    check_in_response_to(config, found, expect)?;
    if expect.request_id.is_some() && found.is_none() {
        return Err(SamlRejection::InResponseToMismatch);
    }
    Ok(end)
}

/// A process-local replay cache (tests, benchmarks, single-node tools).
/// Production uses a database-backed [`ReplayCache`].
#[derive(Debug, Default)]
pub struct MemoryReplayCache {
    seen: std::sync::Mutex<std::collections::HashMap<(String, String), DateTime<Utc>>>,
}

impl ReplayCache for MemoryReplayCache {
    fn first_use(
        &self,
        issuer: &str,
        assertion_id: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, ReplayCacheError> {
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| ReplayCacheError("poisoned".into()))?;
        if seen.len() > 100_000 {
            let now = Utc::now();
            seen.retain(|_, until| *until > now);
        }
        Ok(seen
            .insert((issuer.to_owned(), assertion_id.to_owned()), expires_at)
            .is_none())
    }
}
