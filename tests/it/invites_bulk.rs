//! Bulk invites (issue "7 of 11"): per-row answers, atomic mode,
//! Idempotency-Key, the route's own body limit, CSV, and jobs that resume
//! after a restart — on both backends.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{Reply, read};
use crate::support::{Backend, TestApp};

async fn bulk(
    app: &TestApp,
    key: &str,
    query: &str,
    body: &str,
    content_type: &str,
    idem: Option<&str>,
) -> Reply {
    let mut req = app
        .client
        .post(format!("{}/api/v1/orgs/acme/invites/bulk{query}", app.base))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body.to_owned());
    if let Some(k) = idem {
        req = req.header("idempotency-key", k);
    }
    read(req.send().await.unwrap()).await
}

fn results(r: &Reply) -> Vec<(String, String)> {
    r.body["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.text))
        .iter()
        .map(|x| {
            (
                x["email"].as_str().unwrap().to_owned(),
                x["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn user_count(app: &TestApp, key: &str) -> usize {
    app.get("/api/v1/orgs/acme/users?limit=200", key).await.body["items"]
        .as_array()
        .unwrap()
        .len()
}

async fn rows_are_answered_one_by_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    app.post(
        "/api/v1/orgs/acme/workspaces",
        &key,
        json!({"slug": "alpha"}),
    )
    .await;
    app.user(&key, "acme", "old", "read_only").await;
    let r = app
        .post(
            "/api/v1/orgs/acme/invites",
            &key,
            json!({"email": "pending@example.com", "role": "read_only"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let rows = json!([
        {"email": "a@example.com", "name": "A", "role": "read_only", "workspaces": ["alpha"]},
        {"email": "not-an-address"},
        {"email": "b@example.com", "role": "emperor"},
        {"email": "c@example.com", "workspaces": ["nowhere"]},
        {"email": "A@example.com"},
        {"email": "old@example.com"},
        {"email": "pending@example.com", "role": "read_only"},
        {"email": "d@example.com", "colour": "blue"},
    ]);
    let r = bulk(&app, &key, "", &rows.to_string(), "application/json", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        results(&r),
        vec![
            ("a@example.com".into(), "created".into()),
            ("not-an-address".into(), "error".into()),
            ("b@example.com".into(), "error".into()),
            ("c@example.com".into(), "error".into()),
            ("A@example.com".into(), "error".into()),
            ("old@example.com".into(), "already_active".into()),
            ("pending@example.com".into(), "resent".into()),
            ("d@example.com".into(), "error".into()),
        ]
    );
    assert_eq!(r.body["rows"][4]["code"], "duplicate_row", "{}", r.text);
    assert!(
        r.body["rows"][2]["reason"]
            .as_str()
            .unwrap()
            .contains("emperor")
    );
    assert_eq!(r.body["summary"]["error"], 5);
    // CSV, several workspaces per row.
    app.post(
        "/api/v1/orgs/acme/workspaces",
        &key,
        json!({"slug": "beta"}),
    )
    .await;
    let csv =
        "email,name,role,workspaces\ne@example.com,E,Read Only,alpha;beta\nf@example.com,,,\n";
    let r = bulk(&app, &key, "", csv, "text/csv", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["summary"]["created"], 2, "{}", r.text);
    let invite = r.body["rows"][0]["invite_id"].as_str().unwrap();
    let i = app
        .get(&format!("/api/v1/orgs/acme/invites/{invite}"), &key)
        .await;
    assert_eq!(
        i.body["workspaces"].as_array().unwrap().len(),
        2,
        "{}",
        i.text
    );
    // A CSV with an unknown column is refused whole.
    let r = bulk(
        &app,
        &key,
        "",
        "email,team\nx@example.com,a\n",
        "text/csv",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

async fn atomic_is_all_or_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let before = user_count(&app, &key).await;
    let rows = json!([
        {"email": "a@example.com", "role": "read_only"},
        {"email": "b@example.com", "role": "emperor"},
    ]);
    let r = bulk(
        &app,
        &key,
        "?atomic=true",
        &rows.to_string(),
        "application/json",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["applied"], false);
    assert_eq!(results(&r)[0].1, "not_applied");
    assert_eq!(user_count(&app, &key).await, before, "nothing partial");
    // A conflict found while applying rolls everything back too.
    let r = app
        .post(
            "/api/v1/orgs/acme/invites",
            &key,
            json!({"email": "p@example.com", "role": "read_only"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let before = user_count(&app, &key).await;
    let rows = json!([
        {"email": "c@example.com", "role": "read_only"},
        {"email": "p@example.com", "role": "view_manager"},
    ]);
    let r = bulk(
        &app,
        &key,
        "?atomic=true",
        &rows.to_string(),
        "application/json",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["rows"][1]["code"], "invite_differs", "{}", r.text);
    assert_eq!(user_count(&app, &key).await, before, "nothing partial");
    let r = app
        .get("/api/v1/orgs/acme/audit?action=invite.created", &key)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);
    // All valid: applied.
    let r = bulk(
        &app,
        &key,
        "?atomic=true",
        &json!([{"email": "c@example.com"}]).to_string(),
        "application/json",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["applied"], true);
    assert_eq!(user_count(&app, &key).await, before + 1);
}

async fn idempotency_keys_and_limits(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("invites.bulk_max_body_bytes", json!(4096)),
            ("invites.bulk_max_rows", json!(20)),
        ],
    )
    .await;
    let key = app.org_with_key("acme");
    let body = json!([{"email": "a@example.com"}]).to_string();
    let first = bulk(&app, &key, "", &body, "application/json", Some("k-1")).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let again = bulk(&app, &key, "", &body, "application/json", Some("k-1")).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    assert_eq!(again.body, first.body, "the first answer, replayed");
    let invites = app.get("/api/v1/orgs/acme/invites", &key).await;
    assert_eq!(
        invites.body["items"][0]["sends"], 1,
        "the retry sent nothing: {}",
        invites.text
    );
    let other = json!([{"email": "b@example.com"}]).to_string();
    let r = bulk(&app, &key, "", &other, "application/json", Some("k-1")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // The route's own limits: bytes and rows.
    let big = format!(
        "[{}]",
        vec![
            r#"{"email":"x@example.com","name":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
            80
        ]
        .join(",")
    );
    let r = bulk(&app, &key, "", &big, "application/json", None).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    let many = serde_json::to_string(
        &(0..21)
            .map(|i| json!({"email": format!("m{i}@example.com")}))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let r = bulk(&app, &key, "", &many, "application/json", None).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    let r = bulk(&app, &key, "", "email\n", "application/xml", None).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    // Bulk invitation off for the org.
    let mut settings = app.get("/api/v1/orgs/acme/settings", &key).await.body;
    settings["provisioning"]["bulk_invite"] = json!(false);
    let r = app.put("/api/v1/orgs/acme/settings", &key, settings).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = bulk(&app, &key, "", &body, "application/json", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}

async fn poll_job(app: &TestApp, key: &str, location: &str) -> Value {
    for _ in 0..400 {
        let r = app.get(location, key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        if r.body["status"] == "done" {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the job did not finish");
}

async fn large_batches_run_as_jobs_that_resume(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("invites.bulk_job_threshold", json!(5))]).await;
    let key = app.org_with_key("acme");
    let rows: Vec<Value> = (0..8)
        .map(|i| json!({"email": format!("j{i}@example.com"), "role": "read_only"}))
        .chain([json!({"email": "broken"})])
        .collect();
    let r = bulk(
        &app,
        &key,
        "",
        &Value::Array(rows).to_string(),
        "application/json",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let location = r.header("location").unwrap().to_owned();
    let job = poll_job(&app, &key, &location).await;
    assert_eq!(job["done"], 8, "{job}");
    assert_eq!(job["report"]["summary"]["created"], 8, "{job}");
    assert_eq!(job["report"]["summary"]["error"], 1, "{job}");

    // A job whose node stopped after committing 2 of 5 rows: another node
    // (here, this one) takes it over once the lease expired and applies
    // only the rest.
    let store = app.db.store();
    let org = store
        .read_blocking(|c| rollcall::service::orgs::resolve(c, "acme"))
        .unwrap();
    let rows: Vec<(usize, Value)> = (0..5)
        .map(|i| (i + 1, json!({"email": format!("r{i}@example.com"), "name": null, "role": null, "workspaces": null})))
        .collect();
    let done: Vec<Value> = (0..2)
        .map(|i| json!({"row": i + 1, "email": format!("r{i}@example.com"), "result": "created"}))
        .collect();
    let now = rollcall::store::now();
    let job = rollcall::store::bulk_jobs::Job {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: org.id.as_str().to_owned(),
        actor: serde_json::to_string(&rollcall::domain::audit::Actor::cli()).unwrap(),
        request_id: None,
        atomic: false,
        replace_pending: false,
        rows: serde_json::to_string(&rows).unwrap(),
        total: 5,
        done: 2,
        results: Value::Array(done).to_string(),
        status: "running".into(),
        claimed_until: Some(now - chrono::Duration::seconds(1)),
        created_at: now,
        updated_at: now,
        finished_at: None,
    };
    let id = job.id.clone();
    store
        .write_blocking(|c| rollcall::store::bulk_jobs::insert(c, &job))
        .unwrap();
    let view = poll_job(&app, &key, &format!("/api/v1/orgs/acme/invites/bulk/{id}")).await;
    assert_eq!(view["done"], 5, "{view}");
    assert_eq!(
        view["report"]["rows"].as_array().unwrap().len(),
        5,
        "{view}"
    );
    for (i, expected) in [(0, 0), (1, 0), (2, 1), (3, 1), (4, 1)] {
        let r = app
            .get(&format!("/api/v1/orgs/acme/users?q=r{i}@example.com"), &key)
            .await;
        assert_eq!(
            r.body["items"].as_array().unwrap().len(),
            expected,
            "row {i}: {}",
            r.text
        );
    }
}

/// New invitees of one chunk are written together (multi-row INSERTs); what
/// is stored per person is what a single invite stores: an invited user whose
/// written access snapshot is the one a refresh computes, the workspace
/// restriction, the invite, its queued message, and both audit events.
async fn newcomers_are_stored_as_single_invites_are(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    app.post(
        "/api/v1/orgs/acme/workspaces",
        &key,
        json!({"slug": "alpha"}),
    )
    .await;
    let rows = json!([
        {"email": "n1@example.com", "name": "N One", "role": "read_only"},
        {"email": "n2@example.com", "role": "read_only", "workspaces": ["alpha"]},
        {"email": "n3@example.com"},
    ]);
    let r = bulk(&app, &key, "", &rows.to_string(), "application/json", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["summary"]["created"], 3, "{}", r.text);
    let store = app.db.store();
    let org = store
        .read_blocking(|c| rollcall::service::orgs::resolve(c, "acme"))
        .unwrap();
    let mut user_ids = Vec::new();
    for row in r.body["rows"].as_array().unwrap() {
        let uid =
            rollcall::domain::UserId::from_trusted(row["user_id"].as_str().unwrap().to_owned());
        let user = store
            .read_blocking(|c| rollcall::store::users::get(c, &org.id, &uid))
            .unwrap();
        assert_eq!(user.status.as_str(), "invited", "{row}");
        store
            .write_blocking(|c| rollcall::store::access::refresh(c, std::slice::from_ref(&uid)))
            .unwrap();
        let refreshed = store
            .read_blocking(|c| rollcall::store::users::get(c, &org.id, &uid))
            .unwrap()
            .access;
        assert_eq!(user.access, refreshed, "{row}");
        let invite = row["invite_id"].as_str().unwrap();
        let i = app
            .get(&format!("/api/v1/orgs/acme/invites/{invite}"), &key)
            .await;
        assert_eq!(i.body["state"], "pending", "{}", i.text);
        user_ids.push(uid.to_string());
    }
    assert_eq!(
        store
            .read_blocking(|c| rollcall::store::users::get(
                c,
                &org.id,
                &rollcall::domain::UserId::from_trusted(user_ids[1].clone())
            ))
            .unwrap()
            .access
            .bindings
            .len(),
        1
    );
    let i = app
        .get(
            &format!(
                "/api/v1/orgs/acme/invites/{}",
                r.body["rows"][1]["invite_id"].as_str().unwrap()
            ),
            &key,
        )
        .await;
    assert_eq!(
        i.body["workspaces"].as_array().unwrap().len(),
        1,
        "{}",
        i.text
    );
    let messages: i64 = store
        .read_blocking(rollcall::store::outbox::counts)
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(messages, 3);
    for action in ["user.created", "invite.created"] {
        let events = store
            .read_blocking(|c| {
                rollcall::store::audit::list(
                    c,
                    &org.id,
                    &rollcall::store::audit::AuditQuery {
                        action: Some(action.to_owned()),
                        limit: 50,
                        ..Default::default()
                    },
                )
            })
            .unwrap();
        let targets: Vec<_> = events.iter().filter_map(|e| e.target_id.clone()).collect();
        if action == "user.created" {
            for uid in &user_ids {
                assert!(targets.contains(uid), "{action} for {uid}: {targets:?}");
            }
        } else {
            for row in r.body["rows"].as_array().unwrap() {
                let id = row["invite_id"].as_str().unwrap().to_owned();
                assert!(targets.contains(&id), "{action} for {id}: {targets:?}");
            }
        }
    }
}

crate::http_suite!(
    rows_are_answered_one_by_one,
    newcomers_are_stored_as_single_invites_are,
    atomic_is_all_or_nothing,
    idempotency_keys_and_limits,
    large_batches_run_as_jobs_that_resume,
);
