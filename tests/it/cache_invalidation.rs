//! Per-node caches (SPEC §5) under steady traffic. A cached credential, org or
//! policy expires one `auth.token_cache_secs` after its load however often it
//! is used (both backends, one node, a revocation made the CLI's way); on
//! PostgreSQL two gateway nodes with separate caches on one database refuse a
//! credential revoked through the other node, or by plain SQL, and apply a
//! role change made elsewhere, within one second although their TTL is five
//! minutes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::StatusCode;
use rollcall::domain::audit::Actor;
use rollcall::service::{self, Ctx};
use rollcall::startup::Application;
use rollcall::state::AppState;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp};

/// A second gateway node on the same database as `app`, with its own caches.
struct Node {
    base: String,
    state: actix_web::web::Data<AppState>,
    handle: actix_web::dev::ServerHandle,
}

impl Node {
    async fn start(app: &TestApp, overrides: &[(&str, Value)]) -> Node {
        let mut fig = crate::support::db::settings_figment(&app.db.url);
        for (k, v) in overrides {
            fig = fig.merge(figment::providers::Serialized::default(k, v.clone()));
        }
        let settings = rollcall::configuration::Settings::from_figment(fig).unwrap();
        let store = rollcall::store::Store::open(&settings.database).unwrap();
        let node = Application::with_store(settings, store).unwrap();
        let n = Node {
            base: format!("http://{}", node.address()),
            state: node.state(),
            handle: node.handle(),
        };
        tokio::spawn(node.run_until_stopped());
        n
    }

