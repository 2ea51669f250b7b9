//! Configuration: layered sources -> raw settings -> validated [`Settings`].
//!
//! Sources, lowest precedence first:
//! 1. `config/default.toml` as compiled into the binary (every key, safe defaults),
//! 2. `config/default.toml` on disk, then `config/{ROLLCALL_ENV}.toml`, when present,
//! 3. `DATABASE_URL`,
//! 4. `ROLLCALL__SECTION__KEY` environment variables.
//!
//! Merging is figment's; this module only declares the shape (`deny_unknown_fields`
//! everywhere, so a misspelt key stops start-up with its name) and validates it.
//! Secrets may come from files: `KEY_file` next to a secret key (or
//! `ROLLCALL__SECTION__KEY_FILE`) names a file whose trimmed contents are the value.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The defaults, compiled in so the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Where to look for configuration files, and which environment overlay to use.
#[derive(Debug, Clone)]
pub struct Sources {
    pub config_dir: PathBuf,
    /// `ROLLCALL_ENV`: selects `config/{env}.toml`.
    pub env: Option<String>,
}

impl Sources {
    /// `./config` and `ROLLCALL_ENV` from the process environment.
    pub fn from_process(config_dir: Option<PathBuf>) -> Self {
        Sources {
            config_dir: config_dir.unwrap_or_else(|| PathBuf::from("config")),
            env: std::env::var("ROLLCALL_ENV").ok().filter(|s| !s.is_empty()),
        }
    }

    /// Every source, merged, including the process environment.
    pub fn figment(&self) -> Figment {
        let mut fig = Figment::from(Toml::string(DEFAULT_TOML));
        let on_disk = self.config_dir.join("default.toml");
        if on_disk.is_file() {
            fig = fig.merge(Toml::file(on_disk));
        }
        if let Some(env) = &self.env {
            fig = fig.merge(Toml::file(self.config_dir.join(format!("{env}.toml"))));
        }
        fig.merge(
            Env::raw()
                .only(&["DATABASE_URL"])
                .map(|_| "database.url".into()),
        )
        .merge(Env::prefixed("ROLLCALL__").split("__"))
    }
}

/// Why the configuration could not be used. Messages name the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Source(String),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

impl ConfigError {
    fn invalid(key: &'static str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key,
            message: message.into(),
        }
    }
}

fn describe_figment_error(err: figment::Error) -> ConfigError {
    let messages: Vec<String> = err
        .into_iter()
        .map(|e| {
            let mut path = e.path.join(".");
            let origin = e
                .metadata
                .as_ref()
                .map(|md| match &md.source {
                    Some(src) => format!(" (from {src})"),
                    None => format!(" (from {})", md.name),
                })
                .unwrap_or_default();
            match &e.kind {
                figment::error::Kind::UnknownField(field, _) => {
                    if e.path.last() != Some(field) {
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(field);
                    }
                    format!("unknown key `{path}`{origin}")
                }
                kind => {
                    if path.is_empty() {
                        format!("{kind}{origin}")
                    } else {
                        format!("key `{path}`: {kind}{origin}")
                    }
                }
            }
        })
        .collect();
    ConfigError::Source(messages.join("; "))
}

