//! Hostile input over HTTP, on both backends: oversized multi-valued
//! attributes, look-alike and malformed identifiers (and collisions left by
//! rows written before the comparison key), size limits and short error
//! excerpts, undefined PATCH paths, Bulk paths and media types; and the CLI's
//! audit actor and log colouring.

use std::process::Command;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::app::Reply;
use crate::support::{Backend, TestApp, TestDb};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

struct Dir<'a> {
    app: &'a TestApp,
    base: String,
    token: String,
}

impl Dir<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.app
            .scim(method, &format!("{}{path}", self.base), &self.token, body)
            .await
    }

    async fn create(&self, body: Value) -> Reply {
        self.call(Method::POST, "/Users", Some(body)).await
    }

    async fn user(&self, name: &str) -> String {
        let r = self
            .create(json!({"schemas": [USER], "userName": name}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }

    async fn patch(&self, path: &str, ops: Value) -> Reply {
        self.call(
            Method::PATCH,
            path,
            Some(json!({"schemas": [PATCH], "Operations": ops})),
        )
        .await
    }
}

fn scim_error(r: &Reply, status: u16, scim_type: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", excerpt(&r.text));
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(r.body["scimType"], scim_type, "{}", excerpt(&r.text));
}

fn excerpt(s: &str) -> &str {
    &s[..s.char_indices().nth(400).map_or(s.len(), |(i, _)| i)]
}

fn emails(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"value": format!("person{i}@example.com"), "type": "work"}))
            .collect(),
    )
}

// ------------------------------------------------------------------ item 10

async fn multi_valued_attributes_are_capped_and_cheap(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.org_with_key("acme");
    let (base, token) = app.scim_directory("acme", "okta");
    let d = Dir {
        app: &app,
        base,
        token,
    };
    // 20,000 addresses (~800 KB): refused, quickly, before any per-value work.
    let started = Instant::now();
    let r = d
        .create(json!({"schemas": [USER], "userName": "many", "emails": emails(20_000)}))
        .await;
    let took = started.elapsed();
    scim_error(&r, 400, "invalidValue");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("at most 100 values"),
        "{}",
        r.text
    );
    assert!(r.text.len() < 1000, "the error echoes the input");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // 101 values: refused too; 100 are stored, indexed and filterable.
    let r = d
        .create(json!({"schemas": [USER], "userName": "over", "emails": emails(101)}))
        .await;
    scim_error(&r, 400, "invalidValue");
    let r = d
        .create(json!({"schemas": [USER], "userName": "hundred", "emails": emails(100)}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", excerpt(&r.text));
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 100);
    let r = d
        .call(
            Method::GET,
            "/Users?filter=emails.value%20eq%20%22person99@example.com%22",
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", excerpt(&r.text));
    // Duplicates collapse (ignoring case).
    let mut doubled = emails(50).as_array().unwrap().clone();
    doubled.extend(
        emails(50)
            .as_array()
            .unwrap()
            .iter()
            .map(|e| json!({"value": e["value"].as_str().unwrap().to_uppercase(), "type": "WORK"})),
    );
    let r = d
        .call(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [USER], "userName": "hundred", "emails": doubled})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", excerpt(&r.text));
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 50);
    // A PATCH adding 10,000 addresses: refused quickly, nothing stored.
    let started = Instant::now();
    let r = d
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "add", "path": "emails", "value": emails(10_000)}]),
        )
        .await;
    let took = started.elapsed();
    scim_error(&r, 400, "invalidValue");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // Adding past the cap one value at a time is refused at the cap.
    let r = d
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "add", "path": "emails", "value": emails(100)}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", excerpt(&r.text));
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 100);
    let r = d
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "add", "path": "emails", "value": [{"value": "one.more@example.com"}]}]),
        )
        .await;
    scim_error(&r, 400, "invalidValue");
    let r = d.call(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 100);
    // The limit is advertised.
    let r = d.call(Method::GET, &format!("/Schemas/{USER}"), None).await;
    let attrs = r.body["attributes"].as_array().unwrap();
    let described = |name: &str| {
        attrs
            .iter()
            .find(|a| a["name"] == name)
            .and_then(|a| a["description"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        described("emails").contains("At most 100 values"),
        "{}",
        described("emails")
    );
    assert!(described("displayName").contains("At most 256 characters"));
    // The store writes any number of indexed values, in chunks under
    // SQLite's limit on bound variables (7 a row; 6,000 rows = 42,000).
    let directory = d.base.rsplit('/').next().unwrap().to_owned();
    let values: Vec<rollcall::scim::index::IndexedValue> = (0..6_000)
        .map(|i| rollcall::scim::index::IndexedValue {
            attr: "emails".to_owned(),
            value_type: Some("work".to_owned()),
            value: format!("bulk{i}@example.com"),
            primary: false,
        })
        .collect();
    let stored = app
        .db
        .store()
        .write_blocking(|c| -> Result<i64, rollcall::store::StoreError> {
            let user = rollcall::domain::UserId::from_trusted(id.clone());
            let dir = rollcall::domain::DirectoryId::from_trusted(directory);
            rollcall::store::scim::put_values(c, &user, &dir, &[], &values)?;
            #[derive(diesel::QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            Ok(diesel::sql_query(format!(
                "SELECT count(*) AS n FROM scim_values WHERE resource_id = '{id}' AND value LIKE 'bulk%'"
            ))
            .get_result::<Count>(c)?
            .n)
        })
        .unwrap();
    assert_eq!(stored, 6_000);
}

