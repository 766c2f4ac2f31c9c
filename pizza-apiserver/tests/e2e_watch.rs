//! A port, in our own code, of the five scenarios of upstream's end-to-end watch test
//! (`test/e2e/apimachinery/watch.go`), on Pizzas instead of ConfigMaps, over real HTTPS.

use std::collections::BTreeSet;
use std::time::Duration;

use piazza_testing::{TestClient, WatchStream};
use serde_json::{Value, json};

use crate::http_common::*;

const NS: &str = "e2e-watch";
const LABEL: &str = "watch-this-pizza";
/// How long "no event" is waited for.
const QUIET: Duration = Duration::from_millis(300);

/// Opens a watch on pizzas whose label `LABEL` has one of `values`, from `rv` ("" = now).
async fn watch_labelled(client: &TestClient, rv: &str, values: &[&str]) -> WatchStream {
    let selector = format!("{LABEL} in ({})", values.join(","));
    let encoded = selector.replace(' ', "%20").replace(',', "%2C").replace('(', "%28").replace(')', "%29");
    let mut path = format!("{}?watch=true&labelSelector={encoded}", pizzas(NS));
    if !rv.is_empty() {
        path.push_str(&format!("&resourceVersion={rv}"));
    }
    client.watch(&path).await.unwrap_or_else(|r| panic!("watch refused: {}", r.text()))
}

/// Creates a pizza labelled `LABEL=value`.
async fn create_labelled(client: &TestClient, name: &str, value: &str) -> Value {
    let mut pizza = pizza_obj(name, &[("tomato", 1)]);
    pizza["metadata"]["labels"] = json!({ LABEL: value });
    client.post(&pizzas(NS), &pizza).await.expect_json(201)
}

/// Reads, changes and writes back a pizza (the e2e test's `updateConfigMap`).
async fn update(client: &TestClient, name: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut object = client.get(&pizza(NS, name)).await.expect_json(200);
    change(&mut object);
    client.put(&pizza(NS, name), &object).await.expect_json(200)
}

/// The e2e test's `setConfigMapData(cm, "mutation", n)`: a spec change.
fn mutation(n: i64) -> impl FnOnce(&mut Value) {
    move |pizza| pizza["spec"]["toppings"] = json!([{ "name": "tomato", "quantity": n + 1 }])
}

fn relabel(value: &'static str) -> impl FnOnce(&mut Value) {
    move |pizza| pizza["metadata"]["labels"][LABEL] = json!(value)
}

/// The next event must be `kind`, and carry `object` exactly when given.
async fn expect_event(watch: &mut WatchStream, kind: &str, object: Option<&Value>) -> Value {
    let event = watch.next_event().await;
    assert_eq!(event["type"], kind, "{event}");
    if let Some(object) = object {
        assert_eq!(&event["object"], object);
    }
    event
}

#[tokio::test]
async fn add_update_delete_reach_exactly_the_matching_watchers() {
    let (_server, c) = start_with_toppings().await;
    let mut watch_a = watch_labelled(&c, "", &["multiple-watchers-A"]).await;
    let mut watch_b = watch_labelled(&c, "", &["multiple-watchers-B"]).await;
    let mut watch_ab = watch_labelled(&c, "", &["multiple-watchers-A", "multiple-watchers-B"]).await;

    let a = create_labelled(&c, "e2e-watch-test-pizza-a", "multiple-watchers-A").await;
    expect_event(&mut watch_a, "ADDED", Some(&a)).await;
    expect_event(&mut watch_ab, "ADDED", Some(&a)).await;
    watch_b.expect_quiet(QUIET).await;

    for n in 1..=2 {
        let a = update(&c, "e2e-watch-test-pizza-a", mutation(n)).await;
        expect_event(&mut watch_a, "MODIFIED", Some(&a)).await;
        expect_event(&mut watch_ab, "MODIFIED", Some(&a)).await;
        watch_b.expect_quiet(QUIET).await;
    }

    c.delete(&pizza(NS, "e2e-watch-test-pizza-a")).await.expect(200);
    expect_event(&mut watch_a, "DELETED", None).await;
    expect_event(&mut watch_ab, "DELETED", None).await;
    watch_b.expect_quiet(QUIET).await;

    let b = create_labelled(&c, "e2e-watch-test-pizza-b", "multiple-watchers-B").await;
    expect_event(&mut watch_b, "ADDED", Some(&b)).await;
    expect_event(&mut watch_ab, "ADDED", Some(&b)).await;
    watch_a.expect_quiet(QUIET).await;

    c.delete(&pizza(NS, "e2e-watch-test-pizza-b")).await.expect(200);
    expect_event(&mut watch_b, "DELETED", None).await;
    expect_event(&mut watch_ab, "DELETED", None).await;
    watch_a.expect_quiet(QUIET).await;
}

