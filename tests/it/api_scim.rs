//! The SCIM service provider over HTTP, on both backends: authentication and
//! directory isolation, discovery, filters, listing, versioning, Bulk,
//! search, adoption, provisioning effects on roles and access, and errors
//! in the RFC 7644 shape.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Backend, TestApp};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Dir<'a> {
    app: &'a TestApp,
    base: String,
    token: String,
}

impl Dir<'_> {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> crate::support::app::Reply {
        self.app
            .scim(method, &format!("{}{path}", self.base), &self.token, body)
            .await
    }

    async fn user(&self, name: &str, extra: Value) -> String {
        let mut body = json!({"schemas": [USER], "userName": name, "active": true});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let r = self.call(Method::POST, "/Users", Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }

    async fn list(&self, query: &str) -> Value {
        let r = self
            .call(Method::GET, &format!("/Users?{query}"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
        r.body
    }
}

fn scim_error(r: &crate::support::app::Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{}",
        r.text
    );
    assert_eq!(
        r.body["status"],
        json!(status.to_string()),
        "status is a string: {}",
        r.text
    );
    assert_eq!(r.body["scimType"].as_str(), scim_type, "{}", r.text);
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

async fn setup(app: &TestApp) -> (String, Dir<'_>) {
    let key = app.org_with_key("acme");
    let (base, token) = app.scim_directory("acme", "okta");
    (key, Dir { app, base, token })
}

async fn tokens_authenticate_one_directory_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, a) = setup(&app).await;
    let (base_b, token_b) = app.scim_directory("acme", "entra");
    let id = a.user("alice", json!({})).await;
    let r = app
        .scim(Method::GET, &format!("{}/Users", a.base), "", None)
        .await;
    scim_error(&r, 401, None);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = app
        .scim(Method::GET, &format!("{}/Users", a.base), "rs_nope", None)
        .await;
    scim_error(&r, 401, None);
    // B's token on A's base URL, and A's user through B: neither reaches A's data.
    let r = app
        .scim(
            Method::GET,
            &format!("{}/Users/{id}", a.base),
            &token_b,
            None,
        )
        .await;
    scim_error(&r, 401, None);
    let r = app
        .scim(Method::GET, &format!("{base_b}/Users/{id}"), &token_b, None)
        .await;
    scim_error(&r, 404, None);
    let r = app
        .scim(Method::GET, &format!("{base_b}/Users"), &token_b, None)
        .await;
    assert_eq!(r.body["totalResults"], 0);
    // Rotation: a second token works; revoking the first stops it at once.
    let dir_id = a.base.rsplit('/').next().unwrap().to_owned();
    let r = app
        .post(
            &format!("/api/v1/orgs/acme/scim-directories/{dir_id}/tokens"),
            &key,
            json!({"name": "rotated"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let second = r.body["token"].as_str().unwrap().to_owned();
    let r = app
        .get(
            &format!("/api/v1/orgs/acme/scim-directories/{dir_id}/tokens"),
            &key,
        )
        .await;
    let first_id = r.body[0]["id"].as_str().unwrap().to_owned();
    assert!(!r.text.contains(&a.token), "tokens are never listed");
    let r = app
        .delete(
            &format!("/api/v1/orgs/acme/scim-directories/{dir_id}/tokens/{first_id}"),
            &key,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .scim(Method::GET, &format!("{}/Users", a.base), &a.token, None)
        .await;
    scim_error(&r, 401, None);
    let r = app
        .scim(Method::GET, &format!("{}/Users", a.base), &second, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn discovery_documents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, d) = setup(&app).await;
    let r = d.call(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/scim+json")
    );
    assert_eq!(r.body["bulk"]["maxOperations"], 1000);
    assert_eq!(r.body["filter"]["maxResults"], 1000);
    assert_eq!(r.body["etag"]["supported"], true);
    let r = d.call(Method::GET, "/ResourceTypes/User", None).await;
    assert_eq!(r.body["endpoint"], "/Users");
    scim_error(
        &d.call(Method::GET, "/ResourceTypes/Device", None).await,
        404,
        None,
    );
    scim_error(
        &d.call(Method::POST, "/Schemas", Some(json!({}))).await,
        405,
        None,
    );
    scim_error(
        &d.call(Method::DELETE, "/ServiceProviderConfig", None).await,
        405,
        None,
    );
    let r = d
        .call(Method::GET, &format!("/Schemas/{ENTERPRISE}"), None)
        .await;
    assert_eq!(r.body["id"], ENTERPRISE);
    // The rollcall extension is offered only where the IdP manages roles.
    let ids = |v: &Value| {
        v["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let r = d.call(Method::GET, "/Schemas", None).await;
    assert!(!ids(&r.body).iter().any(|i| i.contains("rollcall")));
    let mut settings = app.get("/api/v1/orgs/acme/settings", &key).await.body;
    settings["roles_managed_by"] = json!("idp");
    app.put("/api/v1/orgs/acme/settings", &key, settings).await;
    app.post(
        "/api/v1/orgs/acme/workspaces",
        &key,
        json!({"slug": "main"}),
    )
    .await;
    let r = d
        .call(
            Method::GET,
            "/Schemas/urn:ietf:params:scim:schemas:extension:rollcall:2.0:User",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let role = r.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "role")
        .unwrap();
    assert!(
        role["canonicalValues"]
            .as_array()
            .unwrap()
            .contains(&json!("view_manager"))
    );
    let ws = r.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "workspaces")
        .unwrap();
    assert_eq!(ws["canonicalValues"], json!(["main"]));
}

async fn filters_translate_to_sql_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, d) = setup(&app).await;
    d.user("Ann.Lee@example.com", json!({
        "externalId": "E-1",
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "displayName": "Ann Lee",
        "title": "Engineer",
        "emails": [{"value": "ann@example.com", "type": "work", "primary": true}, {"value": "ann@home.io", "type": "home"}],
        ENTERPRISE: {"employeeNumber": "701", "department": "R&D"}
    }))
    .await;
    d.user(
        "bob@example.com",
        json!({
            "externalId": "e-2",
            "displayName": "Bob",
            "emails": [{"value": "bob@other.org", "type": "work"}],
            "active": false
        }),
    )
    .await;
    d.user(
        "carol@example.com",
        json!({"externalId": "E-3", "emails": [{"value": "carol@example.com", "type": "home"}]}),
    )
    .await;
    let names = |v: &Value| {
        let mut n: Vec<String> = v["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    let q = |f: &str| format!("filter={}", urlencode(f));
    let cases: &[(&str, &[&str])] = &[
        (
            r#"userName eq "ANN.LEE@EXAMPLE.COM""#,
            &["Ann.Lee@example.com"],
        ),
        (r#"externalId eq "e-1""#, &[]),
        (r#"externalId eq "E-1""#, &["Ann.Lee@example.com"]),
        ("externalId eq e-2", &["bob@example.com"]),
        (r#"userName sw "b""#, &["bob@example.com"]),
        (
            r#"userName ew "example.com" and not (userName sw "a")"#,
            &["bob@example.com", "carol@example.com"],
        ),
        (r#"emails co "home""#, &["Ann.Lee@example.com"]),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            &["Ann.Lee@example.com"],
        ),
        (
            r#"emails[type eq "home"]"#,
            &["Ann.Lee@example.com", "carol@example.com"],
        ),
        (r#"emails.value eq "BOB@OTHER.ORG""#, &["bob@example.com"]),
        (r#"emails.primary eq true"#, &["Ann.Lee@example.com"]),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701""#,
            &["Ann.Lee@example.com"],
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "carol@example.com""#,
            &["carol@example.com"],
        ),
        (r#"title pr"#, &["Ann.Lee@example.com"]),
        (
            r#"name.familyName eq "lee" or displayName eq "BOB""#,
            &["Ann.Lee@example.com", "bob@example.com"],
        ),
        (r#"active eq false"#, &["bob@example.com"]),
        (
            r#"not (active eq false)"#,
            &["Ann.Lee@example.com", "carol@example.com"],
        ),
        (
            r#"displayName ne "Bob""#,
            &["Ann.Lee@example.com", "carol@example.com"],
        ),
        (
            r#"externalId gt "E-2""#,
            &["carol@example.com", "bob@example.com"],
        ),
        (
            r#"meta.created gt "2000-01-01T00:00:00Z""#,
            &[
                "Ann.Lee@example.com",
                "bob@example.com",
                "carol@example.com",
            ],
        ),
    ];
    for (filter, want) in cases {
        let got = names(&d.list(&q(filter)).await);
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "filter {filter}");
    }
    // Bad filters and filters the store cannot answer are errors, never empty lists.
    for bad in [
        r#"userName eq"#,
        r#"userName zz "x""#,
        r#"addresses[locality eq "Oslo"]"#,
        r#"emails.display eq "x""#,
        r#"nosuch eq "x""#,
        r#"active gt true"#,
        &format!("{}userName eq \"x\"{}", "(".repeat(40), ")".repeat(40)),
    ] {
        let r = d
            .call(Method::GET, &format!("/Users?{}", q(bad)), None)
            .await;
        scim_error(&r, 400, Some("invalidFilter"));
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn listing_pages_sorts_and_projects(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("scim.max_page_size", json!(4)),
            ("scim.default_page_size", json!(3)),
        ],
    )
    .await;
    let (_, d) = setup(&app).await;
    for n in ["delta", "alpha", "echo", "bravo", "charlie", "foxtrot"] {
        d.user(n, json!({"name": {"givenName": n.to_uppercase()}}))
            .await;
    }
    let b = d.list("").await;
    assert_eq!(b["totalResults"], 6);
    assert_eq!(b["itemsPerPage"], 3, "default page size");
    let b = d.list("count=100").await;
    assert_eq!(
        b["Resources"].as_array().unwrap().len(),
        4,
        "max page size enforced"
    );
    let b = d.list("count=0").await;
    assert_eq!(b["totalResults"], 6);
    assert_eq!(b["Resources"], json!([]));
    let b = d
        .list("sortBy=userName&sortOrder=descending&startIndex=2&count=2")
        .await;
    let names: Vec<&str> = b["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["echo", "delta"]);
    assert_eq!(b["startIndex"], 2);
    assert_eq!(b["totalResults"], 6);
    let b = d.list("attributes=userName&count=1").await;
    let first = &b["Resources"][0];
    assert!(
        first.get("name").is_none() && first.get("id").is_some() && first.get("userName").is_some(),
        "{first}"
    );
    let b = d.list("excludedAttributes=name&count=1").await;
    assert!(b["Resources"][0].get("name").is_none());
    let r = d.call(Method::GET, "/Users?sortBy=addresses", None).await;
    scim_error(&r, 400, Some("invalidValue"));
    let r = d.call(Method::GET, "/Users?startIndex=x", None).await;
    scim_error(&r, 400, Some("invalidValue"));
    // Groups: excludedAttributes=members leaves the member list out.
    let alpha = d
        .list(&format!("filter={}", urlencode(r#"userName eq "alpha""#)))
        .await["Resources"][0]["id"]
        .clone();
    let r = d
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Ops", "members": [{"value": alpha}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = d
        .call(Method::GET, "/Groups?excludedAttributes=members", None)
        .await;
    assert!(
        r.body["Resources"][0].get("members").is_none(),
        "{}",
        r.text
    );
    let r = d.call(Method::GET, "/Groups", None).await;
    assert_eq!(r.body["Resources"][0]["members"][0]["value"], alpha);
    // Searches.
    let r = d
        .call(Method::POST, "/Users/.search", Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName sw \"b\"", "attributes": ["userName"]})))
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    let r = d
        .call(Method::POST, "/.search", Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "displayName eq \"ops\""})))
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["displayName"], "Ops");
}

async fn etags_and_preconditions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, d) = setup(&app).await;
    let id = d.user("etag", json!({})).await;
    let r = d.call(Method::GET, &format!("/Users/{id}"), None).await;
    let etag = r.header("etag").unwrap().to_owned();
    assert_eq!(etag, "W/\"1\"");
    assert_eq!(r.body["meta"]["version"], etag);
    assert_eq!(
        r.header("location").unwrap(),
        r.body["meta"]["location"].as_str().unwrap()
    );
    let cond = |header: &'static str, value: &str| {
        app.client
            .get(format!("{}/Users/{id}", d.base))
            .bearer_auth(&d.token)
            .header(header, value.to_owned())
    };
    let r = cond("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let patch = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "E"}]});
    let r = crate::support::app::read(
        app.client
            .patch(format!("{}/Users/{id}", d.base))
            .bearer_auth(&d.token)
            .header("if-match", "W/\"7\"")
            .header("content-type", "application/scim+json")
            .body(patch.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    scim_error(&r, 412, None);
    let r = crate::support::app::read(
        app.client
            .patch(format!("{}/Users/{id}", d.base))
            .bearer_auth(&d.token)
            .header("if-match", etag.clone())
            .header("content-type", "application/json")
            .body(patch.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    let r = cond("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "an old ETag no longer matches");
}

async fn bulk_with_references_and_limits(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("scim.bulk_max_operations", json!(5)),
            ("scim.bulk_max_payload_bytes", json!(4096)),
        ],
    )
    .await;
    let (_, d) = setup(&app).await;
    let bulk = |ops: Value, fail: Option<u64>| {
        let mut b = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops});
        if let Some(f) = fail {
            b["failOnErrors"] = json!(f);
        }
        b
    };
    // The group refers to a user created later in the same request.
    let r = d
        .call(Method::POST, "/Bulk", Some(bulk(json!([
            {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {"schemas": [GROUP], "displayName": "Bulk", "members": [{"value": "bulkId:u1"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"schemas": [USER], "userName": "bulk1"}},
            {"method": "PATCH", "path": "/Users/bulkId:u1", "data": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "T"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"schemas": [USER], "userName": "BULK1"}}
        ]), None)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 4);
    assert_eq!(ops[0]["status"], "201");
    assert_eq!(ops[1]["status"], "201");
    assert_eq!(ops[2]["status"], "200");
    assert_eq!(ops[3]["status"], "409");
    assert_eq!(ops[3]["response"]["scimType"], "uniqueness");
    let group = d
        .call(
            Method::GET,
            ops[0]["location"]
                .as_str()
                .unwrap()
                .rsplit_once("/scim/v2/")
                .map(|(_, p)| p.split_once('/').unwrap().1)
                .map(|p| format!("/{p}"))
                .unwrap()
                .as_str(),
            None,
        )
        .await;
    assert_eq!(
        group.body["members"].as_array().unwrap().len(),
        1,
        "{}",
        group.text
    );
    // failOnErrors stops the run.
    let r = d
        .call(Method::POST, "/Bulk", Some(bulk(json!([
            {"method": "DELETE", "path": "/Users/nope"},
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"schemas": [USER], "userName": "never"}}
        ]), Some(1))))
        .await;
    assert_eq!(
        r.body["Operations"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
    assert_eq!(
        d.list(&format!("filter={}", urlencode(r#"userName eq "never""#)))
            .await["totalResults"],
        0
    );
    // Limits: 413 beyond maxOperations and maxPayloadSize.
    let many: Vec<Value> = (0..6)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    scim_error(
        &d.call(Method::POST, "/Bulk", Some(bulk(json!(many), None)))
            .await,
        413,
        None,
    );
    let big = json!([{"method": "POST", "path": "/Users", "bulkId": "b", "data": {"schemas": [USER], "userName": "x".repeat(5000)}}]);
    scim_error(
        &d.call(Method::POST, "/Bulk", Some(bulk(big, None))).await,
        413,
        None,
    );
}

async fn one_person_one_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, d) = setup(&app).await;
    // A user the admin created is adopted by SCIM, not duplicated.
    let r = app
        .post(
            "/api/v1/orgs/acme/users",
            &key,
            json!({"email": "dana@example.com", "role": "data_manager"}),
        )
        .await;
    let admin_id = r.body["id"].as_str().unwrap().to_owned();
    let r = d
        .call(Method::POST, "/Users", Some(json!({"schemas": [USER], "userName": "Dana", "emails": [{"value": "DANA@example.com", "primary": true}]})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["id"], admin_id);
    let r = app
        .get(&format!("/api/v1/orgs/acme/users/{admin_id}"), &key)
        .await;
    assert_eq!(
        r.body["directory_id"].as_str().unwrap(),
        d.base.rsplit('/').next().unwrap()
    );
    let r = app
        .get(&format!("/api/v1/orgs/acme/users/{admin_id}/access"), &key)
        .await;
    assert_eq!(
        r.body["bindings"][0]["role"], "data_manager",
        "an admin-set role survives adoption: {}",
        r.text
    );
    // Another directory cannot take it over.
    let (base_b, token_b) = app.scim_directory("acme", "second");
    let r = app
        .scim(
            Method::POST,
            &format!("{base_b}/Users"),
            &token_b,
            Some(json!({"schemas": [USER], "userName": "dana@example.com"})),
        )
        .await;
    scim_error(&r, 409, Some("uniqueness"));
    // externalId is unique per directory; deprovisioned users free their names.
    let id = d.user("erin", json!({"externalId": "X1"})).await;
    let r = d
        .call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "frank", "externalId": "X1"})),
        )
        .await;
    scim_error(&r, 409, Some("uniqueness"));
    let r = app
        .scim(
            Method::POST,
            &format!("{base_b}/Users"),
            &token_b,
            Some(json!({"schemas": [USER], "userName": "frank", "externalId": "X1"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "another directory may reuse the externalId: {}",
        r.text
    );
    assert_eq!(
        d.call(Method::DELETE, &format!("/Users/{id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    scim_error(
        &d.call(Method::GET, &format!("/Users/{id}"), None).await,
        404,
        None,
    );
    scim_error(
        &d.call(Method::DELETE, &format!("/Users/{id}"), None).await,
        404,
        None,
    );
    let again = d.user("ERIN", json!({"externalId": "X1"})).await;
    assert_ne!(again, id);
    let r = app
        .get(&format!("/api/v1/orgs/acme/audit?target={id}"), &key)
        .await;
    assert!(
        r.text.contains("user.deprovisioned"),
        "the audit trail stays"
    );
}

async fn provisioning_effects_on_access(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, d) = setup(&app).await;
    app.post("/api/v1/orgs/acme/workspaces", &key, json!({"slug": "eng"}))
        .await;
    let dir_id = d.base.rsplit('/').next().unwrap().to_owned();
    let r = app
        .post("/api/v1/orgs/acme/group-mappings", &key, json!({"kind": "scim_group", "source": dir_id, "group": "Engineering", "role": "data_manager", "workspaces": ["eng"], "priority": 5}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Created without a group: the org default role.
    let u = d.user("gina@example.com", json!({})).await;
    let access = || async {
        app.get(&format!("/api/v1/orgs/acme/users/{u}/access"), &key)
            .await
            .body
    };
    let a = access().await;
    assert_eq!(a["bindings"][0]["role"], "view_manager");
    assert_eq!(a["bindings"][0]["source"], "default");
    // Joining the mapped group gives the mapped role and workspaces.
    let r = d
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "engineering"})),
        )
        .await;
    let g = r.body["id"].as_str().unwrap().to_owned();
    let r = d
        .call(Method::PATCH, &format!("/Groups/{g}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": u}]}]})))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let a = access().await;
    assert_eq!(a["bindings"][0]["role"], "data_manager", "{a}");
    assert_eq!(a["bindings"][0]["source"], "scim_group");
    assert_eq!(a["workspaces"]["visible"], json!(["eng"]));
    // Leaving it gives the default back.
    let r = d
        .call(Method::PATCH, &format!("/Groups/{g}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": format!("members[value eq \"{u}\"]")}]})))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(access().await["bindings"][0]["role"], "view_manager");
    // Entra app roles map by role name.
    let h = d
        .user(
            "hal@example.com",
            json!({"roles": [{"value": "Data Manager", "primary": true}]}),
        )
        .await;
    let r = app
        .get(&format!("/api/v1/orgs/acme/users/{h}/access"), &key)
        .await;
    assert_eq!(r.body["bindings"][0]["role"], "data_manager");
    assert_eq!(r.body["bindings"][0]["source"], "scim_roles");
    // active=false suspends: every check denies, with the status as reason.
    let r = d
        .call(Method::PATCH, &format!("/Users/{u}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})))
        .await;
    assert_eq!(r.body["active"], false, "{}", r.text);
    let c = app
        .post(
            "/api/v1/orgs/acme/authz/check",
            &key,
            json!({"user": u, "permission": "org.contributors.edit"}),
        )
        .await;
    assert_eq!(c.body["allowed"], false);
    assert_eq!(c.body["reasons"][0]["step"], "status");
    // The last active owner can be neither deactivated nor deleted by SCIM.
    let owner = d.user("olga@example.com", json!({})).await;
    app.put(
        &format!("/api/v1/orgs/acme/users/{owner}/role"),
        &key,
        json!({"role": "owner"}),
    )
    .await;
    let r = d
        .call(Method::PATCH, &format!("/Users/{owner}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]})))
        .await;
    scim_error(&r, 400, Some("mutability"));
    scim_error(
        &d.call(Method::DELETE, &format!("/Users/{owner}"), None)
            .await,
        400,
        Some("mutability"),
    );
    // Every change is audited with the directory as actor.
    let r = app
        .get(&format!("/api/v1/orgs/acme/audit?actor={dir_id}"), &key)
        .await;
    let actions: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "user.created",
        "group.created",
        "group.members_changed",
        "user.role_changed",
        "user.suspended",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

async fn client_mistakes_get_rfc_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, d) = setup(&app).await;
    let id = d.user("ivy", json!({"password": "s3cret!"})).await;
    let r = d.call(Method::GET, &format!("/Users/{id}"), None).await;
    assert!(
        !r.text.contains("s3cret") && r.body.get("password").is_none(),
        "password never returned"
    );
    let raw = |ct: &'static str, body: &'static str| {
        let app = &app;
        let url = format!("{}/Users", d.base);
        let token = d.token.clone();
        async move {
            crate::support::app::read(
                app.client
                    .post(url)
                    .bearer_auth(token)
                    .header("content-type", ct)
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    scim_error(
        &raw("application/scim+json", "{\"userName\": ").await,
        400,
        Some("invalidSyntax"),
    );
    assert_eq!(
        raw("text/plain", "{}").await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    scim_error(
        &d.call(
            Method::POST,
            "/Users",
            Some(json!({"not": "a scim resource"})),
        )
        .await,
        400,
        Some("invalidSyntax"),
    );
    scim_error(
        &d.call(Method::POST, "/Users", Some(json!({"schemas": [USER]})))
            .await,
        400,
        Some("invalidValue"),
    );
    scim_error(
        &d.call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": 42})),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    scim_error(
        &d.call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "IVY"})),
        )
        .await,
        409,
        Some("uniqueness"),
    );
    scim_error(
        &d.call(Method::GET, "/Users/nonexistent-id-000000", None)
            .await,
        404,
        None,
    );
    scim_error(
        &d.call(Method::PUT, "/Users", Some(json!({}))).await,
        405,
        None,
    );
    let patch = |ops: Value| json!({"schemas": [PATCH], "Operations": ops});
    scim_error(
        &d.call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "replace", "path": "id", "value": "x"}]),
            )),
        )
        .await,
        400,
        Some("mutability"),
    );
    scim_error(
        &d.call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(json!([{"op": "remove"}]))),
        )
        .await,
        400,
        Some("noTarget"),
    );
    scim_error(
        &d.call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(json!([{"op": "jump", "path": "title"}]))),
        )
        .await,
        400,
        Some("invalidSyntax"),
    );
    scim_error(
        &d.call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"Operations": []})),
        )
        .await,
        400,
        Some("invalidSyntax"),
    );
    let g = d
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "G"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    scim_error(
        &d.call(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "g"})),
        )
        .await,
        409,
        Some("uniqueness"),
    );
    let r = d
        .call(
            Method::PATCH,
            &format!("/Groups/{g}"),
            Some(patch(
                json!([{"op": "add", "path": "members", "value": [{"value": "fake-member-id"}]}]),
            )),
        )
        .await;
    scim_error(&r, 400, Some("invalidValue"));
    assert!(r.text.contains("fake-member-id"));
    scim_error(
        &d.call(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "H", "members": [{"value": "ghost"}]})),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    assert_eq!(
        d.list("filter=userName%20eq%20%22ivy%22").await["totalResults"],
        1,
        "nothing half-written"
    );
}

