//! Issue "6 of 11", seeds 000 and 001, on both backends: existing orgs are
//! brought to the changed preset text by `Store::migrate` (built-in records
//! only, audited, idempotent); the split timeline permission, role
//! availability and the four individual-deny / override combinations
//! through `POST …/authz/check`; custom roles created by name.

use reqwest::StatusCode;
use serde_json::{Value, json};

use rollcall::domain::OrgSettings;
use rollcall::domain::audit::ActorKind;
use rollcall::domain::authz::{Grant, PermissionKey, Preset, Role, RoleId, ScopeKind};
use rollcall::store::audit::AuditQuery;
use rollcall::store::{self, StoreError};

use crate::support::{Backend, TestApp, TestDb};

/// workflow-roles as orgs created before this issue hold it.
const BEFORE: &str = include_str!("../fixtures/workflow-roles-before-6-of-11.toml");

fn key(k: &str) -> PermissionKey {
    PermissionKey::parse(k).unwrap()
}

fn events(
    db: &TestDb,
    org: &rollcall::domain::OrgId,
    action: &str,
) -> Vec<store::audit::AuditEvent> {
    let org = org.clone();
    let action = action.to_owned();
    db.store()
        .read_blocking(|c| {
            store::audit::list(
                c,
                &org,
                &AuditQuery {
                    action: Some(action),
                    limit: 100,
                    ..AuditQuery::default()
                },
            )
        })
        .unwrap()
}

fn preset_events(db: &TestDb, org: &rollcall::domain::OrgId) -> usize {
    [
        "preset.permission_added",
        "preset.permission_updated",
        "preset.role_added",
        "preset.role_updated",
        "preset.role_key_taken",
        "preset.sync_failed",
    ]
    .iter()
    .map(|a| events(db, org, a).len())
    .sum()
}

