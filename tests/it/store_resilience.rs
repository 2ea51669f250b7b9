//! The store under pressure (SPEC §5): SQLite's one writer takes every write
//! of the process in order, so none fails for lock contention; on
//! PostgreSQL, connections killed under a parallel write load cost no 500,
//! lose nothing and write nothing twice.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use reqwest::{Method, StatusCode};
use rollcall::store::StoreError;
use serde_json::json;

use crate::support::app::Reply;
use crate::support::{Backend, TestApp, TestDb};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

// ------------------------------------------------------------------ SQLite's one writer

/// Reads run on read-only connections: a write that strays onto the read
/// path fails loudly instead of contending with the writer for the lock.
#[test]
fn sqlite_reads_cannot_write_and_writes_can() {
    let db = TestDb::sqlite();
    let store = db.store();
    let refused = store.read_blocking(|c| {
        diesel::sql_query("CREATE TABLE stray (a INTEGER)")
            .execute(c)
            .map_err(StoreError::from)
    });
    let err = refused.expect_err("a write on the read path must fail on SQLite");
    assert!(err.to_string().contains("readonly"), "{err}");
    store
        .write_blocking(|c| {
            diesel::sql_query("CREATE TABLE stray (a INTEGER)")
                .execute(c)
                .map_err(StoreError::from)
        })
        .expect("the writer may write");
}

