//! The permission engine through the admin API, on both backends: the seed
//! 003 matrix cell by cell via `POST …/authz/check`, workspace visibility,
//! granting limits, last-owner protection, each preset's distinctive rules,
//! custom roles, `roles_managed_by = idp`, and the access answer.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp};

/// The SPEC's seed 003 table, copied literally (not read from the preset).
const MATRIX: &str = "\
| view dashboards | Y | Y | Y | Y | Y | Y | Y | N |
| view deliverables | Y | Y | Y | Y | Y | Y | Y | N |
| view milestones | Y | Y | Y | Y | Y | Y | Y | N |
| view goals | Y | Y | Y | Y | Y | Y | Y | N |
| view DORA metrics | Y | Y | Y | Y | Y | Y | Y | N |
| edit DORA metrics | Y | Y | Y | Y | Y | Y | N | N |
| view WIT | Y | Y | Y | Y | Y | Y | N | N |
| view metrics | Y | Y | Y | Y | Y | Y | N | N |
| edit metrics | Y | Y | Y | Y | Y | Y | N | N |
| add/remove milestones, edit dashboards | Y | Y | Y | Y | Y | N | N | N |
| view all workspaces | Y | Y | N | Y | optional | optional | optional | N |
| workspace-level: edit employees / data contributors | Y | Y | Y | Y | N | N | N | N |
| workspace-level: add/remove tools, edit resources | Y | Y | Y | N | N | N | N | N |
| org-level: edit employees / data contributors | Y | Y | Y | Y | N | N | N | N |
| org-level: add/remove tools, edit resources | Y | Y | Y | N | N | N | N | Y |
| org-wide settings (SSO settings, managing users) | Y | Y | Y | N | N | N | N | N |
| legacy billing menu | Y | N | N | N | N | N | N | N |
";

const ROLES: [&str; 8] = [
    "owner",
    "admin",
    "workspace_admin",
    "data_manager",
    "view_manager",
    "read_only",
    "restricted_read_only",
    "integrations_manager",
];

/// Row → (permission, checked in a workspace?).
fn permission_of(row: &str) -> Option<(&'static str, bool)> {
    Some(match row {
        "view dashboards" => ("dashboards.view", true),
        "view deliverables" => ("deliverables.view", true),
        "view milestones" => ("milestones.view", true),
        "view goals" => ("goals.view", true),
        "view DORA metrics" => ("dora.view", true),
        "edit DORA metrics" => ("dora.edit", true),
        "view WIT" => ("wit.view", true),
        "view metrics" => ("metrics.view", true),
        "edit metrics" => ("metrics.edit", true),
        "add/remove milestones, edit dashboards" => ("dashboards.edit", true),
        "workspace-level: edit employees / data contributors" => {
            ("workspace.contributors.edit", true)
        }
        "workspace-level: add/remove tools, edit resources" => ("workspace.tools.edit", true),
        "org-level: edit employees / data contributors" => ("org.contributors.edit", false),
        "org-level: add/remove tools, edit resources" => ("org.tools.edit", false),
        "org-wide settings (SSO settings, managing users)" => ("org.settings.manage", false),
        "legacy billing menu" => ("billing.legacy", false),
        _ => return None,
    })
}