fn preset_sync_brings_existing_orgs_to_the_changed_preset(db: &TestDb) {
    let store = db.store();
    let now = store::now();
    let old = Preset::parse(BEFORE).unwrap();
    let custom_id = RoleId::new(uuid::Uuid::now_v7().to_string());
    let mut custom = Role::new(custom_id.clone(), "night_scribe", "Night scribe");
    custom.binds_at = ScopeKind::resource("workflow").unwrap();
    custom.grants.insert(key("workflow.view"), Grant::Allow);
    custom.grants.insert(key("timeline.edit"), Grant::Allow);
    // An org created before the change: the old text, no sync record.
    let old_org = {
        let custom = custom.clone();
        store
            .write_blocking(|c| -> Result<_, StoreError> {
                let settings = OrgSettings {
                    preset: "workflow-roles".into(),
                    ..OrgSettings::default()
                };
                let org = store::orgs::insert(c, "ops", "Ops", &settings, now)?;
                store::policy::seed(c, &org.id, &old, now)?;
                store::policy::insert_role(c, &org.id, &custom, now)?;
                Ok(org)
            })
            .unwrap()
    };
    let load = |org: &rollcall::domain::OrgId| {
        let org = org.clone();
        store
            .read_blocking(|c| store::policy::load(c, &org))
            .unwrap()
    };
    let before = load(&old_org.id);
    assert!(
        before
            .catalogue
            .iter()
            .all(|d| d.key.as_str() != "timeline.create")
    );

    store.migrate().unwrap();

    let after = load(&old_org.id);
    let def = |k: &str| {
        after
            .catalogue
            .iter()
            .find(|d| d.key.as_str() == k)
            .unwrap()
    };
    let current = Preset::load("workflow-roles").unwrap();
    let preset_def = |k: &str| {
        current
            .catalogue
            .iter()
            .find(|d| d.key.as_str() == k)
            .unwrap()
    };
    for k in [
        "timeline.create",
        "timeline.edit",
        "roles.assign",
        "workflow.no_restrictions",
    ] {
        assert_eq!(def(k), preset_def(k), "{k}");
    }
    assert_eq!(def("timeline.edit").scope, ScopeKind::Org);
    let role = |k: &str| after.roles.iter().find(|r| r.key.as_str() == k).unwrap();
    let old_role = |k: &str| before.roles.iter().find(|r| r.key.as_str() == k).unwrap();
    for k in ["scribe", "responder", "communications_lead"] {
        assert_eq!(role(k).id, old_role(k).id, "{k} keeps its id (bindings)");
        assert_eq!(
            role(k).grants.get(&key("timeline.create")),
            Some(&Grant::Allow)
        );
        assert!(!role(k).grants.contains_key(&key("timeline.edit")), "{k}");
    }
    assert!(role("incident_commander").single_holder());
    assert!(role("owner").owner);
    assert_eq!(
        role("owner"),
        old_role("owner"),
        "nothing changed for the owner"
    );
    // The custom role is untouched, and the org's policy compiles.
    assert_eq!(role("night_scribe"), &custom);
    load(&old_org.id).compile().unwrap();
    let org_after = store
        .read_blocking(|c| store::orgs::by_id(c, &old_org.id))
        .unwrap();
    assert!(org_after.policy_version > old_org.policy_version);

    // Each change is in the audit log, by the system.
    let expected = [
        ("preset.permission_added", 1),
        ("preset.permission_updated", 3),
        ("preset.role_updated", 4),
        ("preset.role_added", 0),
    ];
    for (action, n) in expected {
        let found = events(db, &old_org.id, action);
        assert_eq!(found.len(), n, "{action}");
        for e in &found {
            assert_eq!(e.actor.kind, ActorKind::System);
            assert_eq!(e.after.as_ref().unwrap()["preset"], "workflow-roles");
        }
    }
    let responder = events(db, &old_org.id, "preset.role_updated")
        .into_iter()
        .find(|e| e.target_id.as_deref() == Some(old_role("responder").id.as_str()))
        .unwrap();
    assert!(
        responder.before.unwrap()["grants"]
            .get("timeline.edit")
            .is_some()
    );
    assert!(
        responder.after.unwrap()["record"]["grants"]
            .get("timeline.create")
            .is_some()
    );

    // Idempotent: again, and even without the fingerprint, nothing changes.
    let total = preset_events(db, &old_org.id);
    let version = org_after.policy_version;
    store.migrate().unwrap();
    assert_eq!(preset_events(db, &old_org.id), total);
    store
        .write_blocking(|c| -> Result<_, StoreError> {
            use diesel::prelude::*;
            diesel::delete(store::schema::org_preset_sync::table).execute(c)?;
            Ok(())
        })
        .unwrap();
    store.migrate().unwrap();
    assert_eq!(preset_events(db, &old_org.id), total);
    assert_eq!(load(&old_org.id).roles, after.roles);
    let org_again = store
        .read_blocking(|c| store::orgs::by_id(c, &old_org.id))
        .unwrap();
    assert_eq!(
        org_again.policy_version, version,
        "no change, no new version"
    );

    // A built-in role an org lacks is added; a custom role holding a preset
    // role's key is left and reported.
    store
        .write_blocking(|c| -> Result<_, StoreError> {
            let records = store::policy::load(c, &old_org.id)?;
            let scribe = records
                .roles
                .iter()
                .find(|r| r.key.as_str() == "scribe")
                .unwrap();
            let responder = records
                .roles
                .iter()
                .find(|r| r.key.as_str() == "responder")
                .unwrap();
            store::policy::delete_role(c, &old_org.id, &scribe.id)?;
            store::policy::delete_role(c, &old_org.id, &responder.id)?;
            let taken = Role::new(
                RoleId::new(uuid::Uuid::now_v7().to_string()),
                "responder",
                "Our responder",
            );
            store::policy::insert_role(c, &old_org.id, &taken, now)?;
            use diesel::prelude::*;
            diesel::delete(store::schema::org_preset_sync::table).execute(c)?;
            Ok(())
        })
        .unwrap();
    store.migrate().unwrap();
    let added = events(db, &old_org.id, "preset.role_added");
    assert_eq!(added.len(), 1);
    let synced = load(&old_org.id);
    let scribe = synced
        .roles
        .iter()
        .find(|r| r.key.as_str() == "scribe")
        .unwrap();
    assert!(scribe.builtin);
    assert_eq!(added[0].target_id.as_deref(), Some(scribe.id.as_str()));
    let taken = events(db, &old_org.id, "preset.role_key_taken");
    assert_eq!(taken.len(), 1);
    let ours = synced
        .roles
        .iter()
        .find(|r| r.key.as_str() == "responder")
        .unwrap();
    assert!(!ours.builtin);
    assert_eq!(ours.name, "Our responder");
}

