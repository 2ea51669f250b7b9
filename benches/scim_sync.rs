//! An "Entra-style initial sync" against a running gateway on PostgreSQL, or
//! with `--sqlite` on the embedded SQLite store.
//!
//! The harness creates a fresh database (`rollcall_bench_<random>`, or a
//! SQLite file in a temporary folder), provisions
//! an org and a SCIM directory with the release `rollcall` binary, starts
//! `rollcall serve` as a child process on a free port, and drives it over
//! HTTP/1.1 keep-alive with C concurrent tasks, the way Microsoft Entra ID does
//! a first provisioning cycle:
//!
//! 1. `lookup`     — `GET /Users?filter=userName eq "…"` for every user (0 hits);
//! 2. `create`     — `POST /Users` with an Entra-shaped body (core + enterprise);
//! 3. `lookup-hit` — the same filter again (1 hit);
//! 4. `patch`      — Entra-style PATCH (displayName + enterprise department);
//! 5. `groups`     — `POST /Groups`, then `members`: one PATCH per group adding
//!    `--group-size` users in one `Add members` operation;
//! 6. `list`       — every page of `GET /Users?startIndex=k&count=100`;
//! 7. `delete`     — `DELETE /Users/{id}`.
//!
//! Each phase reports requests, wall time, req/s and p50/p99/max latency next
//! to its target. Between phases the harness runs `ANALYZE` (as autovacuum
//! keeps statistics on a live system; `--no-analyze` skips it). Unless `--skip-floor`, it then measures what PostgreSQL alone
//! does at the same concurrency (C threads, one connection each: durable
//! single-row INSERTs, then primary-key SELECTs, ~5 s each) and prints each
//! phase's throughput as a fraction of that floor. The child is killed and the
//! database dropped at the end, also on failure.
//!
//! Needs PostgreSQL at 127.0.0.1:5432 (user `postgres`, trust; override with
//! `BENCH_PG_ADMIN_URL`). Run with
//!
//! ```text
//! cargo bench --bench scim_sync -- --users 10000 --concurrency 16
//! ```
//!
//! Flags: `--users N` (10000), `--concurrency C` (16), `--group-size S` (100),
//! `--groups G` (N/S), `--workers W` (server workers, 0 = per core),
//! `--database-pool P` (32), `--skip-floor`, `--sqlite` (the embedded store;
//! its targets are the SPEC §5 ones for SQLite — create ≥ 2,000/s, p99 ≤ 50 ms,
//! zero errors — and the PostgreSQL floor is not measured).

mod common;

use std::future::Future;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use serde_json::{Value, json};

use common::{BIN, Cpu, Gateway, ScratchDb, cli};

const PAGE: usize = 100;
const SINGLE_P99_TARGET_MS: f64 = 20.0;
const SQLITE_P99_TARGET_MS: f64 = 50.0;
const SQLITE_CREATE_TARGET: f64 = 2_000.0;
const FLOOR_SECONDS: u64 = 5;

// ------------------------------------------------------------------ flags

struct Opts {
    users: usize,
    concurrency: usize,
    group_size: usize,
    groups: usize,
    workers: usize,
    pool: usize,
    skip_floor: bool,
    /// Run on a SQLite file instead of PostgreSQL.
    sqlite: bool,
    /// `ANALYZE` between phases (as autovacuum keeps statistics on a live
    /// system); `--no-analyze` measures with the stale statistics of tables
    /// that grew from empty seconds ago.
    analyze: bool,
}

fn parse_opts() -> anyhow::Result<Opts> {
    let mut users = 10_000;
    let mut concurrency = 16;
    let mut group_size = 100;
    let mut groups = None;
    let mut workers = 0;
    let mut pool = 32;
    let mut skip_floor = false;
    let mut sqlite = false;
    let mut analyze = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> anyhow::Result<usize> {
            let v = args
                .next()
                .with_context(|| format!("{name} needs a value"))?;
            v.parse()
                .with_context(|| format!("{name} must be a number, not `{v}`"))
        };
        match a.as_str() {
            "--users" => users = num("--users")?,
            "--concurrency" => concurrency = num("--concurrency")?,
            "--group-size" => group_size = num("--group-size")?,
            "--groups" => groups = Some(num("--groups")?),
            "--workers" => workers = num("--workers")?,
            "--database-pool" => pool = num("--database-pool")?,
            "--skip-floor" => skip_floor = true,
            "--sqlite" => sqlite = true,
            "--no-analyze" => analyze = false,
            // cargo passes `--bench`; libtest-style filters are ignored too.
            _ => {}
        }
    }
    ensure!(users > 0, "--users must be positive");
    ensure!(concurrency > 0, "--concurrency must be positive");
    ensure!(
        group_size > 0 && group_size <= users,
        "--group-size must be between 1 and --users"
    );
    Ok(Opts {
        users,
        concurrency,
        group_size,
        groups: groups.unwrap_or(users / group_size),
        workers,
        pool,
        skip_floor,
        sqlite,
        analyze,
    })
}

