//! The access rules tried as an attacker holding a lesser key would, over
//! HTTP on both backends (issue "4 of 11"): personal keys for others, writes
//! to owners, the default role, bounded overrides, workspace visibility,
//! permission sets attached to oneself, SCIM directory ceilings, owners and
//! SCIM, keys without a role, org enumeration — and a walk of the OpenAPI
//! document that finds every operation's declared permission enforced.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::support::{Backend, TestApp};

fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .or_else(|| body["detail"].as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn personal_keys_and_writes_to_owners(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let boss = app.user(&key, "acme", "boss", "owner").await;
    let adm = app.user(&key, "acme", "adm", "admin").await;
    let plain = app.user(&key, "acme", "plain", "read_only").await;
    let admin_key = app.personal_key("acme", "adm");

    // A personal key for the Owner: refused, naming what the admin lacks.
    let r = app
        .post(
            "/api/v1/orgs/acme/api-keys",
            &admin_key,
            json!({"name": "x", "user": "boss"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(message(&r.body).contains("billing.legacy"), "{}", r.text);
    // For oneself, or for someone holding less, it is fine.
    for who in ["adm", "plain"] {
        let r = app
            .post(
                "/api/v1/orgs/acme/api-keys",
                &admin_key,
                json!({"name": format!("for {who}"), "user": who}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    // An owner's email, userName, status, overrides and keys are the owner's.
    let writes = [
        (
            Method::PATCH,
            format!("/api/v1/orgs/acme/users/{boss}"),
            Some(json!({"email": "evil@example.com"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/orgs/acme/users/{boss}"),
            Some(json!({"user_name": "evil"})),
        ),
        (
            Method::POST,
            format!("/api/v1/orgs/acme/users/{boss}/suspend"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/orgs/acme/users/{boss}/overrides"),
            Some(json!({"permission": "dashboards.view", "effect": "deny"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/orgs/acme/users/{boss}/workspaces"),
            Some(json!({"workspaces": []})),
        ),
    ];
    for (method, path, body) in &writes {
        let r = app
            .request(method.clone(), path, Some(&admin_key), body.clone())
            .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            r.text
        );
    }
    // The admin may still change a user holding less.
    let r = app
        .patch(
            &format!("/api/v1/orgs/acme/users/{plain}"),
            &admin_key,
            json!({"email": "plain2@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The owner's own rights do it: the owner-role key changes the owner.
    let r = app
        .patch(
            &format!("/api/v1/orgs/acme/users/{boss}"),
            &key,
            json!({"email": "boss2@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let _ = adm;
}

async fn the_default_role_is_a_grant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    app.user(&key, "acme", "wsadm", "workspace_admin").await;
    let wa_key = app.personal_key("acme", "wsadm");
    let settings = app.get("/api/v1/orgs/acme/settings", &key).await.body;
    for (who, k) in [("owner key", &key), ("workspace admin", &wa_key)] {
        let mut s = settings.clone();
        s["default_role"] = json!("owner");
        let r = app.put("/api/v1/orgs/acme/settings", k, s).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{who}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "owner_default_role", "{}", r.text);
    }
    // A Workspace Admin (visibility `no`) cannot make everyone an Admin.
    let mut s = settings.clone();
    s["default_role"] = json!("admin");
    let r = app.put("/api/v1/orgs/acme/settings", &wa_key, s).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // The owner key may choose a non-owner default.
    let mut s = settings;
    s["default_role"] = json!("read_only");
    let r = app.put("/api/v1/orgs/acme/settings", &key, s).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn overrides_are_bounded_and_never_on_oneself(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let boss = app.user(&key, "acme", "boss", "owner").await;
    let adm = app.user(&key, "acme", "adm", "admin").await;
    let plain = app.user(&key, "acme", "plain", "read_only").await;
    let admin_key = app.personal_key("acme", "adm");
    let over = |u: &str| format!("/api/v1/orgs/acme/users/{u}/overrides");

    // The last active owner keeps every owner permission.
    for p in [
        "gateway.users.manage",
        "gateway.settings.manage",
        "billing.legacy",
    ] {
        let r = app
            .post(
                &over(&boss),
                &key,
                json!({"permission": p, "effect": "deny"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{p}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "last_owner", "{}", r.text);
    }
    // A deny of what one does not hold is not one's to place.
    let r = app
        .post(
            &over(&plain),
            &admin_key,
            json!({"permission": "billing.legacy", "effect": "deny"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Nobody edits their own overrides.
    let r = app
        .post(
            &over(&adm),
            &admin_key,
            json!({"permission": "dashboards.view", "effect": "allow"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // A deny placed on the admin by the owner stays: the admin cannot lift it.
    let r = app
        .post(
            &over(&adm),
            &key,
            json!({"permission": "gateway.settings.manage", "effect": "deny"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["overrides"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .delete(
            &format!("/api/v1/orgs/acme/users/{adm}/overrides/{id}"),
            &admin_key,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Within its rights the admin bounds others.
    let r = app
        .post(
            &over(&plain),
            &admin_key,
            json!({"permission": "dashboards.edit", "effect": "allow"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

async fn nobody_grants_a_workspace_they_cannot_see(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    for w in ["team-a", "team-b"] {
        let r = app
            .post("/api/v1/orgs/acme/workspaces", &key, json!({"slug": w}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let r = app
        .post(
            "/api/v1/orgs/acme/users",
            &key,
            json!({"user_name": "wa", "role": "workspace_admin", "workspaces": ["team-a"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let wa = r.body["id"].as_str().unwrap().to_owned();
    let plain = app
        .user(&key, "acme", "plain", "restricted_read_only")
        .await;
    let wa_key = app.personal_key("acme", "wa");
    for (who, body) in [
        (&wa, json!({"workspaces": ["team-a", "team-b"]})),
        (&wa, json!({"workspaces": null})),
        (&plain, json!({"workspaces": ["team-b"]})),
        (&plain, json!({"workspaces": ["team-a"], "home": "team-b"})),
    ] {
        let r = app
            .put(
                &format!("/api/v1/orgs/acme/users/{who}/workspaces"),
                &wa_key,
                body.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{body}: {}", r.text);
    }
    let r = app
        .post(
            "/api/v1/orgs/acme/users",
            &wa_key,
            json!({"user_name": "new", "role": "restricted_read_only", "workspaces": ["team-b"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .put(
            &format!("/api/v1/orgs/acme/users/{plain}/workspaces"),
            &wa_key,
            json!({"workspaces": ["team-a"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Group mappings grant to a whole group: the same limit.
    let (base, _) = app.scim_directory("acme", "okta");
    let dir = base.rsplit('/').next().unwrap().to_owned();
    let r = app
        .post(
            "/api/v1/orgs/acme/group-mappings",
            &wa_key,
            json!({"kind": "scim_group", "source": dir, "group": "Eng", "role": "restricted_read_only", "workspaces": ["team-b"], "priority": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}

async fn scim_directories_have_a_ceiling(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    // Created through the API: the ceiling is what the creator may grant, minus owners.
    let r = app
        .post(
            "/api/v1/orgs/acme/scim-directories",
            &key,
            json!({"name": "okta"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let roles: Vec<&str> = r.body["ceiling"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        roles.contains(&"admin") && !roles.contains(&"owner"),
        "{}",
        r.text
    );
    let base = format!("{}{}", app.base, r.body["scim_base_path"].as_str().unwrap());
    let token = r.body["token"].as_str().unwrap().to_owned();
    let dir = r.body["id"].as_str().unwrap().to_owned();

    // A SCIM `roles` value naming the owner role is refused, and audited.
    let r = app
        .scim(
            Method::POST,
            &format!("{base}/Users"),
            &token,
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "mallory@example.com", "roles": [{"value": "owner"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["scimType"], "invalidValue", "{}", r.text);
    assert!(message(&r.body).contains("ceiling"), "{}", r.text);
    // The same through Bulk.
    let r = app
        .scim(
            Method::POST,
            &format!("{base}/Bulk"),
            &token,
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "m", "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "mallory2@example.com", "roles": [{"value": "Owner"}]}}
            ]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["Operations"][0]["status"], "400", "{}", r.text);
    let audit = app
        .get("/api/v1/orgs/acme/audit?action=scim.write_refused", &key)
        .await;
    assert_eq!(
        audit.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        audit.text
    );

    // The ceiling is set through the API (never an owner role).
    let r = app
        .put(
            &format!("/api/v1/orgs/acme/scim-directories/{dir}/ceiling"),
            &key,
            json!({"roles": ["owner"], "workspaces": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app
        .put(
            &format!("/api/v1/orgs/acme/scim-directories/{dir}/ceiling"),
            &key,
            json!({"roles": ["read_only"], "workspaces": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .scim(
            Method::POST,
            &format!("{base}/Users"),
            &token,
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "eve@example.com", "roles": [{"value": "Admin"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // A mapping of the directory beyond its ceiling is refused too.
    let r = app
        .post(
            "/api/v1/orgs/acme/group-mappings",
            &key,
            json!({"kind": "scim_group", "source": dir, "group": "Eng", "role": "admin", "workspaces": [], "priority": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "beyond_ceiling", "{}", r.text);

    // Owners: never adopted, never renamed, their role never changed by SCIM.
    app.user(&key, "acme", "boss", "owner").await;
    let r = app
        .scim(
            Method::POST,
            &format!("{base}/Users"),
            &token,
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "boss", "emails": [{"value": "attacker@example.com", "primary": true}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // A user the directory provisioned, made the last owner by an admin.
    let r = app
        .scim(
            Method::POST,
            &format!("{base}/Users"),
            &token,
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ceo@example.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let ceo = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .put(
            &format!("/api/v1/orgs/acme/users/{ceo}/role"),
            &key,
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let patch_roles = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "roles", "value": [{"value": "read_only"}]}]});
    let r = app
        .scim(
            Method::PATCH,
            &format!("{base}/Users/{ceo}"),
            &token,
            Some(patch_roles.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "userName", "value": "someone.else@example.com"}]});
    let r = app
        .scim(
            Method::PATCH,
            &format!("{base}/Users/{ceo}"),
            &token,
            Some(rename),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // With the other owner suspended, `ceo` is the last owner: 400 mutability.
    let r = app
        .post("/api/v1/orgs/acme/users/boss/suspend", &key, json!(null))
        .await;
    let boss_id = app.get("/api/v1/orgs/acme/users?q=boss", &key).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    if r.status == StatusCode::NOT_FOUND {
        let r = app
            .post(
                &format!("/api/v1/orgs/acme/users/{boss_id}/suspend"),
                &key,
                json!(null),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let r = app
        .scim(
            Method::PATCH,
            &format!("{base}/Users/{ceo}"),
            &token,
            Some(patch_roles),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["scimType"], "mutability", "{}", r.text);
    // Offboarding an owner it provisioned keeps working — but not the last one.
    let r = app
        .scim(Method::DELETE, &format!("{base}/Users/{ceo}"), &token, None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/orgs/acme/users/{boss_id}/reactivate"),
            &key,
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .scim(Method::DELETE, &format!("{base}/Users/{ceo}"), &token, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

async fn keys_without_a_role_and_foreign_orgs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let other = app.org_with_key("other");
    // Through the API a key without a role reads access and nothing else.
    let r = app
        .post(
            "/api/v1/orgs/acme/api-keys",
            &key,
            json!({"name": "product"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["role"], "access_reader");
    let reader = r.body["token"].as_str().unwrap().to_owned();
    app.user(&key, "acme", "ada", "view_manager").await;
    let r = app
        .post(
            "/api/v1/orgs/acme/authz/check",
            &reader,
            json!({"user": "ada", "permission": "dashboards.view"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for (path, body) in [
        (
            "/api/v1/orgs/acme/api-keys",
            Some(json!({"name": "more", "role": "owner"})),
        ),
        ("/api/v1/orgs/acme/users", Some(json!({"user_name": "x"}))),
    ] {
        let r = app.request(Method::POST, path, Some(&reader), body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text);
    }
    // Another org's key sees `acme` exactly as it sees an org that does not exist.
    let a = app.get("/api/v1/orgs/acme/users", &other).await;
    let b = app.get("/api/v1/orgs/nothere/users", &other).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    assert_eq!(b.status, StatusCode::NOT_FOUND);
    assert_eq!(
        message(&a.body).replace("acme", "X"),
        message(&b.body).replace("nothere", "X")
    );
    // A key row that is neither kind cannot be stored.
    let store = app.db.store();
    let refused = store.write_blocking(|c| {
        rollcall::store::api_keys::insert(
            c,
            rollcall::store::api_keys::NewApiKey {
                id: &rollcall::domain::ApiKeyId::from_trusted(uuid::Uuid::now_v7().to_string()),
                org_id: None,
                name: "ghost",
                role_key: None,
                instance_admin: false,
                secret_hash: "x",
                user_id: None,
            },
            rollcall::store::now(),
        )
        .map_err(rollcall::error::AppError::from)
    });
    assert!(
        refused.is_err(),
        "a key that is neither org-bound nor instance-admin was stored"
    );
}

/// Path parameters of the walk, by name (`id` depends on the resource).
struct Fixture {
    org: String,
    user: String,
    key_id: String,
    set: String,
    binding: String,
    override_id: String,
    mapping: String,
    directory: String,
    token: String,
    invite: String,
}

impl Fixture {
    fn param(&self, path: &str, name: &str) -> String {
        match name {
            "org" => self.org.clone(),
            "id" if path.contains("/api-keys/") => self.key_id.clone(),
            "id" => self.user.clone(),
            "workspace" => "ws".into(),
            "user" => self.user.clone(),
            "type" => "task".into(),
            "domain" => "walk.example".into(),
            "role" => "member".into(),
            "list" => "manager".into(),
            "set" => self.set.clone(),
            "binding" => self.binding.clone(),
            "override" => self.override_id.clone(),
            "mapping" => self.mapping.clone(),
            "directory" => self.directory.clone(),
            "token" => self.token.clone(),
            "invite" => self.invite.clone(),
            "job" => "no-such-job".into(),
            "connection" => "no-such-connection".into(),
            other => {
                panic!("the walk has no value for path parameter `{other}` of {path}: add one")
            }
        }
    }
}

/// A value that deserialises as `schema`: every property filled, or only
/// the required ones (`full = false`) where the document does not say
/// enough about an optional one.
fn sample(doc: &Value, schema: &Value, full: bool) -> Value {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap();
        return sample(doc, &doc["components"]["schemas"][name], full);
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let mut out = Map::new();
        for part in parts {
            if let Value::Object(o) = sample(doc, part, full) {
                out.extend(o);
            }
        }
        return Value::Object(out);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(list) = schema.get(key).and_then(Value::as_array) {
            let pick = list
                .iter()
                .find(|s| s.get("type") != Some(&json!("null")))
                .unwrap_or(&list[0]);
            return sample(doc, pick, full);
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        return e[0].clone();
    }
    let ty = match schema.get("type") {
        Some(Value::Array(types)) => types
            .iter()
            .find(|t| *t != "null")
            .cloned()
            .unwrap_or(Value::Null),
        Some(t) => t.clone(),
        None => json!("object"),
    };
    match ty.as_str().unwrap_or("null") {
        "string" => json!("x"),
        "integer" | "number" => json!(1),
        "boolean" => json!(false),
        "array" => json!([]),
        "object" => {
            let mut out = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
                if full || required.contains(&name.as_str()) {
                    out.insert(name.clone(), sample(doc, prop, full));
                }
            }
            Value::Object(out)
        }
        _ => Value::Null,
    }
}

async fn every_operation_declares_and_enforces_its_permission(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_preset("walk", "permission-sets");
    let r = app
        .post("/api/v1/orgs/walk/workspaces", &key, json!({"slug": "ws"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let u = app.user(&key, "walk", "u1", "member").await;
    let r = app
        .post(
            "/api/v1/orgs/walk/permission-sets",
            &key,
            json!({"name": "Log", "application": "crm", "permissions": ["steps.origin.create"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let set = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/api/v1/orgs/walk/users/{u}/overrides"),
            &key,
            json!({"permission": "app.use", "effect": "allow"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let override_id = r.body["overrides"][0]["id"].as_str().unwrap().to_owned();
    let binding = r.body["bindings"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            "/api/v1/orgs/walk/scim-directories",
            &key,
            json!({"name": "okta"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (directory, token) = (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["token_id"].as_str().unwrap().to_owned(),
    );
    let r = app
        .post(
            "/api/v1/orgs/walk/group-mappings",
            &key,
            json!({"kind": "scim_group", "source": directory, "group": "G", "role": "member", "workspaces": [], "priority": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mapping = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            "/api/v1/orgs/walk/api-keys",
            &key,
            json!({"name": "member", "role": "member"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (key_id, member_key) = (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["token"].as_str().unwrap().to_owned(),
    );
    let r = app
        .post(
            "/api/v1/orgs/walk/invites",
            &key,
            json!({"email": "invitee@example.com", "role": "member"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let invite = r.body["id"].as_str().unwrap().to_owned();
    let fx = Fixture {
        invite,
        org: "walk".into(),
        user: u,
        key_id,
        set,
        binding,
        override_id,
        mapping,
        directory,
        token,
    };

    let doc = app.get("/api/v1/openapi.json", &key).await.body;
    let mut walked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            let declared = op["x-rollcall-permission"]
                .as_str()
                .unwrap_or_else(|| panic!("{name} declares no permission (x-rollcall-permission)"));
            let concrete = path
                .split('/')
                .map(
                    |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(p) => fx.param(path, p),
                        None => seg.to_owned(),
                    },
                )
                .collect::<Vec<_>>()
                .join("/");
            let schema = op["requestBody"]["content"]["application/json"]["schema"].clone();
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut r = app
                .request(
                    method.clone(),
                    &concrete,
                    Some(&member_key),
                    schema.is_object().then(|| sample(&doc, &schema, true)),
                )
                .await;
            if r.body["error"]["code"] == "invalid_json" {
                r = app
                    .request(
                        method,
                        &concrete,
                        Some(&member_key),
                        Some(sample(&doc, &schema, false)),
                    )
                    .await;
            }
            walked += 1;
            match declared {
                // Lists only the orgs the key may act in.
                "authenticated" => {
                    assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.text);
                    assert_eq!(
                        r.body.as_array().map(Vec::len),
                        Some(1),
                        "{name}: {}",
                        r.text
                    );
                }
                "instance-admin" => {
                    assert_eq!(r.status, StatusCode::FORBIDDEN, "{name}: {}", r.text)
                }
                // A browser session, not a bearer key.
                "session" => {
                    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {}", r.text)
                }
                perms => {
                    assert_eq!(
                        r.status,
                        StatusCode::FORBIDDEN,
                        "{name} with a key lacking {perms}: {}",
                        r.text
                    );
                    assert!(
                        perms.split(" or ").any(|p| r.text.contains(p)),
                        "{name}: the refusal names none of {perms}: {}",
                        r.text
                    );
                }
            }
        }
    }
    assert!(walked >= 74, "walked only {walked} operations");
}

crate::http_suite!(
    personal_keys_and_writes_to_owners,
    the_default_role_is_a_grant,
    overrides_are_bounded_and_never_on_oneself,
    nobody_grants_a_workspace_they_cannot_see,
    scim_directories_have_a_ceiling,
    keys_without_a_role_and_foreign_orgs,
    every_operation_declares_and_enforces_its_permission,
);
