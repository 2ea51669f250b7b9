//! Roles from SSO group claims (issue "8 of 11", item 6; SPEC §2 "Where a
//! user's role comes from"): the groups of a login go through the same
//! role-source function as SCIM memberships, each path resolving against
//! both sources' mappings; `sso_claim` mappings name a connection of the
//! org; the migration removes (and audits) the ones that never did.
//!
//! Connections and identities are written through the store (the connection
//! admin API and the login flow are built elsewhere); the login's last step
//! is `service::role_sources::apply_login`, as the SSO flow calls it.

use reqwest::{Method, StatusCode};
use rollcall::domain::audit::{Actor, ActorKind};
use rollcall::domain::authz::WorkspaceList;
use rollcall::error::AppError;
use rollcall::service::{self, Ctx};
use rollcall::store::{self, StoreError};
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, TestDb};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// An IdP connection row of `org`; returns its id.
fn connection(db: &TestDb, org: &str, name: &str) -> String {
    let (org, name) = (org.to_owned(), name.to_owned());
    db.store()
        .write_blocking(move |c| -> Result<_, AppError> {
            let org = service::orgs::resolve(c, &org)?;
            let id = uuid::Uuid::now_v7().to_string();
            store::idp_connections::insert(
                c,
                store::idp_connections::NewConnection {
                    id: &id,
                    org: &org.id,
                    kind: "oidc",
                    name: &name,
                    config: "{}",
                    secret: None,
                    trusted_domains: "[]",
                    enabled: true,
                    owner_approved: true,
                    created_by: None,
                    metadata_url: None,
                    metadata_refreshed_at: None,
                },
                store::now(),
            )?;
            Ok(id)
        })
        .unwrap()
}

/// An identity of `user` through `connection`; returns its id.
fn identity(db: &TestDb, org: &str, user: &str, connection: &str, subject: &str) -> String {
    let (org, user, connection, subject) = (
        org.to_owned(),
        user.to_owned(),
        connection.to_owned(),
        subject.to_owned(),
    );
    db.store()
        .write_blocking(move |c| -> Result<_, AppError> {
            let org = service::orgs::resolve(c, &org)?;
            let id = uuid::Uuid::now_v7().to_string();
            store::identities::insert(
                c,
                &id,
                &org.id,
                &user.parse().unwrap(),
                &connection,
                &format!("https://idp.example.com/{connection}"),
                &subject,
                None,
                store::now(),
            )?;
            Ok(id)
        })
        .unwrap()
}

/// The role-source step of a login through `identity` that sent `groups`.
fn login(
    db: &TestDb,
    org: &str,
    user: &str,
    identity: &str,
    connection: &str,
    groups: &[&str],
) -> Result<bool, AppError> {
    let (org, user, identity, connection) = (
        org.to_owned(),
        user.to_owned(),
        identity.to_owned(),
        connection.to_owned(),
    );
    let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    db.store().write_blocking(move |c| -> Result<_, AppError> {
        let org = service::orgs::resolve(c, &org)?;
        let op = service::authz::OrgPolicy::load(c, &org)?;
        let ctx = Ctx::new(
            Actor {
                kind: ActorKind::IdpLogin,
                id: Some(user.clone()),
                label: "idp login".into(),
            },
            None,
        );
        service::role_sources::apply_login(
            c,
            &ctx,
            &org,
            &op,
            &user.parse().unwrap(),
            &identity,
            &connection,
            &groups,
        )
    })
}

struct Scim<'a> {
    app: &'a TestApp,
    base: String,
    token: String,
}

impl Scim<'_> {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> crate::support::app::Reply {
        self.app
            .scim(method, &format!("{}{path}", self.base), &self.token, body)
            .await
    }

    async fn user(&self, name: &str) -> String {
        let r = self
            .call(
                Method::POST,
                "/Users",
                Some(json!({"schemas": [USER], "userName": name})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }

    async fn group(&self, name: &str) -> String {
        let r = self
            .call(
                Method::POST,
                "/Groups",
                Some(json!({"schemas": [GROUP], "displayName": name})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }

    async fn members(&self, group: &str, op: &str, user: &str) {
        let body = if op == "add" {
            json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]})
        } else {
            json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]})
        };
        let r = self
            .call(Method::PATCH, &format!("/Groups/{group}"), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    }
}

