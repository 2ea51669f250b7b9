//! SCIM Bulk (RFC 7644 §3.7): many operations in one request, each in its
//! own transaction, with `bulkId` references resolved as the resources they
//! name are created (operations wait for the ones they reference, so order
//! in the request does not matter), and `failOnErrors` stopping the run after
//! that many failures. Limits (`maxOperations`, `maxPayloadSize`) are checked
//! by the caller before anything runs.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::error::ScimApiError;
use crate::scim::urn;
use crate::service::scim::{self, Precondition, Scope, parse_etags};
use crate::store::audit;
use crate::store::{DbConnection, write_tx};

struct Op {
    index: usize,
    method: String,
    bulk_id: Option<String>,
    path: String,
    data: Option<Value>,
    version: Option<String>,
}

fn parse_ops(body: &Value, max_operations: u32) -> Result<(Vec<Op>, Option<usize>), ScimApiError> {
    let schemas_ok = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter().any(|v| {
                v.as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(urn::BULK_REQUEST))
            })
        });
    if !schemas_ok {
        return Err(ScimApiError::invalid_syntax(format!(
            "a Bulk request lists the schema {}",
            urn::BULK_REQUEST
        )));
    }
    let ops = body
        .get("Operations")
        .or_else(|| body.get("operations"))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ScimApiError::invalid_syntax("a Bulk request needs an `Operations` array")
        })?;
    if ops.len() > max_operations as usize {
        return Err(ScimApiError::PayloadTooLarge(format!(
            "{} operations exceed maxOperations ({max_operations})",
            ops.len()
        )));
    }
    let fail_on_errors = match body.get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
            ScimApiError::invalid_syntax("failOnErrors must be a positive integer")
        })? as usize),
    };
    let mut parsed = Vec::with_capacity(ops.len());
    let mut seen = std::collections::HashSet::new();
    for (index, op) in ops.iter().enumerate() {
        let method = op
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ScimApiError::invalid_syntax(format!("operation {index} has no `method`"))
            })?
            .to_ascii_uppercase();
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ScimApiError::invalid_syntax(format!("operation {index} has no `path`"))
            })?
            .to_owned();
        let bulk_id = op.get("bulkId").and_then(Value::as_str).map(str::to_owned);
        if method == "POST" && bulk_id.is_none() {
            return Err(ScimApiError::invalid_syntax(format!(
                "operation {index}: POST needs a `bulkId`"
            )));
        }
        if let Some(b) = &bulk_id
            && !seen.insert(b.clone())
        {
            return Err(ScimApiError::invalid_syntax(format!(
                "bulkId `{b}` is used twice"
            )));
        }
        parsed.push(Op {
            index,
            method,
            bulk_id,
            path,
            data: op.get("data").cloned(),
            version: op.get("version").and_then(Value::as_str).map(str::to_owned),
        });
    }
    Ok((parsed, fail_on_errors))
}

/// `bulkId:x` references in a path or a body.
fn references(op: &Op) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if let Some(id) = s.strip_prefix("bulkId:") {
                    out.push(id.to_owned());
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for segment in op.path.split('/') {
        if let Some(id) = segment.strip_prefix("bulkId:") {
            out.push(id.to_owned());
        }
    }
    if let Some(d) = &op.data {
        walk(d, &mut out);
    }
    out
}

fn substitute(v: &mut Value, ids: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, ids)),
        Value::Object(o) => o.values_mut().for_each(|x| substitute(x, ids)),
        _ => {}
    }
}

/// The resource type and id a Bulk `path` names (RFC 7644 §3.7: "the
/// resource's relative path"): exactly `/Users`, `/Groups` or
/// `/{type}/{id}` with one id segment. Anything else — dot segments, more
/// segments, a query, an empty id — names nothing, and is refused rather
/// than read as the nearest endpoint.
fn bulk_target(path: &str) -> Option<(&str, Option<&str>)> {
    let rest = path.strip_prefix('/')?;
    let (kind, id) = match rest.split_once('/') {
        Some((kind, id)) => (kind, Some(id)),
        None => (rest, None),
    };
    if !matches!(kind, "Users" | "Groups") {
        return None;
    }
    match id {
        None => Some((kind, None)),
        Some(id)
            if !id.is_empty()
                && id != "."
                && id != ".."
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:~".contains(c)) =>
        {
            Some((kind, Some(id)))
        }
        Some(_) => None,
    }
}

