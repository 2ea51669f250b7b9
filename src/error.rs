//! The one place errors become HTTP responses.
//!
//! Error policy: every layer has one error type — `domain::ValidationError`,
//! `store::StoreError`, and [`AppError`] for the operations the API and CLI
//! share. Handlers return `AppError`; this module maps it to a status and a JSON
//! body `{"error": {"code", "message"}}` with a stable `code`. Client mistakes
//! are always 4xx; a 5xx means rollcall or its database failed, and is logged
//! here (with the request id carried by the span) — the client gets no internals.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::ValidationError;
use crate::store::{StoreError, UniqueField};

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or a value is not acceptable.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// `If-Match` named a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Well-formed but not acceptable in this state (an `Idempotency-Key`
    /// reused with another body).
    #[error("{0}")]
    Unprocessable(String),
    /// The body is not in a media type the endpoint reads (RFC 9110 §15.5.16).
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unavailable(String),
    /// A service rollcall depends on (DNS, an IdP) failed.
    #[error("{0}")]
    BadGateway(String),
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code: "invalid_request",
            message: message.into(),
        }
    }

    pub fn not_found(what: &str, key: &str) -> Self {
        AppError::NotFound(format!("{what} `{key}` not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        AppError::Conflict {
            code: "conflict",
            message: message.into(),
        }
    }

    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. } | AppError::Conflict { code, .. } => code,
            AppError::Unauthenticated(_) => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::PreconditionFailed(_) => "precondition_failed",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::Unprocessable(_) => "unprocessable",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::Unavailable(_) => "unavailable",
            AppError::BadGateway(_) => "bad_gateway",
            AppError::Internal(_) => "internal",
        }
    }
}

