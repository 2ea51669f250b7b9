//! Browser sessions (issue "7 of 11"): server-side rows, an opaque cookie,
//! a new session id at every sign-in, idle and absolute timeouts, valid only
//! while the user is `active`. Emailed one-time sign-in links for orgs
//! without an IdP: single use, valid `session.login_link_minutes`, the same
//! answer whether or not the address exists.

use chrono::NaiveDateTime;
use secrecy::{ExposeSecret, SecretString};

use crate::configuration::SessionSettings;
use crate::domain::{Email, OrgId, UserId, UserStatus};
use crate::email::Composer;
use crate::email::render::LoginMail;
use crate::error::AppError;
use crate::service::Ctx;
use crate::store::orgs::Org;
use crate::store::sessions::{self as stored, Session};
use crate::store::users::User;
use crate::store::{self, DbConnection, audit, outbox};
use crate::token;

fn dur(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

pub use crate::store::sessions::SignedInBy;

/// Open a session for `user` signed in by `method` (`email_link`,
/// `invite`); the cookie value is returned once.
pub fn open(
    conn: &mut DbConnection,
    org: &Org,
    user: &User,
    settings: &SessionSettings,
    now: NaiveDateTime,
    method: &str,
) -> Result<SecretString, AppError> {
    open_with(
        conn,
        org,
        user,
        settings,
        now,
        SignedInBy {
            method,
            ..SignedInBy::default()
        },
    )
}

/// Open a session recording how the user signed in (SSO: the connection
/// and what IdP logout needs).
pub fn open_with(
    conn: &mut DbConnection,
    org: &Org,
    user: &User,
    settings: &SessionSettings,
    now: NaiveDateTime,
    by: SignedInBy<'_>,
) -> Result<SecretString, AppError> {
    let issued = token::issue(token::SESSION_PREFIX);
    stored::insert(
        conn,
        &issued.id.simple().to_string(),
        &org.id,
        &user.id,
        &issued.hash,
        now + dur(settings.absolute_timeout),
        now,
        by,
    )?;
    Ok(issued.token)
}

/// Whether a session's sign-in method still counts for its org: an org
/// that requires SSO accepts only sessions signed in through its IdP.
fn method_allowed(org: &Org, session: &Session) -> bool {
    !org.settings.require_sso || matches!(session.method.as_str(), "oidc" | "saml")
}

/// The signed-in user behind a cookie value, if the session is still valid.
pub struct Current {
    pub session: Session,
    pub user: User,
    pub org: Org,
}

/// The signed-in user, if the session is valid and has no step pending.
pub fn current(
    conn: &mut DbConnection,
    cookie: &str,
    settings: &SessionSettings,
    now: NaiveDateTime,
) -> Result<Option<Current>, AppError> {
    Ok(lookup(conn, cookie, settings, now)?.filter(|c| c.session.pending.is_none()))
}

/// Like [`current`], but also a session whose first-login step (the
/// workspace pick) is still pending: only for that step's page.
pub fn current_pending(
    conn: &mut DbConnection,
    cookie: &str,
    settings: &SessionSettings,
    now: NaiveDateTime,
) -> Result<Option<Current>, AppError> {
    lookup(conn, cookie, settings, now)
}

fn lookup(
    conn: &mut DbConnection,
    cookie: &str,
    settings: &SessionSettings,
    now: NaiveDateTime,
) -> Result<Option<Current>, AppError> {
    let Some((id, secret)) = token::parse(token::SESSION_PREFIX, cookie) else {
        return Ok(None);
    };
    let Some((session, status)) = stored::get(conn, &id.simple().to_string())? else {
        return Ok(None);
    };
    if !token::verify(secret, &session.secret_hash)
        || status != UserStatus::Active.as_str()
        || session.expires_at <= now
        || session.last_seen_at + dur(settings.idle_timeout) <= now
    {
        return Ok(None);
    }
    let org = store::orgs::by_id(conn, &OrgId::from_trusted(session.org_id.clone()))?;
    if !method_allowed(&org, &session) {
        return Ok(None);
    }
    let user = store::users::get(
        conn,
        &org.id,
        &UserId::from_trusted(session.user_id.clone()),
    )?;
    Ok(Some(Current { session, user, org }))
}

/// Keep an active session alive (at most one write a minute per session).
pub fn touch(conn: &mut DbConnection, s: &Session, now: NaiveDateTime) -> Result<(), AppError> {
    if now - s.last_seen_at >= chrono::Duration::seconds(60) {
        stored::touch(conn, &s.id, now)?;
    }
    Ok(())
}

/// End the session behind `cookie`; returns it (how it was signed in
/// decides whether the IdP is asked to sign out too).
pub fn logout(
    conn: &mut DbConnection,
    cookie: &str,
    now: NaiveDateTime,
) -> Result<Option<Session>, AppError> {
    if let Some((id, secret)) = token::parse(token::SESSION_PREFIX, cookie)
        && let Some((session, _)) = stored::get(conn, &id.simple().to_string())?
        && token::verify(secret, &session.secret_hash)
    {
        stored::end(conn, &session.id, now)?;
        return Ok(Some(session));
    }
    Ok(None)
}

/// Ask for a sign-in link: queued only when `email` is an active user of the
/// org; the caller answers the same either way. Returns whether mail was queued.
pub fn request_login_link(
    conn: &mut DbConnection,
    org: &Org,
    email: &str,
    mail: &Composer,
    settings: &SessionSettings,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    if org.settings.require_sso {
        // Members sign in through the org's IdP only; the page answers the
        // same as for an unknown address.
        return Ok(false);
    }
    let Ok(email) = Email::parse(email.trim()) else {
        return Ok(false);
    };
    let found = store::invites::users_with_email(conn, &org.id, email.canonical())?;
    let Some((user_id, _)) = found
        .into_iter()
        .find(|(_, s)| s == UserStatus::Active.as_str())
    else {
        return Ok(false);
    };
    let user = store::users::get(conn, &org.id, &UserId::from_trusted(user_id))?;
    let to = user
        .email
        .clone()
        .unwrap_or_else(|| email.as_str().to_owned());
    let issued = token::issue(token::LOGIN_LINK_PREFIX);
    let id = issued.id.simple().to_string();
    stored::insert_login_link(
        conn,
        &id,
        &org.id,
        &user.id,
        &issued.hash,
        now + dur(settings.login_link_ttl),
        now,
    )?;
    let rendered = mail.login(
        &to,
        &LoginMail {
            org_name: &org.name,
            link: mail.link(&format!(
                "/o/{}/login/email/{}",
                org.slug,
                issued.token.expose_secret()
            )),
            minutes: settings.login_link_ttl.as_secs() / 60,
        },
    )?;
    let outbox_id = uuid::Uuid::now_v7().to_string();
    let body = crate::email::seal::seal(mail.key(), &outbox_id, &rendered.bytes);
    outbox::enqueue(
        conn,
        outbox::NewMessage {
            id: &outbox_id,
            org: Some(&org.id),
            kind: "login_link",
            ref_id: Some(&id),
            sender: &rendered.sender,
            recipient: &rendered.recipient,
            message_id: &rendered.message_id,
            body: &body,
        },
        now,
    )?;
    Ok(true)
}

/// Whether a sign-in link is usable (for the confirmation page; reads only).
pub fn login_link_valid(
    conn: &mut DbConnection,
    org: &Org,
    presented: &str,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    Ok(valid_link(conn, org, presented, now)?.is_some())
}

fn valid_link(
    conn: &mut DbConnection,
    org: &Org,
    presented: &str,
    now: NaiveDateTime,
) -> Result<Option<stored::LoginLink>, AppError> {
    let Some((id, secret)) = token::parse(token::LOGIN_LINK_PREFIX, presented) else {
        return Ok(None);
    };
    let Some(link) = stored::login_link(conn, &id.simple().to_string())? else {
        return Ok(None);
    };
    Ok((token::verify(secret, &link.secret_hash)
        && link.org_id == org.id.as_str()
        && link.used_at.is_none()
        && link.expires_at > now)
        .then_some(link))
}

/// Use a sign-in link (once) and open a session, if its user is still active.
pub fn sign_in_with_link(
    conn: &mut DbConnection,
    org: &Org,
    presented: &str,
    settings: &SessionSettings,
    now: NaiveDateTime,
) -> Result<Option<(User, SecretString)>, AppError> {
    if org.settings.require_sso {
        return Ok(None);
    }
    let Some(link) = valid_link(conn, org, presented, now)? else {
        return Ok(None);
    };
    if !stored::use_login_link(conn, &link.id, now)? {
        return Ok(None);
    }
    let user = store::users::get(conn, &org.id, &UserId::from_trusted(link.user_id.clone()))?;
    if user.status != UserStatus::Active {
        return Ok(None);
    }
    let cookie = open(conn, org, &user, settings, now, "email_link")?;
    let ctx = Ctx {
        actor: crate::domain::audit::Actor {
            kind: crate::domain::audit::ActorKind::User,
            id: Some(user.id.to_string()),
            label: user.user_name.clone(),
        },
        request_id: None,
        now,
    };
    audit::insert(
        conn,
        &[ctx.event(
            Some(&org.id),
            "session.signed_in",
            "user",
            Some(user.id.to_string()),
            None,
            Some(serde_json::json!({"via": "email_link"})),
        )],
    )?;
    Ok(Some((user, cookie)))
}