#[tokio::test]
async fn a_watch_from_a_past_resource_version_sees_only_later_changes() {
    let (_server, c) = start_with_toppings().await;
    let name = "e2e-watch-test-resource-version";
    create_labelled(&c, name, "from-resource-version").await;
    let first = update(&c, name, mutation(1)).await;
    let second = update(&c, name, mutation(2)).await;
    c.delete(&pizza(NS, name)).await.expect(200);

    let mut watch = watch_labelled(&c, &rv(&first).to_string(), &["from-resource-version"]).await;
    expect_event(&mut watch, "MODIFIED", Some(&second)).await;
    let deleted = expect_event(&mut watch, "DELETED", None).await;
    assert_eq!(deleted["object"]["spec"], second["spec"]);
    watch.expect_quiet(QUIET).await;
}

#[tokio::test]
async fn a_watch_restarted_from_the_last_seen_version_misses_nothing() {
    let (_server, c) = start_with_toppings().await;
    let name = "e2e-watch-test-watch-closed";
    let mut broken = watch_labelled(&c, "", &["watch-closed-and-restarted"]).await;
    let created = create_labelled(&c, name, "watch-closed-and-restarted").await;
    update(&c, name, mutation(1)).await;
    expect_event(&mut broken, "ADDED", Some(&created)).await;
    let last = expect_event(&mut broken, "MODIFIED", None).await;
    drop(broken);

    let second = update(&c, name, mutation(2)).await;
    let mut restarted =
        watch_labelled(&c, &rv(&last["object"]).to_string(), &["watch-closed-and-restarted"]).await;
    c.delete(&pizza(NS, name)).await.expect(200);
    expect_event(&mut restarted, "MODIFIED", Some(&second)).await;
    expect_event(&mut restarted, "DELETED", None).await;
}

#[tokio::test]
async fn leaving_the_selector_is_a_delete_and_coming_back_an_add() {
    let (_server, c) = start_with_toppings().await;
    let name = "e2e-watch-test-label-changed";
    let mut watch = watch_labelled(&c, "", &["label-changed-and-restored"]).await;
    let created = create_labelled(&c, name, "label-changed-and-restored").await;
    let first = update(&c, name, mutation(1)).await;
    update(&c, name, relabel("wrong-value")).await;
    expect_event(&mut watch, "ADDED", Some(&created)).await;
    expect_event(&mut watch, "MODIFIED", Some(&first)).await;
    let left = expect_event(&mut watch, "DELETED", None).await;
    assert_eq!(
        left["object"]["metadata"]["labels"][LABEL], "label-changed-and-restored",
        "last matching state"
    );

    update(&c, name, mutation(2)).await;
    watch.expect_quiet(QUIET).await;

    let restored = update(&c, name, relabel("label-changed-and-restored")).await;
    let third = update(&c, name, mutation(3)).await;
    c.delete(&pizza(NS, name)).await.expect(200);
    expect_event(&mut watch, "ADDED", Some(&restored)).await;
    expect_event(&mut watch, "MODIFIED", Some(&third)).await;
    expect_event(&mut watch, "DELETED", None).await;
}

/// Writes `count` random creates, updates and deletes over a few names.
async fn produce(c: TestClient, count: usize) {
    let mut live = BTreeSet::new();
    // A small deterministic generator: the test must not depend on luck.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..count {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let name = format!("pizza-{}", state % 10);
        if !live.contains(&name) {
            let mut pizza = pizza_obj(&name, &[("tomato", 1)]);
            pizza["metadata"]["labels"] = json!({ LABEL: "consistency" });
            c.post(&pizzas(NS), &pizza).await.expect(201);
            live.insert(name);
        } else if state.is_multiple_of(3) {
            c.delete(&pizza(NS, &name)).await.expect(200);
            live.remove(&name);
        } else {
            // A quantity never used before: every update is a real change, hence an event.
            update(&c, &name, mutation(i as i64)).await;
        }
    }
}

#[tokio::test]
async fn concurrent_watches_see_the_same_events_in_the_same_order() {
    let (_server, c) = start_with_toppings().await;
    const EVENTS: usize = 120;
    let start_rv = rv(&c.get(&pizzas(NS)).await.expect_json(200));
    let producer = tokio::spawn(produce(c.clone(), EVENTS));

    // The first watch from the start; every event it sees starts another watch at that
    // event's resourceVersion, which must then see exactly the first watch's later events.
    let mut first = watch_labelled(&c, &start_rv.to_string(), &["consistency"]).await;
    let mut seen = Vec::new();
    let mut followers = Vec::new();
    for index in 0..EVENTS {
        let event = first.next_event().await;
        let event_rv = rv(&event["object"]);
        seen.push((event["type"].as_str().unwrap().to_owned(), event_rv));
        if index % 10 == 0 {
            followers.push((index, watch_labelled(&c, &event_rv.to_string(), &["consistency"]).await));
        }
    }
    producer.await.expect("producer finished");
    for (index, mut follower) in followers {
        for expected in &seen[index + 1..] {
            let event = follower.next_event().await;
            let got = (event["type"].as_str().unwrap().to_owned(), rv(&event["object"]));
            assert_eq!(&got, expected, "watch started after event {index}");
        }
    }
    let versions: Vec<u64> = seen.iter().map(|(_, v)| *v).collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "resourceVersions increase: {versions:?}");
}
