//! The one integration test binary (one link of the dependency tree): the
//! storage conformance suite on both backends, the HTTP API against the real
//! server on port 0, and the CLI binary.

mod support;

mod api_authz;
mod api_escalation;
mod api_foundation;
mod api_lists;
mod api_scim;
mod cache_invalidation;
mod cli;
mod cli_invite;
mod domains;
mod idp_connections;
mod input_hardening;
mod invites;
mod invites_bulk;
mod races;
mod scim_cursor;
mod scim_listing;
mod scim_replay;
mod seed_rules;
mod sessions;
mod shutdown;
mod sso_claims;
mod sso_login;
mod store_conformance;
mod store_resilience;
mod workspace_tree;
