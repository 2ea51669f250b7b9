//! RFC 9865 cursor paging over HTTP on both backends: the protocol surface
//! (`cursor`, `nextCursor`, `previousCursor`, the `pagination` object, the
//! `invalidCursor` / `expiredCursor` / `invalidCount` errors) on `/Users`,
//! `/Groups` and the searches, and a walk that races with concurrent
//! deletes and creates yet returns every surviving user exactly once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::scim_listing::{Dir, urlencode};
use crate::support::{Backend, TestApp};

const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

fn ids(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources: {body}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn scim_error(r: &crate::support::app::Reply, scim_type: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["scimType"], scim_type, "{}", r.text);
    assert_eq!(r.body["status"], "400", "{}", r.text);
}

/// Follows `nextCursor` from the first page of `path` (a query string
/// without `cursor`); returns the ids in order.
async fn walk(d: &Dir<'_>, path: &str) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut url = format!("{path}{sep}cursor=");
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let r = d.call(Method::GET, &url, None).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.text);
        out.extend(ids(&r.body));
        match r.body["nextCursor"].as_str() {
            Some(c) => url = format!("{path}{sep}cursor={c}"),
            None => return out,
        }
    }
    panic!("the walk of {path} did not end");
}

async fn cursor_paging_follows_rfc_9865(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("scim.cursor_timeout_secs", json!(1))]).await;
    let d = Dir::open(&app).await;
    let r = d.call(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(
        r.body["pagination"],
        json!({"cursor": true, "index": true, "defaultPaginationMethod": "index",
               "defaultPageSize": 100, "maxPageSize": 1000, "cursorTimeout": 1}),
        "{}",
        r.text
    );
    let mut users = Vec::new();
    for n in ["a", "b", "c", "d", "e"] {
        users.push(d.user(n, json!({})).await);
    }
    let mut groups = Vec::new();
    for g in ["g1", "g2"] {
        let r = d
            .call(
                Method::POST,
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": g, "members": [{"value": users[0]}]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        groups.push(r.body["id"].as_str().unwrap().to_owned());
    }

    // First page: `cursor` without a value (RFC 9865's own example shape).
    let p1 = d.call(Method::GET, "/Users?cursor&count=2", None).await;
    assert_eq!(p1.status, StatusCode::OK, "{}", p1.text);
    assert_eq!(ids(&p1.body), users[..2]);
    assert_eq!(p1.body["totalResults"], 5);
    assert_eq!(p1.body["itemsPerPage"], 2);
    assert!(p1.body.get("previousCursor").is_none(), "{}", p1.text);
    let next = p1.body["nextCursor"].as_str().unwrap().to_owned();
    assert!(
        next.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
        "unreserved characters only: {next}"
    );
    let p2 = d
        .call(Method::GET, &format!("/Users?count=2&cursor={next}"), None)
        .await;
    assert_eq!(ids(&p2.body), users[2..4]);
    let p3 = d
        .call(
            Method::GET,
            &format!(
                "/Users?count=2&cursor={}",
                p2.body["nextCursor"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(ids(&p3.body), users[4..]);
    assert!(
        p3.body.get("nextCursor").is_none(),
        "last page: {}",
        p3.text
    );
    // previousCursor goes back exactly one page.
    let back = d
        .call(
            Method::GET,
            &format!(
                "/Users?count=2&cursor={}",
                p3.body["previousCursor"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(ids(&back.body), users[2..4], "{}", back.text);
    assert!(back.body["nextCursor"].is_string() && back.body["previousCursor"].is_string());
    let first = d
        .call(
            Method::GET,
            &format!(
                "/Users?count=2&cursor={}",
                back.body["previousCursor"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(ids(&first.body), users[..2]);
    assert!(first.body.get("previousCursor").is_none(), "{}", first.text);

    // The same through POST /Users/.search, with projection.
    let mut got = Vec::new();
    let mut cursor = json!("");
    loop {
        let r = d
            .call(
                Method::POST,
                "/Users/.search",
                Some(json!({"schemas": [SEARCH], "cursor": cursor, "count": 3, "attributes": ["userName"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(r.body["Resources"][0].get("name").is_none());
        got.extend(ids(&r.body));
        match r.body.get("nextCursor") {
            Some(c) => cursor = c.clone(),
            None => break,
        }
    }
    assert_eq!(got, users);
    // Groups, a filter, the root search (Users, then Groups), descending.
    assert_eq!(walk(&d, "/Groups?count=1").await, groups);
    let g = d.call(Method::GET, "/Groups?cursor&count=1", None).await;
    assert_eq!(g.body["Resources"][0]["members"][0]["value"], users[0]);
    let filter = urlencode(r#"userName ne "c""#);
    assert_eq!(
        walk(&d, &format!("/Users?count=2&filter={filter}")).await,
        [&users[..2], &users[3..]].concat()
    );
    let mut everything = users.clone();
    everything.extend(groups.iter().cloned());
    let mut got = Vec::new();
    let mut cursor = json!("");
    loop {
        let r = d
            .call(
                Method::POST,
                "/.search",
                Some(json!({"schemas": [SEARCH], "cursor": cursor, "count": 3})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["totalResults"], 7);
        got.extend(ids(&r.body));
        match r.body.get("nextCursor") {
            Some(c) => cursor = c.clone(),
            None => break,
        }
    }
    assert_eq!(got, everything);
    let mut reversed = users.clone();
    reversed.reverse();
    assert_eq!(
        walk(
            &d,
            "/Users?count=2&sortBy=meta.created&sortOrder=descending"
        )
        .await,
        reversed
    );

    // Errors.
    let mut bad = next.clone().into_bytes();
    bad[10] = if bad[10] == b'0' { b'1' } else { b'0' };
    let bad = String::from_utf8(bad).unwrap();
    for url in [
        format!("/Users?count=2&cursor={bad}"),
        "/Users?cursor=not-a-cursor".to_owned(),
        // The same cursor with another filter, endpoint or order.
        format!("/Users?count=2&cursor={next}&filter={filter}"),
        format!("/Groups?count=2&cursor={next}"),
        format!("/Users?count=2&cursor={next}&sortBy=meta.created&sortOrder=descending"),
    ] {
        scim_error(&d.call(Method::GET, &url, None).await, "invalidCursor");
    }
    scim_error(
        &d.call(Method::GET, "/Users?cursor&count=0", None).await,
        "invalidCount",
    );
    scim_error(
        &d.call(Method::GET, "/Users?cursor&count=-3", None).await,
        "invalidCount",
    );
    scim_error(
        &d.call(Method::GET, "/Users?cursor&startIndex=2", None)
            .await,
        "invalidValue",
    );
    scim_error(
        &d.call(Method::GET, "/Users?cursor&sortBy=userName", None)
            .await,
        "invalidValue",
    );
    // Index paging is unchanged: no cursors in its answers.
    let r = d
        .call(Method::GET, "/Users?startIndex=2&count=2", None)
        .await;
    assert_eq!(ids(&r.body), users[1..3]);
    assert!(r.body.get("nextCursor").is_none());
    assert_eq!(r.body["startIndex"], 2);
    // cursorTimeout is 1 s here: a cursor two seconds old has expired.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    scim_error(
        &d.call(Method::GET, &format!("/Users?count=2&cursor={next}"), None)
            .await,
        "expiredCursor",
    );
}

/// Rounds of: create users, then walk them with cursors (small pages) while
/// tasks delete a third of them and create new ones, all started together.
/// Every user that existed throughout must come back exactly once.
async fn cursor_walk_misses_no_survivor_under_concurrent_deletes(backend: Backend) {
    const ROUNDS: usize = 3;
    const DELETERS: usize = 4;
    // Larger runs for figures: SCIM_CURSOR_RACE_USERS=5000 SCIM_CURSOR_RACE_PAGE=50.
    let knob = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let users_per_round = knob("SCIM_CURSOR_RACE_USERS", 120);
    let page = knob("SCIM_CURSOR_RACE_PAGE", 4);
    let app = TestApp::spawn(backend).await;
    let d = Dir::open(&app).await;
    let mut raced_rounds = 0;
    for round in 0..ROUNDS {
        let prefix = format!("r{round}-");
        let mut created = Vec::new();
        for i in 0..users_per_round {
            created.push(d.user(&format!("{prefix}{i:05}"), json!({})).await);
        }
        let doomed: Vec<String> = created.iter().skip(1).step_by(3).cloned().collect();
        let survivors: HashSet<String> = created
            .iter()
            .filter(|id| !doomed.contains(id))
            .cloned()
            .collect();
        let deleted = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(tokio::sync::Barrier::new(DELETERS + 3));
        let client = app.client.clone();
        let (base, token) = (d.base.clone(), d.token.clone());
        let mut tasks = Vec::new();
        for slice in doomed.chunks(doomed.len().div_ceil(DELETERS)) {
            let (slice, barrier, deleted) = (slice.to_vec(), barrier.clone(), deleted.clone());
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                for id in slice {
                    let r = client
                        .delete(format!("{base}/Users/{id}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), StatusCode::NO_CONTENT);
                    deleted.fetch_add(1, Ordering::SeqCst);
                }
                Vec::new()
            }));
        }
        // Newcomers: may or may not be seen, but never twice.
        {
            let (barrier, client, base, token, prefix) = (
                barrier.clone(),
                client.clone(),
                base.clone(),
                token.clone(),
                prefix.clone(),
            );
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let mut ids = Vec::new();
                for i in 0..20 {
                    let r = client
                        .post(format!("{base}/Users"))
                        .bearer_auth(&token)
                        .header("content-type", "application/scim+json")
                        .body(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("{prefix}new{i}")}).to_string())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), StatusCode::CREATED);
                    let body: Value = r.json().await.unwrap();
                    ids.push(body["id"].as_str().unwrap().to_owned());
                }
                ids
            }));
        }
        let filter = urlencode(&format!(r#"userName sw "{prefix}""#));
        // For comparison only (RFC 7644 allows it to skip): the same walk
        // with index paging, at the same time.
        let index_walk = {
            let (barrier, client, base, token, filter) = (
                barrier.clone(),
                client.clone(),
                base.clone(),
                token.clone(),
                filter.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                let mut seen = Vec::new();
                let mut start = 1;
                loop {
                    let r = client
                        .get(format!(
                            "{base}/Users?count={page}&filter={filter}&startIndex={start}"
                        ))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    let body: Value = r.json().await.unwrap();
                    let page = ids(&body);
                    if page.is_empty() {
                        return seen;
                    }
                    start += page.len();
                    seen.extend(page);
                }
            })
        };
        barrier.wait().await;
        let mut url = format!("/Users?count={page}&filter={filter}&cursor=");
        let mut seen: Vec<String> = Vec::new();
        let mut deleted_during = Vec::new();
        loop {
            deleted_during.push(deleted.load(Ordering::SeqCst));
            let r = d.call(Method::GET, &url, None).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            seen.extend(ids(&r.body));
            match r.body["nextCursor"].as_str() {
                Some(c) => url = format!("/Users?count={page}&filter={filter}&cursor={c}"),
                None => break,
            }
        }
        let mut newcomers = HashSet::new();
        for t in tasks {
            newcomers.extend(t.await.unwrap());
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for id in &seen {
            *counts.entry(id.as_str()).or_default() += 1;
        }
        let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(repeated.is_empty(), "round {round}: repeated {repeated:?}");
        let missed: Vec<_> = survivors
            .iter()
            .filter(|id| !counts.contains_key(id.as_str()))
            .collect();
        assert!(
            missed.is_empty(),
            "round {round}: {} of {} surviving users missed",
            missed.len(),
            survivors.len()
        );
        for id in &seen {
            assert!(
                created.contains(id) || newcomers.contains(id),
                "round {round}: {id} is not one of ours"
            );
        }
        // Did deletes really land while the walk was under way?
        let (first, last) = (deleted_during[0], *deleted_during.last().unwrap());
        if first < doomed.len() && last > first {
            raced_rounds += 1;
        }
        let by_index: HashSet<String> = index_walk.await.unwrap().into_iter().collect();
        eprintln!(
            "cursor walk round {round}: {} pages, {} ids, deletes seen during the walk \
             {first}..{last} of {}, 0 of {} survivors missed (index paging at the same time \
             missed {})",
            deleted_during.len(),
            seen.len(),
            doomed.len(),
            survivors.len(),
            survivors
                .iter()
                .filter(|id| !by_index.contains(*id))
                .count()
        );
    }
    assert!(
        raced_rounds > 0,
        "no round had deletes landing during the walk: the test did not race"
    );
}

crate::http_suite!(
    cursor_paging_follows_rfc_9865,
    cursor_walk_misses_no_survivor_under_concurrent_deletes,
);
