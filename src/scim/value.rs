//! JSON helpers shared by the PATCH engine and write-side normalisation:
//! case-insensitive member access (RFC 7643 §2.1), type checking and coercion
//! of attribute values against their definition (RFC 7643 §2.3), the
//! equality used to de-duplicate multi-valued attributes, `primary`
//! uniqueness (RFC 7643 §2.4), keeping `schemas` in step with the
//! extension objects present (RFC 7643 §3), and the size limits of a
//! resource ([`check_limits`]: values per multi-valued attribute, characters
//! per text value, bytes of attributes of no schema; RFC 7644 §3.12
//! `invalidValue` beyond them).
//!
//! De-duplication is linear: [`element_key`] maps a value to a key that is
//! equal exactly when [`same_element`] holds, so a set replaces pairwise
//! comparison.
//!
//! Maps are edited with the order-preserving `shift_*` operations so stored
//! documents keep the attribute order clients sent.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::error::ScimError;
use super::json::parse_bool_text;
use super::schema::{
    AttrType, AttributeDef, MAX_UNKNOWN_BYTES, Mutability, ResourceTypeDef, SchemaDef,
};

pub(crate) use super::json::{get_ci, map_get_ci};

/// The spelling under which `key` is stored, if it is (any casing).
pub(crate) fn key_ci(map: &Map<String, Value>, key: &str) -> Option<String> {
    if map.contains_key(key) {
        return Some(key.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// Removes every casing of `key`, returning the first value removed.
pub(crate) fn remove_ci(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let keys: Vec<String> = map
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(key))
        .cloned()
        .collect();
    let mut first = None;
    for k in keys {
        let v = map.shift_remove(&k);
        if first.is_none() {
            first = v;
        }
    }
    first
}

/// Stores `value` under `key`, replacing any other casing of it in place.
pub(crate) fn set_ci(map: &mut Map<String, Value>, key: &str, value: Value) {
    match map.keys().position(|k| k.eq_ignore_ascii_case(key)) {
        Some(index) => {
            remove_ci(map, key);
            map.shift_insert(index.min(map.len()), key.to_owned(), value);
        }
        None => {
            map.insert(key.to_owned(), value);
        }
    }
}

/// A mutable handle on the member `key` (any casing), renamed to `key`.
pub(crate) fn entry_ci<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Value> {
    let existing = key_ci(map, key)?;
    if existing != key {
        let value = remove_ci(map, key).unwrap_or(Value::Null);
        set_ci(map, key, value);
    }
    map.get_mut(key)
}

/// Null, the empty string, and empty arrays and objects all mean
/// "unassigned" (RFC 7643 §2.5).
pub(crate) fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks `value` against `def` and brings it to canonical form: booleans
/// sent as `"True"`/`"False"` become booleans, sub-attribute names take their
/// schema spelling, read-only sub-attributes (which the server maintains) are
/// dropped, a bare string given for a complex attribute that has a `value`
/// sub-attribute becomes `{"value": …}` (Entra's `manager`), and a single
/// value given for a multi-valued attribute becomes a one-element array.
/// Null stays null: the caller decides what unassigning means.
pub(crate) fn coerce(def: &AttributeDef, value: Value, label: &str) -> Result<Value, ScimError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if !def.multi_valued {
        if value.is_array() {
            return Err(ScimError::invalid_value(format!(
                "{label} is single-valued; got an array"
            )));
        }
        return coerce_single(def, value, label);
    }
    let items = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    // Refused before any per-value work, so an oversized list costs little.
    check_value_count(def, items.len(), label)?;
    let mut out = Vec::with_capacity(items.len());
    for item in items.into_iter().filter(|v| !v.is_null()) {
        out.push(coerce_single(def, item, label)?);
    }
    if has_primary(def) && primary_indices(&out).len() > 1 {
        return Err(ScimError::invalid_value(format!(
            "at most one value of {label} may have primary set to true"
        )));
    }
    Ok(Value::Array(out))
}

/// One value of `def` (an element, for a multi-valued attribute).
pub(crate) fn coerce_single(
    def: &AttributeDef,
    value: Value,
    label: &str,
) -> Result<Value, ScimError> {
    let wrong = |expected: &str, got: &Value| {
        Err(ScimError::invalid_value(format!(
            "{label} must be {expected}; got {}",
            kind(got)
        )))
    };
    match def.ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            Value::String(_) => Ok(value),
            other => wrong("a string", &other),
        },
        AttrType::Boolean => match &value {
            Value::Bool(_) => Ok(value),
            Value::String(s) => match parse_bool_text(s) {
                Some(b) => Ok(Value::Bool(b)),
                None => wrong("a boolean (true or false)", &value),
            },
            other => wrong("a boolean (true or false)", other),
        },
        AttrType::Integer => match &value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(value),
            other => wrong("an integer", other),
        },
        AttrType::Decimal => match &value {
            Value::Number(_) => Ok(value),
            other => wrong("a number", other),
        },
        AttrType::DateTime => match &value {
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => Ok(value),
            other => wrong("an RFC 3339 dateTime string", other),
        },
        AttrType::Complex => {
            let object = match value {
                Value::Object(map) => map,
                Value::String(s) if def.sub_attribute("value").is_some() => {
                    let mut map = Map::new();
                    map.insert("value".to_owned(), Value::String(s));
                    map
                }
                other => return wrong("an object", &other),
            };
            let mut out = Map::new();
            for (key, sub_value) in object {
                match def.sub_attribute(&key) {
                    Some(sub) => {
                        if sub.mutability == Mutability::ReadOnly || sub_value.is_null() {
                            continue;
                        }
                        let sub_label = format!("{label}.{}", sub.name);
                        let coerced = coerce(sub, sub_value, &sub_label)?;
                        set_ci(&mut out, sub.name, coerced);
                    }
                    // Sub-attributes of no schema are kept as received.
                    None => {
                        out.insert(key, sub_value);
                    }
                }
            }
            Ok(Value::Object(out))
        }
    }
}

