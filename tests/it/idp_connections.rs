//! Issue "8 of 11" item 1, IdP connections, on both backends: OIDC checked
//! by discovery against a loopback issuer, SAML from metadata (XML or a URL
//! re-fetched by the refresh job), refusals (no signing certificate, an
//! unverified trusted domain, an issuer that does not match), owner
//! approval, secrets kept out of every answer and audit event, deletion
//! with the connection's `sso_claim` mappings, and the `rollcall idp` CLI.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};
use reqwest::StatusCode;
use rollcall::sso::oidc::NetworkPolicy;
use serde_json::{Value, json};

use crate::cli::{ok, rollcall};
use crate::support::{Backend, TestApp, TestDb};

/// A web server on loopback answering each path with a body the test sets
/// (and changes) — an IdP's discovery document, JWKS or SAML metadata.
struct Loopback {
    base: String,
    routes: Arc<Mutex<HashMap<String, (u16, String)>>>,
}

async fn answer(
    req: HttpRequest,
    routes: web::Data<Mutex<HashMap<String, (u16, String)>>>,
) -> HttpResponse {
    let found = routes.lock().unwrap().get(req.path()).cloned();
    match found {
        Some((status, body)) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body(body)
        }
        None => HttpResponse::NotFound().finish(),
    }
}

impl Loopback {
    fn start() -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes = Arc::new(Mutex::new(HashMap::new()));
        let shared = web::Data::from(routes.clone());
        let (ready, started) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(shared.clone())
                        .default_service(web::to(answer))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                let _ = ready.send(());
                let _ = server.await;
            });
        });
        started.recv().unwrap();
        Loopback { base, routes }
    }

    fn serve(&self, path: &str, status: u16, body: impl Into<String>) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, body.into()));
    }

    /// An OIDC issuer at the server's base URL: discovery and an empty JWKS.
    fn serve_discovery(&self) -> String {
        let issuer = self.base.clone();
        self.serve(
            "/.well-known/openid-configuration",
            200,
            json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"),
                "userinfo_endpoint": format!("{issuer}/userinfo"),
                "jwks_uri": format!("{issuer}/jwks"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            })
            .to_string(),
        );
        self.serve("/jwks", 200, json!({"keys": []}).to_string());
        issuer
    }
}

/// A self-signed certificate as base64 DER (what metadata carries).
fn certificate() -> String {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "test idp").unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    base64::engine::general_purpose::STANDARD.encode(b.build().to_der().unwrap())
}

fn fingerprint(cert_b64: &str) -> String {
    rollcall::service::idp_connections::fingerprint(cert_b64)
}

/// IdP metadata; `cert: None` leaves the signing key out.
fn metadata(entity: &str, cert: Option<&str>) -> String {
    let key = cert
        .map(|c| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
            )
        })
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    {key}
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{entity}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

async fn app_with_loopback_idps(backend: Backend) -> TestApp {
    TestApp::spawn_with(
        backend,
        &[
            ("sso.allow_private_networks", json!(true)),
            ("sso.allow_plain_http", json!(true)),
        ],
    )
    .await
}

/// Mark `domain` verified for `org` (the DNS proof has its own tests).
fn verified_domain(app: &TestApp, org: &str, domain: &str) {
    let (org, domain) = (org.to_owned(), domain.to_owned());
    app.db
        .store()
        .write_blocking(|c| -> Result<(), rollcall::error::AppError> {
            let org = rollcall::service::orgs::resolve(c, &org)?;
            let now = rollcall::store::now();
            rollcall::store::domains::insert(c, &org.id, &domain, "x", now)?;
            rollcall::store::domains::mark_verified(c, &org.id, &domain, now)?;
            Ok(())
        })
        .unwrap();
}

async fn audit(app: &TestApp, key: &str, action: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/orgs/acme/audit?action={action}"), key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"].as_array().cloned().unwrap_or_default()
}

const SECRET: &str = "client-secret-that-never-shows";
const ROTATED: &str = "rotated-secret-that-never-shows";

