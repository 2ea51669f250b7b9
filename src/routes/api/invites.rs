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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BulkParams {
    /// All rows or none (up to `invites.bulk_max_rows`).
    #[serde(default)]
    pub atomic: bool,
    /// Replace pending invites that grant another role or workspaces.
    #[serde(default)]
    pub replace: bool,
}

/// Read the body up to `limit` bytes (the bulk route's own limit).
async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, AppError> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| AppError::bad_request(format!("cannot read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge(format!(
                "the request body exceeds {limit} bytes (invites.bulk_max_body_bytes)"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let Some(v) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            AppError::bad_request("Idempotency-Key must be 1 to 255 visible characters")
        })?;
    Ok(Some(key.to_owned()))
}

fn json_reply(status: u16, body: &str) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK),
    )
    .content_type("application/json")
    .body(body.to_owned())
}

/// Invite many people at once: a JSON array of rows or CSV (`text/csv`,
/// columns `email,name,role,workspaces`, several workspaces separated by
/// `;`). Every row is validated first; the answer reports each row
/// (`created`, `resent`, `replaced`, `already_active`, `error` with a code
/// and reason). `atomic=true`: all or nothing (422 with the per-row report
/// when anything fails). Above `invites.bulk_job_threshold` rows: 202 with
/// a job to poll. `Idempotency-Key` (per org, 24 hours) replays the first
/// answer; the same key with another body is a 422.
#[utoipa::path(
    tag = "invites",
    params(("org" = String, Path, description = "Org slug or id"), BulkParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe")),
    request_body(content = Vec<service::invites_bulk::BulkRow>, description = "Rows as JSON (or CSV as text/csv)"),
    responses((status = 200, description = "Per-row report", body = service::invites_bulk::Report), (status = 202, description = "Accepted as a job"), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "Not permitted, or bulk invitation is off", body = ErrorBody), (status = 413, description = "Too large", body = ErrorBody), (status = 422, description = "Atomic request refused (per-row report), or Idempotency-Key reused with another body")),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.invites.manage")))
)]
#[post("/orgs/{org}/invites/bulk")]
pub async fn bulk_invite(
    state: web::Data<AppState>,
    access: OrgAccess,
    req: HttpRequest,
    params: web::Query<BulkParams>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    use service::invites_bulk as bulk;
    bulk::authorize(&access.acting())?;
    let settings = &state.settings.invites;
    let body = read_limited(payload, settings.bulk_max_body_bytes).await?;
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    let parsed = if content_type.starts_with("text/csv") {
        bulk::parse_csv(&body)?
    } else if content_type.starts_with("application/json") {
        bulk::parse_json(&body)?
    } else {
        return Err(AppError::UnsupportedMediaType(format!(
            "`{content_type}`: send application/json or text/csv"
        )));
    };
    if parsed.len() > settings.bulk_max_rows {
        return Err(AppError::PayloadTooLarge(format!(
            "{} rows; at most {} per request (invites.bulk_max_rows)",
            parsed.len(),
            settings.bulk_max_rows
        )));
    }
    let (atomic, replace) = (params.atomic, params.replace);
    // Idempotency: reserve the key, or answer as the first request did.
    let key = idempotency_key(&req)?;
    if let Some(key) = &key {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(content_type.as_bytes());
        h.update([0, u8::from(atomic), u8::from(replace), 0]);
        h.update(&body);
        let hash = hex::encode(h.finalize());
        let (org, k, hs) = (access.org.id.clone(), key.clone(), hash.clone());
        let now = crate::store::now();
        let since = now - chrono::Duration::hours(24);
        let reserved = state
            .store
            .write(move |c| {
                crate::store::bulk_jobs::idempotency_reserve(c, &org, &k, &hs, since, now)
            })
            .await?;
        if !reserved {
            let (org, k) = (access.org.id.clone(), key.clone());
            let found = state
                .store
                .read(move |c| crate::store::bulk_jobs::idempotency_get(c, &org, &k, since))
                .await?;
            return match found {
                Some((h, _, _)) if h != hash => Err(AppError::Unprocessable(
                    "this Idempotency-Key was used with another request body".into(),
                )),
                Some((_, status, response)) if status > 0 => {
                    let mut res = json_reply(status as u16, &response);
                    res.headers_mut().insert(
                        actix_web::http::header::HeaderName::from_static("idempotency-replayed"),
                        actix_web::http::header::HeaderValue::from_static("true"),
                    );
                    Ok(res)
                }
                _ => Err(AppError::Conflict {
                    code: "in_progress",
                    message: "a request with this Idempotency-Key is still being processed; retry shortly"
                        .into(),
                }),
            };
        }
    }
    let result = run_bulk(&state, &access, &req, parsed, atomic, replace).await;
    if let Some(key) = key {
        let org = access.org.id.clone();
        match &result {
            Ok((status, text)) => {
                let (status, text) = (i32::from(*status), text.clone());
                state
                    .store
                    .write(move |c| {
                        crate::store::bulk_jobs::idempotency_finish(c, &org, &key, status, &text)
                    })
                    .await?;
            }
            Err(_) => {
                state
                    .store
                    .write(move |c| crate::store::bulk_jobs::idempotency_release(c, &org, &key))
                    .await?;
            }
        }
    }
    let (status, text) = result?;
    let mut res = json_reply(status, &text);
    if status == 202
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(loc) = v["location"].as_str()
        && let Ok(h) = actix_web::http::header::HeaderValue::from_str(loc)
    {
        res.headers_mut().insert(LOCATION, h);
    }
    Ok(res)
}

