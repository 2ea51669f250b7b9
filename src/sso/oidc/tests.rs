//! The relying party against the loopback test OP: real RS256 signatures,
//! real HTTP, forged and misdirected tokens refused.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::fixture::{TestOp, TokenSigning, TokenSpec};
use super::*;

const REDIRECT: &str = "https://rollcall.test/sso/oidc/acme/callback";

fn config(op: &TestOp) -> OidcConfig {
    let mut config = OidcConfig::new(
        op.issuer.clone(),
        op.client_id.clone(),
        SecretString::from(op.client_secret.clone()),
        REDIRECT,
    );
    config.network = NetworkPolicy {
        allow_private_networks: true,
        allow_plain_http: true,
    };
    config
}

async fn provider(op: &TestOp) -> OidcProvider {
    OidcProvider::discover(config(op)).await.expect("discovery")
}

fn pending(start: &AuthorizationStart) -> PendingLogin {
    PendingLogin {
        state: start.state.clone(),
        nonce: start.nonce.clone(),
        pkce_verifier: start.pkce_verifier.clone(),
    }
}

/// One login: start, the OP's answer for `spec`, callback.
async fn login(
    op: &TestOp,
    rp: &OidcProvider,
    spec: &TokenSpec,
) -> Result<OidcIdentity, OidcError> {
    let start = rp.authorization_start();
    let params = op.authorize(&start.url, spec);
    rp.callback(&params, &pending(&start), Utc::now()).await
}

fn ada() -> TokenSpec {
    let mut spec = TokenSpec::new("sub-ada");
    spec.userinfo_claims = json!({
        "email": "ada@acme.test",
        "email_verified": true,
        "given_name": "Ada",
        "family_name": "Lovelace",
        "name": "Ada Lovelace",
        "groups": ["analysts", "admins"],
    })
    .as_object()
    .cloned()
    .expect("object");
    spec
}

#[tokio::test]
async fn a_login_yields_the_identity_with_userinfo_claims() {
    let op = TestOp::start(1, true);
    let rp = provider(&op).await;
    let identity = login(&op, &rp, &ada()).await.expect("login");
    assert_eq!(
        identity,
        OidcIdentity {
            issuer: op.issuer.clone(),
            subject: "sub-ada".into(),
            email: Some("ada@acme.test".into()),
            email_verified: true,
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            name: Some("Ada Lovelace".into()),
            groups: vec!["analysts".into(), "admins".into()],
            hosted_domain: None,
        }
    );
}

#[tokio::test]
async fn the_authorization_url_carries_pkce_s256_state_and_nonce() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let a = rp.authorization_start();
    let b = rp.authorization_start();
    assert_ne!(a.state, b.state);
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.pkce_verifier, b.pkce_verifier);
    let q: std::collections::HashMap<String, String> = a.url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["state"], a.state);
    assert_eq!(q["nonce"], a.nonce);
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["scope"], "openid email profile");
    use base64::Engine as _;
    use sha2::Digest as _;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(a.pkce_verifier.as_bytes()));
    assert_eq!(q["code_challenge"], challenge);
    assert!(
        a.url
            .as_str()
            .starts_with(&format!("{}/authorize?", op.issuer))
    );
}

#[tokio::test]
async fn email_verified_missing_is_false_and_entra_xms_edov_counts() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let mut spec = TokenSpec::new("sub-entra");
    spec.id_token_claims = json!({ "email": "bo@acme.test", "xms_edov": true })
        .as_object()
        .cloned()
        .expect("object");
    let standard = login(&op, &rp, &spec).await.expect("login");
    assert_eq!(standard.email.as_deref(), Some("bo@acme.test"));
    assert!(
        !standard.email_verified,
        "no email_verified claim means unverified"
    );

    let mut entra = config(&op);
    entra.email_trust = EmailTrust::Entra;
    let rp = OidcProvider::discover(entra).await.expect("discovery");
    assert!(login(&op, &rp, &spec).await.expect("login").email_verified);
}

#[tokio::test]
async fn a_verification_flag_vouches_only_for_its_own_address() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let mut spec = TokenSpec::new("sub-x");
    spec.id_token_claims = json!({ "email": "x@acme.test", "email_verified": true })
        .as_object()
        .cloned()
        .expect("object");
    spec.userinfo_claims = json!({ "email": "other@acme.test" })
        .as_object()
        .cloned()
        .expect("object");
    let identity = login(&op, &rp, &spec).await.expect("login");
    assert_eq!(identity.email.as_deref(), Some("other@acme.test"));
    assert!(!identity.email_verified);
}

