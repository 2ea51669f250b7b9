//! Replays of the request sequences Okta and Microsoft Entra ID send
//! (`tests/fixtures/scim/sequences/*.json`, written from their public
//! protocol documentation), end to end against the real server, on both
//! backends. Every step's status must match and the response must contain
//! the expected JSON.

use reqwest::Method;
use serde_json::Value;

use crate::support::{Backend, TestApp};

fn substitute(text: &str, captures: &[(String, String)]) -> String {
    let mut out = text.to_owned();
    for (k, v) in captures {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

fn substitute_json(v: &Value, captures: &[(String, String)]) -> Value {
    match v {
        Value::String(s) => Value::String(substitute(s, captures)),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute_json(x, captures)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute_json(x, captures)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `expected` is contained in `actual`: objects key by key; arrays element
/// by element, except arrays of `{"value": …}` objects (members, emails),
/// which are compared as sets keyed by `value`.
fn contains(actual: &Value, expected: &Value, at: &str) -> Result<(), String> {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, ev) in e {
                let av = a
                    .iter()
                    .find(|(ak, _)| ak.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v)
                    .ok_or_else(|| format!("{at}.{k} is missing"))?;
                contains(av, ev, &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(e)) => {
            if a.len() != e.len() {
                return Err(format!("{at}: {} elements, expected {}", a.len(), e.len()));
            }
            let keyed = e.iter().all(|x| x.get("value").is_some());
            for (i, ev) in e.iter().enumerate() {
                if keyed {
                    let av = a
                        .iter()
                        .find(|x| x.get("value") == ev.get("value"))
                        .ok_or_else(|| format!("{at}: no element with value {}", ev["value"]))?;
                    contains(av, ev, &format!("{at}[{i}]"))?;
                } else {
                    contains(&a[i], ev, &format!("{at}[{i}]"))?;
                }
            }
            Ok(())
        }
        (a, e) if a == e => Ok(()),
        (a, e) => Err(format!("{at}: {a} ≠ expected {e}")),
    }
}

fn pointer<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted
        .split('.')
        .try_fold(v, |cur, part| match part.parse::<usize>() {
            Ok(i) => cur.get(i),
            Err(_) => cur.get(part),
        })
}

async fn replay(backend: Backend, fixture: &str) {
    let app = TestApp::spawn(backend).await;
    app.org_with_key("acme");
    let (base, token) = app.scim_directory("acme", "idp");
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/scim/sequences/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let sequence: Value = serde_json::from_str(&text).unwrap();
    let mut captures: Vec<(String, String)> = Vec::new();
    let steps = sequence["steps"].as_array().unwrap();
    assert!(
        steps.len() >= 15,
        "{fixture}: a sequence of {} steps is too short",
        steps.len()
    );
    for (n, step) in steps.iter().enumerate() {
        let name = step["name"].as_str().unwrap_or("?");
        let method = Method::from_bytes(step["method"].as_str().unwrap().as_bytes()).unwrap();
        let url = format!(
            "{base}{}",
            substitute(step["path"].as_str().unwrap(), &captures)
        );
        let mut req = app.client.request(method, &url).bearer_auth(&token);
        if let Some(headers) = step["headers"].as_object() {
            for (k, v) in headers {
                if let Some(v) = v.as_str() {
                    req = req.header(k.as_str(), v);
                }
            }
        }
        if !step["body"].is_null() {
            let body = substitute_json(&step["body"], &captures);
            if step["headers"].get("Content-Type").is_none() {
                req = req.header("content-type", "application/scim+json");
            }
            req = req.body(body.to_string());
        }
        let r = crate::support::app::read(req.send().await.unwrap()).await;
        let expect = substitute_json(&step["expect"], &captures);
        let statuses: Vec<u64> = match &expect["status"] {
            Value::Array(list) => list.iter().filter_map(Value::as_u64).collect(),
            v => v.as_u64().into_iter().collect(),
        };
        assert!(
            statuses.contains(&u64::from(r.status.as_u16())),
            "{fixture} step {n} `{name}`: status {} not in {statuses:?}: {}",
            r.status,
            r.text
        );
        assert!(r.status.as_u16() < 500, "{fixture} step {n}: a 5xx");
        if let Some(e) = expect.get("json").filter(|e| !e.is_null())
            && let Err(why) = contains(&r.body, e, "$")
        {
            panic!("{fixture} step {n} `{name}`: {why}\nresponse: {}", r.text);
        }
        if r.status.is_success() && r.status.as_u16() != 204 && r.status.as_u16() != 304 {
            let ct = r.header("content-type").unwrap_or_default();
            assert!(
                ct.starts_with("application/scim+json"),
                "{fixture} step {n}: content-type {ct}"
            );
        }
        if let Some(cap) = step["capture"].as_object() {
            for (k, path) in cap {
                let v = pointer(&r.body, path.as_str().unwrap())
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| {
                        panic!(
                            "{fixture} step {n}: nothing at {path} to capture: {}",
                            r.text
                        )
                    });
                captures.retain(|(c, _)| c != k);
                captures.push((k.clone(), v.to_owned()));
            }
        }
    }
}

async fn okta_sequence(backend: Backend) {
    replay(backend, "okta.json").await;
}

async fn entra_sequence(backend: Backend) {
    replay(backend, "entra.json").await;
}

async fn entra_with_aad_opt_scim062020_sequence(backend: Backend) {
    replay(backend, "entra_flag.json").await;
}

crate::http_suite!(
    okta_sequence,
    entra_sequence,
    entra_with_aad_opt_scim062020_sequence
);
