//! Throughput of the OIDC callback (code exchange over HTTP, ID token
//! verification with the cached JWKS, userinfo over HTTP) against the
//! loopback test OP.
//!
//! Authorizations — and so the OP's RSA signatures of the ID tokens — are
//! prepared before the timed window; the window covers only what the
//! relying party does per login: `OidcProvider::callback` with its token
//! POST, RS256 verification, claim checks and userinfo GET. C concurrent
//! tasks on a multi-threaded tokio runtime; the OP runs in the same process
//! with two workers, sharing the machine. Prints logins per second and
//! p50/p99. Target: ≥ 500/s. Run with `cargo bench --bench oidc_callback`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rollcall::sso::oidc::fixture::{TestOp, TokenSpec};
use rollcall::sso::oidc::{NetworkPolicy, OidcConfig, OidcProvider, PendingLogin};
use secrecy::SecretString;
use serde_json::json;

fn main() {
    let logins: usize = env("BENCH_OIDC_LOGINS", 2_000);
    let concurrency: usize = env("BENCH_OIDC_CONCURRENCY", 16);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(logins, concurrency));
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(logins: usize, concurrency: usize) {
    let op = TestOp::start(2, true);
    let mut config = OidcConfig::new(
        op.issuer.clone(),
        op.client_id.clone(),
        SecretString::from(op.client_secret.clone()),
        "https://rollcall.example/sso/oidc/acme/callback",
    );
    config.network = NetworkPolicy {
        allow_private_networks: true,
        allow_plain_http: true,
    };
    let rp = Arc::new(OidcProvider::discover(config).await.expect("discovery"));

    let prepare = Instant::now();
    let mut work = Vec::with_capacity(logins);
    for i in 0..logins {
        let mut spec = TokenSpec::new(&format!("sub-{i}"));
        spec.userinfo_claims = json!({
            "email": format!("user{i}@acme.example"),
            "email_verified": true,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "groups": ["analysts", "admins"],
        })
        .as_object()
        .cloned()
        .expect("object");
        let start = rp.authorization_start();
        let params = op.authorize(&start.url, &spec);
        let pending = PendingLogin {
            state: start.state,
            nonce: start.nonce,
            pkce_verifier: start.pkce_verifier,
        };
        work.push((params, pending));
    }
    println!(
        "oidc_callback: {logins} authorizations prepared in {:.1} s; {concurrency} concurrent callbacks",
        prepare.elapsed().as_secs_f64()
    );

    let queue = Arc::new(std::sync::Mutex::new(work));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let queue = queue.clone();
        let rp = rp.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = queue.lock().expect("queue").pop();
                let Some((params, pending)) = next else { break };
                let t = Instant::now();
                let identity = rp
                    .callback(&params, &pending, Utc::now())
                    .await
                    .expect("login");
                std::hint::black_box(identity);
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(logins);
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let rate = logins as f64 / elapsed.as_secs_f64();
    println!(
        "{logins} callbacks in {:.2} s = {rate:.0} logins/s  p50 {:.2} ms  p99 {:.2} ms  (target ≥ 500/s: {})",
        elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        if rate >= 500.0 { "met" } else { "NOT met" }
    );
}