#[tokio::test]
async fn google_hosted_domain_is_required_when_configured() {
    let op = TestOp::start(1, false);
    let mut google = config(&op);
    google.email_trust = EmailTrust::Google {
        hosted_domain: Some("acme.test".into()),
    };
    let rp = OidcProvider::discover(google).await.expect("discovery");
    let mut spec = TokenSpec::new("sub-g");
    spec.id_token_claims = json!({ "email": "cy@gmail.test", "email_verified": true })
        .as_object()
        .cloned()
        .expect("object");
    assert!(!login(&op, &rp, &spec).await.expect("login").email_verified);
    spec.id_token_claims
        .insert("hd".into(), Value::String("acme.test".into()));
    let identity = login(&op, &rp, &spec).await.expect("login");
    assert!(identity.email_verified);
    assert_eq!(identity.hosted_domain.as_deref(), Some("acme.test"));
}

#[tokio::test]
async fn claim_names_are_configurable() {
    let op = TestOp::start(1, false);
    let mut custom = config(&op);
    custom.claims.email = "upn".into();
    custom.claims.groups = Some("roles".into());
    custom.fetch_userinfo = false;
    let rp = OidcProvider::discover(custom).await.expect("discovery");
    let mut spec = TokenSpec::new("sub-c");
    spec.id_token_claims = json!({ "upn": "di@acme.test", "email_verified": true, "roles": "ops" })
        .as_object()
        .cloned()
        .expect("object");
    let identity = login(&op, &rp, &spec).await.expect("login");
    assert_eq!(identity.email.as_deref(), Some("di@acme.test"));
    assert!(identity.email_verified);
    assert_eq!(identity.groups, vec!["ops"]);
}

#[tokio::test]
async fn wrong_nonce_is_refused() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let mut spec = ada();
    spec.nonce = Some("not-the-nonce".into());
    assert_eq!(login(&op, &rp, &spec).await, Err(OidcError::NonceMismatch));
}

#[tokio::test]
async fn wrong_state_is_refused() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let mut spec = ada();
    spec.state = Some("forged-state".into());
    let result = login(&op, &rp, &spec).await;
    assert_eq!(result, Err(OidcError::StateMismatch));
    assert!(result.unwrap_err().is_attack());
}

#[tokio::test]
async fn wrong_issuer_in_token_is_refused() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let mut spec = ada();
    spec.issuer = Some("https://evil.test".into());
    assert!(matches!(
        login(&op, &rp, &spec).await,
        Err(OidcError::WrongIssuer(_))
    ));
}

