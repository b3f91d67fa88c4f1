//! `$batch` reads: input order, nextLinks, item retries and throttling, item errors.

use super::*;

#[tokio::test]
async fn batch_reads_follow_links_retry_items_and_keep_input_order() {
    let base = Arc::new(Mutex::new(String::new()));
    let b = base.clone();
    let throttled_once = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let server = start(
        move |c: &Call| {
            assert!(c.in_batch, "{} read outside $batch", c.path);
            assert_eq!(c.method, "GET");
            let group: usize = c.path.split('/').nth(1).unwrap().parse().unwrap();
            // Every third group is throttled on its first request.
            if group % 3 == 0 && throttled_once.lock().unwrap().insert(group) {
                return Reply::graph_error(429, "TooManyRequests", "Please retry again later.")
                    .header("Retry-After", "0.05");
            }
            let members = |from: usize| -> Vec<Value> {
                (from..from + 2)
                    .map(|m| json!({"id": format!("g{group}-m{m}"), "displayName": "M"}))
                    .collect()
            };
            if c.query.contains_key("$skiptoken") {
                Reply::json(json!({"value": members(2)}))
            } else if group == 7 {
                let base = b.lock().unwrap().clone();
                Reply::json(json!({"value": members(0),
                    "@odata.nextLink": format!("{base}/v1.0/groups/7/members?$skiptoken=p2")}))
            } else {
                Reply::json(json!({"value": members(0)}))
            }
        },
        token_counter(),
    )
    .await;
    *base.lock().unwrap() = server.url.clone();
    let c = client(&server.url);
    let paths: Vec<String> = (0..45)
        .map(|g| format!("groups/{g}/members?$select=id,displayName&$top=999"))
        .collect();
    let results = c.batch_get_all(&paths).await.unwrap();
    assert_eq!(results.len(), 45);
    for (g, items) in results.iter().enumerate() {
        let ids: Vec<&str> = items.iter().map(|m| m["id"].as_str().unwrap()).collect();
        let want: Vec<String> = (0..if g == 7 { 4 } else { 2 })
            .map(|m| format!("g{g}-m{m}"))
            .collect();
        assert_eq!(ids, want, "group {g}");
    }
    let m = c.metrics();
    assert_eq!(m.throttled, 15);
    assert_eq!(m.retries, 15);
    // 45 first requests + 15 retried + 1 next page
    assert_eq!(m.batch_items, 61);
    assert!(server.calls_to("groups/7/members")[0].query["$select"] == "id,displayName");
}

#[tokio::test]
async fn batch_item_errors_fail_the_whole_read() {
    let server = start(
        |c: &Call| match c.path.as_str() {
            "groups/bad/members" => Reply::graph_error(
                404,
                "Request_ResourceNotFound",
                "Resource 'bad' does not exist",
            )
            .header("request-id", "item-req-id"),
            "groups/slow/members" => Reply::graph_error(503, "serviceNotAvailable", "busy"),
            _ => Reply::json(json!({"value": []})),
        },
        token_counter(),
    )
    .await;
    let c = client(&server.url);
    let err = c
        .batch_get_all(&["groups/ok/members".into(), "groups/bad/members".into()])
        .await
        .unwrap_err();
    match &err {
        GraphError::Http {
            status: 404,
            path,
            request_id,
            code,
            ..
        } => {
            assert_eq!(path, "groups/bad/members");
            assert_eq!(request_id.as_deref(), Some("item-req-id"));
            assert_eq!(code, "Request_ResourceNotFound");
        }
        other => panic!("{other:?}"),
    }
    let err = c
        .batch_get_all(&["groups/slow/members".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GraphError::RetriesExhausted { attempts: 4, path, .. } if path == "groups/slow/members"),
        "{err:?}"
    );
}

/// Patient about throttling, impatient about failures.
fn patient(url: &str) -> GraphClient {
    let s = settings(url, Credential::ClientSecret(Secret::new(SECRET)));
    let timing = RetryTiming {
        throttle_budget: Duration::from_secs(5),
        ..fast()
    };
    GraphClient::with_timing(s, timing).expect("client")
}

fn too_many(retry_after: Option<&str>) -> Reply {
    let r = Reply::graph_error(429, "TooManyRequests", "Please retry again later.");
    match retry_after {
        Some(after) => r.header("Retry-After", after),
        None => r,
    }
}

#[tokio::test]
async fn throttled_items_wait_without_using_up_retries() {
    // Every item is throttled 6 times, twice the client's 3 retries, each time with a
    // Retry-After: Graph pacing the client, which waits it out.
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let s = seen.clone();
    let server = start(
        move |c: &Call| {
            let mut seen = s.lock().unwrap();
            let n = seen.entry(c.path.clone()).or_default();
            *n += 1;
            if *n <= 6 {
                too_many(Some("0.02"))
            } else {
                Reply::json(json!({"value": [{"id": c.path.clone()}]}))
            }
        },
        token_counter(),
    )
    .await;
    let c = patient(&server.url);
    let paths: Vec<String> = (0..30).map(|g| format!("groups/{g}/members")).collect();
    let started = Instant::now();
    let results = c
        .batch_get_all(&paths)
        .await
        .expect("throttling is waited out");
    for (path, items) in paths.iter().zip(&results) {
        assert_eq!(items, &vec![json!({"id": path})]);
    }
    assert!(started.elapsed() >= Duration::from_millis(6 * 20));
    let m = c.metrics();
    assert_eq!((m.throttled, m.retries), (6 * 30, 6 * 30));
    assert_eq!(m.batch_items, 7 * 30);
}

