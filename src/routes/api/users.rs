//! `/api/v1/orgs/{org}/users`: create (source `admin`), list with search and
//! pagination, get, update (with `If-Match`), suspend and reactivate.

use actix_web::http::header::{ETAG, LOCATION};
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};

use super::dto::{CreateUser, UpdateUser, UserDto, UserListParams, UserPage, if_match_version};
use crate::auth::access::OrgAccess;
use crate::domain::UserStatus;
use crate::error::{AppError, ErrorBody};
use crate::service::{self, users::ProfileChanges};
use crate::state::AppState;
use crate::store::users::User;

fn user_response(mut builder: actix_web::HttpResponseBuilder, user: User) -> HttpResponse {
    builder
        .insert_header((ETAG, format!("W/\"{}\"", user.version)))
        .json(UserDto::from(user))
}

#[utoipa::path(
    tag = "users",
    params(("org" = String, Path, description = "Org slug or id")),
    request_body = CreateUser,
    responses((status = 201, description = "Created", body = UserDto), (status = 400, description = "The request is invalid", body = ErrorBody), (status = 409, description = "Conflicts with the current state", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage")))
)]
#[post("/orgs/{org}/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    access: OrgAccess,
    req: HttpRequest,
    body: web::Json<CreateUser>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let user = state
        .store
        .write(move |c| {
            service::users::create(
                c,
                &access.acting(),
                service::users::NewUser {
                    user_name: b.user_name,
                    email: b.email,
                    given_name: b.given_name,
                    family_name: b.family_name,
                    display_name: b.display_name,
                    external_id: b.external_id,
                    role: b.role,
                    workspaces: b.workspaces,
                },
            )
        })
        .await?;
    let mut builder = HttpResponse::Created();
    builder.insert_header((
        LOCATION,
        format!("{}/{}", req.path().trim_end_matches('/'), user.id),
    ));
    Ok(user_response(builder, user))
}

#[utoipa::path(
    tag = "users",
    params(("org" = String, Path, description = "Org slug or id"), UserListParams),
    responses((status = 200, description = "OK", body = UserPage), (status = 400, description = "The request is invalid", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage")))
)]
#[get("/orgs/{org}/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    access: OrgAccess,
    params: web::Query<UserListParams>,
) -> Result<HttpResponse, AppError> {
    let p = params.into_inner();
    let limit = service::page_size(p.limit, 50, 200);
    let page = state
        .store
        .read(move |c| {
            service::users::list(
                c,
                &access.acting(),
                p.q,
                p.status,
                p.cursor.as_deref(),
                limit,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserPage {
        items: page.items.into_iter().map(UserDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(
    tag = "users",
    params(("org" = String, Path, description = "Org slug or id"), ("id" = String, Path, description = "User id")),
    responses((status = 200, description = "OK", body = UserDto), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage")))
)]
#[get("/orgs/{org}/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    access: OrgAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let user = state
        .store
        .read(move |c| service::users::get(c, &access.acting(), &id))
        .await?;
    Ok(user_response(HttpResponse::Ok(), user))
}

/// Change profile fields. Send `If-Match` with the version you read to make
/// sure nobody changed the user in between (412 otherwise).
#[utoipa::path(
    tag = "users",
    params(("org" = String, Path, description = "Org slug or id"), ("id" = String, Path, description = "User id")),
    request_body = UpdateUser,
    responses((status = 200, description = "OK", body = UserDto), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody), (status = 409, description = "Conflicts with the current state", body = ErrorBody), (status = 412, description = "If-Match names an older version", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage")))
)]
#[patch("/orgs/{org}/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    access: OrgAccess,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateUser>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let if_match = if_match_version(&req)?;
    let b = body.into_inner();
    let user = state
        .store
        .write(move |c| {
            service::users::update_profile(
                c,
                &access.acting(),
                &id,
                if_match,
                ProfileChanges {
                    user_name: b.user_name,
                    email: b.email,
                    given_name: b.given_name,
                    family_name: b.family_name,
                    display_name: b.display_name,
                },
            )
        })
        .await?;
    Ok(user_response(HttpResponse::Ok(), user))
}

async fn set_status(
    state: web::Data<AppState>,
    access: OrgAccess,
    req: HttpRequest,
    id: String,
    target: UserStatus,
) -> Result<HttpResponse, AppError> {
    let if_match = if_match_version(&req)?;
    let user = state
        .store
        .write(move |c| service::users::set_status(c, &access.acting(), &id, if_match, target))
        .await?;
    Ok(user_response(HttpResponse::Ok(), user))
}

/// Suspend a user: every permission check denies them until reactivated.
#[utoipa::path(
    tag = "users",
    params(("org" = String, Path, description = "Org slug or id"), ("id" = String, Path, description = "User id")),
    responses((status = 200, description = "OK", body = UserDto), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody), (status = 409, description = "Conflicts with the current state", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage")))
)]
#[post("/orgs/{org}/users/{id}/suspend")]
pub async fn suspend_user(
    state: web::Data<AppState>,
    access: OrgAccess,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    set_status(
        state,
        access,
        req,
        path.into_inner().1,
        UserStatus::Suspended,
    )
    .await
}

#[utoipa::path(
    tag = "users",
    params(("org" = String, Path, description = "Org slug or id"), ("id" = String, Path, description = "User id")),
    responses((status = 200, description = "OK", body = UserDto), (status = 404, description = "Not found (or not visible to the caller)", body = ErrorBody), (status = 409, description = "Conflicts with the current state", body = ErrorBody)),
    security(("bearer" = [])),
    extensions(("x-rollcall-permission" = json!("gateway.users.manage")))
)]
#[post("/orgs/{org}/users/{id}/reactivate")]
pub async fn reactivate_user(
    state: web::Data<AppState>,
    access: OrgAccess,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    set_status(state, access, req, path.into_inner().1, UserStatus::Active).await
}
