//! SCIM listing on both backends: Microsoft Entra ID's value path followed by
//! a sub-attribute comparison, case-exact and Unicode-folded matching, the
//! root `/.search` paged over Users then Groups, the folded-name backfill,
//! and a differential property test — the SQL answer of each backend against
//! the in-memory `scim::filter::matches`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, TestDb};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

pub(crate) struct Dir<'a> {
    pub app: &'a TestApp,
    pub base: String,
    pub token: String,
}

impl Dir<'_> {
    pub async fn open(app: &TestApp) -> Dir<'_> {
        app.org_with_key("acme");
        let (base, token) = app.scim_directory("acme", "entra");
        Dir { app, base, token }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> crate::support::app::Reply {
        self.app
            .scim(method, &format!("{}{path}", self.base), &self.token, body)
            .await
    }

    pub async fn user(&self, name: &str, extra: Value) -> String {
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

    async fn group(&self, name: &str) -> String {
        let body = json!({"schemas": [GROUP], "displayName": name});
        let r = self.call(Method::POST, "/Groups", Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// userNames matching `filter` (GET /Users), sorted.
    async fn names(&self, filter: &str) -> Vec<String> {
        let r = self
            .call(
                Method::GET,
                &format!("/Users?count=1000&filter={}", urlencode(filter)),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.text);
        user_names(&r.body)
    }
}

fn user_names(body: &Value) -> Vec<String> {
    let mut n: Vec<String> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect();
    n.sort();
    n
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

async fn entra_work_email_filter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let d = Dir::open(&app).await;
    d.user(
        "ada.lovelace",
        json!({"emails": [{"value": "ada@example.com", "type": "work", "primary": true}]}),
    )
    .await;
    // Bob's *home* address is Ada's work address: not a match for "work".
    d.user(
        "bob",
        json!({"emails": [
            {"value": "bob@example.com", "type": "work", "primary": true},
            {"value": "ada@example.com", "type": "home"}
        ]}),
    )
    .await;
    d.user(
        "carol",
        json!({"emails": [{"value": "carol@example.com", "type": "work"}]}),
    )
    .await;
    // Exactly as Entra sends it (Microsoft's "Develop and plan provisioning
    // for a SCIM endpoint"), percent-encoded in the query string.
    let entra = r#"emails[type eq "work"].value eq "ada@example.com""#;
    let r = d
        .call(
            Method::GET,
            "/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22ada%40example.com%22",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["userName"], "ada.lovelace");
    assert_eq!(d.names(entra).await, strs(&["ada.lovelace"]));
    assert_eq!(
        d.names(r#"emails[type eq "Work"].value eq "ADA@EXAMPLE.COM""#)
            .await,
        strs(&["ada.lovelace"]),
        "type and value are caseExact false"
    );
    assert_eq!(
        d.names(r#"emails[type eq "home"].value eq "ada@example.com""#)
            .await,
        strs(&["bob"])
    );
    assert_eq!(
        d.names(r#"emails[type eq "work"].value ew "@example.com" and not (userName eq "bob")"#)
            .await,
        strs(&["ada.lovelace", "carol"])
    );
    assert_eq!(
        d.names(r#"emails[type eq "home"].value pr"#).await,
        strs(&["bob"])
    );
    // The same filter through both searches.
    for path in ["/Users/.search", "/.search"] {
        let r = d
            .call(
                Method::POST,
                path,
                Some(json!({"schemas": [SEARCH], "filter": entra})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert_eq!(user_names(&r.body), strs(&["ada.lovelace"]), "{path}");
        assert_eq!(r.body["totalResults"], 1, "{path}: {}", r.text);
    }
    // What may follow `]` is one sub-attribute and a comparison.
    for bad in [
        r#"emails[type eq "work"].value"#,
        r#"emails[type eq "work"].value.x eq "y""#,
        r#"emails[type eq "work"].display eq "y""#,
    ] {
        let r = d
            .call(
                Method::GET,
                &format!("/Users?filter={}", urlencode(bad)),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert_eq!(r.body["scimType"], "invalidFilter", "{bad}: {}", r.text);
    }
}

async fn case_exact_and_unicode_folding(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let d = Dir::open(&app).await;
    let u1 = d
        .user(
            "u1",
            json!({
                "externalId": "AbC-1",
                "displayName": "Émile Zola",
                "name": {"givenName": "ÉMILE", "familyName": "Straße"},
                "title": "Ärztin"
            }),
        )
        .await;
    d.user(
        "u2",
        json!({"externalId": "abc-2", "displayName": "émile z", "title": "arzt"}),
    )
    .await;
    d.user(
        "u3",
        json!({"externalId": "x*y?[z]%_", "displayName": "ΣΟΦΙΑ"}),
    )
    .await;
    let cases: &[(&str, &[&str])] = &[
        // caseExact: case matters for every operator, on both backends.
        (r#"externalId sw "AbC""#, &["u1"]),
        (r#"externalId sw "abc""#, &["u2"]),
        (r#"externalId co "bC""#, &["u1"]),
        (r#"externalId co "BC""#, &[]),
        (r#"externalId co "bc""#, &["u2"]),
        (r#"externalId ew "C-1""#, &["u1"]),
        (r#"externalId ew "c-1""#, &[]),
        (r#"externalId eq "abc-1""#, &[]),
        (r#"externalId gt "Z""#, &["u2", "u3"]),
        // Wildcards of LIKE and GLOB are literal.
        (r#"externalId co "*y?[""#, &["u3"]),
        (r#"externalId sw "x*""#, &["u3"]),
        (r#"externalId ew "%_""#, &["u3"]),
        (r#"externalId co "%""#, &["u3"]),
        (r#"externalId co "?""#, &["u3"]),
        (r#"externalId sw "*""#, &[]),
        // One Unicode folding, stored and applied to the value.
        (r#"displayName eq "Émile Zola""#, &["u1"]),
        (r#"displayName eq "ÉMILE ZOLA""#, &["u1"]),
        (r#"displayName sw "émile""#, &["u1", "u2"]),
        (r#"displayName co "σοφ""#, &["u3"]),
        (r#"name.givenName eq "émile""#, &["u1"]),
        (r#"name.familyName ew "SSE""#, &[]),
        (r#"name.familyName ew "ße""#, &["u1"]),
        (r#"title eq "ÄRZTIN""#, &["u1"]),
        (r#"title sw "Ä""#, &["u1"]),
        (r#"displayName gt "émile a""#, &["u1", "u2", "u3"]),
    ];
    for (filter, want) in cases {
        assert_eq!(d.names(filter).await, strs(want), "filter {filter}");
    }
    // `id` is caseExact too.
    let upper = u1.to_uppercase();
    assert_ne!(upper, u1);
    assert_eq!(d.names(&format!(r#"id eq "{upper}""#)).await, strs(&[]));
    assert_eq!(d.names(&format!(r#"id eq "{u1}""#)).await, strs(&["u1"]));
    // The last characters differ between ids (the first ones are a time).
    let head: String = u1.chars().take(u1.len() - 1).collect();
    assert_eq!(d.names(&format!(r#"id sw "{head}""#)).await, strs(&["u1"]));
    assert_eq!(
        d.names(&format!(r#"id sw "{}""#, head.to_uppercase()))
            .await,
        strs(&[])
    );
    // Sorting by a folded name agrees on both backends; unassigned values
    // sort as the greatest.
    d.user("u4", json!({})).await;
    for (query, want) in [
        ("sortBy=displayName", ["u2", "u1", "u3", "u4"]),
        (
            "sortBy=displayName&sortOrder=descending",
            ["u4", "u3", "u1", "u2"],
        ),
        ("sortBy=externalId", ["u1", "u2", "u3", "u4"]),
        (
            "sortBy=externalId&sortOrder=descending",
            ["u4", "u3", "u2", "u1"],
        ),
    ] {
        let r = d.call(Method::GET, &format!("/Users?{query}"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
        assert_eq!(user_names_in_order(&r.body), want, "{query}");
    }
    // Every create path (PostgreSQL's one-statement insert too) stores the
    // names lower-cased, not NFKC-normalised: ǅ folds to ǆ (U+01C6), which
    // orders after é and before σ, where NFKC's "dž" would not.
    d.user(
        "u5",
        json!({"displayName": "ǅemal", "name": {"givenName": "ǅemal"}}),
    )
    .await;
    for (filter, want) in [
        (r#"displayName eq "ǄEMAL""#, &["u5"][..]),
        (r#"displayName ge "ǅ""#, &["u3", "u5"]),
        (r#"displayName lt "ǆ""#, &["u1", "u2"]),
        (r#"name.givenName gt "home""#, &["u1", "u5"]),
    ] {
        assert_eq!(d.names(filter).await, strs(want), "filter {filter}");
    }
    // `id` keeps the database's default collation on PostgreSQL; ordering
    // filters on it still compare by code point (under en-US, `01a…` sorts
    // before `01F`; by code point, after it).
    let letter = u1.find(|c: char| c.is_ascii_lowercase()).unwrap();
    let probe = format!("{}F", &u1[..letter]);
    let r = d.call(Method::GET, "/Users?count=1000", None).await;
    let users: Vec<(&str, String)> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap(),
                u["userName"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let side = |above: bool| -> Vec<String> {
        let mut n: Vec<String> = users
            .iter()
            .filter(|(id, _)| (*id > probe.as_str()) == above)
            .map(|(_, n)| n.clone())
            .collect();
        n.sort();
        n
    };
    let (above, rest) = (side(true), side(false));
    assert!(above.contains(&"u1".to_owned()), "{u1} sorts after {probe}");
    assert_eq!(d.names(&format!(r#"id gt "{probe}""#)).await, above);
    assert_eq!(d.names(&format!(r#"id le "{probe}""#)).await, rest);
}

fn user_names_in_order(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect()
}

async fn root_search_pages_users_then_groups(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let d = Dir::open(&app).await;
    let mut all = Vec::new();
    for n in ["u-a", "u-b", "u-c", "u-d", "u-e"] {
        all.push(d.user(n, json!({})).await);
    }
    for g in ["g-a", "g-b", "g-c"] {
        all.push(d.group(g).await);
    }
    let search =
        |start: i64, count: i64| json!({"schemas": [SEARCH], "startIndex": start, "count": count});
    for count in [1, 3, 5] {
        for start in 1..=10 {
            let r = d
                .call(Method::POST, "/.search", Some(search(start, count)))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            assert_eq!(r.body["totalResults"], 8);
            assert_eq!(r.body["startIndex"], start);
            let got: Vec<&str> = r.body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_str().unwrap())
                .collect();
            let from = (start as usize - 1).min(all.len());
            let to = (from + count as usize).min(all.len());
            assert_eq!(got, all[from..to], "startIndex {start} count {count}");
            assert_eq!(r.body["itemsPerPage"], got.len());
        }
    }
    // A huge startIndex reads no rows and answers at once.
    let started = std::time::Instant::now();
    let r = d
        .call(
            Method::POST,
            "/.search",
            Some(search(1_000_000_000_000, 1000)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["totalResults"], 8);
    assert_eq!(r.body["Resources"], json!([]));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let r = d.call(Method::POST, "/.search", Some(search(1, 0))).await;
    assert_eq!(r.body["totalResults"], 8);
    assert_eq!(r.body["Resources"], json!([]));
}

crate::http_suite!(
    entra_work_email_filter,
    case_exact_and_unicode_folding,
    root_search_pages_users_then_groups,
);

mod store {
    use super::*;
    use diesel::RunQueryDsl;

    /// Rows written before the folded columns existed get them from
    /// `migrate`, with the Rust folding (not SQL `lower()`).
    fn migrate_fills_folded_names(db: &TestDb) {
        let s = differential::Setup::new(db, "refold");
        let id = s.create(json!({"userName": "émile", "displayName": "ÉMILE Zola", "name": {"givenName": "ÉMILE", "familyName": "ΣΟΦΙΑ"}, "active": true}))
            .expect("create");
        let store = db.store();
        store
            .write_blocking(|c| -> Result<_, rollcall::store::StoreError> {
                diesel::sql_query(
                    "UPDATE users SET display_name_lower = NULL, given_name_lower = NULL, family_name_lower = NULL",
                )
                .execute(c)?;
                Ok(())
            })
            .unwrap();
        assert!(s.ids(r#"displayName eq "émile zola""#).is_empty());
        store.migrate().unwrap();
        assert_eq!(s.ids(r#"displayName eq "émile zola""#), vec![id.clone()]);
        assert_eq!(s.ids(r#"name.givenName eq "émile""#), vec![id.clone()]);
        assert_eq!(s.ids(r#"name.familyName eq "σοφια""#), vec![id]);
    }

    crate::store_suite!(migrate_fills_folded_names, differential_sql_equals_oracle);

    fn differential_sql_equals_oracle(db: &TestDb) {
        differential::run(db);
    }
}

pub(crate) mod differential {
    //! Random users (mixed case, non-ASCII, LIKE/GLOB wildcards) and random
    //! filters; for every filter the listing's answer must equal
    //! `scim::filter::matches` over the served documents.

    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
    use rollcall::domain::audit::Actor;
    use rollcall::scim::filter::{self, CompValue, CompareOp, Filter};
    use rollcall::scim::schema::{AttrPath, USER};
    use rollcall::service::scim::{self as ops, ListParams, Scope};
    use rollcall::service::{self, Ctx};
    use rollcall::store::Store;
    use rollcall::store::directories::Directory;
    use rollcall::store::orgs::Org;
    use serde_json::{Value, json};

    use crate::support::TestDb;

    /// An org with one directory, acted on through the service layer.
    pub struct Setup {
        store: Store,
        paging: ops::Paging,
        ctx: Ctx,
        org: Org,
        op: service::authz::OrgPolicy,
        directory: Directory,
    }

    impl Setup {
        pub fn new(db: &TestDb, slug: &str) -> Setup {
            let store = db.store();
            let ctx = Ctx::new(Actor::cli(), None);
            let (org, op, directory) = store
                .write_blocking(|c| -> Result<_, rollcall::error::AppError> {
                    let org = service::orgs::create(
                        c,
                        &ctx,
                        service::orgs::NewOrg {
                            slug: slug.to_owned(),
                            name: None,
                            preset: None,
                        },
                    )?;
                    let op = service::authz::OrgPolicy::load(c, &org)?;
                    let acting = service::Acting {
                        ctx: &ctx,
                        org: &org,
                        op: &op,
                        authority: &service::authz::Authority::Operator,
                    };
                    let (d, _, _) = service::directories::create(c, &acting, "diff", None)?;
                    Ok((org, op, d))
                })
                .expect("org and directory");
            let mut scim = db.settings().scim;
            scim.default_page_size = 1000;
            scim.max_page_size = 1000;
            Setup {
                store,
                paging: ops::Paging::from_settings(&scim),
                ctx,
                org,
                op,
                directory,
            }
        }

        fn scope(&self) -> Scope<'_> {
            Scope {
                ctx: &self.ctx,
                org: &self.org,
                op: &self.op,
                directory: &self.directory,
                base_url: "http://test/scim/v2/diff",
            }
        }

        /// Create a user; `Err` with the SCIM error when refused.
        pub fn create(&self, body: Value) -> Result<String, String> {
            let mut body = body;
            body["schemas"] = json!([
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ]);
            // create_user commits by itself: a write (the writer on SQLite).
            self.store
                .write_committing_itself_blocking(|c| ops::create_user(c, &self.scope(), body))
                .map(|r| r.body["id"].as_str().unwrap().to_owned())
                .map_err(|e| format!("{e:?}"))
        }

        /// Every live user of the directory as served.
        fn documents(&self) -> Vec<Value> {
            let p = ListParams {
                count: Some(1000),
                ..ListParams::default()
            };
            let body = self
                .store
                .read_blocking(|c| ops::list_users(c, &self.scope(), &p, &self.paging))
                .expect("list users");
            body["Resources"].as_array().unwrap().clone()
        }

        fn list(&self, filter: &str) -> Result<Vec<String>, String> {
            let p = ListParams {
                filter: Some(filter.to_owned()),
                count: Some(1000),
                ..ListParams::default()
            };
            let body = self
                .store
                .read_blocking(|c| ops::list_users(c, &self.scope(), &p, &self.paging))
                .map_err(|e| format!("{e:?}"))?;
            let mut ids: Vec<String> = body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            Ok(ids)
        }

        pub fn ids(&self, filter: &str) -> Vec<String> {
            self.list(filter)
                .unwrap_or_else(|e| panic!("{filter}: {e}"))
        }
    }

    /// Characters that fold in interesting ways (ß/ẞ, dotted and dotless i,
    /// final sigma, Kelvin sign, titlecase digraph) and LIKE/GLOB wildcards.
    const NAME_CHARS: &[char] = &[
        'a', 'A', 'b', 'B', 'z', 'é', 'É', 'ß', 'ẞ', 'ı', 'İ', 'Σ', 'σ', 'ς', 'ǅ', '\u{212A}', 'k',
        '*', '?', '[', '%', '_', '\\', '-', ' ',
    ];
    /// For userNames: the same without compatibility characters (so that a
    /// stricter userName normalisation cannot make two users collide).
    const USER_NAME_CHARS: &[char] = &[
        'a', 'A', 'b', 'B', 'é', 'É', 'ß', 'ẞ', 'İ', 'Σ', 'σ', '*', '%', '_', '-',
    ];
    const EMAIL_CHARS: &[char] = &['a', 'A', 'b', 'B', 'x', 'X', '.', '_', '-', '%'];
    const DOMAINS: &[&str] = &["example.com", "Example.COM", "x.org"];
    const TYPES: &[&str] = &["work", "Work", "home", "HOME", "other"];

    fn word(chars: &'static [char], len: std::ops::Range<usize>) -> BoxedStrategy<String> {
        proptest::collection::vec(proptest::sample::select(chars), len)
            .prop_map(|v| {
                let s: String = v.into_iter().collect();
                // Stored names are trimmed; documents keep them as sent.
                let t = s.trim();
                if t.is_empty() {
                    "a".to_owned()
                } else {
                    t.to_owned()
                }
            })
            .boxed()
    }

    #[derive(Debug, Clone)]
    struct Mail {
        local: String,
        domain: &'static str,
        kind: Option<&'static str>,
        primary: Option<bool>,
    }

    #[derive(Debug, Clone)]
    struct Person {
        user_name: String,
        display: Option<String>,
        given: Option<String>,
        family: Option<String>,
        external: Option<String>,
        title: Option<String>,
        employee: Option<String>,
        active: bool,
        emails: Vec<Mail>,
    }

    impl Person {
        fn document(&self, i: usize) -> Value {
            let mut doc =
                json!({"userName": format!("{}{i}", self.user_name), "active": self.active});
            let mut name = serde_json::Map::new();
            if let Some(g) = &self.given {
                name.insert("givenName".into(), json!(g));
            }
            if let Some(f) = &self.family {
                name.insert("familyName".into(), json!(f));
            }
            if !name.is_empty() {
                doc["name"] = Value::Object(name);
            }
            for (key, v) in [
                ("displayName", &self.display),
                ("externalId", &self.external),
                ("title", &self.title),
            ] {
                if let Some(v) = v {
                    doc[key] = json!(v);
                }
            }
            if let Some(e) = &self.employee {
                doc["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
                    json!({"employeeNumber": e});
            }
            // At most one primary (the gateway refuses more).
            let mut primary_taken = false;
            let emails: Vec<Value> = self
                .emails
                .iter()
                .enumerate()
                .map(|(j, m)| {
                    let mut e = json!({"value": format!("{}{i}x{j}@{}", m.local, m.domain)});
                    if let Some(k) = m.kind {
                        e["type"] = json!(k);
                    }
                    if let Some(p) = m.primary {
                        e["primary"] = json!(p && !primary_taken);
                        primary_taken |= p;
                    }
                    e
                })
                .collect();
            if !emails.is_empty() {
                doc["emails"] = Value::Array(emails);
            }
            doc
        }
    }

    fn person() -> BoxedStrategy<Person> {
        let opt = |s: BoxedStrategy<String>| proptest::option::of(s).boxed();
        let mail = (
            word(EMAIL_CHARS, 1..4),
            proptest::sample::select(DOMAINS),
            proptest::option::of(proptest::sample::select(TYPES)),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(|(local, domain, kind, primary)| Mail {
                local: local.replace(['.', ' '], "_"),
                domain,
                kind,
                primary,
            });
        (
            word(USER_NAME_CHARS, 1..5),
            opt(word(NAME_CHARS, 1..7)),
            opt(word(NAME_CHARS, 1..5)),
            opt(word(NAME_CHARS, 1..5)),
            opt(word(NAME_CHARS, 1..5)),
            opt(word(NAME_CHARS, 1..5)),
            opt(word(NAME_CHARS, 1..4)),
            any::<bool>(),
            proptest::collection::vec(mail, 0..4),
        )
            .prop_map(
                |(user_name, display, given, family, external, title, employee, active, emails)| {
                    Person {
                        user_name,
                        display,
                        given,
                        family,
                        external,
                        title,
                        employee,
                        active,
                        emails,
                    }
                },
            )
            .boxed()
    }

    /// Strings worth comparing with: the population's values, their
    /// prefixes and suffixes, in other cases.
    fn candidates(people: &[Person]) -> Vec<String> {
        let mut out = BTreeSet::new();
        for (i, p) in people.iter().enumerate() {
            let doc = p.document(i);
            let mut texts = vec![doc["userName"].as_str().unwrap().to_owned()];
            for v in [
                &p.display,
                &p.given,
                &p.family,
                &p.external,
                &p.title,
                &p.employee,
            ]
            .into_iter()
            .flatten()
            {
                texts.push(v.clone());
            }
            for e in doc["emails"].as_array().into_iter().flatten() {
                texts.push(e["value"].as_str().unwrap().to_owned());
            }
            for t in texts {
                let chars: Vec<char> = t.chars().collect();
                let n = chars.len();
                for piece in [
                    t.clone(),
                    chars[..n.div_ceil(2)].iter().collect(),
                    chars[n / 2..].iter().collect(),
                    chars[n.min(1)..n.saturating_sub(1).max(n.min(1))]
                        .iter()
                        .collect(),
                ] {
                    out.insert(piece.to_uppercase());
                    out.insert(piece.to_lowercase());
                    out.insert(piece);
                }
            }
        }
        for t in TYPES {
            out.insert((*t).to_owned());
        }
        out.into_iter().collect()
    }

    fn path(p: &str) -> AttrPath {
        AttrPath::parse(p).unwrap()
    }

    const STRING_ATTRS: &[&str] = &[
        "userName",
        "displayName",
        "name.givenName",
        "name.familyName",
        "externalId",
        "id",
        "title",
        "emails",
        "emails.value",
        "emails.type",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    ];

    fn text_value(cands: Vec<String>) -> BoxedStrategy<String> {
        prop_oneof![
            4 => proptest::sample::select(cands),
            1 => word(NAME_CHARS, 1..3),
            1 => Just(String::new()),
            1 => word(&['0', '1', '8', '9', 'a', 'f', 'A', 'F', '-'], 1..4),
        ]
        .boxed()
    }

    fn op() -> impl Strategy<Value = CompareOp> {
        proptest::sample::select(CompareOp::ALL.to_vec())
    }

    fn boolean_compare(p: &'static str) -> BoxedStrategy<Filter> {
        (
            proptest::sample::select(vec![CompareOp::Eq, CompareOp::Ne]),
            any::<bool>(),
        )
            .prop_map(move |(op, b)| Filter::Compare {
                path: path(p),
                op,
                value: CompValue::Bool(b),
            })
            .boxed()
    }

    fn null_compare(attrs: &'static [&'static str]) -> BoxedStrategy<Filter> {
        (
            proptest::sample::select(attrs),
            proptest::sample::select(vec![CompareOp::Eq, CompareOp::Ne]),
        )
            .prop_map(|(a, op)| Filter::Compare {
                path: path(a),
                op,
                value: CompValue::Null,
            })
            .boxed()
    }

    fn logic(leaf: BoxedStrategy<Filter>, depth: u32) -> BoxedStrategy<Filter> {
        leaf.prop_recursive(depth, 8, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                inner.prop_map(|a| Filter::Not(Box::new(a))),
            ]
        })
        .boxed()
    }

    fn filter(cands: Vec<String>) -> BoxedStrategy<Filter> {
        let compare = (
            proptest::sample::select(STRING_ATTRS),
            op(),
            text_value(cands.clone()),
        )
            .prop_map(|(a, op, v)| Filter::Compare {
                path: path(a),
                op,
                value: CompValue::Str(v),
            });
        let present = proptest::sample::select(STRING_ATTRS).prop_map(|a| Filter::Present(path(a)));
        let element_leaf = prop_oneof![
            (
                proptest::sample::select(vec!["value", "type"]),
                op(),
                text_value(cands)
            )
                .prop_map(|(a, op, v)| Filter::Compare {
                    path: path(a),
                    op,
                    value: CompValue::Str(v),
                }),
            boolean_compare("primary"),
            null_compare(&["type", "value"]),
            proptest::sample::select(vec!["value", "type", "primary"])
                .prop_map(|a| Filter::Present(path(a))),
        ]
        .boxed();
        let value_path = logic(element_leaf, 2).prop_map(|inner| Filter::ValuePath {
            path: path("emails"),
            filter: Box::new(inner),
        });
        let leaf = prop_oneof![
            6 => compare,
            1 => present,
            1 => null_compare(&["displayName", "externalId", "title", "emails", "name.givenName"]),
            1 => boolean_compare("active"),
            1 => boolean_compare("emails.primary"),
            3 => value_path,
        ]
        .boxed();
        logic(leaf, 3)
    }

    static ORGS: AtomicUsize = AtomicUsize::new(0);

    /// What a run exercised, so that a run that tests nothing fails.
    #[derive(Default)]
    struct Tally {
        generated: AtomicUsize,
        created: AtomicUsize,
        filters: AtomicUsize,
        /// Filters that matched some but not all users.
        discriminating: AtomicUsize,
    }

    fn check(
        db: &TestDb,
        tally: &Tally,
        people: &[Person],
        filters: &[Filter],
    ) -> Result<(), TestCaseError> {
        let slug = format!("diff-{}", ORGS.fetch_add(1, Ordering::Relaxed));
        let s = Setup::new(db, &slug);
        for (i, p) in people.iter().enumerate() {
            tally.generated.fetch_add(1, Ordering::Relaxed);
            // A user the gateway refuses is simply not part of the
            // population (the tally makes sure that stays rare).
            if s.create(p.document(i)).is_ok() {
                tally.created.fetch_add(1, Ordering::Relaxed);
            }
        }
        let docs = s.documents();
        for f in filters {
            let text = f.to_string();
            filter::validate(f, &USER).map_err(|e| {
                TestCaseError::fail(format!("generated an invalid filter {text}: {e}"))
            })?;
            let mut want: Vec<String> = docs
                .iter()
                .filter(|d| filter::matches(f, d, &USER))
                .map(|d| d["id"].as_str().unwrap().to_owned())
                .collect();
            want.sort();
            tally.filters.fetch_add(1, Ordering::Relaxed);
            if !want.is_empty() && want.len() < docs.len() {
                tally.discriminating.fetch_add(1, Ordering::Relaxed);
            }
            let got = s
                .list(&text)
                .map_err(|e| TestCaseError::fail(format!("{text}: refused: {e}")))?;
            if got != want {
                return Err(TestCaseError::fail(format!(
                    "filter {text}\n  SQL:    {got:?}\n  oracle: {want:?}\n  users: {}",
                    serde_json::to_string_pretty(&docs).unwrap()
                )));
            }
        }
        Ok(())
    }

    pub fn run(db: &TestDb) {
        let seed: u64 = std::env::var("SCIM_DIFF_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(rand::random);
        let cases: u32 = std::env::var("SCIM_DIFF_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(64);
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        let config = Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 256,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
        let strategy = proptest::collection::vec(person(), 1..9).prop_flat_map(|people| {
            let cands = candidates(&people);
            (Just(people), proptest::collection::vec(filter(cands), 6))
        });
        let started = std::time::Instant::now();
        let tally = Tally::default();
        let result = runner.run(&strategy, |(people, filters)| {
            check(db, &tally, &people, &filters)
        });
        if let Err(e) = result {
            panic!("SQL and filter::matches disagree (reproduce with SCIM_DIFF_SEED={seed}): {e}");
        }
        let n = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        eprintln!(
            "differential filter test: seed {seed}, {cases} cases, {} of {} users created, \
             {} filters ({} matched some but not all users), {:.1?}",
            n(&tally.created),
            n(&tally.generated),
            n(&tally.filters),
            n(&tally.discriminating),
            started.elapsed()
        );
        assert!(
            n(&tally.created) * 10 >= n(&tally.generated) * 9,
            "too few generated users were accepted (seed {seed})"
        );
        assert!(
            n(&tally.discriminating) * 5 >= n(&tally.filters),
            "fewer than one filter in five told users apart (seed {seed})"
        );
    }
}
