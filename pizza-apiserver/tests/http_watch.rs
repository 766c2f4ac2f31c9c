//! Watch over real HTTPS: newline-delimited JSON `WatchEvent`s with upstream's semantics
//! (`storage/testing/watcher_tests.go`, `endpoints/handlers/watch.go`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::http_common::*;

fn names_of(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["object"]["metadata"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn writes_become_added_modified_deleted() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let list = admin.get(&pizzas("default")).await.expect_json(200);
    let mut watch = admin
        .watch(&format!("{}?watch=true&resourceVersion={}", pizzas("default"), rv(&list)))
        .await
        .expect("watch starts");
    assert_eq!(watch.headers()["content-type"], "application/json");

    let created = create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    let added = watch.next_event().await;
    assert_eq!(added["type"], "ADDED");
    assert_eq!(added["object"], created, "the event carries the object as the create answered it");

    let mut changed = created.clone();
    changed["spec"]["toppings"] = json!([{ "name": "tomato", "quantity": 2 }]);
    let updated = admin.put(&pizza("default", "margherita"), &changed).await.expect_json(200);
    let modified = watch.next_event().await;
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(modified["object"], updated);

    // Other namespaces, and an update that changes nothing, produce no event.
    create_pizza(&admin, "default-other", "margherita", &[("tomato", 1)]).await;
    admin.put(&pizza("default", "margherita"), &updated).await.expect(200);

    admin.delete(&pizza("default", "margherita")).await.expect(200);
    let deleted = watch.next_event().await;
    assert_eq!(deleted["type"], "DELETED");
    assert_eq!(deleted["object"]["metadata"]["name"], "margherita");
    assert_eq!(deleted["object"]["spec"], updated["spec"], "the last state of the object");
    // The DELETED object carries the resourceVersion of the delete itself.
    let after = admin.get(&pizzas("default")).await.expect_json(200);
    assert_eq!(rv(&deleted["object"]), rv(&after));
    assert!(rv(&deleted["object"]) > rv(&updated));
    watch.expect_quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn events_are_encoded_in_the_watched_version() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let mut watch = admin.watch(&format!("{}?watch=1", alpha_pizzas("default"))).await.expect("watch starts");
    create_pizza(&admin, "default", "margherita", &[("salami", 2), ("tomato", 1)]).await;
    let event = watch.next_event().await;
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["apiVersion"], format!("{GROUP}/v1alpha1"));
    assert_eq!(event["object"]["spec"]["toppings"], json!(["salami", "salami", "tomato"]));
}

#[tokio::test]
async fn watch_resumes_after_a_resource_version() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let a = create_pizza(&admin, "default", "a", &[("tomato", 1)]).await;
    let b = create_pizza(&admin, "default", "b", &[("tomato", 1)]).await;
    admin.delete(&pizza("default", "b")).await.expect(200);
    let c = create_pizza(&admin, "default", "c", &[("tomato", 1)]).await;

    let mut watch = admin
        .watch(&format!("{}?watch=true&resourceVersion={}", pizzas("default"), rv(&a)))
        .await
        .expect("watch starts");
    let events = vec![watch.next_event().await, watch.next_event().await, watch.next_event().await];
    assert_eq!(
        names_of(&events),
        [("ADDED".into(), "b".into()), ("DELETED".into(), "b".into()), ("ADDED".into(), "c".into())],
        "every event after the resourceVersion, in order, nothing before it"
    );
    assert_eq!(events[0]["object"], b);
    assert_eq!(events[2]["object"], c);
    let rvs: Vec<u64> = events.iter().map(|e| rv(&e["object"])).collect();
    assert!(rvs.windows(2).all(|w| w[0] < w[1]), "strictly increasing: {rvs:?}");
    watch.expect_quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn watch_without_resource_version_starts_with_the_current_state() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "default", "a", &[("tomato", 1)]).await;
    create_pizza(&admin, "default", "b", &[("tomato", 1)]).await;
    for query in ["watch=true", "watch=true&resourceVersion=0"] {
        let mut watch = admin.watch(&format!("{}?{query}", pizzas("default"))).await.expect("watch starts");
        let events = vec![watch.next_event().await, watch.next_event().await];
        assert_eq!(
            names_of(&events),
            [("ADDED".into(), "a".into()), ("ADDED".into(), "b".into())],
            "{query}"
        );
    }
}

#[tokio::test]
async fn send_initial_events_ends_with_an_annotated_bookmark() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "default", "a", &[("tomato", 1)]).await;
    let b = create_pizza(&admin, "default", "b", &[("tomato", 1)]).await;
    create_pizza(&admin, "elsewhere", "x", &[("tomato", 1)]).await;

    let mut watch = admin
        .watch(&format!(
            "{}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
            pizzas("default")
        ))
        .await
        .expect("watch-list starts");
    let initial = vec![watch.next_event().await, watch.next_event().await];
    assert_eq!(names_of(&initial), [("ADDED".into(), "a".into()), ("ADDED".into(), "b".into())]);

    let bookmark = watch.next_event().await;
    assert_eq!(bookmark["type"], "BOOKMARK", "{bookmark}");
    let object = &bookmark["object"];
    assert_eq!(object["kind"], "Pizza");
    assert_eq!(object["apiVersion"], format!("{GROUP}/v1beta1"));
    assert_eq!(object["metadata"]["annotations"], json!({ "k8s.io/initial-events-end": "true" }));
    assert!(rv(object) >= rv(&b), "the bookmark is at least as new as the initial state");

    let c = create_pizza(&admin, "default", "c", &[("tomato", 1)]).await;
    let event = watch.next_event().await;
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"], c);
}

