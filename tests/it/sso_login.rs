//! Issue "8 of 11" items 2–6 over HTTP, on both backends, against the
//! in-process test IdPs (a loopback OIDC provider and a SAML IdP signing with
//! xmlsec): invite-first through OIDC lands the invited role and workspaces;
//! SSO-default through SAML creates a View Manager who picks a workspace;
//! refusals create nothing; pre-login records work once and only in the
//! browser that started them; a replayed assertion is refused; suspension
//! ends the SSO session at once.

use std::collections::HashMap;
use std::io::Read;

use base64::Engine as _;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use rollcall::configuration::OutboxKey;
use rollcall::sso::connection::{
    ConnectionSettings, OidcSettings, SamlAttributes, SamlSettings, SpUrls, seal_secret,
};
use rollcall::sso::oidc::fixture::{TestOp, TokenSpec};
use rollcall::sso::saml::fixture::{ResponseSpec, TestIdp};
use rollcall::store::idp_connections::{self, NewConnection};
use serde_json::{Value, json};

use crate::support::app::{Reply, read};
use crate::support::{Backend, TestApp};

const SECRET_KEY: &str = "sso-test-secret-key-0123456789abcdef";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of a Set-Cookie whose name starts with `prefix`.
fn cookie(r: &Reply, prefix: &str) -> Option<String> {
    r.headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(prefix) && !v.contains("Max-Age=0"))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

async fn get(client: &reqwest::Client, url: &str, cookies: &str) -> Reply {
    let mut req = client.get(url);
    if !cookies.is_empty() {
        req = req.header(COOKIE, cookies);
    }
    read(req.send().await.unwrap()).await
}

async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(
        backend,
        &[
            ("sso.secret_key", json!(SECRET_KEY)),
            ("sso.allow_private_networks", json!(true)),
            ("sso.allow_plain_http", json!(true)),
        ],
    )
    .await
}

