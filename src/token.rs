//! Bearer tokens: `{prefix}_{id}_{secret}`.
//!
//! The id (32 hex digits) finds the record; the secret (32 random bytes, hex)
//! proves possession. Only the SHA-256 of the secret is stored, and it is
//! compared in constant time. A prefix per kind (`rk` admin API keys, `rs`
//! SCIM tokens, `ri` invite links, `rss` sessions, `rl` sign-in links) lets
//! secret scanners recognise leaked tokens.

/// Prefix of admin API keys.
pub const API_KEY_PREFIX: &str = "rk";
/// Prefix of SCIM directory tokens.
pub const SCIM_TOKEN_PREFIX: &str = "rs";
/// Prefix of invite links (one token per invite message).
pub const INVITE_PREFIX: &str = "ri";
/// Prefix of browser session cookies.
pub const SESSION_PREFIX: &str = "rss";
/// Prefix of emailed one-time sign-in links.
pub const LOGIN_LINK_PREFIX: &str = "rl";

use rand::RngCore;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A freshly minted token: give `token` to the user once, store `hash`.
pub struct Issued {
    /// The record id (a UUIDv7 in simple form inside the token).
    pub id: uuid::Uuid,
    pub token: SecretString,
    pub hash: String,
}

pub fn issue(prefix: &str) -> Issued {
    let id = uuid::Uuid::now_v7();
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = hex::encode(secret);
    Issued {
        id,
        token: SecretString::from(format!("{prefix}_{}_{secret}", id.simple())),
        hash: hash_secret(&secret),
    }
}

/// Split a presented token into its id and secret; `None` if it is not ours.
pub fn parse<'a>(prefix: &str, token: &'a str) -> Option<(uuid::Uuid, &'a str)> {
    let rest = token.strip_prefix(prefix)?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 32 || secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = uuid::Uuid::try_parse(id).ok()?;
    Some((id, secret))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn verify(secret: &str, stored_hash: &str) -> bool {
    let computed = hash_secret(secret);
    computed.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn issued_tokens_verify_and_others_do_not() {
        let issued = issue("rk");
        let token = issued.token.expose_secret();
        let (id, secret) = parse("rk", token).unwrap();
        assert_eq!(id, issued.id);
        assert!(verify(secret, &issued.hash));
        let other = issue("rk");
        let (_, other_secret) = parse("rk", other.token.expose_secret()).unwrap();
        assert!(!verify(other_secret, &issued.hash));
        assert!(!issued.hash.contains(secret), "only the hash is kept");
    }

    #[test]
    fn foreign_or_mangled_tokens_are_refused() {
        let issued = issue("rk");
        let token = issued.token.expose_secret();
        assert!(parse("rs", token).is_none());
        assert!(parse("rk", &token[..token.len() - 1]).is_none());
        assert!(parse("rk", "rk_x_y").is_none());
        assert!(parse("rk", "").is_none());
    }
}
