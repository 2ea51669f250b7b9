//! Thin actix handlers grouped by interface: `api/` (admin REST API),
//! `scim` (SCIM 2.0 service provider), `health` (probes). Each handler extracts, calls a `service` function inside
//! one store call, and maps the result; errors go through `crate::error`.

pub mod api;
pub mod health;
pub mod pages;
pub mod scim;

/// The gateway's external base URL without a trailing slash: the configured
/// `server.public_url`, else the scheme and host the request arrived with.
pub fn public_base(state: &crate::state::AppState, req: &actix_web::HttpRequest) -> String {
    match &state.settings.server.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}
