//! Single sign-on verification cores: rollcall as a SAML 2.0 service provider
//! ([`saml`]) and as an OpenID Connect relying party ([`oidc`]).
//!
//! This layer owns the protocol checks only — no routes, no tables. The
//! caller (the SSO routes) keeps the pre-login record (state, nonce, PKCE
//! verifier or SAML request id), implements the assertion replay cache with
//! the database, and turns a verified identity into a provisioning decision.
//!
//! Specifications: SAML 2.0 Core, Bindings (HTTP-Redirect, HTTP-POST) and
//! Profiles (Web Browser SSO, §4.1); the OWASP SAML Security Cheat Sheet for
//! signature-wrapping defences; OpenID Connect Core 1.0 and Discovery 1.0;
//! RFC 7636 (PKCE); RFC 9207 (authorization server issuer identification).

pub mod connection;
pub mod oidc;
pub mod saml;
