//! The SCIM 2.0 endpoints under `/scim/v2/{directory}` (RFC 7644 §3):
//! `/Users`, `/Groups`, `/.search` (root and per type), `/Bulk`, and the
//! discovery documents `/ServiceProviderConfig`, `/Schemas`,
//! `/ResourceTypes`. Listings page by index (RFC 7644 §3.4.2.4) or, given a
//! `cursor`, by cursor (RFC 9865). Bodies are `application/scim+json` (plain
//! `application/json` accepted), read here with the configured limits;
//! answers carry `Location` and `ETag`; `If-Match` / `If-None-Match` give
//! 412 / 304. Handlers only extract, call `service::scim` in one store call,
//! and shape the response; every error leaves as RFC 7644 §3.12 JSON.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::auth::scim::DirectoryAccess;
use crate::error::{SCIM_CONTENT_TYPE, ScimApiError};
use crate::scim::schema::{self, urn};
use crate::service::bulk;
use crate::service::scim::{
    self as ops, ListParams, Precondition, Projection, Rendered, parse_etags,
};
use crate::state::AppState;

/// Mount the SCIM routes (paths relative to the app root).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/scim/v2/{directory}")
            .service(
                web::resource("/ServiceProviderConfig")
                    .route(web::get().to(service_provider_config))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Schemas")
                    .route(web::get().to(schemas))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Schemas/{id}")
                    .route(web::get().to(schema_by_id))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/ResourceTypes")
                    .route(web::get().to(resource_types))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/ResourceTypes/{id}")
                    .route(web::get().to(resource_type_by_id))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Bulk")
                    .route(web::post().to(bulk_endpoint))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/.search")
                    .route(web::post().to(search_root))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Users")
                    .route(web::get().to(list_users))
                    .route(web::post().to(create_user))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Users/.search")
                    .route(web::post().to(search_users))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Users/{id}")
                    .route(web::get().to(get_user))
                    .route(web::put().to(replace_user))
                    .route(web::patch().to(patch_user))
                    .route(web::delete().to(delete_user))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Groups")
                    .route(web::get().to(list_groups))
                    .route(web::post().to(create_group))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Groups/.search")
                    .route(web::post().to(search_groups))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Groups/{id}")
                    .route(web::get().to(get_group))
                    .route(web::put().to(replace_group))
                    .route(web::patch().to(patch_group))
                    .route(web::delete().to(delete_group))
                    .default_service(web::to(method_not_allowed)),
            )
            .default_service(web::to(unknown_endpoint)),
    );
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ScimApiError> {
    Err(ScimApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        req.method(),
        req.path()
    )))
}

async fn unknown_endpoint(req: HttpRequest) -> Result<HttpResponse, ScimApiError> {
    Err(ScimApiError::NotFound(format!(
        "no SCIM endpoint {}",
        req.path()
    )))
}

fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(SCIM_CONTENT_TYPE)
        .body(body.to_string())
}

fn resource_response(
    status: StatusCode,
    r: &Rendered,
    projection: &Projection,
    rt: &crate::scim::ResourceTypeDef,
) -> HttpResponse {
    let body = projection.apply(&r.body, rt);
    HttpResponse::build(status)
        .content_type(SCIM_CONTENT_TYPE)
        .insert_header((ETAG, ops::etag(r.version)))
        .insert_header((LOCATION, r.location.clone()))
        .body(body.to_string())
}

/// Read and parse a JSON body within `limit` bytes, as SCIM errors.
async fn json_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Value, ScimApiError> {
    if let Some(ct) = req.headers().get(CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        let mime = ct.split(';').next().unwrap_or_default().trim();
        if !mime.is_empty() && mime != SCIM_CONTENT_TYPE && mime != "application/json" {
            return Err(ScimApiError::UnsupportedMediaType(format!(
                "send {SCIM_CONTENT_TYPE} (or application/json), not `{mime}`"
            )));
        }
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ScimApiError::invalid_syntax(format!("the request body could not be read: {e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ScimApiError::PayloadTooLarge(format!(
                "the request body exceeds {limit} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Err(ScimApiError::invalid_syntax(
            "the request needs a JSON body",
        ));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ScimApiError::invalid_syntax(format!("the body is not valid JSON: {e}")))
}

