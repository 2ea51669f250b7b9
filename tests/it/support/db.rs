//! Test databases on both backends.
//!
//! PostgreSQL: `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! names a server and a maintenance database. A template database is migrated
//! once (named after a hash of the migrations, built under an advisory lock so
//! parallel test processes agree), and each test gets a fresh copy, dropped at
//! the end. If the server cannot be reached the tests fail with a clear
//! message — they never skip.
//! SQLite: a file in a temporary folder per test.

use std::sync::OnceLock;

use diesel::prelude::*;
use diesel::{Connection, PgConnection, RunQueryDsl};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use rollcall::configuration::{DEFAULT_TOML, Settings};
use rollcall::store::Store;

pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("TEST_DATABASE_URL is not a URL");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

fn admin_conn() -> PgConnection {
    let url = admin_url();
    PgConnection::establish(&url).unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is required for these tests and could not be reached at {url}: {e}\n\
             Start it (e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) \
             or point TEST_DATABASE_URL at a server where this user may create databases."
        )
    })
}

/// The migrated template's name: changes whenever a migration changes.
fn template_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        let mut dirs: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        dirs.sort();
        for d in dirs {
            h.update(d.file_name().unwrap().to_string_lossy().as_bytes());
            h.update(std::fs::read(d.join("up.sql")).unwrap());
        }
        format!("rollcall_tpl_{}", &hex::encode(h.finalize())[..16])
    })
}

fn ensure_template() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    let name = template_name();
    READY.get_or_init(|| build_template(name, true));
    name
}

/// Build the template unless it exists (under an advisory lock, so parallel
/// test processes agree); optionally drop templates of other migration sets.
fn build_template(name: &str, drop_stale: bool) {
    {
        let mut conn = admin_conn();
        diesel::sql_query("SELECT pg_advisory_lock(7319001)")
            .execute(&mut conn)
            .unwrap();
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let exists = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
        ))
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n > 0;
        if !exists {
            let building = format!("{name}_building");
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .execute(&mut conn)
                .unwrap();
            diesel::sql_query(format!("CREATE DATABASE {building}"))
                .execute(&mut conn)
                .unwrap();
            {
                let store =
                    Store::open(&settings_for(&with_database(&admin_url(), &building)).database)
                        .expect("open template database");
                store.migrate().expect("migrate template database");
            }
            diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                .execute(&mut conn)
                .unwrap();
        }
        // Templates of older migration sets are left by earlier runs: drop
        // them (one still in use by another run just stays; a run that finds
        // its own dropped rebuilds it, see `TestDb::postgres`).
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            datname: String,
        }
        let stale = if !drop_stale {
            Vec::new()
        } else {
            diesel::sql_query(format!(
            "SELECT datname FROM pg_database WHERE datname LIKE 'rollcall_tpl_%' AND datname <> '{name}'"
        ))
            .load::<Name>(&mut conn)
            .unwrap_or_default()
        };
        for old in stale {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {}", old.datname))
                .execute(&mut conn);
        }
        diesel::sql_query("SELECT pg_advisory_unlock(7319001)")
            .execute(&mut conn)
            .unwrap();
    }
}

/// The configuration of a test: defaults, this database, a free port, two workers.
pub fn settings_figment(database_url: &str) -> Figment {
    Figment::from(Toml::string(DEFAULT_TOML))
        .merge(Serialized::default("database.url", database_url))
        .merge(Serialized::default("database.pool_size", 8))
        .merge(Serialized::default("server.port", 0))
        .merge(Serialized::default("server.workers", 2))
        .merge(Serialized::default("log.level", "warn"))
        // Mail from tests that do not run an SMTP sink goes to files here,
        // never into the working tree.
        .merge(Serialized::default(
            "email.file_dir",
            std::env::temp_dir().join("rollcall-test-mail"),
        ))
}

/// Settings for a test (see [`settings_figment`]).
pub fn settings_for(database_url: &str) -> Settings {
    Settings::from_figment(settings_figment(database_url)).expect("test settings")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A fresh, migrated database for one test; removed when dropped.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
    store: OnceLock<Store>,
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Postgres => Self::postgres(),
            Backend::Sqlite => Self::sqlite(),
        }
    }

    pub fn postgres() -> TestDb {
        let template = ensure_template();
        let name = format!("rollcall_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin_conn();
        // Concurrent copies of one template can collide briefly; retry.
        let mut attempt = 0;
        loop {
            match diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .execute(&mut conn)
            {
                Ok(_) => break,
                Err(e) if attempt < 20 => {
                    attempt += 1;
                    // A test run of another migration set (another branch)
                    // dropped ours as stale: build it again.
                    if e.to_string().contains("does not exist") {
                        build_template(template, false);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50 * attempt));
                }
                Err(e) => panic!("cannot create test database from {template}: {e}"),
            }
        }
        TestDb {
            url: with_database(&admin_url(), &name),
            pg_name: Some(name),
            _dir: None,
            store: OnceLock::new(),
        }
    }

    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("rollcall.db").display());
        let db = TestDb {
            url,
            pg_name: None,
            _dir: Some(dir),
            store: OnceLock::new(),
        };
        db.store().migrate().expect("migrate sqlite");
        db
    }

    pub fn settings(&self) -> Settings {
        settings_for(&self.url)
    }

    pub fn store(&self) -> Store {
        self.store
            .get_or_init(|| Store::open(&self.settings().database).expect("open test store"))
            .clone()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Close our pool before dropping the database.
        drop(self.store.take());
        if let Some(name) = &self.pg_name
            && let Ok(mut conn) = PgConnection::establish(&admin_url())
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn);
        }
    }
}
