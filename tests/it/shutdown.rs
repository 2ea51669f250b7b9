//! SIGTERM under load (SPEC §4 "graceful shutdown"): the built `rollcall
//! serve` binary, many HTTP/1.1 keep-alive clients written against raw
//! sockets (so nothing retries behind our back), SIGTERM in the middle.
//! Every request that reached the server gets a complete response; requests
//! sent on a kept-alive connection during the grace period are answered with
//! `Connection: close`; afterwards new connections are refused. A reset or an
//! incomplete response is a failure; a refused connection is not.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Backend, TestDb};

const CLIENTS: usize = 32;

/// `rollcall serve` on port 0; returns the child and its bound address.
fn serve(db: &TestDb, dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .arg("serve")
        .current_dir(dir)
        .env("DATABASE_URL", &db.url)
        .env_remove("ROLLCALL_ENV")
        .env("ROLLCALL__SERVER__PORT", "0")
        .env("ROLLCALL__SERVER__WORKERS", "2")
        .env("ROLLCALL__SERVER__SHUTDOWN_TIMEOUT_SECS", "10")
        .env("ROLLCALL__LOG__LEVEL", "info")
        .env("ROLLCALL__LOG__FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the log on a thread (the server must never block on a full pipe);
    // the bound address comes from the "listening" line.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["message"] == "listening"
                && let Some(a) = v["address"].as_str()
            {
                let _ = tx.send(a.to_owned());
            }
        }
    });
    let address = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(a) => a,
        Err(_) => {
            let _ = child.kill();
            panic!("the server did not log its address");
        }
    };
    (child, address)
}

#[derive(Debug, Default)]
struct Tally {
    complete: usize,
    complete_after_sigterm: usize,
    told_to_close: usize,
    refused_after_sigterm: usize,
    failures: Vec<String>,
}

/// Read one response: `Ok(Some(close?))` when complete, `Ok(None)` on a clean
/// EOF before its first byte, `Err` for anything else (reset, cut short).
async fn read_response(s: &mut TcpStream) -> Result<Option<bool>, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(Duration::from_secs(15), s.read(&mut chunk))
            .await
            .map_err(|_| "no response within 15 s".to_owned())?
            .map_err(|e| format!("{e} after {} bytes", buf.len()))?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(format!("EOF inside the head after {} bytes", buf.len()))
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200") {
        return Err(format!("unexpected answer: {head}"));
    }
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .ok_or("no content-length")?
        .trim()
        .parse()
        .map_err(|_| "bad content-length")?;
    while buf.len() < head_end + length {
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| format!("{e} inside the body"))?;
        if n == 0 {
            return Err("EOF inside the body".to_owned());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let close = head
        .lines()
        .any(|l| l.starts_with("connection:") && l.contains("close"));
    Ok(Some(close))
}

/// One client: requests on a kept-alive connection, `pause` apart (so some
/// connections are idle when SIGTERM comes and send on them just after), a
/// new connection when told to close, until one is refused after SIGTERM.
async fn client(
    address: String,
    sigterm: Arc<AtomicBool>,
    deadline: Instant,
    pause: Duration,
) -> Tally {
    let mut t = Tally::default();
    let mut conn: Option<TcpStream> = None;
    while Instant::now() < deadline {
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let stream = match conn.as_mut() {
            Some(s) => s,
            None => match TcpStream::connect(&address).await {
                Ok(s) => conn.insert(s),
                Err(e)
                    if e.kind() == std::io::ErrorKind::ConnectionRefused
                        && sigterm.load(Ordering::SeqCst) =>
                {
                    t.refused_after_sigterm += 1;
                    return t;
                }
                Err(e) => {
                    t.failures.push(format!("connect: {e}"));
                    return t;
                }
            },
        };
        let after = sigterm.load(Ordering::SeqCst);
        if let Err(e) = stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: rollcall\r\n\r\n")
            .await
        {
            t.failures
                .push(format!("write (after SIGTERM: {after}): {e}"));
            return t;
        }
        match read_response(stream).await {
            Ok(Some(close)) => {
                t.complete += 1;
                if after {
                    t.complete_after_sigterm += 1;
                }
                if close {
                    t.told_to_close += 1;
                    conn = None;
                }
            }
            Ok(None) => {
                t.failures.push(format!(
                    "connection closed under a sent request (after SIGTERM: {after})"
                ));
                return t;
            }
            Err(e) => {
                t.failures.push(format!("{e} (after SIGTERM: {after})"));
                return t;
            }
        }
    }
    t
}

async fn sigterm_under_keep_alive_load_cuts_no_request(backend: Backend) {
    // SIGTERM at different moments of the load.
    for (round, load) in [700u64, 450, 900].into_iter().enumerate() {
        one_round(backend, round, Duration::from_millis(load)).await;
    }
}

async fn one_round(backend: Backend, round: usize, load: Duration) {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().unwrap();
    let (mut child, address) = serve(&db, dir.path());
    let sigterm = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(30);
    let start = Arc::new(tokio::sync::Barrier::new(CLIENTS + 1));
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let (a, s, b) = (address.clone(), sigterm.clone(), start.clone());
        // Half the clients send back to back, the others pause up to 75 ms.
        let pause = Duration::from_millis(if i % 2 == 0 { 0 } else { (i as u64 * 7) % 75 });
        clients.push(tokio::spawn(async move {
            b.wait().await;
            client(a, s, deadline, pause).await
        }));
    }
    start.wait().await;
    tokio::time::sleep(load).await;
    sigterm.store(true, Ordering::SeqCst);
    let sent = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut total = Tally::default();
    for c in clients {
        let t = c.await.unwrap();
        total.complete += t.complete;
        total.complete_after_sigterm += t.complete_after_sigterm;
        total.told_to_close += t.told_to_close;
        total.refused_after_sigterm += t.refused_after_sigterm;
        total.failures.extend(t.failures);
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    let stopped_after = sent.elapsed();
    eprintln!(
        "{backend:?} round {round}: {total:?}; exited {status} {stopped_after:?} after SIGTERM"
    );
    assert!(
        total.failures.is_empty(),
        "{} requests cut: {:?}",
        total.failures.len(),
        total.failures
    );
    assert!(status.success(), "exit status {status}");
    assert!(
        total.complete > 5 * CLIENTS,
        "load before SIGTERM: {total:?}"
    );
    assert!(
        total.told_to_close >= CLIENTS,
        "every kept-alive connection is told to close: {total:?}"
    );
    assert_eq!(
        total.refused_after_sigterm, CLIENTS,
        "every client ends on a refused connection: {total:?}"
    );
    assert!(
        stopped_after < Duration::from_secs(10),
        "drained before the grace period ended: {stopped_after:?}"
    );
}

crate::http_suite!(sigterm_under_keep_alive_load_cuts_no_request);