fn if_match(req: &HttpRequest) -> Vec<Precondition> {
    req.headers()
        .get(IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(parse_etags)
        .unwrap_or_default()
}

fn not_modified(req: &HttpRequest, version: i64) -> bool {
    req.headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(parse_etags)
        .is_some_and(|tags| {
            tags.iter()
                .any(|t| matches!(t, Precondition::Any) || *t == Precondition::Version(version))
        })
}

/// Query parameters of GET listings, names case-insensitive.
fn list_params(req: &HttpRequest) -> Result<(ListParams, Projection), ScimApiError> {
    let pairs: Vec<(String, String)> =
        web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map_err(|e| ScimApiError::invalid_value(format!("query string: {e}")))?
            .into_inner();
    let mut p = ListParams::default();
    let int = |name: &str, v: &str| -> Result<i64, ScimApiError> {
        v.trim().parse().map_err(|_| {
            ScimApiError::invalid_value(format!("{name} must be an integer, not `{v}`"))
        })
    };
    for (k, v) in pairs {
        match k.to_ascii_lowercase().as_str() {
            "filter" => p.filter = Some(v),
            "sortby" => p.sort_by = Some(v),
            "sortorder" => p.sort_order = Some(v),
            "startindex" => p.start_index = Some(int("startIndex", &v)?),
            "count" => p.count = Some(int("count", &v)?),
            "attributes" => p.attributes = Some(v),
            "excludedattributes" => p.excluded_attributes = Some(v),
            "cursor" => p.cursor = Some(v),
            _ => {}
        }
    }
    let projection = Projection::parse(p.attributes.as_deref(), p.excluded_attributes.as_deref())?;
    Ok((p, projection))
}

/// A SearchRequest body (RFC 7644 §3.4.3).
fn search_params(body: &Value) -> Result<ListParams, ScimApiError> {
    let s = |k: &str| -> Result<Option<String>, ScimApiError> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(v)) => Ok(Some(v.clone())),
            Some(Value::Array(a)) => Ok(Some(
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            )),
            Some(other) => Err(ScimApiError::invalid_value(format!(
                "{k} must be a string, not {other}"
            ))),
        }
    };
    let n = |k: &str| -> Result<Option<i64>, ScimApiError> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ScimApiError::invalid_value(format!("{k} must be an integer"))),
        }
    };
    Ok(ListParams {
        filter: s("filter")?,
        sort_by: s("sortBy")?,
        sort_order: s("sortOrder")?,
        start_index: n("startIndex")?,
        count: n("count")?,
        attributes: s("attributes")?,
        excluded_attributes: s("excludedAttributes")?,
        cursor: s("cursor")?,
    })
}

// ------------------------------------------------------------------ discovery

async fn service_provider_config(
    state: web::Data<AppState>,
    access: DirectoryAccess,
) -> HttpResponse {
    let s = &state.settings.scim;
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [urn::SERVICE_PROVIDER_CONFIG],
            "documentationUri": "https://github.com/rollcall/rollcall#scim",
            "patch": {"supported": true},
            "bulk": {"supported": true, "maxOperations": s.bulk_max_operations, "maxPayloadSize": s.bulk_max_payload_bytes},
            "filter": {"supported": true, "maxResults": s.max_page_size},
            // RFC 9865 §4: both methods; index paging stays the default.
            "pagination": {
                "cursor": true,
                "index": true,
                "defaultPaginationMethod": "index",
                "defaultPageSize": s.default_page_size,
                "maxPageSize": s.max_page_size,
                "cursorTimeout": s.cursor_timeout.as_secs(),
            },
            "changePassword": {"supported": false},
            "sort": {"supported": true},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A directory token created with `rollcall directory create` or the admin API",
                "primary": true
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}/ServiceProviderConfig", access.base_url),
            }
        }),
    )
}

async fn schemas(access: DirectoryAccess) -> HttpResponse {
    let scope = access.scope();
    let list: Vec<Value> = ops::schemas_offered(&scope)
        .into_iter()
        .map(|s| ops::schema_document(&scope, s))
        .collect();
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [urn::LIST_RESPONSE],
            "totalResults": list.len(),
            "startIndex": 1,
            "itemsPerPage": list.len(),
            "Resources": list,
        }),
    )
}

async fn schema_by_id(
    access: DirectoryAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimApiError> {
    let (_, id) = path.into_inner();
    let found = ops::schemas_offered(&access.scope())
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| ScimApiError::NotFound(format!("no schema `{id}`")))?;
    Ok(scim_json(
        StatusCode::OK,
        &ops::schema_document(&access.scope(), found),
    ))
}

async fn resource_types(access: DirectoryAccess) -> HttpResponse {
    let scope = access.scope();
    let list: Vec<Value> = schema::all_resource_types()
        .iter()
        .map(|r| ops::resource_type_document(&scope, r))
        .collect();
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [urn::LIST_RESPONSE],
            "totalResults": list.len(),
            "startIndex": 1,
            "itemsPerPage": list.len(),
            "Resources": list,
        }),
    )
}

