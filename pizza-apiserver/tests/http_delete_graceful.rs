//! Graceful deletion over real HTTPS (Pizzas opt in with a default grace period of 0;
//! Toppings do not): `gracePeriodSeconds` in the body or the query sets `deletionTimestamp`
//! and `deletionGracePeriodSeconds`, the object stays visible, and the server removes it
//! when the grace period ends; watchers see MODIFIED, then DELETED. Status codes as
//! upstream's `handlers/delete.go`: 200 with the object while it stays, 200 with a Status
//! once it is gone, 202 only for `orphanDependents: false` on an object that stays.

use std::time::{Duration, Instant};

use piazza::core::k8s_openapi::jiff;
use piazza_testing::{Method, TestClient, TestResponse};
use serde_json::{Value, json};

use crate::http_common::*;

/// `DELETE path` with a JSON DeleteOptions body.
async fn delete_with(client: &TestClient, path: &str, options: &Value) -> TestResponse {
    let body = serde_json::to_vec(options).unwrap();
    client.request(Method::DELETE, path, &[("content-type", "application/json")], body).await
}

/// Polls GET until the object answers 404.
async fn wait_gone(client: &TestClient, path: &str, within: Duration) -> Instant {
    let deadline = Instant::now() + within;
    loop {
        let response = client.get(path).await;
        if response.status == 404 {
            return Instant::now();
        }
        assert_eq!(response.status, 200, "{}", response.text());
        assert!(Instant::now() < deadline, "{path} still there after {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn deletion_timestamp(object: &Value) -> jiff::Timestamp {
    object["metadata"]["deletionTimestamp"]
        .as_str()
        .unwrap_or_else(|| panic!("no deletionTimestamp in {object}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_grace_period_keeps_the_pizza_visible_until_it_ends() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let created = create_pizza(&admin, "default", "slow", &[("tomato", 1)]).await;
    let mut watch = admin
        .watch(&format!("{}?watch=true&resourceVersion={}", pizzas("default"), rv(&created)))
        .await
        .expect("watch starts");

    let asked = jiff::Timestamp::now();
    let answer = delete_with(&admin, &pizza("default", "slow"), &json!({ "gracePeriodSeconds": 2 }))
        .await
        .expect_json(200);
    assert_eq!(answer["kind"], "Pizza", "a deletion that keeps the object answers the object");
    assert_eq!(answer["metadata"]["deletionGracePeriodSeconds"], 2);
    let deadline = deletion_timestamp(&answer);
    // Two seconds after the server took the request, which may itself take a moment on a
    // loaded machine.
    assert!(deadline.as_second() >= asked.as_second() + 2 && deadline.as_second() <= asked.as_second() + 4);
    assert_eq!(answer["metadata"]["generation"], 2);

    let visible = admin.get(&pizza("default", "slow")).await.expect_json(200);
    assert_eq!(visible["metadata"]["deletionTimestamp"], answer["metadata"]["deletionTimestamp"]);
    let listed = admin.get(&pizzas("default")).await.expect_json(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "still listed while deleting");

    let modified = watch.next_event().await;
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(modified["object"], answer);
    let deleted = watch.next_event().await;
    assert_eq!(deleted["type"], "DELETED");
    assert_eq!(deleted["object"]["metadata"]["name"], "slow");
    assert!(jiff::Timestamp::now().as_second() >= deadline.as_second(), "removed before its deadline");
    wait_gone(&admin, &pizza("default", "slow"), Duration::from_secs(5)).await;
    watch.expect_quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn the_grace_period_may_come_from_the_query_and_zero_deletes_at_once() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "default", "q", &[("tomato", 1)]).await;
    let answer =
        admin.delete(&format!("{}?gracePeriodSeconds=1", pizza("default", "q"))).await.expect_json(200);
    assert_eq!(answer["metadata"]["deletionGracePeriodSeconds"], 1);
    wait_gone(&admin, &pizza("default", "q"), Duration::from_secs(5)).await;

    create_pizza(&admin, "default", "now", &[("tomato", 1)]).await;
    let status =
        admin.delete(&format!("{}?gracePeriodSeconds=0", pizza("default", "now"))).await.expect_json(200);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Success");
    admin.get(&pizza("default", "now")).await.expect(404);

    // Without a grace period the sample's default (0) keeps deletes immediate.
    create_pizza(&admin, "default", "plain", &[("tomato", 1)]).await;
    assert_eq!(admin.delete(&pizza("default", "plain")).await.expect_json(200)["kind"], "Status");

    // A malformed grace period is a 400.
    create_pizza(&admin, "default", "bad", &[("tomato", 1)]).await;
    admin.delete(&format!("{}?gracePeriodSeconds=soon", pizza("default", "bad"))).await.expect(400);
}

#[tokio::test]
async fn a_second_delete_may_only_shorten_the_grace_period() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "default", "s", &[("tomato", 1)]).await;
    let path = pizza("default", "s");
    let first = delete_with(&admin, &path, &json!({ "gracePeriodSeconds": 300 })).await.expect_json(200);

    // Longer or the same: nothing changes, and the answer is a Status, as upstream.
    let again = delete_with(&admin, &path, &json!({ "gracePeriodSeconds": 600 })).await.expect_json(200);
    assert_eq!(again["kind"], "Status");
    let current = admin.get(&path).await.expect_json(200);
    assert_eq!(current, first);

    let shorter = delete_with(&admin, &path, &json!({ "gracePeriodSeconds": 1 })).await.expect_json(200);
    assert_eq!(shorter["metadata"]["deletionGracePeriodSeconds"], 1);
    assert_eq!(deletion_timestamp(&shorter).as_second(), deletion_timestamp(&first).as_second() - 299);
    wait_gone(&admin, &path, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn orphan_dependents_false_on_a_kept_object_is_202() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "default", "a", &[("tomato", 1)]).await;
    let answer = delete_with(
        &admin,
        &pizza("default", "a"),
        &json!({ "gracePeriodSeconds": 60, "orphanDependents": false }),
    )
    .await
    .expect_json(202);
    assert_eq!(answer["kind"], "Pizza");
    // Removed at once: 200, whatever orphanDependents says.
    create_pizza(&admin, "default", "b", &[("tomato", 1)]).await;
    delete_with(&admin, &pizza("default", "b"), &json!({ "orphanDependents": false })).await.expect(200);
}

#[tokio::test]
async fn a_kind_without_graceful_deletion_ignores_the_grace_period() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let status =
        delete_with(&admin, &topping("salami"), &json!({ "gracePeriodSeconds": 30 })).await.expect_json(200);
    assert_eq!(status["kind"], "Status");
    admin.get(&topping("salami")).await.expect(404);
}