#[tokio::test]
async fn discovery_with_a_different_issuer_is_refused() {
    let op = TestOp::start(1, false);
    let mut trailing = config(&op);
    trailing.issuer = format!("{}/", op.issuer);
    let result = OidcProvider::discover(trailing).await;
    assert!(
        matches!(result, Err(OidcError::DiscoveryIssuerMismatch { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let mut spec = ada();
    spec.audiences = Some(vec!["another-client".into()]);
    assert!(matches!(
        login(&op, &rp, &spec).await,
        Err(OidcError::WrongAudience(_))
    ));
}

#[tokio::test]
async fn several_audiences_need_azp_equal_to_our_client() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let mut spec = ada();
    spec.audiences = Some(vec![op.client_id.clone(), "another-client".into()]);
    assert_eq!(login(&op, &rp, &spec).await, Err(OidcError::AzpMismatch));
    spec.azp = Some("another-client".into());
    assert_eq!(login(&op, &rp, &spec).await, Err(OidcError::AzpMismatch));
    spec.azp = Some(op.client_id.clone());
    assert!(login(&op, &rp, &spec).await.is_ok());
}

#[tokio::test]
async fn expired_token_is_refused_beyond_the_skew() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let mut spec = ada();
    spec.issued_at_offset = Duration::minutes(-20);
    spec.expires_in = Duration::minutes(10);
    assert!(matches!(
        login(&op, &rp, &spec).await,
        Err(OidcError::Expired(_))
    ));
    // Expired one minute ago: within the 3-minute skew.
    spec.issued_at_offset = Duration::minutes(-11);
    assert!(login(&op, &rp, &spec).await.is_ok());
}

#[tokio::test]
async fn token_issued_in_the_future_is_refused() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let mut spec = ada();
    spec.issued_at_offset = Duration::minutes(10);
    assert!(matches!(
        login(&op, &rp, &spec).await,
        Err(OidcError::IssuedInFuture(_))
    ));
}

#[tokio::test]
async fn alg_none_is_refused() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let mut spec = ada();
    spec.signing = TokenSigning::AlgNone;
    let result = login(&op, &rp, &spec).await;
    assert!(
        matches!(result, Err(OidcError::AlgorithmNotAllowed(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn bad_signature_is_refused() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let mut spec = ada();
    spec.signing = TokenSigning::Tampered;
    let result = login(&op, &rp, &spec).await;
    assert!(
        matches!(result, Err(OidcError::BadSignature(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn unknown_kid_is_refused_after_one_rate_limited_refresh() {
    let op = TestOp::start(1, false);
    let mut cfg = config(&op);
    cfg.jwks_min_refresh = StdDuration::ZERO;
    let rp = OidcProvider::discover(cfg).await.expect("discovery");
    assert_eq!(op.jwks_fetches(), 1);
    let mut spec = ada();
    spec.signing = TokenSigning::UnpublishedKey;
    assert_eq!(login(&op, &rp, &spec).await, Err(OidcError::UnknownKey));
    assert_eq!(op.jwks_fetches(), 2, "one refresh on the unknown kid");

    // With the default interval, a second unknown kid right after discovery
    // does not fetch again.
    let rp = provider(&op).await;
    assert_eq!(op.jwks_fetches(), 3);
    assert_eq!(login(&op, &rp, &spec).await, Err(OidcError::UnknownKey));
    assert_eq!(login(&op, &rp, &spec).await, Err(OidcError::UnknownKey));
    assert_eq!(op.jwks_fetches(), 3, "refresh is rate-limited");
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_a_refresh() {
    let op = TestOp::start(1, false);
    let mut cfg = config(&op);
    cfg.jwks_min_refresh = StdDuration::ZERO;
    let rp = OidcProvider::discover(cfg).await.expect("discovery");
    op.rotate_key("k2");
    assert!(login(&op, &rp, &ada()).await.is_ok());
    assert_eq!(op.jwks_fetches(), 2);
}

#[tokio::test]
async fn at_hash_for_another_access_token_is_refused() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let mut spec = ada();
    spec.mismatched_at_hash = true;
    assert_eq!(
        login(&op, &rp, &spec).await,
        Err(OidcError::AccessTokenHashMismatch)
    );
}

#[tokio::test]
async fn userinfo_subject_mismatch_is_refused() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let mut spec = ada();
    spec.userinfo_subject = Some("sub-mallory".into());
    assert_eq!(
        login(&op, &rp, &spec).await,
        Err(OidcError::UserinfoSubjectMismatch)
    );
}

#[tokio::test]
async fn iss_parameter_mismatch_is_refused_and_required_when_advertised() {
    let op = TestOp::start(1, true);
    let rp = provider(&op).await;
    let mut spec = ada();
    spec.iss_param = Some("https://evil.test".into());
    assert_eq!(
        login(&op, &rp, &spec).await,
        Err(OidcError::IssuerParamMismatch("https://evil.test".into()))
    );
    let start = rp.authorization_start();
    let mut params = op.authorize(&start.url, &ada());
    params.iss = None;
    assert_eq!(
        rp.callback(&params, &pending(&start), Utc::now()).await,
        Err(OidcError::IssuerParamMissing)
    );
}

#[tokio::test]
async fn a_code_is_single_use_and_bound_to_the_pkce_verifier() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let start = rp.authorization_start();
    let params = op.authorize(&start.url, &ada());
    let mut wrong = pending(&start);
    wrong.pkce_verifier = "x".repeat(43);
    assert_eq!(
        rp.callback(&params, &wrong, Utc::now()).await,
        Err(OidcError::TokenEndpoint("invalid_grant".into()))
    );
    // The failed attempt consumed the code.
    assert_eq!(
        rp.callback(&params, &pending(&start), Utc::now()).await,
        Err(OidcError::TokenEndpoint("invalid_grant".into()))
    );
}

#[tokio::test]
async fn an_error_from_the_idp_is_reported() {
    let op = TestOp::start(1, false);
    let rp = provider(&op).await;
    let start = rp.authorization_start();
    let params = CallbackParams {
        error: Some("access_denied".into()),
        state: Some(start.state.clone()),
        ..CallbackParams::default()
    };
    assert!(matches!(
        rp.callback(&params, &pending(&start), Utc::now()).await,
        Err(OidcError::IdpError { .. })
    ));
}

#[tokio::test]
async fn loopback_discovery_is_refused_without_the_private_network_flag() {
    let op = TestOp::start(1, false);
    let mut strict = config(&op);
    strict.network.allow_private_networks = false;
    assert!(matches!(
        OidcProvider::discover(strict).await,
        Err(OidcError::Blocked(_))
    ));
}

#[test]
fn none_and_hmac_cannot_be_allowed() {
    let mut cfg = OidcConfig::new("https://idp.test", "c", SecretString::from("s"), REDIRECT);
    cfg.allowed_algs = vec![CoreJwsSigningAlgorithm::None];
    assert!(cfg.validate().is_err());
    cfg.allowed_algs = vec![CoreJwsSigningAlgorithm::HmacSha256];
    assert!(cfg.validate().is_err());
}