/// An org `acme` (analytics preset) with workspaces a and b and the verified
/// domain acme.com; returns its owner key.
async fn acme(app: &TestApp) -> String {
    let key = app.org_with_key("acme");
    for w in ["wa", "wb"] {
        let r = app
            .post("/api/v1/orgs/acme/workspaces", &key, json!({"slug": w}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    app.db
        .store()
        .write_blocking(|c| -> Result<(), rollcall::store::StoreError> {
            let org = rollcall::store::orgs::by_slug(c, "acme")?;
            let now = rollcall::store::now();
            rollcall::store::domains::insert(c, &org.id, "acme.com", "x", now)?;
            rollcall::store::domains::mark_verified(c, &org.id, "acme.com", now)?;
            Ok(())
        })
        .unwrap();
    key
}

fn add_connection(
    app: &TestApp,
    settings: &ConnectionSettings,
    secret: Option<&str>,
    owner_approved: bool,
) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let config = serde_json::to_string(settings).unwrap();
    let sealed = secret.map(|s| seal_secret(&OutboxKey::from_secret(SECRET_KEY), &id, s));
    let kind = settings.kind();
    let conn_id = id.clone();
    app.db
        .store()
        .write_blocking(move |c| -> Result<(), rollcall::store::StoreError> {
            let org = rollcall::store::orgs::by_slug(c, "acme")?;
            idp_connections::insert(
                c,
                NewConnection {
                    id: &conn_id,
                    org: &org.id,
                    kind,
                    name: "test idp",
                    config: &config,
                    secret: sealed.as_deref(),
                    trusted_domains: r#"["acme.com"]"#,
                    enabled: true,
                    owner_approved,
                    // An unapproved connection was made through an org API key.
                    created_by: Some(if owner_approved { "operator" } else { "key:k1" }),
                    metadata_url: None,
                    metadata_refreshed_at: None,
                },
                rollcall::store::now(),
            )
        })
        .unwrap();
    id
}

fn saml_connection(app: &TestApp, idp: &TestIdp, idp_initiated: bool) -> String {
    saml_connection_approved(app, idp, idp_initiated, true)
}

fn saml_connection_approved(
    app: &TestApp,
    idp: &TestIdp,
    idp_initiated: bool,
    owner_approved: bool,
) -> String {
    let mut s = SamlSettings::from_metadata(&idp.metadata_xml("https://idp.example/sso")).unwrap();
    s.attributes = SamlAttributes {
        email: Some("email".into()),
        given_name: Some("givenName".into()),
        groups: Some("groups".into()),
        ..SamlAttributes::default()
    };
    s.allow_idp_initiated = idp_initiated;
    add_connection(app, &ConnectionSettings::Saml(s), None, owner_approved)
}

fn oidc_connection(app: &TestApp, op: &TestOp) -> String {
    let s: OidcSettings = serde_json::from_value(json!({
        "issuer": op.issuer, "client_id": op.client_id,
    }))
    .unwrap();
    add_connection(
        app,
        &ConnectionSettings::Oidc(s),
        Some(&op.client_secret),
        true,
    )
}

async fn settings(app: &TestApp, key: &str, change: Value) {
    let mut s = app.get("/api/v1/orgs/acme/settings", key).await.body;
    for (k, v) in change.as_object().unwrap() {
        s[k] = v.clone();
    }
    let r = app.put("/api/v1/orgs/acme/settings", key, s).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// The AuthnRequest's ID in a redirect to the IdP, and its RelayState.
fn authn_request(location: &str) -> (String, String) {
    let url = url::Url::parse(location).unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(&q["SAMLRequest"])
        .unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .unwrap();
    let id = xml
        .split("ID=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    (id, q["RelayState"].clone())
}

async fn post_acs(
    app: &TestApp,
    conn: &str,
    response: &str,
    relay: Option<&str>,
    cookies: &str,
) -> Reply {
    let mut form = vec![("SAMLResponse", response.to_owned())];
    if let Some(r) = relay {
        form.push(("RelayState", r.to_owned()));
    }
    let mut req = no_redirects()
        .post(format!("{}/sso/saml/{conn}/acs", app.base))
        .form(&form);
    if !cookies.is_empty() {
        req = req.header(COOKIE, cookies);
    }
    read(req.send().await.unwrap()).await
}

/// A LogoutRequest for NameID `u-1f0c2a77` (the test IdP's default) over
/// HTTP-Redirect, signed by `idp`.
fn logout_query(idp: &TestIdp, issuer: &str, destination: &str) -> String {
    use std::io::Write;
    let xml = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_lr-{}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{destination}\"><saml:Issuer>{issuer}</saml:Issuer><saml:NameID>u-1f0c2a77</saml:NameID></samlp:LogoutRequest>",
        uuid::Uuid::new_v4().simple(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    let mut deflated = Vec::new();
    let mut e = flate2::write::DeflateEncoder::new(&mut deflated, flate2::Compression::default());
    e.write_all(xml.as_bytes()).unwrap();
    e.finish().unwrap();
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let signed = format!(
        "SAMLRequest={}&SigAlg={}",
        enc(&base64::engine::general_purpose::STANDARD.encode(&deflated)),
        enc("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    );
    let sig = base64::engine::general_purpose::STANDARD.encode(idp.sign_bytes(signed.as_bytes()));
    format!("{signed}&Signature={}", enc(&sig))
}

async fn user_count(app: &TestApp, key: &str) -> usize {
    let r = app.get("/api/v1/orgs/acme/users", key).await;
    r.body["items"].as_array().map_or(0, Vec::len)
}

async fn sso_default_through_saml_picks_a_workspace(backend: Backend) {
    let app = spawn(backend).await;
    let key = acme(&app).await;
    settings(
        &app,
        &key,
        json!({"provisioning": {"invite": true, "sso_default": true, "scim": true, "bulk_invite": true},
               "allowed_email_domains": ["acme.com"], "workspace_self_select": true}),
    )
    .await;
    let idp = TestIdp::generate("https://idp.example/entity");
    let conn = saml_connection(&app, &idp, false);
    let urls = SpUrls::new(&app.base, &conn);
    let client = no_redirects();

    // SP metadata names the ACS.
    let md = get(&client, &urls.saml_metadata, "").await;
    assert_eq!(md.status, StatusCode::OK, "{}", md.text);
    assert!(md.text.contains(&urls.saml_acs), "{}", md.text);
    assert!(md.text.contains(&urls.saml_slo), "{}", md.text);

    // Home-realm discovery by the email's verified domain.
    let start = get(
        &client,
        &format!("{}/sso/start?email=bob@acme.com", app.base),
        "",
    )
    .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.text);
    let location = start.header(LOCATION.as_str()).unwrap().to_owned();
    assert!(
        location.starts_with("https://idp.example/sso?"),
        "{location}"
    );
    let binding = cookie(&start, "__Host-rollcall_sso_").expect("binding cookie");
    let line = start
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-rollcall_sso_"))
        .unwrap()
        .to_owned();
    assert!(
        line.contains("SameSite=None") && line.contains("Secure") && line.contains("HttpOnly"),
        "{line}"
    );
    let (request_id, relay) = authn_request(&location);

    let response = idp.response_b64(
        &ResponseSpec::new(&urls.saml_metadata, &urls.saml_acs, Some(&request_id))
            .attribute("email", &["bob@acme.com"])
            .attribute("givenName", &["Bob"]),
    );
    // From another browser (no binding cookie): refused, and the record is spent.
    let elsewhere = post_acs(&app, &conn, &response, Some(&relay), "").await;
    assert_eq!(
        elsewhere.status,
        StatusCode::BAD_REQUEST,
        "{}",
        elsewhere.text
    );
    assert!(
        elsewhere.text.contains("another browser"),
        "{}",
        elsewhere.text
    );
    let spent = post_acs(&app, &conn, &response, Some(&relay), &binding).await;
    assert_eq!(spent.status, StatusCode::BAD_REQUEST, "{}", spent.text);
    assert!(spent.text.contains("already used"), "{}", spent.text);
    assert_eq!(user_count(&app, &key).await, 0);

    // A fresh start, completed in the same browser.
    let start = get(&client, &format!("{}/sso/acme/start", app.base), "").await;
    let binding = cookie(&start, "__Host-rollcall_sso_").unwrap();
    let (request_id, relay) = authn_request(start.header(LOCATION.as_str()).unwrap());
    let response = idp.response_b64(
        &ResponseSpec::new(&urls.saml_metadata, &urls.saml_acs, Some(&request_id))
            .attribute("email", &["bob@acme.com"])
            .attribute("givenName", &["Bob"]),
    );
    let done = post_acs(&app, &conn, &response, Some(&relay), &binding).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.header(LOCATION.as_str()), Some("/sso/welcome"));
    let session = cookie(&done, "__Host-rollcall_session").unwrap();

    // Until the pick, the session is not usable elsewhere.
    let me = get(&client, &format!("{}/api/v1/me", app.base), &session).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.text);
    let page = get(&client, &format!("{}/sso/welcome", app.base), &session).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let csrf = cookie(&page, "__Host-rollcall_csrf").unwrap();
    let token = csrf.split('=').nth(1).unwrap().to_owned();
    let a_id = page
        .text
        .split("name=\"workspace\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let picked = read(
        client
            .post(format!("{}/sso/welcome", app.base))
            .header(COOKIE, format!("{session}; {csrf}"))
            .form(&[("csrf", token.as_str()), ("workspace", a_id.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(picked.status, StatusCode::SEE_OTHER, "{}", picked.text);
    let me = get(&client, &format!("{}/api/v1/me", app.base), &session).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["email"], "bob@acme.com");
    assert!(me.text.contains("view_manager"), "{}", me.text);
    assert_eq!(
        me.body["access"]["workspaces"]["visible"],
        json!(["wa"]),
        "{}",
        me.text
    );

    // The same assertion again (a replay) is refused even with a new start.
    let again = post_acs(&app, &conn, &response, Some(&relay), &binding).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);

    // The IdP's groups go through the role sources: an `sso_claim` mapping
    // of this connection gives Dan, who signs up now, the mapped role.
    let r = app
        .post(
            "/api/v1/orgs/acme/group-mappings",
            &key,
            json!({"kind": "sso_claim", "source": conn, "group": "analysts", "role": "data_manager", "priority": 10}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let start = get(&client, &format!("{}/sso/acme/start", app.base), "").await;
    let binding = cookie(&start, "__Host-rollcall_sso_").unwrap();
    let (request_id, relay) = authn_request(start.header(LOCATION.as_str()).unwrap());
    let mut spec = ResponseSpec::new(&urls.saml_metadata, &urls.saml_acs, Some(&request_id))
        .attribute("email", &["dan@acme.com"])
        .attribute("groups", &["analysts", "everyone"]);
    spec.name_id = "u-dan".into();
    let r = post_acs(
        &app,
        &conn,
        &idp.response_b64(&spec),
        Some(&relay),
        &binding,
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let users = app.get("/api/v1/orgs/acme/users", &key).await;
    let dan = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_name"] == "dan@acme.com")
        .unwrap_or_else(|| panic!("{}", users.text))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let access = app
        .get(&format!("/api/v1/orgs/acme/users/{dan}/access"), &key)
        .await;
    assert!(
        access.text.contains("data_manager") && access.text.contains("sso_claim"),
        "{}",
        access.text
    );

    // A person from a domain that is not allowed: refused, nothing created.
    let before = user_count(&app, &key).await;
    let start = get(&client, &format!("{}/sso/acme/start", app.base), "").await;
    let binding = cookie(&start, "__Host-rollcall_sso_").unwrap();
    let (request_id, relay) = authn_request(start.header(LOCATION.as_str()).unwrap());
    let mut spec = ResponseSpec::new(&urls.saml_metadata, &urls.saml_acs, Some(&request_id))
        .attribute("email", &["mallory@elsewhere.org"]);
    spec.name_id = "u-mallory".into();
    let response = idp.response_b64(&spec);
    let refused = post_acs(&app, &conn, &response, Some(&relay), &binding).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(refused.text.contains("Sign-in refused"), "{}", refused.text);
    assert_eq!(user_count(&app, &key).await, before);

    // return_to must be allowed by the org.
    let r = get(
        &client,
        &format!(
            "{}/sso/acme/start?return_to=https://evil.example/x",
            app.base
        ),
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // Unknown domains have no SSO.
    let r = get(
        &client,
        &format!("{}/sso/start?email=x@nowhere.example", app.base),
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

async fn idp_initiated_logins_are_off_by_default_and_replay_protected(backend: Backend) {
    let app = spawn(backend).await;
    let key = acme(&app).await;
    let r = app
        .post(
            "/api/v1/orgs/acme/users",
            &key,
            json!({"email": "carol@acme.com", "role": "view_manager"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let idp = TestIdp::generate("https://idp.example/entity");
    let off = saml_connection(&app, &idp, false);
    let on = saml_connection(&app, &idp, true);
    for (conn, expected) in [
        (&off, StatusCode::BAD_REQUEST),
        (&on, StatusCode::SEE_OTHER),
    ] {
        let urls = SpUrls::new(&app.base, conn);
        let response = idp.response_b64(
            &ResponseSpec::new(&urls.saml_metadata, &urls.saml_acs, None)
                .attribute("email", &["carol@acme.com"]),
        );
        let r = post_acs(&app, conn, &response, None, "").await;
        assert_eq!(r.status, expected, "{}", r.text);
        if expected == StatusCode::SEE_OTHER {
            // The existing user with the trusted email was linked.
            assert_eq!(r.header(LOCATION.as_str()), Some("/account"));
            let session = cookie(&r, "__Host-rollcall_session").unwrap();
            let replay = post_acs(&app, conn, &response, None, "").await;
            assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.text);
            let audit = app
                .get("/api/v1/orgs/acme/audit?action=sso.attack_refused", &key)
                .await;
            assert!(audit.text.contains("already used"), "{}", audit.text);
            let audit = app
                .get("/api/v1/orgs/acme/audit?action=sso.login", &key)
                .await;
            assert!(
                audit.text.contains("\"outcome\":\"link\""),
                "{}",
                audit.text
            );

            // The IdP signs the person out (SAML SLO): the session ends; the
            // same request again, or one signed by another key, is refused.
            let client = no_redirects();
            let me = get(&client, &format!("{}/api/v1/me", app.base), &session).await;
            assert_eq!(me.status, StatusCode::OK, "{}", me.text);
            let forged = logout_query(
                &TestIdp::generate(&idp.entity_id),
                &idp.entity_id,
                &urls.saml_slo,
            );
            let r = get(&client, &format!("{}?{forged}", urls.saml_slo), "").await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
            let me = get(&client, &format!("{}/api/v1/me", app.base), &session).await;
            assert_eq!(me.status, StatusCode::OK, "a forged logout ends nothing");
            let q = logout_query(&idp, &idp.entity_id, &urls.saml_slo);
            let r = get(&client, &format!("{}?{q}", urls.saml_slo), "").await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            let me = get(&client, &format!("{}/api/v1/me", app.base), &session).await;
            assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.text);
            let r = get(&client, &format!("{}?{q}", urls.saml_slo), "").await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "a replayed logout: {}",
                r.text
            );
        }
    }
}

async fn invite_first_through_oidc_lands_the_invited_role_and_workspaces(backend: Backend) {
    let app = spawn(backend).await;
    let key = acme(&app).await;
    let op = TestOp::start(1, true);
    let conn = oidc_connection(&app, &op);
    let r = app
        .post(
            "/api/v1/orgs/acme/invites",
            &key,
            json!({"email": "ada@acme.com", "name": "Ada", "role": "Data Manager", "workspaces": ["wa", "wb"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let user = r.body["user_id"]
        .as_str()
        .or(r.body["user"].as_str())
        .map(str::to_owned);
    let client = no_redirects();

    let login = |spec: TokenSpec, cookies: bool| {
        let app = &app;
        let client = &client;
        let op = &op;
        let conn = conn.clone();
        async move {
            let start = get(
                client,
                &format!("{}/sso/acme/start?login_hint=ada@acme.com", app.base),
                "",
            )
            .await;
            assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.text);
            let binding = cookie(&start, "__Host-rollcall_sso_").unwrap();
            let auth = url::Url::parse(start.header(LOCATION.as_str()).unwrap()).unwrap();
            assert!(
                auth.query_pairs()
                    .any(|(k, v)| k == "login_hint" && v == "ada@acme.com")
            );
            let params = op.authorize(&auth, &spec);
            let mut cb =
                url::Url::parse(&format!("{}/sso/oidc/{conn}/callback", app.base)).unwrap();
            for (k, v) in [
                ("code", &params.code),
                ("state", &params.state),
                ("iss", &params.iss),
            ] {
                if let Some(v) = v {
                    cb.query_pairs_mut().append_pair(k, v);
                }
            }
            get(client, cb.as_str(), if cookies { &binding } else { "" }).await
        }
    };

    // Unverified email: refused, the invite stays pending.
    let mut spec = TokenSpec::new("sub-ada");
    spec.id_token_claims
        .insert("email".into(), json!("ada@acme.com"));
    spec.id_token_claims
        .insert("email_verified".into(), json!(false));
    let r = login(spec, true).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("verified"), "{}", r.text);

    // Wrong nonce: refused as an attack.
    let mut spec = TokenSpec::new("sub-ada");
    spec.id_token_claims
        .insert("email".into(), json!("ada@acme.com"));
    spec.id_token_claims
        .insert("email_verified".into(), json!(true));
    spec.nonce = Some("forged".into());
    let r = login(spec, true).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // Without the binding cookie: refused.
    let mut spec = TokenSpec::new("sub-ada");
    spec.id_token_claims
        .insert("email".into(), json!("ada@acme.com"));
    spec.id_token_claims
        .insert("email_verified".into(), json!(true));
    let r = login(spec.clone(), false).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    let r = login(spec.clone(), true).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.header(LOCATION.as_str()), Some("/account"));
    let session = cookie(&r, "__Host-rollcall_session").unwrap();
    let me = get(&client, &format!("{}/api/v1/me", app.base), &session).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert!(me.text.contains("data_manager"), "{}", me.text);
    assert_eq!(
        me.body["access"]["workspaces"]["visible"],
        json!(["wa", "wb"]),
        "{}",
        me.text
    );
    let id = user.unwrap_or_else(|| me.body["user_id"].as_str().unwrap().to_owned());
    let u = app
        .get(&format!("/api/v1/orgs/acme/users/{id}"), &key)
        .await;
    assert_eq!(u.body["status"], "active", "{}", u.text);

    // The identity is linked: the next login signs in whatever the email says.
    let mut again = TokenSpec::new("sub-ada");
    again
        .id_token_claims
        .insert("email".into(), json!("ada@other.example"));
    let r = login(again, true).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);

    // Suspended: the session ends at once and SSO refuses.
    let r = app
        .post(
            &format!("/api/v1/orgs/acme/users/{id}/suspend"),
            &key,
            json!(null),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let me = get(&client, &format!("{}/api/v1/me", app.base), &session).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.text);
    let r = login(spec, true).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("suspended"), "{}", r.text);
}

async fn an_unapproved_connection_never_signs_in_an_owner(backend: Backend) {
    let app = spawn(backend).await;
    let key = acme(&app).await;
    for (email, role) in [
        ("olivia@acme.com", "owner"),
        ("vic@acme.com", "view_manager"),
    ] {
        let r = app
            .post(
                "/api/v1/orgs/acme/users",
                &key,
                json!({"email": email, "role": role}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let idp = TestIdp::generate("https://idp.example/entity");
    // Created by a non-owner (not approved; the creator is no user here, so
    // nobody with roles is linked by email either).
    let conn = saml_connection_approved(&app, &idp, true, false);
    let urls = SpUrls::new(&app.base, &conn);
    let login = |email: &str, name_id: &str| {
        let mut spec = ResponseSpec::new(&urls.saml_metadata, &urls.saml_acs, None)
            .attribute("email", &[email]);
        spec.name_id = name_id.to_owned();
        idp.response_b64(&spec)
    };
    let r = post_acs(&app, &conn, &login("olivia@acme.com", "u-olivia"), None, "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("owner"), "{}", r.text);
    let r = post_acs(&app, &conn, &login("vic@acme.com", "u-vic"), None, "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("can only be linked"), "{}", r.text);
    // Approved by an owner: both link.
    let conn = saml_connection_approved(&app, &idp, true, true);
    let urls = SpUrls::new(&app.base, &conn);
    let login = |email: &str, name_id: &str| {
        let mut spec = ResponseSpec::new(&urls.saml_metadata, &urls.saml_acs, None)
            .attribute("email", &[email]);
        spec.name_id = name_id.to_owned();
        idp.response_b64(&spec)
    };
    for (email, id) in [("olivia@acme.com", "u-olivia"), ("vic@acme.com", "u-vic")] {
        let r = post_acs(&app, &conn, &login(email, id), None, "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{email}: {}", r.text);
    }
}

crate::http_suite!(
    an_unapproved_connection_never_signs_in_an_owner,
    sso_default_through_saml_picks_a_workspace,
    idp_initiated_logins_are_off_by_default_and_replay_protected,
    invite_first_through_oidc_lands_the_invited_role_and_workspaces
);
