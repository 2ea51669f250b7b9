//! Thin actix handlers grouped by interface: `api/` (admin REST API),
//! `scim` (SCIM 2.0 service provider), `health` (probes). Each handler extracts, calls a `service` function inside
//! one store call, and maps the result; errors go through `crate::error`.

pub mod api;
pub mod health;
pub mod pages;
pub mod scim;
