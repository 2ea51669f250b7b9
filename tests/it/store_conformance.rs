//! The storage conformance suite: every test runs on PostgreSQL and on SQLite
//! (`store_suite!`), so both backends keep the same contract.

use std::sync::{Arc, Barrier};

use rollcall::domain::audit::Actor;
use rollcall::domain::{Email, OrgSettings, UserName, UserSource, UserStatus};
use rollcall::store::audit::{AuditQuery, NewAuditEvent};
use rollcall::store::orgs::Org;
use rollcall::store::users::{UserFields, UserQuery};
use rollcall::store::{self, StoreError, UniqueField};

use crate::support::TestDb;

fn org(db: &TestDb, slug: &str) -> Org {
    db.store()
        .write_blocking(|c| {
            store::orgs::insert(c, slug, slug, &OrgSettings::default(), store::now())
        })
        .unwrap()
}

fn fields(user_name: &str, email: Option<&str>) -> UserFields {
    UserFields {
        user_name: UserName::parse(user_name).unwrap(),
        email: email.map(|e| Email::parse(e).unwrap()),
        given_name: None,
        family_name: None,
        display_name: None,
        external_id: None,
        directory_id: None,
        status: UserStatus::Active,
        source: UserSource::Admin,
        scim: serde_json::json!({"userName": user_name}),
    }
}

fn orgs_are_unique_by_slug(db: &TestDb) {
    let a = org(db, "acme");
    let again = db.store().write_blocking(|c| {
        store::orgs::insert(c, "acme", "x", &OrgSettings::default(), store::now())
    });
    assert!(
        matches!(again, Err(StoreError::Unique(UniqueField::Slug))),
        "{again:?}"
    );
    let found = db
        .store()
        .read_blocking(|c| store::orgs::by_slug(c, "acme"))
        .unwrap();
    assert_eq!(found, a);
}

fn user_names_are_unique_case_insensitively(db: &TestDb) {
    let o = org(db, "acme");
    let s = db.store();
    s.write_blocking(|c| {
        store::users::insert(c, &o.id, &fields("Alice@Example.com", None), store::now())
    })
    .unwrap();
    let dup = s.write_blocking(|c| {
        store::users::insert(c, &o.id, &fields("alice@example.COM", None), store::now())
    });
    assert!(
        matches!(dup, Err(StoreError::Unique(UniqueField::UserName))),
        "{dup:?}"
    );
    // Another org may use the same name.
    let other = org(db, "other");
    s.write_blocking(|c| {
        store::users::insert(
            c,
            &other.id,
            &fields("alice@example.com", None),
            store::now(),
        )
    })
    .unwrap();
}

fn emails_are_unique_per_org(db: &TestDb) {
    let o = org(db, "acme");
    let s = db.store();
    s.write_blocking(|c| {
        store::users::insert(c, &o.id, &fields("a", Some("Jo@x.io")), store::now())
    })
    .unwrap();
    let dup = s.write_blocking(|c| {
        store::users::insert(c, &o.id, &fields("b", Some("jo@X.IO")), store::now())
    });
    assert!(
        matches!(dup, Err(StoreError::Unique(UniqueField::Email))),
        "{dup:?}"
    );
}

fn deprovisioned_users_do_not_block_reprovisioning(db: &TestDb) {
    let o = org(db, "acme");
    let s = db.store();
    let u = s
        .write_blocking(|c| {
            store::users::insert(c, &o.id, &fields("bob", Some("bob@x.io")), store::now())
        })
        .unwrap();
    let mut gone = UserFields::of(&u).unwrap();
    gone.status = UserStatus::Deprovisioned;
    let u2 = s
        .write_blocking(|c| store::users::update(c, &u, u.version, &gone, store::now()))
        .unwrap();
    assert!(u2.deprovisioned_at.is_some());
    s.write_blocking(|c| {
        store::users::insert(c, &o.id, &fields("BOB", Some("bob@x.io")), store::now())
    })
    .unwrap();
    let live = s
        .read_blocking(|c| store::users::find_by_user_name(c, &o.id, "bob"))
        .unwrap()
        .unwrap();
    assert_eq!(live.user_name, "BOB");
}

