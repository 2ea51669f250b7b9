//! `POST /api/v1/orgs/{org}/authz/check` over HTTP against a running gateway
//! on PostgreSQL: the question the product asks on every page view.
//!
//! The harness creates a fresh database (`rollcall_bench_<random>`), provisions
//! with the release `rollcall` binary an org `acme` (preset `analytics`), a
//! workspace `ws1`, eight users holding the eight built-in roles and an API key,
//! starts `rollcall serve` as a child process on a free port, and then, with C
//! concurrent tasks on HTTP/1.1 keep-alive for D seconds each:
//!
//! - `single`: one check per request, cycling over users × permissions
//!   (workspace-scoped ones in `ws1`, org-scoped ones without a workspace);
//! - `batch`: `{"checks": [...]}` with `--batch` checks per request.
//!
//! It prints requests/s, checks/s and p50/p99/max latency per request, against
//! the target of ≥ 10,000 HTTP checks/s. The child is killed and the database
//! dropped at the end, also on failure.
//!
//! Needs PostgreSQL at 127.0.0.1:5432 (user `postgres`, trust; override with
//! `BENCH_PG_ADMIN_URL`). Run with
//!
//! ```text
//! cargo bench --bench authz_http -- --concurrency 16 --duration 10
//! ```
//!
//! Flags: `--concurrency C` (16), `--duration D` seconds per mode (10),
//! `--batch B` (100), `--workers W` (server workers, 0 = per core),
//! `--database-pool P` (32).

mod common;

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{BIN, Cpu, Gateway, ScratchDb, cli};

const TARGET_CHECKS_PER_SEC: f64 = 10_000.0;
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
/// (permission, asked in workspace `ws1`?)
const PERMISSIONS: [(&str, bool); 6] = [
    ("dashboards.view", true),
    ("dora.edit", true),
    ("metrics.edit", true),
    ("reports.individuals.view", true),
    ("org.tools.edit", false),
    ("billing.legacy", false),
];

// ------------------------------------------------------------------ flags

struct Opts {
    concurrency: usize,
    duration: Duration,
    batch: usize,
    workers: usize,
    pool: usize,
}

fn parse_opts() -> anyhow::Result<Opts> {
    let mut concurrency = 16;
    let mut duration = 10;
    let mut batch = 100;
    let mut workers = 0;
    let mut pool = 32;
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
            "--concurrency" => concurrency = num("--concurrency")?,
            "--duration" => duration = num("--duration")?,
            "--batch" => batch = num("--batch")?,
            "--workers" => workers = num("--workers")?,
            "--database-pool" => pool = num("--database-pool")?,
            // cargo passes `--bench`; libtest-style filters are ignored too.
            _ => {}
        }
    }
    ensure!(concurrency > 0, "--concurrency must be positive");
    ensure!(duration > 0, "--duration must be positive");
    ensure!(
        (1..=1000).contains(&batch),
        "--batch must be between 1 and 1000"
    );
    Ok(Opts {
        concurrency,
        duration: Duration::from_secs(duration as u64),
        batch,
        workers,
        pool,
    })
}

// ------------------------------------------------------------------ timed load

/// One measured mode.
struct Run {
    name: &'static str,
    requests: usize,
    checks: usize,
    allowed: usize,
    wall: Duration,
    /// Per-request latencies, sorted ascending.
    latencies: Vec<Duration>,
    /// CPU % of one core: client/gateway/postgres.
    cpu: String,
}