/// The specification [`element_key`] implements (kept as the tests' oracle).
/// Whether two values of a multi-valued attribute denote the same value, so
/// that adding one again updates rather than duplicates it. Complex values
/// with a `value` sub-attribute are the same when `value` and `type` agree
/// (`value` by the sub-attribute's case rule, `type` ignoring case); other
/// values must be equal, strings ignoring case unless `caseExact`.
#[cfg(test)]
pub(crate) fn same_element(def: Option<&AttributeDef>, a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (Value::Object(_), Value::Object(_)) => {
            let (Some(va), Some(vb)) = (get_ci(a, "value"), get_ci(b, "value")) else {
                return false;
            };
            let value_exact = def
                .and_then(|d| d.sub_attribute("value"))
                .is_some_and(|d| d.case_exact);
            let types_agree = match (get_ci(a, "type"), get_ci(b, "type")) {
                (None, None) => true,
                (Some(ta), Some(tb)) => text_eq(ta, tb, false),
                _ => false,
            };
            text_eq(va, vb, value_exact) && types_agree
        }
        _ => text_eq(a, b, def.is_some_and(|d| d.case_exact)),
    }
}

/// What [`same_element`] compares, as a hashable key:
/// `same_element(def, a, b)` ⇔ `element_key(def, a) == element_key(def, b)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ElementKey {
    /// A string, folded unless case-exact.
    Text(String),
    /// Any other JSON, in a canonical spelling (object members sorted).
    Json(String),
    /// A complex value with a `value` sub-attribute: its value and type.
    Valued(Box<ElementKey>, Option<Box<ElementKey>>),
}

pub(crate) fn element_key(def: Option<&AttributeDef>, v: &Value) -> ElementKey {
    if let Value::Object(_) = v {
        let Some(value) = get_ci(v, "value") else {
            return ElementKey::Json(canonical_json(v));
        };
        let value_exact = def
            .and_then(|d| d.sub_attribute("value"))
            .is_some_and(|d| d.case_exact);
        let kind = get_ci(v, "type").map(|t| Box::new(text_key(t, false)));
        return ElementKey::Valued(Box::new(text_key(value, value_exact)), kind);
    }
    text_key(v, def.is_some_and(|d| d.case_exact))
}