fn a_failed_transaction_writes_nothing(db: &TestDb) {
    let o = org(db, "acme");
    let s = db.store();
    let result: Result<(), StoreError> = s.write_blocking(|c| {
        store::users::insert(c, &o.id, &fields("carol", None), store::now())?;
        Err(StoreError::Internal("abort after the insert".into()))
    });
    assert!(result.is_err());
    let found = s
        .read_blocking(|c| store::users::find_by_user_name(c, &o.id, "carol"))
        .unwrap();
    assert!(found.is_none(), "the insert must have been rolled back");
}

fn updates_check_the_version(db: &TestDb) {
    let o = org(db, "acme");
    let s = db.store();
    let u = s
        .write_blocking(|c| store::users::insert(c, &o.id, &fields("dan", None), store::now()))
        .unwrap();
    let mut f = UserFields::of(&u).unwrap();
    f.display_name = Some("Dan".into());
    let u2 = s
        .write_blocking(|c| store::users::update(c, &u, 1, &f, store::now()))
        .unwrap();
    assert_eq!(u2.version, 2);
    assert_eq!(u2.display_name.as_deref(), Some("Dan"));
    let stale = s.write_blocking(|c| store::users::update(c, &u, 1, &f, store::now()));
    assert!(
        matches!(stale, Err(StoreError::VersionConflict)),
        "{stale:?}"
    );
}

/// Two writers read the same version and write at once: exactly one wins, the
/// other gets a clean conflict, and the winner's write is what is stored.
fn concurrent_writers_one_wins_one_conflicts(db: &TestDb) {
    let o = org(db, "acme");
    let s = db.store();
    let u = s
        .write_blocking(|c| store::users::insert(c, &o.id, &fields("erin", None), store::now()))
        .unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = ["Writer A", "Writer B"]
        .into_iter()
        .map(|name| {
            let (s, u, barrier) = (s.clone(), u.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut f = UserFields::of(&u).unwrap();
                f.display_name = Some(name.to_owned());
                barrier.wait();
                s.write_blocking(|c| {
                    // Read inside the transaction, then write against the version read first.
                    let _ = store::users::get(c, &u.org_id, &u.id)?;
                    store::users::update(c, &u, u.version, &f, store::now())
                })
                .map(|_| name)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::VersionConflict)))
        .count();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(conflicts, 1, "{results:?}");
    let stored = s
        .read_blocking(|c| store::users::get(c, &u.org_id, &u.id))
        .unwrap();
    assert_eq!(stored.display_name.as_deref(), Some(*winners[0]));
    assert_eq!(stored.version, 2);
}