// ---------------------------------------------------------------- raw shape

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    server: RawServer,
    database: RawDatabase,
    log: RawLog,
    auth: RawAuth,
    scim: RawScim,
    email: RawEmail,
    session: RawSession,
    invites: RawInvites,
    sso: RawSso,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSso {
    domain_txt_fixture_file: String,
    secret_key: Option<SecretString>,
    secret_key_file: Option<PathBuf>,
    allow_private_networks: bool,
    allow_plain_http: bool,
    login_ttl_secs: u64,
    metadata_refresh_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    host: String,
    port: u16,
    public_url: String,
    max_body_bytes: usize,
    workers: usize,
    shutdown_timeout_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<SecretString>,
    url_file: Option<PathBuf>,
    pool_size: u32,
    connect_timeout_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: String,
    format: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    token_cache_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScim {
    default_page_size: u32,
    max_page_size: u32,
    bulk_max_operations: u32,
    bulk_max_payload_bytes: usize,
    rate_limit_per_second: u32,
    rate_limit_burst: u32,
    cursor_key: Option<SecretString>,
    cursor_key_file: Option<PathBuf>,
    cursor_timeout_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    transport: String,
    from: String,
    file_dir: PathBuf,
    outbox_key: Option<SecretString>,
    outbox_key_file: Option<PathBuf>,
    smtp: RawSmtp,
    outbox: RawOutbox,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    port: u16,
    tls: String,
    username: Option<String>,
    password: Option<SecretString>,
    password_file: Option<PathBuf>,
    timeout_secs: u64,
    pool_size: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbox {
    concurrency: usize,
    batch_size: u32,
    poll_interval_ms: u64,
    max_attempts: u32,
    backoff_base_ms: u64,
    backoff_max_secs: u64,
    lease_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    cookie_secure: bool,
    idle_timeout_secs: u64,
    absolute_timeout_secs: u64,
    login_link_minutes: u64,
    login_rate_per_address_per_hour: u32,
    login_rate_per_ip_per_hour: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvites {
    bulk_max_body_bytes: usize,
    bulk_max_rows: usize,
    bulk_job_threshold: usize,
}

// ---------------------------------------------------------------- validated

/// Validated settings. Construct with [`Settings::load`] or [`Settings::from_figment`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub auth: AuthSettings,
    pub scim: ScimSettings,
    pub email: EmailSettings,
    pub session: SessionSettings,
    pub invites: InviteSettings,
    pub sso: SsoSettings,
}

/// How mail leaves the gateway (`email.*`).
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub transport: MailTransport,
    /// The `From` address; each org's name is put in front as the sender name.
    pub from: lettre::Address,
    /// The key that encrypts rendered messages on outbox rows.
    pub outbox_key: OutboxKey,
    pub outbox: OutboxSettings,
}

#[derive(Debug, Clone)]
pub enum MailTransport {
    /// `.eml` files under a directory (the embedded default).
    File(PathBuf),
    Smtp(SmtpSettings),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP: loopback only (tests, a local relay).
    None,
    Starttls,
    /// Implicit TLS (SMTPS, usually port 465).
    Tls,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub timeout: Duration,
    pub pool_size: u32,
}

/// Delivery workers (`email.outbox.*`).
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// Messages sent at once by this node.
    pub concurrency: usize,
    /// Rows claimed per round.
    pub batch_size: u32,
    pub poll_interval: Duration,
    /// Attempts before a message is marked failed.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long a claimed row stays with its worker before another may take it.
    pub lease: Duration,
}

/// The 32-byte key for outbox bodies; never printed.
#[derive(Clone)]
pub struct OutboxKey {
    bytes: [u8; 32],
    /// `true` when no key was configured and this one was generated.
    pub generated: bool,
}

impl OutboxKey {
    pub fn from_secret(secret: &str) -> OutboxKey {
        use sha2::{Digest, Sha256};
        OutboxKey {
            bytes: Sha256::digest(secret.as_bytes()).into(),
            generated: false,
        }
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl fmt::Debug for OutboxKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.generated {
            "OutboxKey(generated)"
        } else {
            "OutboxKey(configured)"
        })
    }
}

/// Browser sessions and emailed sign-in links (`session.*`).
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// `false` only for plain-HTTP loopback development: the cookie then
    /// loses `Secure` and with it the `__Host-` prefix.
    pub cookie_secure: bool,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    pub login_link_ttl: Duration,
    pub login_rate_per_address_per_hour: u32,
    pub login_rate_per_ip_per_hour: u32,
}

/// Bulk invites (`invites.*`).
#[derive(Debug, Clone)]
pub struct InviteSettings {
    pub bulk_max_body_bytes: usize,
    pub bulk_max_rows: usize,
    /// Above this many rows a bulk request runs as a job.
    pub bulk_job_threshold: usize,
}

#[derive(Debug, Clone)]
pub struct SsoSettings {
    /// Answer domain-verification TXT lookups from this JSON file instead of
    /// DNS (tests, air-gapped evaluation).
    pub domain_txt_fixture: Option<PathBuf>,
    /// Seals IdP client secrets at rest (`sso.secret_key`). Until
    /// [`SsoSettings::load_key_file`] has run, an unconfigured key is one of
    /// this process only (`generated`).
    pub secret_key: OutboxKey,
    /// With no key configured: the file that keeps the gateway's generated
    /// key (beside the SQLite database, or `data/`), created on first need.
    pub default_key_file: Option<PathBuf>,
    /// How often SAML metadata is re-fetched from its URL.
    pub metadata_refresh: Duration,
    /// Where metadata, discovery documents and JWKS may be fetched from.
    pub network: crate::sso::oidc::NetworkPolicy,
    /// How long a started login may take (the pre-login record's lifetime).
    pub login_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Without a trailing slash; `None` means "derive from the request".
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    pub workers: usize,
    pub shutdown_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub pool_size: u32,
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub token_cache: Duration,
}