impl Run {
    fn per_sec(&self, n: usize) -> f64 {
        n as f64 / self.wall.as_secs_f64()
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

/// Run `op(k)` for k = 0, 1, … with `concurrency` tasks for `duration`;
/// `op` answers (checks answered, checks allowed). The first error stops all.
async fn run_for<F, Fut>(
    name: &'static str,
    duration: Duration,
    concurrency: usize,
    server_pid: u32,
    op: F,
) -> anyhow::Result<Run>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<(usize, usize)>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = Cpu::now(server_pid);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (op, next, stop) = (op.clone(), next.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let (mut checks, mut allowed) = (0, 0);
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let t0 = Instant::now();
                match op(k).await {
                    Ok((c, a)) => {
                        latencies.push(t0.elapsed());
                        checks += c;
                        allowed += a;
                    }
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e.context(format!("{name} request #{k}")));
                    }
                }
            }
            Ok((checks, allowed, latencies))
        }));
    }
    let mut run = Run {
        name,
        requests: 0,
        checks: 0,
        allowed: 0,
        wall: Duration::ZERO,
        latencies: Vec::new(),
        cpu: "-".to_owned(),
    };
    let mut first_err = None;
    for t in tasks {
        match t.await? {
            Ok((c, a, l)) => {
                run.checks += c;
                run.allowed += a;
                run.latencies.extend(l);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    run.wall = started.elapsed();
    if let (Some(b), Some(a)) = (cpu_before, Cpu::now(server_pid)) {
        run.cpu = a.percent_since(b, run.wall);
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    run.requests = run.latencies.len();
    run.latencies.sort_unstable();
    Ok(run)
}

/// The response body when the status is 200, else an error carrying it.
async fn expect_ok(resp: reqwest::Response, what: &str) -> anyhow::Result<Value> {
    let status = resp.status();
    let body = resp.text().await?;
    ensure!(
        status == StatusCode::OK,
        "{what}: unexpected {status}; body: {body}"
    );
    serde_json::from_str(&body).with_context(|| format!("{what}: not JSON: {body}"))
}

// ------------------------------------------------------------------ checks

struct Ctx {
    client: reqwest::Client,
    url: String,
    /// Every (user, permission) combination as a check body.
    checks: Vec<Value>,
    batch: usize,
}

fn check_bodies(user_ids: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for (p, in_ws) in PERMISSIONS {
        for u in user_ids {
            out.push(if in_ws {
                json!({"user": u, "permission": p, "workspace": "ws1"})
            } else {
                json!({"user": u, "permission": p})
            });
        }
    }
    out
}

async fn single(ctx: Arc<Ctx>, k: usize) -> anyhow::Result<(usize, usize)> {
    let body = &ctx.checks[k % ctx.checks.len()];
    let resp = ctx.client.post(&ctx.url).json(body).send().await?;
    let answer = expect_ok(resp, "check").await?;
    let allowed = answer["allowed"]
        .as_bool()
        .with_context(|| format!("no `allowed` in {answer}"))?;
    Ok((1, usize::from(allowed)))
}

async fn batch(ctx: Arc<Ctx>, k: usize) -> anyhow::Result<(usize, usize)> {
    let n = ctx.checks.len();
    let items: Vec<&Value> = (0..ctx.batch)
        .map(|j| &ctx.checks[(k * ctx.batch + j) % n])
        .collect();
    let resp = ctx
        .client
        .post(&ctx.url)
        .json(&json!({ "checks": items }))
        .send()
        .await?;
    let answer = expect_ok(resp, "batch check").await?;
    let results = answer["results"]
        .as_array()
        .with_context(|| format!("no `results` in {answer}"))?;
    ensure!(
        results.len() == ctx.batch,
        "{} results for {} checks",
        results.len(),
        ctx.batch
    );
    let mut allowed = 0;
    for r in results {
        match r["allowed"].as_bool() {
            Some(a) => allowed += usize::from(a),
            None => return Err(anyhow!("a batch item was not answered: {r}")),
        }
    }
    Ok((results.len(), allowed))
}

// ------------------------------------------------------------------ main

/// The 1/5/15-minute load averages, to notice other work on the machine.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".to_owned(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

fn report(runs: &[Run]) {
    println!();
    println!(
        "{:<7} {:>9} {:>9} {:>7} {:>9} {:>10} {:>8} {:>8} {:>8} {:>9}  {:<13} {:<4} {:>12}",
        "mode",
        "requests",
        "checks",
        "wall s",
        "req/s",
        "checks/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "allowed",
        "target",
        "met",
        "cpu% c/s/pg"
    );
    for r in runs {
        let rate = r.per_sec(r.checks);
        println!(
            "{:<7} {:>9} {:>9} {:>7.2} {:>9.0} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.1}%  {:<13} {:<4} {:>12}",
            r.name,
            r.requests,
            r.checks,
            r.wall.as_secs_f64(),
            r.per_sec(r.requests),
            rate,
            r.percentile_ms(0.50),
            r.percentile_ms(0.99),
            r.max_ms(),
            100.0 * r.allowed as f64 / r.checks.max(1) as f64,
            format!("≥{TARGET_CHECKS_PER_SEC:.0}/s"),
            if rate >= TARGET_CHECKS_PER_SEC {
                "yes"
            } else {
                "NO"
            },
            r.cpu
        );
    }
    println!(
        "(cpu% c/s/pg: percent of one core used by this client, the gateway and all postgres processes; {} cores in all)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}

fn run(opts: &Opts) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let db = ScratchDb::create()?;
    println!("authz_http: POST /api/v1/orgs/acme/authz/check over HTTP on PostgreSQL");
    println!(
        "machine: {cores} cores, load average {}; concurrency C={}, {} s per mode, batch={}, server workers={} ({}), database pool={}",
        load_average(),
        opts.concurrency,
        opts.duration.as_secs(),
        opts.batch,
        opts.workers,
        if opts.workers == 0 {
            "per core"
        } else {
            "fixed"
        },
        opts.pool
    );
    println!("database: {}; binary: {BIN}", db.name);

    cli(&db.url, &["org", "create", "acme", "--preset", "analytics"])?;
    cli(&db.url, &["workspace", "create", "--org", "acme", "ws1"])?;
    let mut user_ids = Vec::new();
    for (k, role) in ROLES.iter().enumerate() {
        let email = format!("u{k}@x.io");
        let out = cli(
            &db.url,
            &[
                "user", "create", "--org", "acme", "--email", &email, "--role", role,
            ],
        )?;
        let id = out
            .split('\t')
            .next()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .with_context(|| format!("`user create` printed `{out}`"))?;
        user_ids.push(id.to_owned());
    }
    let token = cli(&db.url, &["api-key", "create", "--org", "acme"])?
        .trim()
        .to_owned();
    ensure!(!token.is_empty(), "`api-key create` printed no token");
    let checks = check_bodies(&user_ids);
    println!(
        "checks: {} users (one per role) x {} permissions = {} combinations",
        user_ids.len(),
        PERMISSIONS.len(),
        checks.len()
    );

    let gateway = Gateway::start(&db.url, opts.workers, opts.pool)?;
    println!("gateway: http://{}", gateway.address);

    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse()?,
    );
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
    let pid = gateway.child.id();
    let result = rt.block_on(async {
        gateway.wait_ready(&client).await?;
        let ctx = Arc::new(Ctx {
            client: client.clone(),
            url: gateway.url("/api/v1/orgs/acme/authz/check"),
            checks,
            batch: opts.batch,
        });
        // Warm-up: open the connections, fill the token and policy caches.
        let x = ctx.clone();
        run_for(
            "warm-up",
            Duration::from_secs(1),
            opts.concurrency,
            pid,
            move |k| single(x.clone(), k),
        )
        .await?;
        let x = ctx.clone();
        let one = run_for("single", opts.duration, opts.concurrency, pid, move |k| {
            single(x.clone(), k)
        })
        .await?;
        let x = ctx.clone();
        let many = run_for("batch", opts.duration, opts.concurrency, pid, move |k| {
            batch(x.clone(), k)
        })
        .await?;
        anyhow::Ok(vec![one, many])
    });
    drop(rt);
    match result {
        Ok(runs) => {
            report(&runs);
            gateway.print_log();
            Ok(())
        }
        Err(e) => {
            gateway.print_log();
            Err(e)
        }
    }
}

fn main() -> ExitCode {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("authz_http: {e:#}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authz_http: {e:#}");
            ExitCode::FAILURE
        }
    }
}