/// Run one operation; `Ok((status, rendered))`.
fn dispatch(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    op: &Op,
    path: &str,
    data: Option<Value>,
) -> Result<(u16, Option<scim::Rendered>), ScimApiError> {
    let if_match: Vec<Precondition> = op.version.as_deref().map(parse_etags).unwrap_or_default();
    let (kind, id) = bulk_target(path).ok_or_else(|| {
        ScimApiError::BadRequest(
            crate::scim::ScimType::InvalidPath,
            format!(
                "Bulk path `{}` must be /Users, /Groups, /Users/{{id}} or /Groups/{{id}}",
                crate::domain::names::excerpt(path)
            ),
        )
    })?;
    let need_data = || {
        data.clone()
            .ok_or_else(|| ScimApiError::invalid_syntax("this operation needs `data`"))
    };
    match (op.method.as_str(), kind, id) {
        ("POST", "Users", None) => Ok((201, Some(scim::create_user(conn, s, need_data()?)?))),
        ("POST", "Groups", None) => Ok((201, Some(scim::create_group(conn, s, need_data()?)?))),
        ("PUT", "Users", Some(id)) => Ok((
            200,
            Some(scim::replace_user(conn, s, id, need_data()?, &if_match)?),
        )),
        ("PUT", "Groups", Some(id)) => Ok((
            200,
            Some(scim::replace_group(conn, s, id, need_data()?, &if_match)?),
        )),
        ("PATCH", "Users", Some(id)) => Ok((
            200,
            Some(scim::patch_user(conn, s, id, &need_data()?, &if_match)?),
        )),
        ("PATCH", "Groups", Some(id)) => Ok((
            200,
            Some(scim::patch_group(conn, s, id, &need_data()?, &if_match)?),
        )),
        ("DELETE", "Users", Some(id)) => {
            scim::delete_user(conn, s, id, &if_match).map(|()| (204, None))
        }
        ("DELETE", "Groups", Some(id)) => {
            scim::delete_group(conn, s, id, &if_match).map(|()| (204, None))
        }
        (m, _, _) if !matches!(m, "POST" | "PUT" | "PATCH" | "DELETE") => Err(
            ScimApiError::invalid_syntax(format!("method `{m}` is not a Bulk method")),
        ),
        _ => Err(ScimApiError::BadRequest(
            crate::scim::ScimType::InvalidPath,
            format!(
                "`{} {}` is not a Bulk operation on /Users or /Groups",
                op.method,
                crate::domain::names::excerpt(path)
            ),
        )),
    }
}

/// Run a Bulk request; the response lists the operations that ran, in request order.
pub fn run(
    conn: &mut DbConnection,
    s: &Scope<'_>,
    body: &Value,
    max_operations: u32,
) -> Result<Value, ScimApiError> {
    let (ops, fail_on_errors) = parse_ops(body, max_operations)?;
    let mut created: HashMap<String, String> = HashMap::new();
    let mut results: Vec<Option<Value>> = vec![None; ops.len()];
    let mut pending: Vec<&Op> = ops.iter().collect();
    let mut errors = 0usize;
    let mut stop = false;
    while !pending.is_empty() && !stop {
        let (ready, waiting): (Vec<&Op>, Vec<&Op>) = pending
            .into_iter()
            .partition(|op| references(op).iter().all(|r| created.contains_key(r)));
        if ready.is_empty() {
            // What is left references bulkIds that never resolve (unknown,
            // failed, or circular): each fails on its own.
            for op in waiting {
                let missing: Vec<String> = references(op)
                    .into_iter()
                    .filter(|r| !created.contains_key(r))
                    .collect();
                let e = ScimApiError::invalid_value(format!(
                    "unresolved bulkId reference(s): {}",
                    missing.join(", ")
                ));
                results[op.index] = Some(failure(op, &e));
            }
            break;
        }
        for op in ready {
            let mut path = op.path.clone();
            for r in references(op) {
                if let Some(id) = created.get(&r) {
                    path = path.replace(&format!("bulkId:{r}"), id);
                }
            }
            let mut data = op.data.clone();
            if let Some(d) = &mut data {
                substitute(d, &created);
            }
            match write_tx(conn, |c| dispatch(c, s, op, &path, data)) {
                Ok((status, rendered)) => {
                    let mut r = json!({"method": op.method, "status": status.to_string()});
                    if let Some(b) = &op.bulk_id {
                        r["bulkId"] = json!(b);
                    }
                    if let Some(rendered) = rendered {
                        r["location"] = json!(rendered.location);
                        r["version"] = json!(scim::etag(rendered.version));
                        if let (Some(b), Some(id)) =
                            (&op.bulk_id, rendered.body.get("id").and_then(Value::as_str))
                        {
                            created.insert(b.clone(), id.to_owned());
                        }
                    } else if op.method == "DELETE" {
                        r["location"] = json!(format!("{}{}", s.base_url, path));
                    }
                    results[op.index] = Some(r);
                }
                Err(e) => {
                    if matches!(e, ScimApiError::Refused { .. }) {
                        let event = scim::refusal_event(s.ctx, &s.org.id, &s.directory.id, &e);
                        write_tx(conn, |c| {
                            audit::insert(c, &[event]).map_err(ScimApiError::from)
                        })?;
                    }
                    results[op.index] = Some(failure(op, &e));
                    errors += 1;
                    if fail_on_errors.is_some_and(|n| errors >= n) {
                        stop = true;
                        break;
                    }
                }
            }
        }
        pending = waiting;
    }
    Ok(json!({
        "schemas": [urn::BULK_RESPONSE],
        "Operations": results.into_iter().flatten().collect::<Vec<_>>(),
    }))
}

fn failure(op: &Op, e: &ScimApiError) -> Value {
    let mut r = json!({"method": op.method, "status": e.status().as_u16().to_string(), "response": e.body()});
    if let Some(b) = &op.bulk_id {
        r["bulkId"] = json!(b);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::bulk_target;

    #[test]
    fn only_the_resource_paths_of_rfc_7644_are_bulk_targets() {
        assert_eq!(bulk_target("/Users"), Some(("Users", None)));
        assert_eq!(bulk_target("/Groups"), Some(("Groups", None)));
        assert_eq!(
            bulk_target("/Users/0190a1b2-c3d4"),
            Some(("Users", Some("0190a1b2-c3d4")))
        );
        assert_eq!(
            bulk_target("/Groups/bulkId:qwerty"),
            Some(("Groups", Some("bulkId:qwerty")))
        );
        for bad in [
            "/Users/../../other",
            "/Users/..",
            "/Users/",
            "/Users/a/b",
            "Users",
            "/Users?x=1",
            "/Users/a?x",
            "/Me",
            "/users",
            "",
            "/",
        ] {
            assert_eq!(bulk_target(bad), None, "{bad}");
        }
    }
}