#[derive(Debug, Clone)]
pub struct ScimSettings {
    pub default_page_size: u32,
    pub max_page_size: u32,
    pub bulk_max_operations: u32,
    pub bulk_max_payload_bytes: usize,
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    /// The key that signs SCIM paging cursors (RFC 9865): the SHA-256 of
    /// `scim.cursor_key`, or random per process when none is configured.
    pub cursor_key: CursorKey,
    /// How long a cursor stays valid (advertised as `cursorTimeout`).
    pub cursor_timeout: Duration,
}

/// The 32-byte key for cursor MACs; never printed.
#[derive(Clone)]
pub struct CursorKey {
    bytes: [u8; 32],
    /// `true` when no key was configured and this one was generated.
    pub generated: bool,
}

impl CursorKey {
    /// A key derived from configured secret text (any length).
    pub fn from_secret(secret: &str) -> CursorKey {
        use sha2::{Digest, Sha256};
        CursorKey {
            bytes: Sha256::digest(secret.as_bytes()).into(),
            generated: false,
        }
    }

    /// A random key for this process only.
    pub fn generate() -> CursorKey {
        CursorKey {
            bytes: rand::random(),
            generated: true,
        }
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.generated {
            "CursorKey(generated)"
        } else {
            "CursorKey(configured)"
        })
    }
}

/// Which database, chosen from the URL scheme. A URL without a scheme we know is
/// an error: diesel would otherwise silently open a SQLite file of that name.
#[derive(Clone)]
pub enum DatabaseUrl {
    Postgres(SecretString),
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if let Some(rest) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            if rest.is_empty() || rest.starts_with(":memory:") {
                return Err(
                    "a SQLite URL needs a file path, e.g. sqlite://data/rollcall.db".to_owned(),
                );
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(rest)));
        }
        match url::Url::parse(raw) {
            Ok(u) if u.scheme() == "postgres" || u.scheme() == "postgresql" => {
                if u.host_str().is_none_or(str::is_empty) && !raw.contains("host=") {
                    return Err("the PostgreSQL URL has no host".to_owned());
                }
                Ok(DatabaseUrl::Postgres(SecretString::from(raw.to_owned())))
            }
            Ok(u) => Err(format!(
                "unsupported scheme `{}`: use postgres://… or sqlite://…",
                u.scheme()
            )),
            Err(e) => Err(format!(
                "not a URL ({e}): use postgres://user@host/db or sqlite://path/to/file.db"
            )),
        }
    }

    /// The URL with any password replaced by `***`, safe to print and log.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(secret) => match url::Url::parse(secret.expose_secret()) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    // Query parameters may carry `password=`.
                    if u.query().is_some_and(|q| q.contains("password")) {
                        u.set_query(Some("***"));
                    }
                    u.to_string()
                }
                Err(_) => "postgres://***".to_owned(),
            },
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn validate_sso(raw: &RawSso, database: &DatabaseUrl) -> Result<SsoSettings, ConfigError> {
    let file = raw
        .secret_key_file
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty());
    let secret = match (file, &raw.secret_key) {
        (Some(path), _) => Some(read_secret_file("sso.secret_key_file", path)?),
        (None, Some(k)) => Some(k.expose_secret().to_owned()),
        (None, None) => None,
    };
    let (secret_key, default_key_file) = match secret.as_deref().map(str::trim) {
        None | Some("") => (
            OutboxKey {
                bytes: rand::random(),
                generated: true,
            },
            Some(default_sso_key_file(database)),
        ),
        Some(k) if k.len() < 32 => {
            return Err(ConfigError::invalid(
                "sso.secret_key",
                "must be at least 32 characters (random, the same on every node)",
            ));
        }
        Some(k) => (OutboxKey::from_secret(k), None),
    };
    if raw.metadata_refresh_secs < 60 {
        return Err(ConfigError::invalid(
            "sso.metadata_refresh_secs",
            "must be at least 60",
        ));
    }
    if raw.login_ttl_secs < 30 {
        return Err(ConfigError::invalid(
            "sso.login_ttl_secs",
            "must be at least 30 (the time a person has to sign in at the IdP)",
        ));
    }
    Ok(SsoSettings {
        domain_txt_fixture: Some(raw.domain_txt_fixture_file.trim())
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        secret_key,
        default_key_file,
        metadata_refresh: Duration::from_secs(raw.metadata_refresh_secs),
        network: crate::sso::oidc::NetworkPolicy {
            allow_private_networks: raw.allow_private_networks,
            allow_plain_http: raw.allow_plain_http,
        },
        login_ttl: Duration::from_secs(raw.login_ttl_secs),
    })
}

