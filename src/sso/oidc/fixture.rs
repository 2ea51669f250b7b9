//! A small OpenID provider on loopback for tests and the `oidc_callback`
//! benchmark: discovery, JWKS, token (client_secret_basic + PKCE S256,
//! single-use codes) and userinfo, signing ID tokens with RSA keys generated
//! at run time through openidconnect's `IdToken::new`. The authorization
//! step runs in process ([`TestOp::authorize`]): it reads the real
//! authorization URL the RP built and answers with the callback parameters a
//! browser would bring back. Knobs on [`TokenSpec`] produce the forged and
//! misdirected tokens the negative tests need. Never configured by the
//! gateway itself.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use chrono::{Duration, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType, CoreRsaPrivateSigningKey, CoreSubjectIdentifierType,
};
use openidconnect::{
    AccessToken, Audience, AuthUrl, AuthorizationCode, EmptyAdditionalProviderMetadata,
    IdTokenClaims, IssuerUrl, JsonWebKeyId, JsonWebKeySetUrl, Nonce, PrivateSigningKey,
    ResponseTypes, StandardClaims, SubjectIdentifier, TokenUrl, UserInfoUrl,
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{CallbackParams, OtherClaims};

/// How the OP signs the ID token for one grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSigning {
    /// RS256 with the active published key.
    Good,
    /// `alg: none`, no signature.
    AlgNone,
    /// Signed, then the payload edited (the signature no longer matches).
    Tampered,
    /// RS256 with a key whose `kid` is never published in the JWKS.
    UnpublishedKey,
}

/// What the OP issues for one authorization.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    pub subject: String,
    /// Claims put into the ID token besides the registered ones.
    pub id_token_claims: Map<String, Value>,
    /// Claims answered by userinfo (besides `sub`).
    pub userinfo_claims: Map<String, Value>,
    /// Replaces the nonce from the request.
    pub nonce: Option<String>,
    /// Replaces the OP's issuer in the token.
    pub issuer: Option<String>,
    /// Replaces `[client_id]` as the audiences.
    pub audiences: Option<Vec<String>>,
    pub azp: Option<String>,
    /// Validity relative to now (negative: already expired).
    pub expires_in: Duration,
    pub issued_at_offset: Duration,
    pub userinfo_subject: Option<String>,
    /// Replaces the `state` in the callback.
    pub state: Option<String>,
    /// Replaces the RFC 9207 `iss` in the callback (the OP's issuer otherwise).
    pub iss_param: Option<String>,
    pub signing: TokenSigning,
    /// Computes `at_hash` over a different access token than the one issued.
    pub mismatched_at_hash: bool,
}

impl TokenSpec {
    pub fn new(subject: &str) -> TokenSpec {
        TokenSpec {
            subject: subject.to_owned(),
            id_token_claims: Map::new(),
            userinfo_claims: Map::new(),
            nonce: None,
            issuer: None,
            audiences: None,
            azp: None,
            expires_in: Duration::minutes(5),
            issued_at_offset: Duration::zero(),
            userinfo_subject: None,
            state: None,
            iss_param: None,
            signing: TokenSigning::Good,
            mismatched_at_hash: false,
        }
    }
}

struct Grant {
    code_challenge: String,
    redirect_uri: String,
    id_token: String,
    access_token: String,
}

struct SigningKey {
    key: CoreRsaPrivateSigningKey,
}

struct OpState {
    issuer: String,
    client_id: String,
    client_secret: String,
    published: Mutex<Vec<SigningKey>>,
    unpublished: SigningKey,
    grants: Mutex<HashMap<String, Grant>>,
    userinfo: Mutex<HashMap<String, Value>>,
    jwks_fetches: AtomicUsize,
    advertise_iss_parameter: bool,
}

/// A running test OP. The server thread lives until the process ends.
pub struct TestOp {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    state: Arc<OpState>,
}