async fn create_user(
    app: &TestApp,
    key: &str,
    org: &str,
    name: &str,
    role: &str,
    workspaces: Option<Vec<&str>>,
) -> String {
    let mut body = json!({"user_name": name, "role": role});
    if let Some(w) = workspaces {
        body["workspaces"] = json!(w);
    }
    let r = app
        .post(&format!("/api/v1/orgs/{org}/users"), key, body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn setup_workspaces(app: &TestApp, key: &str, org: &str, slugs: &[&str]) {
    for s in slugs {
        let r = app
            .post(
                &format!("/api/v1/orgs/{org}/workspaces"),
                key,
                json!({"slug": s}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
}

async fn check(app: &TestApp, key: &str, org: &str, body: Value) -> Value {
    let r = app
        .post(&format!("/api/v1/orgs/{org}/authz/check"), key, body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn allowed(app: &TestApp, key: &str, org: &str, body: Value) -> bool {
    let b = check(app, key, org, body).await;
    assert!(
        !b["reasons"].as_array().unwrap().is_empty(),
        "every answer has reasons: {b}"
    );
    b["allowed"].as_bool().unwrap()
}

async fn every_cell_of_the_seed_003_matrix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("acme", "analytics");
    setup_workspaces(&app, &key, "acme", &["ws1", "ws2"]).await;
    let mut users = HashMap::new();
    for role in ROLES {
        // Roles that see no workspace by themselves are assigned the one we ask about.
        let assigned =
            matches!(role, "workspace_admin" | "integrations_manager").then(|| vec!["ws1"]);
        users.insert(
            role,
            create_user(&app, &key, "acme", role, role, assigned).await,
        );
    }
    let mut checks = Vec::new();
    let mut expected = Vec::new();
    for line in MATRIX.lines() {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let row = cells[0];
        let Some((permission, in_workspace)) = permission_of(row) else {
            assert_eq!(row, "view all workspaces");
            continue;
        };
        for (i, role) in ROLES.iter().enumerate() {
            let mut c = json!({"user": users[role], "permission": permission});
            if in_workspace {
                c["workspace"] = json!("ws1");
            }
            checks.push(c);
            expected.push((row, *role, cells[i + 1] == "Y"));
        }
    }
    assert_eq!(checks.len(), 128);
    let answer = check(&app, &key, "acme", json!({"checks": checks})).await;
    let results = answer["results"].as_array().unwrap();
    for (result, (row, role, want)) in results.iter().zip(&expected) {
        assert_eq!(
            result["allowed"].as_bool(),
            Some(*want),
            "{row} / {role}: {result}"
        );
        assert!(!result["reasons"].as_array().unwrap().is_empty());
    }
    // The visibility row, through the access answer.
    let vis_line = MATRIX
        .lines()
        .find(|l| l.contains("view all workspaces"))
        .unwrap();
    let cells: Vec<&str> = vis_line
        .trim_matches('|')
        .split('|')
        .map(str::trim)
        .collect();
    for (i, role) in ROLES.iter().enumerate() {
        let r = app
            .get(
                &format!("/api/v1/orgs/acme/users/{}/access", users[role]),
                &key,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let ws = &r.body["workspaces"];
        match cells[i + 1] {
            "Y" => assert_eq!(ws["all"], true, "{role}: {ws}"),
            "N" => {
                assert_eq!(ws["all"], false, "{role}: {ws}");
                assert_eq!(
                    ws["visible"],
                    json!(["ws1"]),
                    "{role} sees only what it is assigned: {ws}"
                );
            }
            "optional" => {
                assert_eq!(ws["all"], true, "{role} sees all until restricted: {ws}");
                // Second state: restricted by an admin.
                let r = app
                    .put(
                        &format!("/api/v1/orgs/acme/users/{}/workspaces", users[role]),
                        &key,
                        json!({"workspaces": ["ws2"]}),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                assert_eq!(r.body["workspaces"]["all"], false);
                assert_eq!(r.body["workspaces"]["visible"], json!(["ws2"]));
                assert!(!allowed(&app, &key, "acme", json!({"user": users[role], "permission": "dashboards.view", "workspace": "ws1"})).await);
                assert!(allowed(&app, &key, "acme", json!({"user": users[role], "permission": "dashboards.view", "workspace": "ws2"})).await);
            }
            other => panic!("unexpected cell {other}"),
        }
        assert!(!ws["reason"].as_str().unwrap().is_empty());
    }
}

async fn view_manager_restricted_to_one_workspace_and_anonymized_variants(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("acme", "analytics");
    setup_workspaces(&app, &key, "acme", &["alpha", "beta"]).await;
    let vm = create_user(
        &app,
        &key,
        "acme",
        "vm",
        "view_manager",
        Some(vec!["alpha"]),
    )
    .await;
    assert!(
        allowed(
            &app,
            &key,
            "acme",
            json!({"user": vm, "permission": "dashboards.view", "workspace": "alpha"})
        )
        .await
    );
    let denied = check(
        &app,
        &key,
        "acme",
        json!({"user": vm, "permission": "dashboards.view", "workspace": "beta"}),
    )
    .await;
    assert_eq!(denied["allowed"], false);
    assert!(
        denied.to_string().contains("visibility"),
        "the reason names visibility: {denied}"
    );
    let r = app
        .get(&format!("/api/v1/orgs/acme/users/{vm}/access"), &key)
        .await;
    assert_eq!(r.body["workspaces"]["visible"], json!(["alpha"]));
    assert_eq!(r.body["anonymized"], false);
    let anon = create_user(&app, &key, "acme", "anon", "view_manager_anonymized", None).await;
    let r = app
        .get(&format!("/api/v1/orgs/acme/users/{anon}/access"), &key)
        .await;
    assert_eq!(r.body["anonymized"], true, "{}", r.text);
    assert!(
        !allowed(
            &app,
            &key,
            "acme",
            json!({"user": anon, "permission": "reports.individuals.view", "workspace": "alpha"})
        )
        .await
    );
    assert!(
        allowed(
            &app,
            &key,
            "acme",
            json!({"user": vm, "permission": "reports.individuals.view", "workspace": "alpha"})
        )
        .await
    );
    assert!(
        allowed(
            &app,
            &key,
            "acme",
            json!({"user": anon, "permission": "dashboards.edit", "workspace": "alpha"})
        )
        .await
    );
}

async fn granting_limits_and_the_last_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("acme", "analytics");
    let owner = create_user(&app, &key, "acme", "olive", "owner", None).await;
    let admin = create_user(&app, &key, "acme", "adam", "admin", None).await;
    let other = create_user(&app, &key, "acme", "otto", "read_only", None).await;
    let admin_key = app.personal_key("acme", "adam");
    let owner_key = app.personal_key("acme", "olive");
    // An Admin makes neither themselves nor anyone else Owner.
    for target in [&admin, &other] {
        let r = app
            .put(
                &format!("/api/v1/orgs/acme/users/{target}/role"),
                &admin_key,
                json!({"role": "owner"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("billing.legacy"),
            "{}",
            r.text
        );
    }
    // Nor create an Owner, nor an owner-role API key.
    let r = app
        .post(
            "/api/v1/orgs/acme/users",
            &admin_key,
            json!({"user_name": "sneaky", "role": "owner"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A key asked for without a role gets the least role, never the owner's.
    let r = app
        .post(
            "/api/v1/orgs/acme/api-keys",
            &admin_key,
            json!({"name": "k"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["role"], "access_reader", "{}", r.text);
    // But an Admin may give roles they hold.
    let r = app
        .put(
            &format!("/api/v1/orgs/acme/users/{other}/role"),
            &admin_key,
            json!({"role": "data_manager"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // An Admin cannot demote the Owner either.
    let r = app
        .put(
            &format!("/api/v1/orgs/acme/users/{owner}/role"),
            &admin_key,
            json!({"role": "read_only"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The Owner can make the Admin Owner.
    let r = app
        .put(
            &format!("/api/v1/orgs/acme/users/{admin}/role"),
            &owner_key,
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // With two owners one may step down; the last one may not, nor be suspended.
    let r = app
        .put(
            &format!("/api/v1/orgs/acme/users/{admin}/role"),
            &owner_key,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .put(
            &format!("/api/v1/orgs/acme/users/{owner}/role"),
            &key,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["code"], "last_owner");
    let r = app
        .post(
            &format!("/api/v1/orgs/acme/users/{owner}/suspend"),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["code"], "last_owner");
    // A Data Manager lacks gateway.users.manage: no user administration.
    let dm_key = app.personal_key("acme", "otto");
    let r = app.get("/api/v1/orgs/acme/users", &dm_key).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("gateway.users.manage"));
}

async fn unknown_names_are_client_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("acme", "analytics");
    let u = create_user(&app, &key, "acme", "u", "read_only", None).await;
    let cases = [
        (
            json!({"user": u, "permission": "no.such"}),
            StatusCode::BAD_REQUEST,
            "no.such",
        ),
        (
            json!({"user": u, "permission": "dashboards.view", "workspace": "nope"}),
            StatusCode::NOT_FOUND,
            "nope",
        ),
        (
            json!({"user": "ghost", "permission": "dashboards.view"}),
            StatusCode::NOT_FOUND,
            "ghost",
        ),
        (
            json!({"user": u, "permission": "Not A Key"}),
            StatusCode::BAD_REQUEST,
            "Not A Key",
        ),
        (
            json!({"permission": "dashboards.view"}),
            StatusCode::BAD_REQUEST,
            "",
        ),
    ];
    for (body, status, named) in cases {
        let r = app
            .post("/api/v1/orgs/acme/authz/check", &key, body.clone())
            .await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
        assert!(r.text.contains(named), "{body}: {}", r.text);
    }
    let r = app
        .put(
            &format!("/api/v1/orgs/acme/users/{u}/role"),
            &key,
            json!({"role": "emperor"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text.contains("emperor"));
    let r = app
        .put(
            &format!("/api/v1/orgs/acme/users/{u}/workspaces"),
            &key,
            json!({"workspaces": ["atlantis"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text.contains("atlantis"));
    let r = app
        .post(
            "/api/v1/orgs/acme/roles",
            &key,
            json!({"key": "bad", "grants": {"no.such": "allow"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("no.such"), "{}", r.text);
    // Per-item errors in a batch, the rest answered.
    let b = check(
        &app,
        &key,
        "acme",
        json!({"checks": [
            {"user": u, "permission": "dashboards.view"},
            {"user": u, "permission": "no.such"}
        ]}),
    )
    .await;
    assert!(b["results"][0]["allowed"].is_boolean());
    assert_eq!(b["results"][1]["error"]["code"], "unknown_permission");
}

async fn custom_roles_clone_update_and_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("acme", "analytics");
    let r = app.get("/api/v1/orgs/acme/roles", &key).await;
    // The preset's twelve roles and the built-in `access_reader`.
    assert_eq!(r.body.as_array().unwrap().len(), 13);
    let r = app
        .patch(
            "/api/v1/orgs/acme/roles/admin",
            &key,
            json!({"name": "Boss"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["code"], "builtin_role");
    let r = app
        .post(
            "/api/v1/orgs/acme/roles",
            &key,
            json!({"key": "analyst", "name": "Analyst", "clone_from": "read_only"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["builtin"], false);
    assert_eq!(r.body["grants"]["dashboards.view"], "allow");
    let u = create_user(&app, &key, "acme", "ann", "analyst", None).await;
    assert!(
        !allowed(
            &app,
            &key,
            "acme",
            json!({"user": u, "permission": "dashboards.edit"})
        )
        .await
    );
    let mut grants = r.body["grants"].clone();
    grants["dashboards.edit"] = json!("allow");
    let r = app
        .patch(
            "/api/v1/orgs/acme/roles/analyst",
            &key,
            json!({"grants": grants}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        allowed(
            &app,
            &key,
            "acme",
            json!({"user": u, "permission": "dashboards.edit"})
        )
        .await,
        "policy cache refreshed"
    );
    let r = app.delete("/api/v1/orgs/acme/roles/analyst", &key).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "in use");
    app.put(
        &format!("/api/v1/orgs/acme/users/{u}/role"),
        &key,
        json!({"role": "read_only"}),
    )
    .await;
    let r = app.delete("/api/v1/orgs/acme/roles/analyst", &key).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app
        .get("/api/v1/orgs/acme/audit?action=role.created", &key)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

async fn workflow_roles_preset_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("ops", "workflow-roles");
    let ic = create_user(&app, &key, "ops", "ic", "member", None).await;
    let resp = create_user(&app, &key, "ops", "resp", "member", None).await;
    let admin = create_user(&app, &key, "ops", "boss", "admin", None).await;
    let wf = |id: &str| json!({"type": "workflow", "id": id});
    let r = app
        .post(
            &format!("/api/v1/orgs/ops/users/{ic}/bindings"),
            &key,
            json!({"role": "incident_commander", "resource_type": "workflow", "resource_id": "7"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    app.post(
        &format!("/api/v1/orgs/ops/users/{resp}/bindings"),
        &key,
        json!({"role": "scribe", "resource_type": "workflow", "resource_id": "7"}),
    )
    .await;
    // "No restrictions" lifts everything in workflow 7 and nothing beyond.
    assert!(
        allowed(
            &app,
            &key,
            "ops",
            json!({"user": ic, "permission": "statuspage.interact", "resource": wf("7")})
        )
        .await
    );
    assert!(
        !allowed(
            &app,
            &key,
            "ops",
            json!({"user": ic, "permission": "statuspage.interact", "resource": wf("8")})
        )
        .await
    );
    // Assigning oneself an available role is always allowed; others need roles.assign.
    assert!(allowed(&app, &key, "ops", json!({"user": resp, "permission": "roles.assign", "resource": wf("7"), "relations": ["self"], "assignment": {"role": "responder"}})).await);
    assert!(
        !allowed(
            &app,
            &key,
            "ops",
            json!({"user": resp, "permission": "roles.assign", "resource": wf("7")})
        )
        .await
    );
    // Severity: choosing one when declaring is always allowed; changing needs the permission.
    assert!(allowed(&app, &key, "ops", json!({"user": resp, "permission": "severity.modify", "resource": wf("7"), "relations": ["declaring"]})).await);
    assert!(
        !allowed(
            &app,
            &key,
            "ops",
            json!({"user": resp, "permission": "severity.modify", "resource": wf("7")})
        )
        .await
    );
    // Gateway admins add timeline entries to any workflow regardless of role.
    assert!(
        allowed(
            &app,
            &key,
            "ops",
            json!({"user": admin, "permission": "timeline.create", "resource": wf("99")})
        )
        .await
    );
    // Users without a role in a workflow get the view-only defaults there.
    assert!(
        allowed(
            &app,
            &key,
            "ops",
            json!({"user": resp, "permission": "workflow.view", "resource": wf("42")})
        )
        .await
    );
    // A workflow-scoped role cannot be set as an org role.
    let r = app
        .put(
            &format!("/api/v1/orgs/ops/users/{resp}/role"),
            &key,
            json!({"role": "scribe"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

async fn permission_profiles_preset_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("rescue", "permission-profiles");
    let member = create_user(&app, &key, "rescue", "mem", "member", None).await;
    let inc = |id: &str| json!({"type": "incident", "id": id});
    // Module policy: members write the task board; "use default" falls back to incidents.edit (denied).
    assert!(
        allowed(
            &app,
            &key,
            "rescue",
            json!({"user": member, "permission": "task_board.write", "resource": inc("1")})
        )
        .await
    );
    assert!(
        !allowed(
            &app,
            &key,
            "rescue",
            json!({"user": member, "permission": "status_board.write", "resource": inc("1")})
        )
        .await
    );
    // "Manage an incident if invited" lifts module policies where invited ...
    assert!(
        !allowed(
            &app,
            &key,
            "rescue",
            json!({"user": member, "permission": "activity_log.read", "resource": inc("1")})
        )
        .await
    );
    assert!(allowed(&app, &key, "rescue", json!({"user": member, "permission": "activity_log.read", "resource": inc("1"), "relations": ["invited"]})).await);
    // ... but not an org-level deny (members are denied incidents.edit).
    assert!(!allowed(&app, &key, "rescue", json!({"user": member, "permission": "status_board.write", "resource": inc("1"), "relations": ["invited"]})).await);
    // Additional policies: an individual deny beats the role; an allow adds.
    let r = app
        .post(
            &format!("/api/v1/orgs/rescue/users/{member}/overrides"),
            &key,
            json!({"permission": "incidents.declare", "effect": "deny"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(
        !allowed(
            &app,
            &key,
            "rescue",
            json!({"user": member, "permission": "incidents.declare"})
        )
        .await
    );
    let r = app
        .post(
            &format!("/api/v1/orgs/rescue/users/{member}/overrides"),
            &key,
            json!({"permission": "reports.view", "effect": "allow"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(
        allowed(
            &app,
            &key,
            "rescue",
            json!({"user": member, "permission": "reports.view"})
        )
        .await
    );
    // The access answer lists the overrides.
    let r = app
        .get(&format!("/api/v1/orgs/rescue/users/{member}/access"), &key)
        .await;
    assert_eq!(r.body["overrides"].as_array().unwrap().len(), 2);
}

async fn permission_sets_preset_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("flows", "permission-sets");
    let builder = create_user(&app, &key, "flows", "bob", "member", None).await;
    let clerk = create_user(&app, &key, "flows", "carl", "member", None).await;
    let builder_key = app.personal_key("flows", "bob");
    // Without build access to the application, no sets for it.
    let r = app
        .post(
            "/api/v1/orgs/flows/permission-sets",
            &builder_key,
            json!({"name": "Log", "application": "crm", "permissions": ["steps.origin.create"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    app.post(
        &format!("/api/v1/orgs/flows/users/{builder}/bindings"),
        &key,
        json!({"role": "app_builder", "resource_type": "application", "resource_id": "crm"}),
    )
    .await;
    let r = app
        .post(
            "/api/v1/orgs/flows/permission-sets",
            &builder_key,
            json!({"name": "Log", "application": "crm", "permissions": ["steps.origin.create"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let set = r.body["id"].as_str().unwrap().to_owned();
    // Still no sets for an application they cannot build.
    let r = app
        .post(
            "/api/v1/orgs/flows/permission-sets",
            &builder_key,
            json!({"name": "Other", "application": "erp", "permissions": ["steps.origin.create"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Attaching gives the set's steps: a builder who does not hold them may
    // not hand them out; someone who holds them may.
    let r = app
        .put(
            &format!("/api/v1/orgs/flows/users/{clerk}/permission-sets/{set}"),
            &builder_key,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("steps.origin.create"), "{}", r.text);
    // Added directly, the set applies to its application only.
    let r = app
        .put(
            &format!("/api/v1/orgs/flows/users/{clerk}/permission-sets/{set}"),
            &key,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let app_ref = |id: &str| json!({"type": "application", "id": id});
    assert!(
        allowed(
            &app,
            &key,
            "flows",
            json!({"user": clerk, "permission": "steps.origin.create", "resource": app_ref("crm")})
        )
        .await
    );
    assert!(
        !allowed(
            &app,
            &key,
            "flows",
            json!({"user": clerk, "permission": "steps.origin.create", "resource": app_ref("erp")})
        )
        .await
    );
    // Attaching a set to a role needs gateway.roles.manage (the builder lacks it).
    let r = app
        .post(
            "/api/v1/orgs/flows/roles",
            &builder_key,
            json!({"key": "clerks", "permission_sets": [set]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post(
            "/api/v1/orgs/flows/roles",
            &key,
            json!({"key": "clerks", "permission_sets": [set]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let via_role = create_user(&app, &key, "flows", "dora", "clerks", None).await;
    assert!(allowed(&app, &key, "flows", json!({"user": via_role, "permission": "steps.origin.create", "resource": app_ref("crm")})).await);
}

async fn workspace_roles_preset_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("tracker", "workspace-roles");
    setup_workspaces(&app, &key, "tracker", &["proj"]).await;
    let reader = create_user(&app, &key, "tracker", "rita", "user", None).await;
    let contrib = create_user(&app, &key, "tracker", "cody", "user", None).await;
    for (u, role) in [(&reader, "reader"), (&contrib, "contributor")] {
        let r = app
            .post(
                &format!("/api/v1/orgs/tracker/users/{u}/bindings"),
                &key,
                json!({"role": role, "workspace": "proj"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let item = json!({"type": "item", "id": "i1", "workspace": "proj"});
    let q = |u: &str, p: &str, rel: &[&str]| json!({"user": u, "permission": p, "workspace": "proj", "resource": item, "relations": rel});
    // Reader reads only; only items they hold a relation to.
    assert!(allowed(&app, &key, "tracker", q(&reader, "item.read", &["reader"])).await);
    assert!(!allowed(&app, &key, "tracker", q(&reader, "item.read", &[])).await);
    assert!(
        !allowed(
            &app,
            &key,
            "tracker",
            q(&reader, "item.change", &["reader"])
        )
        .await
    );
    // Contributor changes own items, closes as manager/author.
    assert!(
        allowed(
            &app,
            &key,
            "tracker",
            q(&contrib, "item.change", &["editor"])
        )
        .await
    );
    assert!(
        allowed(
            &app,
            &key,
            "tracker",
            q(&contrib, "item.close", &["author"])
        )
        .await
    );
    assert!(
        !allowed(
            &app,
            &key,
            "tracker",
            q(&contrib, "item.close", &["editor"])
        )
        .await
    );
    // A workspace binding makes the workspace visible to a `no` role.
    let r = app
        .get(&format!("/api/v1/orgs/tracker/users/{reader}/access"), &key)
        .await;
    assert_eq!(r.body["workspaces"]["visible"], json!(["proj"]));
}

async fn roles_managed_by_idp_refuses_admin_edits_of_mapped_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("acme", "analytics");
    let u = create_user(&app, &key, "acme", "mapped", "read_only", None).await;
    // A directory with a group holding the user (what SCIM will do in issue 3).
    let store = app.db.store();
    let uid = u.clone();
    let dir = store
        .write_blocking(move |c| -> Result<_, rollcall::error::AppError> {
            let org = rollcall::service::orgs::resolve(c, "acme")?;
            let now = rollcall::store::now();
            let op = rollcall::service::authz::OrgPolicy::load(c, &org)?;
            let ceiling = rollcall::store::directories::Ceiling {
                roles: op
                    .policy
                    .roles()
                    .filter(|r| !r.owner)
                    .map(|r| r.id.as_str().to_owned())
                    .collect(),
                workspaces: None,
            };
            let d = rollcall::store::directories::insert(c, &org.id, "okta", &ceiling, now)?;
            let g = rollcall::store::groups::insert(
                c,
                &org.id,
                Some(&d.id),
                &rollcall::store::groups::GroupFields {
                    display_name: "Engineering".into(),
                    external_id: None,
                    scim: json!({}),
                },
                now,
            )?;
            rollcall::store::groups::add_members(c, &g.id, &[uid.parse().unwrap()], now)?;
            let u = rollcall::store::users::get(c, &org.id, &uid.parse().unwrap())?;
            let mut f = rollcall::store::users::UserFields::of(&u)?;
            f.directory_id = Some(d.id.clone());
            rollcall::store::users::update(c, &u, u.version, &f, now)?;
            Ok(d.id.to_string())
        })
        .unwrap();
    let r = app
        .put("/api/v1/orgs/acme/settings", &key, {
            let mut s = app.get("/api/v1/orgs/acme/settings", &key).await.body;
            s["roles_managed_by"] = json!("idp");
            s
        })
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post("/api/v1/orgs/acme/group-mappings", &key, json!({"kind": "scim_group", "source": dir, "group": "engineering", "role": "data_manager", "priority": 10}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mapping = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .get(&format!("/api/v1/orgs/acme/users/{u}/access"), &key)
        .await;
    let binding = &r.body["bindings"][0];
    assert_eq!(binding["role"], "data_manager", "{}", r.text);
    assert_eq!(binding["source"], "scim_group");
    let r = app
        .put(
            &format!("/api/v1/orgs/acme/users/{u}/role"),
            &key,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "managed_by_idp");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&mapping),
        "names the mapping: {}",
        r.text
    );
    // Removing the mapping gives the user back to the default role.
    let r = app
        .delete(&format!("/api/v1/orgs/acme/group-mappings/{mapping}"), &key)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .get(&format!("/api/v1/orgs/acme/users/{u}/access"), &key)
        .await;
    assert_eq!(r.body["bindings"][0]["role"], "view_manager", "{}", r.text);
    assert_eq!(r.body["bindings"][0]["source"], "default");
}

crate::http_suite!(
    every_cell_of_the_seed_003_matrix,
    view_manager_restricted_to_one_workspace_and_anonymized_variants,
    granting_limits_and_the_last_owner,
    unknown_names_are_client_errors,
    custom_roles_clone_update_and_delete,
    workflow_roles_preset_rules,
    permission_profiles_preset_rules,
    permission_sets_preset_rules,
    workspace_roles_preset_rules,
    roles_managed_by_idp_refuses_admin_edits_of_mapped_users,
);