#[tokio::test]
async fn item_throttling_beyond_the_budget_fails_with_the_throttle_hint() {
    let server = start(|_c: &Call| too_many(Some("0.02")), token_counter()).await;
    // 0.11 s of waiting allowed: 5 waits of 20 ms, then the 429s count as failures.
    let s = settings(&server.url, Credential::ClientSecret(Secret::new(SECRET)));
    let timing = RetryTiming {
        throttle_budget: Duration::from_millis(110),
        ..fast()
    };
    let c = GraphClient::with_timing(s, timing).unwrap();
    let err = c
        .batch_get_all(&["groups/a/members".into()])
        .await
        .unwrap_err();
    let GraphError::RetriesExhausted { attempts, last, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*attempts, 4);
    assert!(matches!(**last, GraphError::Http { status: 429, .. }));
    assert_eq!(server.calls_to("groups/a/members").len(), 5 + 4);
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("quota") && !hint.contains("concurrency"),
        "{hint}"
    );
}

#[tokio::test]
async fn item_429s_without_retry_after_count_as_failures() {
    let server = start(|_c: &Call| too_many(None), token_counter()).await;
    let c = patient(&server.url);
    let err = c
        .batch_get_all(&["groups/a/members".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GraphError::RetriesExhausted { attempts: 4, .. }),
        "{err:?}"
    );
    assert_eq!(server.calls_to("groups/a/members").len(), 4);
    let m = c.metrics();
    assert_eq!((m.throttled, m.retries), (3, 3));
}

#[test]
fn after_a_throttled_round_only_what_graph_admitted_is_resent() {
    use crate::graph::batch::next_window;
    // Unlimited until the first throttled round.
    assert_eq!(next_window(None, 400, false), None);
    assert_eq!(next_window(None, 35, true), Some(35));
    // Nothing admitted: one `$batch` at a time, doubling while Graph admits them.
    assert_eq!(next_window(Some(35), 0, true), Some(20));
    assert_eq!(next_window(Some(20), 20, false), Some(40));
    assert_eq!(next_window(Some(usize::MAX), 9, false), Some(usize::MAX));
}

#[tokio::test]
async fn batch_get_each_keeps_chosen_errors_per_path() {
    let base = Arc::new(Mutex::new(String::new()));
    let b = base.clone();
    let server = start(
        move |c: &Call| match c.path.as_str() {
            "groups/gone/members" => {
                Reply::graph_error(404, "Request_ResourceNotFound", "Resource 'gone' does not exist")
            }
            // Deleted between its first and second page.
            "groups/later/members" if c.query.contains_key("$skiptoken") => {
                Reply::graph_error(404, "Request_ResourceNotFound", "Resource 'later' does not exist")
            }
            "groups/later/members" => Reply::json(json!({"value": [{"id": "m1"}],
                "@odata.nextLink": format!("{}/v1.0/groups/later/members?$skiptoken=2", b.lock().unwrap())})),
            "groups/typo/members" => Reply::graph_error(404, "", "no such segment"),
            "groups/secret/members" => {
                Reply::graph_error(403, "Authorization_RequestDenied", "Insufficient privileges")
            }
            _ => Reply::json(json!({"value": [{"id": "m0"}]})),
        },
        token_counter(),
    )
    .await;
    *base.lock().unwrap() = server.url.clone();
    let c = client(&server.url);
    let paths: Vec<String> = ["ok", "gone", "later"]
        .iter()
        .map(|g| format!("groups/{g}/members"))
        .collect();
    let results = c
        .batch_get_each(&paths, &GraphError::is_resource_not_found)
        .await
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap(), &vec![json!({"id": "m0"})]);
    for gone in &results[1..] {
        assert!(
            matches!(gone, Err(e) if e.is_resource_not_found()),
            "{gone:?}"
        );
    }
    // Errors the caller does not keep fail the whole read, as in `batch_get_all`.
    for path in ["groups/typo/members", "groups/secret/members"] {
        let err = c
            .batch_get_each(
                &["groups/ok/members".into(), path.into()],
                &GraphError::is_resource_not_found,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, GraphError::Http { path: p, .. } if p == path),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn the_pace_learnt_from_throttling_carries_over_to_the_next_read() {
    let first_calls = Arc::new(AtomicUsize::new(0));
    let n = first_calls.clone();
    let server = start(
        move |c: &Call| {
            // Half of the first read's first round is throttled once.
            if c.path.starts_with("first/") && n.fetch_add(1, Ordering::SeqCst) < 10 {
                too_many(Some("0.01"))
            } else {
                // Slow enough that every batch sent at once is in flight at once.
                Reply::json(json!({"value": []})).delay(Duration::from_millis(50))
            }
        },
        token_counter(),
    )
    .await;
    let mut s = settings(&server.url, Credential::ClientSecret(Secret::new(SECRET)));
    s.concurrency = 8;
    let c = GraphClient::with_timing(s, fast()).unwrap();
    let paths = |prefix: &str, n: usize| -> Vec<String> {
        (0..n).map(|i| format!("{prefix}/{i}/members")).collect()
    };
    c.batch_get_all(&paths("first", 20)).await.unwrap();
    // 10 of 20 admitted: one batch in the next round, which is not throttled: then two.
    server.max_in_flight.store(0, Ordering::SeqCst);
    c.batch_get_all(&paths("second", 100)).await.unwrap();
    // Without the pace, the second read would send its 100 items as 5 batches at once.
    let most = server.max_in_flight.load(Ordering::SeqCst);
    assert!(most <= 3, "{most} batches in flight");
    assert_eq!(c.metrics().throttled, 10);
}
