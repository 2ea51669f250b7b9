//! Server-rendered pages for people (no JavaScript needed): the invite
//! landing page (`GET /invite/{token}` only shows; accepting is a `POST`
//! from it, CSRF-protected, because mail scanners follow links), the
//! account page and logout, and the emailed sign-in at
//! `/o/{org}/login/email`. Every page is sent with `Referrer-Policy:
//! no-referrer` and `Cache-Control: no-store`; tokens in their paths are
//! redacted from the request log (`telemetry::redact_path`).
//!
//! CSRF: a double-submit token — a random value in a `SameSite=Strict`
//! cookie and in the form's hidden field, compared in constant time.

use std::sync::LazyLock;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use minijinja::{Environment, Value, context};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::error::AppError;
use crate::service::invites::Landing;
use crate::service::{self, sessions};
use crate::state::AppState;

mod sso;

static PAGES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, text) in [
        ("layout.html", include_str!("pages/layout.html")),
        ("invite.html", include_str!("pages/invite.html")),
        ("message.html", include_str!("pages/message.html")),
        ("account.html", include_str!("pages/account.html")),
        ("login_email.html", include_str!("pages/login_email.html")),
        ("login_link.html", include_str!("pages/login_link.html")),
        ("sso_start.html", include_str!("pages/sso_start.html")),
        ("sso_welcome.html", include_str!("pages/sso_welcome.html")),
    ] {
        env.add_template(name, text)
            .expect("the built-in pages parse");
    }
    env
});

pub fn configure(cfg: &mut web::ServiceConfig) {
    sso::configure(cfg);
    cfg.route("/invite/{token}", web::get().to(invite_page))
        .route("/invite/{token}", web::post().to(accept_invite))
        .route("/account", web::get().to(account))
        .route("/logout", web::post().to(logout))
        .route("/o/{org}/login/email", web::get().to(login_form))
        .route("/o/{org}/login/email", web::post().to(login_request))
        .route(
            "/o/{org}/login/email/{token}",
            web::get().to(login_link_page),
        )
        .route(
            "/o/{org}/login/email/{token}",
            web::post().to(login_with_link),
        );
}

pub(crate) fn session_cookie_name(state: &AppState) -> &'static str {
    if state.settings.session.cookie_secure {
        "__Host-rollcall_session"
    } else {
        "rollcall_session"
    }
}

fn csrf_cookie_name(state: &AppState) -> &'static str {
    if state.settings.session.cookie_secure {
        "__Host-rollcall_csrf"
    } else {
        "rollcall_csrf"
    }
}

fn cookie<'a>(state: &AppState, name: &'a str, value: String, same_site: SameSite) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(state.settings.session.cookie_secure)
        .same_site(same_site)
        .finish()
}

fn render(status: StatusCode, template: &str, ctx: Value) -> HttpResponse {
    let body = PAGES
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, template, "page template failed");
            "<!doctype html><title>Error</title><p>Something went wrong.</p>".to_owned()
        });
    page(HttpResponse::build(status))
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// Headers every page carries.
fn page(mut b: HttpResponseBuilder) -> HttpResponseBuilder {
    b.insert_header((header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ),
        ));
    b
}

fn message(status: StatusCode, title: &str, org_name: Option<&str>, text: &str) -> HttpResponse {
    render(
        status,
        "message.html",
        context! { title => title, org_name => org_name, message => text },
    )
}