async fn resource_type_by_id(
    access: DirectoryAccess,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimApiError> {
    let (_, id) = path.into_inner();
    let found = schema::all_resource_types()
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| ScimApiError::NotFound(format!("no resource type `{id}`")))?;
    Ok(scim_json(
        StatusCode::OK,
        &ops::resource_type_document(&access.scope(), found),
    ))
}

// ------------------------------------------------------------------ users

async fn list_users(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
) -> Result<HttpResponse, ScimApiError> {
    let (p, _) = list_params(&req)?;
    let paging = ops::Paging::from_settings(&state.settings.scim);
    let body = state
        .store
        .read(move |c| ops::list_users(c, &access.scope(), &p, &paging))
        .await?;
    Ok(scim_json(StatusCode::OK, &body))
}

async fn search_users(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ScimApiError> {
    let body = json_body(&req, payload, state.settings.server.max_body_bytes).await?;
    let p = search_params(&body)?;
    let paging = ops::Paging::from_settings(&state.settings.scim);
    let out = state
        .store
        .read(move |c| ops::list_users(c, &access.scope(), &p, &paging))
        .await?;
    Ok(scim_json(StatusCode::OK, &out))
}

async fn create_user(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ScimApiError> {
    let refusal = Refusal::of(&access);
    let body = json_body(&req, payload, state.settings.server.max_body_bytes).await?;
    let (_, projection) = list_params(&req)?;
    // create_user runs its own transaction (one statement on PostgreSQL).
    let r = state
        .store
        .write_committing_itself(move |c| ops::create_user(c, &access.scope(), body))
        .await;
    let r = record_refusal(&state, refusal, r).await?;
    Ok(resource_response(
        StatusCode::CREATED,
        &r,
        &projection,
        &schema::USER,
    ))
}

async fn get_user(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimApiError> {
    let (_, id) = path.into_inner();
    let (_, projection) = list_params(&req)?;
    let r = state
        .store
        .read(move |c| ops::get_user(c, &access.scope(), &id))
        .await?;
    if not_modified(&req, r.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((ETAG, ops::etag(r.version)))
            .finish());
    }
    Ok(resource_response(
        StatusCode::OK,
        &r,
        &projection,
        &schema::USER,
    ))
}

async fn replace_user(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimApiError> {
    let refusal = Refusal::of(&access);
    let (_, id) = path.into_inner();
    let body = json_body(&req, payload, state.settings.server.max_body_bytes).await?;
    let (_, projection) = list_params(&req)?;
    let pre = if_match(&req);
    let r = state
        .store
        .write(move |c| ops::replace_user(c, &access.scope(), &id, body, &pre))
        .await;
    let r = record_refusal(&state, refusal, r).await?;
    Ok(resource_response(
        StatusCode::OK,
        &r,
        &projection,
        &schema::USER,
    ))
}

async fn patch_user(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimApiError> {
    let refusal = Refusal::of(&access);
    let (_, id) = path.into_inner();
    let body = json_body(&req, payload, state.settings.server.max_body_bytes).await?;
    let (_, projection) = list_params(&req)?;
    let pre = if_match(&req);
    let r = state
        .store
        .write(move |c| ops::patch_user(c, &access.scope(), &id, &body, &pre))
        .await;
    let r = record_refusal(&state, refusal, r).await?;
    Ok(resource_response(
        StatusCode::OK,
        &r,
        &projection,
        &schema::USER,
    ))
}

async fn delete_user(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimApiError> {
    let refusal = Refusal::of(&access);
    let (_, id) = path.into_inner();
    let pre = if_match(&req);
    let r = state
        .store
        .write(move |c| ops::delete_user(c, &access.scope(), &id, &pre))
        .await;
    record_refusal(&state, refusal, r).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ------------------------------------------------------------------ groups

async fn list_groups(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
) -> Result<HttpResponse, ScimApiError> {
    let (p, _) = list_params(&req)?;
    let paging = ops::Paging::from_settings(&state.settings.scim);
    let body = state
        .store
        .read(move |c| ops::list_groups(c, &access.scope(), &p, &paging))
        .await?;
    Ok(scim_json(StatusCode::OK, &body))
}

async fn search_groups(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ScimApiError> {
    let body = json_body(&req, payload, state.settings.server.max_body_bytes).await?;
    let p = search_params(&body)?;
    let paging = ops::Paging::from_settings(&state.settings.scim);
    let out = state
        .store
        .read(move |c| ops::list_groups(c, &access.scope(), &p, &paging))
        .await?;
    Ok(scim_json(StatusCode::OK, &out))
}

async fn search_root(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ScimApiError> {
    let body = json_body(&req, payload, state.settings.server.max_body_bytes).await?;
    let p = search_params(&body)?;
    let paging = ops::Paging::from_settings(&state.settings.scim);
    let out = state
        .store
        .read(move |c| ops::search_all(c, &access.scope(), &p, &paging))
        .await?;
    Ok(scim_json(StatusCode::OK, &out))
}

async fn create_group(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ScimApiError> {
    let body = json_body(&req, payload, state.settings.server.max_body_bytes).await?;
    let (_, projection) = list_params(&req)?;
    let r = state
        .store
        .write(move |c| ops::create_group(c, &access.scope(), body))
        .await?;
    Ok(resource_response(
        StatusCode::CREATED,
        &r,
        &projection,
        &schema::GROUP,
    ))
}

async fn get_group(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimApiError> {
    let (_, id) = path.into_inner();
    let (_, projection) = list_params(&req)?;
    let with_members = projection.wants_members();
    let r = state
        .store
        .read(move |c| ops::get_group(c, &access.scope(), &id, with_members))
        .await?;
    if not_modified(&req, r.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((ETAG, ops::etag(r.version)))
            .finish());
    }
    Ok(resource_response(
        StatusCode::OK,
        &r,
        &projection,
        &schema::GROUP,
    ))
}

async fn replace_group(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimApiError> {
    let (_, id) = path.into_inner();
    let body = json_body(&req, payload, state.settings.server.max_body_bytes).await?;
    let (_, projection) = list_params(&req)?;
    let pre = if_match(&req);
    let r = state
        .store
        .write(move |c| ops::replace_group(c, &access.scope(), &id, body, &pre))
        .await?;
    Ok(resource_response(
        StatusCode::OK,
        &r,
        &projection,
        &schema::GROUP,
    ))
}

/// Group PATCH answers 204: the member list is never rebuilt or returned
/// (RFC 7644 §3.5.2 allows 204). `ETag` carries the new version.
async fn patch_group(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimApiError> {
    let (_, id) = path.into_inner();
    let body = json_body(&req, payload, state.settings.server.max_body_bytes).await?;
    let (_, projection) = list_params(&req)?;
    let pre = if_match(&req);
    let wants_body = !projection.attributes.is_empty();
    let r = state
        .store
        .write(move |c| ops::patch_group(c, &access.scope(), &id, &body, &pre))
        .await?;
    if wants_body {
        return Ok(resource_response(
            StatusCode::OK,
            &r,
            &projection,
            &schema::GROUP,
        ));
    }
    Ok(HttpResponse::NoContent()
        .insert_header((ETAG, ops::etag(r.version)))
        .insert_header((LOCATION, r.location))
        .finish())
}

async fn delete_group(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimApiError> {
    let (_, id) = path.into_inner();
    let pre = if_match(&req);
    state
        .store
        .write(move |c| ops::delete_group(c, &access.scope(), &id, &pre))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ------------------------------------------------------------------ bulk

async fn bulk_endpoint(
    state: web::Data<AppState>,
    access: DirectoryAccess,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ScimApiError> {
    let limit = state.settings.scim.bulk_max_payload_bytes;
    let body = json_body(&req, payload, limit).await.map_err(|e| match e {
        ScimApiError::PayloadTooLarge(_) => ScimApiError::PayloadTooLarge(format!(
            "the Bulk request exceeds maxPayloadSize ({limit} bytes)"
        )),
        other => other,
    })?;
    let max_ops = state.settings.scim.bulk_max_operations;
    let out = state
        .store
        // Each operation commits by itself (RFC 7644 §3.7).
        .write_committing_itself(move |c| bulk::run(c, &access.scope(), &body, max_ops))
        .await?;
    Ok(scim_json(StatusCode::OK, &out))
}

/// Who made a SCIM write, kept aside so a refused write can be recorded.
struct Refusal {
    ctx: crate::service::Ctx,
    org: crate::domain::OrgId,
    directory: crate::domain::DirectoryId,
}

impl Refusal {
    fn of(access: &DirectoryAccess) -> Refusal {
        Refusal {
            ctx: access.ctx.clone(),
            org: access.org.id.clone(),
            directory: access.directory.id.clone(),
        }
    }
}

/// A write beyond the directory's ceiling, or toward an owner, is refused
/// and its transaction rolled back; the refusal itself is recorded in the
/// audit log in a transaction of its own.
async fn record_refusal<T>(
    state: &AppState,
    who: Refusal,
    r: Result<T, ScimApiError>,
) -> Result<T, ScimApiError> {
    if let Err(e @ ScimApiError::Refused { .. }) = &r {
        let event = ops::refusal_event(&who.ctx, &who.org, &who.directory, e);
        let written = state
            .store
            .write(move |c| crate::store::audit::insert(c, &[event]).map_err(ScimApiError::from))
            .await;
        if let Err(w) = written {
            tracing::warn!(error = %w, "could not record a refused SCIM write");
        }
    }
    r
}