fn new_orgs_are_created_in_sync(db: &TestDb) {
    let store = db.store();
    let mut orgs = Vec::new();
    for preset in Preset::names() {
        let org = store
            .write_blocking(|c| {
                rollcall::service::orgs::create(
                    c,
                    &rollcall::service::Ctx::new(rollcall::domain::audit::Actor::cli(), None),
                    rollcall::service::orgs::NewOrg {
                        slug: format!("fresh-{preset}"),
                        name: None,
                        preset: Some((*preset).to_owned()),
                    },
                )
            })
            .unwrap();
        orgs.push(org);
    }
    store.migrate().unwrap();
    for org in &orgs {
        assert_eq!(preset_events(db, &org.id), 0, "{}", org.slug);
    }
    // With the records gone, the comparison runs and finds nothing either:
    // every preset's stored copy equals its text.
    store
        .write_blocking(|c| -> Result<_, StoreError> {
            use diesel::prelude::*;
            diesel::delete(store::schema::org_preset_sync::table).execute(c)?;
            Ok(())
        })
        .unwrap();
    store.migrate().unwrap();
    for org in &orgs {
        assert_eq!(preset_events(db, &org.id), 0, "{}", org.slug);
        let after = store
            .read_blocking(|c| store::orgs::by_id(c, &org.id))
            .unwrap();
        assert_eq!(after.policy_version, org.policy_version, "{}", org.slug);
    }
}

/// Several nodes migrating at once apply each org's plan exactly once.
fn concurrent_syncs_apply_each_change_once(db: &TestDb) {
    let old = Preset::parse(BEFORE).unwrap();
    for round in 0..3 {
        let orgs: Vec<_> = (0..4)
            .map(|i| {
                let old = old.clone();
                db.store()
                    .write_blocking(|c| -> Result<_, StoreError> {
                        let settings = OrgSettings {
                            preset: "workflow-roles".into(),
                            ..OrgSettings::default()
                        };
                        let slug = format!("r{round}o{i}");
                        let org = store::orgs::insert(c, &slug, &slug, &settings, store::now())?;
                        store::policy::seed(c, &org.id, &old, store::now())?;
                        Ok(org)
                    })
                    .unwrap()
            })
            .collect();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let nodes: Vec<_> = (0..4)
            .map(|_| {
                let store = db.store();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    store.migrate()
                })
            })
            .collect();
        for node in nodes {
            node.join().unwrap().unwrap();
        }
        for org in &orgs {
            assert_eq!(
                events(db, &org.id, "preset.role_updated").len(),
                4,
                "{}",
                org.slug
            );
            assert_eq!(events(db, &org.id, "preset.permission_added").len(), 1);
            let records = {
                let id = org.id.clone();
                db.store()
                    .read_blocking(|c| store::policy::load(c, &id))
                    .unwrap()
            };
            assert_eq!(
                records
                    .catalogue
                    .iter()
                    .filter(|d| d.key.as_str() == "timeline.create")
                    .count(),
                1
            );
        }
    }
}

