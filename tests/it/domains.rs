//! Issue "8 of 11" item 1, verified domains, on both backends: claim, the
//! TXT challenge (answered from a fixture file the test writes after the
//! challenge is issued), one org per verified domain, and SSO-default's
//! `allowed_email_domains` held to the verified ones.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp};

fn publish(file: &std::path::Path, records: &[(&str, &str)]) {
    let mut map = serde_json::Map::new();
    for (name, value) in records {
        map.entry(name.to_string())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .unwrap()
            .push(json!(value));
    }
    std::fs::write(file, Value::Object(map).to_string()).unwrap();
}

async fn domains_are_proven_by_dns_and_held_by_one_org(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("txt.json");
    let app = TestApp::spawn_with(
        backend,
        &[(
            "sso.domain_txt_fixture_file",
            json!(fixture.to_str().unwrap()),
        )],
    )
    .await;
    let acme = app.org_with_key("acme");
    let rival = app.org_with_key("rival");

    let r = app
        .post(
            "/api/v1/orgs/acme/domains",
            &acme,
            json!({"domain": "Acme.COM."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["domain"], "acme.com");
    assert_eq!(r.body["verified"], false);
    assert_eq!(r.body["record_name"], "_rollcall-challenge.acme.com");
    let challenge = r.body["record_value"].as_str().unwrap().to_owned();
    assert!(
        challenge.starts_with("rollcall-verification="),
        "{challenge}"
    );
    // Claiming again answers the same challenge.
    let again = app
        .post(
            "/api/v1/orgs/acme/domains",
            &acme,
            json!({"domain": "acme.com"}),
        )
        .await;
    assert_eq!(again.body["record_value"], challenge.as_str());
    for bad in ["acme", "ac me.com", "-acme.com", "x@acme.com", ""] {
        let r = app
            .post("/api/v1/orgs/acme/domains", &acme, json!({"domain": bad}))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
    // A rival org may claim it too while nobody has proven it.
    let r = app
        .post(
            "/api/v1/orgs/rival/domains",
            &rival,
            json!({"domain": "acme.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let rival_challenge = r.body["record_value"].as_str().unwrap().to_owned();
    assert_ne!(rival_challenge, challenge);

    // Not published yet.
    let r = app
        .post(
            "/api/v1/orgs/acme/domains/acme.com/verify",
            &acme,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "challenge_not_found");
    // A wrong value does not verify either.
    publish(
        &fixture,
        &[("_rollcall-challenge.acme.com", "rollcall-verification=nope")],
    );
    let r = app
        .post(
            "/api/v1/orgs/acme/domains/acme.com/verify",
            &acme,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // Both orgs publish (the record may hold several values); acme verifies first.
    publish(
        &fixture,
        &[
            ("_rollcall-challenge.acme.com", &challenge),
            ("_rollcall-challenge.acme.com", &rival_challenge),
        ],
    );
    let r = app
        .post(
            "/api/v1/orgs/acme/domains/acme.com/verify",
            &acme,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["verified"], true);
    let r = app
        .post(
            "/api/v1/orgs/rival/domains/acme.com/verify",
            &rival,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "domain_taken");
    // Nobody claims a verified domain any more.
    let third = app.org_with_key("third");
    let r = app
        .post(
            "/api/v1/orgs/third/domains",
            &third,
            json!({"domain": "acme.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = app.get("/api/v1/orgs/acme/domains", &acme).await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1), "{}", r.text);
    let r = app
        .get("/api/v1/orgs/acme/audit?action=domain.verified", &acme)
        .await;
    assert_eq!(
        r.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text
    );

    // SSO-default: off by default, and only for verified domains.
    let settings = app.get("/api/v1/orgs/acme/settings", &acme).await.body;
    assert_eq!(settings["provisioning"]["sso_default"], false, "{settings}");
    let put = |allowed: Value, on: bool| {
        let mut s = settings.clone();
        s["allowed_email_domains"] = allowed;
        s["provisioning"]["sso_default"] = json!(on);
        let (app, acme) = (&app, &acme);
        async move { app.put("/api/v1/orgs/acme/settings", acme, s).await }
    };
    let r = put(json!(["elsewhere.com"]), true).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "unverified_domain");
    let r = put(json!([]), true).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "no_allowed_domains");
    let r = put(json!(["ACME.com"]), true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A domain SSO-default relies on cannot be removed from under it.
    let r = app
        .delete("/api/v1/orgs/acme/domains/acme.com", &acme)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "domain_in_use");
    let r = put(json!([]), false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .delete("/api/v1/orgs/acme/domains/acme.com", &acme)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    // Released: the rival may now prove it.
    let r = app
        .post(
            "/api/v1/orgs/rival/domains/acme.com/verify",
            &rival,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

crate::http_suite!(domains_are_proven_by_dns_and_held_by_one_org);