fn text_key(v: &Value, case_exact: bool) -> ElementKey {
    match v {
        Value::String(s) if !case_exact => ElementKey::Text(s.to_lowercase()),
        Value::String(s) => ElementKey::Text(s.clone()),
        other => ElementKey::Json(canonical_json(other)),
    }
}

/// JSON text in which equal values (by `Value`'s equality, which ignores
/// member order) are spelt alike.
fn canonical_json(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut members: Vec<(&String, &Value)> = map.iter().collect();
                members.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, v)) in members.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// Drops repeated values (the first one wins), in linear time.
pub(crate) fn dedupe_items(def: Option<&AttributeDef>, items: Vec<Value>) -> Vec<Value> {
    let mut seen: HashSet<ElementKey> = HashSet::with_capacity(items.len());
    items
        .into_iter()
        .filter(|item| seen.insert(element_key(def, item)))
        .collect()
}

#[cfg(test)]
fn text_eq(a: &Value, b: &Value, case_exact: bool) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if !case_exact => x.to_lowercase() == y.to_lowercase(),
        _ => a == b,
    }
}

/// Recursively merges `incoming` into `target`: incoming members win, nulls
/// remove. Used for complex attributes, whose unspecified sub-attributes are
/// left unchanged (RFC 7644 §3.5.2.1, §3.5.2.3).
pub(crate) fn merge_into(target: &mut Map<String, Value>, incoming: Map<String, Value>) {
    for (key, value) in incoming {
        if value.is_null() {
            remove_ci(target, &key);
        } else {
            set_ci(target, &key, value);
        }
    }
}

pub(crate) fn has_primary(def: &AttributeDef) -> bool {
    def.is_complex() && def.sub_attribute("primary").is_some()
}

fn primary_indices(items: &[Value]) -> Vec<usize> {
    items
        .iter()
        .enumerate()
        .filter(|(_, v)| get_ci(v, "primary") == Some(&Value::Bool(true)))
        .map(|(i, _)| i)
        .collect()
}

/// Keeps `primary: true` on one value only: the last one the operation
/// touched, or else the first (RFC 7643 §2.4: "true" appears at most once).
pub(crate) fn enforce_single_primary(items: &mut [Value], touched: &[usize]) {
    let primaries = primary_indices(items);
    if primaries.len() <= 1 {
        return;
    }
    let keep = touched
        .iter()
        .rev()
        .find(|i| primaries.contains(i))
        .copied()
        .unwrap_or(primaries[0]);
    for i in primaries.into_iter().filter(|&i| i != keep) {
        if let Some(map) = items[i].as_object_mut() {
            set_ci(map, "primary", Value::Bool(false));
        }
    }
}

/// Rewrites `schemas` as: the core schema, then each extension of the
/// resource type whose object is present, then any other URN-keyed object
/// (an extension the gateway does not model but keeps).
pub(crate) fn sync_schemas(doc: &mut Map<String, Value>, rt: &ResourceTypeDef) {
    let mut schemas = vec![Value::String(rt.schema.id.to_owned())];
    for ext in rt.extensions {
        if map_get_ci(doc, ext.schema.id).is_some_and(|v| !is_unassigned(v)) {
            schemas.push(Value::String(ext.schema.id.to_owned()));
        }
    }
    for (key, value) in doc.iter() {
        let is_urn = key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
        let modelled = rt.is_core_urn(key) || rt.extension(key).is_some();
        if is_urn && !modelled && value.is_object() {
            schemas.push(Value::String(key.clone()));
        }
    }
    if key_ci(doc, "schemas").is_some() {
        set_ci(doc, "schemas", Value::Array(schemas));
    } else {
        doc.shift_insert(0, "schemas".to_owned(), Value::Array(schemas));
    }
}

fn check_value_count(def: &AttributeDef, count: usize, label: &str) -> Result<(), ScimError> {
    match def.value_limit() {
        Some(max) if count > max => Err(ScimError::invalid_value(format!(
            "{label} may hold at most {max} values; got {count}"
        ))),
        _ => Ok(()),
    }
}

