//! Single sign-on over HTTP against a running gateway (issue "8 of 11" item
//! 9): the SAML ACS POST → session → redirect, and the OIDC callback against
//! the loopback test OP (`sso::oidc::fixture::TestOp`, whose token endpoint
//! is a stub).
//!
//! The harness creates a scratch database (PostgreSQL, or SQLite with
//! `--sqlite`), an org `acme` (analytics preset) with the verified domain
//! `acme.com`, SSO-default on for that domain, a SAML connection (the test
//! IdP, RSA-2048, RSA-SHA256) and an OIDC connection (the test OP), starts
//! the release `rollcall serve` as a child process on a free port, and then
//! runs four phases of N logins each, with C concurrent tasks:
//!
//! - `saml new`: N distinct NameIDs and emails → SSO-default creates N users;
//! - `saml linked`: the same NameIDs again → signs in the linked identities;
//! - `oidc new` / `oidc linked`: the same over OIDC (distinct subjects).
//!
//! Before each timed window every login is started over HTTP
//! (`GET /sso/acme/start`: the pre-login record, RelayState or state, the
//! browser-binding cookie) and its answer is prepared: the IdP's signed
//! ~6 KB SAMLResponse for the AuthnRequest's id, or the OP's authorization
//! (code, ID token and userinfo minted by the fixture). The window covers only
//! the ACS POSTs / callback GETs, each of which must answer 303 with a session
//! cookie. Prints logins/s, p50/p99, and the CPU split (percent of one core:
//! this process — client and test OP —, the gateway, all postgres processes).
//! Targets: ≥ 500 logins/s each.
//!
//! Needs PostgreSQL at 127.0.0.1:5432 (user `postgres`, trust; override with
//! `BENCH_PG_ADMIN_URL`). Run with
//!
//! ```text
//! cargo bench --bench sso_http -- --logins 2000 --concurrency 16
//! ```
//!
//! Flags: `--logins N` (2000), `--concurrency C` (16), `--workers W` (server
//! workers, 0 = per core), `--database-pool P` (32), `--sqlite`,
//! `--only saml|oidc`.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use base64::Engine as _;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use rollcall::configuration::{DEFAULT_TOML, OutboxKey, Settings};
use rollcall::sso::connection::{
    ConnectionSettings, OidcSettings, SamlAttributes, SamlSettings, SpUrls, seal_secret,
};
use rollcall::sso::oidc::fixture::{TestOp, TokenSpec};
use rollcall::sso::saml::fixture::{ResponseSpec, TestIdp};
use rollcall::store::Store;
use rollcall::store::idp_connections::{self, NewConnection};
use serde_json::{Value, json};

use common::{BIN, Cpu, Gateway, ScratchDb, cli};

const TARGET_PER_SEC: f64 = 500.0;
const SECRET_KEY: &str = "sso-bench-secret-key-0123456789abcdef";

// ------------------------------------------------------------------ flags

struct Opts {
    logins: usize,
    concurrency: usize,
    workers: usize,
    pool: usize,
    sqlite: bool,
    only: Option<String>,
}

fn parse_opts() -> anyhow::Result<Opts> {
    let mut o = Opts {
        logins: 2_000,
        concurrency: 16,
        workers: 0,
        pool: 32,
        sqlite: false,
        only: None,
    };
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
            "--logins" => o.logins = num("--logins")?,
            "--concurrency" => o.concurrency = num("--concurrency")?,
            "--workers" => o.workers = num("--workers")?,
            "--database-pool" => o.pool = num("--database-pool")?,
            "--sqlite" => o.sqlite = true,
            "--only" => o.only = Some(args.next().context("--only needs saml or oidc")?),
            // cargo passes `--bench`; libtest-style filters are ignored too.
            _ => {}
        }
    }
    ensure!(o.logins > 0, "--logins must be positive");
    ensure!(o.concurrency > 0, "--concurrency must be positive");
    Ok(o)
}

// ------------------------------------------------------------------ one phase