#[tokio::test]
async fn the_answer_is_in_the_requested_version_and_deletecollection_passes_the_options_on() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "default", "a", &[("salami", 2)]).await;
    create_pizza(&admin, "default", "b", &[("tomato", 1)]).await;
    let alpha = delete_with(
        &admin,
        &format!("{}/a", alpha_pizzas("default")),
        &json!({ "apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 60 }),
    )
    .await
    .expect_json(200);
    assert_eq!(alpha["apiVersion"], format!("{GROUP}/v1alpha1"));
    assert_eq!(alpha["spec"]["toppings"], json!(["salami", "salami"]));

    let list = admin.delete(&format!("{}?gracePeriodSeconds=60", pizzas("default"))).await.expect_json(200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        assert!(item["metadata"]["deletionTimestamp"].is_string(), "{item}");
    }
    let listed = admin.get(&pizzas("default")).await.expect_json(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "both still there, deleting");
}

#[tokio::test]
async fn a_graceful_delete_through_the_menu_group_is_reaped_by_the_pizzas_store() {
    // Only `pizzas` runs a reaper for the shared keys (the menu store is built without one),
    // so a grace period set through menu.piazza.dev must still end in a removal.
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "default", "menu-slow", &[("tomato", 1)]).await;
    let menu_pizza = "/apis/menu.piazza.dev/v1/namespaces/default/pizzas/menu-slow";
    let answer = delete_with(&admin, menu_pizza, &json!({ "gracePeriodSeconds": 1 })).await.expect_json(200);
    assert_eq!(answer["apiVersion"], "menu.piazza.dev/v1");
    assert_eq!(answer["metadata"]["deletionGracePeriodSeconds"], 1);
    let gone = wait_gone(&admin, &pizza("default", "menu-slow"), Duration::from_secs(10)).await;
    assert!(jiff::Timestamp::now() >= deletion_timestamp(&answer), "removed before its deadline at {gone:?}");
}
