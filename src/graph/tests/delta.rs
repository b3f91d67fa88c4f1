//! Delta rounds over HTTP: pages in order whichever way a page orders its links, the chain
//! never following a link off Graph, and every way a page can fail.

use super::*;

/// The pages of a three-page round; `links_first`: the links before the items, as Graph sends
/// them.
fn pages(url: String, links_first: bool) -> impl Fn(&Call) -> Reply + Send + Sync + 'static {
    move |c: &Call| {
        let n: usize = c.query.get("$skiptoken").map_or(0, |t| t.parse().unwrap());
        let (field, link) = if n < 2 {
            (
                "@odata.nextLink",
                format!("{url}/v1.0/users/delta?$skiptoken={}", n + 1),
            )
        } else {
            (
                "@odata.deltaLink",
                format!("{url}/v1.0/users/delta?$deltatoken=d"),
            )
        };
        let items = users(n * 2, n * 2 + 2);
        let text = if links_first {
            format!(r#"{{"{field}": "{link}", "value": {}}}"#, json!(items))
        } else {
            format!(r#"{{"value": {}, "{field}": "{link}"}}"#, json!(items))
        };
        Reply::text(200, &text)
    }
}

/// The ids of each page a round handed over, and what the round returned.
async fn run(c: &GraphClient) -> (Vec<Vec<String>>, Result<String, GraphError>) {
    let mut seen = Vec::new();
    let result = c
        .get_delta_pages("users/delta?$select=id", false, |items| {
            seen.push(
                items
                    .into_iter()
                    .map(|i| match i {
                        DeltaItem::Object { props, .. } => {
                            props["id"].as_str().unwrap().to_string()
                        }
                        DeltaItem::Other => "other".into(),
                    })
                    .collect(),
            );
            Ok(())
        })
        .await;
    (seen, result)
}

/// The server's URL, known before it starts: the handler needs it for its links.
async fn serve(
    handler: impl Fn(String) -> Box<dyn Fn(&Call) -> Reply + Send + Sync> + Send + Sync + 'static,
) -> FakeGraph {
    let url = Arc::new(Mutex::new(String::new()));
    let shared = url.clone();
    let server = start(
        move |c: &Call| {
            let base = shared.lock().unwrap().clone();
            handler(base)(c)
        },
        token_counter(),
    )
    .await;
    *url.lock().unwrap() = server.url.clone();
    server
}

#[tokio::test]
async fn pages_come_in_order_wherever_their_links_are() {
    for links_first in [true, false] {
        let server = serve(move |url| Box::new(pages(url, links_first))).await;
        let (seen, result) = run(&client(&server.url)).await;
        assert_eq!(
            result.unwrap(),
            format!("{}/v1.0/users/delta?$deltatoken=d", server.url)
        );
        assert_eq!(
            seen,
            [["u0", "u1"], ["u2", "u3"], ["u4", "u5"]],
            "links first: {links_first}"
        );
        assert_eq!(server.calls_to("users/delta").len(), 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_off_graph_is_never_followed() {
    // Another server, as a link off Graph: it must never see a request (and the token).
    let elsewhere = start(
        |_c: &Call| Reply::json(json!({"value": []})),
        token_counter(),
    )
    .await;
    for field in ["@odata.nextLink", "@odata.deltaLink"] {
        let off = format!("{}/v1.0/users/delta?$skiptoken=2", elsewhere.url);
        // The first page links on to a second one on Graph, which links off it.
        let server = serve(move |url| {
            let off = off.clone();
            Box::new(move |c: &Call| {
                let link = match c.query.get("$skiptoken") {
                    None => format!("{url}/v1.0/users/delta?$skiptoken=1"),
                    Some(_) => off.clone(),
                };
                let field = if link == off {
                    field
                } else {
                    "@odata.nextLink"
                };
                Reply::text(200, &format!(r#"{{"{field}": "{link}", "value": []}}"#))
            })
        })
        .await;
        let c = client(&server.url);
        let result = c
            .get_delta_pages("users/delta", false, |_| {
                // A slow caller: the chain has all the time it needs to run ahead.
                std::thread::sleep(Duration::from_millis(300));
                Ok(())
            })
            .await;
        let err = result.unwrap_err();
        assert!(
            err.to_string()
                .contains("tenantgit sends its token only to Graph"),
            "{err}"
        );
        assert_eq!(server.calls_to("users/delta").len(), 2, "{field}");
    }
    assert!(elsewhere.calls().is_empty(), "{:?}", elsewhere.calls());
}

#[tokio::test]
async fn a_page_that_fails_ends_the_round_after_the_pages_before_it() {
    let server = serve(|url| {
        let first = pages(url, true);
        Box::new(move |c: &Call| {
            if c.query.contains_key("$skiptoken") {
                Reply::graph_error(500, "generalException", "boom")
            } else {
                first(c)
            }
        })
    })
    .await;
    let (seen, result) = run(&client(&server.url)).await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, GraphError::RetriesExhausted { .. }),
        "{err:?}"
    );
    assert_eq!(seen, [["u0", "u1"]]);
}

#[tokio::test]
async fn a_body_that_is_not_json_before_its_items_is_retried_and_one_cut_in_its_items_is_an_error()
{
    let server = serve(|_| Box::new(|_c: &Call| Reply::text(200, "<html>proxy</html>"))).await;
    let err = run(&client(&server.url)).await.1.unwrap_err();
    assert!(
        matches!(err, GraphError::RetriesExhausted { .. }),
        "{err:?}"
    );
    assert!(chain(&err).contains("not JSON"), "{}", chain(&err));
    assert!(server.calls_to("users/delta").len() > 1);

    let server = serve(|url| {
        Box::new(move |_c: &Call| {
            Reply::text(
                200,
                &format!(r#"{{"@odata.nextLink": "{url}/v1.0/users/delta?$skiptoken=1", "value": [{{"id": "u0"}}, {{"id"#),
            )
        })
    })
    .await;
    let (seen, result) = run(&client(&server.url)).await;
    let err = result.unwrap_err();
    assert!(matches!(err, GraphError::InvalidResponse { .. }), "{err:?}");
    assert!(chain(&err).contains("not JSON"), "{}", chain(&err));
    assert!(seen.is_empty());
}

#[tokio::test]
async fn a_caller_that_stops_stops_the_round() {
    let server = serve(|url| Box::new(pages(url, true))).await;
    let c = client(&server.url);
    let result = c
        .get_delta_pages("users/delta", false, |_| Err(GraphError::Stopped))
        .await;
    assert!(matches!(result, Err(GraphError::Stopped)), "{result:?}");
    // The chain asks for a page or two ahead at most, and no more once the round is dropped.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(server.calls_to("users/delta").len() <= 3);
}
