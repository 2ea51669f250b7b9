//! Browser sessions: idle and absolute timeouts, logout, valid only while
//! the user is active; emailed sign-in links work once and expire. On both
//! backends, with time passed in.

use rollcall::configuration::SessionSettings;
use rollcall::domain::audit::Actor;
use rollcall::service::{self, Ctx, sessions};
use secrecy::ExposeSecret;

use crate::support::TestDb;

fn settings() -> SessionSettings {
    crate::support::db::settings_for("sqlite://unused.db").session
}

fn sessions_expire_and_end(db: &TestDb) {
    let store = db.store();
    let ctx = Ctx::new(Actor::cli(), None);
    let (org, user) = store
        .write_blocking(|c| -> Result<_, rollcall::error::AppError> {
            let org = service::orgs::create(
                c,
                &ctx,
                service::orgs::NewOrg {
                    slug: "acme".into(),
                    name: None,
                    preset: None,
                },
            )?;
            let op = service::authz::OrgPolicy::load(c, &org)?;
            let a = service::Acting {
                ctx: &ctx,
                org: &org,
                op: &op,
                authority: &service::authz::Authority::Operator,
            };
            let user = service::users::create(
                c,
                &a,
                service::users::NewUser {
                    email: Some("ada@example.com".into()),
                    ..Default::default()
                },
            )?;
            Ok((org, user))
        })
        .unwrap();
    let s = settings();
    let t0 = rollcall::store::now();
    let minutes = |m: i64| t0 + chrono::Duration::minutes(m);
    let cookie = store
        .write_blocking(|c| sessions::open(c, &org, &user, &s, t0, "email_link"))
        .unwrap();
    let cookie = cookie.expose_secret().to_owned();
    let current = |at| {
        store
            .write_blocking(|c| -> Result<_, rollcall::error::AppError> {
                let cur = sessions::current(c, &cookie, &s, at)?;
                if let Some(cur) = &cur {
                    sessions::touch(c, &cur.session, at)?;
                }
                Ok(cur.is_some())
            })
            .unwrap()
    };
    assert!(current(minutes(1)));
    // Kept alive by use, every 20 minutes, up to the absolute limit (12 h).
    for m in (20..700).step_by(20) {
        assert!(current(minutes(m)), "alive at {m} min");
    }
    assert!(!current(minutes(721)), "the absolute timeout ends it");
    // A fresh session ends after 30 idle minutes.
    let cookie2 = store
        .write_blocking(|c| sessions::open(c, &org, &user, &s, t0, "email_link"))
        .unwrap()
        .expose_secret()
        .to_owned();
    let alive = |at| {
        store
            .read_blocking(|c| sessions::current(c, &cookie2, &s, at))
            .unwrap()
            .is_some()
    };
    assert!(alive(minutes(29)));
    assert!(!alive(minutes(31)), "the idle timeout ends it");
    // A tampered cookie is nobody.
    let mut forged = cookie2.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    assert!(
        store
            .read_blocking(|c| sessions::current(c, &forged, &s, minutes(1)))
            .unwrap()
            .is_none()
    );
    // Logout ends it.
    let cookie3 = store
        .write_blocking(|c| sessions::open(c, &org, &user, &s, t0, "email_link"))
        .unwrap()
        .expose_secret()
        .to_owned();
    store
        .write_blocking(|c| sessions::logout(c, &cookie3, minutes(1)))
        .unwrap();
    assert!(
        store
            .read_blocking(|c| sessions::current(c, &cookie3, &s, minutes(2)))
            .unwrap()
            .is_none()
    );

    // Sign-in links: single use, 15 minutes, only for active users.
    let mail = rollcall::email::Composer::new(&crate::support::db::settings_for(&db.url));
    let queued = store
        .write_blocking(|c| {
            sessions::request_login_link(c, &org, "nobody@example.com", &mail, &s, t0)
        })
        .unwrap();
    assert!(!queued, "no mail for an unknown address");
    let queued = store
        .write_blocking(|c| sessions::request_login_link(c, &org, "ADA@example.com", &mail, &s, t0))
        .unwrap();
    assert!(queued);
    // The link, as the mail carries it (the queued message, opened with the key).
    let (id, body): (String, Vec<u8>) = store
        .read_blocking(|c| {
            use diesel::prelude::*;
            use rollcall::store::schema::outbox;
            outbox::table
                .filter(outbox::kind.eq("login_link"))
                .select((outbox::id, outbox::body.assume_not_null()))
                .first(c)
                .map_err(rollcall::store::StoreError::from)
        })
        .unwrap();
    let message =
        rollcall::email::seal::open(mail.key(), &id, &body).expect("sealed with this key");
    let message = String::from_utf8(message).unwrap().replace("=\r\n", "");
    let at = message.find("/o/acme/login/email/").unwrap() + "/o/acme/login/email/".len();
    let token: String = message[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let sign_in = |at| {
        store
            .write_blocking(|c| sessions::sign_in_with_link(c, &org, &token, &s, at))
            .unwrap()
            .is_some()
    };
    assert!(!sign_in(minutes(16)), "expired after 15 minutes");
    assert!(sign_in(minutes(5)));
    assert!(!sign_in(minutes(6)), "used once");
}

crate::store_suite!(sessions_expire_and_end);
