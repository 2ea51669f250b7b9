//! What the benchmarks share: a scratch PostgreSQL database, the release
//! gateway as a child process on a free port, and CPU accounting from /proc.
//! Each bench includes it with `mod common;`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use reqwest::StatusCode;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_rollcall");
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

// ------------------------------------------------------------------ database guard

/// A scratch database, dropped (forcibly) when this goes out of scope.
pub struct ScratchDb {
    pub admin_url: String,
    pub name: String,
    pub url: String,
}

impl ScratchDb {
    pub fn create() -> anyhow::Result<ScratchDb> {
        let admin_url =
            std::env::var("BENCH_PG_ADMIN_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let name = format!("rollcall_bench_{:016x}", rand::random::<u64>());
        let mut conn = PgConnection::establish(&admin_url)
            .with_context(|| format!("connecting to {admin_url}"))?;
        conn.batch_execute(&format!("CREATE DATABASE {name}"))?;
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .context("admin URL has no database part")?;
        let url = format!("{base}/{name}");
        Ok(ScratchDb {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let dropped = PgConnection::establish(&self.admin_url)
            .map_err(anyhow::Error::from)
            .and_then(|mut c| {
                c.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .map_err(anyhow::Error::from)
            });
        if let Err(e) = dropped {
            eprintln!("warning: could not drop database {}: {e:#}", self.name);
        }
    }
}

// ------------------------------------------------------------------ gateway child

/// Run one administrative command of the gateway binary; its stdout.
pub fn cli(db_url: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .env_remove("ROLLCALL_ENV")
        .output()
        .with_context(|| format!("running {BIN}"))?;
    ensure!(
        out.status.success(),
        "`rollcall {}` failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// What the server wrote at WARN or above (or outside the JSON format).
#[derive(Default)]
pub struct ServerLog {
    pub count: usize,
    pub first: Vec<String>,
}

/// `rollcall serve` as a child process, killed by PID when dropped.
pub struct Gateway {
    pub child: Child,
    pub address: String,
    pub log: Arc<Mutex<ServerLog>>,
}

impl Gateway {
    pub fn start(db_url: &str, workers: usize, pool: usize) -> anyhow::Result<Gateway> {
        Self::start_with(db_url, workers, pool, &[])
    }

    /// [`Gateway::start`] with more `ROLLCALL__…` settings.
    pub fn start_with(
        db_url: &str,
        workers: usize,
        pool: usize,
        env: &[(&str, String)],
    ) -> anyhow::Result<Gateway> {
        let mut child = Command::new(BIN)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("serve")
            .env("DATABASE_URL", db_url)
            .env("ROLLCALL__SERVER__PORT", "0")
            .env("ROLLCALL__SERVER__WORKERS", workers.to_string())
            .env("ROLLCALL__DATABASE__POOL_SIZE", pool.to_string())
            .env("ROLLCALL__LOG__FORMAT", "json")
            .env("ROLLCALL__LOG__LEVEL", "info")
            .env("RUST_LOG", "rollcall::startup=info,warn")
            .env_remove("ROLLCALL_ENV")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {BIN} serve"))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(ServerLog::default()));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        // Drain stderr for the whole run: the address once, then warnings.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let parsed: Option<Value> = serde_json::from_str(&line).ok();
                let field = |k: &str| {
                    parsed
                        .as_ref()
                        .and_then(|v| v.get(k))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                if field("message").as_deref() == Some("listening") {
                    if let Some(a) = field("address") {
                        let _ = tx.send(a);
                    }
                    continue;
                }
                if matches!(field("level").as_deref(), Some("INFO" | "DEBUG" | "TRACE")) {
                    continue;
                }
                let mut l = sink.lock().unwrap();
                l.count += 1;
                if l.first.len() < 10 {
                    l.first.push(line);
                }
            }
        });
        let mut gw = Gateway {
            child,
            address: String::new(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(a) => {
                    gw.address = a;
                    return Ok(gw);
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                    if let Some(status) = gw.child.try_wait()? {
                        bail!(
                            "the gateway exited at start-up ({status}): {}",
                            gw.log_text()
                        );
                    }
                }
                Err(_) => bail!("the gateway never logged its address: {}", gw.log_text()),
            }
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().first.join("\n")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn wait_ready(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(self.url("/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "/readyz never answered 200");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn print_log(&self) {
        let log = self.log.lock().unwrap();
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
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // `Child::kill` signals this child's PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ CPU accounting

/// CPU seconds used so far by this process (the client), the gateway, and all
/// `postgres` processes on the machine, from Linux `/proc` (USER_HZ = 100).
#[derive(Clone, Copy)]
pub struct Cpu {
    pub client: f64,
    pub server: f64,
    pub postgres: f64,
}

/// (command name, CPU seconds) from a `/proc/<pid>/stat` line.
pub fn proc_stat(pid: &str) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((stat[open + 1..close].to_owned(), (utime + stime) / 100.0))
}

impl Cpu {
    pub fn now(server_pid: u32) -> Option<Cpu> {
        let client = proc_stat("self")?.1;
        let server = proc_stat(&server_pid.to_string())?.1;
        let mut postgres = 0.0;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.bytes().all(|b| b.is_ascii_digit())
                && let Some((comm, secs)) = proc_stat(&name)
                && comm == "postgres"
            {
                postgres += secs;
            }
        }
        Some(Cpu {
            client,
            server,
            postgres,
        })
    }

    /// Percent of one core each used between `before` and `self` over `wall`.
    pub fn percent_since(self, before: Cpu, wall: Duration) -> String {
        let pct = |a: f64, b: f64| (100.0 * (a - b) / wall.as_secs_f64()).max(0.0);
        format!(
            "{:.0}/{:.0}/{:.0}",
            pct(self.client, before.client),
            pct(self.server, before.server),
            pct(self.postgres, before.postgres)
        )
    }
}