// ------------------------------------------------------------------ load runner

/// One measured phase.
struct Phase {
    name: &'static str,
    requests: usize,
    wall: Duration,
    /// Per-request latencies, sorted ascending.
    latencies: Vec<Duration>,
    /// CPU % of one core: client/gateway/postgres.
    cpu: String,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }

    /// Nearest-rank percentile in milliseconds.
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let rank = (p * self.latencies.len() as f64).ceil() as usize;
        let i = rank.clamp(1, self.latencies.len()) - 1;
        self.latencies[i].as_secs_f64() * 1000.0
    }

    fn max_ms(&self) -> f64 {
        self.latencies
            .last()
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

/// Run `op(0..n)` with `concurrency` tasks pulling indices from a shared
/// counter. Returns the phase timing and each index's output, in order.
/// The first error stops every task and is returned.
async fn run_phase<T, F, Fut>(
    name: &'static str,
    n: usize,
    concurrency: usize,
    server_pid: u32,
    op: F,
) -> anyhow::Result<(Phase, Vec<T>)>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = Cpu::now(server_pid);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.min(n) {
        let (op, next, stop) = (op.clone(), next.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t0 = Instant::now();
                match op(i).await {
                    Ok(v) => done.push((i, t0.elapsed(), v)),
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e.context(format!("{name} #{i}")));
                    }
                }
            }
            Ok(done)
        }));
    }
    let mut all = Vec::with_capacity(n);
    let mut first_err = None;
    for t in tasks {
        match t.await? {
            Ok(done) => all.extend(done),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let wall = started.elapsed();
    let cpu = match (cpu_before, Cpu::now(server_pid)) {
        (Some(b), Some(a)) => a.percent_since(b, wall),
        _ => "-".to_owned(),
    };
    if let Some(e) = first_err {
        return Err(e);
    }
    all.sort_by_key(|(i, _, _)| *i);
    let mut latencies: Vec<Duration> = all.iter().map(|(_, d, _)| *d).collect();
    latencies.sort_unstable();
    let outputs = all.into_iter().map(|(_, _, v)| v).collect();
    Ok((
        Phase {
            name,
            requests: n,
            wall,
            latencies,
            cpu,
        },
        outputs,
    ))
}

/// The response body when the status is one of `ok`, else an error carrying it.
async fn expect(resp: reqwest::Response, ok: &[u16], what: &str) -> anyhow::Result<String> {
    let status = resp.status();
    let body = resp.text().await?;
    if ok.contains(&status.as_u16()) {
        Ok(body)
    } else {
        Err(anyhow!("{what}: unexpected {status}; body: {body}"))
    }
}

fn parse(body: &str) -> anyhow::Result<Value> {
    serde_json::from_str(body).with_context(|| format!("not JSON: {body}"))
}

/// Percent-encode a query value the way Entra does (`%20`, `%22`, `%40`).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ------------------------------------------------------------------ SCIM bodies

fn user_name(i: usize) -> String {
    format!("user{i}@bench.example")
}

fn user_body(i: usize) -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "userName": user_name(i),
        "externalId": format!("00000000-0000-4000-8000-{i:012}"),
        "active": true,
        "displayName": format!("Bench User {i}"),
        "name": {"givenName": "Bench", "familyName": format!("User{i}")},
        "emails": [{"value": user_name(i), "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": format!("{}", 100_000 + i),
            "department": format!("Department {}", i % 50)
        }
    })
}

fn user_patch(i: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": format!("Bench User {i} (renamed)")},
            {
                "op": "Replace",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "value": format!("Department {}", (i + 7) % 50)
            }
        ]
    })
}

fn group_body(g: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": format!("Bench Group {g}"),
        "externalId": format!("10000000-0000-4000-8000-{g:012}")
    })
}

// ------------------------------------------------------------------ the sync

