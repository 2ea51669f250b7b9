//! JSON helpers the SCIM modules share (a leaf: it imports no other SCIM
//! module, so `filter`, `value` and `error` do not import each other in a
//! circle). SCIM attribute names are case-insensitive (RFC 7643 §2.1), and
//! Entra sends booleans as text.

use serde_json::{Map, Value};

/// The member `key` of an object: exact spelling first, then any casing.
pub(crate) fn get_ci<'a>(node: &'a Value, key: &str) -> Option<&'a Value> {
    node.as_object().and_then(|map| map_get_ci(map, key))
}

pub(crate) fn map_get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// `"True"`/`"false"` as a boolean, as Entra sends them.
pub(crate) fn parse_bool_text(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}
