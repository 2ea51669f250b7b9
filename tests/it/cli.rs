//! The `rollcall` binary: administration on the same store the server uses,
//! configuration errors at start-up.

use std::process::Command;

use crate::support::TestDb;

pub(crate) fn rollcall(db_url: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(args)
        .current_dir(dir.path())
        .env("DATABASE_URL", db_url)
        .env_remove("ROLLCALL_ENV")
        .env("ROLLCALL__LOG__LEVEL", "warn")
        .output()
        .unwrap()
}

pub(crate) fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "status: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn administer(db: &TestDb) {
    ok(&rollcall(
        &db.url,
        &["org", "create", "acme", "--name", "Acme Inc"],
    ));
    assert!(ok(&rollcall(&db.url, &["org", "list"])).contains("acme"));
    ok(&rollcall(
        &db.url,
        &["workspace", "create", "--org", "acme", "team-a"],
    ));
    assert!(ok(&rollcall(&db.url, &["workspace", "list", "--org", "acme"])).contains("team-a"));
    let token = ok(&rollcall(&db.url, &["api-key", "create", "--org", "acme"]));
    assert!(token.trim().starts_with("rk_"), "{token}");
    // A role is named by key or display name, in any case.
    for role in ["Owner", "view manager", "READ_ONLY"] {
        ok(&rollcall(
            &db.url,
            &["api-key", "create", "--org", "acme", "--role", role],
        ));
    }
    let unknown = rollcall(
        &db.url,
        &["api-key", "create", "--org", "acme", "--role", "Boss"],
    );
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(err.contains("view_manager (View Manager)"), "{err}");
    // The directory's ceiling, set from the CLI: never an owner role.
    ok(&rollcall(
        &db.url,
        &["directory", "create", "--org", "acme", "--name", "okta"],
    ));
    let set = ok(&rollcall(
        &db.url,
        &[
            "directory",
            "ceiling",
            "--org",
            "acme",
            "--directory",
            "okta",
            "--role",
            "Read Only",
            "--all-workspaces",
        ],
    ));
    assert!(set.contains("read_only"), "{set}");
    let owner = rollcall(
        &db.url,
        &[
            "directory",
            "ceiling",
            "--org",
            "acme",
            "--directory",
            "okta",
            "--role",
            "owner",
        ],
    );
    assert!(!owner.status.success());
    ok(&rollcall(
        &db.url,
        &[
            "user",
            "create",
            "--org",
            "acme",
            "--email",
            "ada@example.com",
        ],
    ));
    let dup = rollcall(
        &db.url,
        &[
            "user",
            "create",
            "--org",
            "acme",
            "--email",
            "ADA@example.com",
        ],
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    assert!(ok(&rollcall(&db.url, &["user", "list", "--org", "acme"])).contains("ada@example.com"));
    let shown = ok(&rollcall(
        &db.url,
        &["user", "show", "--org", "acme", "ada@example.com"],
    ));
    assert!(shown.contains("\"source\": \"admin\""), "{shown}");
    let listed = ok(&rollcall(&db.url, &["api-key", "list", "--org", "acme"]));
    let key_id = listed.split('\t').next().unwrap().to_owned();
    assert!(ok(&rollcall(&db.url, &["api-key", "revoke", &key_id])).contains("revoked"));
    assert!(ok(&rollcall(&db.url, &["api-key", "list", "--org", "acme"])).contains("revoked"));
    let roles = ok(&rollcall(&db.url, &["role", "list", "--org", "acme"]));
    assert!(roles.contains("view_manager\tView Manager"), "{roles}");
    let shown = ok(&rollcall(
        &db.url,
        &["role", "show", "--org", "acme", "owner"],
    ));
    assert!(shown.contains("\"billing.legacy\": \"allow\""), "{shown}");
    ok(&rollcall(
        &db.url,
        &[
            "user",
            "set-role",
            "--org",
            "acme",
            "ada@example.com",
            "view_manager",
        ],
    ));
    ok(&rollcall(
        &db.url,
        &[
            "user",
            "set-workspaces",
            "--org",
            "acme",
            "ada@example.com",
            "team-a",
        ],
    ));
    let shown = ok(&rollcall(
        &db.url,
        &["user", "show", "--org", "acme", "ada@example.com"],
    ));
    assert!(shown.contains("\"role\": \"view_manager\""), "{shown}");
    assert!(shown.contains("team-a"), "{shown}");
    let refused = rollcall(
        &db.url,
        &[
            "user",
            "set-role",
            "--org",
            "acme",
            "ada@example.com",
            "emperor",
        ],
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("role `emperor` not found"));
    let unknown = rollcall(&db.url, &["user", "list", "--org", "nowhere"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("organization `nowhere` not found"));
}

crate::store_suite!(administer);

#[test]
fn a_malformed_database_url_is_an_error_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["migrate"])
        .current_dir(dir.path())
        .env("DATABASE_URL", "rollcall.db")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database.url"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file may be created"
    );
}

#[test]
fn unknown_configuration_keys_stop_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["check-config"])
        .current_dir(dir.path())
        .env("ROLLCALL__SERVER__PROT", "9000")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown key `server.prot`"));
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["check-config"])
        .current_dir(dir.path())
        .env("ROLLCALL__SERVER__PORT", "8081")
        .env("DATABASE_URL", "postgres://app:hunter2@db.example/rollcall")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("port = 8081"), "{printed}");
    assert!(
        !printed.contains("hunter2"),
        "secrets are redacted: {printed}"
    );
}

#[test]
fn the_default_store_is_a_sqlite_file_under_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["org", "create", "acme"])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("data/rollcall.db").is_file());
}