/// Checks the size limits of a resource document as stored (core
/// attributes at the top level, extensions under their URN): values per
/// multi-valued attribute ([`AttributeDef::value_limit`]), characters per
/// text value ([`AttributeDef::text_limit`]), and the bytes that attributes
/// of no schema take in all ([`MAX_UNKNOWN_BYTES`]). Errors name the
/// attribute and the limit; they never echo the value.
pub(crate) fn check_limits(
    doc: &Map<String, Value>,
    rt: &ResourceTypeDef,
) -> Result<(), ScimError> {
    let mut unknown = 0usize;
    for (key, value) in doc {
        if let Some(def) = rt.core_attribute(key) {
            check_attribute(def, value, def.name, &mut unknown)?;
        } else if let Some(schema) = rt.extension(key) {
            check_schema_object(schema, value, &mut unknown)?;
        } else {
            unknown += key.len() + json_size(value);
        }
    }
    if unknown > MAX_UNKNOWN_BYTES {
        return Err(ScimError::invalid_value(format!(
            "attributes of no schema may take at most {MAX_UNKNOWN_BYTES} bytes of JSON in all; got {unknown}"
        )));
    }
    Ok(())
}

fn check_schema_object(
    schema: &SchemaDef,
    value: &Value,
    unknown: &mut usize,
) -> Result<(), ScimError> {
    let Value::Object(fields) = value else {
        *unknown += json_size(value);
        return Ok(());
    };
    for (name, v) in fields {
        match schema.attribute(name) {
            Some(def) => {
                let label = format!("{}:{}", schema.id, def.name);
                check_attribute(def, v, &label, unknown)?;
            }
            None => *unknown += name.len() + json_size(v),
        }
    }
    Ok(())
}

fn check_attribute(
    def: &AttributeDef,
    value: &Value,
    label: &str,
    unknown: &mut usize,
) -> Result<(), ScimError> {
    match value {
        Value::Array(items) if def.multi_valued => {
            check_value_count(def, items.len(), label)?;
            items
                .iter()
                .try_for_each(|item| check_single(def, item, label, unknown))
        }
        other => check_single(def, other, label, unknown),
    }
}

