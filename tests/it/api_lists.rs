//! The admin lists of issue "6 of 11" over HTTP on both backends:
//! permission-set search hiding applications the caller cannot build, a
//! role's sets with their permissions and its users page by page (seed
//! 002), a workspace's RACI selection lists and the `create_item` flag
//! (seed 004).

use reqwest::StatusCode;
use rollcall::domain::authz::{BindingScope, BindingSource, RoleId};
use rollcall::domain::{GroupId, UserId};
use rollcall::service;
use rollcall::store::{self, access::Holder, access::NewBinding, groups::GroupFields};
use serde_json::{Value, json};

use crate::support::{Backend, TestApp};

async fn bind_in_workspace(app: &TestApp, key: &str, org: &str, user: &str, role: &str, ws: &str) {
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/users/{user}/bindings"),
            key,
            json!({"role": role, "workspace": ws}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// A group holding `role` at `scope` with `members` — written through the
/// store, as no admin route binds groups yet.
fn group_binding(app: &TestApp, org: &str, members: &[&str], role_id: &str, scope: BindingScope) {
    let org = org.to_owned();
    app.db
        .store()
        .write_blocking(|c| -> Result<(), rollcall::error::AppError> {
            let org = service::orgs::resolve(c, &org)?;
            let now = store::now();
            let group = store::groups::insert(
                c,
                &org.id,
                None,
                &GroupFields {
                    display_name: "Crew".into(),
                    external_id: None,
                    scim: json!({}),
                },
                now,
            )?;
            let ids: Vec<UserId> = members
                .iter()
                .map(|m| UserId::from_trusted((*m).to_owned()))
                .collect();
            store::groups::add_members(c, &group.id, &ids, now)?;
            let g: GroupId = group.id.clone();
            store::access::insert_binding(
                c,
                &org.id,
                NewBinding {
                    holder: Holder::Group(&g),
                    role: &RoleId::new(role_id),
                    scope: &scope,
                    source: BindingSource::Admin,
                    mapping: None,
                },
                now,
            )?;
            Ok(())
        })
        .unwrap();
}

fn names(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap_or_else(|| body["items"].as_array().unwrap())
        .iter()
        .map(|x| {
            x.get("user_name")
                .or_else(|| x.get("name"))
                .and_then(Value::as_str)
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn reader_key(app: &TestApp, key: &str, org: &str) -> String {
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            key,
            json!({"name": "product"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["role"], "access_reader", "{}", r.text);
    r.body["token"].as_str().unwrap().to_owned()
}

async fn permission_sets_are_searched_and_hidden_without_build_access(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("flows", "permission-sets");
    for (name, application) in [
        ("Log New Incident", "incidents"),
        ("Review Incident", "incidents"),
        ("Log New Order", "orders"),
    ] {
        let r = app
            .post(
                "/api/v1/orgs/flows/permission-sets",
                &key,
                json!({"name": name, "application": application, "permissions": ["steps.origin.create"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let list = |token: String, query: &'static str| {
        let app = &app;
        async move {
            let r = app
                .get(
                    &format!("/api/v1/orgs/flows/permission-sets{query}"),
                    &token,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
            names(&r.body)
        }
    };
    // The owner builds every application: search by name or application.
    assert_eq!(
        list(key.clone(), "").await,
        ["Log New Incident", "Review Incident", "Log New Order"]
    );
    assert_eq!(
        list(key.clone(), "?search=log%20new").await,
        ["Log New Incident", "Log New Order"]
    );
    assert_eq!(list(key.clone(), "?search=ORDERS").await, ["Log New Order"]);
    assert_eq!(
        list(key.clone(), "?application=incidents").await,
        ["Log New Incident", "Review Incident"]
    );
    assert_eq!(
        list(key.clone(), "?search=review&application=incidents").await,
        ["Review Incident"]
    );
    assert!(list(key.clone(), "?search=nothing").await.is_empty());
    // A builder of `orders` searches the sets of what they build, without
    // reading all access; given gateway.access.read too, they still see
    // only that application's sets, whatever they search for.
    let bob = app.user(&key, "flows", "bob", "member").await;
    let bob_key = app.personal_key("flows", "bob");
    let r = app
        .get("/api/v1/orgs/flows/permission-sets", &bob_key)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/orgs/flows/users/{bob}/bindings"),
            &key,
            json!({"role": "app_builder", "resource_type": "application", "resource_id": "orders"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(list(bob_key.clone(), "").await, ["Log New Order"]);
    assert!(list(bob_key.clone(), "?search=incident").await.is_empty());
    let r = app
        .post(
            &format!("/api/v1/orgs/flows/users/{bob}/overrides"),
            &key,
            json!({"permission": "gateway.access.read", "effect": "allow"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(list(bob_key.clone(), "").await, ["Log New Order"]);
    assert!(list(bob_key.clone(), "?search=incident").await.is_empty());
    assert!(list(bob_key, "?application=incidents").await.is_empty());
    // A key reading access without building anything sees no set.
    let product = reader_key(&app, &key, "flows").await;
    assert!(list(product, "").await.is_empty());
    // Neither reading access nor building anything: refused, naming both.
    app.user(&key, "flows", "carl", "member").await;
    let r = app
        .get(
            "/api/v1/orgs/flows/permission-sets",
            &app.personal_key("flows", "carl"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(
        message(&r.body).contains("gateway.access.read"),
        "{}",
        r.text
    );
    assert!(message(&r.body).contains("app.build"), "{}", r.text);
}

async fn presets_without_applications_list_no_sets(backend: Backend) {
    // The analytics preset has no applications (no `app.build`): the list
    // is empty for readers of access, and a key that neither reads access
    // nor builds gets a 403 — never a 400 about the catalogue.
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let r = app.get("/api/v1/orgs/acme/permission-sets", &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!([]));
    app.user(&key, "acme", "ro", "integrations_manager").await;
    let r = app
        .get(
            "/api/v1/orgs/acme/permission-sets",
            &app.personal_key("acme", "ro"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Nor has it RACI roles: every selection list is empty.
    let r = app
        .post("/api/v1/orgs/acme/workspaces", &key, json!({"slug": "ws"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    app.user(&key, "acme", "boss", "owner").await;
    let r = app
        .get(
            "/api/v1/orgs/acme/workspaces/ws/selection-lists/manager",
            &key,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"items": [], "next_cursor": null}));
}

async fn a_role_shows_its_sets_and_pages_its_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("flows", "permission-sets");
    let r = app
        .post(
            "/api/v1/orgs/flows/permission-sets",
            &key,
            json!({"name": "Log", "application": "crm", "permissions": ["steps.origin.create", "steps.records.view"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let set = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            "/api/v1/orgs/flows/roles",
            &key,
            json!({"key": "clerks", "name": "Clerks", "permission_sets": [set]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let clerks_id = r.body["id"].as_str().unwrap().to_owned();
    // The role's answer: each set with its application and permissions.
    let product = reader_key(&app, &key, "flows").await;
    let r = app.get("/api/v1/orgs/flows/roles/clerks", &product).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["permission_sets"],
        json!([{
            "id": set,
            "name": "Log",
            "application": "crm",
            "permissions": ["steps.origin.create", "steps.records.view"],
        }]),
        "{}",
        r.text
    );
    let listed = app.get("/api/v1/orgs/flows/roles", &product).await;
    let clerks = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "clerks");
    assert_eq!(
        clerks.unwrap()["permission_sets"],
        r.body["permission_sets"]
    );

    // Five clerks, one member, one member who holds the role through a group.
    let mut clerk_ids = Vec::new();
    for i in 0..5 {
        clerk_ids.push(
            app.user(&key, "flows", &format!("clerk{i}"), "clerks")
                .await,
        );
    }
    app.user(&key, "flows", "other", "member").await;
    let grouped = app.user(&key, "flows", "grouped", "member").await;
    group_binding(&app, "flows", &[&grouped], &clerks_id, BindingScope::Org);

    // Paged with a cursor, in creation order, nobody twice.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/orgs/flows/roles/clerks/users?limit=2&cursor={c}"),
            None => "/api/v1/orgs/flows/roles/clerks/users?limit=2".to_owned(),
        };
        let r = app.get(&path, &product).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(r.body["items"].as_array().unwrap().len() <= 2);
        seen.extend(names(&r.body));
        pages += 1;
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        ["clerk0", "clerk1", "clerk2", "clerk3", "clerk4", "grouped"]
    );
    // Each holder comes with the bindings that give the role.
    let r = app
        .get("/api/v1/orgs/flows/roles/Clerks/users?q=GROUP", &product)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(names(&r.body), ["grouped"]);
    let binding = &r.body["items"][0]["bindings"][0];
    assert_eq!(binding["role"], "clerks", "{}", r.text);
    assert_eq!(binding["scope"]["kind"], "org", "{}", r.text);
    assert!(binding["group"].is_string(), "{}", r.text);
    let r = app
        .get("/api/v1/orgs/flows/roles/clerks/users?q=clerk3", &product)
        .await;
    assert_eq!(names(&r.body), ["clerk3"]);
    assert!(r.body["items"][0]["bindings"][0]["group"].is_null());
    // Status filter: a suspended clerk shows only when asked for.
    let r = app
        .post(
            &format!("/api/v1/orgs/flows/users/{}/suspend", clerk_ids[1]),
            &key,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .get(
            "/api/v1/orgs/flows/roles/clerks/users?status=suspended",
            &product,
        )
        .await;
    assert_eq!(names(&r.body), ["clerk1"]);
    // The member role's holders are the other three.
    let r = app
        .get("/api/v1/orgs/flows/roles/member/users", &product)
        .await;
    assert_eq!(names(&r.body), ["other", "grouped"]);
    // Client mistakes.
    let r = app
        .get("/api/v1/orgs/flows/roles/nobody/users", &product)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app
        .get(
            "/api/v1/orgs/flows/roles/clerks/users?cursor=garbage",
            &product,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // Without gateway.access.read: refused.
    let r = app
        .get(
            "/api/v1/orgs/flows/roles/clerks/users",
            &app.personal_key("flows", "other"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(
        message(&r.body).contains("gateway.access.read"),
        "{}",
        r.text
    );
}

async fn workspace_selection_lists_follow_the_workspace_roles(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("tracker", "workspace-roles");
    for slug in ["proj", "other"] {
        let r = app
            .post(
                "/api/v1/orgs/tracker/workspaces",
                &key,
                json!({"slug": slug}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let mut ids = std::collections::HashMap::new();
    for (name, role, ws) in [
        ("pat", "project_admin", "proj"),
        ("ann", "manager", "proj"),
        ("ed", "editor", "proj"),
        ("rita", "reader", "proj"),
        ("cody", "contributor", "other"),
        ("sus", "manager", "proj"),
    ] {
        let id = app.user(&key, "tracker", name, "user").await;
        bind_in_workspace(&app, &key, "tracker", &id, role, ws).await;
        ids.insert(name, id);
    }
    // Org-level roles put nobody on a list.
    app.user(&key, "tracker", "sam", "system_manager").await;
    // A suspended manager is offered nowhere.
    let r = app
        .post(
            &format!("/api/v1/orgs/tracker/users/{}/suspend", ids["sus"]),
            &key,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A reader of proj through a group.
    let gina = app.user(&key, "tracker", "gina", "user").await;
    let proj = app.get("/api/v1/orgs/tracker/workspaces/proj", &key).await;
    let proj_id = proj.body["id"].as_str().unwrap().to_owned();
    let reader_role = app.get("/api/v1/orgs/tracker/roles/reader", &key).await;
    group_binding(
        &app,
        "tracker",
        &[&gina],
        reader_role.body["id"].as_str().unwrap(),
        BindingScope::workspace(rollcall::domain::authz::WorkspaceId::new(&proj_id)),
    );

    let product = reader_key(&app, &key, "tracker").await;
    let list = |path: String| {
        let (app, product) = (&app, &product);
        async move {
            let r = app.get(&path, product).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
            r.body
        }
    };
    let on = |ws: &'static str, l: &'static str| {
        list(format!(
            "/api/v1/orgs/tracker/workspaces/{ws}/selection-lists/{l}"
        ))
    };
    assert_eq!(names(&on("proj", "manager").await), ["pat", "ann"]);
    assert_eq!(
        names(&on("proj", "responsible").await),
        ["pat", "ann", "ed"]
    );
    assert_eq!(names(&on("proj", "editor").await), ["pat", "ed"]);
    assert_eq!(names(&on("proj", "reader").await), ["pat", "rita", "gina"]);
    assert_eq!(names(&on("other", "responsible").await), ["cody"]);
    assert!(names(&on("other", "manager").await).is_empty());
    // Each entry names the binding that puts the user there.
    let body = on("proj", "reader").await;
    assert_eq!(body["items"][1]["bindings"][0]["role"], "reader");
    assert_eq!(
        body["items"][1]["bindings"][0]["scope"],
        json!({"kind": "workspace", "workspace": "proj"})
    );
    assert!(body["items"][2]["bindings"][0]["group"].is_string());
    // Searchable, and paged with a cursor.
    let body =
        list("/api/v1/orgs/tracker/workspaces/proj/selection-lists/reader?q=RI".to_owned()).await;
    assert_eq!(names(&body), ["rita"]);
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let body = list(format!(
            "/api/v1/orgs/tracker/workspaces/{proj_id}/selection-lists/responsible?limit=1{cursor}"
        ))
        .await;
        seen.extend(names(&body));
        match body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["pat", "ann", "ed"]);
    // Unknown lists and workspaces are 404s naming them.
    let r = app
        .get(
            "/api/v1/orgs/tracker/workspaces/proj/selection-lists/accountable",
            &product,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(message(&r.body).contains("manager, responsible, editor, reader"));
    let r = app
        .get(
            "/api/v1/orgs/tracker/workspaces/nowhere/selection-lists/manager",
            &product,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    // Reading the lists needs gateway.access.read.
    let r = app
        .get(
            "/api/v1/orgs/tracker/workspaces/proj/selection-lists/manager",
            &app.personal_key("tracker", "ann"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(
        message(&r.body).contains("gateway.access.read"),
        "{}",
        r.text
    );
}

async fn create_item_is_answered_per_workspace(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("tracker", "workspace-roles");
    for slug in ["proj", "other"] {
        let r = app
            .post(
                "/api/v1/orgs/tracker/workspaces",
                &key,
                json!({"slug": slug}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let cody = app.user(&key, "tracker", "cody", "user").await;
    bind_in_workspace(&app, &key, "tracker", &cody, "contributor", "proj").await;
    let rita = app.user(&key, "tracker", "rita", "user").await;
    bind_in_workspace(&app, &key, "tracker", &rita, "reader", "proj").await;
    let check = |u: &str, ws: &str| {
        let body = json!({"user": u, "permission": "create_item", "workspace": ws});
        let app = &app;
        let key = &key;
        async move {
            let r = app
                .post("/api/v1/orgs/tracker/authz/check", key, body)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            assert!(!r.body["reasons"].as_array().unwrap().is_empty());
            r.body
        }
    };
    let yes = check(&cody, "proj").await;
    assert_eq!(yes["allowed"], true, "{yes}");
    assert!(
        yes["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["role"] == "contributor"),
        "{yes}"
    );
    assert_eq!(check(&rita, "proj").await["allowed"], false);
    assert_eq!(check(&cody, "other").await["allowed"], false);
}

mod cli {
    /// `rollcall role users` lists the holders of a role from the host.
    fn role_users_from_the_cli(db: &crate::support::TestDb) {
        let run = |args: &[&str]| {
            let dir = tempfile::tempdir().unwrap();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
                .args(args)
                .current_dir(dir.path())
                .env("DATABASE_URL", &db.url)
                .env_remove("ROLLCALL_ENV")
                .env("ROLLCALL__LOG__LEVEL", "warn")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        run(&["org", "create", "acme"]);
        for (email, role) in [
            ("ada@example.com", "admin"),
            ("bea@example.com", "read_only"),
            ("cy@example.com", "admin"),
        ] {
            run(&[
                "user", "create", "--org", "acme", "--email", email, "--role", role,
            ]);
        }
        let lines = |out: String| -> Vec<String> {
            out.lines()
                .map(|l| l.split('\t').nth(1).unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            lines(run(&["role", "users", "--org", "acme", "Admin"])),
            ["ada@example.com", "cy@example.com"]
        );
        assert_eq!(
            lines(run(&[
                "role", "users", "--org", "acme", "admin", "--search", "CY"
            ])),
            ["cy@example.com"]
        );
        let out = run(&["role", "users", "--org", "acme", "read_only"]);
        assert!(
            out.contains("bea@example.com\tactive\tthe organisation"),
            "{out}"
        );
    }

    crate::store_suite!(role_users_from_the_cli);
}

crate::http_suite!(
    permission_sets_are_searched_and_hidden_without_build_access,
    presets_without_applications_list_no_sets,
    a_role_shows_its_sets_and_pages_its_users,
    workspace_selection_lists_follow_the_workspace_roles,
    create_item_is_answered_per_workspace,
);