#[tokio::test]
async fn send_initial_events_with_an_older_resource_version() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let a = create_pizza(&admin, "default", "a", &[("tomato", 1)]).await;
    create_pizza(&admin, "default", "b", &[("tomato", 1)]).await;
    let mut watch = admin
        .watch(&format!(
            "{}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion={}",
            pizzas("default"),
            rv(&a)
        ))
        .await
        .expect("watch-list starts");
    // A state not older than the given resourceVersion: both objects, then the bookmark.
    let initial = vec![watch.next_event().await, watch.next_event().await];
    assert_eq!(names_of(&initial), [("ADDED".into(), "a".into()), ("ADDED".into(), "b".into())]);
    let bookmark = watch.next_event().await;
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(bookmark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
}

const WATCH_LIST_WITHOUT_NOT_OLDER_THAN: [&str; 3] = [
    "watch=true&sendInitialEvents=true&allowWatchBookmarks=true",
    "watch=true&sendInitialEvents=false",
    "watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=Exact&resourceVersion=1",
];

#[tokio::test]
async fn send_initial_events_requires_resource_version_match() {
    let server = start().await;
    let admin = server.admin_client();
    for query in WATCH_LIST_WITHOUT_NOT_OLDER_THAN {
        let response = admin.watch(&format!("{}?{query}", pizzas("default"))).await.expect_err("rejected");
        let status = response.expect_status(422, "Invalid");
        let causes = status["details"]["causes"].as_array().unwrap();
        assert!(
            causes.contains(&json!({
                "reason": "FieldValueForbidden",
                "message": "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                "field": "resourceVersionMatch",
            })),
            "{query}: {causes:?}"
        );
    }
}

#[tokio::test]
async fn watch_list_validation_errors_name_list_options() {
    let server = start().await;
    let admin = server.admin_client();
    for query in WATCH_LIST_WITHOUT_NOT_OLDER_THAN {
        let response = admin.watch(&format!("{}?{query}", pizzas("default"))).await.expect_err("rejected");
        // Upstream validates the query with ValidateListOptions and reports an invalid
        // ListOptions.meta.k8s.io (handlers/get.go), not an invalid Pizza.
        let status = response.expect_status(422, "Invalid");
        let message = status["message"].as_str().unwrap();
        assert!(
            message.starts_with(
                "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
            ),
            "{query}: {message}"
        );
        assert_eq!(status["details"]["group"], "meta.k8s.io", "{query}");
        assert_eq!(status["details"]["kind"], "ListOptions", "{query}");
    }
}

#[tokio::test]
async fn timeout_seconds_ends_the_stream_cleanly() {
    let server = start().await;
    let admin = server.admin_client();
    for client in [admin.clone(), admin.http2()] {
        let started = Instant::now();
        let mut watch = client
            .watch(&format!("{}?watch=true&timeoutSeconds=1", pizzas("default")))
            .await
            .expect("watch starts");
        watch.expect_end(Duration::from_secs(5)).await.expect("a clean end of the response");
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    }
}

#[tokio::test]
async fn compacted_resource_version_is_a_terminal_410_error_event() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let a = create_pizza(&admin, "default", "a", &[("tomato", 1)]).await;
    create_pizza(&admin, "default", "b", &[("tomato", 1)]).await;
    let c = create_pizza(&admin, "default", "c", &[("tomato", 1)]).await;
    server.storage().compact(rv(&c)).await.expect("compaction");

    let mut watch = admin
        .watch(&format!("{}?watch=true&resourceVersion={}", pizzas("default"), rv(&a)))
        .await
        .expect("the watch starts, then reports the error in-stream");
    let event = watch.next_event().await;
    assert_eq!(event["type"], "ERROR", "{event}");
    let status = &event["object"];
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["apiVersion"], "v1");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["code"], 410);
    assert_eq!(status["reason"], "Expired");
    let message = status["message"].as_str().unwrap();
    assert!(message.starts_with("too old resource version: "), "{message}");
    watch.expect_end(Duration::from_secs(5)).await.expect("ERROR is terminal and the stream ends cleanly");

    // A list at the compacted resourceVersion is a 410 too.
    let status = admin
        .get(&format!("{}?resourceVersion={}&resourceVersionMatch=Exact", pizzas("default"), rv(&a)))
        .await
        .expect_status(410, "Expired");
    assert!(status["message"].as_str().is_some_and(|m| !m.is_empty()));
}
