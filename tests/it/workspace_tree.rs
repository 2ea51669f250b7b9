//! Issue "6 of 11", seed 004 items 8–11 on both backends: sub-workspaces
//! (tree rules, inheritance), workspace admins acting at workspace scope
//! through the member routes, item types in checks, and field access in
//! the access answer.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp};

const ORG: &str = "tracker";

fn path(rest: &str) -> String {
    format!("/api/v1/orgs/{ORG}{rest}")
}

async fn workspace(
    app: &TestApp,
    key: &str,
    slug: &str,
    parent: Option<&str>,
) -> (StatusCode, Value) {
    let r = app
        .post(
            &path("/workspaces"),
            key,
            json!({"slug": slug, "parent": parent}),
        )
        .await;
    (r.status, r.body)
}

async fn member(
    app: &TestApp,
    key: &str,
    ws: &str,
    user: &str,
    role: Option<&str>,
) -> (StatusCode, Value) {
    let r = app
        .put(
            &path(&format!("/workspaces/{ws}/members/{user}")),
            key,
            json!({"role": role}),
        )
        .await;
    (r.status, r.body)
}

async fn may(app: &TestApp, key: &str, user: &str, permission: &str, ws: &str) -> bool {
    let r = app
        .post(
            &path("/authz/check"),
            key,
            json!({"user": user, "permission": permission, "workspace": ws}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["allowed"].as_bool().unwrap()
}

fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Item 8: a tree of at most 8 levels without cycles; a binding on W holds
/// in W's sub-workspaces; only holders of workspaces.create_top_level
/// create top-level workspaces in workspace-roles.
async fn sub_workspaces_inherit_and_the_tree_keeps_its_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset(ORG, "workspace-roles");
    assert_eq!(
        workspace(&app, &key, "acme", None).await.0,
        StatusCode::CREATED
    );
    let (s, eu) = workspace(&app, &key, "acme-eu", Some("acme")).await;
    assert_eq!(s, StatusCode::CREATED, "{eu}");
    let (s, ops) = workspace(&app, &key, "acme-eu-ops", Some("acme-eu")).await;
    assert_eq!(s, StatusCode::CREATED, "{ops}");
    assert_eq!(ops["parent"], eu["id"]);
    assert_eq!(
        workspace(&app, &key, "other", None).await.0,
        StatusCode::CREATED
    );

    // Depth: a chain of 8 levels fits, a 9th does not.
    let mut parent = None::<String>;
    for level in 1..=8 {
        let slug = format!("l{level}");
        let (s, b) = workspace(&app, &key, &slug, parent.as_deref()).await;
        assert_eq!(s, StatusCode::CREATED, "level {level}: {b}");
        parent = Some(slug);
    }
    let (s, b) = workspace(&app, &key, "l9", Some("l8")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["error"]["code"], "invalid_tree");
    // No cycles: acme cannot move under its own grandchild.
    let r = app
        .patch(
            &path("/workspaces/acme"),
            &key,
            json!({"parent": "acme-eu-ops"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(message(&r.body).contains("cycle"), "{}", r.text);
    // A move that would push l2's subtree (7 high) below acme-eu-ops (level 3).
    let r = app
        .patch(
            &path("/workspaces/l2"),
            &key,
            json!({"parent": "acme-eu-ops"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // A legal move, and back to the top.
    let r = app
        .patch(
            &path("/workspaces/other"),
            &key,
            json!({"parent": "acme", "name": "Other"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["name"], "Other");
    let r = app
        .patch(&path("/workspaces/other"), &key, json!({"parent": null}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["parent"].is_null());

    // Inheritance: a manager of acme manages acme-eu-ops, not other.
    let pat = app.user(&key, ORG, "pat", "user").await;
    let (s, b) = member(&app, &key, "acme", &pat, Some("manager")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(may(&app, &key, &pat, "change_all", "acme").await);
    assert!(may(&app, &key, &pat, "change_all", "acme-eu-ops").await);
    assert!(!may(&app, &key, &pat, "change_all", "other").await);
    // …and is on the sub-workspace's selection list through it.
    let r = app
        .get(
            &path("/workspaces/acme-eu-ops/selection-lists/manager"),
            &key,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["items"][0]["user_name"], "pat", "{}", r.text);
    assert_eq!(
        r.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text
    );
    // A workspace-list entry makes the sub-workspaces visible.
    let vic = app.user(&key, ORG, "vic", "user").await;
    let r = app
        .put(
            &path(&format!("/users/{vic}/workspaces")),
            &key,
            json!({"workspaces": ["acme-eu"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get(&path(&format!("/users/{vic}/access")), &key).await;
    assert_eq!(
        r.body["workspaces"]["visible"],
        json!(["acme-eu", "acme-eu-ops"]),
        "{}",
        r.text
    );

    // Top level: a System Manager (users, roles, invites, no
    // workspaces.create_top_level) may not create one.
    app.user(&key, ORG, "sam", "system_manager").await;
    let sam = app.personal_key(ORG, "sam");
    let (s, b) = workspace(&app, &sam, "sams", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert!(message(&b).contains("workspaces.create_top_level"), "{b}");
}

/// Item 9: the workspace-admin flag works at workspace scope, for the
/// workspace and its sub-workspaces, without gateway.users.manage, and
/// within the admin's own granting limits.
async fn workspace_admins_act_in_their_workspace_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset(ORG, "workspace-roles");
    for (slug, parent) in [("proj", None), ("proj-sub", Some("proj")), ("other", None)] {
        assert_eq!(
            workspace(&app, &key, slug, parent).await.0,
            StatusCode::CREATED
        );
    }
    let wanda = app.user(&key, ORG, "wanda", "user").await;
    let rita = app.user(&key, ORG, "rita", "user").await;
    assert_eq!(
        member(&app, &key, "proj", &wanda, Some("project_admin"))
            .await
            .0,
        StatusCode::OK
    );
    let admin = app.personal_key(ORG, "wanda");

    // "you assign users to the workspace" — and its sub-workspaces.
    let (s, b) = member(&app, &admin, "proj", &rita, Some("editor")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["visible"], true, "{b}");
    assert_eq!(b["bindings"][0]["role"], "editor", "{b}");
    assert!(may(&app, &key, &rita, "read_all", "proj").await);
    let (s, b) = member(&app, &admin, "proj-sub", &rita, Some("manager")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(may(&app, &key, &rita, "change_all", "proj-sub").await);
    // A new role on the same workspace replaces the old one.
    let (s, b) = member(&app, &admin, "proj", &rita, Some("reader")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["bindings"].as_array().unwrap().len(), 1, "{b}");
    assert!(!may(&app, &key, &rita, "read_all", "proj").await);
    // Not elsewhere, and not org-wide.
    let (s, b) = member(&app, &admin, "other", &rita, Some("editor")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert!(message(&b).contains("workspace.members.manage"), "{b}");
    let r = app
        .put(
            &path(&format!("/users/{rita}/workspaces")),
            &admin,
            json!({"workspaces": ["other"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // An owner's access is an owner's to change: a workspace admin may not.
    let boss = app.user(&key, ORG, "boss", "system_administrator").await;
    let (s, b) = member(&app, &admin, "proj", &boss, Some("editor")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let r = app
        .delete(&path(&format!("/workspaces/proj/members/{boss}")), &admin)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Only workspace roles are given per workspace.
    let (s, b) = member(&app, &admin, "proj", &rita, Some("system_administrator")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["error"]["code"], "wrong_scope");

    // Granting limits: an admin who cannot change all items cannot make a
    // manager (who can).
    let r = app
        .post(
            &path("/roles"),
            &key,
            json!({"name": "Mini admin", "binds_at": "workspace",
                   "grants": {"workspace_admin": "allow", "read_all": "allow"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mini = app.user(&key, ORG, "mini", "user").await;
    assert_eq!(
        member(&app, &key, "proj", &mini, Some("mini_admin"))
            .await
            .0,
        StatusCode::OK
    );
    let mini_key = app.personal_key(ORG, "mini");
    let (s, b) = member(&app, &mini_key, "proj", &rita, Some("manager")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert!(message(&b).contains("change_all"), "{b}");
    // Nor take away a role they could not have given.
    let r = app
        .delete(
            &path(&format!("/workspaces/proj-sub/members/{rita}")),
            &mini_key,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    // "You create sub-workspaces" — only below their workspace.
    let (s, b) = workspace(&app, &admin, "proj-child", Some("proj")).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = workspace(&app, &admin, "elsewhere", Some("other")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (s, b) = workspace(&app, &admin, "top", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    // "set all project parameters".
    let r = app
        .patch(
            &path("/workspaces/proj"),
            &admin,
            json!({"name": "Project"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .patch(&path("/workspaces/other"), &admin, json!({"name": "Mine"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // The permissions the product checks, at workspace scope.
    for perm in [
        "workspace.settings.manage",
        "workspace.items.archive",
        "workspace.items.delete",
        "workspace.comments.edit_others",
    ] {
        assert!(may(&app, &key, &wanda, perm, "proj-sub").await, "{perm}");
        assert!(!may(&app, &key, &wanda, perm, "other").await, "{perm}");
        assert!(!may(&app, &key, &rita, perm, "proj").await, "{perm}");
    }

    // Removing access: off the list, roles gone, not visible any more.
    let r = app
        .delete(
            &path(&format!("/workspaces/proj-sub/members/{rita}")),
            &admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .delete(&path(&format!("/workspaces/proj/members/{rita}")), &admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["bindings"], json!([]), "{}", r.text);
    assert_eq!(r.body["visible"], false, "{}", r.text);
    assert!(!may(&app, &key, &rita, "read_change_own", "proj").await);
    // Audited.
    let r = app
        .get(&path("/audit?action=workspace.member_removed"), &key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["items"].as_array().map(Vec::len),
        Some(2),
        "{}",
        r.text
    );
}

/// Items 10 and 11: item types are org data; roles limited to item types
/// grant nothing on others; fields are hidden, read-only or writable.
async fn item_types_limit_roles_and_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset(ORG, "workspace-roles");
    assert_eq!(
        workspace(&app, &key, "proj", None).await.0,
        StatusCode::CREATED
    );
    let task = json!({"name": "Task", "fields": [
        {"key": "title"}, {"key": "due_date", "name": "Due date"}, {"key": "budget"}]});
    let r = app.put(&path("/item-types/task"), &key, task.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.put(&path("/item-types/task"), &key, task).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .put(
            &path("/item-types/bug"),
            &key,
            json!({"fields": [{"key": "title"}, {"key": "severity"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for bad in [
        ("/item-types/Bug", json!({})),
        (
            "/item-types/epic",
            json!({"fields": [{"key": "a"}, {"key": "a"}]}),
        ),
        ("/item-types/epic", json!({"fields": [{"key": "Due Date"}]})),
    ] {
        let r = app.put(&path(bad.0), &key, bad.1).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    }
    let r = app.get(&path("/item-types"), &key).await;
    assert_eq!(r.body[1]["key"], "task", "{}", r.text);
    assert_eq!(r.body[1]["fields"][1]["name"], "Due date", "{}", r.text);

    // A role limited to tasks, hiding the budget, due date read-only.
    let r = app
        .post(
            &path("/roles"),
            &key,
            json!({"name": "Task editor", "binds_at": "workspace",
                   "grants": {"read_all": "allow", "change_all": "allow"},
                   "items": {"item_types": ["task"],
                             "fields": {"task": {"budget": "hidden", "due_date": "read_only"}}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["items"]["item_types"], json!(["task"]));
    // Unknown types and fields in a role are a 400.
    for items in [
        json!({"item_types": ["epic"]}),
        json!({"fields": {"task": {"colour": "hidden"}}}),
    ] {
        let r = app
            .post(
                &path("/roles"),
                &key,
                json!({"name": "Broken", "binds_at": "workspace", "items": items}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    }
    // A field a role restricts cannot be removed from under it.
    let r = app
        .put(
            &path("/item-types/task"),
            &key,
            json!({"fields": [{"key": "title"}, {"key": "due_date"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "field_in_use");

    let tess = app.user(&key, ORG, "tess", "user").await;
    assert_eq!(
        member(&app, &key, "proj", &tess, Some("task_editor"))
            .await
            .0,
        StatusCode::OK
    );
    let check = |t: &'static str| {
        let (app, key, tess) = (&app, &key, &tess);
        async move {
            app.post(
                &path("/authz/check"),
                key,
                json!({"user": tess, "permission": "change_all", "workspace": "proj", "item_type": t}),
            )
            .await
        }
    };
    let r = check("task").await;
    assert_eq!(r.body["allowed"], true, "{}", r.text);
    let r = check("bug").await;
    assert_eq!(r.body["allowed"], false, "{}", r.text);
    assert!(
        r.text.contains("limited to item types [task]"),
        "{}",
        r.text
    );
    let r = check("epic").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "unknown_item_type");

    // Field access in the access answer.
    let r = app
        .get(
            &path(&format!(
                "/users/{tess}/access?workspace=proj&item_type=task"
            )),
            &key,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let fields: Vec<(String, String)> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_owned(),
                f["access"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("title".to_owned(), "writable".to_owned()),
            ("due_date".to_owned(), "read_only".to_owned()),
            ("budget".to_owned(), "hidden".to_owned()),
        ]
    );
    assert!(
        r.body["fields"][2]["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("task_editor")
    );
    let r = app
        .get(
            &path(&format!(
                "/users/{tess}/access?workspace=proj&item_type=bug"
            )),
            &key,
        )
        .await;
    assert!(
        r.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["access"] == "hidden"),
        "{}",
        r.text
    );
    let r = app
        .get(&path(&format!("/users/{tess}/access?item_type=epic")), &key)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

crate::http_suite!(
    sub_workspaces_inherit_and_the_tree_keeps_its_rules,
    workspace_admins_act_in_their_workspace_only,
    item_types_limit_roles_and_fields,
);
