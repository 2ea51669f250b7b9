//! The admin API against the real server, on both backends: authentication,
//! orgs, workspaces, users, audit, and how bad input is answered.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Backend, TestApp};

async fn probes_and_openapi(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.request(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("x-request-id").is_some());
    let r = app.request(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .request(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let paths = r.body["paths"].as_object().unwrap();
    for p in [
        "/api/v1/orgs",
        "/api/v1/orgs/{org}/users",
        "/api/v1/orgs/{org}/users/{id}",
        "/api/v1/orgs/{org}/audit",
    ] {
        assert!(
            paths.contains_key(p),
            "OpenAPI lacks {p}: {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    let r = app.request(Method::GET, "/nope", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "not_found");
}

async fn authentication_is_required_and_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.request(Method::GET, "/api/v1/orgs", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = app.get("/api/v1/orgs", "rk_garbage").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let key = app.org_with_key("acme");
    // Right id, wrong secret.
    let forged = format!("{}{}", &key[..key.len() - 4], "0000");
    let r = app.get("/api/v1/orgs", &forged).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.get("/api/v1/orgs", &key).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.as_array().unwrap().len(), 1);
}

async fn instance_admin_creates_orgs_and_org_keys_cannot(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let root = app.instance_admin_key();
    let r = app
        .post(
            "/api/v1/orgs",
            &root,
            json!({"slug": "globex", "name": "Globex"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["slug"], "globex");
    let r = app
        .post("/api/v1/orgs", &root, json!({"slug": "globex"}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .post("/api/v1/orgs", &root, json!({"slug": "Bad Slug"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("slug")
    );
    let key = app.org_with_key("acme");
    let r = app
        .post("/api/v1/orgs", &key, json!({"slug": "evil"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The instance admin may act inside any org.
    let r = app.get("/api/v1/orgs/acme/users", &root).await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn users_are_created_listed_and_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let r = app
        .post(
            "/api/v1/orgs/acme/users",
            &key,
            json!({"email": "Ada@Example.com", "given_name": "Ada", "display_name": "Ada L"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["source"], "admin");
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["user_name"], "Ada@example.com");
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(r.header("location").unwrap().ends_with(&id));
    for i in 0..4 {
        let r = app
            .post(
                "/api/v1/orgs/acme/users",
                &key,
                json!({"user_name": format!("user{i}")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = app.get("/api/v1/orgs/acme/users?limit=2", &key).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r = app
        .get(
            &format!("/api/v1/orgs/acme/users?limit=10&cursor={cursor}"),
            &key,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 3);
    assert!(r.body["next_cursor"].is_null());
    let r = app.get("/api/v1/orgs/acme/users?q=ADA", &key).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app
        .get(&format!("/api/v1/orgs/acme/users/{id}"), &key)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["given_name"], "Ada");
}

async fn bad_input_gets_clear_client_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let _other = app.org_with_key("other");
    app.post(
        "/api/v1/orgs/acme/users",
        &key,
        json!({"user_name": "Grace"}),
    )
    .await;
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            app.client
                .post(format!("{}/api/v1/orgs/acme/users", app.base))
                .bearer_auth(&key)
                .json(&json!({"user_name": "GRACE"})),
            StatusCode::CONFLICT,
            "already_exists",
        ),
        (
            app.client
                .post(format!("{}/api/v1/orgs/acme/users", app.base))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body("{\"user_name\": "),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            app.client
                .post(format!("{}/api/v1/orgs/acme/users", app.base))
                .bearer_auth(&key)
                .json(&json!({"user_name": "x", "colour": 1})),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            app.client
                .post(format!("{}/api/v1/orgs/acme/users", app.base))
                .bearer_auth(&key)
                .json(&json!({"email": "not-an-email"})),
            StatusCode::BAD_REQUEST,
            "invalid_value",
        ),
        (
            app.client
                .get(format!("{}/api/v1/orgs/nowhere/users", app.base))
                .bearer_auth(&key),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            app.client
                .get(format!("{}/api/v1/orgs/other/users", app.base))
                .bearer_auth(&key),
            // An org the key cannot act in answers like one that does not exist.
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            app.client
                .get(format!(
                    "{}/api/v1/orgs/acme/users/0190f5a2-0000-7000-8000-000000000001",
                    app.base
                ))
                .bearer_auth(&key),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            app.client
                .get(format!("{}/api/v1/orgs/acme/users/not-an-id", app.base))
                .bearer_auth(&key),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            app.client
                .get(format!("{}/api/v1/orgs/acme/users?limit=x", app.base))
                .bearer_auth(&key),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            app.client
                .get(format!("{}/api/v1/orgs/acme/users?cursor=zzz", app.base))
                .bearer_auth(&key),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            app.client
                .get(format!(
                    "{}/api/v1/orgs/acme/audit?since=yesterday",
                    app.base
                ))
                .bearer_auth(&key),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            app.client
                .post(format!("{}/api/v1/orgs/acme/users", app.base))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(format!("{{\"user_name\": \"{}\"}}", "x".repeat(2_000_000))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (i, (req, status, code)) in cases.into_iter().enumerate() {
        let r = crate::support::app::read(req.send().await.unwrap()).await;
        assert_eq!(r.status, status, "case {i}: {}", r.text);
        assert_eq!(r.body["error"]["code"], code, "case {i}: {}", r.text);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // Nothing half-written: still exactly one user.
    let r = app.get("/api/v1/orgs/acme/users", &key).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

async fn every_change_shows_in_the_audit_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let r = app
        .client
        .post(format!("{}/api/v1/orgs/acme/users", app.base))
        .bearer_auth(&key)
        .header("x-request-id", "trace-123")
        .json(&json!({"user_name": "hopper"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-123");
    let user: serde_json::Value = r.json().await.unwrap();
    let id = user["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/orgs/acme/users/{id}/suspend"),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(r.body["status"], "suspended");
    let r = app
        .post(
            &format!("/api/v1/orgs/acme/users/{id}/reactivate"),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(r.body["status"], "active");
    app.post(
        "/api/v1/orgs/acme/workspaces",
        &key,
        json!({"slug": "team-a"}),
    )
    .await;
    let r = app
        .get(&format!("/api/v1/orgs/acme/audit?target={id}"), &key)
        .await;
    let actions: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec!["user.reactivated", "user.suspended", "user.created"]
    );
    let created = &r.body["items"][2];
    assert_eq!(created["request_id"], "trace-123");
    assert_eq!(created["actor"]["kind"], "api_key");
    assert_eq!(created["after"]["userName"], "hopper");
    let suspended = &r.body["items"][1];
    assert_eq!(suspended["before"]["status"], "active");
    assert_eq!(suspended["after"]["status"], "suspended");
    let r = app
        .get("/api/v1/orgs/acme/audit?action=workspace.created", &key)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app.get("/api/v1/orgs/acme/audit?limit=2", &key).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    assert!(r.body["next_cursor"].is_string());
}

async fn concurrent_updates_with_if_match_one_wins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let r = app
        .post(
            "/api/v1/orgs/acme/users",
            &key,
            json!({"user_name": "lovelace"}),
        )
        .await;
    let path = format!(
        "{}/api/v1/orgs/acme/users/{}",
        app.base,
        r.body["id"].as_str().unwrap()
    );
    let send = |name: &'static str| {
        app.client
            .patch(&path)
            .bearer_auth(&key)
            .header("if-match", "W/\"1\"")
            .json(&json!({"display_name": name}))
            .send()
    };
    let (a, b) = tokio::join!(send("A"), send("B"));
    let mut statuses = vec![a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, vec![200, 412]);
    let r = app
        .get(
            &format!("/api/v1/orgs/acme/users/{}", r.body["id"].as_str().unwrap()),
            &key,
        )
        .await;
    assert_eq!(r.body["version"], 2);
}

crate::http_suite!(
    probes_and_openapi,
    authentication_is_required_and_checked,
    instance_admin_creates_orgs_and_org_keys_cannot,
    users_are_created_listed_and_found,
    bad_input_gets_clear_client_errors,
    every_change_shows_in_the_audit_api,
    concurrent_updates_with_if_match_one_wins,
);