async fn setup(app: &TestApp) -> (String, Scim<'_>) {
    let key = app.org_with_key("acme");
    for slug in ["eng", "ops"] {
        let r = app
            .post("/api/v1/orgs/acme/workspaces", &key, json!({"slug": slug}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let (base, token) = app.scim_directory("acme", "okta");
    (key, Scim { app, base, token })
}

async fn mapping(app: &TestApp, key: &str, body: Value) -> String {
    let r = app
        .post("/api/v1/orgs/acme/group-mappings", key, body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

/// (role key, source) of the user's access answer, and their stored
/// workspace list (slugs, or "all"): what the role sources wrote, whatever
/// the role's visibility makes of it.
async fn access(app: &TestApp, key: &str, user: &str) -> (String, String, Value) {
    let r = app
        .get(&format!("/api/v1/orgs/acme/users/{user}/access"), key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let b = &r.body["bindings"][0];
    let user = user.to_owned();
    let list = app
        .db
        .store()
        .read_blocking(move |c| -> Result<_, AppError> {
            let org = service::orgs::resolve(c, "acme")?;
            let op = service::authz::OrgPolicy::load(c, &org)?;
            let access = store::access::workspace_access(c, &user.parse().unwrap())?;
            Ok(match access.list {
                WorkspaceList::All => json!("all"),
                WorkspaceList::Only(ids) => {
                    let mut slugs: Vec<String> = ids
                        .iter()
                        .map(|id| {
                            op.workspaces
                                .iter()
                                .find(|w| w.id.as_str() == id.as_str())
                                .unwrap()
                                .slug
                                .clone()
                        })
                        .collect();
                    slugs.sort();
                    json!(slugs)
                }
            })
        })
        .unwrap();
    (
        b["role"].as_str().unwrap().to_owned(),
        b["source"].as_str().unwrap().to_owned(),
        list,
    )
}

fn of(role: &str, source: &str, ws: Value) -> (String, String, Value) {
    (role.to_owned(), source.to_owned(), ws)
}

/// Login groups give a role through the connection's mapping; a later SCIM
/// membership change re-resolves against both sources (the SSO-claimed role
/// and workspaces survive it), a later login keeps the SCIM-given role; the
/// highest priority across both sources gives the role, the workspaces are
/// the union; every change is audited with its source and mapping.
async fn login_groups_and_scim_groups_resolve_together(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, scim) = setup(&app).await;
    let okta_oidc = connection(&app.db, "acme", "okta-oidc");
    let dir = scim.base.rsplit('/').next().unwrap().to_owned();
    let eng_mapping = mapping(&app, &key, json!({"kind": "scim_group", "source": dir, "group": "Engineering", "role": "data_manager", "workspaces": ["eng"], "priority": 5})).await;
    let ops_mapping = mapping(&app, &key, json!({"kind": "sso_claim", "source": okta_oidc, "group": "ops", "role": "read_only", "workspaces": ["ops"], "priority": 1})).await;
    let leads_mapping = mapping(&app, &key, json!({"kind": "sso_claim", "source": okta_oidc, "group": "Leads", "role": "workspace_admin", "priority": 20})).await;

    let u = scim.user("gina@example.com").await;
    let eng = scim.group("engineering").await;
    assert_eq!(
        access(&app, &key, &u).await,
        of("view_manager", "default", json!("all"))
    );
    let id = identity(&app.db, "acme", &u, &okta_oidc, "gina");

    // 1. The login's groups: the sso_claim mapping gives role and workspaces.
    assert!(login(&app.db, "acme", &u, &id, &okta_oidc, &["ops", "unmapped"]).unwrap());
    assert_eq!(
        access(&app, &key, &u).await,
        of("read_only", "sso_claim", json!(["ops"]))
    );
    // The same groups again change nothing.
    assert!(!login(&app.db, "acme", &u, &id, &okta_oidc, &["unmapped", "ops"]).unwrap());
    // Claim values match exactly, case included.
    assert!(!login(&app.db, "acme", &u, &id, &okta_oidc, &["ops", "leads"]).unwrap());
    assert_eq!(access(&app, &key, &u).await.0, "read_only");

    // 2. SCIM adds the user to Engineering: priority 5 beats 1, and the
    // workspaces are the union of both sources' mappings.
    scim.members(&eng, "add", &u).await;
    assert_eq!(
        access(&app, &key, &u).await,
        of("data_manager", "scim_group", json!(["eng", "ops"]))
    );
    // 3. SCIM removes the membership: the SSO-claimed role stands (not the
    // default), with its workspaces.
    scim.members(&eng, "remove", &u).await;
    assert_eq!(
        access(&app, &key, &u).await,
        of("read_only", "sso_claim", json!(["ops"]))
    );
    // 4. And the other way round: back in Engineering, then a login without
    // the ops group keeps the SCIM-given role and its workspaces.
    scim.members(&eng, "add", &u).await;
    assert!(login(&app.db, "acme", &u, &id, &okta_oidc, &[]).unwrap());
    assert_eq!(
        access(&app, &key, &u).await,
        of("data_manager", "scim_group", json!(["eng"]))
    );
    // 5. A login with a higher-priority group than the SCIM one: its role,
    // the workspaces of every matching mapping of both sources.
    assert!(login(&app.db, "acme", &u, &id, &okta_oidc, &["Leads", "ops"]).unwrap());
    assert_eq!(
        access(&app, &key, &u).await,
        of("workspace_admin", "sso_claim", json!(["eng", "ops"]))
    );
    // A SCIM change that does not touch the winner leaves it.
    scim.members(&eng, "remove", &u).await;
    assert_eq!(
        access(&app, &key, &u).await,
        of("workspace_admin", "sso_claim", json!(["ops"]))
    );

    // Every change is audited, the SSO ones with source and mapping.
    let r = app
        .get(&format!("/api/v1/orgs/acme/audit?target={u}"), &key)
        .await;
    let items = r.body["items"].as_array().unwrap();
    let changes: Vec<&Value> = items
        .iter()
        .filter(|e| e["action"] == "user.role_changed")
        .collect();
    let by = |mapping: &str| {
        changes
            .iter()
            .filter(|e| e["after"]["mapping"] == mapping)
            .count()
    };
    assert!(by(&ops_mapping) >= 2, "{changes:#?}");
    assert!(by(&leads_mapping) >= 1, "{changes:#?}");
    assert!(by(&eng_mapping) >= 2, "{changes:#?}");
    for e in &changes {
        let expected = if e["after"]["mapping"] == eng_mapping {
            "scim_group"
        } else {
            "sso_claim"
        };
        assert_eq!(e["after"]["source"], expected, "{e}");
    }
    let ssos: Vec<&&Value> = changes
        .iter()
        .filter(|e| e["after"]["source"] == "sso_claim")
        .collect();
    assert!(
        ssos.iter().any(|e| e["actor"]["kind"] == "idp_login"),
        "{ssos:#?}"
    );
    assert!(
        items
            .iter()
            .any(|e| e["action"] == "identity.groups_changed"
                && e["after"]["groups"] == json!(["Leads", "ops"])),
        "the recorded groups are audited"
    );
}

/// `roles_managed_by = admin`: an admin-given role stays whatever the login
/// says; `idp`: the mapping wins. A mapping created after the login applies
/// to the groups that login recorded.
async fn admin_bindings_and_mappings_created_later(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, _scim) = setup(&app).await;
    let entra = connection(&app.db, "acme", "entra");
    let u = app.user(&key, "acme", "hal", "read_only").await;
    let id = identity(&app.db, "acme", &u, &entra, "hal-oid");

    // The group has no mapping yet: nothing changes, but it is recorded.
    assert!(!login(&app.db, "acme", &u, &id, &entra, &["g-analysts"]).unwrap());
    let m = mapping(&app, &key, json!({"kind": "sso_claim", "source": entra, "group": "g-analysts", "role": "data_manager", "workspaces": ["eng"], "priority": 1})).await;
    // Admin mode: the explicit admin binding wins over the mapping.
    assert_eq!(access(&app, &key, &u).await.1, "admin");
    assert!(!login(&app.db, "acme", &u, &id, &entra, &["g-analysts"]).unwrap());
    assert_eq!(access(&app, &key, &u).await.0, "read_only");

    // A user without an explicit binding gets the mapping as soon as it is
    // created, from the groups of their last login.
    let v = app.user(&key, "acme", "ivy", "view_manager").await;
    let vid = identity(&app.db, "acme", &v, &entra, "ivy-oid");
    let n = {
        // Not explicit: make ivy's binding a default one, as SSO-default does.
        let w = v.clone();
        app.db
            .store()
            .write_blocking(move |c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, "acme")?;
                let op = service::authz::OrgPolicy::load(c, &org)?;
                let role = op.role("view_manager")?.id.clone();
                store::access::put_org_binding(
                    c,
                    &org.id,
                    &w.parse().unwrap(),
                    Some((&role, rollcall::domain::authz::BindingSource::Default, None)),
                    store::now(),
                )?;
                store::access::refresh(c, &[w.parse().unwrap()])?;
                Ok(())
            })
            .unwrap();
        login(&app.db, "acme", &v, &vid, &entra, &["g-leads"]).unwrap()
    };
    assert!(!n);
    assert_eq!(access(&app, &key, &v).await.1, "default");
    let leads = mapping(&app, &key, json!({"kind": "sso_claim", "source": entra, "group": "g-leads", "role": "admin", "priority": 3})).await;
    assert_eq!(
        access(&app, &key, &v).await,
        of("admin", "sso_claim", json!("all"))
    );
    // Deleting it re-resolves those users too.
    let r = app
        .delete(&format!("/api/v1/orgs/acme/group-mappings/{leads}"), &key)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(access(&app, &key, &v).await.0, "view_manager");

    // IdP mode: the mapping wins over the admin binding.
    let r = app
        .put("/api/v1/orgs/acme/settings", &key, {
            let mut s = app.get("/api/v1/orgs/acme/settings", &key).await.body;
            s["roles_managed_by"] = json!("idp");
            s
        })
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(login(&app.db, "acme", &u, &id, &entra, &["g-analysts"]).unwrap());
    assert_eq!(
        access(&app, &key, &u).await,
        of("data_manager", "sso_claim", json!(["eng"]))
    );
    // …and an admin edit of the mapped role is refused, naming the mapping.
    let r = app
        .put(
            &format!("/api/v1/orgs/acme/users/{u}/role"),
            &key,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains(&m), "{}", r.text);
}

/// An owner keeps the owner role whatever the login's groups map to.
async fn an_owner_keeps_the_owner_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, _scim) = setup(&app).await;
    let c = connection(&app.db, "acme", "google");
    let r = app
        .put("/api/v1/orgs/acme/settings", &key, {
            let mut s = app.get("/api/v1/orgs/acme/settings", &key).await.body;
            s["roles_managed_by"] = json!("idp");
            s
        })
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    mapping(&app, &key, json!({"kind": "sso_claim", "source": c, "group": "staff", "role": "read_only", "priority": 1})).await;
    let o = app.user(&key, "acme", "olga", "owner").await;
    let id = identity(&app.db, "acme", &o, &c, "olga");
    assert!(!login(&app.db, "acme", &o, &id, &c, &["staff"]).unwrap());
    assert_eq!(access(&app, &key, &o).await.0, "owner");
    let r = app
        .get(&format!("/api/v1/orgs/acme/audit?target={o}"), &key)
        .await;
    assert!(r.text.contains("user.role_change_refused"), "{}", r.text);
}