fn listing_pages_are_stable_and_search_is_literal(db: &TestDb) {
    let o = org(db, "acme");
    let s = db.store();
    for i in 0..7 {
        let name = if i == 3 {
            "under_score".to_owned()
        } else {
            format!("user{i}")
        };
        s.write_blocking(|c| store::users::insert(c, &o.id, &fields(&name, None), store::now()))
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .read_blocking(|c| {
                store::users::list(
                    c,
                    &o.id,
                    &UserQuery {
                        after: after.clone(),
                        limit: 3,
                        ..Default::default()
                    },
                )
            })
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().cursor());
        // A user created mid-iteration lands after everything already listed.
        if seen.is_empty() {
            s.write_blocking(|c| {
                store::users::insert(c, &o.id, &fields("late", None), store::now())
            })
            .unwrap();
        }
        seen.extend(page.into_iter().map(|u| u.user_name));
    }
    assert_eq!(seen.len(), 8);
    assert_eq!(seen.last().unwrap(), "late");
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 8, "no user listed twice");
    // `_` is a LIKE wildcard; the search must match it literally.
    let hits = s
        .read_blocking(|c| {
            store::users::list(
                c,
                &o.id,
                &UserQuery {
                    search: Some("R_S".into()),
                    limit: 50,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(
        hits.iter()
            .map(|u| u.user_name.as_str())
            .collect::<Vec<_>>(),
        vec!["under_score"]
    );
}

fn audit_events_filter_and_page_newest_first(db: &TestDb) {
    let o = org(db, "acme");
    let s = db.store();
    let base = store::now();
    let events: Vec<NewAuditEvent> = (0..5)
        .map(|i| NewAuditEvent {
            org_id: Some(o.id.clone()),
            actor: Actor::cli(),
            action: if i % 2 == 0 {
                "user.created"
            } else {
                "user.suspended"
            },
            target_kind: "user",
            target_id: Some(format!("t{i}")),
            before: None,
            after: Some(serde_json::json!({"i": i})),
            request_id: Some("req-1".into()),
            occurred_at: base + chrono::Duration::milliseconds(i),
        })
        .collect();
    s.write_blocking(|c| store::audit::insert(c, &events))
        .unwrap();
    let all = s
        .read_blocking(|c| {
            store::audit::list(
                c,
                &o.id,
                &AuditQuery {
                    limit: 10,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].target_id.as_deref(), Some("t4"), "newest first");
    assert_eq!(all[0].after, Some(serde_json::json!({"i": 4})));
    let created = s
        .read_blocking(|c| {
            store::audit::list(
                c,
                &o.id,
                &AuditQuery {
                    action: Some("user.created".into()),
                    limit: 10,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(created.len(), 3);
    let page2 = s
        .read_blocking(|c| {
            store::audit::list(
                c,
                &o.id,
                &AuditQuery {
                    before: Some(all[1].cursor()),
                    limit: 10,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(
        page2
            .iter()
            .map(|e| e.target_id.clone().unwrap())
            .collect::<Vec<_>>(),
        vec!["t2", "t1", "t0"]
    );
}

fn memberships_are_idempotent_rows(db: &TestDb) {
    let o = org(db, "acme");
    let s = db.store();
    let u1 = s
        .write_blocking(|c| store::users::insert(c, &o.id, &fields("m1", None), store::now()))
        .unwrap();
    let u2 = s
        .write_blocking(|c| store::users::insert(c, &o.id, &fields("m2", None), store::now()))
        .unwrap();
    let g = s
        .write_blocking(|c| {
            store::groups::insert(
                c,
                &o.id,
                None,
                &store::groups::GroupFields {
                    display_name: "Eng".into(),
                    external_id: None,
                    scim: serde_json::json!({}),
                },
                store::now(),
            )
        })
        .unwrap();
    let added = s
        .write_blocking(|c| {
            store::groups::add_members(
                c,
                &g.id,
                &[u1.id.clone(), u1.id.clone(), u2.id.clone()],
                store::now(),
            )
        })
        .unwrap();
    assert_eq!(added.len(), 2);
    let again = s
        .write_blocking(|c| {
            store::groups::add_members(c, &g.id, std::slice::from_ref(&u1.id), store::now())
        })
        .unwrap();
    assert!(again.is_empty());
    let removed = s
        .write_blocking(|c| {
            store::groups::remove_members(c, &g.id, &[u1.id.clone(), u1.id.clone()])
        })
        .unwrap();
    assert_eq!(removed, vec![u1.id.clone()]);
    assert_eq!(
        s.read_blocking(|c| store::groups::of_user(c, &u2.id))
            .unwrap(),
        vec![g.id.clone()]
    );
    assert!(
        s.read_blocking(|c| store::groups::of_user(c, &u1.id))
            .unwrap()
            .is_empty()
    );
}

crate::store_suite!(
    orgs_are_unique_by_slug,
    user_names_are_unique_case_insensitively,
    emails_are_unique_per_org,
    deprovisioned_users_do_not_block_reprovisioning,
    a_failed_transaction_writes_nothing,
    updates_check_the_version,
    concurrent_writers_one_wins_one_conflicts,
    listing_pages_are_stable_and_search_is_literal,
    audit_events_filter_and_page_newest_first,
    memberships_are_idempotent_rows,
    the_access_rules_migration_upgrades_existing_orgs,
);

/// An org created before the "4 of 11" access rules is brought up to them
/// by the data migration: the two new gateway permissions in its catalogue,
/// granted to the roles that did those things before, the `access_reader`
/// role, and a ceiling for its directories without owner roles.
fn the_access_rules_migration_upgrades_existing_orgs(db: &TestDb) {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use rollcall::service::{self, Acting, Ctx};

    const NAME: &str = "2026-12-01-000001_access_rules";
    let store = db.store();
    let ctx = Ctx::new(Actor::cli(), None);
    store
        .write_blocking(|c| -> Result<_, rollcall::error::AppError> {
            let org = service::orgs::create(
                c,
                &ctx,
                service::orgs::NewOrg {
                    slug: "old".into(),
                    name: None,
                    preset: None,
                },
            )?;
            let op = service::authz::OrgPolicy::load(c, &org)?;
            let acting = Acting {
                ctx: &ctx,
                org: &org,
                op: &op,
                authority: &service::authz::Authority::Operator,
            };
            service::directories::create(c, &acting, "okta", None)?;
            Ok(())
        })
        .unwrap();
    // Back to the state before the migration: its own down.sql, and the
    // record of it gone, so the next `migrate` applies it to old data.
    let backend = if db.url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    let down = std::fs::read_to_string(format!(
        "{}/migrations/{backend}/{NAME}/down.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    store
        .write_blocking(|c| -> Result<_, rollcall::error::AppError> {
            c.batch_execute(&down).map_err(StoreError::from)?;
            c.batch_execute(
                "DELETE FROM __diesel_schema_migrations WHERE version = '20261201000001'",
            )
            .map_err(StoreError::from)?;
            Ok(())
        })
        .unwrap();
    let applied = store.migrate().unwrap();
    assert!(
        applied.iter().any(|v| v.starts_with("20261201000001")),
        "{applied:?}"
    );

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        key: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        permission: String,
    }
    let grants: Vec<(String, String)> = store
        .read_blocking(|c| -> Result<_, rollcall::error::AppError> {
            Ok(diesel::sql_query(
                "SELECT r.key AS key, g.permission AS permission FROM roles r \
                 JOIN role_grants g ON g.role_id = r.id \
                 WHERE g.permission IN ('gateway.keys.manage', 'gateway.access.read') \
                 ORDER BY r.key, g.permission",
            )
            .load::<Row>(c)
            .map_err(StoreError::from)?
            .into_iter()
            .map(|r| (r.key, r.permission))
            .collect())
        })
        .unwrap();
    let has = |role: &str, p: &str| grants.iter().any(|(r, g)| r == role && g == p);
    for role in ["owner", "admin", "workspace_admin"] {
        assert!(
            has(role, "gateway.keys.manage") && has(role, "gateway.access.read"),
            "{role}: {grants:?}"
        );
    }
    assert!(has("access_reader", "gateway.access.read"), "{grants:?}");
    assert!(!has("view_manager", "gateway.keys.manage"), "{grants:?}");
    // The compiled policy of the upgraded org knows the new permissions.
    let (ceiling, owner_id) = store
        .read_blocking(|c| -> Result<_, rollcall::error::AppError> {
            let org = service::orgs::resolve(c, "old")?;
            let op = service::authz::OrgPolicy::load(c, &org)?;
            assert!(op.policy.permission("gateway.keys.manage").is_some());
            assert!(op.role("access_reader").is_ok());
            let d = store::directories::get(c, &org.id, "okta")?;
            Ok((d.ceiling, op.owner_role().unwrap().id.as_str().to_owned()))
        })
        .unwrap();
    assert!(!ceiling.roles.is_empty());
    assert!(
        !ceiling.roles.contains(&owner_id),
        "the owner role is beyond every ceiling"
    );
    assert_eq!(ceiling.workspaces, None);
}