fn rsa_key(kid: &str) -> SigningKey {
    let rsa = openssl::rsa::Rsa::generate(2048).expect("RSA key");
    let pem = String::from_utf8(rsa.private_key_to_pem().expect("pem")).expect("utf8");
    SigningKey {
        key: CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(kid.to_owned())))
            .expect("signing key"),
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl TestOp {
    /// Starts an OP on 127.0.0.1 (a free port) with `workers` server threads.
    pub fn start(workers: usize, advertise_iss_parameter: bool) -> TestOp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(OpState {
            issuer: issuer.clone(),
            client_id: "rollcall-test".into(),
            client_secret: "s3cret&with+symbols".into(),
            published: Mutex::new(vec![rsa_key("k1")]),
            unpublished: rsa_key("never-published"),
            grants: Mutex::new(HashMap::new()),
            userinfo: Mutex::new(HashMap::new()),
            jwks_fetches: AtomicUsize::new(0),
            advertise_iss_parameter,
        });
        let shared = web::Data::from(state.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(shared.clone())
                        .route(
                            "/.well-known/openid-configuration",
                            web::get().to(discovery),
                        )
                        .route("/jwks", web::get().to(jwks))
                        .route("/token", web::post().to(token))
                        .route("/userinfo", web::get().to(userinfo))
                })
                .workers(workers.max(1))
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run();
                let _ = ready_tx.send(());
                let _ = server.await;
            });
        });
        ready_rx.recv().expect("OP started");
        TestOp {
            issuer,
            client_id: state.client_id.clone(),
            client_secret: state.client_secret.clone(),
            state,
        }
    }

    /// How many times the JWKS was served.
    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Publishes a new key and signs with it from now on (rotation).
    pub fn rotate_key(&self, kid: &str) {
        let mut keys = self.state.published.lock().expect("keys");
        keys.push(rsa_key(kid));
    }

    /// Plays the authorization endpoint: reads the RP's authorization URL,
    /// checks client and PKCE method, mints the tokens for `spec` and returns
    /// what the browser brings back to the redirect URI.
    pub fn authorize(&self, authorization_url: &url::Url, spec: &TokenSpec) -> CallbackParams {
        let q: HashMap<String, String> = authorization_url.query_pairs().into_owned().collect();
        assert_eq!(q.get("client_id"), Some(&self.client_id), "client_id");
        assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
        assert_eq!(
            q.get("code_challenge_method").map(String::as_str),
            Some("S256")
        );
        let scope = q.get("scope").cloned().unwrap_or_default();
        assert!(scope.split(' ').any(|s| s == "openid"), "scope {scope}");
        let code = format!("c-{}", hex::encode(rand::random::<[u8; 16]>()));
        let access_token = format!("at-{}", hex::encode(rand::random::<[u8; 16]>()));
        let nonce = spec
            .nonce
            .clone()
            .or_else(|| q.get("nonce").cloned())
            .unwrap_or_default();
        let id_token = self.mint_id_token(spec, &nonce, &access_token, &code);
        let mut info = spec.userinfo_claims.clone();
        info.insert(
            "sub".into(),
            Value::String(
                spec.userinfo_subject
                    .clone()
                    .unwrap_or(spec.subject.clone()),
            ),
        );
        self.state
            .userinfo
            .lock()
            .expect("userinfo")
            .insert(access_token.clone(), Value::Object(info));
        self.state.grants.lock().expect("grants").insert(
            code.clone(),
            Grant {
                code_challenge: q.get("code_challenge").cloned().unwrap_or_default(),
                redirect_uri: q.get("redirect_uri").cloned().unwrap_or_default(),
                id_token,
                access_token,
            },
        );
        CallbackParams {
            code: Some(code),
            state: spec.state.clone().or_else(|| q.get("state").cloned()),
            iss: spec.iss_param.clone().or_else(|| {
                self.state
                    .advertise_iss_parameter
                    .then(|| self.issuer.clone())
            }),
            error: None,
            error_description: None,
        }
    }

    fn mint_id_token(&self, spec: &TokenSpec, nonce: &str, access: &str, code: &str) -> String {
        let now = Utc::now() + spec.issued_at_offset;
        let audiences = spec
            .audiences
            .clone()
            .unwrap_or_else(|| vec![self.client_id.clone()])
            .into_iter()
            .map(Audience::new)
            .collect();
        let claims = IdTokenClaims::new(
            IssuerUrl::new(spec.issuer.clone().unwrap_or(self.issuer.clone())).expect("issuer"),
            audiences,
            now + spec.expires_in,
            now,
            StandardClaims::<CoreGenderClaim>::new(SubjectIdentifier::new(spec.subject.clone())),
            OtherClaims(spec.id_token_claims.clone().into_iter().collect()),
        )
        .set_nonce(Some(Nonce::new(nonce.to_owned())))
        .set_authorized_party(spec.azp.clone().map(openidconnect::ClientId::new));
        let hashed_access = if spec.mismatched_at_hash {
            format!("{access}-other")
        } else {
            access.to_owned()
        };
        let sign = |key: &CoreRsaPrivateSigningKey| {
            super::RpIdToken::new(
                claims.clone(),
                key,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                Some(&AccessToken::new(hashed_access.clone())),
                Some(&AuthorizationCode::new(code.to_owned())),
            )
            .expect("sign ID token")
            .to_string()
        };
        match spec.signing {
            TokenSigning::Good => {
                let keys = self.state.published.lock().expect("keys");
                sign(&keys.last().expect("a key").key)
            }
            TokenSigning::UnpublishedKey => sign(&self.state.unpublished.key),
            TokenSigning::AlgNone => {
                let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
                let payload = b64url(&serde_json::to_vec(&claims).expect("claims"));
                format!("{header}.{payload}.")
            }
            TokenSigning::Tampered => {
                let keys = self.state.published.lock().expect("keys");
                let jwt = sign(&keys.last().expect("a key").key);
                let parts: Vec<&str> = jwt.split('.').collect();
                let mut payload: Value = serde_json::from_slice(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(parts[1])
                        .expect("payload"),
                )
                .expect("json");
                payload["sub"] = Value::String(format!("{}-forged", spec.subject));
                let forged = b64url(&serde_json::to_vec(&payload).expect("json"));
                format!("{}.{}.{}", parts[0], forged, parts[2])
            }
        }
    }
}

