//! The browser side of single sign-on (issue "8 of 11" items 2–6): login
//! entry by email (`/sso/start`, home-realm discovery) or by org
//! (`/sso/{org}/start`), the OIDC redirect URI, the SAML ACS and SP metadata,
//! and the first-login workspace pick. The flow itself lives in
//! `service::sso_login`; these handlers turn its answers into redirects,
//! cookies and pages.
//!
//! Each login is bound to the browser that started it by a short-lived
//! cookie named after the login (so two tabs do not disturb each other).
//! The SAML ACS is a cross-site POST: the cookie is `SameSite=None; Secure`
//! where the deployment uses HTTPS, otherwise the SAML binding rests on the
//! single-use RelayState and request id alone.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::context;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::{
    cookie, csrf_ok, csrf_refused, message, new_csrf, page, render, session_cookie_name,
    unavailable, with_csrf,
};
use crate::error::AppError;
use crate::routes::public_base;
use crate::service::sessions;
use crate::service::sso_login::{self, Begun, SignedIn, SsoError};
use crate::sso::connection::{ConnectionSettings, SpUrls};
use crate::sso::oidc::CallbackParams;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sso/start", web::get().to(start_by_email))
        .route("/sso/welcome", web::get().to(welcome))
        .route("/sso/welcome", web::post().to(pick))
        .route(
            "/sso/oidc/{connection}/callback",
            web::get().to(oidc_callback),
        )
        .route("/sso/saml/{connection}/acs", web::post().to(saml_acs))
        .route(
            "/sso/saml/{connection}/metadata",
            web::get().to(saml_metadata),
        )
        .route("/sso/saml/{connection}/slo", web::get().to(saml_slo))
        .route("/sso/{org}/start", web::get().to(start_by_org));
}

/// The binding cookie of the login keyed by `value` (its state or RelayState).
fn binding_name(state: &AppState, value: &str) -> String {
    let prefix = if state.settings.session.cookie_secure {
        "__Host-"
    } else {
        ""
    };
    format!("{prefix}rollcall_sso_{}", sso_login::binding_suffix(value))
}