/// What a SCIM phase task needs: client, base URL, user ids.
struct Ctx {
    client: reqwest::Client,
    base: String,
    ids: Vec<String>,
    server_pid: u32,
}

type Shared = Arc<Ctx>;

fn lookup_url(ctx: &Ctx, i: usize) -> String {
    let filter = format!("userName eq \"{}\"", user_name(i));
    format!("{}/Users?filter={}", ctx.base, encode(&filter))
}

async fn lookup(ctx: Shared, i: usize, want: u64) -> anyhow::Result<()> {
    let resp = ctx.client.get(lookup_url(&ctx, i)).send().await?;
    let body = parse(&expect(resp, &[200], "lookup").await?)?;
    let total = body["totalResults"].as_u64();
    ensure!(
        total == Some(want),
        "lookup of {}: totalResults {total:?}, expected {want}",
        user_name(i)
    );
    Ok(())
}

/// `ANALYZE` between phases, unless `--no-analyze`: the planner then sees the
/// tables as autovacuum keeps them on a live system, not as they were before
/// the previous phase filled them seconds ago.
async fn analyze(opts: &Opts, database_url: &str) -> anyhow::Result<()> {
    if !opts.analyze {
        return Ok(());
    }
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        match url.strip_prefix("sqlite://") {
            // Another process on the file: wait for the gateway's writer.
            Some(path) => diesel::SqliteConnection::establish(path)?
                .batch_execute("PRAGMA busy_timeout = 10000; ANALYZE")?,
            None => PgConnection::establish(&url)?.batch_execute("ANALYZE")?,
        }
        Ok(())
    })
    .await?
}

async fn sync(ctx: Ctx, opts: &Opts, database_url: &str) -> anyhow::Result<Vec<Phase>> {
    let (n, c, pid) = (opts.users, opts.concurrency, ctx.server_pid);
    let mut phases = Vec::new();
    let mut ctx = Arc::new(ctx);

    let x = ctx.clone();
    let (p, _) = run_phase("lookup", n, c, pid, move |i| lookup(x.clone(), i, 0)).await?;
    phases.push(p);

    let x = ctx.clone();
    let (p, ids) = run_phase("create", n, c, pid, move |i| {
        let x = x.clone();
        async move {
            let resp = x
                .client
                .post(format!("{}/Users", x.base))
                .json(&user_body(i))
                .send()
                .await?;
            let body = parse(&expect(resp, &[201], "create user").await?)?;
            body["id"]
                .as_str()
                .map(str::to_owned)
                .context("created user has no id")
        }
    })
    .await?;
    phases.push(p);
    analyze(opts, database_url).await?;
    ctx = Arc::new(Ctx {
        client: ctx.client.clone(),
        base: ctx.base.clone(),
        ids,
        server_pid: ctx.server_pid,
    });

    let x = ctx.clone();
    let (p, _) = run_phase("lookup-hit", n, c, pid, move |i| lookup(x.clone(), i, 1)).await?;
    phases.push(p);

    analyze(opts, database_url).await?;
    let x = ctx.clone();
    let (p, _) = run_phase("patch", n, c, pid, move |i| {
        let x = x.clone();
        async move {
            let resp = x
                .client
                .patch(format!("{}/Users/{}", x.base, x.ids[i]))
                .json(&user_patch(i))
                .send()
                .await?;
            expect(resp, &[200], "patch user").await.map(drop)
        }
    })
    .await?;
    phases.push(p);

    analyze(opts, database_url).await?;
    let x = ctx.clone();
    let (p, group_ids) = run_phase("groups", opts.groups, c, pid, move |g| {
        let x = x.clone();
        async move {
            let resp = x
                .client
                .post(format!("{}/Groups", x.base))
                .json(&group_body(g))
                .send()
                .await?;
            let body = parse(&expect(resp, &[201], "create group").await?)?;
            body["id"]
                .as_str()
                .map(str::to_owned)
                .context("created group has no id")
        }
    })
    .await?;
    phases.push(p);

    let x = ctx.clone();
    let size = opts.group_size;
    let group_ids = Arc::new(group_ids);
    analyze(opts, database_url).await?;
    let (p, _) = run_phase("members", opts.groups, c, pid, move |g| {
        let (x, group_ids) = (x.clone(), group_ids.clone());
        async move {
            // Group g takes users g*size .. g*size+size (wrapping): distinct within a group.
            let members: Vec<Value> = (0..size)
                .map(|k| json!({"value": x.ids[(g * size + k) % x.ids.len()]}))
                .collect();
            let patch = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Add", "path": "members", "value": members}]
            });
            let resp = x
                .client
                .patch(format!("{}/Groups/{}", x.base, group_ids[g]))
                .json(&patch)
                .send()
                .await?;
            expect(resp, &[204, 200], "add members").await.map(drop)
        }
    })
    .await?;
    phases.push(p);

    let x = ctx.clone();
    let pages = n.div_ceil(PAGE);
    analyze(opts, database_url).await?;
    let (p, counts) = run_phase("list", pages, c, pid, move |k| {
        let x = x.clone();
        async move {
            let url = format!("{}/Users?startIndex={}&count={PAGE}", x.base, k * PAGE + 1);
            let resp = x.client.get(url).send().await?;
            let body = parse(&expect(resp, &[200], "list users").await?)?;
            let total = body["totalResults"].as_u64();
            ensure!(
                total == Some(x.ids.len() as u64),
                "page {k}: totalResults {total:?}"
            );
            Ok(body["Resources"].as_array().map_or(0, Vec::len))
        }
    })
    .await?;
    let listed: usize = counts.iter().sum();
    ensure!(listed == n, "paging listed {listed} users, expected {n}");
    phases.push(p);

    analyze(opts, database_url).await?;
    let x = ctx.clone();
    let (p, _) = run_phase("delete", n, c, pid, move |i| {
        let x = x.clone();
        async move {
            let resp = x
                .client
                .delete(format!("{}/Users/{}", x.base, x.ids[i]))
                .send()
                .await?;
            expect(resp, &[204], "delete user").await.map(drop)
        }
    })
    .await?;
    phases.push(p);

    Ok(phases)
}