/// Validate, then apply (or queue as a job): (HTTP status, JSON body).
async fn run_bulk(
    state: &web::Data<AppState>,
    access: &OrgAccess,
    req: &HttpRequest,
    parsed: service::invites_bulk::Parsed,
    atomic: bool,
    replace: bool,
) -> Result<(u16, String), AppError> {
    use service::invites_bulk::{self as bulk, AtomicError, Report};
    let (valid, errors) = bulk::validate(&access.acting(), parsed);
    let to_json = |r: &Report| serde_json::to_string(r).expect("reports serialise");
    if atomic && !errors.is_empty() {
        let mut rows = errors;
        rows.extend(
            valid
                .iter()
                .map(|(row, r)| service::invites_bulk::RowResult {
                    row: *row,
                    email: r.email.clone(),
                    result: "not_applied".into(),
                    invite_id: None,
                    user_id: None,
                    code: None,
                    reason: None,
                }),
        );
        return Ok((422, to_json(&Report::new(true, false, rows))));
    }
    if valid.len() > state.settings.invites.bulk_job_threshold {
        let now = crate::store::now();
        let job = crate::store::bulk_jobs::Job {
            id: uuid::Uuid::now_v7().to_string(),
            org_id: access.org.id.as_str().to_owned(),
            actor: serde_json::to_string(&access.ctx.actor).expect("actors serialise"),
            request_id: access.ctx.request_id.clone(),
            atomic,
            replace_pending: replace,
            rows: serde_json::to_string(&valid).expect("rows serialise"),
            total: valid.len() as i64,
            done: 0,
            results: serde_json::to_string(&errors).expect("rows serialise"),
            status: crate::store::bulk_jobs::QUEUED.to_owned(),
            claimed_until: None,
            created_at: now,
            updated_at: now,
            finished_at: None,
        };
        let id = job.id.clone();
        state
            .store
            .write(move |c| crate::store::bulk_jobs::insert(c, &job))
            .await?;
        state.jobs.notify_one();
        let location = format!("{}/{id}", req.path().trim_end_matches('/'));
        return Ok((
            202,
            serde_json::json!({"job": id, "status": "queued", "total": valid.len(), "location": location})
                .to_string(),
        ));
    }
    let mail = state.mail.clone();
    if atomic {
        let a2 = access.clone();
        let outcome = state
            .store
            .write(move |c| bulk::apply_atomic(c, &a2.acting(), &mail, &valid, replace))
            .await;
        return match outcome {
            Ok(report) => {
                state.outbox.wake();
                Ok((200, to_json(&report)))
            }
            Err(AtomicError::Rejected(report)) => Ok((422, to_json(&report))),
            Err(AtomicError::App(e)) => Err(e),
        };
    }
    let mut rows = errors;
    for chunk in valid.chunks(crate::jobs::CHUNK) {
        let (a2, m, chunk) = (access.clone(), mail.clone(), chunk.to_vec());
        let applied = state
            .store
            .write(move |c| bulk::apply(c, &a2.acting(), &m, &chunk, replace))
            .await?;
        rows.extend(applied);
        state.outbox.wake();
    }
    Ok((200, to_json(&Report::new(false, true, rows))))
}

/// A bulk-invite job: progress, and the per-row report once done.
#[utoipa::path(
    tag = "invites",
    params(("org" = String, Path, description = "Org slug or id"), ("job" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job"), (status = 404, description = "Not found", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.invites.manage")))
)]
#[get("/orgs/{org}/invites/bulk/{job}")]
pub async fn get_bulk_job(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    access
        .acting()
        .require(crate::domain::authz::gate::INVITES_MANAGE)?;
    let (_, id) = path.into_inner();
    let org = access.org.id.clone();
    let job = state
        .store
        .read(move |c| {
            crate::store::bulk_jobs::get(c, &org, &id).map_err(|e| match e {
                crate::store::StoreError::NotFound => AppError::not_found("job", &id),
                other => other.into(),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(crate::jobs::view(&job)?))
}
