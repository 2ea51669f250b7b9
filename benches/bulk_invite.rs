//! Bulk invite of 10,000 rows on PostgreSQL (issue "7 of 11", item 8): not a
//! test, a measurement. The harness creates a scratch database, an org and
//! an API key with the release `rollcall` binary, starts a real SMTP server
//! on loopback (python aiosmtpd, `tests/support/smtp_sink.py`) and `rollcall
//! serve` as a child process sending to it, then POSTs one bulk request of N
//! rows (above `invites.bulk_job_threshold`, so it runs as a job) and
//! prints:
//!
//! - the time until every invite is stored and its message queued (the job
//!   reports `done`), against the target of 5 s;
//! - the time until the SMTP sink has accepted every message, against 30 s;
//! - the gateway's peak resident memory (VmHWM), against 128 MB.
//!
//! ```text
//! cargo bench --bench bulk_invite -- --rows 10000
//! ```
//!
//! Flags: `--rows N` (10000), `--concurrency C` (outbox sends at once, 8).
//! Needs PostgreSQL at 127.0.0.1:5432 (override with `BENCH_PG_ADMIN_URL`)
//! and python3 with aiosmtpd.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

use common::{Cpu, Gateway, ScratchDb, cli, proc_stat};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn count_mail(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bulk_invite bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let rows = arg("--rows", 10_000);
    let concurrency = arg("--concurrency", 8);
    let db = ScratchDb::create()?;
    cli(&db.url, &["migrate"])?;
    cli(&db.url, &["org", "create", "bench", "--name", "Bench Inc"])?;
    let key = cli(&db.url, &["api-key", "create", "--org", "bench"])?
        .trim()
        .to_owned();

    let maildir = tempfile::tempdir()?;
    let smtp_port = free_port();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
    let mut sink = Command::new("python3")
        .arg(&script)
        .arg(smtp_port.to_string())
        .arg(maildir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the SMTP sink (python3 with aiosmtpd)")?;
    let mut line = String::new();
    BufReader::new(sink.stdout.take().unwrap()).read_line(&mut line)?;
    ensure!(line.trim() == "ready", "the SMTP sink did not start");

    let env = [
        (
            "ROLLCALL__SERVER__PUBLIC_URL",
            "https://rollcall.test".to_owned(),
        ),
        ("ROLLCALL__EMAIL__TRANSPORT", "smtp".to_owned()),
        ("ROLLCALL__EMAIL__FROM", "rollcall@example.org".to_owned()),
        (
            "ROLLCALL__EMAIL__OUTBOX_KEY",
            "bench-outbox-key-0123456789abcdef-0123".to_owned(),
        ),
        ("ROLLCALL__EMAIL__SMTP__HOST", "127.0.0.1".to_owned()),
        ("ROLLCALL__EMAIL__SMTP__PORT", smtp_port.to_string()),
        ("ROLLCALL__EMAIL__SMTP__TLS", "none".to_owned()),
        ("ROLLCALL__EMAIL__SMTP__POOL_SIZE", concurrency.to_string()),
        (
            "ROLLCALL__EMAIL__OUTBOX__CONCURRENCY",
            concurrency.to_string(),
        ),
        ("ROLLCALL__EMAIL__OUTBOX__BATCH_SIZE", "64".to_owned()),
        (
            "ROLLCALL__EMAIL__OUTBOX__POLL_INTERVAL_MS",
            "100".to_owned(),
        ),
    ];
    let gw = Gateway::start_with(&db.url, 0, 16, &env)?;
    let pid = gw.child.id();
    let sink_pid = sink.id().to_string();
    let sink_cpu = || proc_stat(&sink_pid).map(|(_, s)| s).unwrap_or(0.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build()?;
        gw.wait_ready(&client).await?;
        let idle_rss = kib(pid, "VmRSS:").unwrap_or(0);
        let body: Vec<Value> = (0..rows)
            .map(|i| json!({"email": format!("person{i}@example.com"), "name": format!("Person {i}"), "role": "read_only"}))
            .collect();
        let body = serde_json::to_vec(&body)?;
        println!("bulk invite: {rows} rows ({} KiB) on PostgreSQL", body.len() / 1024);
        let cpu_before = Cpu::now(pid);
        let sink_before = sink_cpu();
        let started = Instant::now();
        let r = client
            .post(gw.url("/api/v1/orgs/bench/invites/bulk"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = r.status();
        let text = r.text().await?;
        let accepted = started.elapsed();
        let location = match status.as_u16() {
            202 => serde_json::from_str::<Value>(&text)?["location"]
                .as_str()
                .context("no job location")?
                .to_owned(),
            200 => String::new(),
            _ => bail!("bulk request answered {status}: {text}"),
        };
        let mut peak_rss = 0;
        let mut stored = None;
        let mut mailed = None;
        while mailed.is_none() {
            peak_rss = peak_rss.max(kib(pid, "VmRSS:").unwrap_or(0));
            if stored.is_none() {
                if location.is_empty() {
                    stored = Some(accepted);
                } else {
                    let job: Value = client
                        .get(gw.url(&location))
                        .bearer_auth(&key)
                        .send()
                        .await?
                        .json()
                        .await?;
                    if job["status"] == "done" {
                        stored = Some(started.elapsed());
                        println!("  job report: {}", job["summary"]);
                    }
                }
            }
            if count_mail(maildir.path()) >= rows {
                mailed = Some(started.elapsed());
            }
            ensure!(started.elapsed() < Duration::from_secs(600), "gave up after 10 minutes");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let hwm = kib(pid, "VmHWM:").unwrap_or(peak_rss);
        if let (Some(before), Some(after)) = (cpu_before, Cpu::now(pid)) {
            println!(
                "  CPU seconds until delivered: gateway {:.1}, SMTP sink {:.1}, postgres {:.1}, this client {:.1}",
                after.server - before.server,
                sink_cpu() - sink_before,
                after.postgres - before.postgres,
                after.client - before.client
            );
        }
        println!("  request answered (202 + job) after   {:>8.2} s", accepted.as_secs_f64());
        println!(
            "  every invite stored and queued after {:>8.2} s   (target 5 s)",
            stored.unwrap_or_default().as_secs_f64()
        );
        println!(
            "  every message accepted by the sink    {:>8.2} s   (target 30 s)",
            mailed.unwrap_or_default().as_secs_f64()
        );
        println!(
            "  gateway peak RSS (VmHWM)              {:>8.1} MB  (target 128 MB; {:.1} MB when idle before the request)",
            hwm as f64 / 1024.0,
            idle_rss as f64 / 1024.0
        );
        Ok::<_, anyhow::Error>(())
    });
    gw.print_log();
    let _ = sink.kill();
    let _ = sink.wait();
    result
}
