//! `GET /api/v1/me`: the signed-in person, for a browser holding a rollcall
//! session (issue "8 of 11" item 7) — who they are and their access answer.
//! Same-origin only: no CORS headers are ever sent, and a request the
//! browser marks cross-site (`Sec-Fetch-Site`) is refused. It changes
//! nothing, so it needs no CSRF token; the product on another origin gets
//! the user through rollcall's OIDC provider instead.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, ErrorBody};
use crate::service::access::AccessView;
use crate::service::authz::OrgPolicy;
use crate::service::{access, sessions};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub org: String,
    pub user_id: String,
    pub user_name: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub access: AccessView,
}

/// The signed-in user (session cookie) and their access.
#[utoipa::path(
    tag = "session",
    responses((status = 200, description = "OK", body = Me), (status = 401, description = "No valid session", body = ErrorBody), (status = 403, description = "A cross-site request", body = ErrorBody)),
    extensions(("x-rollcall-permission" = json!("session")))
)]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let fetch_site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    if !matches!(fetch_site, "same-origin" | "none") {
        return Err(AppError::Forbidden(format!(
            "/api/v1/me answers same-origin requests only (Sec-Fetch-Site: {fetch_site})"
        )));
    }
    let no_session = || AppError::Unauthenticated("no valid rollcall session".to_owned());
    let cookie = req
        .cookie(crate::routes::pages::session_cookie_name(&state))
        .map(|c| c.value().to_owned())
        .ok_or_else(no_session)?;
    let settings = state.settings.session.clone();
    let me = state
        .store
        .read(move |c| {
            let now = crate::store::now();
            let Some(current) = sessions::current(c, &cookie, &settings, now)? else {
                return Ok(None);
            };
            let op = OrgPolicy::load(c, &current.org)?;
            let view = access::own_view(c, &current.org, &op, &current.user)?;
            Ok::<_, AppError>(Some(Me {
                org: current.org.slug.clone(),
                user_id: current.user.id.to_string(),
                user_name: current.user.user_name.clone(),
                email: current.user.email.clone(),
                display_name: current.user.display_name.clone(),
                access: view,
            }))
        })
        .await?
        .ok_or_else(no_session)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(me))
}