fn binding_cookie(state: &AppState, name: String, value: String) -> Cookie<'static> {
    let secure = state.settings.session.cookie_secure;
    let ttl = state.settings.sso.login_ttl.as_secs() as i64;
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        // The ACS is a cross-site POST: only `None` reaches it, and
        // browsers accept `None` only with `Secure`.
        .same_site(if secure {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .max_age(time::Duration::seconds(ttl))
        .finish()
}

fn error_page(e: SsoError) -> HttpResponse {
    if e.is_attack() {
        tracing::warn!(attack = true, error = %e, "SSO response refused");
    } else {
        tracing::info!(error = %e, "SSO login did not complete");
    }
    let (status, title) = match &e {
        SsoError::UnknownConnection | SsoError::NoConnectionForDomain(_) => {
            (StatusCode::NOT_FOUND, "Single sign-on is not available")
        }
        SsoError::Refused(_) => (StatusCode::FORBIDDEN, "Sign-in refused"),
        SsoError::Misconfigured(_) => (StatusCode::BAD_GATEWAY, "Sign-in is misconfigured"),
        SsoError::Oidc(o) if !o.is_attack() => (StatusCode::BAD_GATEWAY, "Sign-in failed"),
        SsoError::App(a) => return unavailable(a),
        _ => (StatusCode::BAD_REQUEST, "Sign-in failed"),
    };
    let text = match &e {
        SsoError::Misconfigured(_) => {
            "This organization's sign-in connection is misconfigured. Ask its administrator to check it."
                .to_owned()
        }
        other => other.to_string(),
    };
    message(status, title, None, &text)
}

fn redirect_to_idp(state: &AppState, begun: Begun) -> HttpResponse {
    let c = binding_cookie(state, binding_name(state, &begun.key), begun.browser_token);
    page(HttpResponse::SeeOther())
        .insert_header((header::LOCATION, begun.redirect))
        .cookie(c)
        .finish()
}

/// 303 to `next` with the new session's cookie (and the login's binding
/// cookie removed).
fn signed_in(state: &AppState, s: SignedIn, binding: Option<String>) -> HttpResponse {
    let c = cookie(
        state,
        session_cookie_name(state),
        s.cookie.expose_secret().to_owned(),
        SameSite::Lax,
    );
    let mut res = page(HttpResponse::SeeOther())
        .insert_header((header::LOCATION, s.next))
        .cookie(c)
        .finish();
    if let Some(name) = binding {
        let mut gone = binding_cookie(state, name, String::new());
        gone.make_removal();
        if let Ok(v) = HeaderValue::from_str(&gone.to_string()) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

#[derive(Deserialize)]
pub struct StartByEmail {
    email: Option<String>,
    return_to: Option<String>,
}

/// `GET /sso/start?email=…`: home-realm discovery by the verified domain.
async fn start_by_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<StartByEmail>,
) -> HttpResponse {
    let q = q.into_inner();
    let Some(email) = q.email.filter(|e| !e.trim().is_empty()) else {
        let mut res = render(
            StatusCode::OK,
            "sso_start.html",
            context! { title => "Sign in", return_to => q.return_to },
        );
        // The form's GET ends in a redirect to the IdP, which `form-action
        // 'self'` would block in some browsers.
        res.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
        );
        return res;
    };
    let hint = email.trim().to_owned();
    let found = match state
        .store
        .read(move |c| sso_login::for_email(c, &email))
        .await
    {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return error_page(e),
        Err(e) => return unavailable(&e),
    };
    let base = public_base(&state, &req);
    match sso_login::begin(&state, found, &base, q.return_to, Some(hint)).await {
        Ok(b) => redirect_to_idp(&state, b),
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
pub struct StartByOrg {
    connection: Option<String>,
    login_hint: Option<String>,
    return_to: Option<String>,
}

/// `GET /sso/{org}/start`: the org's connection (named, or the one trusted
/// for the hint's domain, or the first enabled).
async fn start_by_org(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<StartByOrg>,
) -> HttpResponse {
    let key = path.into_inner();
    let q = q.into_inner();
    let named = q.connection.clone();
    let hint_domain = q
        .login_hint
        .as_deref()
        .and_then(|h| h.rsplit_once('@'))
        .map(|(_, d)| d.to_lowercase());
    let found = state
        .store
        .read(move |c| {
            let org = crate::service::orgs::resolve(c, &key)?;
            sso_login::choose(c, &org, named.as_deref(), hint_domain.as_deref())
        })
        .await;
    let l = match found {
        Ok(Some(l)) => l,
        Ok(None) | Err(AppError::NotFound(_)) => return error_page(SsoError::UnknownConnection),
        Err(e) => return unavailable(&e),
    };
    let base = public_base(&state, &req);
    match sso_login::begin(&state, l, &base, q.return_to, q.login_hint).await {
        Ok(b) => redirect_to_idp(&state, b),
        Err(e) => error_page(e),
    }
}

/// The OIDC redirect URI.
async fn oidc_callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<CallbackParams>,
) -> HttpResponse {
    let connection = path.into_inner();
    let params = q.into_inner();
    let name = binding_name(&state, params.state.as_deref().unwrap_or_default());
    let browser = req.cookie(&name).map(|c| c.value().to_owned());
    let base = public_base(&state, &req);
    match sso_login::oidc_callback(&state, &connection, params, browser, &base).await {
        Ok(s) => signed_in(&state, s, Some(name)),
        Err(e) => {
            sso_login::record_attack(&state, &connection, &e).await;
            error_page(e)
        }
    }
}

#[derive(Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// The SAML Assertion Consumer Service (HTTP-POST binding).
async fn saml_acs(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<AcsForm>,
) -> HttpResponse {
    let connection = path.into_inner();
    let form = form.into_inner();
    let name = form.relay_state.as_deref().map(|r| binding_name(&state, r));
    let browser = name
        .as_deref()
        .and_then(|n| req.cookie(n))
        .map(|c| c.value().to_owned());
    let base = public_base(&state, &req);
    match sso_login::saml_acs(
        &state,
        &connection,
        form.saml_response,
        form.relay_state,
        browser,
        &base,
    )
    .await
    {
        Ok(s) => signed_in(&state, s, name),
        Err(e) => {
            sso_login::record_attack(&state, &connection, &e).await;
            error_page(e)
        }
    }
}

/// The SP metadata of a SAML connection (entity id, ACS, NameID format).
async fn saml_metadata(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    let found = state
        .store
        .read(move |c| sso_login::connection(c, &id))
        .await;
    let l = match found {
        Ok(Some(l)) => l,
        Ok(None) => return error_page(SsoError::UnknownConnection),
        Err(e) => return unavailable(&e),
    };
    let ConnectionSettings::Saml(s) = &l.settings else {
        return error_page(SsoError::UnknownConnection);
    };
    let base = public_base(&state, &req);
    match s
        .runtime(&SpUrls::new(&base, &l.record.id))
        .and_then(|c| c.sp_metadata_xml(None))
    {
        Ok(xml) => HttpResponse::Ok()
            .content_type("application/samlmetadata+xml")
            .body(xml),
        Err(e) => error_page(SsoError::Misconfigured(e.to_string())),
    }
}

/// IdP-initiated Single Logout (HTTP-Redirect binding).
async fn saml_slo(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let connection = path.into_inner();
    let base = public_base(&state, &req);
    let query = req.query_string().to_owned();
    match sso_login::saml_logout(&state, &connection, query, &base).await {
        Ok(Some(url)) => page(HttpResponse::SeeOther())
            .insert_header((header::LOCATION, url.to_string()))
            .finish(),
        Ok(None) => message(
            StatusCode::OK,
            "You are signed out",
            None,
            "Your identity provider signed you out. You can close this window.",
        ),
        Err(e) => {
            sso_login::record_attack(&state, &connection, &e).await;
            error_page(e)
        }
    }
}

#[derive(Deserialize)]
pub struct WelcomeQuery {
    return_to: Option<String>,
}

fn session_value(state: &AppState, req: &HttpRequest) -> Option<String> {
    req.cookie(session_cookie_name(state))
        .map(|c| c.value().to_owned())
}

async fn welcome_page(
    state: &AppState,
    req: &HttpRequest,
    return_to: Option<String>,
    error: Option<String>,
) -> HttpResponse {
    let Some(value) = session_value(state, req) else {
        return super::not_signed_in();
    };
    let settings = state.settings.session.clone();
    let now = crate::store::now();
    let found = state
        .store
        .read(move |c| {
            let Some(cur) = sessions::current_pending(c, &value, &settings, now)? else {
                return Ok(None);
            };
            let choices = sso_login::workspace_choices(c, &cur.org)?;
            Ok::<_, AppError>(Some((cur, choices)))
        })
        .await;
    let (cur, choices) = match found {
        Ok(Some(x)) => x,
        Ok(None) => return super::not_signed_in(),
        Err(e) => return unavailable(&e),
    };
    if cur.session.pending.is_none() {
        return page(HttpResponse::SeeOther())
            .insert_header((header::LOCATION, "/account"))
            .finish();
    }
    let csrf = new_csrf();
    let mut res = render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        "sso_welcome.html",
        context! {
            title => "Choose your workspaces",
            org_name => cur.org.name,
            name => cur.user.display_name.clone().unwrap_or(cur.user.user_name.clone()),
            workspaces => choices,
            return_to => return_to,
            error => error,
            csrf => csrf.clone(),
        },
    );
    // The pick may end at an allowed return URL on another origin.
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    with_csrf(state, res, csrf)
}

/// `GET /sso/welcome`: the first-login workspace pick.
async fn welcome(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<WelcomeQuery>,
) -> HttpResponse {
    welcome_page(&state, &req, q.into_inner().return_to, None).await
}

/// `POST /sso/welcome`: form fields `workspace` (repeated), `return_to`, `csrf`.
async fn pick(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let mut csrf = String::new();
    let mut picks = Vec::new();
    let mut return_to = None;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "csrf" => csrf = v.into_owned(),
            "workspace" => picks.push(v.into_owned()),
            "return_to" => return_to = Some(v.into_owned()).filter(|r| !r.is_empty()),
            _ => {}
        }
    }
    if !csrf_ok(&state, &req, &csrf) {
        return csrf_refused();
    }
    let Some(value) = session_value(&state, &req) else {
        return super::not_signed_in();
    };
    let settings = state.settings.session.clone();
    let now = crate::store::now();
    let back = return_to.clone();
    let result = state
        .store
        .write(move |c| {
            let Some(cur) = sessions::current_pending(c, &value, &settings, now)? else {
                return Ok(None);
            };
            if let Some(r) = &back
                && !cur.org.settings.return_allowed(r)
            {
                return Ok(Some(Err("that return address is not allowed".to_owned())));
            }
            Ok::<_, AppError>(Some(sso_login::pick_workspaces(
                c,
                &cur.session,
                &picks,
                now,
            )?))
        })
        .await;
    match result {
        Ok(Some(Ok(()))) => page(HttpResponse::SeeOther())
            .insert_header((
                header::LOCATION,
                return_to.unwrap_or_else(|| "/account".into()),
            ))
            .finish(),
        Ok(Some(Err(why))) => welcome_page(&state, &req, return_to, Some(why)).await,
        Ok(None) => super::not_signed_in(),
        Err(e) => unavailable(&e),
    }
}