/// Many writers at once — async tasks (the server's path) and threads (the
/// CLI's path) released together — each reading the highest number and
/// inserting the next one. With one writer taking them in turn, every write
/// succeeds and the numbers are exactly 1..=N; writers that overlapped would
/// produce duplicates, and writers contending for the lock would fail with
/// "database is locked".
#[test]
fn sqlite_concurrent_read_then_write_transactions_all_succeed_in_turn() {
    const TASKS: usize = 16;
    const THREADS: usize = 4;
    const EACH: usize = 60;
    let db = TestDb::sqlite();
    let store = db.store();
    store
        .write_blocking(|c| {
            diesel::sql_query("CREATE TABLE seq_probe (n INTEGER NOT NULL)")
                .execute(c)
                .map_err(StoreError::from)
        })
        .unwrap();
    fn next(c: &mut rollcall::store::DbConnection) -> Result<(), StoreError> {
        let top = diesel::sql_query("SELECT COALESCE(MAX(n), 0) AS n FROM seq_probe")
            .get_result::<Count>(c)?
            .n;
        diesel::sql_query(format!("INSERT INTO seq_probe (n) VALUES ({})", top + 1)).execute(c)?;
        Ok(())
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let failures = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(std::sync::Barrier::new(THREADS + 1));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (store, start, failures) = (store.clone(), start.clone(), failures.clone());
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..EACH {
                    if store.write_blocking(next).is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    rt.block_on(async {
        let gate = Arc::new(tokio::sync::Barrier::new(TASKS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (store, gate, failures) = (store.clone(), gate.clone(), failures.clone());
                tokio::spawn(async move {
                    gate.wait().await;
                    for _ in 0..EACH {
                        if store.write(next).await.is_err() {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        start.wait();
        for t in tasks {
            t.await.unwrap();
        }
    });
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0, "some writes failed");
    let total = ((TASKS + THREADS) * EACH) as i64;
    let (count, distinct, max) = store
        .read_blocking(|c| -> Result<_, StoreError> {
            let mut q = |sql: &str| -> Result<i64, StoreError> {
                Ok(diesel::sql_query(sql).get_result::<Count>(c)?.n)
            };
            Ok((
                q("SELECT COUNT(*) AS n FROM seq_probe")?,
                q("SELECT COUNT(DISTINCT n) AS n FROM seq_probe")?,
                q("SELECT MAX(n) AS n FROM seq_probe")?,
            ))
        })
        .unwrap();
    assert_eq!((count, distinct, max), (total, total, total));
}

fn cli(db_url: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(args)
        .current_dir(dir.path())
        .env("DATABASE_URL", db_url)
        .env_remove("ROLLCALL_ENV")
        .env("ROLLCALL__LOG__LEVEL", "warn")
        .output()
        .unwrap()
}

/// Another process on the same file (the CLI beside a running server) waits
/// for the write lock — and, when it is held past the busy timeout, says why.
#[test]
fn the_cli_waits_for_another_writer_then_says_who_holds_the_lock() {
    let db = TestDb::sqlite();
    let path = db.url.strip_prefix("sqlite://").unwrap().to_owned();
    let hold = |secs: f64| {
        let path = path.clone();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let mut other = SqliteConnection::establish(&path).unwrap();
            diesel::connection::SimpleConnection::batch_execute(&mut other, "BEGIN IMMEDIATE")
                .unwrap();
            locked_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_secs_f64(secs));
            diesel::connection::SimpleConnection::batch_execute(&mut other, "ROLLBACK").unwrap();
        });
        locked_rx.recv().unwrap();
        holder
    };
    // Held for a moment: the CLI waits, then succeeds.
    let holder = hold(1.0);
    let t0 = std::time::Instant::now();
    let out = cli(&db.url, &["org", "create", "acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "it did not wait"
    );
    holder.join().unwrap();
    // Held past the busy timeout: a clear message, not a crash.
    let wait = rollcall::store::SQLITE_BUSY_TIMEOUT.as_secs_f64();
    let holder = hold(wait + 3.0);
    let out = cli(&db.url, &["org", "create", "beta"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("another process") && stderr.contains("write lock"),
        "{stderr}"
    );
    holder.join().unwrap();
}

/// Many clients provisioning at once through the real server, SCIM and the
/// admin API mixed, released together: not one request fails.
async fn concurrent_writes_through_the_server_all_succeed(backend: Backend) {
    const CLIENTS: usize = 16;
    const EACH: usize = 24;
    let app = TestApp::spawn(backend).await;
    let key = app.org_with_key("acme");
    let (base, token) = app.scim_directory("acme", "entra");
    let app = Arc::new(app);
    let gate = Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (app, gate, base, token, key) = (
            app.clone(),
            gate.clone(),
            base.clone(),
            token.clone(),
            key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            gate.wait().await;
            let mut bad = Vec::new();
            for k in 0..EACH {
                let i = client * EACH + k;
                let r = app
                    .scim(
                        Method::POST,
                        &format!("{base}/Users"),
                        &token,
                        Some(json!({"schemas": [USER], "userName": format!("u{i}@load.example")})),
                    )
                    .await;
                if r.status != StatusCode::CREATED {
                    bad.push(format!("create {i}: {} {}", r.status, r.text));
                    continue;
                }
                let id = r.body["id"].as_str().unwrap().to_owned();
                let patch = json!({"schemas": [PATCH], "Operations": [
                    {"op": "replace", "path": "displayName", "value": format!("User {i}")}
                ]});
                let r = app
                    .scim(
                        Method::PATCH,
                        &format!("{base}/Users/{id}"),
                        &token,
                        Some(patch),
                    )
                    .await;
                if r.status != StatusCode::OK {
                    bad.push(format!("patch {i}: {} {}", r.status, r.text));
                }
                if k % 4 == 0 {
                    let r = app
                        .post(
                            "/api/v1/orgs/acme/workspaces",
                            &key,
                            json!({"slug": format!("ws-{i}")}),
                        )
                        .await;
                    if r.status != StatusCode::CREATED {
                        bad.push(format!("workspace {i}: {} {}", r.status, r.text));
                    }
                }
            }
            bad
        }));
    }
    let mut bad = Vec::new();
    for t in tasks {
        bad.extend(t.await.unwrap());
    }
    assert!(
        bad.is_empty(),
        "{} failed requests: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    let r = app
        .scim(Method::GET, &format!("{base}/Users?count=0"), &token, None)
        .await;
    assert_eq!(r.body["totalResults"], json!(CLIENTS * EACH), "{}", r.text);
}

crate::http_suite!(concurrent_writes_through_the_server_all_succeed);

// ------------------------------------------------------------------ PostgreSQL: killed connections

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn database_name(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned()
}

/// Terminate every backend of the test's own database (never another one).
fn terminate_backends(db: &str) -> i64 {
    let mut admin = PgConnection::establish(&crate::support::db::admin_url()).unwrap();
    diesel::sql_query(
        "SELECT COUNT(*) AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()) killed",
    )
    .bind::<Text, _>(db)
    .get_result::<Count>(&mut admin)
    .unwrap()
    .n
}

/// What one request of the load asked for and got.
struct Sent {
    kind: &'static str,
    name: String,
    reply: Reply,
}

/// The pool's backends are killed (`pg_terminate_backend`) six times in the
/// middle of a parallel SCIM create load mixed with admin API writes. A
/// write that broke before COMMIT was sent runs again on a fresh connection;
/// one whose COMMIT may have gone out answers 503 with Retry-After. So: no
/// 500, every answer a success or a 503, every 201 is in the database, and
/// nothing is there twice (a write run again after it had committed would
/// answer 409 and leave a second audit event).
async fn killed_connections_cost_no_500_and_lose_or_double_nothing() {
    const CLIENTS: usize = 16;
    const EACH: usize = 40;
    const TOTAL: usize = CLIENTS * EACH;
    const KILLS: usize = 6;
    let app = TestApp::spawn(Backend::Postgres).await;
    let key = app.org_with_key("acme");
    let (base, token) = app.scim_directory("acme", "entra");
    let db_name = database_name(&app.db.url);
    let app = Arc::new(app);
    let done = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Barrier::new(CLIENTS + 1));
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (app, gate, done) = (app.clone(), gate.clone(), done.clone());
        let (base, token, key) = (base.clone(), token.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            gate.wait().await;
            let mut sent = Vec::new();
            for k in 0..EACH {
                let i = client * EACH + k;
                let s = if k % 5 == 2 {
                    // A read: always safe to run again on a fresh connection.
                    let name = format!("u{}@kill.example", i - 2);
                    let filter = format!("userName eq \"{name}\"");
                    let reply = app
                        .scim(
                            Method::GET,
                            &format!("{base}/Users?filter={}", urlencode(&filter)),
                            &token,
                            None,
                        )
                        .await;
                    Sent {
                        kind: "lookup",
                        name,
                        reply,
                    }
                } else if k % 5 == 4 {
                    let name = format!("ws-{i}");
                    let reply = app
                        .post("/api/v1/orgs/acme/workspaces", &key, json!({"slug": name}))
                        .await;
                    Sent {
                        kind: "workspace",
                        name,
                        reply,
                    }
                } else {
                    let name = format!("u{i}@kill.example");
                    let reply = app
                        .scim(
                            Method::POST,
                            &format!("{base}/Users"),
                            &token,
                            Some(json!({"schemas": [USER], "userName": name})),
                        )
                        .await;
                    Sent {
                        kind: "user",
                        name,
                        reply,
                    }
                };
                sent.push(s);
                done.fetch_add(1, Ordering::Relaxed);
            }
            sent
        }));
    }
    gate.wait().await;
    let mut killed = Vec::new();
    for round in 1..=KILLS {
        while done.load(Ordering::Relaxed) < round * TOTAL / (KILLS + 2) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let db = db_name.clone();
        killed.push(
            tokio::task::spawn_blocking(move || terminate_backends(&db))
                .await
                .unwrap(),
        );
    }
    let in_flight_at_last_kill = TOTAL - done.load(Ordering::Relaxed);
    let mut sent = Vec::new();
    for t in tasks {
        sent.extend(t.await.unwrap());
    }
    assert!(
        killed.iter().sum::<i64>() >= KILLS as i64,
        "the kills must have hit the pool: {killed:?}"
    );
    assert!(
        in_flight_at_last_kill > 0,
        "the last kill came after the load"
    );

    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for s in &sent {
        let status = s.reply.status.as_u16();
        *by_status.entry(status).or_default() += 1;
        let ok = if s.kind == "lookup" { 200 } else { 201 };
        assert!(
            status == ok || status == 503,
            "{} {}: {status} {}",
            s.kind,
            s.name,
            s.reply.text
        );
        if status == 503 {
            assert!(
                s.reply.header("retry-after").is_some(),
                "503 without Retry-After"
            );
        }
    }

    // Nothing lost, nothing twice: read the database itself.
    let mut conn = PgConnection::establish(&app.db.url).unwrap();
    let names = |sql: &str, conn: &mut PgConnection| -> Vec<String> {
        diesel::sql_query(sql)
            .load::<Name>(conn)
            .unwrap()
            .into_iter()
            .map(|n| n.name)
            .collect()
    };
    let users: HashSet<String> = names("SELECT user_name AS name FROM users", &mut conn)
        .into_iter()
        .collect();
    let workspaces: HashSet<String> = names("SELECT slug AS name FROM workspaces", &mut conn)
        .into_iter()
        .collect();
    for s in sent
        .iter()
        .filter(|s| s.reply.status == StatusCode::CREATED)
    {
        let stored = match s.kind {
            "user" => &users,
            "workspace" => &workspaces,
            other => panic!("{other} answered 201"),
        };
        assert!(
            stored.contains(&s.name),
            "{} {} answered 201 but is missing",
            s.kind,
            s.name
        );
    }
    let doubled = names(
        "SELECT target_id AS name FROM audit_events WHERE action = 'user.created' \
         GROUP BY target_id HAVING COUNT(*) > 1",
        &mut conn,
    );
    assert!(doubled.is_empty(), "users created twice: {doubled:?}");
    let count = |sql: &str, conn: &mut PgConnection| {
        diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
    };
    let events = count(
        "SELECT COUNT(*) AS n FROM audit_events a JOIN users u ON u.id = a.target_id \
         WHERE a.action = 'user.created' AND u.user_name LIKE '%@kill.example'",
        &mut conn,
    );
    let stored = count(
        "SELECT COUNT(*) AS n FROM users WHERE user_name LIKE '%@kill.example'",
        &mut conn,
    );
    assert_eq!(events, stored, "one creation event per stored user");
    let ok = by_status.get(&201).copied().unwrap_or(0) + by_status.get(&200).copied().unwrap_or(0);
    assert!(
        ok > TOTAL / 2,
        "most requests should succeed: {by_status:?}"
    );
    eprintln!("killed backends per round {killed:?}; answers {by_status:?}");
}

mod postgres_only {
    /// PostgreSQL only: an embedded SQLite file has no connection to lose.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn killed_connections_cost_no_500_and_lose_or_double_nothing() {
        super::killed_connections_cost_no_500_and_lose_or_double_nothing().await;
    }
}