async fn group_membership_is_rows_not_a_rebuilt_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, d) = setup(&app).await;
    let mut ids = Vec::new();
    for i in 0..120 {
        ids.push(d.user(&format!("m{i:03}"), json!({})).await);
    }
    let g = d
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Big"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let add = |list: &[String]| json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": list.iter().map(|v| json!({"value": v})).collect::<Vec<_>>()}]});
    let r = d
        .call(
            Method::PATCH,
            &format!("/Groups/{g}"),
            Some(add(&ids[..100])),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(r.text.is_empty(), "the member list is not returned");
    // Idempotent: adding again changes nothing; removing an absent member is fine.
    let r = d
        .call(
            Method::PATCH,
            &format!("/Groups/{g}"),
            Some(add(&ids[90..120])),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = d
        .call(Method::PATCH, &format!("/Groups/{g}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members", "value": [{"value": ids[0]}, {"value": ids[0]}]}]})))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = d.call(Method::GET, &format!("/Groups/{g}"), None).await;
    assert_eq!(r.body["members"].as_array().unwrap().len(), 119);
    let r = d
        .call(
            Method::GET,
            &format!("/Users?filter={}", urlencode(&format!("groups eq \"{g}\""))),
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 119, "{}", r.text.len());
    // PUT with members replaces them (Okta custom apps).
    let r = d
        .call(
            Method::PUT,
            &format!("/Groups/{g}"),
            Some(json!({"schemas": [GROUP], "displayName": "Big", "members": [{"value": ids[5]}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    // A user's groups show on the user.
    let r = d
        .call(Method::GET, &format!("/Users/{}", ids[5]), None)
        .await;
    assert_eq!(r.body["groups"][0]["value"], g);
    assert_eq!(r.body["groups"][0]["display"], "Big");
}

async fn a_directory_over_its_rate_gets_429(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("scim.rate_limit_per_second", json!(1)),
            ("scim.rate_limit_burst", json!(3)),
        ],
    )
    .await;
    let (_, d) = setup(&app).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = d.call(Method::GET, "/Users", None).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
            scim_error(&r, 429, None);
        }
        statuses.push(r.status.as_u16());
    }
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert!(statuses.contains(&429), "{statuses:?}");
}