/// One request of the timed window: URL, form body (SAML) or none (OIDC),
/// and the browser's cookies.
struct Prepared {
    url: String,
    form: Option<Vec<(&'static str, String)>>,
    cookie: String,
}

struct Phase {
    name: String,
    logins: usize,
    wall: Duration,
    latencies: Vec<Duration>,
    cpu: String,
    /// Where the successful logins were sent, and how many times.
    next: HashMap<String, usize>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.logins as f64 / self.wall.as_secs_f64()
    }
    fn ms(&self, p: f64) -> f64 {
        let rank = (p * self.latencies.len() as f64).ceil() as usize;
        let i = rank.clamp(1, self.latencies.len()) - 1;
        self.latencies[i].as_secs_f64() * 1e3
    }
}

/// Sends every prepared request with `concurrency` tasks; each must answer
/// 303 with a session cookie.
async fn timed(
    name: String,
    client: &reqwest::Client,
    work: Vec<Prepared>,
    concurrency: usize,
    server_pid: u32,
) -> anyhow::Result<Phase> {
    let logins = work.len();
    let queue = Arc::new(Mutex::new(work));
    let cpu_before = Cpu::now(server_pid);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (queue, client) = (queue.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut next: HashMap<String, usize> = HashMap::new();
            loop {
                let item = queue.lock().expect("queue").pop();
                let Some(p) = item else { break };
                let t = Instant::now();
                let req = match &p.form {
                    Some(form) => client.post(&p.url).form(form),
                    None => client.get(&p.url),
                };
                let resp = req.header(COOKIE, &p.cookie).send().await?;
                let status = resp.status();
                let location = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let session = resp
                    .headers()
                    .get_all(SET_COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .any(|v| v.starts_with("__Host-rollcall_session="));
                let body = resp.text().await?;
                latencies.push(t.elapsed());
                if status != StatusCode::SEE_OTHER || !session {
                    bail!("login answered {status} (session cookie: {session}): {body}");
                }
                *next.entry(location.unwrap_or_default()).or_default() += 1;
            }
            Ok::<_, anyhow::Error>((latencies, next))
        }));
    }
    let mut latencies = Vec::with_capacity(logins);
    let mut next = HashMap::new();
    let mut first_error = None;
    for t in tasks {
        match t.await? {
            Ok((l, n)) => {
                latencies.extend(l);
                for (k, v) in n {
                    *next.entry(k).or_default() += v;
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let wall = started.elapsed();
    if let Some(e) = first_error {
        return Err(e.context(format!("phase `{name}`")));
    }
    let cpu = match (cpu_before, Cpu::now(server_pid)) {
        (Some(b), Some(a)) => a.percent_since(b, wall),
        _ => "?".into(),
    };
    latencies.sort();
    Ok(Phase {
        name,
        logins,
        wall,
        latencies,
        cpu,
        next,
    })
}

// ------------------------------------------------------------------ preparing

/// `name=value` of the browser-binding cookie a start set.
fn binding_cookie(resp: &reqwest::Response) -> anyhow::Result<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-rollcall_sso_"))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .context("the start set no binding cookie")
}

/// `GET /sso/acme/start?connection=…`: (IdP URL, binding cookie).
async fn start(
    client: &reqwest::Client,
    base: &str,
    connection: &str,
) -> anyhow::Result<(url::Url, String)> {
    let resp = client
        .get(format!("{base}/sso/acme/start?connection={connection}"))
        .send()
        .await?;
    ensure!(
        resp.status() == StatusCode::SEE_OTHER,
        "start answered {}",
        resp.status()
    );
    let location = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .context("start without Location")?;
    let url = url::Url::parse(location)?;
    let cookie = binding_cookie(&resp)?;
    Ok((url, cookie))
}

/// The AuthnRequest's ID and the RelayState in a redirect to the IdP.
fn authn_request(location: &url::Url) -> anyhow::Result<(String, String)> {
    let q: HashMap<String, String> = location.query_pairs().into_owned().collect();
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(q.get("SAMLRequest").context("no SAMLRequest")?)?;
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..]).read_to_string(&mut xml)?;
    let id = xml
        .split("ID=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .context("AuthnRequest without ID")?
        .to_owned();
    Ok((id, q.get("RelayState").context("no RelayState")?.clone()))
}

/// Starts `n` SAML logins (C at a time) and signs a response for each.
async fn prepare_saml(
    client: &reqwest::Client,
    base: &str,
    conn: &str,
    idp: &Arc<TestIdp>,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Prepared>> {
    let urls = Arc::new(SpUrls::new(base, conn));
    let groups: Arc<Vec<String>> = Arc::new(
        (0..8)
            .map(|i| format!("CN=grp-analytics-{i:03},OU=Groups,DC=acme,DC=example"))
            .collect(),
    );
    let mut out = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(concurrency) {
        let mut tasks = Vec::new();
        for &i in chunk {
            let (client, base, conn) = (client.clone(), base.to_owned(), conn.to_owned());
            let (idp, urls, groups) = (idp.clone(), urls.clone(), groups.clone());
            tasks.push(tokio::spawn(async move {
                let (location, cookie) = start(&client, &base, &conn).await?;
                let (request_id, relay) = authn_request(&location)?;
                // Signing is CPU work: off the runtime's workers.
                let response = tokio::task::spawn_blocking(move || {
                    let email = format!("saml.user{i:06}@acme.com");
                    let group_refs: Vec<&str> = groups.iter().map(String::as_str).collect();
                    let mut spec =
                        ResponseSpec::new(&urls.saml_metadata, &urls.saml_acs, Some(&request_id))
                            .attribute("email", &[email.as_str()])
                            .attribute("givenName", &["Ada"])
                            .attribute("sn", &["Lovelace"])
                            .attribute("displayName", &["Ada Lovelace"])
                            .attribute("groups", &group_refs);
                    spec.name_id = format!("saml-subject-{i:06}");
                    idp.response_b64(&spec)
                })
                .await?;
                Ok::<_, anyhow::Error>(Prepared {
                    url: format!("{base}/sso/saml/{conn}/acs"),
                    form: Some(vec![("SAMLResponse", response), ("RelayState", relay)]),
                    cookie,
                })
            }));
        }
        for t in tasks {
            out.push(t.await??);
        }
    }
    Ok(out)
}

/// Starts `n` OIDC logins and lets the test OP authorize each.
async fn prepare_oidc(
    client: &reqwest::Client,
    base: &str,
    conn: &str,
    op: &Arc<TestOp>,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Prepared>> {
    let mut out = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(concurrency) {
        let mut tasks = Vec::new();
        for &i in chunk {
            let (client, base, conn, op) =
                (client.clone(), base.to_owned(), conn.to_owned(), op.clone());
            tasks.push(tokio::spawn(async move {
                let (location, cookie) = start(&client, &base, &conn).await?;
                let params = tokio::task::spawn_blocking(move || {
                    let mut spec = TokenSpec::new(&format!("oidc-subject-{i:06}"));
                    spec.id_token_claims
                        .insert("email".into(), json!(format!("oidc.user{i:06}@acme.com")));
                    spec.id_token_claims
                        .insert("email_verified".into(), json!(true));
                    spec.id_token_claims
                        .insert("given_name".into(), json!("Ada"));
                    spec.id_token_claims
                        .insert("family_name".into(), json!("Lovelace"));
                    op.authorize(&location, &spec)
                })
                .await?;
                let mut cb = url::Url::parse(&format!("{base}/sso/oidc/{conn}/callback"))?;
                for (k, v) in [
                    ("code", &params.code),
                    ("state", &params.state),
                    ("iss", &params.iss),
                ] {
                    if let Some(v) = v {
                        cb.query_pairs_mut().append_pair(k, v);
                    }
                }
                Ok::<_, anyhow::Error>(Prepared {
                    url: cb.to_string(),
                    form: None,
                    cookie,
                })
            }));
        }
        for t in tasks {
            out.push(t.await??);
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------ database work per login

/// PostgreSQL's cumulative counters for the scratch database: transactions,
/// table scans (sequential + index) and rows written. Their difference over a
/// phase, divided by the logins, says what one login costs the database.
#[derive(Clone, Default)]
struct PgCounters {
    commits: i64,
    rollbacks: i64,
    scans: i64,
    rows_written: i64,
    /// Per table: (sequential scans, index scans).
    tables: HashMap<String, (i64, i64)>,
}

#[derive(diesel::QueryableByName)]
struct PgTableRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    relname: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    idx: i64,
}

#[derive(diesel::QueryableByName)]
struct PgCountersRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    commits: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rollbacks: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    scans: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rows_written: i64,
}

fn pg_counters(db_url: &str) -> Option<PgCounters> {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    // Backends publish their counters at most once a second.
    std::thread::sleep(Duration::from_millis(1_200));
    let mut c = PgConnection::establish(db_url).ok()?;
    let row: PgCountersRow = diesel::sql_query(
        "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::bigint AS commits, \
                (SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database())::bigint AS rollbacks, \
                COALESCE(sum(seq_scan + COALESCE(idx_scan, 0)), 0)::bigint AS scans, \
                COALESCE(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint AS rows_written \
         FROM pg_stat_user_tables",
    )
    .get_result(&mut c)
    .ok()?;
    let tables: Vec<PgTableRow> = diesel::sql_query(
        "SELECT relname::text AS relname, seq_scan::bigint AS seq, COALESCE(idx_scan, 0)::bigint AS idx \
         FROM pg_stat_user_tables",
    )
    .load(&mut c)
    .ok()?;
    Some(PgCounters {
        commits: row.commits,
        rollbacks: row.rollbacks,
        scans: row.scans,
        rows_written: row.rows_written,
        tables: tables
            .into_iter()
            .map(|t| (t.relname, (t.seq, t.idx)))
            .collect(),
    })
}

/// "x commits, y table scans, z rows written per login" between two readings
/// (the bench's own reading connections add a commit or two per phase).
fn per_login(before: &Option<PgCounters>, after: &Option<PgCounters>, logins: usize) -> String {
    let (Some(b), Some(a)) = (before, after) else {
        return String::new();
    };
    let n = logins as f64;
    let mut tables: Vec<(f64, String)> = a
        .tables
        .iter()
        .map(|(name, (seq, idx))| {
            let (s0, i0) = b.tables.get(name).copied().unwrap_or_default();
            let (seq, idx) = ((seq - s0) as f64 / n, (idx - i0) as f64 / n);
            (seq + idx, format!("{name} {idx:.1}+{seq:.1}"))
        })
        .filter(|(total, _)| *total >= 0.05)
        .collect();
    tables.sort_by(|x, y| y.0.total_cmp(&x.0));
    format!(
        "per login: {:.1} commits, {:.1} rollbacks, {:.1} table scans, {:.1} rows written\n  scans per login by table (index+sequential): {}",
        (a.commits - b.commits) as f64 / n,
        (a.rollbacks - b.rollbacks) as f64 / n,
        (a.scans - b.scans) as f64 / n,
        (a.rows_written - b.rows_written) as f64 / n,
        tables
            .into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

// ------------------------------------------------------------------ set-up

fn settings_for(db_url: &str) -> anyhow::Result<Settings> {
    use figment::providers::{Format, Serialized, Toml};
    let fig = figment::Figment::from(Toml::string(DEFAULT_TOML))
        .merge(Serialized::default("database.url", db_url))
        .merge(Serialized::default("database.pool_size", 2));
    Settings::from_figment(fig).map_err(|e| anyhow!("settings: {e}"))
}

/// Verified domain acme.com; a SAML and an OIDC connection trusted for it.
/// Returns (SAML connection id, OIDC connection id).
fn connections(store: &Store, idp: &TestIdp, op: &TestOp) -> anyhow::Result<(String, String)> {
    let mut saml = SamlSettings::from_metadata(&idp.metadata_xml("https://idp.example/sso"))?;
    saml.attributes = SamlAttributes {
        email: Some("email".into()),
        given_name: Some("givenName".into()),
        family_name: Some("sn".into()),
        display_name: Some("displayName".into()),
        groups: Some("groups".into()),
    };
    let oidc: OidcSettings = serde_json::from_value(json!({
        "issuer": op.issuer, "client_id": op.client_id,
    }))?;
    let mut ids = Vec::new();
    for (settings, secret) in [
        (ConnectionSettings::Saml(saml), None),
        (
            ConnectionSettings::Oidc(oidc),
            Some(op.client_secret.clone()),
        ),
    ] {
        let id = uuid::Uuid::now_v7().to_string();
        let config = serde_json::to_string(&settings)?;
        let sealed = secret.map(|s| seal_secret(&OutboxKey::from_secret(SECRET_KEY), &id, &s));
        let conn_id = id.clone();
        store
            .write_blocking(move |c| -> Result<(), rollcall::store::StoreError> {
                let org = rollcall::store::orgs::by_slug(c, "acme")?;
                idp_connections::insert(
                    c,
                    NewConnection {
                        id: &conn_id,
                        org: &org.id,
                        kind: settings.kind(),
                        name: "bench idp",
                        config: &config,
                        secret: sealed.as_deref(),
                        trusted_domains: r#"["acme.com"]"#,
                        enabled: true,
                        owner_approved: true,
                        created_by: Some("operator"),
                        metadata_url: None,
                        metadata_refreshed_at: None,
                    },
                    rollcall::store::now(),
                )
            })
            .map_err(|e| anyhow!("connection: {e}"))?;
        ids.push(id);
    }
    store
        .write_blocking(|c| -> Result<(), rollcall::store::StoreError> {
            let org = rollcall::store::orgs::by_slug(c, "acme")?;
            let now = rollcall::store::now();
            rollcall::store::domains::insert(c, &org.id, "acme.com", "bench", now)?;
            rollcall::store::domains::mark_verified(c, &org.id, "acme.com", now)?;
            Ok(())
        })
        .map_err(|e| anyhow!("domain: {e}"))?;
    let oidc = ids.pop().expect("two ids");
    Ok((ids.pop().expect("two ids"), oidc))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".to_owned(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

fn report(phases: &[Phase]) {
    println!();
    println!(
        "{:<12} {:>7} {:>8} {:>9} {:>8} {:>8} {:>8}  {:<13} {:<7}  next",
        "phase",
        "logins",
        "wall s",
        "logins/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "cpu% c/s/pg",
        "target"
    );
    for p in phases {
        let mut next: Vec<_> = p.next.iter().collect();
        next.sort();
        println!(
            "{:<12} {:>7} {:>8.2} {:>9.0} {:>8.1} {:>8.1} {:>8.1}  {:<13} {:<7}  {}",
            p.name,
            p.logins,
            p.wall.as_secs_f64(),
            p.rate(),
            p.ms(0.50),
            p.ms(0.99),
            p.ms(1.0),
            p.cpu,
            if p.rate() >= TARGET_PER_SEC {
                "met"
            } else {
                "NOT met"
            },
            next.iter()
                .map(|(k, v)| format!("{k}×{v}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    println!(
        "(target ≥ {TARGET_PER_SEC:.0} logins/s; cpu% c/s/pg: percent of one core used by this process — client and test IdP/OP —, the gateway and all postgres processes; {} cores in all; load average now {})",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average()
    );
}

async fn run(opts: Opts) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
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
    println!(
        "sso_http: SAML ACS and OIDC callback over HTTP on {}",
        if opts.sqlite { "SQLite" } else { "PostgreSQL" }
    );
    println!(
        "machine: {cores} cores, load average {}; logins N={} per phase, concurrency C={}, server workers={} ({}), database pool={}",
        load_average(),
        opts.logins,
        opts.concurrency,
        opts.workers,
        if opts.workers == 0 {
            "per core"
        } else {
            "fixed"
        },
        opts.pool
    );
    println!("database: {db_name}; binary: {BIN}");

    cli(&db_url, &["org", "create", "acme", "--preset", "analytics"])?;
    let key = cli(&db_url, &["api-key", "create", "--org", "acme"])?
        .trim()
        .to_owned();
    let store = Store::open(&settings_for(&db_url)?.database)?;
    let idp = Arc::new(TestIdp::generate("https://idp.example/entity"));
    let op = Arc::new(TestOp::start(2, true));
    let (saml_conn, oidc_conn) = connections(&store, &idp, &op)?;
    drop(store);

    let gateway = Gateway::start_with(
        &db_url,
        opts.workers,
        opts.pool,
        &[
            ("ROLLCALL__SSO__SECRET_KEY", SECRET_KEY.to_owned()),
            ("ROLLCALL__SSO__ALLOW_PRIVATE_NETWORKS", "true".to_owned()),
            ("ROLLCALL__SSO__ALLOW_PLAIN_HTTP", "true".to_owned()),
        ],
    )?;
    let base = gateway.url("");
    println!("gateway: {base}");
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(opts.concurrency)
        .build()?;
    gateway.wait_ready(&client).await?;

    // SSO-default for acme.com (no workspace pick: the session is complete).
    let settings_url = format!("{base}/api/v1/orgs/acme/settings");
    let mut s: Value = client
        .get(&settings_url)
        .bearer_auth(&key)
        .send()
        .await?
        .json()
        .await?;
    s["provisioning"]["sso_default"] = json!(true);
    s["allowed_email_domains"] = json!(["acme.com"]);
    s["workspace_self_select"] = json!(false);
    let r = client
        .put(&settings_url)
        .bearer_auth(&key)
        .json(&s)
        .send()
        .await?;
    ensure!(r.status().is_success(), "settings: {}", r.text().await?);

    let pid = gateway.child.id();
    let mut phases = Vec::new();
    let sqlite = opts.sqlite;
    let saml = opts.only.as_deref() != Some("oidc");
    let oidc = opts.only.as_deref() != Some("saml");
    for (enabled, proto) in [(saml, "saml"), (oidc, "oidc")] {
        if !enabled {
            continue;
        }
        for round in ["new", "linked"] {
            let prepare = Instant::now();
            let work = if proto == "saml" {
                prepare_saml(
                    &client,
                    &base,
                    &saml_conn,
                    &idp,
                    opts.logins,
                    opts.concurrency,
                )
                .await?
            } else {
                prepare_oidc(
                    &client,
                    &base,
                    &oidc_conn,
                    &op,
                    opts.logins,
                    opts.concurrency,
                )
                .await?
            };
            println!(
                "{proto} {round}: {} logins started and answered by the IdP in {:.1} s; load average {}",
                work.len(),
                prepare.elapsed().as_secs_f64(),
                load_average()
            );
            let counters = |url: String| async move {
                if sqlite {
                    None
                } else {
                    tokio::task::spawn_blocking(move || pg_counters(&url))
                        .await
                        .ok()
                        .flatten()
                }
            };
            let before = counters(db_url.clone()).await;
            let phase = timed(
                format!("{proto} {round}"),
                &client,
                work,
                opts.concurrency,
                pid,
            )
            .await?;
            let after = counters(db_url.clone()).await;
            println!(
                "  {:.0} logins/s  p50 {:.1} ms  p99 {:.1} ms  cpu% c/s/pg {}  {}",
                phase.rate(),
                phase.ms(0.5),
                phase.ms(0.99),
                phase.cpu,
                per_login(&before, &after, phase.logins)
            );
            phases.push(phase);
        }
    }
    report(&phases);
    gateway.print_log();
    Ok(())
}

fn main() -> ExitCode {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("sso_http: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sso_http: {e:#}");
            ExitCode::FAILURE
        }
    }
}