async fn discovery(state: web::Data<OpState>) -> HttpResponse {
    let base = &state.issuer;
    let metadata = CoreProviderMetadata::new(
        IssuerUrl::new(base.clone()).expect("issuer"),
        AuthUrl::new(format!("{base}/authorize")).expect("auth url"),
        JsonWebKeySetUrl::new(format!("{base}/jwks")).expect("jwks url"),
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
        EmptyAdditionalProviderMetadata {},
    )
    .set_token_endpoint(Some(
        TokenUrl::new(format!("{base}/token")).expect("token url"),
    ))
    .set_userinfo_endpoint(Some(
        UserInfoUrl::new(format!("{base}/userinfo")).expect("userinfo url"),
    ));
    let mut doc = serde_json::to_value(&metadata).expect("metadata");
    doc["authorization_response_iss_parameter_supported"] =
        Value::Bool(state.advertise_iss_parameter);
    HttpResponse::Ok().json(doc)
}

async fn jwks(state: web::Data<OpState>) -> HttpResponse {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys = state.published.lock().expect("keys");
    let set = CoreJsonWebKeySet::new(keys.iter().map(|k| k.key.as_verification_key()).collect());
    HttpResponse::Ok().json(set)
}

fn token_error(error: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": error }))
}

async fn token(
    state: web::Data<OpState>,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    // client_secret_basic with form-urlencoded id and secret (RFC 6749 §2.3.1).
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            url::form_urlencoded::byte_serialize(state.client_id.as_bytes()).collect::<String>(),
            url::form_urlencoded::byte_serialize(state.client_secret.as_bytes())
                .collect::<String>()
        ))
    );
    let presented = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if presented != expected {
        return HttpResponse::Unauthorized().json(json!({ "error": "invalid_client" }));
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return token_error("unsupported_grant_type");
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let Some(grant) = state.grants.lock().expect("grants").remove(&code) else {
        return token_error("invalid_grant");
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return token_error("invalid_grant");
    }
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if b64url(&Sha256::digest(verifier.as_bytes())) != grant.code_challenge {
        return token_error("invalid_grant");
    }
    HttpResponse::Ok().json(json!({
        "access_token": grant.access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": grant.id_token,
    }))
}

async fn userinfo(state: web::Data<OpState>, req: HttpRequest) -> HttpResponse {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match state.userinfo.lock().expect("userinfo").get(token) {
        Some(info) => HttpResponse::Ok().json(info),
        None => HttpResponse::Unauthorized().finish(),
    }
}
