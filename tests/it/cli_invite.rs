//! `rollcall invite`: one person, or every row of a CSV or JSON file, with a
//! summary table; on both backends.

use crate::cli::{ok, rollcall};
use crate::support::TestDb;

fn invite_from_the_command_line(db: &TestDb) {
    ok(&rollcall(&db.url, &["org", "create", "acme"]));
    ok(&rollcall(
        &db.url,
        &["workspace", "create", "--org", "acme", "alpha"],
    ));
    let one = ok(&rollcall(
        &db.url,
        &[
            "invite",
            "--org",
            "acme",
            "--email",
            "ada@example.com",
            "--role",
            "Read Only",
            "--workspace",
            "alpha",
        ],
    ));
    assert!(one.starts_with("invited\tada@example.com\t"), "{one}");
    let again = ok(&rollcall(
        &db.url,
        &[
            "invite",
            "--org",
            "acme",
            "--email",
            "ada@example.com",
            "--role",
            "read_only",
            "--workspace",
            "alpha",
        ],
    ));
    assert!(again.starts_with("resent\t"), "{again}");

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "email,name,role,workspaces\nb@example.com,B,read_only,alpha\nc@example.com,,,\nnot-an-address,,,\n",
    )
    .unwrap();
    let out = rollcall(
        &db.url,
        &["invite", "--org", "acme", "--csv", csv.to_str().unwrap()],
    );
    assert!(!out.status.success(), "a failed row makes the command fail");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("created") && table.contains("      2"),
        "{table}"
    );
    assert!(
        table.contains("row 3\tnot-an-address\tinvalid_email"),
        "{table}"
    );

    let json = dir.path().join("people.json");
    std::fs::write(
        &json,
        r#"[{"email": "d@example.com"}, {"email": "e@example.com", "role": "emperor"}]"#,
    )
    .unwrap();
    let out = rollcall(
        &db.url,
        &[
            "invite",
            "--org",
            "acme",
            "--json",
            json.to_str().unwrap(),
            "--atomic",
        ],
    );
    assert!(!out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("not_applied") && table.contains("nothing was stored"),
        "{table}"
    );
    let users = ok(&rollcall(&db.url, &["user", "list", "--org", "acme"]));
    assert!(
        !users.contains("d@example.com"),
        "atomic: nothing partial: {users}"
    );
    assert!(
        users.contains("b@example.com") && users.contains("invited"),
        "{users}"
    );
}

crate::store_suite!(invite_from_the_command_line);
