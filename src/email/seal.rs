//! Outbox bodies at rest: ChaCha20-Poly1305 under the key from configuration
//! (`email.outbox_key`), a random nonce per message, the outbox row id as
//! associated data (a body copied onto another row does not open).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

use crate::configuration::OutboxKey;

const NONCE_LEN: usize = 12;

/// `nonce || ciphertext` of `plain`, bound to `row_id`.
pub fn seal(key: &OutboxKey, row_id: &str, plain: &[u8]) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key.bytes()));
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: row_id.as_bytes(),
            },
        )
        .expect("ChaCha20-Poly1305 encryption does not fail for in-memory buffers");
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

/// The plain bytes, or `None` when the key is not the one that sealed them
/// (or the body was altered).
pub fn open(key: &OutboxKey, row_id: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    ChaCha20Poly1305::new(Key::from_slice(key.bytes()))
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: row_id.as_bytes(),
            },
        )
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bodies_open_only_with_their_key_and_row() {
        let key = OutboxKey::from_secret(&"k".repeat(40));
        let sealed = seal(&key, "row-1", b"Subject: hi\r\n\r\nbody");
        assert!(!sealed.windows(4).any(|w| w == b"body"), "stored encrypted");
        assert_eq!(
            open(&key, "row-1", &sealed).as_deref(),
            Some(&b"Subject: hi\r\n\r\nbody"[..])
        );
        assert!(open(&key, "row-2", &sealed).is_none());
        let other = OutboxKey::from_secret(&"x".repeat(40));
        assert!(open(&other, "row-1", &sealed).is_none());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(open(&key, "row-1", &tampered).is_none());
        assert!(open(&key, "row-1", b"short").is_none());
    }
}
