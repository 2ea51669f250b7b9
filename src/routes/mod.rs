//! Thin actix handlers grouped by interface: `api/` (admin REST API),
//! `health` (probes). Each handler extracts, calls a `service` function inside
//! one store call, and maps the result; errors go through `crate::error`.

pub mod api;
pub mod health;
