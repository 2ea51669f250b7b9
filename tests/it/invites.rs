//! Invitations end to end (issue "7 of 11"): the admin API, the outbox with
//! a real SMTP server on loopback (python aiosmtpd), the invite link pages,
//! acceptance and the session it opens, on both backends.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::support::app::{Reply, read};
use crate::support::smtp::{self, SmtpSink, free_port};
use crate::support::{Backend, TestApp};

const WAIT: Duration = Duration::from_secs(30);

/// The gateway with SMTP delivery to `smtp_port` on loopback, a public URL
/// of its own (links in mail are built only from it) and quick retries.
async fn app_with_smtp(backend: Backend, smtp_port: u16, extra: &[(&str, Value)]) -> TestApp {
    let port = free_port();
    let mut overrides: Vec<(&str, Value)> = vec![
        ("server.port", json!(port)),
        (
            "server.public_url",
            json!(format!("http://127.0.0.1:{port}")),
        ),
        ("email.transport", json!("smtp")),
        ("email.from", json!("rollcall@example.org")),
        (
            "email.outbox_key",
            json!("test-outbox-key-0123456789abcdef-0123456789"),
        ),
        ("email.smtp.host", json!("127.0.0.1")),
        ("email.smtp.port", json!(smtp_port)),
        ("email.smtp.tls", json!("none")),
        ("email.smtp.timeout_secs", json!(5)),
        ("email.outbox.poll_interval_ms", json!(100)),
        ("email.outbox.backoff_base_ms", json!(100)),
        ("email.outbox.backoff_max_secs", json!(1)),
        ("session.cookie_secure", json!(false)),
    ];
    overrides.extend(extra.iter().cloned());
    TestApp::spawn_with(backend, &overrides).await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of a Set-Cookie header named `name`.
fn cookie(r: &Reply, name: &str) -> Option<String> {
    r.headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

fn set_cookie_line(r: &Reply, name: &str) -> String {
    r.headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_default()
        .to_owned()
}

fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..at + 64].to_owned()
}

async fn get_page(client: &reqwest::Client, url: &str, cookies: &str) -> Reply {
    let mut req = client.get(url);
    if !cookies.is_empty() {
        req = req.header(COOKIE, cookies);
    }
    read(req.send().await.unwrap()).await
}