fn unavailable(e: &AppError) -> HttpResponse {
    tracing::warn!(error = %e, "page could not be served");
    let status = match e {
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        _ if e.code() == "internal" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    message(
        status,
        "Something went wrong",
        None,
        "This page cannot be shown right now. Please try again in a moment.",
    )
}

/// A fresh CSRF value: set as a cookie, put in the form.
fn new_csrf() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn with_csrf(state: &AppState, res: HttpResponse, csrf: String) -> HttpResponse {
    let mut res = res;
    let c = cookie(state, csrf_cookie_name(state), csrf, SameSite::Strict);
    if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn csrf_ok(state: &AppState, req: &HttpRequest, form: &str) -> bool {
    let Some(c) = req.cookie(csrf_cookie_name(state)) else {
        return false;
    };
    !form.is_empty() && bool::from(c.value().as_bytes().ct_eq(form.as_bytes()))
}

fn csrf_refused() -> HttpResponse {
    message(
        StatusCode::FORBIDDEN,
        "Please try again",
        None,
        "This form expired or was not sent from this site. Go back, reload the page and try again.",
    )
}

fn landing_page(l: &Landing) -> HttpResponse {
    let (title, text, org) = match l {
        Landing::Expired { org } => (
            "This invitation has expired",
            "Ask the person who invited you to send a new invitation.",
            Some(org),
        ),
        Landing::Used { org } => (
            "This invitation was already used",
            "The invitation has been accepted. Sign in instead.",
            Some(org),
        ),
        Landing::Revoked { org } => (
            "This invitation is no longer valid",
            "It was withdrawn or replaced by a newer one. Use the link in the most recent invitation, or ask for a new one.",
            Some(org),
        ),
        Landing::Unknown | Landing::Open { .. } => (
            "This invitation link is not valid",
            "The link may be incomplete or replaced by a newer invitation. Use the link in the most recent invitation email.",
            None,
        ),
    };
    let mut res = message(StatusCode::GONE, title, org.map(|o| o.name.as_str()), text);
    if matches!(l, Landing::Unknown) {
        *res.status_mut() = StatusCode::NOT_FOUND;
    }
    if let Landing::Used { org } = l {
        return render(
            StatusCode::GONE,
            "message.html",
            context! {
                title => title, org_name => org.name, message => text,
                next_href => format!("/o/{}/login/email", org.slug), next_label => "Sign in with an emailed link",
            },
        );
    }
    res
}

async fn invite_page(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let now = crate::store::now();
    let landing = match state
        .store
        .read(move |c| {
            let l = service::invites::landing(c, &token, now)?;
            // Names for the page: role and workspaces as the org calls them.
            let extra = if let Landing::Open { org, invite, .. } = &l {
                let op = service::authz::OrgPolicy::load(c, org)?;
                let role = invite
                    .role_id
                    .as_deref()
                    .and_then(|r| op.policy.role(r))
                    .map(|r| r.name.clone());
                let ws: Vec<String> = invite
                    .workspace_ids()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|w| op.workspace(w).ok().map(|x| x.name.clone()))
                    .collect();
                // An org with a connection trusted for the invitee's
                // domain accepts through its IdP (SPEC §3): the link only
                // shows the way there.
                let sso = service::sso_login::trusted_for(c, org, &invite.email)?.map(|l| {
                    format!(
                        "/sso/{}/start?connection={}&login_hint={}",
                        org.slug,
                        l.record.id,
                        url::form_urlencoded::byte_serialize(invite.email.as_bytes())
                            .collect::<String>()
                    )
                });
                Some((role, ws, sso, org.settings.require_sso))
            } else {
                None
            };
            Ok::<_, AppError>((l, extra))
        })
        .await
    {
        Ok(x) => x,
        Err(e) => return unavailable(&e),
    };
    match landing {
        (Landing::Open { invite, org, .. }, Some((role, workspaces, sso, require_sso))) => {
            let csrf = new_csrf();
            let res = render(
                StatusCode::OK,
                "invite.html",
                context! {
                    title => format!("Join {}", org.name),
                    org_name => org.name,
                    inviter => invite.invited_by,
                    email => invite.email,
                    role => role,
                    workspaces => workspaces,
                    expires => invite.expires_at.format("%Y-%m-%d %H:%M").to_string(),
                    via_idp => sso,
                    require_sso => require_sso,
                    csrf => csrf.clone(),
                },
            );
            with_csrf(&state, res, csrf)
        }
        (other, _) => landing_page(&other),
    }
}

async fn accept_invite(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    if !csrf_ok(&state, &req, &form.csrf) {
        return csrf_refused();
    }
    let token = path.into_inner();
    let settings = state.settings.session.clone();
    let now = crate::store::now();
    let result = state
        .store
        .write(move |c| match service::invites::accept(c, &token, now)? {
            Ok((org, user)) => {
                let cookie = sessions::open(c, &org, &user, &settings, now, "invite")?;
                Ok::<_, AppError>(Ok(cookie))
            }
            Err(l) => Ok(Err(l)),
        })
        .await;
    match result {
        Ok(Ok(session)) => signed_in(&state, session.expose_secret().to_owned()),
        Ok(Err(landing)) => landing_page(&landing),
        Err(AppError::Conflict { message: text, .. }) => message(
            StatusCode::CONFLICT,
            "Sign in with your identity provider",
            None,
            &text,
        ),
        Err(e) => unavailable(&e),
    }
}

/// 303 to the account page with the new session's cookie.
fn signed_in(state: &AppState, session: String) -> HttpResponse {
    let c = cookie(state, session_cookie_name(state), session, SameSite::Lax);
    page(HttpResponse::SeeOther())
        .insert_header((header::LOCATION, "/account"))
        .cookie(c)
        .finish()
}

async fn account(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Some(value) = req
        .cookie(session_cookie_name(&state))
        .map(|c| c.value().to_owned())
    else {
        return not_signed_in();
    };
    let settings = state.settings.session.clone();
    let now = crate::store::now();
    let current = state
        .store
        .write(move |c| {
            let cur = sessions::current(c, &value, &settings, now)?;
            if let Some(cur) = &cur {
                sessions::touch(c, &cur.session, now)?;
            }
            Ok::<_, AppError>(cur)
        })
        .await;
    match current {
        Ok(Some(cur)) => {
            let csrf = new_csrf();
            let res = render(
                StatusCode::OK,
                "account.html",
                context! {
                    title => "Your account",
                    org_name => cur.org.name,
                    user_name => cur.user.user_name,
                    email => cur.user.email,
                    csrf => csrf.clone(),
                },
            );
            with_csrf(&state, res, csrf)
        }
        Ok(None) => not_signed_in(),
        Err(e) => unavailable(&e),
    }
}

pub(super) fn not_signed_in() -> HttpResponse {
    message(
        StatusCode::UNAUTHORIZED,
        "You are not signed in",
        None,
        "Your session ended or never began. Sign in again with the link your organization gave you.",
    )
}

async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    if !csrf_ok(&state, &req, &form.csrf) {
        return csrf_refused();
    }
    let mut idp_logout = None;
    if let Some(value) = req
        .cookie(session_cookie_name(&state))
        .map(|c| c.value().to_owned())
    {
        let now = crate::store::now();
        match state
            .store
            .write(move |c| sessions::logout(c, &value, now))
            .await
        {
            Ok(Some(ended)) => {
                let base = crate::routes::public_base(&state, &req);
                idp_logout = service::sso_login::idp_logout_url(&state, &ended, &base).await;
            }
            Ok(None) => {}
            Err(e) => return unavailable(&e),
        }
    }
    let mut gone = cookie(
        &state,
        session_cookie_name(&state),
        String::new(),
        SameSite::Lax,
    );
    gone.make_removal();
    // Signed in through an OIDC IdP that supports RP-initiated logout: end
    // the IdP's session too.
    let mut res = match idp_logout {
        Some(url) => page(HttpResponse::SeeOther())
            .insert_header((header::LOCATION, url))
            .finish(),
        None => message(
            StatusCode::OK,
            "You are signed out",
            None,
            "You can close this window.",
        ),
    };
    if let Ok(v) = HeaderValue::from_str(&gone.to_string()) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

async fn org_named(state: &AppState, key: String) -> Result<crate::store::orgs::Org, HttpResponse> {
    state
        .store
        .read(move |c| service::orgs::resolve(c, &key))
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => message(
                StatusCode::NOT_FOUND,
                "Organization not found",
                None,
                "Check the address you were given.",
            ),
            other => unavailable(&other),
        })
}