async fn idp_managed_roles_through_the_extension(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, d) = setup(&app).await;
    app.post(
        "/api/v1/orgs/acme/workspaces",
        &key,
        json!({"slug": "alpha"}),
    )
    .await;
    const EXT: &str = "urn:ietf:params:scim:schemas:extension:rollcall:2.0:User";
    // In admin mode the extension is ignored in a POST and refused in a PATCH.
    let u = d.user("kim", json!({EXT: {"role": "admin"}})).await;
    let r = app
        .get(&format!("/api/v1/orgs/acme/users/{u}/access"), &key)
        .await;
    assert_eq!(r.body["bindings"][0]["role"], "view_manager");
    let r = d
        .call(Method::PATCH, &format!("/Users/{u}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": format!("{EXT}:role"), "value": "admin"}]})))
        .await;
    scim_error(&r, 400, Some("mutability"));
    let mut settings = app.get("/api/v1/orgs/acme/settings", &key).await.body;
    settings["roles_managed_by"] = json!("idp");
    app.put("/api/v1/orgs/acme/settings", &key, settings).await;
    let r = d
        .call(Method::PATCH, &format!("/Users/{u}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": EXT, "value": {"role": "data_manager", "workspaces": ["alpha"]}}]})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body[EXT]["role"], "data_manager");
    assert_eq!(r.body[EXT]["workspaces"], json!(["alpha"]));
    let r = app
        .get(&format!("/api/v1/orgs/acme/users/{u}/access"), &key)
        .await;
    assert_eq!(r.body["bindings"][0]["role"], "data_manager");
    assert_eq!(r.body["workspaces"]["visible"], json!(["alpha"]));
    let r = d
        .call(Method::PATCH, &format!("/Users/{u}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": format!("{EXT}:role"), "value": "emperor"}]})))
        .await;
    scim_error(&r, 400, Some("invalidValue"));
}

crate::http_suite!(
    tokens_authenticate_one_directory_only,
    discovery_documents,
    filters_translate_to_sql_exactly,
    listing_pages_sorts_and_projects,
    etags_and_preconditions,
    bulk_with_references_and_limits,
    one_person_one_user,
    provisioning_effects_on_access,
    client_mistakes_get_rfc_errors,
    group_membership_is_rows_not_a_rebuilt_list,
    a_directory_over_its_rate_gets_429,
    idp_managed_roles_through_the_extension,
);