    async fn wait_until_listening(&self) {
        let since = Instant::now();
        while !self.state.receives_invalidations() {
            assert!(
                since.elapsed() < Duration::from_secs(10),
                "node never subscribed to invalidations"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// A request whose answer shows whether a node still applies the old state.
#[derive(Clone)]
enum Probe {
    /// A SCIM listing with a token: 200 before, 401 once revoked.
    Scim { url: String, token: String },
    /// An admin API read with a key: 200 before, 401 once revoked.
    Api { url: String, key: String },
    /// An authz check: allowed before, denied after the role changed.
    Check {
        url: String,
        key: String,
        body: Value,
    },
}

impl Probe {
    /// `true` while the old state is visible.
    async fn old(&self, client: &reqwest::Client) -> bool {
        match self {
            Probe::Scim { url, token: t } | Probe::Api { url, key: t } => {
                let r = client.get(url).bearer_auth(t).send().await.unwrap();
                match r.status() {
                    StatusCode::OK => true,
                    StatusCode::UNAUTHORIZED => false,
                    s => panic!("{url}: unexpected {s}: {}", r.text().await.unwrap()),
                }
            }
            Probe::Check { url, key, body } => {
                let r = client
                    .post(url)
                    .bearer_auth(key)
                    .json(body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let body: Value = r.json().await.unwrap();
                assert_eq!(status, StatusCode::OK, "{url}: {body}");
                body["allowed"].as_bool().unwrap()
            }
        }
    }
}

/// Hit `probe` continuously from four clients, apply `change` in the middle,
/// and return how long after the change had committed the old state stopped
/// showing. Asserts: the old state showed before the change, every request
/// started later than `bound` after it saw the new state, and once the new
/// state showed the old one never came back.
async fn flips_within(
    probe: Probe,
    warm: Duration,
    bound: Duration,
    change: impl std::future::Future<Output = ()>,
) -> Duration {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(probe.old(&client).await, "the old state shows at first");
    let stop = Arc::new(AtomicBool::new(false));
    // (started, finished, old state?) per request.
    let log: Arc<Mutex<Vec<(Instant, Instant, bool)>>> = Arc::default();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (probe, client, stop, log) = (probe.clone(), client.clone(), stop.clone(), log.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let old = probe.old(&client).await;
                log.lock().unwrap().push((started, Instant::now(), old));
            }
        }));
    }
    tokio::time::sleep(warm).await;
    let change_started = Instant::now();
    change.await;
    let committed = Instant::now();
    tokio::time::sleep(bound + Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let mut log = log.lock().unwrap().clone();
    log.sort_by_key(|(t, _, _)| *t);
    let before = log.iter().filter(|(t, _, _)| *t < change_started).count();
    assert!(
        log.iter()
            .filter(|(t, _, _)| *t < change_started)
            .all(|(_, _, old)| *old),
        "the old state showed until the change"
    );
    assert!(before > 20, "traffic before the change: {before} requests");
    let (first_new, first_new_done) = log
        .iter()
        .find(|(_, _, old)| !*old)
        .map(|(t, done, _)| (*t, *done))
        .expect("the change never showed");
    // Requests in flight together may be served in any order; one sent after
    // the new state was seen must not see the old one again.
    let relapses: Vec<_> = log
        .iter()
        .filter(|(t, _, old)| *t >= first_new_done && *old)
        .map(|(t, _, _)| t.saturating_duration_since(committed))
        .collect();
    assert!(
        relapses.is_empty(),
        "the old state came back after the new one showed ({:?} after the commit): {relapses:?}",
        first_new.saturating_duration_since(committed)
    );
    let late = log
        .iter()
        .filter(|(t, _, _)| *t >= committed + bound)
        .count();
    assert!(late > 10, "traffic after the bound: {late} requests");
    let took = first_new.saturating_duration_since(committed);
    assert!(
        took <= bound,
        "the old state showed for {took:?} after the change (bound {bound:?})"
    );
    took
}

fn sql(url: &str, statement: &str) {
    let mut conn = PgConnection::establish(url).unwrap();
    let n = diesel::sql_query(statement).execute(&mut conn).unwrap();
    assert_eq!(n, 1, "{statement}");
}

/// Creates an org key through node 1's API: (id, token).
async fn api_key(app: &TestApp, key: &str, name: &str) -> (String, String) {
    let r = app
        .post("/api/v1/orgs/acme/api-keys", key, json!({"name": name}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["token"].as_str().unwrap().to_owned(),
    )
}

async fn scim_token(app: &TestApp, key: &str, name: &str) -> (String, String) {
    let r = app
        .post(
            "/api/v1/orgs/acme/scim-directories/okta/tokens",
            key,
            json!({"name": name}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_drop_revoked_credentials_and_stale_policies_within_a_second() {
    // Five minutes of TTL: only the notifications can make the second bound.
    let ttl = [("auth.token_cache_secs", json!(300))];
    let node1 = TestApp::spawn_with(Backend::Postgres, &ttl).await;
    let node2 = Node::start(&node1, &ttl).await;
    node2.wait_until_listening().await;
    let key = node1.org_with_key("acme");
    let (scim1, _) = node1.scim_directory("acme", "okta");
    let scim2 = format!("{}/Users?count=1", scim1.replace(&node1.base, &node2.base));
    let second = Duration::from_secs(1);
    let warm = Duration::from_millis(300);
    let mut took = Vec::new();

    // A SCIM token revoked through node 1's admin API.
    let (id, token) = scim_token(&node1, &key, "a").await;
    let probe = Probe::Scim {
        url: scim2.clone(),
        token,
    };
    took.push(
        flips_within(probe, warm, second, async {
            let r = node1
                .delete(
                    &format!("/api/v1/orgs/acme/scim-directories/okta/tokens/{id}"),
                    &key,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        })
        .await,
    );

    // A SCIM token revoked in the database by another tool.
    let (id, token) = scim_token(&node1, &key, "b").await;
    let probe = Probe::Scim {
        url: scim2.clone(),
        token,
    };
    let url = node1.db.url.clone();
    took.push(
        flips_within(probe, warm, second, async {
            sql(
                &url,
                &format!("UPDATE scim_tokens SET revoked_at = now() WHERE id = '{id}'"),
            )
        })
        .await,
    );

    // API keys, both ways.
    let workspaces = format!("{}/api/v1/orgs/acme/workspaces", node2.base);
    let (id, k) = api_key(&node1, &key, "probe-1").await;
    let probe = Probe::Api {
        url: workspaces.clone(),
        key: k,
    };
    took.push(
        flips_within(probe, warm, second, async {
            let r = node1
                .delete(&format!("/api/v1/orgs/acme/api-keys/{id}"), &key)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        })
        .await,
    );
    let (id, k) = api_key(&node1, &key, "probe-2").await;
    let probe = Probe::Api {
        url: workspaces.clone(),
        key: k,
    };
    took.push(
        flips_within(probe, warm, second, async {
            sql(
                &url,
                &format!("UPDATE api_keys SET revoked_at = now() WHERE id = '{id}'"),
            )
        })
        .await,
    );

    // A role's grants changed on node 1; node 2 answers checks from its
    // cached compiled policy until told.
    let r = node1
        .post(
            "/api/v1/orgs/acme/roles",
            &key,
            json!({"key": "analyst", "name": "Analyst", "clone_from": "read_only"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let role_id = r.body["id"].as_str().unwrap().to_owned();
    let mut grants = r.body["grants"].clone();
    let r = node1
        .post(
            "/api/v1/orgs/acme/users",
            &key,
            json!({"user_name": "ann", "role": "analyst"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let ann = r.body["id"].as_str().unwrap().to_owned();
    let check = format!("{}/api/v1/orgs/acme/authz/check", node2.base);
    let probe = Probe::Check {
        url: check.clone(),
        key: key.clone(),
        body: json!({"user": ann, "permission": "dashboards.view"}),
    };
    grants.as_object_mut().unwrap().remove("dashboards.view");
    took.push(
        flips_within(probe, warm, second, async {
            let r = node1
                .patch(
                    "/api/v1/orgs/acme/roles/analyst",
                    &key,
                    json!({"grants": grants}),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        })
        .await,
    );
    // A grant deleted by hand in SQL: no policy version is bumped, the
    // trigger alone tells the nodes.
    let probe = Probe::Check {
        url: check.clone(),
        key: key.clone(),
        body: json!({"user": ann, "permission": "goals.view"}),
    };
    took.push(
        flips_within(probe, warm, second, async {
            sql(
                &url,
                &format!(
                    "DELETE FROM role_grants WHERE role_id = '{role_id}' AND permission = 'goals.view'"
                ),
            )
        })
        .await,
    );
    eprintln!("node 2 saw each change after {took:?}");
}

/// The listening connections are killed, and while they cannot reconnect
/// (the database refuses new connections for a moment) a key is revoked: its
/// notification reaches nobody. The node must drop its caches when it gets
/// back, and so refuse the key within a second although its TTL is five
/// minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_that_lost_its_listening_connection_drops_its_caches() {
    let ttl = [("auth.token_cache_secs", json!(300))];
    let app = TestApp::spawn_with(Backend::Postgres, &ttl).await;
    let node = Node::start(&app, &ttl).await;
    node.wait_until_listening().await;
    let key = app.org_with_key("acme");
    let (id, k) = api_key(&app, &key, "probe").await;
    let probe = Probe::Api {
        url: format!("{}/api/v1/orgs/acme/workspaces", node.base),
        key: k,
    };
    let url = app.db.url.clone();
    let state = node.state.clone();
    let took = flips_within(
        probe,
        Duration::from_millis(300),
        Duration::from_secs(1),
        async {
            let mut conn = PgConnection::establish(&url).unwrap();
            let mut admin = PgConnection::establish(&crate::support::db::admin_url()).unwrap();
            let run = |c: &mut PgConnection, q: String| diesel::sql_query(q).execute(c).unwrap();
            let database = url.rsplit('/').next().unwrap();
            run(
                &mut admin,
                format!("ALTER DATABASE {database} ALLOW_CONNECTIONS false"),
            );
            // Waits until the backends are gone (PostgreSQL 14+).
            let killed = run(
                &mut conn,
                format!(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = '{}'",
                    rollcall::store::notify::APPLICATION_NAME
                ),
            );
            assert_eq!(killed, 2, "both nodes' listening connections");
            run(
                &mut conn,
                format!("UPDATE api_keys SET revoked_at = now() WHERE id = '{id}'"),
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
            assert!(!state.receives_invalidations(), "the node is cut off");
            run(
                &mut admin,
                format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true"),
            );
        },
    )
    .await;
    node.wait_until_listening().await;
    eprintln!("the lost revocation showed {took:?} after the database took connections again");
}

/// One node, short TTL, no notification in play for the credential's own
/// node on SQLite: the CLI's revocation (its own store handle, as
/// `rollcall api-key revoke` / `directory token revoke` do) shows within one
/// TTL although the credential is used without pause.
async fn a_credential_in_steady_use_expires_one_ttl_after_its_load(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("auth.token_cache_secs", json!(1))]).await;
    let key = app.org_with_key("acme");
    let (scim, _) = app.scim_directory("acme", "okta");
    let bound = Duration::from_millis(1050);
    // Longer than the TTL: with entries refreshed by hits this never expired.
    let warm = Duration::from_millis(1500);
    let (id, token) = scim_token(&app, &key, "a").await;
    let probe = Probe::Scim {
        url: format!("{scim}/Users?count=1"),
        token,
    };
    let store = app.db.store();
    flips_within(probe, warm, bound, async {
        let ctx = Ctx::new(Actor::cli(), None);
        store
            .write(move |c| -> Result<_, rollcall::error::AppError> {
                let org = service::orgs::resolve(c, "acme")?;
                let op = service::authz::OrgPolicy::load(c, &org)?;
                let acting = service::Acting {
                    ctx: &ctx,
                    org: &org,
                    op: &op,
                    authority: &service::authz::Authority::Operator,
                };
                service::directories::revoke_token(c, &acting, &id)
            })
            .await
            .unwrap();
    })
    .await;

    let (id, k) = api_key(&app, &key, "probe").await;
    let probe = Probe::Api {
        url: format!("{}/api/v1/orgs/acme/workspaces", app.base),
        key: k,
    };
    let store = app.db.store();
    flips_within(probe, warm, bound, async {
        let ctx = Ctx::new(Actor::cli(), None);
        store
            .write(move |c| -> Result<_, rollcall::error::AppError> {
                let k = service::api_keys::get(c, &id)?;
                service::api_keys::revoke(c, &ctx, &k)
            })
            .await
            .unwrap();
    })
    .await;
}

crate::http_suite!(a_credential_in_steady_use_expires_one_ttl_after_its_load);
