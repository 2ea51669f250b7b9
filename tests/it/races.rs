//! Writes that race, on both backends: requests really start together (a
//! barrier), run many rounds, and every round ends by asserting the
//! invariant — the org keeps an active owner; parallel identical group
//! PATCHes all succeed; a client that sent no `If-Match` never gets 412.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::support::app::Reply;
use crate::support::{Backend, TestApp};

/// Send the requests at the same instant (after a barrier) and collect replies.
async fn together(
    app: &Arc<TestApp>,
    reqs: Vec<(Method, String, String, Option<Value>, bool)>,
) -> Vec<Reply> {
    let barrier = Arc::new(Barrier::new(reqs.len()));
    let mut tasks = Vec::new();
    for (method, url, token, body, scim) in reqs {
        let (app, barrier) = (app.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            if scim {
                app.scim(method, &url, &token, body).await
            } else {
                app.request(method, &url, Some(&token), body).await
            }
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn active_owners(app: &TestApp, org: &str) -> usize {
    let org = org.to_owned();
    app.db
        .store()
        .read_blocking(move |c| -> Result<_, rollcall::error::AppError> {
            let org = rollcall::service::orgs::resolve(c, &org)?;
            Ok(rollcall::store::access::active_owners(c, &org.id)?.len())
        })
        .unwrap()
}

async fn the_last_owner_cannot_be_raced_away(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let key = app.org_with_key("acme");
    let (base, token) = app.scim_directory("acme", "okta");
    // Two owners the directory provisioned (so SCIM may offboard either).
    let mut owners = Vec::new();
    for n in ["o1@example.com", "o2@example.com"] {
        let r = app
            .scim(
                Method::POST,
                &format!("{base}/Users"),
                &token,
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": n})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        owners.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let rounds = 50;
    for round in 0..rounds {
        // Both are active owners again.
        for o in &owners {
            let r = app
                .post(
                    &format!("/api/v1/orgs/acme/users/{o}/reactivate"),
                    &key,
                    json!(null),
                )
                .await;
            assert!(
                r.status == StatusCode::OK || r.status == StatusCode::CONFLICT,
                "{}",
                r.text
            );
            let r = app
                .put(
                    &format!("/api/v1/orgs/acme/users/{o}/role"),
                    &key,
                    json!({"role": "owner"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }
        assert_eq!(active_owners(&app, "acme"), 2);
        let kind = round % 3;
        let reqs = owners
            .iter()
            .map(|o| match kind {
                0 => (Method::PUT, format!("/api/v1/orgs/acme/users/{o}/role"), key.clone(), Some(json!({"role": "admin"})), false),
                1 => (Method::POST, format!("/api/v1/orgs/acme/users/{o}/suspend"), key.clone(), None, false),
                _ => (
                    Method::PATCH,
                    format!("{base}/Users/{o}"),
                    token.clone(),
                    Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]})),
                    true,
                ),
            })
            .collect();
        let replies = together(&app, reqs).await;
        let ok = replies.iter().filter(|r| r.status.is_success()).count();
        for r in &replies {
            assert!(
                r.status.is_success()
                    || r.status == StatusCode::CONFLICT
                    || r.status == StatusCode::BAD_REQUEST,
                "round {round}: {} {}",
                r.status,
                r.text
            );
            if r.status == StatusCode::BAD_REQUEST {
                assert_eq!(r.body["scimType"], "mutability", "{}", r.text);
            }
            if r.status == StatusCode::CONFLICT {
                assert_eq!(r.body["error"]["code"], "last_owner", "{}", r.text);
            }
        }
        assert_eq!(
            ok, 1,
            "round {round} (kind {kind}): exactly one of two may go"
        );
        assert_eq!(
            active_owners(&app, "acme"),
            1,
            "round {round}: the org keeps an owner"
        );
    }
}

async fn parallel_identical_group_patches_all_succeed(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    app.org_with_key("acme");
    let (base, token) = app.scim_directory("acme", "okta");
    let mut users = Vec::new();
    for i in 0..12 {
        let r = app
            .scim(
                Method::POST,
                &format!("{base}/Users"),
                &token,
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("m{i}@example.com")})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        users.push(r.body["id"].as_str().unwrap().to_owned());
    }
    for round in 0..10 {
        let r = app
            .scim(
                Method::POST,
                &format!("{base}/Groups"),
                &token,
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("g{round}")})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let group = r.body["id"].as_str().unwrap().to_owned();
        // Eight PATCHes at once: four identical, four overlapping halves.
        let reqs = (0..8)
            .map(|i| {
                let members: Vec<Value> = match i % 2 {
                    0 => users.iter().map(|u| json!({"value": u})).collect(),
                    _ => users[i % 3..].iter().map(|u| json!({"value": u})).collect(),
                };
                (
                    Method::PATCH,
                    format!("{base}/Groups/{group}"),
                    token.clone(),
                    Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": members}]})),
                    true,
                )
            })
            .collect();
        for r in together(&app, reqs).await {
            assert!(
                r.status.is_success(),
                "round {round}: {} {}",
                r.status,
                r.text
            );
        }
        let r = app
            .scim(Method::GET, &format!("{base}/Groups/{group}"), &token, None)
            .await;
        assert_eq!(
            r.body["members"].as_array().unwrap().len(),
            users.len(),
            "round {round}"
        );
    }
}

async fn no_precondition_means_no_412(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    app.org_with_key("acme");
    let (base, token) = app.scim_directory("acme", "okta");
    let r = app
        .scim(
            Method::POST,
            &format!("{base}/Users"),
            &token,
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let stale = r.header("etag").unwrap().to_owned();
    for round in 0..10 {
        let reqs = (0..8)
            .map(|i| {
                (
                    Method::PATCH,
                    format!("{base}/Users/{id}"),
                    token.clone(),
                    Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": format!("Ada {round}.{i}")}]})),
                    true,
                )
            })
            .collect();
        for r in together(&app, reqs).await {
            assert_eq!(r.status, StatusCode::OK, "round {round}: {}", r.text);
        }
    }
    // With a precondition, a stale version is still 412.
    let r = app
        .client
        .patch(format!("{base}/Users/{id}"))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .header("if-match", stale)
        .body(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": "late"}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
}

/// Two workspaces moved under each other at the same instant: exactly one
/// move wins, and the tree never holds a cycle (moves take the org lock and
/// re-read the tree under it).
async fn crossing_workspace_moves_never_make_a_cycle(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let key = app.org_with_preset("tree", "workspace-roles");
    for round in 0..12 {
        let (x, y) = (format!("x{round}"), format!("y{round}"));
        for slug in [&x, &y] {
            let r = app
                .post("/api/v1/orgs/tree/workspaces", &key, json!({"slug": slug}))
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        let patch = |w: &str, parent: &str| {
            (
                Method::PATCH,
                format!("/api/v1/orgs/tree/workspaces/{w}"),
                key.clone(),
                Some(json!({"parent": parent})),
                false,
            )
        };
        let replies = together(&app, vec![patch(&x, &y), patch(&y, &x)]).await;
        let won = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        for r in &replies {
            assert!(
                r.status == StatusCode::OK || r.status == StatusCode::CONFLICT,
                "round {round}: {} {}",
                r.status,
                r.text
            );
        }
        let texts: Vec<&str> = replies.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(won, 1, "round {round}: {texts:?}");
        let list = app.get("/api/v1/orgs/tree/workspaces", &key).await.body;
        let parent_of = |slug: &str| {
            list.as_array()
                .unwrap()
                .iter()
                .find(|w| w["slug"] == slug)
                .unwrap()["parent"]
                .clone()
        };
        assert!(
            parent_of(&x).is_null() || parent_of(&y).is_null(),
            "round {round}: {x} and {y} are each other's parent"
        );
    }
}

crate::http_suite!(
    crossing_workspace_moves_never_make_a_cycle,
    the_last_owner_cannot_be_raced_away,
    parallel_identical_group_patches_all_succeed,
    no_precondition_means_no_412,
);