// ------------------------------------------------------------------ PostgreSQL floor

#[derive(QueryableByName)]
struct FloorRow {
    #[diesel(sql_type = Text)]
    v: String,
}

struct Floor {
    inserts: f64,
    selects: f64,
}

/// Run `op(thread, k)` on `threads` threads, each with its own connection,
/// for `secs` seconds; operations per second over all threads.
fn floor_run(
    url: &str,
    threads: usize,
    secs: u64,
    op: impl Fn(&mut PgConnection, usize, u64) -> anyhow::Result<()> + Send + Sync + 'static,
) -> anyhow::Result<f64> {
    let op = Arc::new(op);
    let total = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(threads + 1));
    let mut handles = Vec::new();
    for t in 0..threads {
        let mut conn = PgConnection::establish(url)?;
        let (op, total, start) = (op.clone(), total.clone(), start.clone());
        handles.push(std::thread::spawn(move || -> anyhow::Result<()> {
            start.wait();
            let deadline = Instant::now() + Duration::from_secs(secs);
            let mut k = 0u64;
            while Instant::now() < deadline {
                op(&mut conn, t, k)?;
                k += 1;
            }
            total.fetch_add(k, Ordering::Relaxed);
            Ok(())
        }));
    }
    start.wait();
    let t0 = Instant::now();
    for h in handles {
        h.join().map_err(|_| anyhow!("a floor thread panicked"))??;
    }
    Ok(total.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64())
}

fn measure_floor(url: &str, threads: usize) -> anyhow::Result<Floor> {
    let mut conn = PgConnection::establish(url)?;
    conn.batch_execute(
        "DROP TABLE IF EXISTS floor_t; CREATE TABLE floor_t (id text primary key, v text not null)",
    )?;
    let inserts = floor_run(url, threads, FLOOR_SECONDS, |c, t, k| {
        diesel::sql_query("INSERT INTO floor_t (id, v) VALUES ($1, $2)")
            .bind::<Text, _>(format!("{t}-{k}"))
            .bind::<Text, _>(format!("value of row {k} from thread {t}"))
            .execute(c)?;
        Ok(())
    })?;
    conn.batch_execute("ANALYZE floor_t")?;
    // Existing keys: each thread wrote "{t}-0" .. at least a few; read those.
    let per_thread: i64 = diesel::sql_query(
        "SELECT min(cnt)::text AS v FROM (SELECT count(*) AS cnt FROM floor_t GROUP BY split_part(id, '-', 1)) s",
    )
    .get_result::<FloorRow>(&mut conn)?
    .v
    .parse()?;
    ensure!(per_thread > 0, "the insert floor wrote nothing");
    let per_thread = per_thread as u64;
    let selects = floor_run(url, threads, FLOOR_SECONDS, move |c, t, k| {
        let key = format!("{t}-{}", k.wrapping_mul(2_654_435_761) % per_thread);
        let rows = diesel::sql_query("SELECT v FROM floor_t WHERE id = $1")
            .bind::<Text, _>(key)
            .load::<FloorRow>(c)?;
        ensure!(rows.len() == 1, "floor select found {} rows", rows.len());
        Ok(())
    })?;
    conn.batch_execute("DROP TABLE floor_t")?;
    Ok(Floor { inserts, selects })
}