impl From<ValidationError> for AppError {
    fn from(e: ValidationError) -> Self {
        AppError::BadRequest {
            code: "invalid_value",
            message: e.to_string(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("not found".to_owned()),
            StoreError::Unique(field) => AppError::Conflict {
                code: "already_exists",
                message: match field {
                    UniqueField::UserName => "a user with this userName already exists".to_owned(),
                    UniqueField::Email => "a user with this email already exists".to_owned(),
                    UniqueField::ExternalId => "this externalId is already in use".to_owned(),
                    UniqueField::DisplayName => {
                        "a group with this displayName already exists".to_owned()
                    }
                    UniqueField::Slug => "this slug is already taken".to_owned(),
                    UniqueField::Name => "this name is already taken".to_owned(),
                    UniqueField::Subject => "this identity is already linked".to_owned(),
                    UniqueField::Other(_) => "already exists".to_owned(),
                },
            },
            StoreError::VersionConflict => AppError::Conflict {
                code: "version_conflict",
                message: "the record was changed by someone else; read it again and retry"
                    .to_owned(),
            },
            StoreError::ForeignKey(_) => AppError::Conflict {
                code: "reference_missing",
                message: "a referenced record does not exist (or was just removed)".to_owned(),
            },
            StoreError::Busy(m) => {
                AppError::Unavailable(format!("the database is busy, retry: {m}"))
            }
            StoreError::Unavailable(m) => {
                AppError::Unavailable(format!("the database is unavailable: {m}"))
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        StoreError::from(e).into()
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`, `already_exists`.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

impl AppError {
    /// What the client may see: the message of a client error; for a
    /// server-side failure a fixed text (the details are logged here, with
    /// the request id of the span).
    fn client_message(&self) -> String {
        if self.status_code().is_server_error() {
            tracing::error!(error = %self, "request failed");
            match self {
                AppError::Unavailable(_) => {
                    "the service is temporarily unavailable; retry shortly".to_owned()
                }
                // The upstream's answer is the client's to know (never a secret).
                AppError::BadGateway(m) => m.clone(),
                _ => "internal error; see the server log for this request id".to_owned(),
            }
        } else {
            self.to_string()
        }
    }
}

/// One failed item of a batch answer, in the shape of an error body; never
/// carries internal error text.
pub fn item_error(e: &AppError) -> serde_json::Value {
    serde_json::json!({"error": {"code": e.code(), "message": e.client_message()}})
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = self.client_message();
        let mut builder = HttpResponse::build(status);
        match self {
            AppError::Unauthenticated(_) => {
                builder.insert_header(("WWW-Authenticate", "Bearer realm=\"rollcall\""));
            }
            AppError::Unavailable(_) => {
                builder.insert_header(("Retry-After", "1"));
            }
            _ => {}
        }
        builder.json(ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message,
            },
        })
    }
}

/// Turn actix's extractor errors (bad JSON, bad query, too large) into ours, so
/// they get the same body shape and never a 500.
pub fn json_error_handler(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let app = match &err {
        E::Overflow { limit } | E::OverflowKnownLength { limit, .. } => {
            AppError::PayloadTooLarge(format!("the request body exceeds {limit} bytes"))
        }
        E::ContentType => {
            AppError::UnsupportedMediaType("send the body as application/json".to_owned())
        }
        // serde's messages quote the offending value: keep them short.
        E::Deserialize(e) => AppError::BadRequest {
            code: "invalid_json",
            message: format!("the request body is not valid: {}", clip(&e.to_string())),
        },
        other => AppError::BadRequest {
            code: "invalid_json",
            message: format!(
                "the request body could not be read: {}",
                clip(&other.to_string())
            ),
        },
    };
    app.into()
}

/// At most 300 characters of a message built from client input.
fn clip(message: &str) -> String {
    match message.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

pub fn query_error_handler(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    AppError::BadRequest {
        code: "invalid_query",
        message: format!("invalid query parameters: {err}"),
    }
    .into()
}

pub fn path_error_handler(
    err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    AppError::BadRequest {
        code: "invalid_path",
        message: format!("invalid path: {err}"),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_of(e: AppError) -> (StatusCode, serde_json::Value) {
        let resp = e.error_response();
        let status = resp.status();
        let bytes = resp.into_body().try_into_bytes().unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn each_arm_maps_to_its_status_and_code() {
        let cases = [
            (AppError::bad_request("x"), 400, "invalid_request"),
            (
                AppError::Unauthenticated("x".into()),
                401,
                "unauthenticated",
            ),
            (AppError::Forbidden("x".into()), 403, "forbidden"),
            (AppError::not_found("user", "u"), 404, "not_found"),
            (AppError::conflict("x"), 409, "conflict"),
            (
                AppError::PreconditionFailed("x".into()),
                412,
                "precondition_failed",
            ),
            (
                AppError::PayloadTooLarge("x".into()),
                413,
                "payload_too_large",
            ),
            (
                AppError::UnsupportedMediaType("x".into()),
                415,
                "unsupported_media_type",
            ),
            (AppError::Unavailable("x".into()), 503, "unavailable"),
            (AppError::Internal("secret detail".into()), 500, "internal"),
        ];
        for (err, status, code) in cases {
            let (s, body) = body_of(err);
            assert_eq!(s.as_u16(), status);
            assert_eq!(body["error"]["code"], code);
        }
    }

    #[test]
    fn internals_are_not_shown_to_clients() {
        let (_, body) = body_of(AppError::Internal("password=hunter2".into()));
        assert!(!body.to_string().contains("hunter2"));
    }

    #[test]
    fn store_errors_map_to_client_errors() {
        let e: AppError = StoreError::Unique(UniqueField::UserName).into();
        assert_eq!(e.status_code(), StatusCode::CONFLICT);
        let e: AppError = StoreError::VersionConflict.into();
        assert_eq!(e.status_code(), StatusCode::CONFLICT);
        let e: AppError = StoreError::Busy("locked".into()).into();
        assert_eq!(e.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        let e: AppError = StoreError::NotFound.into();
        assert_eq!(e.status_code(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn unauthenticated_asks_for_a_bearer_token() {
        let resp = AppError::Unauthenticated("no".into()).error_response();
        assert!(resp.headers().get("www-authenticate").is_some());
    }
}

// ------------------------------------------------------------------ SCIM

use crate::scim::{ScimError, ScimType};

/// An error of the SCIM interface, rendered as RFC 7644 §3.12
/// (`{"schemas": [Error], "status": "400", "scimType": …, "detail": …}`,
/// `application/scim+json`). Client mistakes are 4xx with the right scimType.
#[derive(Debug, thiserror::Error)]
pub enum ScimApiError {
    #[error("{1}")]
    BadRequest(ScimType, String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// A write the directory may not make (beyond its ceiling: 400
    /// `invalidValue`; toward an owner: 403). Recorded in the audit log
    /// after the refused transaction rolled back.
    #[error("{message}")]
    Refused { forbidden: bool, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409 `uniqueness`.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests for this directory")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ScimApiError {
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        ScimApiError::BadRequest(ScimType::InvalidValue, detail.into())
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        ScimApiError::BadRequest(ScimType::InvalidSyntax, detail.into())
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        ScimApiError::BadRequest(ScimType::Mutability, detail.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ScimApiError::BadRequest(..) => StatusCode::BAD_REQUEST,
            ScimApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ScimApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ScimApiError::Refused {
                forbidden: true, ..
            } => StatusCode::FORBIDDEN,
            ScimApiError::Refused { .. } => StatusCode::BAD_REQUEST,
            ScimApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ScimApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ScimApiError::Conflict(_) => StatusCode::CONFLICT,
            ScimApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ScimApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ScimApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ScimApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ScimApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ScimApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn scim_type(&self) -> Option<ScimType> {
        match self {
            ScimApiError::BadRequest(t, _) => Some(*t),
            ScimApiError::Refused {
                forbidden: false, ..
            } => Some(ScimType::InvalidValue),
            ScimApiError::Conflict(_) => Some(ScimType::Uniqueness),
            _ => None,
        }
    }

    /// The RFC 7644 §3.12 body (used directly by Bulk responses too).
    pub fn body(&self) -> serde_json::Value {
        let status = self.status();
        let detail = if status.is_server_error() {
            tracing::error!(error = %self, "SCIM request failed");
            "the service failed; see the server log for this request id".to_owned()
        } else {
            self.to_string()
        };
        let mut body = serde_json::json!({
            "schemas": [crate::scim::urn::ERROR],
            "status": status.as_u16().to_string(),
            "detail": detail,
        });
        if let Some(t) = self.scim_type() {
            body["scimType"] = serde_json::json!(t.as_str());
        }
        body
    }
}

impl From<ScimError> for ScimApiError {
    fn from(e: ScimError) -> Self {
        match e.scim_type {
            ScimType::Uniqueness => ScimApiError::Conflict(e.detail),
            t => ScimApiError::BadRequest(t, e.detail),
        }
    }
}

impl From<crate::store::scim::FilterUnsupported> for ScimApiError {
    fn from(e: crate::store::scim::FilterUnsupported) -> Self {
        ScimApiError::BadRequest(ScimType::InvalidFilter, e.0)
    }
}

impl From<crate::store::scim::ListError> for ScimApiError {
    fn from(e: crate::store::scim::ListError) -> Self {
        match e {
            crate::store::scim::ListError::Filter(f) => f.into(),
            crate::store::scim::ListError::Store(s) => s.into(),
        }
    }
}

impl From<StoreError> for ScimApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ScimApiError::NotFound("resource not found".to_owned()),
            StoreError::Unique(field) => ScimApiError::Conflict(match field {
                UniqueField::UserName => {
                    "userName is already in use (compared case-insensitively)".to_owned()
                }
                UniqueField::Email => {
                    "a user with this email already exists in the organization".to_owned()
                }
                UniqueField::ExternalId => {
                    "externalId is already in use in this directory".to_owned()
                }
                UniqueField::DisplayName => {
                    "displayName is already in use in this directory".to_owned()
                }
                UniqueField::Slug | UniqueField::Name => "this name is already taken".to_owned(),
                UniqueField::Subject => "this identity is already linked".to_owned(),
                // Never the raw constraint name of the database.
                UniqueField::Other(_) => "a resource with these values already exists".to_owned(),
            }),
            StoreError::VersionConflict => ScimApiError::PreconditionFailed(
                "the resource was changed concurrently; read it again".to_owned(),
            ),
            StoreError::Busy(m) | StoreError::Unavailable(m) => ScimApiError::Unavailable(m),
            other => ScimApiError::Internal(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for ScimApiError {
    fn from(e: diesel::result::Error) -> Self {
        StoreError::from(e).into()
    }
}

/// Errors of the shared services (role sources, access) seen from SCIM.
impl From<AppError> for ScimApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::BadRequest { message, .. } => ScimApiError::invalid_value(message),
            AppError::Conflict {
                code: "last_owner",
                message,
            } => ScimApiError::mutability(message),
            AppError::Conflict { message, .. } => ScimApiError::Conflict(message),
            AppError::Unauthenticated(m) => ScimApiError::Unauthorized(m),
            AppError::Forbidden(m) => ScimApiError::Forbidden(m),
            AppError::NotFound(m) => ScimApiError::NotFound(m),
            AppError::PreconditionFailed(m) => ScimApiError::PreconditionFailed(m),
            AppError::PayloadTooLarge(m) => ScimApiError::PayloadTooLarge(m),
            AppError::Unprocessable(m) => ScimApiError::invalid_value(m),
            AppError::UnsupportedMediaType(m) => ScimApiError::UnsupportedMediaType(m),
            AppError::Unavailable(m) | AppError::BadGateway(m) => ScimApiError::Unavailable(m),
            AppError::Internal(m) => ScimApiError::Internal(m),
        }
    }
}

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

impl ResponseError for ScimApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status());
        builder.content_type(SCIM_CONTENT_TYPE);
        match self {
            ScimApiError::Unauthorized(_) => {
                builder.insert_header(("WWW-Authenticate", "Bearer realm=\"rollcall-scim\""));
            }
            ScimApiError::TooManyRequests { retry_after_secs } => {
                builder.insert_header(("Retry-After", retry_after_secs.to_string()));
            }
            ScimApiError::Unavailable(_) => {
                builder.insert_header(("Retry-After", "1"));
            }
            _ => {}
        }
        builder.body(self.body().to_string())
    }
}

#[cfg(test)]
mod scim_tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn scim_errors_have_the_rfc_shape() {
        let cases = [
            (ScimApiError::invalid_value("x"), 400, Some("invalidValue")),
            (
                ScimApiError::BadRequest(ScimType::InvalidFilter, "f".into()),
                400,
                Some("invalidFilter"),
            ),
            (
                ScimApiError::Conflict("dup".into()),
                409,
                Some("uniqueness"),
            ),
            (ScimApiError::NotFound("n".into()), 404, None),
            (ScimApiError::Unauthorized("u".into()), 401, None),
            (ScimApiError::PreconditionFailed("p".into()), 412, None),
            (ScimApiError::PayloadTooLarge("big".into()), 413, None),
            (
                ScimApiError::TooManyRequests {
                    retry_after_secs: 2,
                },
                429,
                None,
            ),
            (ScimApiError::MethodNotAllowed("m".into()), 405, None),
            (ScimApiError::Internal("secret".into()), 500, None),
        ];
        for (e, status, scim_type) in cases {
            let resp = e.error_response();
            assert_eq!(resp.status().as_u16(), status);
            assert_eq!(
                resp.headers().get("content-type").unwrap(),
                SCIM_CONTENT_TYPE
            );
            let retry = resp.headers().get("retry-after").cloned();
            let www = resp.headers().get("www-authenticate").cloned();
            let body: serde_json::Value =
                serde_json::from_slice(&resp.into_body().try_into_bytes().unwrap()).unwrap();
            assert_eq!(body["status"], status.to_string(), "status is a string");
            assert_eq!(body["schemas"][0], crate::scim::urn::ERROR);
            assert_eq!(body["scimType"].as_str(), scim_type);
            assert!(!body.to_string().contains("secret"));
            if status == 429 {
                assert_eq!(retry.unwrap(), "2");
            }
            if status == 401 {
                assert!(www.is_some());
            }
        }
    }

    #[test]
    fn an_unavailable_database_is_503_with_retry_after_on_both_interfaces() {
        let lost = || StoreError::Unavailable("terminating connection".into());
        let scim = ScimApiError::from(lost()).error_response();
        assert_eq!(scim.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(scim.headers().get("retry-after").unwrap(), "1");
        let api = AppError::from(lost()).error_response();
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(api.headers().get("retry-after").unwrap(), "1");
    }

    #[test]
    fn last_owner_becomes_mutability() {
        let e: ScimApiError = AppError::Conflict {
            code: "last_owner",
            message: "m".into(),
        }
        .into();
        assert_eq!(e.scim_type(), Some(ScimType::Mutability));
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }
}