async fn login_form(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let org = match org_named(&state, path.into_inner()).await {
        Ok(o) => o,
        Err(res) => return res,
    };
    let csrf = new_csrf();
    let res = render(
        StatusCode::OK,
        "login_email.html",
        context! { title => "Sign in", org_name => org.name, csrf => csrf.clone() },
    );
    with_csrf(&state, res, csrf)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

async fn login_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    if !csrf_ok(&state, &req, &form.csrf) {
        return csrf_refused();
    }
    let org = match org_named(&state, path.into_inner()).await {
        Ok(o) => o,
        Err(res) => return res,
    };
    // Per address and per client IP (the peer address: headers can be forged).
    let address = crate::domain::names::comparison_key(form.email.trim());
    let ip = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    if state.login_rate_ip.check(&ip).is_err()
        || state
            .login_rate_address
            .check(&format!("{}:{address}", org.id.as_str()))
            .is_err()
    {
        let mut res = message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            Some(&org.name),
            "Too many sign-in links were asked for. Wait a while and try again.",
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("600"));
        return res;
    }
    let (mail, settings, now) = (
        state.mail.clone(),
        state.settings.session.clone(),
        crate::store::now(),
    );
    let email = form.email.clone();
    let org2 = org.clone();
    match state
        .store
        .write(move |c| sessions::request_login_link(c, &org2, &email, &mail, &settings, now))
        .await
    {
        Ok(queued) => {
            if queued {
                state.outbox.wake();
            }
            // The same answer whether or not the address has an account.
            message(
                StatusCode::OK,
                "Check your email",
                Some(&org.name),
                "If this address belongs to an account here, a sign-in link is on its way. It works once, for a limited time.",
            )
        }
        Err(e) => unavailable(&e),
    }
}