fn check_single(
    def: &AttributeDef,
    value: &Value,
    label: &str,
    unknown: &mut usize,
) -> Result<(), ScimError> {
    match value {
        Value::String(text) => match def.text_limit() {
            // Bytes bound characters from above: count only when it may matter.
            Some(max) if text.len() > max && text.chars().count() > max => Err(
                ScimError::invalid_value(format!("{label} may be at most {max} characters long")),
            ),
            _ => Ok(()),
        },
        Value::Object(fields) if def.is_complex() => {
            for (name, v) in fields {
                match def.sub_attribute(name) {
                    Some(sub) => {
                        check_attribute(sub, v, &format!("{label}.{}", sub.name), unknown)?
                    }
                    None => *unknown += name.len() + json_size(v),
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The length of `value` as compact JSON.
fn json_size(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing to a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// The ids in a `members` value: `[{"value": "id"}, …]` (a single object is
/// accepted too). Duplicates are dropped, order kept.
pub(crate) fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    let mut seen: HashSet<&str> = HashSet::with_capacity(items.len());
    for item in items {
        let id = match get_ci(item, "value") {
            Some(Value::String(id)) if !id.is_empty() => id,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "members must be objects whose \"value\" is the member id as a string; got {}",
                    crate::domain::names::excerpt(&item.to_string())
                )));
            }
        };
        if seen.insert(id) {
            ids.push(id.clone());
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, USER, USER_SCHEMA, urn};
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn lookups_ignore_case_but_prefer_the_exact_spelling() {
        let v = json!({"UserName": "a", "userName": "b"});
        assert_eq!(get_ci(&v, "userName"), Some(&json!("b")));
        assert_eq!(get_ci(&v, "USERNAME"), Some(&json!("a")));
        assert_eq!(get_ci(&json!("x"), "a"), None);
    }

    #[test]
    fn set_ci_renames_in_place() {
        let mut m = obj(json!({"a": 1, "UserName": "x", "z": 2}));
        set_ci(&mut m, "userName", json!("y"));
        assert_eq!(
            Value::Object(m.clone()),
            json!({"a": 1, "userName": "y", "z": 2})
        );
        let keys: Vec<&String> = m.keys().collect();
        assert_eq!(keys, ["a", "userName", "z"]);
    }

    #[test]
    fn coercion_turns_entra_boolean_strings_into_booleans() {
        let active = USER_SCHEMA.attribute("active").unwrap();
        assert_eq!(
            coerce(active, json!("False"), "active").unwrap(),
            json!(false)
        );
        assert_eq!(
            coerce(active, json!("TRUE"), "active").unwrap(),
            json!(true)
        );
        let e = coerce(active, json!("nope"), "active").unwrap_err();
        assert_eq!(e.scim_type, crate::scim::ScimType::InvalidValue);
        assert_eq!(
            e.detail,
            "active must be a boolean (true or false); got a string"
        );
    }

    #[test]
    fn coercion_rejects_wrong_types() {
        let user_name = USER_SCHEMA.attribute("userName").unwrap();
        let e = coerce(user_name, json!(42), "userName").unwrap_err();
        assert_eq!(e.detail, "userName must be a string; got a number");
        let e = coerce(user_name, json!(["a"]), "userName").unwrap_err();
        assert!(e.detail.contains("single-valued"));
    }

    #[test]
    fn coercion_canonicalises_complex_values() {
        let emails = USER_SCHEMA.attribute("emails").unwrap();
        let v = coerce(
            emails,
            json!({"VALUE": "a@b.c", "Type": "work", "Primary": "True", "label": "x"}),
            "emails",
        )
        .unwrap();
        assert_eq!(
            v,
            json!([{"value": "a@b.c", "type": "work", "primary": true, "label": "x"}])
        );
    }

    #[test]
    fn a_bare_manager_id_becomes_an_object_and_display_name_is_dropped() {
        let manager = ENTERPRISE_USER_SCHEMA.attribute("manager").unwrap();
        assert_eq!(
            coerce(manager, json!("m-1"), "manager").unwrap(),
            json!({"value": "m-1"})
        );
        assert_eq!(
            coerce(
                manager,
                json!({"value": "m-1", "displayName": "Boss"}),
                "manager"
            )
            .unwrap(),
            json!({"value": "m-1"})
        );
    }

    #[test]
    fn two_primary_values_in_one_write_are_refused() {
        let emails = USER_SCHEMA.attribute("emails").unwrap();
        let e = coerce(
            emails,
            json!([{"value": "a", "primary": true}, {"value": "b", "primary": true}]),
            "emails",
        )
        .unwrap_err();
        assert!(e.detail.contains("at most one"));
    }

    #[test]
    fn same_element_compares_value_and_type() {
        let emails = USER_SCHEMA.attribute("emails");
        let a = json!({"value": "A@x.org", "type": "work", "primary": true});
        assert!(same_element(
            emails,
            &a,
            &json!({"value": "a@x.org", "type": "Work"})
        ));
        assert!(!same_element(
            emails,
            &a,
            &json!({"value": "a@x.org", "type": "home"})
        ));
        assert!(!same_element(emails, &a, &json!({"value": "a@x.org"})));
        assert!(same_element(None, &json!("Ops"), &json!("ops")));
    }

    #[test]
    fn element_keys_agree_with_same_element() {
        let emails = USER_SCHEMA.attribute("emails");
        let values = [
            json!({"value": "A@x.org", "type": "work", "primary": true}),
            json!({"value": "a@x.org", "type": "Work"}),
            json!({"value": "a@x.org", "type": "home"}),
            json!({"value": "a@x.org"}),
            json!({"Value": "a@X.org"}),
            json!({"display": "x", "label": 1}),
            json!({"label": 1, "display": "x"}),
            json!("Ops"),
            json!("ops"),
            json!(1),
            json!("1"),
        ];
        for a in &values {
            for b in &values {
                for def in [emails, None, USER_SCHEMA.attribute("externalId")] {
                    assert_eq!(
                        same_element(def, a, b),
                        element_key(def, a) == element_key(def, b),
                        "{a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn dedupe_of_many_values_is_linear() {
        let emails = USER_SCHEMA.attribute("emails");
        let items: Vec<Value> = (0..200_000)
            .map(|i| json!({"value": format!("u{}@x.org", i % 100_000), "type": "work"}))
            .collect();
        let started = std::time::Instant::now();
        let kept = dedupe_items(emails, items);
        assert_eq!(kept.len(), 100_000);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn too_many_values_are_refused_before_coercion() {
        let emails = USER_SCHEMA.attribute("emails").unwrap();
        let many: Vec<Value> = (0..101)
            .map(|i| json!({"value": format!("u{i}@x.org")}))
            .collect();
        let e = coerce(emails, Value::Array(many), "emails").unwrap_err();
        assert_eq!(e.scim_type, crate::scim::ScimType::InvalidValue);
        assert!(e.detail.contains("at most 100 values"), "{}", e.detail);
        let hundred: Vec<Value> = (0..100)
            .map(|i| json!({"value": format!("u{i}@x.org")}))
            .collect();
        assert!(coerce(emails, Value::Array(hundred), "emails").is_ok());
    }

    #[test]
    fn limits_cover_text_lengths_and_unknown_attributes() {
        let ok = obj(json!({"userName": "a", "displayName": "x".repeat(256)}));
        assert!(check_limits(&ok, &USER).is_ok());
        let long = obj(json!({"userName": "a", "displayName": "x".repeat(257)}));
        let e = check_limits(&long, &USER).unwrap_err();
        assert_eq!(e.detail, "displayName may be at most 256 characters long");
        let unknown = obj(json!({"userName": "a", "blob": "x".repeat(20_000)}));
        let e = check_limits(&unknown, &USER).unwrap_err();
        assert!(
            e.detail.starts_with("attributes of no schema"),
            "{}",
            e.detail
        );
        assert!(e.detail.len() < 200);
        let nested =
            obj(json!({"userName": "a", "name": {"givenName": "A", "extra": "x".repeat(20_000)}}));
        assert!(check_limits(&nested, &USER).is_err());
        let ext =
            obj(json!({"userName": "a", urn::ENTERPRISE_USER: {"department": "x".repeat(1025)}}));
        assert!(check_limits(&ext, &USER).is_err());
    }

    #[test]
    fn single_primary_keeps_the_last_touched() {
        let mut items = vec![
            json!({"value": "a", "primary": true}),
            json!({"value": "b"}),
            json!({"value": "c", "primary": true}),
        ];
        enforce_single_primary(&mut items, &[2]);
        assert_eq!(items[0]["primary"], json!(false));
        assert_eq!(items[2]["primary"], json!(true));
    }

    #[test]
    fn schemas_follow_the_extension_objects_present() {
        let mut doc = obj(json!({
            "userName": "x",
            urn::ENTERPRISE_USER: {"department": "R&D"},
            urn::ROLLCALL_USER: {},
            "urn:example:custom:1.0:User": {"badge": 7},
        }));
        sync_schemas(&mut doc, &USER);
        assert_eq!(
            doc["schemas"],
            json!([
                urn::USER,
                urn::ENTERPRISE_USER,
                "urn:example:custom:1.0:User"
            ])
        );
        assert_eq!(doc.keys().next().unwrap(), "schemas");
    }

    #[test]
    fn member_ids_must_be_value_objects() {
        assert_eq!(
            member_ids(&json!([{"value": "a", "display": "A"}, {"value": "b"}, {"value": "a"}]))
                .unwrap(),
            ["a", "b"]
        );
        assert_eq!(member_ids(&json!({"value": "a"})).unwrap(), ["a"]);
        for bad in [
            json!(["a"]),
            json!([{"value": 1}]),
            json!([{"display": "x"}]),
            json!([{"value": ""}]),
        ] {
            let e = member_ids(&bad).unwrap_err();
            assert_eq!(e.scim_type, crate::scim::ScimType::InvalidValue, "{bad}");
        }
    }
}