/// The source of a mapping must be the org's own: an IdP connection for
/// `sso_claim` (not another org's, not any string), a SCIM directory for
/// `scim_group` (by id or name, stored by id); `sso_claim` mappings are for
/// holders of `gateway.sso.manage`.
async fn mapping_sources_are_validated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, scim) = setup(&app).await;
    let ours = connection(&app.db, "acme", "okta-oidc");
    app.org_with_key("other");
    let theirs = connection(&app.db, "other", "their-idp");
    for source in ["nope", theirs.as_str(), ""] {
        let r = app
            .post(
                "/api/v1/orgs/acme/group-mappings",
                &key,
                json!({"kind": "sso_claim", "source": source, "group": "g", "role": "read_only"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{source}: {}", r.text);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("IdP connection"),
            "{}",
            r.text
        );
    }
    let r = app
        .post(
            "/api/v1/orgs/acme/group-mappings",
            &key,
            json!({"kind": "scim_group", "source": ours, "group": "g", "role": "read_only"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "a connection is not a directory: {}",
        r.text
    );
    let r = app
        .post(
            "/api/v1/orgs/acme/group-mappings",
            &key,
            json!({"kind": "scim_group", "source": "okta", "group": "g", "role": "read_only"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let dir = scim.base.rsplit('/').next().unwrap();
    assert_eq!(r.body["source"], dir, "stored by directory id");
    mapping(
        &app,
        &key,
        json!({"kind": "sso_claim", "source": ours, "group": "g", "role": "read_only"}),
    )
    .await;

    // A holder of gateway.scim.manage without gateway.sso.manage.
    let scim_admin_role = app
        .post("/api/v1/orgs/acme/roles", &key, json!({"key": "scim_admin", "name": "SCIM admin", "binds_at": "org", "grants": {"gateway.scim.manage": "allow"}}))
        .await;
    assert_eq!(
        scim_admin_role.status,
        StatusCode::CREATED,
        "{}",
        scim_admin_role.text
    );
    app.user(&key, "acme", "sam", "scim_admin").await;
    let sam = app.personal_key("acme", "sam");
    let r = app
        .post(
            "/api/v1/orgs/acme/group-mappings",
            &sam,
            json!({"kind": "sso_claim", "source": ours, "group": "h", "role": "read_only"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("gateway.sso.manage"), "{}", r.text);
}

/// The migration removes `sso_claim` mappings whose source is not an IdP
/// connection of their org — one audit event each, with the mapping as the
/// API shows it — and keeps the rest.
fn the_migration_removes_orphan_claim_mappings(db: &TestDb) {
    use diesel::connection::SimpleConnection;
    use rollcall::domain::authz::{GroupMapping, MappingId, MappingKind, WorkspaceId};

    const NAME: &str = "2026-12-01-000410_sso_claim_sources";
    let store = db.store();
    let ctx = Ctx::new(Actor::cli(), None);
    let mk = |org: &str| {
        let ctx = &ctx;
        let org = org.to_owned();
        store
            .write_blocking(move |c| -> Result<_, AppError> {
                let org = service::orgs::create(
                    c,
                    ctx,
                    service::orgs::NewOrg {
                        slug: org,
                        name: None,
                        preset: None,
                    },
                )?;
                Ok(org)
            })
            .unwrap()
    };
    let acme = mk("acme");
    let other = mk("other");
    let ours = connection(db, "acme", "ours");
    let theirs = connection(db, "other", "theirs");
    let ws = store
        .write_blocking(|c| -> Result<_, AppError> {
            let op = service::authz::OrgPolicy::load(c, &acme)?;
            let acting = service::Acting {
                ctx: &ctx,
                org: &acme,
                op: &op,
                authority: &service::authz::Authority::Operator,
            };
            service::workspaces::create(
                c,
                &acting,
                service::workspaces::NewWorkspace {
                    slug: "eng".into(),
                    name: None,
                    parent: None,
                },
            )
        })
        .unwrap();
    let (insert, kept) = {
        let ws = ws.id.to_string();
        let (acme_id, other_id) = (acme.id.clone(), other.id.clone());
        store
            .write_blocking(move |c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, "acme")?;
                let op = service::authz::OrgPolicy::load(c, &org)?;
                let read_only = op.role("read_only")?.id.clone();
                let mut n = 0;
                let mut put = |c: &mut store::DbConnection,
                               org: &rollcall::domain::OrgId,
                               kind: MappingKind,
                               source: &str|
                 -> Result<String, StoreError> {
                    n += 1;
                    let m = GroupMapping {
                        id: MappingId::new(format!("m{n}")),
                        kind,
                        group: format!("group {n}"),
                        role: read_only.clone(),
                        workspaces: [WorkspaceId::new(ws.clone())].into(),
                        priority: n,
                    };
                    store::mappings::insert(c, org, source, &m, store::now())?;
                    Ok(m.id.to_string())
                };
                let orphans = vec![
                    put(c, &acme_id, MappingKind::SsoClaim, "free text")?,
                    put(c, &acme_id, MappingKind::SsoClaim, &theirs)?,
                ];
                let kept = vec![
                    put(c, &acme_id, MappingKind::SsoClaim, &ours)?,
                    put(c, &other_id, MappingKind::SsoClaim, &theirs)?,
                    put(c, &acme_id, MappingKind::ScimGroup, "not checked here")?,
                ];
                Ok((orphans, kept))
            })
            .unwrap()
    };
    let orphans = insert;
    // Back to before the migration (its down.sql, its record gone), then
    // migrate again: it runs over these rows.
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
        .write_blocking(|c| -> Result<_, AppError> {
            c.batch_execute(&down).map_err(StoreError::from)?;
            c.batch_execute(
                "DELETE FROM __diesel_schema_migrations WHERE version = '20261201000410'",
            )
            .map_err(StoreError::from)?;
            Ok(())
        })
        .unwrap();
    let applied = store.migrate().unwrap();
    assert!(
        applied.iter().any(|v| v.starts_with("20261201000410")),
        "{applied:?}"
    );

    let (left_acme, left_other, events) = store
        .read_blocking(|c| -> Result<_, AppError> {
            let ids = |v: Vec<store::mappings::StoredMapping>| -> Vec<String> {
                v.into_iter().map(|m| m.mapping.id.to_string()).collect()
            };
            let events = store::audit::list(
                c,
                &acme.id,
                &store::audit::AuditQuery {
                    actor_id: None,
                    target_id: None,
                    action: Some("group_mapping.removed_orphan".into()),
                    since: None,
                    until: None,
                    before: None,
                    limit: 100,
                },
            )?;
            Ok((
                ids(store::mappings::list(c, &acme.id)?),
                ids(store::mappings::list(c, &other.id)?),
                events,
            ))
        })
        .unwrap();
    let mut expected_acme: Vec<String> = vec![kept[0].clone(), kept[2].clone()];
    expected_acme.sort();
    let mut left_acme = left_acme;
    left_acme.sort();
    assert_eq!(left_acme, expected_acme);
    assert_eq!(left_other, vec![kept[1].clone()]);
    let removed: Vec<_> = events
        .iter()
        .filter(|e| e.action == "group_mapping.removed_orphan")
        .collect();
    assert_eq!(removed.len(), orphans.len(), "{removed:#?}");
    for id in &orphans {
        let e = removed
            .iter()
            .find(|e| e.target_id.as_deref() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("no audit event for {id}: {removed:#?}"));
        assert_eq!(e.actor.kind, ActorKind::System);
        assert_eq!(e.target_kind, "group_mapping");
        assert_eq!(e.after, None);
        let before = e.before.as_ref().unwrap();
        assert_eq!(before["id"], json!(id));
        assert_eq!(before["kind"], "sso_claim");
        assert_eq!(before["role"], "read_only");
        assert_eq!(
            before["workspaces"],
            json!(["eng"]),
            "slugs, as the API shows them"
        );
        assert!(
            before["priority"].is_i64() && before["group"].is_string(),
            "{before}"
        );
    }
}

/// A SCIM membership change and a login of the same user at the same time:
/// each writes its own source, then re-resolves against both, so the binding
/// left behind always reflects both (the second waits for the first's lock
/// on PostgreSQL; SQLite runs write transactions one at a time).
async fn concurrent_scim_change_and_login_both_count(backend: Backend) {
    use std::sync::{Arc, Barrier};

    let app = TestApp::spawn(backend).await;
    let (key, scim) = setup(&app).await;
    let c = connection(&app.db, "acme", "okta-oidc");
    let dir = scim.base.rsplit('/').next().unwrap().to_owned();
    mapping(&app, &key, json!({"kind": "scim_group", "source": dir, "group": "Engineering", "role": "data_manager", "workspaces": ["eng"], "priority": 5})).await;
    mapping(&app, &key, json!({"kind": "sso_claim", "source": c, "group": "ops", "role": "read_only", "workspaces": ["ops"], "priority": 1})).await;
    let eng = scim.group("Engineering").await;
    let mut users = Vec::new();
    for i in 0..12 {
        let u = scim.user(&format!("user{i}@example.com")).await;
        let id = identity(&app.db, "acme", &u, &c, &format!("sub{i}"));
        users.push((u, id));
    }
    let (db, eng, c) = (&app.db, &eng, &c);
    for (u, id) in &users {
        let barrier = Arc::new(Barrier::new(2));
        std::thread::scope(|s| {
            let b = barrier.clone();
            let scim_side = s.spawn(move || {
                let store = db.store();
                b.wait();
                store
                    .write_blocking(|c| -> Result<_, AppError> {
                        let org = service::orgs::resolve(c, "acme")?;
                        let op = service::authz::OrgPolicy::load(c, &org)?;
                        let ctx = Ctx::new(Actor::cli(), None);
                        let user = u.parse().unwrap();
                        store::groups::add_members(
                            c,
                            &eng.parse().unwrap(),
                            std::slice::from_ref(&user),
                            store::now(),
                        )?;
                        service::role_sources::reapply(c, &ctx, &org, &op, &[user])
                    })
                    .unwrap()
            });
            let b = barrier.clone();
            let login_side = s.spawn(move || {
                b.wait();
                login(db, "acme", u, id, c, &["ops"]).unwrap()
            });
            scim_side.join().unwrap();
            login_side.join().unwrap();
        });
        assert_eq!(
            access(&app, &key, u).await,
            of("data_manager", "scim_group", json!(["eng", "ops"])),
            "{u}"
        );
    }
}

crate::http_suite!(
    concurrent_scim_change_and_login_both_count,
    login_groups_and_scim_groups_resolve_together,
    admin_bindings_and_mappings_created_later,
    an_owner_keeps_the_owner_role,
    mapping_sources_are_validated,
);

mod store_suite {
    use super::*;
    crate::store_suite!(the_migration_removes_orphan_claim_mappings);
}
