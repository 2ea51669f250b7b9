//! A user's access through the admin API — org role, workspace access,
//! scoped bindings, individual overrides, permission sets, the access answer —
//! and `POST /api/v1/orgs/{org}/authz/check`, the question the product asks.

use actix_web::{HttpResponse, delete, get, post, put, web};

use super::dto::{
    AccessParams, AddBinding, AddOverride, BatchAnswer, CheckAnswer, CheckBody, SetRole,
    SetWorkspaces,
};
use crate::auth::access::OrgAccess;
use crate::domain::authz;
use crate::error::{AppError, ErrorBody};
use crate::service::access::{self, AccessView};
use crate::service::authz::check_error;
use crate::state::AppState;

type UserPath = web::Path<(String, String)>;

/// Set the user's org-level role (source `admin`). Refused when the IdP
/// manages roles and a mapping gave this one, beyond the caller's own
/// rights, or when it would demote the last owner.
#[utoipa::path(
    tag = "access",
    params(("org" = String, Path), ("id" = String, Path, description = "User id")),
    request_body = SetRole,
    responses((status = 200, description = "OK", body = AccessView), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody), (status = 409, description = "Conflicts with the current state", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage")))
)]
#[put("/orgs/{org}/users/{id}/role")]
pub async fn set_role(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: UserPath,
    body: web::Json<SetRole>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let role = body.into_inner().role;
    let view = state
        .store
        .write(move |c| {
            access::set_org_role(c, &access.acting(), &id, &role)?;
            access::view_after_write(c, &access.acting(), &id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Restrict the user to workspaces (or lift the restriction with `null`), and
/// set their home workspace.
#[utoipa::path(
    tag = "access",
    params(("org" = String, Path), ("id" = String, Path, description = "User id")),
    request_body = SetWorkspaces,
    responses((status = 200, description = "OK", body = AccessView), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage")))
)]
#[put("/orgs/{org}/users/{id}/workspaces")]
pub async fn set_workspaces(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: UserPath,
    body: web::Json<SetWorkspaces>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let b = body.into_inner();
    let view = state
        .store
        .write(move |c| {
            access::set_workspaces(c, &access.acting(), &id, b.workspaces, b.home)?;
            access::view_after_write(c, &access.acting(), &id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Bind a workspace- or resource-scoped role (seed 004 workspace roles, seed 000 workflow roles).
#[utoipa::path(
    tag = "access",
    params(("org" = String, Path), ("id" = String, Path, description = "User id")),
    request_body = AddBinding,
    responses((status = 201, description = "Created", body = AccessView), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage")))
)]
#[post("/orgs/{org}/users/{id}/bindings")]
pub async fn add_binding(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: UserPath,
    body: web::Json<AddBinding>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let b = body.into_inner();
    let view = state
        .store
        .write(move |c| {
            access::add_binding(c, &access.acting(), &id, &b.role, &b.scope.into())?;
            access::view_after_write(c, &access.acting(), &id)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[utoipa::path(
    tag = "access",
    params(("org" = String, Path), ("id" = String, Path, description = "User id"), ("binding" = String, Path)),
    responses((status = 204, description = "Done, no content"), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody), (status = 409, description = "Conflicts with the current state", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage")))
)]
#[delete("/orgs/{org}/users/{id}/bindings/{binding}")]
pub async fn remove_binding(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id, binding) = path.into_inner();
    state
        .store
        .write(move |c| access::remove_binding(c, &access.acting(), &id, &binding))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Add an individual allow or deny on top of the user's roles (seed 001
/// "additional policies"). An allow is limited to what the caller holds.
#[utoipa::path(
    tag = "access",
    params(("org" = String, Path), ("id" = String, Path, description = "User id")),
    request_body = AddOverride,
    responses((status = 201, description = "Created", body = AccessView), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage")))
)]
#[post("/orgs/{org}/users/{id}/overrides")]
pub async fn add_override(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: UserPath,
    body: web::Json<AddOverride>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let b = body.into_inner();
    let view = state
        .store
        .write(move |c| {
            access::add_override(
                c,
                &access.acting(),
                &id,
                &b.permission,
                b.effect.into(),
                &b.scope.into(),
            )?;
            access::view_after_write(c, &access.acting(), &id)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[utoipa::path(
    tag = "access",
    params(("org" = String, Path), ("id" = String, Path, description = "User id"), ("override" = String, Path)),
    responses((status = 204, description = "Done, no content"), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage")))
)]
#[delete("/orgs/{org}/users/{id}/overrides/{override}")]
pub async fn remove_override(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id, o) = path.into_inner();
    state
        .store
        .write(move |c| access::remove_override(c, &access.acting(), &id, &o))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Add the user to a permission set directly (needs build access to its application).
#[utoipa::path(
    tag = "access",
    params(("org" = String, Path), ("id" = String, Path, description = "User id"), ("set" = String, Path)),
    responses((status = 204, description = "Done, no content"), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("app.build")))
)]
#[put("/orgs/{org}/users/{id}/permission-sets/{set}")]
pub async fn attach_set(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id, set) = path.into_inner();
    state
        .store
        .write(move |c| access::put_user_set(c, &access.acting(), &id, &set, true))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    tag = "access",
    params(("org" = String, Path), ("id" = String, Path, description = "User id"), ("set" = String, Path)),
    responses((status = 204, description = "Done, no content"), (status = 403, description = "The caller lacks the permission or the rule named in the message", body = ErrorBody), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("app.build")))
)]
#[delete("/orgs/{org}/users/{id}/permission-sets/{set}")]
pub async fn detach_set(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id, set) = path.into_inner();
    state
        .store
        .write(move |c| access::put_user_set(c, &access.acting(), &id, &set, false))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Everything the user holds and may do, each with its reason: bindings with
/// their source, effective permissions, visible workspaces, anonymized flag.
#[utoipa::path(
    tag = "access",
    params(("org" = String, Path), ("id" = String, Path, description = "User id"), AccessParams),
    responses((status = 200, description = "OK", body = AccessView), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.access.read")))
)]
#[get("/orgs/{org}/users/{id}/access")]
pub async fn get_access(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: UserPath,
    params: web::Query<AccessParams>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let params = params.into_inner();
    let view = state
        .store
        .read(move |c| {
            access::access_view(
                c,
                &access.acting(),
                &id,
                params.workspace.as_deref(),
                params.item_type.as_deref(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

const MAX_BATCH: usize = 1000;

/// A check failed because the user's stored access names a role or set that
/// this node's cached policy does not have yet (made elsewhere a moment ago,
/// its notification still on the way): answer from a freshly loaded policy
/// rather than with a 500.
fn stale_policy(e: &authz::CheckError) -> bool {
    matches!(
        e,
        authz::CheckError::UnknownRole { .. } | authz::CheckError::UnknownSet(_)
    )
}

/// May this user do this here? One check, or `{"checks": [...]}` (≤ 1000).
/// Answers carry the chain of reasons. Unknown permissions, workspaces or
/// users are 4xx errors (per item in a batch).
#[utoipa::path(
    tag = "authz",
    params(("org" = String, Path)),
    request_body = CheckBody,
    responses((status = 200, description = "OK", body = CheckAnswer), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.access.read")))
)]
#[post("/orgs/{org}/authz/check")]
pub async fn check(
    state: web::Data<AppState>,
    access: OrgAccess,
    body: web::Json<CheckBody>,
) -> Result<HttpResponse, AppError> {
    let inputs: Vec<access::CheckInput> = match body.into_inner() {
        CheckBody::Single(item) => vec![item.into()],
        CheckBody::Batch { checks } => {
            if checks.len() > MAX_BATCH {
                return Err(AppError::PayloadTooLarge(format!(
                    "at most {MAX_BATCH} checks per batch"
                )));
            }
            let inputs: Vec<access::CheckInput> = checks.into_iter().map(Into::into).collect();
            return batch(state, access, inputs).await;
        }
    };
    let input = &inputs[0];
    let query = access::query_of(&access.policy, input)?;
    let user = input.user.clone();
    let a = access.clone();
    let mut subjects = state
        .store
        .read(move |c| access::subjects_for_checks(c, &a.acting(), vec![user]))
        .await?;
    let subject = subjects
        .remove(&input.user)
        .unwrap_or_else(|| Err(AppError::not_found("user", &input.user)))?;
    let d = match authz::check(&access.policy.policy, &subject, &query) {
        // The user's stored access is newer than this node's policy: reload.
        Err(e) if stale_policy(&e) => {
            let (_, fresh) = state.reload_policy(&access.org.id).await?;
            let query = access::query_of(&fresh, input)?;
            access::decide(&fresh, &subject, &query)?
        }
        other => other.map_err(check_error)?,
    };
    Ok(HttpResponse::Ok().json(CheckAnswer {
        allowed: d.allowed,
        reasons: d.reasons,
    }))
}

/// A batch of checks: each answer or error in its place; a failure on the
/// server's side never shows its text.
async fn batch(
    state: web::Data<AppState>,
    access: OrgAccess,
    inputs: Vec<access::CheckInput>,
) -> Result<HttpResponse, AppError> {
    let mut users: Vec<String> = inputs.iter().map(|i| i.user.clone()).collect();
    users.sort();
    users.dedup();
    let a = access.clone();
    let subjects = state
        .store
        .read(move |c| access::subjects_for_checks(c, &a.acting(), users))
        .await?;
    let answer = |op: &crate::service::authz::OrgPolicy, input: &access::CheckInput| {
        let q = access::query_of(op, input)?;
        match &subjects[&input.user] {
            Ok(s) => Ok(authz::check(&op.policy, s, &q)),
            Err(e) => Err(e.clone()),
        }
    };
    let mut answers: Vec<_> = inputs.iter().map(|i| answer(&access.policy, i)).collect();
    if answers
        .iter()
        .any(|a| matches!(a, Ok(Err(e)) if stale_policy(e)))
    {
        let (_, fresh) = state.reload_policy(&access.org.id).await?;
        answers = inputs.iter().map(|i| answer(&fresh, i)).collect();
    }
    let results = answers
        .into_iter()
        .map(|a| match a.and_then(|d| d.map_err(check_error)) {
            Ok(d) => serde_json::json!({"allowed": d.allowed, "reasons": d.reasons}),
            Err(e) => crate::error::item_error(&e),
        })
        .collect();
    Ok(HttpResponse::Ok().json(BatchAnswer { results }))
}