// ------------------------------------------------------------------ report

/// (req/s target, whether the p99 target applies, which floor compares).
fn target(phase: &str, sqlite: bool) -> (Option<f64>, bool, FloorKind) {
    if sqlite {
        // SPEC §5 / issue 8 item 9: the embedded store's sync targets.
        return match phase {
            "create" => (Some(SQLITE_CREATE_TARGET), true, FloorKind::Insert),
            "members" | "list" => (None, false, FloorKind::Select),
            _ => (None, true, FloorKind::Select),
        };
    }
    match phase {
        "lookup" | "lookup-hit" => (Some(12_000.0), true, FloorKind::Select),
        "create" => (Some(4_000.0), true, FloorKind::Insert),
        "patch" => (Some(4_000.0), true, FloorKind::Insert),
        "groups" => (None, true, FloorKind::Insert),
        "members" => (Some(200.0), false, FloorKind::Insert),
        "list" => (Some(500.0), false, FloorKind::Select),
        "delete" => (Some(4_000.0), true, FloorKind::Insert),
        _ => (None, false, FloorKind::Insert),
    }
}

#[derive(Clone, Copy)]
enum FloorKind {
    Insert,
    Select,
}

fn report(phases: &[Phase], floor: Option<&Floor>, opts: &Opts) {
    println!();
    println!(
        "{:<11} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8}  {:<18} {:<5} {:>10}  {:>12}",
        "phase",
        "requests",
        "wall s",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "target",
        "met",
        "÷ floor",
        "cpu% c/s/pg"
    );
    for p in phases {
        let (rate_target, p99_applies, kind) = target(p.name, opts.sqlite);
        let p99_target = if opts.sqlite {
            SQLITE_P99_TARGET_MS
        } else {
            SINGLE_P99_TARGET_MS
        };
        let mut target_text = String::new();
        let mut met = true;
        if let Some(t) = rate_target {
            target_text.push_str(&format!("≥{t:.0}/s"));
            met &= p.rate() >= t;
        }
        if p99_applies {
            if !target_text.is_empty() {
                target_text.push(' ');
            }
            target_text.push_str(&format!("p99≤{p99_target:.0}"));
            met &= p.percentile_ms(0.99) <= p99_target;
        }
        let ratio = floor.map_or("-".to_owned(), |f| {
            let (base, tag) = match kind {
                FloorKind::Insert => (f.inserts, "ins"),
                FloorKind::Select => (f.selects, "sel"),
            };
            format!("{:.2} {tag}", p.rate() / base)
        });
        println!(
            "{:<11} {:>8} {:>8.2} {:>9.0} {:>8.2} {:>8.2} {:>8.2}  {:<18} {:<5} {:>10}  {:>12}",
            p.name,
            p.requests,
            p.wall.as_secs_f64(),
            p.rate(),
            p.percentile_ms(0.50),
            p.percentile_ms(0.99),
            p.max_ms(),
            target_text,
            if met { "yes" } else { "NO" },
            ratio,
            p.cpu
        );
    }
    println!(
        "(cpu% c/s/pg: percent of one core used by this client, the gateway and all postgres processes; {} cores in all)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if let Some(f) = floor {
        println!();
        println!(
            "PostgreSQL floor at concurrency {} ({} threads, one connection each, {FLOOR_SECONDS} s each):",
            opts.concurrency, opts.concurrency
        );
        println!("  durable single-row INSERT   {:>9.0} /s", f.inserts);
        println!("  primary-key SELECT          {:>9.0} /s", f.selects);
    }
}

/// The 1/5/15-minute load averages, to notice other work on the machine.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".to_owned(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

fn sqlite_facts() -> String {
    match diesel::SqliteConnection::establish(":memory:") {
        Ok(mut c) => diesel::sql_query("SELECT sqlite_version() AS v")
            .get_result::<FloorRow>(&mut c)
            .map_or_else(
                |e| format!("SQLite ? ({e})"),
                |r| format!("SQLite {} (WAL, synchronous=NORMAL, one writer)", r.v),
            ),
        Err(e) => format!("SQLite: {e}"),
    }
}