// ------------------------------------------------------------------ item 11

async fn look_alike_identifiers_collide(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let (base, token) = app.scim_directory("acme", "okta");
    let okta = Dir {
        app: &app,
        base,
        token,
    };
    let (base, token) = app.scim_directory("acme", "entra");
    let entra = Dir {
        app: &app,
        base,
        token,
    };
    let dave = okta.user("dave@acme.com").await;
    // Another directory's look-alikes are the same person: 409.
    for alike in [
        "ｄａｖｅ@acme.com",
        "DAVE@ACME.COM",
        "ｄａｖｅ＠ａｃｍｅ．ｃｏｍ",
    ] {
        let r = entra
            .create(json!({"schemas": [USER], "userName": alike}))
            .await;
        scim_error(&r, 409, "uniqueness");
    }
    // Invisible and bidi-control characters are refused, naming the character.
    for (hostile, code_point) in [
        ("dave@acme.com\u{200B}", "U+200B"),
        ("\u{FEFF}dave@acme.com", "U+FEFF"),
        ("da\u{202E}ve@acme.com", "U+202E"),
    ] {
        let r = entra
            .create(json!({"schemas": [USER], "userName": hostile}))
            .await;
        scim_error(&r, 400, "invalidValue");
        assert!(r.text.contains(code_point), "{}", r.text);
    }
    // Combining sequences compose: é as e + U+0301 is the precomposed é.
    okta.user("josé").await;
    let r = entra
        .create(json!({"schemas": [USER], "userName": "Jose\u{301}"}))
        .await;
    scim_error(&r, 409, "uniqueness");
    // A filter with a look-alike finds the user.
    let r = okta
        .call(
            Method::GET,
            "/Users?filter=userName%20eq%20%22%EF%BD%84%EF%BD%81%EF%BD%96%EF%BD%85@acme.com%22",
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["id"], dave);
    // Emails: a look-alike of a stored address collides, on the admin API too.
    let r = okta
        .create(json!({"schemas": [USER], "userName": "erin", "emails": [{"value": "erin@acme.com", "primary": true}]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .post(
            "/api/v1/orgs/acme/users",
            &key,
            json!({"email": "ＥＲＩＮ@acme.com", "user_name": "erin2"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // Malformed addresses are refused on every path.
    for bad in [
        "a@b.com,c@d.com",
        "<script>@x.com",
        "a@-x.com",
        "a@b",
        "a b@x.com",
    ] {
        let r = entra
            .create(json!({"schemas": [USER], "userName": format!("u-{}", bad.len()), "emails": [{"value": bad}]}))
            .await;
        scim_error(&r, 400, "invalidValue");
        // A secondary address is checked as well as the primary.
        let r = entra
            .create(json!({"schemas": [USER], "userName": "two", "emails": [{"value": "ok@x.com", "primary": true}, {"value": bad}]}))
            .await;
        scim_error(&r, 400, "invalidValue");
        let r = app
            .post("/api/v1/orgs/acme/users", &key, json!({"email": bad}))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "invalid_value");
    }
    let r = app
        .post(
            "/api/v1/orgs/acme/users",
            &key,
            json!({"user_name": "fred\u{2066}", "email": "fred@acme.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

/// Rows written before the comparison key existed: two users of one org whose
/// userNames were distinct under plain lower-casing are one identifier now.
async fn collisions_from_before_the_key_are_audited_and_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let (base, token) = app.scim_directory("acme", "okta");
    let d = Dir {
        app: &app,
        base,
        token,
    };
    let dave = d.user("dave@acme.com").await;
    let twin = d.user("placeholder@acme.com").await;
    let plain = d.user("zoë@acme.com").await;
    // What an older gateway stored: the fullwidth name, lower-cased only,
    // and a decomposed ë whose old key is not the new (composed) one.
    let store = app.db.store();
    store
        .write_blocking(|c| -> Result<(), rollcall::store::StoreError> {
            diesel::sql_query(format!(
                "UPDATE users SET user_name = 'ＤＡＶＥ@acme.com', user_name_lower = 'ｄａｖｅ@acme.com', \
                 scim = replace(scim, 'placeholder@acme.com', 'ＤＡＶＥ@acme.com') WHERE id = '{twin}'"
            ))
            .execute(c)?;
            diesel::sql_query(format!(
                "UPDATE users SET user_name = 'zoe\u{308}@acme.com', user_name_lower = 'zoe\u{308}@acme.com', \
                 scim = replace(scim, 'zoë@acme.com', 'zoe\u{308}@acme.com') WHERE id = '{plain}'"
            ))
            .execute(c)?;
            // Two addresses that differ only by fullwidth letters.
            diesel::sql_query(format!(
                "UPDATE users SET email = 'erin@acme.com', email_lower = 'erin@acme.com' WHERE id = '{plain}'"
            ))
            .execute(c)?;
            diesel::sql_query(format!(
                "UPDATE users SET email = 'ＥＲＩＮ@acme.com', email_lower = 'ｅｒｉｎ@acme.com' WHERE id = '{dave}'"
            ))
            .execute(c)?;
            diesel::sql_query("UPDATE identifier_key_state SET version = 0").execute(c)?;
            Ok(())
        })
        .unwrap();
    // The upgrade step does not fail; it reports the collision.
    store.migrate().expect("migrate with a collision");
    let r = app
        .get(
            "/api/v1/orgs/acme/audit?action=user.identifier_collision",
            &key,
        )
        .await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", r.text);
    let by_field = |f: &str| {
        items
            .iter()
            .find(|e| e["after"]["field"] == f)
            .unwrap_or_else(|| panic!("no {f} collision: {}", r.text))
            .clone()
    };
    let email = by_field("email");
    assert_eq!(email["after"]["comparison_key"], "erin@acme.com");
    let items = [by_field("userName")];
    let ids: Vec<&str> = items[0]["after"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&dave.as_str()) && ids.contains(&twin.as_str()));
    assert_eq!(items[0]["after"]["comparison_key"], "dave@acme.com");
    // A second run finds nothing left to do.
    store.migrate().unwrap();
    let r = app
        .get(
            "/api/v1/orgs/acme/audit?action=user.identifier_collision",
            &key,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    // The non-colliding decomposed name got its new key: found by either spelling.
    let r = d
        .call(
            Method::GET,
            "/Users?filter=userName%20eq%20%22zo%C3%AB@acme.com%22",
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["id"], plain);
    // A write to either colliding user is refused…
    for id in [&dave, &twin] {
        let r = d
            .patch(
                &format!("/Users/{id}"),
                json!([{"op": "replace", "path": "title", "value": "Engineer"}]),
            )
            .await;
        scim_error(&r, 409, "uniqueness");
    }
    let r = app
        .patch(
            &format!("/api/v1/orgs/acme/users/{dave}"),
            &key,
            json!({"display_name": "Dave"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // The email collision holds the other user too (the admin API keeps emails).
    let r = app
        .patch(
            &format!("/api/v1/orgs/acme/users/{plain}"),
            &key,
            json!({"display_name": "Zoë"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("email"), "{}", r.text);
    // …until the twin is renamed; then both write again.
    let r = d
        .patch(
            &format!("/Users/{twin}"),
            json!([{"op": "replace", "path": "userName", "value": "david@acme.com"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = d
        .patch(
            &format!("/Users/{dave}"),
            json!([{"op": "replace", "path": "title", "value": "Engineer"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Dave's SCIM document has no emails, so that write dropped the
    // look-alike address: the email collision is resolved as well.
    let r = app
        .patch(
            &format!("/api/v1/orgs/acme/users/{plain}"),
            &key,
            json!({"display_name": "Zoë"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

// ------------------------------------------------------------------ item 12

async fn sizes_are_limited_and_errors_stay_short(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let (base, token) = app.scim_directory("acme", "okta");
    let d = Dir {
        app: &app,
        base,
        token,
    };
    let long = |n: usize| "x".repeat(n);
    for body in [
        json!({"schemas": [USER], "userName": "a", "displayName": long(257)}),
        json!({"schemas": [USER], "userName": "a", "externalId": long(257)}),
        json!({"schemas": [USER], "userName": "a", "title": long(1025)}),
        json!({"schemas": [USER], "userName": "a", "name": {"givenName": long(1025)}}),
        json!({"schemas": [USER], "userName": long(257)}),
        json!({"schemas": [USER], "userName": "a", "favouriteColours": long(900_000)}),
        json!({"schemas": [USER], "userName": "a", "name": {"nickname2": long(20_000)}}),
    ] {
        let r = d.create(body).await;
        scim_error(&r, 400, "invalidValue");
        assert!(r.text.len() < 1000, "{}", excerpt(&r.text));
    }
    // Within the limits: accepted, unknown attributes kept.
    let r = d
        .create(json!({"schemas": [USER], "userName": "a", "displayName": long(256), "favouriteColour": "teal"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", excerpt(&r.text));
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["favouriteColour"], "teal");
    // A group naming 20,000 unknown members: 400, with a short message.
    let members: Vec<Value> = (0..20_000)
        .map(|i| json!({"value": format!("{i:0>36}")}))
        .collect();
    let r = d
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "G", "members": members})),
        )
        .await;
    scim_error(&r, 400, "invalidValue");
    assert!(r.text.len() < 2000, "{} bytes", r.text.len());
    assert!(r.text.contains("more"), "{}", r.text);
    let r = d
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": long(257)})),
        )
        .await;
    scim_error(&r, 400, "invalidValue");
    // PATCH to a path no schema defines.
    let r = d
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "add", "path": "doesNotExist", "value": "x"}]),
        )
        .await;
    scim_error(&r, 400, "invalidPath");
    let r = d
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "name.doesNotExist", "value": "x"}]),
        )
        .await;
    scim_error(&r, 400, "invalidPath");
    let r = d
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "displayName", "value": long(257)}]),
        )
        .await;
    scim_error(&r, 400, "invalidValue");
    let r = d.call(Method::GET, &format!("/Users/{id}"), None).await;
    assert!(r.body.get("doesNotExist").is_none(), "{}", excerpt(&r.text));
    assert_eq!(r.body["displayName"].as_str().unwrap().len(), 256);
    // An attribute kept from the POST can still be written by path.
    let r = d
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "favouriteColour", "value": "red"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", excerpt(&r.text));
    assert_eq!(r.body["favouriteColour"], "red");
    // Admin API: names, descriptions.
    let r = app
        .post(
            "/api/v1/orgs/acme/users",
            &key,
            json!({"email": "long@acme.com", "display_name": long(257)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", excerpt(&r.text));
    assert!(r.text.len() < 1000);
    let r = app
        .post(
            "/api/v1/orgs/acme/roles",
            &key,
            json!({"key": "wordy", "name": "Wordy", "description": long(1001)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", excerpt(&r.text));
    assert!(r.text.len() < 1000);
    let r = app
        .post(
            "/api/v1/orgs/acme/roles",
            &key,
            json!({"key": "wordy", "name": long(201)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", excerpt(&r.text));
    let r = app
        .post(
            "/api/v1/orgs/acme/roles",
            &key,
            json!({"key": "wordy", "name": "Wordy", "description": long(1000)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", excerpt(&r.text));
    // A body of the wrong JSON type does not come back whole in the error.
    let r = app
        .post(
            "/api/v1/orgs/acme/users",
            &key,
            json!({"workspaces": long(100_000), "email": "w@acme.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.len() < 1000, "{} bytes", r.text.len());
    // The OpenAPI document states the limits.
    let r = app.get("/api/v1/openapi.json", &key).await;
    let create = &r.body["components"]["schemas"]["CreateUser"]["properties"];
    assert_eq!(create["display_name"]["maxLength"], 256, "{create}");
}

// ------------------------------------------------------------------ item 13

async fn protocol_edges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let (base, token) = app.scim_directory("acme", "okta");
    let d = Dir {
        app: &app,
        base,
        token,
    };
    // A wrong or missing Content-Type on the admin API is 415.
    for content_type in [Some("text/plain"), Some("application/xml"), None] {
        let mut req = app
            .client
            .post(format!("{}/api/v1/orgs/acme/users", app.base))
            .bearer_auth(&key)
            .body(json!({"email": "x@acme.com"}).to_string());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let r = crate::support::app::read(req.send().await.unwrap()).await;
        assert_eq!(
            r.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}: {}",
            r.text
        );
        assert_eq!(r.body["error"]["code"], "unsupported_media_type");
    }
    // Bulk paths: only /Users, /Groups and /{type}/{id}.
    let alice = d.user("alice").await;
    let r = d
        .call(
            Method::POST,
            "/Bulk",
            Some(json!({"schemas": [BULK], "Operations": [
                {"method": "POST", "path": "/Users/../../other", "bulkId": "a", "data": {"schemas": [USER], "userName": "sneaky"}},
                {"method": "POST", "path": "/Users/x", "bulkId": "b", "data": {"schemas": [USER], "userName": "sneaky2"}},
                {"method": "PATCH", "path": format!("/Users/{alice}/../{alice}"), "data": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "T"}]}},
                {"method": "DELETE", "path": "/Users/"},
                {"method": "POST", "path": "Users", "bulkId": "c", "data": {"schemas": [USER], "userName": "sneaky3"}},
                {"method": "POST", "path": "/Users", "bulkId": "d", "data": {"schemas": [USER], "userName": "fine"}}
            ]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 6, "{}", r.text);
    for op in &ops[..5] {
        assert_eq!(op["status"], "400", "{op}");
        assert_eq!(op["response"]["scimType"], "invalidPath", "{op}");
    }
    assert_eq!(ops[5]["status"], "201", "{}", r.text);
    let r = d.call(Method::GET, "/Users", None).await;
    assert_eq!(r.body["totalResults"], 2, "{}", r.text);
    let r = d.call(Method::GET, &format!("/Users/{alice}"), None).await;
    assert!(r.body.get("title").is_none());
}

crate::http_suite!(
    multi_valued_attributes_are_capped_and_cheap,
    look_alike_identifiers_collide,
    collisions_from_before_the_key_are_audited_and_refused,
    sizes_are_limited_and_errors_stay_short,
    protocol_edges,
);

// ------------------------------------------------------------------ items 15, 16

fn rollcall(db_url: &str, args: &[&str], level: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(args)
        .current_dir(dir.path())
        .env("DATABASE_URL", db_url)
        .env_remove("ROLLCALL_ENV")
        .env_remove("NO_COLOR")
        .env("ROLLCALL__LOG__LEVEL", level)
        // The account must come from the process, not from the environment.
        .env_remove("USER")
        .env_remove("LOGNAME")
        .output()
        .unwrap()
}

#[test]
fn cli_audit_events_name_the_operating_system_user() {
    let db = TestDb::sqlite();
    let out = rollcall(&db.url, &["org", "create", "acme"], "warn");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = Command::new("id").arg("-un").output().unwrap();
    let expected = String::from_utf8(expected.stdout).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Label {
        #[diesel(sql_type = diesel::sql_types::Text)]
        actor_label: String,
    }
    let labels: Vec<Label> = db
        .store()
        .read_blocking(|c| -> Result<Vec<Label>, rollcall::store::StoreError> {
            Ok(
                diesel::sql_query("SELECT actor_label FROM audit_events WHERE actor_kind = 'cli'")
                    .load::<Label>(c)?,
            )
        })
        .unwrap();
    assert!(!labels.is_empty());
    for l in labels {
        assert_eq!(l.actor_label, format!("cli:{}", expected.trim()));
    }
}

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fresh.db").display());
    let out = rollcall(&url, &["migrate"], "info");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // A fresh database logs the key recomputation at info.
    assert!(stderr.contains("comparison keys"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn the_cli_applies_the_same_identifier_rules() {
    let db = TestDb::sqlite();
    let run = |args: &[&str]| rollcall(&db.url, args, "warn");
    assert!(run(&["org", "create", "acme"]).status.success());
    let out = run(&[
        "user",
        "create",
        "--org",
        "acme",
        "--email",
        "dave@acme.com",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (email, why) in [
        ("ＤＡＶＥ@acme.com", "already exists"),
        ("a@b.com,c@d.com", "not an email address"),
        ("eve\u{200B}@acme.com", "U+200B"),
    ] {
        let out = run(&["user", "create", "--org", "acme", "--email", email]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{email} was accepted");
        assert!(stderr.contains(why), "{email}: {stderr}");
    }
}
