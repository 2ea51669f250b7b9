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

#[derive(Debug, thiserror::Error)]
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
    #[error("{0}")]
    Unavailable(String),
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
            AppError::Unavailable(_) => "unavailable",
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
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            match self {
                AppError::Unavailable(_) => {
                    "the service is temporarily unavailable; retry shortly".to_owned()
                }
                _ => "internal error; see the server log for this request id".to_owned(),
            }
        } else {
            self.to_string()
        };
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
        E::ContentType => AppError::BadRequest {
            code: "unsupported_media_type",
            message: "send the body as application/json".to_owned(),
        },
        E::Deserialize(e) => AppError::BadRequest {
            code: "invalid_json",
            message: format!("the request body is not valid: {e}"),
        },
        other => AppError::BadRequest {
            code: "invalid_json",
            message: format!("the request body could not be read: {other}"),
        },
    };
    app.into()
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