fn pg_facts(url: &str) -> String {
    let fact = |c: &mut PgConnection, q: &str| -> String {
        diesel::sql_query(q)
            .get_result::<FloorRow>(c)
            .map_or_else(|e| format!("? ({e})"), |r| r.v)
    };
    match PgConnection::establish(url) {
        Ok(mut c) => {
            let version = fact(&mut c, "SELECT current_setting('server_version') AS v");
            let sync = fact(&mut c, "SELECT current_setting('synchronous_commit') AS v");
            let fsync = fact(&mut c, "SELECT current_setting('fsync') AS v");
            let max = fact(&mut c, "SELECT current_setting('max_connections') AS v");
            format!(
                "PostgreSQL {version}, synchronous_commit={sync}, fsync={fsync}, max_connections={max}"
            )
        }
        Err(e) => format!("PostgreSQL: {e}"),
    }
}

// ------------------------------------------------------------------ main

fn run(opts: &Opts) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The database lives as long as `_scratch` / `_dir`.
    let (_scratch, _dir, db_name, db_url) = if opts.sqlite {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("bench.db");
        let url = format!("sqlite://{}", path.display());
        (None, Some(dir), path.display().to_string(), url)
    } else {
        let db = ScratchDb::create()?;
        let (name, url) = (db.name.clone(), db.url.clone());
        (Some(db), None, name, url)
    };
    let backend_facts = if opts.sqlite {
        sqlite_facts()
    } else {
        pg_facts(&db_url)
    };
    println!(
        "scim_sync: Entra-style initial sync over HTTP on {}",
        if opts.sqlite { "SQLite" } else { "PostgreSQL" }
    );
    println!(
        "machine: {cores} cores, load average {}; {backend_facts}",
        load_average(),
    );
    println!(
        "load: users N={}, concurrency C={}, groups G={} x {} members, server workers={} ({}), database pool={}",
        opts.users,
        opts.concurrency,
        opts.groups,
        opts.group_size,
        opts.workers,
        if opts.workers == 0 {
            "per core"
        } else {
            "fixed"
        },
        opts.pool
    );
    println!("database: {db_name}; binary: {BIN}");

    cli(&db_url, &["org", "create", "bench"])?;
    let out = cli(
        &db_url,
        &["directory", "create", "--org", "bench", "--name", "entra"],
    )?;
    let mut lines = out.lines().map(str::trim).filter(|l| !l.is_empty());
    let (path, token) = match (lines.next(), lines.next()) {
        (Some(p), Some(t)) => (p.to_owned(), t.to_owned()),
        _ => bail!("`directory create` printed `{out}`, expected a path and a token"),
    };

    let gateway = Gateway::start(&db_url, opts.workers, opts.pool)?;
    println!("gateway: http://{}{path}", gateway.address);

    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse()?,
    );
    headers.insert(reqwest::header::ACCEPT, "application/scim+json".parse()?);
    let client = reqwest::Client::builder()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(opts.concurrency * 2)
        .default_headers(headers)
        .timeout(Duration::from_secs(60))
        .build()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let phases = rt.block_on(async {
        gateway.wait_ready(&client).await?;
        let ctx = Ctx {
            client: client.clone(),
            base: gateway.url(&path),
            ids: Vec::new(),
            server_pid: gateway.child.id(),
        };
        sync(ctx, opts, &db_url).await
    });
    let phases = match phases {
        Ok(p) => p,
        Err(e) => {
            print_server_log(&gateway);
            return Err(e);
        }
    };
    drop(rt);

    let floor = if opts.skip_floor || opts.sqlite {
        None
    } else {
        Some(measure_floor(&db_url, opts.concurrency)?)
    };
    println!("load average at the end: {}", load_average());
    report(&phases, floor.as_ref(), opts);
    print_server_log(&gateway);
    Ok(())
}

fn print_server_log(gateway: &Gateway) {
    let log = gateway.log.lock().unwrap();
    println!();
    if log.count == 0 {
        println!("server log: no warnings or errors");
        return;
    }
    println!(
        "server log: {} lines at WARN or above; first ones:",
        log.count
    );
    for l in &log.first {
        println!("  {l}");
    }
}

fn main() -> ExitCode {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("scim_sync: {e:#}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scim_sync: {e:#}");
            ExitCode::FAILURE
        }
    }
}