/// `rollcall role create --name`: the key is derived and printed.
fn cli_creates_roles_by_name(db: &TestDb) {
    let run = |args: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .args(args)
            .current_dir(dir.path())
            .env("DATABASE_URL", &db.url)
            .env_remove("ROLLCALL_ENV")
            .env("ROLLCALL__LOG__LEVEL", "warn")
            .output()
            .unwrap()
    };
    let out = run(&["org", "create", "rescue", "--preset", "permission-profiles"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "role",
        "create",
        "--org",
        "rescue",
        "--name",
        "Night Shift",
        "--clone-from",
        "member",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "night_shift");
    let out = run(&["role", "create", "--org", "rescue", "--name", "night shift"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Night Shift"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

mod store_level {
    use super::*;
    crate::store_suite!(
        preset_sync_brings_existing_orgs_to_the_changed_preset,
        new_orgs_are_created_in_sync,
        concurrent_syncs_apply_each_change_once,
        cli_creates_roles_by_name,
    );
}

async fn check(app: &TestApp, key: &str, org: &str, body: Value) -> (bool, Value) {
    let r = app
        .post(&format!("/api/v1/orgs/{org}/authz/check"), key, body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (
        r.body["allowed"].as_bool().unwrap(),
        r.body["reasons"].clone(),
    )
}

async fn user(app: &TestApp, key: &str, org: &str, name: &str, role: &str) -> String {
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/users"),
            key,
            json!({"user_name": name, "role": role}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Seed 000 items 1–3 through the check API.
async fn workflow_rules_through_the_check_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("ops", "workflow-roles");
    let scribe = user(&app, &key, "ops", "scribe", "member").await;
    let owner = user(&app, &key, "ops", "boss", "owner").await;
    let r = app
        .post(
            &format!("/api/v1/orgs/ops/users/{scribe}/bindings"),
            &key,
            json!({"role": "scribe", "resource_type": "workflow", "resource_id": "7"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let wf = |id: &str| json!({"type": "workflow", "id": id});

    // 1. The scribe creates entries but no longer edits them; admins edit.
    let q = |user: &str, permission: &str| json!({"user": user, "permission": permission, "resource": wf("7")});
    assert!(
        check(&app, &key, "ops", q(&scribe, "timeline.create"))
            .await
            .0
    );
    assert!(
        !check(&app, &key, "ops", q(&scribe, "timeline.edit"))
            .await
            .0
    );
    assert!(check(&app, &key, "ops", q(&owner, "timeline.edit")).await.0);
    assert!(
        check(&app, &key, "ops", q(&owner, "timeline.create"))
            .await
            .0
    );

    // 2. The owner has no "no restrictions" on a workflow it is not bound to.
    let (allowed, reasons) = check(&app, &key, "ops", q(&owner, "statuspage.interact")).await;
    assert!(!allowed, "{reasons}");
    // ... but still binds the commander (granting limits), and then has it.
    let r = app
        .post(
            &format!("/api/v1/orgs/ops/users/{owner}/bindings"),
            &key,
            json!({"role": "incident_commander", "resource_type": "workflow", "resource_id": "7"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(
        check(&app, &key, "ops", q(&owner, "statuspage.interact"))
            .await
            .0
    );

    // 3. Self-assignment: available roles only; the product says whether held.
    let assign = |role: &str, held: bool| {
        json!({"user": scribe, "permission": "roles.assign", "resource": wf("7"),
               "relations": ["self"], "assignment": {"role": role, "held": held}})
    };
    assert!(
        check(&app, &key, "ops", assign("incident_commander", false))
            .await
            .0
    );
    let (allowed, reasons) = check(&app, &key, "ops", assign("incident_commander", true)).await;
    assert!(!allowed);
    assert!(reasons.to_string().contains("single-holder"), "{reasons}");
    assert!(check(&app, &key, "ops", assign("responder", true)).await.0);
    // An unknown role is a client error.
    let r = app
        .post("/api/v1/orgs/ops/authz/check", &key, assign("ghost", false))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("ghost"));
    // In a batch too, per item.
    let r = app
        .post(
            "/api/v1/orgs/ops/authz/check",
            &key,
            json!({"checks": [assign("incident_commander", true), assign("incident_commander", false)]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["results"][0]["allowed"], false);
    assert_eq!(r.body["results"][1]["allowed"], true);
    // The role attribute is visible and editable data on custom roles.
    let r = app
        .post(
            "/api/v1/orgs/ops/roles",
            &key,
            json!({"name": "Deputy", "binds_at": "resource:workflow",
                   "grants": {"workflow.view": "allow"}, "attributes": {"single_holder": "yes"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("single_holder"), "{}", r.text);
}

/// Seed 001 item 4: the four combinations, with individual policies set
/// through the API.
async fn individual_denies_and_overrides_through_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("rescue", "permission-profiles");
    let owner = user(&app, &key, "rescue", "olga", "account_owner").await;
    // A second owner, so that the first may be given individual denies
    // (the last active owner keeps every owner permission).
    user(&app, &key, "rescue", "oscar", "account_owner").await;
    let plus = user(&app, &key, "rescue", "pete", "member_plus").await;
    let deny = |user: &str, permission: &str| {
        let path = format!("/api/v1/orgs/rescue/users/{user}/overrides");
        let body = json!({"permission": permission, "effect": "deny"});
        (path, body)
    };
    for (u, p) in [
        (&owner, "status_board.write"),
        (&plus, "status_board.write"),
    ] {
        let (path, body) = deny(u, p);
        let r = app.post(&path, &key, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let inc = |user: &str, permission: &str, invited: bool| {
        let relations: Vec<&str> = if invited { vec!["invited"] } else { vec![] };
        json!({"user": user, "permission": permission,
               "resource": {"type": "incident", "id": "1"}, "relations": relations})
    };
    // Module-level individual deny + manage any incident: lifted.
    let (allowed, reasons) = check(
        &app,
        &key,
        "rescue",
        inc(&owner, "status_board.write", false),
    )
    .await;
    assert!(allowed, "{reasons}");
    assert_eq!(reasons[0]["step"], "override");
    assert_eq!(reasons[1]["step"], "individual_deny");
    assert_eq!(reasons[1]["effect"], "note");
    // + manage an incident if invited: lifted where invited, not elsewhere.
    assert!(
        check(&app, &key, "rescue", inc(&plus, "status_board.write", true))
            .await
            .0
    );
    let (allowed, reasons) = check(
        &app,
        &key,
        "rescue",
        inc(&plus, "status_board.write", false),
    )
    .await;
    assert!(!allowed);
    assert_eq!(reasons[0]["step"], "individual_deny");
    // Org-level individual deny + manage any incident: the deny wins.
    let (path, body) = deny(&owner, "incidents.archive");
    let r = app.post(&path, &key, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (allowed, reasons) = check(
        &app,
        &key,
        "rescue",
        inc(&owner, "task_board.delete_archive", false),
    )
    .await;
    assert!(!allowed, "{reasons}");
    let (allowed, reasons) = check(
        &app,
        &key,
        "rescue",
        json!({"user": owner, "permission": "incidents.archive"}),
    )
    .await;
    assert!(!allowed);
    assert!(
        reasons[0]["message"]
            .as_str()
            .unwrap()
            .contains("no override lifts it")
    );
}

/// Seed 001 item 5: "Permission profile name (required) … description
/// (optional)".
async fn custom_profiles_are_created_by_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("rescue", "permission-profiles");
    let r = app
        .post(
            "/api/v1/orgs/rescue/roles",
            &key,
            json!({"name": "Incident Analyst", "clone_from": "member_plus"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["key"], "incident_analyst");
    assert_eq!(r.body["name"], "Incident Analyst");
    let id = r.body["id"].as_str().unwrap().to_owned();
    // The same name again (any spelling that slugs alike) is a 409 naming it.
    let r = app
        .post(
            "/api/v1/orgs/rescue/roles",
            &key,
            json!({"name": "incident  analyst!", "description": "again"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("incident_analyst"), "{}", r.text);
    assert!(r.text.contains("Incident Analyst"), "{}", r.text);
    assert!(r.text.contains(&id), "{}", r.text);
    // ... unless a key is given.
    let r = app
        .post(
            "/api/v1/orgs/rescue/roles",
            &key,
            json!({"name": "Incident Analyst", "key": "analyst_2", "description": "Night shift"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["key"], "analyst_2");
    assert_eq!(r.body["description"], "Night shift");
    // Accents fold; a name with nothing to derive from needs a key.
    let r = app
        .post(
            "/api/v1/orgs/rescue/roles",
            &key,
            json!({"name": "Équipe réseau"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["key"], "equipe_reseau");
    assert_eq!(r.body["description"], "", "the description is optional");
    let r = app
        .post("/api/v1/orgs/rescue/roles", &key, json!({"name": "運用"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("`key`"), "{}", r.text);
    let r = app
        .post(
            "/api/v1/orgs/rescue/roles",
            &key,
            json!({"description": "no name"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("`name`"), "{}", r.text);
    // The name is a required label: blank is refused.
    let r = app
        .post("/api/v1/orgs/rescue/roles", &key, json!({"name": "   "}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

crate::http_suite!(
    workflow_rules_through_the_check_api,
    individual_denies_and_overrides_through_the_api,
    custom_profiles_are_created_by_name,
);
