//! `/api/v1/orgs/{org}/invites`: invite one person, list (by state), get,
//! revoke, resend. The mail goes out through the outbox after the commit.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::access::OrgAccess;
use crate::error::{AppError, ErrorBody};
use crate::service::{self, invites::Outcome};
use crate::state::AppState;
use crate::store::invites::Invite;
use crate::store::outbox::Delivery;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvite {
    pub email: String,
    /// The invitee's name, shown in the mail and as their display name.
    pub name: Option<String>,
    /// Org-level role by key or display name; default: the org's default role.
    pub role: Option<String>,
    /// Workspace ids or slugs the user is restricted to; default: unrestricted.
    pub workspaces: Option<Vec<String>>,
    /// Re-inviting a pending invitee with another role or workspaces
    /// replaces their invite (otherwise: 409 `invite_differs`).
    #[serde(default)]
    pub replace: bool,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryDto {
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
    pub next_attempt_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct InviteDto {
    pub id: String,
    pub user_id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: Option<String>,
    /// Workspace ids; absent: unrestricted.
    pub workspaces: Option<Vec<String>>,
    pub invited_by: String,
    /// `pending`, `accepted`, `expired` or `revoked`.
    pub state: String,
    /// Messages sent for this invite (each with its own link).
    pub sends: i64,
    pub expires_at: String,
    pub created_at: String,
    pub closed_at: Option<String>,
    /// The latest message's delivery.
    pub delivery: Option<DeliveryDto>,
    /// What this request did (create only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

fn utc(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn dto(
    i: Invite,
    role_key: Option<String>,
    d: Option<Delivery>,
    outcome: Option<Outcome>,
) -> InviteDto {
    let now = crate::store::now();
    InviteDto {
        state: i.state(now).to_owned(),
        workspaces: i.workspace_ids(),
        id: i.id,
        user_id: i.user_id,
        email: i.email,
        name: i.name,
        role: role_key,
        invited_by: i.invited_by,
        sends: i.sends,
        expires_at: utc(i.expires_at),
        created_at: utc(i.created_at),
        closed_at: i.closed_at.map(utc),
        delivery: d.map(|d| DeliveryDto {
            sent_at: d.sent_at.map(utc),
            next_attempt_at: (d.status == "pending").then(|| utc(d.next_attempt_at)),
            status: d.status,
            attempts: d.attempts,
            last_error: d.last_error,
        }),
        outcome,
    }
}

fn role_key(access: &OrgAccess, i: &Invite) -> Option<String> {
    i.role_id
        .as_deref()
        .and_then(|r| access.policy.policy.role(r))
        .map(|r| r.key.as_str().to_owned())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InviteListParams {
    /// `pending`, `accepted`, `expired` or `revoked`.
    pub state: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct InvitePage {
    pub items: Vec<InviteDto>,
    pub next_cursor: Option<String>,
}

/// Invite one person: 201 with a new invite; 200 when a pending invite was
/// sent again (same grants, or other grants with `replace`); 409 for an
/// active, suspended or deprovisioned user, or other grants without `replace`.
#[utoipa::path(
    tag = "invites",
    params(("org" = String, Path, description = "Org slug or id")),
    request_body = CreateInvite,
    responses((status = 201, description = "Invited", body = InviteDto), (status = 200, description = "Sent again", body = InviteDto), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "Beyond the caller's granting limits, or invitations are off", body = ErrorBody), (status = 409, description = "Conflicts with the user's state", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.invites.manage")))
)]
#[post("/orgs/{org}/invites")]
pub async fn create_invite(
    state: web::Data<AppState>,
    access: OrgAccess,
    req: HttpRequest,
    body: web::Json<CreateInvite>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let mail = state.mail.clone();
    let a2 = access.clone();
    let (invite, outcome, delivery) = state
        .store
        .write(move |c| {
            let (invite, outcome) = service::invites::invite(
                c,
                &a2.acting(),
                &mail,
                service::invites::NewInvite {
                    email: b.email,
                    name: b.name,
                    role: b.role,
                    workspaces: b.workspaces,
                    replace: b.replace,
                },
                false,
            )?;
            let d = service::invites::delivery(c, &invite)?;
            Ok::<_, AppError>((invite, outcome, d))
        })
        .await?;
    state.outbox.wake();
    let role = role_key(&access, &invite);
    let mut builder = if outcome == Outcome::Created {
        let mut b = HttpResponse::Created();
        b.insert_header((
            LOCATION,
            format!("{}/{}", req.path().trim_end_matches('/'), invite.id),
        ));
        b
    } else {
        HttpResponse::Ok()
    };
    Ok(builder.json(dto(invite, role, delivery, Some(outcome))))
}

#[utoipa::path(
    tag = "invites",
    params(("org" = String, Path, description = "Org slug or id"), InviteListParams),
    responses((status = 200, description = "OK", body = InvitePage), (status = 400, description = "The request is invalid", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.invites.manage")))
)]
#[get("/orgs/{org}/invites")]
pub async fn list_invites(
    state: web::Data<AppState>,
    access: OrgAccess,
    params: web::Query<InviteListParams>,
) -> Result<HttpResponse, AppError> {
    let p = params.into_inner();
    let limit = service::page_size(p.limit, 50, 200);
    let a2 = access.clone();
    let page = state
        .store
        .read(move |c| service::invites::list(c, &a2.acting(), p.state, p.cursor.as_deref(), limit))
        .await?;
    Ok(HttpResponse::Ok().json(InvitePage {
        items: page
            .items
            .into_iter()
            .map(|(i, d)| {
                let role = role_key(&access, &i);
                dto(i, role, d, None)
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(
    tag = "invites",
    params(("org" = String, Path, description = "Org slug or id"), ("invite" = String, Path, description = "Invite id")),
    responses((status = 200, description = "OK", body = InviteDto), (status = 404, description = "Not found", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.invites.manage")))
)]
#[get("/orgs/{org}/invites/{invite}")]
pub async fn get_invite(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let a2 = access.clone();
    let (invite, d) = state
        .store
        .read(move |c| {
            let i = service::invites::get(c, &a2.acting(), &id)?;
            let d = service::invites::delivery(c, &i)?;
            Ok::<_, AppError>((i, d))
        })
        .await?;
    let role = role_key(&access, &invite);
    Ok(HttpResponse::Ok().json(dto(invite, role, d, None)))
}

/// Revoke a pending invite: its link stops working; a message not yet sent is dropped.
#[utoipa::path(
    tag = "invites",
    params(("org" = String, Path, description = "Org slug or id"), ("invite" = String, Path, description = "Invite id")),
    responses((status = 200, description = "Revoked", body = InviteDto), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Not pending", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.invites.manage")))
)]
#[post("/orgs/{org}/invites/{invite}/revoke")]
pub async fn revoke_invite(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let a2 = access.clone();
    let (invite, d) = state
        .store
        .write(move |c| {
            let i = service::invites::revoke(c, &a2.acting(), &id)?;
            let d = service::invites::delivery(c, &i)?;
            Ok::<_, AppError>((i, d))
        })
        .await?;
    let role = role_key(&access, &invite);
    Ok(HttpResponse::Ok().json(dto(invite, role, d, None)))
}

/// Send a pending (or expired) invite again: a new link, a new expiry; the
/// earlier link stops working.
#[utoipa::path(
    tag = "invites",
    params(("org" = String, Path, description = "Org slug or id"), ("invite" = String, Path, description = "Invite id")),
    responses((status = 200, description = "Sent again", body = InviteDto), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Accepted or revoked", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.invites.manage")))
)]
#[post("/orgs/{org}/invites/{invite}/resend")]
pub async fn resend_invite(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let a2 = access.clone();
    let mail = state.mail.clone();
    let (invite, d) = state
        .store
        .write(move |c| {
            let i = service::invites::resend(c, &a2.acting(), &mail, &id)?;
            let d = service::invites::delivery(c, &i)?;
            Ok::<_, AppError>((i, d))
        })
        .await?;
    state.outbox.wake();
    let role = role_key(&access, &invite);
    Ok(HttpResponse::Ok().json(dto(invite, role, d, Some(Outcome::Resent))))
}