async fn connections_are_checked_and_shown_without_secrets(backend: Backend) {
    let app = app_with_loopback_idps(backend).await;
    let key = app.org_with_key("acme");
    verified_domain(&app, "acme", "acme.com");
    let idp = Loopback::start();
    let issuer = idp.serve_discovery();
    let path = "/api/v1/orgs/acme/idp-connections";

    let oidc = json!({
        "kind": "oidc", "name": "Okta OIDC", "issuer": issuer, "client_id": "rollcall",
        "client_secret": SECRET, "trusted_domains": ["ACME.com"], "claims": {"groups": "roles"},
    });
    let r = app.post(path, &key, oidc.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let oidc_id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["kind"], "oidc");
    assert_eq!(r.body["owner_approved"], true, "an owner key created it");
    assert_eq!(r.body["client_secret_set"], true);
    assert_eq!(r.body["trusted_domains"], json!(["acme.com"]));
    assert_eq!(r.body["settings"]["claims"]["groups"], "roles");
    assert_eq!(
        r.body["setup"]["redirect_uri"],
        format!("{}/sso/oidc/{oidc_id}/callback", app.base)
    );
    assert!(r.body["created_by"].as_str().unwrap().starts_with("key:"));
    assert!(!r.text.contains(SECRET));

    // Discovery refuses what does not match, the network what is unreachable.
    let mut wrong = oidc.clone();
    wrong["issuer"] = json!(format!("{issuer}/"));
    let r = app.post(path, &key, wrong).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "discovery_failed");
    let mut down = oidc.clone();
    down["issuer"] = json!("http://127.0.0.1:1");
    let r = app.post(path, &key, down).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
    let mut foreign = oidc.clone();
    foreign["trusted_domains"] = json!(["acme.com", "other.com"]);
    let r = app.post(path, &key, foreign).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "unverified_domain");
    assert!(r.text.contains("other.com"), "{}", r.text);

    // SAML from metadata XML; the setup names our entity id, ACS and metadata.
    let cert = certificate();
    let r = app
        .post(
            path,
            &key,
            json!({"kind": "saml", "name": "Okta SAML",
                   "metadata_xml": metadata("https://idp.acme.com", Some(&cert)),
                   "attributes": {"email": "mail", "groups": "memberOf"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let saml_id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body["settings"]["signing_certs"],
        json!([fingerprint(&cert)])
    );
    assert_eq!(r.body["settings"]["idp_entity_id"], "https://idp.acme.com");
    assert_eq!(r.body["settings"]["attributes"]["email"], "mail");
    assert_eq!(r.body["settings"]["allow_idp_initiated"], false);
    let sp_metadata = format!("{}/sso/saml/{saml_id}/metadata", app.base);
    assert_eq!(r.body["setup"]["sp_entity_id"], sp_metadata.as_str());
    assert_eq!(r.body["setup"]["metadata_url"], sp_metadata.as_str());
    assert_eq!(
        r.body["setup"]["acs_url"],
        format!("{}/sso/saml/{saml_id}/acs", app.base)
    );
    assert_eq!(r.body["client_secret_set"], false);

    // Without a signing certificate: refused, from metadata or field by field.
    let r = app
        .post(
            path,
            &key,
            json!({"kind": "saml", "name": "x", "metadata_xml": metadata("https://idp.acme.com", None)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "no_signing_certificate");
    let r = app
        .post(
            path,
            &key,
            json!({"kind": "saml", "name": "x", "idp_entity_id": "https://idp", "idp_sso_url": "https://idp/sso"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "no_signing_certificate");
    let r = app
        .post(
            path,
            &key,
            json!({"kind": "saml", "name": "x", "idp_entity_id": "https://idp", "idp_sso_url": "https://idp/sso", "signing_certs": [cert]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // Secret rotation; fields of the other protocol are refused.
    let one = format!("{path}/{oidc_id}");
    let r = app
        .patch(
            &one,
            &key,
            json!({"client_secret": ROTATED, "name": "Okta"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["name"], "Okta");
    assert_eq!(r.body["owner_approved"], true);
    let r = app
        .patch(&one, &key, json!({"signing_certs": [cert]}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "wrong_connection_kind");
    let r = app
        .patch(
            &format!("{path}/{saml_id}"),
            &key,
            json!({"signing_certs": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "no_signing_certificate");
    let r = app
        .patch(
            &format!("{path}/{saml_id}"),
            &key,
            json!({"add_signing_certs": ["not a certificate"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // PEM is accepted and stored as the certificate itself (one entry per key).
    let pem = format!("-----BEGIN CERTIFICATE-----\n{cert}\n-----END CERTIFICATE-----\n");
    let r = app
        .patch(
            &format!("{path}/{saml_id}"),
            &key,
            json!({"add_signing_certs": [pem]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["settings"]["signing_certs"],
        json!([fingerprint(&cert)])
    );

    let r = app.get(path, &key).await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(3), "{}", r.text);
    let r = app.get(&one, &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.text.contains(SECRET) && !r.text.contains(ROTATED));
    let r = app.get(&format!("{path}/nope"), &key).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    // The stored secret is sealed: neither secret appears in the row either.
    let (org, id) = ("acme".to_owned(), oidc_id.clone());
    let row = app
        .db
        .store()
        .read_blocking(|c| -> Result<_, rollcall::error::AppError> {
            let org = rollcall::service::orgs::resolve(c, &org)?;
            Ok(rollcall::store::idp_connections::get(c, &org.id, &id)?)
        })
        .unwrap();
    let sealed = row.secret.expect("sealed secret");
    assert!(!String::from_utf8_lossy(&sealed).contains("rotated-secret"));

    let created = audit(&app, &key, "idp_connection.created").await;
    assert_eq!(created.len(), 3);
    let updated = audit(&app, &key, "idp_connection.updated").await;
    assert_eq!(updated.len(), 2);
    assert!(
        updated
            .iter()
            .any(|e| e["after"]["client_secret_rotated"] == true),
        "{updated:?}"
    );
    let all = app.get("/api/v1/orgs/acme/audit?limit=200", &key).await;
    assert!(!all.text.contains(SECRET) && !all.text.contains(ROTATED));
    assert!(
        !all.text.contains(&cert),
        "certificates appear as fingerprints"
    );
}

async fn a_connection_from_a_non_owner_waits_for_an_owner(backend: Backend) {
    let app = app_with_loopback_idps(backend).await;
    let owner_key = app.org_with_key("acme");
    verified_domain(&app, "acme", "acme.com");
    let adm = app.user(&owner_key, "acme", "adm", "admin").await;
    let admin_key = app.personal_key("acme", "adm");
    let path = "/api/v1/orgs/acme/idp-connections";
    let cert = certificate();

    let r = app
        .post(
            path,
            &admin_key,
            json!({"kind": "saml", "name": "Okta",
                   "metadata_xml": metadata("https://idp.acme.com", Some(&cert)),
                   "trusted_domains": ["acme.com"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["owner_approved"], false);
    assert_eq!(r.body["created_by"], adm.as_str());
    let id = r.body["id"].as_str().unwrap().to_owned();
    let one = format!("{path}/{id}");

    let r = app
        .post(&format!("{one}/approve"), &admin_key, json!(null))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .post(&format!("{one}/approve"), &owner_key, json!(null))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["owner_approved"], true);
    assert_eq!(
        audit(&app, &owner_key, "idp_connection.approved")
            .await
            .len(),
        1
    );

    // Cosmetic changes keep the approval; a new certificate withdraws it.
    let r = app
        .patch(
            &one,
            &admin_key,
            json!({"name": "Okta (prod)", "enabled": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["owner_approved"], true);
    assert_eq!(r.body["enabled"], false);
    let next = certificate();
    let r = app
        .patch(&one, &admin_key, json!({"add_signing_certs": [next]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["owner_approved"], false);
    assert_eq!(r.body["created_by"], adm.as_str());
    assert_eq!(
        r.body["settings"]["signing_certs"],
        json!([fingerprint(&cert), fingerprint(&next)])
    );
    // An owner approves again; the owner's own changes keep it approved.
    let r = app
        .post(&format!("{one}/approve"), &owner_key, json!(null))
        .await;
    assert_eq!(r.body["owner_approved"], true);
    let r = app
        .patch(
            &one,
            &owner_key,
            json!({"trusted_domains": [], "signing_certs": [next]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["owner_approved"], true);
    // Trusting a domain is vouching too.
    let r = app
        .patch(&one, &admin_key, json!({"trusted_domains": ["acme.com"]}))
        .await;
    assert_eq!(r.body["owner_approved"], false, "{}", r.text);
}

async fn deleting_a_connection_removes_its_group_mappings(backend: Backend) {
    let app = app_with_loopback_idps(backend).await;
    let key = app.org_with_key("acme");
    let path = "/api/v1/orgs/acme/idp-connections";
    let r = app
        .post(
            path,
            &key,
            json!({"kind": "saml", "name": "Okta",
                   "metadata_xml": metadata("https://idp.acme.com", Some(&certificate()))}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    for group in ["eng", "ops"] {
        let r = app
            .post(
                "/api/v1/orgs/acme/group-mappings",
                &key,
                json!({"kind": "sso_claim", "source": id, "group": group, "role": "view_manager", "workspaces": [], "priority": 1}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let r = app.delete(&format!("{path}/{id}"), &key).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app.get("/api/v1/orgs/acme/group-mappings", &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.text.contains(&id), "{}", r.text);
    assert_eq!(audit(&app, &key, "group_mapping.deleted").await.len(), 2);
    assert_eq!(audit(&app, &key, "idp_connection.deleted").await.len(), 1);
    let r = app.get(&format!("{path}/{id}"), &key).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app.delete(&format!("{path}/{id}"), &key).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

async fn metadata_is_refreshed_from_its_url(backend: Backend) {
    let app = app_with_loopback_idps(backend).await;
    let key = app.org_with_key("acme");
    let idp = Loopback::start();
    let (first, second) = (certificate(), certificate());
    let entity = "https://idp.acme.com";
    idp.serve("/metadata", 200, metadata(entity, Some(&first)));
    let r = app
        .post(
            "/api/v1/orgs/acme/idp-connections",
            &key,
            json!({"kind": "saml", "name": "Okta", "metadata_url": format!("{}/metadata", idp.base)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(r.body["metadata_refreshed_at"].is_string(), "{}", r.text);
    let one = format!("/api/v1/orgs/acme/idp-connections/{id}");

    let store = app.db.store();
    let network = NetworkPolicy {
        allow_private_networks: true,
        allow_plain_http: true,
    };
    let round = || async {
        let due = rollcall::store::now() + chrono::Duration::minutes(1);
        rollcall::service::idp_connections::refresh_metadata(&store, network, due).await
    };
    // Nothing due yet: only connections fetched before `due` are fetched.
    let early = rollcall::service::idp_connections::refresh_metadata(
        &store,
        network,
        rollcall::store::now() - chrono::Duration::hours(1),
    )
    .await;
    assert_eq!(early.checked, 0);
    let report = round().await;
    assert_eq!((report.checked, report.changed.len()), (1, 0), "{report:?}");
    assert!(
        audit(&app, &key, "idp_connection.metadata_changed")
            .await
            .is_empty()
    );

    // The IdP rolls its certificate over: stored and audited with fingerprints.
    idp.serve("/metadata", 200, metadata(entity, Some(&second)));
    let report = round().await;
    assert_eq!(report.changed, vec![id.clone()], "{report:?}");
    let r = app.get(&one, &key).await;
    assert_eq!(
        r.body["settings"]["signing_certs"],
        json!([fingerprint(&second)])
    );
    let events = audit(&app, &key, "idp_connection.metadata_changed").await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["before"]["signing_certs"],
        json!([fingerprint(&first)])
    );
    assert_eq!(
        events[0]["after"]["signing_certs"],
        json!([fingerprint(&second)])
    );
    assert_eq!(events[0]["actor"]["kind"], "system", "{}", events[0]);

    // A failing fetch, or metadata without a certificate, changes nothing.
    idp.serve("/metadata", 500, "down");
    let report = round().await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    idp.serve("/metadata", 200, metadata(entity, None));
    let report = round().await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let r = app.get(&one, &key).await;
    assert_eq!(
        r.body["settings"]["signing_certs"],
        json!([fingerprint(&second)])
    );
    assert_eq!(
        audit(&app, &key, "idp_connection.metadata_changed")
            .await
            .len(),
        1
    );
    // Stopping the fetches leaves it out of the next rounds.
    let r = app.patch(&one, &key, json!({"metadata_url": ""})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["metadata_url"], Value::Null);
    assert_eq!(round().await.checked, 0);
}

crate::http_suite!(
    connections_are_checked_and_shown_without_secrets,
    a_connection_from_a_non_owner_waits_for_an_owner,
    deleting_a_connection_removes_its_group_mappings,
    metadata_is_refreshed_from_its_url,
);

mod cli {
    use super::*;

    /// `rollcall idp …` on the store the server uses.
    fn cli_adds_lists_approves_and_removes(db: &TestDb) {
        ok(&rollcall(&db.url, &["org", "create", "acme"]));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("idp.xml");
        std::fs::write(
            &file,
            metadata("https://idp.acme.com", Some(&certificate())),
        )
        .unwrap();
        let out = ok(&rollcall(
            &db.url,
            &[
                "idp",
                "add-saml",
                "--org",
                "acme",
                "--name",
                "Okta",
                "--metadata-file",
                file.to_str().unwrap(),
                "--email-attribute",
                "mail",
                "--json",
            ],
        ));
        let v: Value = serde_json::from_str(&out).unwrap();
        let id = v["id"].as_str().unwrap().to_owned();
        assert_eq!(v["owner_approved"], true, "the operator counts as an owner");
        assert_eq!(v["created_by"], "operator");
        assert_eq!(
            v["setup"]["acs_url"],
            format!("http://127.0.0.1:8080/sso/saml/{id}/acs")
        );
        let listed = ok(&rollcall(&db.url, &["idp", "list", "--org", "acme"]));
        assert!(listed.contains(&format!("id\t{id}")), "{listed}");
        assert!(listed.contains("ACS URL"), "{listed}");
        assert!(listed.contains("SP entity id"), "{listed}");
        let json_list = ok(&rollcall(
            &db.url,
            &["idp", "list", "--org", "acme", "--json"],
        ));
        let list: Value = serde_json::from_str(&json_list).unwrap();
        assert_eq!(list.as_array().map(Vec::len), Some(1));

        // Refused: no signing certificate, an unverified trusted domain.
        std::fs::write(&file, metadata("https://idp.acme.com", None)).unwrap();
        let args = [
            "idp",
            "add-saml",
            "--org",
            "acme",
            "--name",
            "x",
            "--metadata-file",
            file.to_str().unwrap(),
        ];
        let refused = rollcall(&db.url, &args);
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("signing certificate"));
        std::fs::write(
            &file,
            metadata("https://idp.acme.com", Some(&certificate())),
        )
        .unwrap();
        let mut with_domain = args.to_vec();
        with_domain.extend(["--trusted-domain", "acme.com"]);
        let refused = rollcall(&db.url, &with_domain);
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("acme.com"));

        // OIDC: the issuer is checked by discovery (a loopback issuer needs the
        // network guard opened, as a single-host set-up would).
        let issuer_server = Loopback::start();
        let issuer = issuer_server.serve_discovery();
        let secret_file = dir.path().join("secret");
        std::fs::write(&secret_file, "s3cret\n").unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .args([
                "idp",
                "add-oidc",
                "--org",
                "acme",
                "--name",
                "Entra",
                "--issuer",
                &issuer,
                "--client-id",
                "rollcall",
                "--client-secret-file",
                secret_file.to_str().unwrap(),
                "--email-trust",
                "entra",
                "--groups-claim",
                "groups",
            ])
            .current_dir(dir.path())
            .env("DATABASE_URL", &db.url)
            .env_remove("ROLLCALL_ENV")
            .env("ROLLCALL__LOG__LEVEL", "warn")
            .env("ROLLCALL__SSO__ALLOW_PRIVATE_NETWORKS", "true")
            .env("ROLLCALL__SSO__ALLOW_PLAIN_HTTP", "true")
            .output()
            .unwrap();
        let shown = ok(&out);
        assert!(
            shown.contains("redirect URI\thttp://127.0.0.1:8080/sso/oidc/"),
            "{shown}"
        );
        assert!(!shown.contains("s3cret"));
        let oidc_id = shown
            .lines()
            .find_map(|l| l.strip_prefix("id\t"))
            .unwrap()
            .to_owned();
        // Without the opened guard the same issuer is refused.
        let refused = rollcall(
            &db.url,
            &[
                "idp",
                "add-oidc",
                "--org",
                "acme",
                "--name",
                "x",
                "--issuer",
                &issuer,
                "--client-id",
                "c",
                "--client-secret-env",
                "PATH",
            ],
        );
        assert!(!refused.status.success());

        ok(&rollcall(
            &db.url,
            &["idp", "approve", "--org", "acme", &id],
        ));
        for id in [&id, &oidc_id] {
            let removed = ok(&rollcall(&db.url, &["idp", "remove", "--org", "acme", id]));
            assert!(removed.contains("removed"), "{removed}");
        }
        let listed = ok(&rollcall(
            &db.url,
            &["idp", "list", "--org", "acme", "--json"],
        ));
        assert_eq!(listed.trim(), "[]");
    }

    crate::store_suite!(cli_adds_lists_approves_and_removes);
}