/// Open the link's page, then accept from it: the reply to the POST.
async fn accept(link: &str) -> (Reply, Reply) {
    let client = no_redirects();
    let page = get_page(&client, link, "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let csrf = cookie(&page, "rollcall_csrf").expect("a csrf cookie");
    let field = csrf_field(&page.text);
    let r = client
        .post(link)
        .header(COOKIE, csrf)
        .form(&[("csrf", field)])
        .send()
        .await
        .unwrap();
    (page, read(r).await)
}

async fn invite_state(app: &TestApp, key: &str, id: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/orgs/acme/invites/{id}"), key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn invite_mail_accept_and_session(backend: Backend) {
    if !smtp::available() {
        return;
    }
    let sink = SmtpSink::start();
    let app = app_with_smtp(backend, sink.port, &[]).await;
    let key = app.org_with_key("acme");
    let r = app
        .post(
            "/api/v1/orgs/acme/workspaces",
            &key,
            json!({"slug": "research", "name": "Research"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .post(
            "/api/v1/orgs/acme/invites",
            &key,
            json!({"email": "ada@example.com", "name": "Ada Lovelace", "role": "Read Only", "workspaces": ["research"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["outcome"], "created");
    assert_eq!(r.body["state"], "pending");
    assert_eq!(r.body["role"], "read_only");
    let invite = r.body["id"].as_str().unwrap().to_owned();
    let user = r.body["user_id"].as_str().unwrap().to_owned();
    let u = app
        .get(&format!("/api/v1/orgs/acme/users/{user}"), &key)
        .await;
    assert_eq!(u.body["status"], "invited", "{}", u.text);

    // The mail arrives with the org, inviter, role, workspace and a link
    // built from server.public_url.
    let mail = sink.wait_for(1, WAIT).await.remove(0);
    assert!(mail.contains("Subject: You are invited to acme"), "{mail}");
    assert!(mail.contains("Message-ID: <"), "{mail}");
    assert!(
        mail.contains("To: \"Ada Lovelace\" <ada@example.com>")
            || mail.contains("To: Ada Lovelace <ada@example.com>"),
        "{mail}"
    );
    assert!(
        mail.contains("Read Only") && mail.contains("Research"),
        "{mail}"
    );
    assert!(
        mail.contains("text/plain") && mail.contains("text/html"),
        "{mail}"
    );
    let link = smtp::link(&mail, &format!("{}/invite/ri_", app.base)).expect("an invite link");
    assert!(link.len() > app.base.len() + 8 + 64, "{link}");

    // Delivered: the row's body is wiped, the API shows it sent.
    let mut sent = Value::Null;
    for _ in 0..200 {
        sent = invite_state(&app, &key, &invite).await;
        if sent["delivery"]["status"] == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sent["delivery"]["status"], "sent", "{sent}");
    let bodies: i64 = app
        .db
        .store()
        .read_blocking(|c| {
            use diesel::prelude::*;
            rollcall::store::schema::outbox::table
                .filter(rollcall::store::schema::outbox::body.is_not_null())
                .count()
                .get_result::<i64>(c)
                .map_err(rollcall::store::StoreError::from)
        })
        .unwrap();
    assert_eq!(bodies, 0, "delivered messages keep no body");

    // GET only shows a page (mail scanners follow links): still invited.
    let (page, accepted) = accept(&link).await;
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(
        page.text.contains("Accept invitation") && page.text.contains("Research"),
        "{}",
        page.text
    );
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.text);
    assert_eq!(accepted.header(LOCATION.as_str()), Some("/account"));
    let line = set_cookie_line(&accepted, "rollcall_session");
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Lax"),
        "{line}"
    );
    let session = cookie(&accepted, "rollcall_session").unwrap();
    assert!(session.starts_with("rollcall_session=rss_"), "{session}");

    // Active, with the invited role and workspace, signed in.
    let u = app
        .get(&format!("/api/v1/orgs/acme/users/{user}"), &key)
        .await;
    assert_eq!(u.body["status"], "active", "{}", u.text);
    let access = app
        .get(&format!("/api/v1/orgs/acme/users/{user}/access"), &key)
        .await;
    assert_eq!(
        access.body["workspaces"]["visible"],
        json!(["research"]),
        "{}",
        access.text
    );
    assert!(
        access.text.contains("read_only") && access.text.contains("\"invite\""),
        "{}",
        access.text
    );
    let client = no_redirects();
    let me = get_page(&client, &format!("{}/account", app.base), &session).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert!(me.text.contains("ada@example.com"), "{}", me.text);
    assert_eq!(invite_state(&app, &key, &invite).await["state"], "accepted");
    // GET /api/v1/me: the signed-in person and their access, same-origin only.
    let api_me = get_page(&client, &format!("{}/api/v1/me", app.base), &session).await;
    assert_eq!(api_me.status, StatusCode::OK, "{}", api_me.text);
    assert_eq!(api_me.body["email"], "ada@example.com", "{}", api_me.text);
    assert_eq!(
        api_me.body["access"]["workspaces"]["visible"],
        json!(["research"])
    );
    assert!(api_me.header("access-control-allow-origin").is_none());
    let cross = client
        .get(format!("{}/api/v1/me", app.base))
        .header(COOKIE, &session)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let anonymous = get_page(&client, &format!("{}/api/v1/me", app.base), "").await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.text
    );

    // The link works once.
    let again = get_page(&client, &link, "").await;
    assert_eq!(again.status, StatusCode::GONE, "{}", again.text);
    assert!(again.text.contains("already used"), "{}", again.text);

    // Suspension ends the session at once.
    let r = app
        .post(
            &format!("/api/v1/orgs/acme/users/{user}/suspend"),
            &key,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let me = get_page(&client, &format!("{}/account", app.base), &session).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.text);
    let api_me = get_page(&client, &format!("{}/api/v1/me", app.base), &session).await;
    assert_eq!(api_me.status, StatusCode::UNAUTHORIZED, "{}", api_me.text);

    // Audited.
    let r = app
        .get(&format!("/api/v1/orgs/acme/audit?target={invite}"), &key)
        .await;
    let actions: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"invite.created") && actions.contains(&"invite.accepted"),
        "{actions:?}"
    );
}

async fn mail_waits_while_the_server_is_down(backend: Backend) {
    if !smtp::available() {
        return;
    }
    let port = free_port();
    let app = app_with_smtp(backend, port, &[]).await;
    let key = app.org_with_key("acme");
    let r = app
        .post(
            "/api/v1/orgs/acme/invites",
            &key,
            json!({"email": "bob@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let invite = r.body["id"].as_str().unwrap().to_owned();
    // Connection refused: a temporary failure, retried.
    let mut state = Value::Null;
    for _ in 0..400 {
        state = invite_state(&app, &key, &invite).await;
        if state["delivery"]["attempts"].as_i64().unwrap_or(0) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state["delivery"]["status"], "pending", "{state}");
    assert!(
        state["delivery"]["attempts"].as_i64().unwrap() >= 2,
        "{state}"
    );
    assert!(state["delivery"]["last_error"].is_string(), "{state}");
    // The server comes up: the message goes out.
    let sink = SmtpSink::start_on(port);
    let mail = sink.wait_for(1, WAIT).await.remove(0);
    assert!(mail.contains("bob@example.com"), "{mail}");
    let mut sent = Value::Null;
    for _ in 0..200 {
        sent = invite_state(&app, &key, &invite).await;
        if sent["delivery"]["status"] == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sent["delivery"]["status"], "sent", "{sent}");
}

/// Mail queued while the mail server is down survives a restart of the
/// gateway: the next node sends it.
async fn a_restart_loses_no_mail(backend: Backend) {
    if !smtp::available() {
        return;
    }
    let app = app_with_smtp(backend, free_port(), &[]).await;
    let key = app.org_with_key("acme");
    let r = app
        .post(
            "/api/v1/orgs/acme/invites",
            &key,
            json!({"email": "carl@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let invite = r.body["id"].as_str().unwrap().to_owned();
    for _ in 0..400 {
        if invite_state(&app, &key, &invite).await["delivery"]["attempts"]
            .as_i64()
            .unwrap_or(0)
            >= 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
    // A new node on the same database, with the mail server up.
    let sink = SmtpSink::start();
    let port = free_port();
    let mut fig = crate::support::db::settings_figment(&app.db.url);
    for (k, v) in [
        ("server.port", json!(port)),
        (
            "server.public_url",
            json!(format!("http://127.0.0.1:{port}")),
        ),
        ("email.transport", json!("smtp")),
        ("email.from", json!("rollcall@example.org")),
        (
            "email.outbox_key",
            json!("test-outbox-key-0123456789abcdef-0123456789"),
        ),
        ("email.smtp.host", json!("127.0.0.1")),
        ("email.smtp.port", json!(sink.port)),
        ("email.smtp.tls", json!("none")),
        ("email.outbox.poll_interval_ms", json!(100)),
        ("email.outbox.backoff_base_ms", json!(100)),
        ("email.outbox.backoff_max_secs", json!(1)),
    ] {
        fig = fig.merge(figment::providers::Serialized::default(k, v));
    }
    let settings = rollcall::configuration::Settings::from_figment(fig).unwrap();
    let node = rollcall::startup::Application::with_store(settings, app.db.store()).unwrap();
    let handle = node.handle();
    tokio::spawn(node.run_until_stopped());
    let mail = sink.wait_for(1, WAIT).await.remove(0);
    assert!(mail.contains("carl@example.com"), "{mail}");
    handle.stop(true).await;
}

async fn permanent_and_exhausted_failures_are_marked_failed(backend: Backend) {
    if !smtp::available() {
        return;
    }
    let sink = SmtpSink::start();
    let app = app_with_smtp(
        backend,
        sink.port,
        &[("email.outbox.max_attempts", json!(2))],
    )
    .await;
    let key = app.org_with_key("acme");
    let mut ids = Vec::new();
    for email in ["reject@example.com", "tempfail@example.com"] {
        let r = app
            .post("/api/v1/orgs/acme/invites", &key, json!({"email": email}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    for (id, attempts) in ids.iter().zip([1, 2]) {
        let mut state = Value::Null;
        for _ in 0..400 {
            state = invite_state(&app, &key, id).await;
            if state["delivery"]["status"] == "failed" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(state["delivery"]["status"], "failed", "{state}");
        assert_eq!(state["delivery"]["attempts"], attempts, "{state}");
    }
    let r = app
        .get("/api/v1/orgs/acme/audit?action=email.failed", &key)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2, "{}", r.text);
    assert!(sink.messages().is_empty());
}

/// The answers of the rules, through the API (file transport).
async fn reinvites_conflicts_and_revocation(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("session.cookie_secure", json!(false))]).await;
    let key = app.org_with_key("acme");
    let invite = |body: Value| {
        let app = &app;
        let key = key.clone();
        async move { app.post("/api/v1/orgs/acme/invites", &key, body).await }
    };
    // Malformed address, unknown role, unknown workspace: client errors.
    let r = invite(json!({"email": "not an address"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = invite(json!({"email": "a@example.com", "role": "emperor"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = invite(json!({"email": "a@example.com", "workspaces": ["nowhere"]})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    let r = invite(json!({"email": "cy@example.com", "role": "read_only"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let user = r.body["user_id"].as_str().unwrap().to_owned();
    // Same grants: resent (idempotent), a new message.
    let r = invite(json!({"email": "CY@example.com", "role": "read_only"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outcome"], "resent");
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["sends"], 2);
    // Other grants: 409 unless replace.
    let r = invite(json!({"email": "cy@example.com", "role": "view_manager"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "invite_differs", "{}", r.text);
    let r =
        invite(json!({"email": "cy@example.com", "role": "view_manager", "replace": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outcome"], "replaced");
    assert_eq!(r.body["role"], "view_manager");

    // Suspended, then reactivated: back to invited, not active.
    let r = app
        .post(
            &format!("/api/v1/orgs/acme/users/{user}/suspend"),
            &key,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = invite(json!({"email": "cy@example.com", "role": "view_manager"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("suspended"), "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/orgs/acme/users/{user}/reactivate"),
            &key,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "invited", "{}", r.text);

    // An active user: 409 saying so.
    app.user(&key, "acme", "dee", "read_only").await;
    let r = invite(json!({"email": "dee@example.com"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "already_active", "{}", r.text);

    // Listing by state; revoke; a revoked invite cannot be resent.
    let r = app
        .get("/api/v1/orgs/acme/invites?state=pending", &key)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/orgs/acme/invites/{id}/revoke"),
            &key,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "revoked");
    let r = app
        .post(
            &format!("/api/v1/orgs/acme/invites/{id}/resend"),
            &key,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = app
        .get("/api/v1/orgs/acme/invites?state=revoked", &key)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = app.get("/api/v1/orgs/acme/invites?state=bogus", &key).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // Invitations turned off for the org: refused.
    let mut settings = app.get("/api/v1/orgs/acme/settings", &key).await.body;
    settings["provisioning"]["invite"] = json!(false);
    let r = app.put("/api/v1/orgs/acme/settings", &key, settings).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = invite(json!({"email": "eve@example.com"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("provisioning.invite"), "{}", r.text);
}

/// An inviter grants only what they hold: an Admin (no billing) with a personal
/// key and the invite permission cannot invite an Owner.
async fn invites_respect_granting_limits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    app.user(&key, "acme", "deputy", "admin").await;
    let personal = app.personal_key("acme", "deputy");
    let r = app
        .post(
            "/api/v1/orgs/acme/invites",
            &personal,
            json!({"email": "boss@example.com", "role": "owner"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .post(
            "/api/v1/orgs/acme/invites",
            &personal,
            json!({"email": "reader@example.com", "role": "read_only"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // The snapshot written with the new user is the one a refresh computes.
    let uid =
        rollcall::domain::UserId::from_trusted(r.body["user_id"].as_str().unwrap().to_owned());
    let store = app.db.store();
    let org = store
        .read_blocking(|c| rollcall::service::orgs::resolve(c, "acme"))
        .unwrap();
    let written = store
        .read_blocking(|c| rollcall::store::users::get(c, &org.id, &uid))
        .unwrap()
        .access;
    assert_eq!(written.bindings.len(), 1, "{written:?}");
    store
        .write_blocking(|c| rollcall::store::access::refresh(c, std::slice::from_ref(&uid)))
        .unwrap();
    let refreshed = store
        .read_blocking(|c| rollcall::store::users::get(c, &org.id, &uid))
        .unwrap()
        .access;
    assert_eq!(written, refreshed);
    // Nothing of the refused invite was stored.
    let r = app.get("/api/v1/orgs/acme/users?q=boss", &key).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{}", r.text);
}

/// A SCIM directory adopting an invited user as active closes the invite
/// (accepted, audited); the link then says so.
async fn scim_adoption_closes_the_invite(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let r = app
        .post(
            "/api/v1/orgs/acme/invites",
            &key,
            json!({"email": "gus@example.com", "role": "read_only"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let invite = r.body["id"].as_str().unwrap().to_owned();
    let (base, token) = app.scim_directory("acme", "okta");
    let r = app
        .scim(
            reqwest::Method::POST,
            &format!("{base}/Users"),
            &token,
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "gus@example.com", "active": true})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    assert_eq!(r.body["active"], true, "{}", r.text);
    let state = invite_state(&app, &key, &invite).await;
    assert_eq!(state["state"], "accepted", "{state}");
    let r = app
        .get(
            &format!("/api/v1/orgs/acme/audit?target={invite}&action=invite.accepted"),
            &key,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);
}

/// Invalid, superseded and tampered links get a clear page, never a 500.
async fn bad_links_get_clear_pages(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("session.cookie_secure", json!(false))]).await;
    let client = no_redirects();
    for path in [
        "/invite/nonsense".to_owned(),
        format!("/invite/ri_{}_{}", "0".repeat(32), "a".repeat(64)),
        "/o/acme/login/email/rl_x_y".to_owned(),
        "/o/nothere/login/email".to_owned(),
    ] {
        let r = get_page(&client, &format!("{}{path}", app.base), "").await;
        assert!(r.status.is_client_error(), "{path}: {}", r.status);
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
        assert!(r.text.contains("<h1>"), "{path}: {}", r.text);
    }
    // A POST without the CSRF cookie is refused.
    let r = read(
        client
            .post(format!("{}/invite/nonsense", app.base))
            .form(&[("csrf", "x")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}

crate::http_suite!(
    invite_mail_accept_and_session,
    mail_waits_while_the_server_is_down,
    a_restart_loses_no_mail,
    permanent_and_exhausted_failures_are_marked_failed,
    reinvites_conflicts_and_revocation,
    invites_respect_granting_limits,
    bad_links_get_clear_pages,
    scim_adoption_closes_the_invite,
);