/// Where the generated SSO key is kept: beside the SQLite database, or in
/// `data/` (the embedded default's folder) with PostgreSQL.
fn default_sso_key_file(database: &DatabaseUrl) -> PathBuf {
    let dir = match database {
        DatabaseUrl::Sqlite(path) => path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        DatabaseUrl::Postgres(_) => PathBuf::from("data"),
    };
    dir.join("sso-secret.key")
}

impl SsoSettings {
    /// With no key configured, use the key kept in
    /// [`SsoSettings::default_key_file`], creating the file (32 random bytes
    /// as hex, mode 0600) when it does not exist. Returns the file and
    /// whether it was created now; `None` when a key is configured.
    pub fn load_key_file(&mut self) -> Result<Option<(PathBuf, bool)>, ConfigError> {
        let Some(path) = self.default_key_file.clone() else {
            return Ok(None);
        };
        let invalid = |m: String| ConfigError::invalid("sso.secret_key_file", m);
        let created = match std::fs::read_to_string(&path) {
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(&path)
                .map_err(|e| invalid(format!("cannot create {}: {e}", path.display())))?,
            Err(e) => return Err(invalid(format!("cannot read {}: {e}", path.display()))),
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        let key = text.trim();
        if key.len() < 32 {
            return Err(invalid(format!(
                "{} holds fewer than 32 characters",
                path.display()
            )));
        }
        self.secret_key = OutboxKey::from_secret(key);
        Ok(Some((path, created)))
    }
}

/// Write a new random key unless another process just did (`false` then).
fn create_key_file(path: &Path) -> std::io::Result<bool> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut f) => {
            writeln!(f, "{}", hex::encode(rand::random::<[u8; 32]>()))?;
            f.sync_all()?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

fn read_secret_file(key: &'static str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| ConfigError::invalid(key, format!("cannot read {}: {e}", path.display())))
}

fn validate_email(e: &RawEmail, has_public_url: bool) -> Result<EmailSettings, ConfigError> {
    let from: lettre::Address = e
        .from
        .trim()
        .parse()
        .map_err(|err| ConfigError::invalid("email.from", format!("not an address: {err}")))?;
    let transport = match e.transport.trim().to_ascii_lowercase().as_str() {
        "file" => MailTransport::File(e.file_dir.clone()),
        "smtp" => {
            let s = &e.smtp;
            if s.host.trim().is_empty() {
                return Err(ConfigError::invalid("email.smtp.host", "is empty"));
            }
            let tls = match s.tls.trim().to_ascii_lowercase().as_str() {
                "none" => SmtpTls::None,
                "starttls" => SmtpTls::Starttls,
                "tls" => SmtpTls::Tls,
                other => {
                    return Err(ConfigError::invalid(
                        "email.smtp.tls",
                        format!("`{other}` is not one of none, starttls, tls"),
                    ));
                }
            };
            let password = match (&s.password_file, &s.password) {
                (Some(path), _) => Some(SecretString::from(read_secret_file(
                    "email.smtp.password_file",
                    path,
                )?)),
                (None, Some(p)) => Some(p.clone()),
                (None, None) => None,
            };
            if password.is_some() != s.username.as_deref().is_some_and(|u| !u.is_empty()) {
                return Err(ConfigError::invalid(
                    "email.smtp.username",
                    "username and password go together",
                ));
            }
            MailTransport::Smtp(SmtpSettings {
                host: s.host.trim().to_owned(),
                port: s.port,
                tls,
                username: s.username.clone().filter(|u| !u.is_empty()),
                password,
                timeout: Duration::from_secs(s.timeout_secs.max(1)),
                pool_size: s.pool_size.max(1),
            })
        }
        other => {
            return Err(ConfigError::invalid(
                "email.transport",
                format!("`{other}` is neither `file` nor `smtp`"),
            ));
        }
    };
    if matches!(transport, MailTransport::Smtp(_)) && !has_public_url {
        return Err(ConfigError::invalid(
            "server.public_url",
            "must be set when email.transport is `smtp`: links in mail are built only from it",
        ));
    }
    let key_secret = match (&e.outbox_key_file, &e.outbox_key) {
        (Some(path), _) => Some(read_secret_file("email.outbox_key_file", path)?),
        (None, Some(k)) => Some(k.expose_secret().to_owned()),
        (None, None) => None,
    };
    let outbox_key = match key_secret.as_deref().map(str::trim) {
        None | Some("") if matches!(transport, MailTransport::Smtp(_)) => {
            return Err(ConfigError::invalid(
                "email.outbox_key",
                "must be set when email.transport is `smtp` (queued mail must survive a restart)",
            ));
        }
        None | Some("") => OutboxKey {
            bytes: rand::random(),
            generated: true,
        },
        Some(k) if k.len() < 32 => {
            return Err(ConfigError::invalid(
                "email.outbox_key",
                "must be at least 32 characters (random, the same on every node)",
            ));
        }
        Some(k) => OutboxKey::from_secret(k),
    };
    let o = &e.outbox;
    if o.concurrency == 0 || o.batch_size == 0 || o.max_attempts == 0 {
        return Err(ConfigError::invalid(
            "email.outbox",
            "concurrency, batch_size and max_attempts must be at least 1",
        ));
    }
    Ok(EmailSettings {
        transport,
        from,
        outbox_key,
        outbox: OutboxSettings {
            concurrency: o.concurrency,
            batch_size: o.batch_size,
            poll_interval: Duration::from_millis(o.poll_interval_ms.max(10)),
            max_attempts: o.max_attempts,
            backoff_base: Duration::from_millis(o.backoff_base_ms.max(1)),
            backoff_max: Duration::from_secs(o.backoff_max_secs.max(1)),
            lease: Duration::from_secs(o.lease_secs.max(1)),
        },
    })
}

impl Settings {
    /// Load from every source (files and process environment).
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        Self::from_figment(sources.figment())
    }

    /// Validate an already merged figment (tests build their own).
    pub fn from_figment(fig: Figment) -> Result<Self, ConfigError> {
        let raw: RawSettings = fig.extract().map_err(describe_figment_error)?;
        Self::validate(raw)
    }

    fn validate(raw: RawSettings) -> Result<Self, ConfigError> {
        let db_url = match (&raw.database.url_file, &raw.database.url) {
            (Some(path), _) => read_secret_file("database.url_file", path)?,
            (None, Some(url)) => url.expose_secret().to_owned(),
            (None, None) => return Err(ConfigError::invalid("database.url", "is not set")),
        };
        let url =
            DatabaseUrl::parse(&db_url).map_err(|m| ConfigError::invalid("database.url", m))?;
        if raw.database.pool_size == 0 {
            return Err(ConfigError::invalid(
                "database.pool_size",
                "must be at least 1",
            ));
        }
        let format = match raw.log.format.to_ascii_lowercase().as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError::invalid(
                    "log.format",
                    format!("`{other}` is neither `text` nor `json`"),
                ));
            }
        };
        if raw.server.host.trim().is_empty() {
            return Err(ConfigError::invalid("server.host", "is empty"));
        }
        let public_url = match raw.server.public_url.trim() {
            "" => None,
            s => {
                let parsed = url::Url::parse(s)
                    .map_err(|e| ConfigError::invalid("server.public_url", e.to_string()))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(ConfigError::invalid(
                        "server.public_url",
                        "must be an http:// or https:// URL",
                    ));
                }
                Some(s.trim_end_matches('/').to_owned())
            }
        };
        if raw.server.max_body_bytes < 1024 {
            return Err(ConfigError::invalid(
                "server.max_body_bytes",
                "must be at least 1024",
            ));
        }
        let s = &raw.scim;
        if s.max_page_size == 0 {
            return Err(ConfigError::invalid(
                "scim.max_page_size",
                "must be at least 1",
            ));
        }
        if s.default_page_size == 0 || s.default_page_size > s.max_page_size {
            return Err(ConfigError::invalid(
                "scim.default_page_size",
                "must be between 1 and scim.max_page_size",
            ));
        }
        if s.bulk_max_operations == 0 {
            return Err(ConfigError::invalid(
                "scim.bulk_max_operations",
                "must be at least 1",
            ));
        }
        let cursor_secret = match (&s.cursor_key_file, &s.cursor_key) {
            (Some(path), _) => Some(read_secret_file("scim.cursor_key_file", path)?),
            (None, Some(key)) => Some(key.expose_secret().to_owned()),
            (None, None) => None,
        };
        let cursor_key = match cursor_secret.as_deref().map(str::trim) {
            None | Some("") => CursorKey::generate(),
            Some(k) if k.len() < 32 => {
                return Err(ConfigError::invalid(
                    "scim.cursor_key",
                    "must be at least 32 characters (random, the same on every node)",
                ));
            }
            Some(k) => CursorKey::from_secret(k),
        };
        if s.cursor_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "scim.cursor_timeout_secs",
                "must be at least 1",
            ));
        }
        let email = validate_email(&raw.email, public_url.is_some())?;
        let r = &raw.session;
        if r.idle_timeout_secs == 0 || r.absolute_timeout_secs < r.idle_timeout_secs {
            return Err(ConfigError::invalid(
                "session.absolute_timeout_secs",
                "timeouts must be positive and the absolute one at least the idle one",
            ));
        }
        if r.login_link_minutes == 0 {
            return Err(ConfigError::invalid(
                "session.login_link_minutes",
                "must be at least 1",
            ));
        }
        let session = SessionSettings {
            cookie_secure: r.cookie_secure,
            idle_timeout: Duration::from_secs(r.idle_timeout_secs),
            absolute_timeout: Duration::from_secs(r.absolute_timeout_secs),
            login_link_ttl: Duration::from_secs(r.login_link_minutes * 60),
            login_rate_per_address_per_hour: r.login_rate_per_address_per_hour,
            login_rate_per_ip_per_hour: r.login_rate_per_ip_per_hour,
        };
        let i = &raw.invites;
        if i.bulk_max_rows == 0 || i.bulk_job_threshold == 0 {
            return Err(ConfigError::invalid(
                "invites.bulk_max_rows",
                "bulk_max_rows and bulk_job_threshold must be at least 1",
            ));
        }
        let sso = validate_sso(&raw.sso, &url)?;
        let invites = InviteSettings {
            bulk_max_body_bytes: i.bulk_max_body_bytes.max(1024),
            bulk_max_rows: i.bulk_max_rows,
            bulk_job_threshold: i.bulk_job_threshold,
        };
        Ok(Settings {
            email,
            session,
            invites,
            server: ServerSettings {
                host: raw.server.host.trim().to_owned(),
                port: raw.server.port,
                public_url,
                max_body_bytes: raw.server.max_body_bytes,
                workers: raw.server.workers,
                shutdown_timeout: Duration::from_secs(raw.server.shutdown_timeout_secs),
            },
            database: DatabaseSettings {
                url,
                pool_size: raw.database.pool_size,
                connect_timeout: Duration::from_secs(raw.database.connect_timeout_secs.max(1)),
            },
            log: LogSettings {
                level: raw.log.level,
                format,
            },
            auth: AuthSettings {
                token_cache: Duration::from_secs(raw.auth.token_cache_secs),
            },
            scim: ScimSettings {
                default_page_size: s.default_page_size,
                max_page_size: s.max_page_size,
                bulk_max_operations: s.bulk_max_operations,
                bulk_max_payload_bytes: s.bulk_max_payload_bytes,
                rate_limit_per_second: s.rate_limit_per_second,
                rate_limit_burst: s.rate_limit_burst.max(1),
                cursor_key,
                cursor_timeout: Duration::from_secs(s.cursor_timeout_secs),
            },
            sso,
        })
    }

    /// The effective settings as TOML, secrets redacted (`rollcall check-config`).
    pub fn to_redacted_toml(&self) -> String {
        let s = self;
        format!(
            "[server]\nhost = {host:?}\nport = {port}\npublic_url = {public:?}\nmax_body_bytes = {body}\n\
             workers = {workers}\nshutdown_timeout_secs = {shutdown}\n\n\
             [database]\nurl = {url:?}\npool_size = {pool}\nconnect_timeout_secs = {connect}\n\n\
             [log]\nlevel = {level:?}\nformat = {format:?}\n\n\
             [auth]\ntoken_cache_secs = {cache}\n\n\
             [scim]\ndefault_page_size = {dps}\nmax_page_size = {mps}\nbulk_max_operations = {bmo}\n\
             bulk_max_payload_bytes = {bmp}\nrate_limit_per_second = {rl}\nrate_limit_burst = {rb}\n\
             cursor_key = {ck:?}\ncursor_timeout_secs = {ct}\n",
            host = s.server.host,
            port = s.server.port,
            public = s.server.public_url.clone().unwrap_or_default(),
            body = s.server.max_body_bytes,
            workers = s.server.workers,
            shutdown = s.server.shutdown_timeout.as_secs(),
            url = s.database.url.redacted(),
            pool = s.database.pool_size,
            connect = s.database.connect_timeout.as_secs(),
            level = s.log.level,
            format = match s.log.format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            },
            cache = s.auth.token_cache.as_secs(),
            dps = s.scim.default_page_size,
            mps = s.scim.max_page_size,
            bmo = s.scim.bulk_max_operations,
            bmp = s.scim.bulk_max_payload_bytes,
            rl = s.scim.rate_limit_per_second,
            rb = s.scim.rate_limit_burst,
            ck = if s.scim.cursor_key.generated {
                "(not set: generated per process)"
            } else {
                "(set, redacted)"
            },
            ct = s.scim.cursor_timeout.as_secs(),
        ) + &format!(
            "\n[email]\ntransport = {transport:?}\nfrom = {from:?}\noutbox_key = {ok:?}\n\n\
             [session]\ncookie_secure = {cs}\nidle_timeout_secs = {idle}\nabsolute_timeout_secs = {abs}\n",
            transport = match &s.email.transport {
                MailTransport::File(dir) => format!("file ({})", dir.display()),
                MailTransport::Smtp(smtp) => format!("smtp ({}:{})", smtp.host, smtp.port),
            },
            from = s.email.from.to_string(),
            ok = if s.email.outbox_key.generated {
                "(not set: generated per process)"
            } else {
                "(set, redacted)"
            },
            cs = s.session.cookie_secure,
            idle = s.session.idle_timeout.as_secs(),
            abs = s.session.absolute_timeout.as_secs(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    fn base() -> Figment {
        Figment::from(Toml::string(DEFAULT_TOML))
    }

    #[test]
    fn defaults_are_valid_and_use_embedded_sqlite() {
        let s = Settings::from_figment(base()).unwrap();
        assert_eq!(s.server.port, 8080);
        assert!(
            matches!(&s.database.url, DatabaseUrl::Sqlite(p) if p == Path::new("data/rollcall.db"))
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Settings::from_figment(base().merge(Toml::string("[server]\nprot = 1\n")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown key `server.prot`"), "{err}");
    }

    #[test]
    fn unknown_section_is_named() {
        let err = Settings::from_figment(base().merge(Toml::string("[serverr]\nport = 1\n")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown key `serverr`"), "{err}");
    }

    #[test]
    fn overrides_apply() {
        let s =
            Settings::from_figment(base().merge(Serialized::default("server.port", 8081))).unwrap();
        assert_eq!(s.server.port, 8081);
    }

    #[test]
    fn malformed_database_urls_are_errors() {
        for bad in [
            "rollcall.db",
            "mysql://x/y",
            "sqlite://",
            "postgres://",
            "sqlite::memory:",
        ] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(DatabaseUrl::parse("postgres://u:p@localhost:5432/db").is_ok());
        assert!(DatabaseUrl::parse("postgresql://localhost/db").is_ok());
        assert!(DatabaseUrl::parse("sqlite:data/x.db").is_ok());
    }

    #[test]
    fn redaction_hides_passwords() {
        let url = DatabaseUrl::parse("postgres://app:hunter2@db.internal:5432/rollcall").unwrap();
        let shown = url.redacted();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app:***@db.internal"), "{shown}");
        let s = Settings::from_figment(base().merge(Serialized::default(
            "database.url",
            "postgres://a:hunter2@h/d",
        )))
        .unwrap();
        assert!(!s.to_redacted_toml().contains("hunter2"));
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn cursor_key_is_configured_on_every_node_or_generated_per_process() {
        let a = Settings::from_figment(base()).unwrap();
        let b = Settings::from_figment(base()).unwrap();
        assert!(a.scim.cursor_key.generated);
        assert_ne!(a.scim.cursor_key.bytes(), b.scim.cursor_key.bytes());
        let key = "k".repeat(40);
        let with_key = || {
            Settings::from_figment(base().merge(Serialized::default("scim.cursor_key", &key)))
                .unwrap()
        };
        let (a, b) = (with_key(), with_key());
        assert!(!a.scim.cursor_key.generated);
        assert_eq!(a.scim.cursor_key.bytes(), b.scim.cursor_key.bytes());
        assert!(!format!("{:?}", a.scim).contains(&key));
        assert!(!a.to_redacted_toml().contains(&key));
        let err =
            Settings::from_figment(base().merge(Serialized::default("scim.cursor_key", "short")))
                .unwrap_err();
        assert!(err.to_string().contains("scim.cursor_key"), "{err}");
        assert_eq!(a.scim.cursor_timeout, Duration::from_secs(3600));
    }

    #[test]
    fn secret_file_indirection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db-url");
        std::fs::write(&path, "postgres://u:secret@127.0.0.1/x\n").unwrap();
        let s = Settings::from_figment(base().merge(Serialized::default(
            "database.url_file",
            path.display().to_string(),
        )))
        .unwrap();
        assert!(matches!(s.database.url, DatabaseUrl::Postgres(_)));
        let missing = Settings::from_figment(
            base().merge(Serialized::default("database.url_file", "/nonexistent/x")),
        )
        .unwrap_err();
        assert!(missing.to_string().contains("database.url_file"));
    }

    #[test]
    fn smtp_needs_a_public_url_and_an_outbox_key() {
        let smtp = || base().merge(Serialized::default("email.transport", "smtp"));
        let err = Settings::from_figment(smtp()).unwrap_err().to_string();
        assert!(err.contains("server.public_url"), "{err}");
        let with_url = || {
            smtp().merge(Serialized::default(
                "server.public_url",
                "https://id.example.com",
            ))
        };
        let err = Settings::from_figment(with_url()).unwrap_err().to_string();
        assert!(err.contains("email.outbox_key"), "{err}");
        let key = "k".repeat(40);
        let s =
            Settings::from_figment(with_url().merge(Serialized::default("email.outbox_key", &key)))
                .unwrap();
        assert!(
            matches!(s.email.transport, MailTransport::Smtp(ref t) if t.tls == SmtpTls::Starttls)
        );
        assert!(!format!("{s:?}").contains(&key));
        assert!(!s.to_redacted_toml().contains(&key));
        let err = Settings::from_figment(
            with_url()
                .merge(Serialized::default("email.outbox_key", &key))
                .merge(Serialized::default("email.smtp.tls", "ssl")),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("email.smtp.tls"), "{err}");
        // The file transport is the embedded default and needs neither.
        let s = Settings::from_figment(base()).unwrap();
        assert!(matches!(s.email.transport, MailTransport::File(_)));
        assert!(s.email.outbox_key.generated);
    }

    #[test]
    fn sso_key_is_kept_beside_the_data_when_not_configured() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("db/rollcall.db").display());
        let with_db = || base().merge(Serialized::default("database.url", &db));
        let mut a = Settings::from_figment(with_db()).unwrap();
        let file = dir.path().join("db/sso-secret.key");
        assert_eq!(a.sso.default_key_file.as_deref(), Some(file.as_path()));
        assert!(a.sso.secret_key.generated);
        assert!(!file.exists(), "created on first need only");
        assert_eq!(a.sso.load_key_file().unwrap(), Some((file.clone(), true)));
        assert!(!a.sso.secret_key.generated);
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&file).unwrap().trim().len(), 64);
        // The next start (or the CLI) reads the same key.
        let mut b = Settings::from_figment(with_db()).unwrap();
        assert_eq!(b.sso.load_key_file().unwrap(), Some((file.clone(), false)));
        assert_eq!(a.sso.secret_key.bytes(), b.sso.secret_key.bytes());
        // A configured key needs no file; short ones are refused.
        let key = "k".repeat(40);
        let mut c =
            Settings::from_figment(with_db().merge(Serialized::default("sso.secret_key", &key)))
                .unwrap();
        assert_eq!(c.sso.load_key_file().unwrap(), None);
        assert_eq!(
            c.sso.secret_key.bytes(),
            OutboxKey::from_secret(&key).bytes()
        );
        let err =
            Settings::from_figment(with_db().merge(Serialized::default("sso.secret_key", "short")))
                .unwrap_err();
        assert!(err.to_string().contains("sso.secret_key"), "{err}");
        std::fs::write(&file, "short\n").unwrap();
        let mut d = Settings::from_figment(with_db()).unwrap();
        assert!(d.sso.load_key_file().is_err());
        // PostgreSQL keeps it in data/.
        let pg = Settings::from_figment(base().merge(Serialized::default(
            "database.url",
            "postgres://localhost/x",
        )))
        .unwrap();
        assert_eq!(
            pg.sso.default_key_file.as_deref(),
            Some(Path::new("data/sso-secret.key"))
        );
        assert_eq!(pg.sso.metadata_refresh, Duration::from_secs(21600));
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = Settings::from_figment(base().merge(Serialized::default("log.format", "xml")))
            .unwrap_err();
        assert!(err.to_string().contains("log.format"));
        let err = Settings::from_figment(base().merge(Serialized::default("server.port", "x")))
            .unwrap_err();
        assert!(err.to_string().contains("server.port"), "{err}");
    }
}