async fn login_link_page(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (key, token) = path.into_inner();
    let org = match org_named(&state, key).await {
        Ok(o) => o,
        Err(res) => return res,
    };
    let now = crate::store::now();
    let org2 = org.clone();
    match state
        .store
        .read(move |c| sessions::login_link_valid(c, &org2, &token, now))
        .await
    {
        Ok(true) => {
            let csrf = new_csrf();
            let res = render(
                StatusCode::OK,
                "login_link.html",
                context! { title => format!("Sign in to {}", org.name), org_name => org.name, csrf => csrf.clone() },
            );
            with_csrf(&state, res, csrf)
        }
        Ok(false) => link_invalid(&org),
        Err(e) => unavailable(&e),
    }
}

fn link_invalid(org: &crate::store::orgs::Org) -> HttpResponse {
    render(
        StatusCode::GONE,
        "message.html",
        context! {
            title => "This sign-in link is not valid",
            org_name => org.name,
            message => "It was used already, has expired, or is incomplete. Ask for a new one.",
            next_href => format!("/o/{}/login/email", org.slug),
            next_label => "Send a new sign-in link",
        },
    )
}

async fn login_with_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    if !csrf_ok(&state, &req, &form.csrf) {
        return csrf_refused();
    }
    let (key, token) = path.into_inner();
    let org = match org_named(&state, key).await {
        Ok(o) => o,
        Err(res) => return res,
    };
    let (settings, now) = (state.settings.session.clone(), crate::store::now());
    let org2 = org.clone();
    match state
        .store
        .write(move |c| sessions::sign_in_with_link(c, &org2, &token, &settings, now))
        .await
    {
        Ok(Some((_, session))) => signed_in(&state, session.expose_secret().to_owned()),
        Ok(None) => link_invalid(&org),
        Err(e) => unavailable(&e),
    }
}
