//! rollcall: an identity provisioning gateway. SCIM 2.0 pushes, SSO sign-in,
//! roles and workspace access, invite emails — in one binary over PostgreSQL
//! or an embedded SQLite file.
//!
//! Layers, outside in: `routes` (thin actix handlers) → `service` (operations
//! shared with the CLI: authorise, validate, write with audit in one
//! transaction) → `store` (diesel over both backends) and `domain` (pure rules
//! and newtypes). `error` maps every failure to HTTP in one place.

pub mod auth;
pub mod configuration;
pub mod dns;
pub mod domain;
pub mod email;
pub mod error;
pub mod jobs;
pub mod routes;
pub mod scim;
pub mod service;
pub mod sso;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod token;
