//! Logging (tracing, text or JSON to stderr), request ids, and the blocking
//! bridge that keeps a request's span on diesel's blocking threads.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::configuration::LogFormat;

/// Install the global subscriber. `RUST_LOG` wins over the configured level.
/// Logs go to stderr so command output on stdout stays clean.
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(use_colour(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Colour codes only for a person at a terminal: a file, pipe or journal
/// would store them as noise. `NO_COLOR` (any non-empty value, see
/// no-color.org) turns them off on a terminal too.
fn use_colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// `tokio::task::spawn_blocking` that runs `f` inside the caller's span.
pub fn spawn_blocking_in_span<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being served, in request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Accept a caller's request id when it is short and plain; otherwise mint one.
fn request_id_from(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// The path as logged: link tokens (`/invite/{token}`, emailed sign-in
/// links) are replaced by `…`, so a token never reaches the logs.
pub fn redact_path(path: &str) -> std::borrow::Cow<'_, str> {
    if let Some(rest) = path.strip_prefix("/invite/") {
        let tail = rest.find('/').map_or("", |i| &rest[i..]);
        return format!("/invite/…{tail}").into();
    }
    if let Some(at) = path.find("/login/email/") {
        let head = &path[..at + "/login/email/".len()];
        return format!("{head}…").into();
    }
    path.into()
}

/// Middleware: a request id (echoed in `x-request-id`), a span carrying it,
/// and one log line per request with status and latency. Query strings are not
/// logged (they may carry filters with personal data).
pub async fn request_telemetry(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = request_id_from(&req);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let span = tracing::info_span!(
        "http",
        request_id = %request_id,
        method = %req.method(),
        path = %redact_path(req.path()),
    );
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _enter = span.enter();
    match result {
        Ok(mut res) => {
            let status = res.status().as_u16();
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                res.headers_mut()
                    .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
            }
            if status >= 500 {
                tracing::warn!(status, elapsed_ms, "request served");
            } else {
                tracing::info!(status, elapsed_ms, "request served");
            }
            Ok(res)
        }
        Err(e) => {
            tracing::warn!(error = %e, elapsed_ms, "request failed");
            Err(e)
        }
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::redact_path;

    #[test]
    fn link_tokens_never_reach_the_log() {
        assert_eq!(redact_path("/invite/ri_abc_def"), "/invite/…");
        assert_eq!(
            redact_path("/o/acme/login/email/rl_x_y"),
            "/o/acme/login/email/…"
        );
        assert_eq!(redact_path("/o/acme/login/email"), "/o/acme/login/email");
        assert_eq!(
            redact_path("/api/v1/orgs/acme/invites"),
            "/api/v1/orgs/acme/invites"
        );
    }
}
