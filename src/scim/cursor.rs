//! Cursors of RFC 9865 cursor-based pagination: opaque, tamper-evident
//! keyset positions.
//!
//! A cursor names a position in a walk ordered by `(meta.created, id)` —
//! both immutable, so a walk under concurrent creates and deletes returns
//! every resource that existed throughout exactly once — and says whether
//! the page asked for lies after it (`nextCursor`) or before it
//! (`previousCursor`). It carries when it was issued (for `cursorTimeout`)
//! and an HMAC-SHA256 over all of that and the query's *context* (endpoint,
//! directory, filter, sort), so a cursor cannot be forged, edited, or
//! replayed against another query or directory. The text is lower-case hex,
//! inside RFC 3986's unreserved set as RFC 9865 §2 requires.
//!
//! Pure: the key, the clock and the context come from the caller.

use hmac::{Hmac, Mac};
use sha2::Sha256;

const VERSION: u8 = 1;
/// Bytes of the MAC kept (128 bits).
const MAC_LEN: usize = 16;
/// A cursor claiming to be issued further in the future than this is forged.
const CLOCK_SKEW_SECS: i64 = 300;
/// Longest resource id accepted in a cursor.
const MAX_ID_LEN: usize = 128;

/// The resource table a position is in (the root `/.search` walks Users,
/// then Groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Users,
    Groups,
}

/// A resource's place in the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub kind: Kind,
    /// `meta.created` in microseconds since the Unix epoch.
    pub created_micros: i64,
    pub id: String,
}

/// Which page a cursor asks for, relative to its position (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    After(Position),
    Before(Position),
}

/// Why a cursor was refused (`400 invalidCursor` / `400 expiredCursor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorError {
    Invalid,
    Expired,
}

fn mac(key: &[u8; 32], payload: &[u8], context: &str) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(&(payload.len() as u32).to_be_bytes());
    m.update(payload);
    m.update(context.as_bytes());
    m
}

/// The cursor's text, issued at `now` (Unix seconds) for `context`.
pub fn encode(key: &[u8; 32], context: &str, cursor: &Cursor, now: i64) -> String {
    let (before, p) = match cursor {
        Cursor::After(p) => (0u8, p),
        Cursor::Before(p) => (1u8, p),
    };
    let mut payload = Vec::with_capacity(19 + p.id.len() + MAC_LEN);
    payload.push(VERSION);
    payload.push(before);
    payload.push(match p.kind {
        Kind::Users => 0,
        Kind::Groups => 1,
    });
    payload.extend_from_slice(&now.to_be_bytes());
    payload.extend_from_slice(&p.created_micros.to_be_bytes());
    payload.extend_from_slice(p.id.as_bytes());
    let tag = mac(key, &payload, context).finalize().into_bytes();
    payload.extend_from_slice(&tag[..MAC_LEN]);
    hex::encode(payload)
}

/// Reads a cursor issued for `context`; `now` in Unix seconds.
pub fn decode(
    key: &[u8; 32],
    context: &str,
    text: &str,
    now: i64,
    timeout_secs: u64,
) -> Result<Cursor, CursorError> {
    if text.len() > 2 * (19 + MAX_ID_LEN + MAC_LEN) {
        return Err(CursorError::Invalid);
    }
    let bytes = hex::decode(text).map_err(|_| CursorError::Invalid)?;
    if bytes.len() < 19 + 1 + MAC_LEN {
        return Err(CursorError::Invalid);
    }
    let (payload, tag) = bytes.split_at(bytes.len() - MAC_LEN);
    // Checked first and in constant time: nothing below runs on forged input.
    mac(key, payload, context)
        .verify_truncated_left(tag)
        .map_err(|_| CursorError::Invalid)?;
    if payload[0] != VERSION {
        return Err(CursorError::Invalid);
    }
    let kind = match payload[2] {
        0 => Kind::Users,
        1 => Kind::Groups,
        _ => return Err(CursorError::Invalid),
    };
    let int = |at: usize| i64::from_be_bytes(payload[at..at + 8].try_into().expect("8 bytes"));
    let issued = int(3);
    let created_micros = int(11);
    let id = std::str::from_utf8(&payload[19..])
        .map_err(|_| CursorError::Invalid)?
        .to_owned();
    if issued > now.saturating_add(CLOCK_SKEW_SECS) {
        return Err(CursorError::Invalid);
    }
    if now.saturating_sub(issued) > i64::try_from(timeout_secs).unwrap_or(i64::MAX) {
        return Err(CursorError::Expired);
    }
    let position = Position {
        kind,
        created_micros,
        id,
    };
    match payload[1] {
        0 => Ok(Cursor::After(position)),
        1 => Ok(Cursor::Before(position)),
        _ => Err(CursorError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn position() -> Position {
        Position {
            kind: Kind::Groups,
            created_micros: 1_764_590_000_123_456,
            id: "01a23145-5cfd-7742-924c-976d5c8e908f".into(),
        }
    }

    #[test]
    fn round_trips_within_the_timeout() {
        for c in [Cursor::After(position()), Cursor::Before(position())] {
            let text = encode(&KEY, "ctx", &c, 1000);
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert_eq!(decode(&KEY, "ctx", &text, 1000, 60), Ok(c.clone()));
            assert_eq!(decode(&KEY, "ctx", &text, 1060, 60), Ok(c));
        }
    }

    #[test]
    fn expires_after_the_timeout() {
        let text = encode(&KEY, "ctx", &Cursor::After(position()), 1000);
        assert_eq!(
            decode(&KEY, "ctx", &text, 1061, 60),
            Err(CursorError::Expired)
        );
        // Issued "in the future": forged or from a badly wrong clock.
        assert_eq!(
            decode(&KEY, "ctx", &text, 1000 - CLOCK_SKEW_SECS - 1, 60),
            Err(CursorError::Invalid)
        );
    }

    #[test]
    fn another_key_context_or_any_edit_is_invalid() {
        let text = encode(&KEY, "ctx", &Cursor::After(position()), 1000);
        assert_eq!(
            decode(&[8; 32], "ctx", &text, 1000, 60),
            Err(CursorError::Invalid)
        );
        assert_eq!(
            decode(&KEY, "other filter", &text, 1000, 60),
            Err(CursorError::Invalid)
        );
        let mut bytes = hex::decode(&text).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            assert_eq!(
                decode(&KEY, "ctx", &hex::encode(&bytes), 1000, 60),
                Err(CursorError::Invalid),
                "byte {i} flipped"
            );
            bytes[i] ^= 1;
        }
        for garbage in ["", "zz", "00", &"ab".repeat(400), &text[..text.len() - 2]] {
            assert_eq!(
                decode(&KEY, "ctx", garbage, 1000, 60),
                Err(CursorError::Invalid),
                "{garbage}"
            );
        }
    }
}
