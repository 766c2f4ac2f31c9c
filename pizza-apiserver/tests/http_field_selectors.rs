//! Field selectors on the Pizza's declared selectable fields (`status.phase`, `spec.slices`)
//! over HTTP, for lists and watches, as upstream's CRD `selectableFields`.

use crate::support;

use std::time::Duration;

use piazza_testing::TestClient;
use serde_json::{Value, json};

use crate::http_common::*;

/// The names in a list, in order.
fn names(list: &Value) -> Vec<&str> {
    list["items"].as_array().unwrap().iter().map(|p| p["metadata"]["name"].as_str().unwrap()).collect()
}

/// Lists the default namespace's pizzas with a URL-encoded field selector.
async fn select(admin: &TestClient, encoded: &str) -> Vec<String> {
    let list = admin.get(&format!("{}?fieldSelector={encoded}", pizzas("default"))).await.expect_json(200);
    names(&list).into_iter().map(str::to_owned).collect()
}

/// Sets a pizza's `spec.slices` with a PUT and returns the updated object.
async fn set_slices(admin: &TestClient, name: &str, slices: i64) -> Value {
    let mut object = admin.get(&pizza("default", name)).await.expect_json(200);
    object["spec"]["slices"] = json!(slices);
    admin.put(&pizza("default", name), &object).await.expect_json(200)
}

#[tokio::test]
async fn lists_select_on_phase_and_slices() {
    let (_server, admin) = start_with_toppings().await;
    for name in ["a", "b", "c"] {
        create_pizza(&admin, "default", name, &[("tomato", 1)]).await;
    }
    set_slices(&admin, "b", 12).await;
    admin.post(&format!("{}/bake", pizza("default", "c")), &json!({})).await.expect(201);

    assert_eq!(select(&admin, "status.phase%3DBaked").await, ["c"]);
    assert_eq!(select(&admin, "status.phase%3D%3DBaked").await, ["c"]);
    assert_eq!(select(&admin, "status.phase%21%3DBaked").await, ["a", "b"]);
    assert_eq!(select(&admin, "spec.slices%3D12").await, ["b"]);
    assert_eq!(select(&admin, "spec.slices%21%3D12").await, ["a", "c"]);
    assert_eq!(select(&admin, "spec.slices%3D8,metadata.name%21%3Da").await, ["c"]);
    // No pizza matches; the older version selects on the same fields.
    assert!(select(&admin, "spec.slices%3D7").await.is_empty());
    let alpha = admin.get(&format!("{}?fieldSelector=spec.slices%3D12", alpha_pizzas("default"))).await;
    assert_eq!(names(&alpha.expect_json(200)), ["b"]);
    // Pages of a selected list hold only matching pizzas.
    let page = admin
        .get(&format!("{}?fieldSelector=spec.slices%3D8&limit=1", pizzas("default")))
        .await
        .expect_json(200);
    assert_eq!(names(&page), ["a"]);
    let token = page["metadata"]["continue"].as_str().expect("a continue token");
    let rest = admin
        .get(&format!("{}?fieldSelector=spec.slices%3D8&limit=1&continue={token}", pizzas("default")))
        .await
        .expect_json(200);
    assert_eq!(names(&rest), ["c"]);
}

#[tokio::test]
async fn unsupported_fields_are_400() {
    let (_server, admin) = start_with_toppings().await;
    for (query, field) in
        [("spec.cost%3D1", "spec.cost"), ("status.phase%3DBaked,spec.toppings%3Dx", "spec.toppings")]
    {
        let response = admin.get(&format!("{}?fieldSelector={query}", pizzas("default"))).await;
        let status = response.expect_status(400, "BadRequest");
        assert_eq!(status["message"], format!("field label not supported: {field}"));
        let response = admin.get(&format!("{}?watch=true&fieldSelector={query}", pizzas("default"))).await;
        response.expect_status(400, "BadRequest");
    }
    // Toppings declare no fields of their own.
    let response = admin.get(&format!("{}?fieldSelector=spec.cost%3D1", toppings())).await;
    assert_eq!(response.expect_status(400, "BadRequest")["message"], "field label not supported: spec.cost");
}

#[tokio::test]
async fn watches_see_pizzas_enter_and_leave_the_selection() {
    let (_server, admin) = start_with_toppings().await;
    let list = admin.get(&pizzas("default")).await.expect_json(200);
    let url = |selector: &str| {
        format!("{}?watch=true&resourceVersion={}&fieldSelector={selector}", pizzas("default"), rv(&list))
    };
    let mut eight = admin.watch(&url("spec.slices%3D8")).await.expect("watch starts");
    let mut baked = admin.watch(&url("status.phase%3DBaked")).await.expect("watch starts");

    let created = create_pizza(&admin, "default", "a", &[("tomato", 1)]).await;
    let event = eight.next_event().await;
    assert_eq!((&event["type"], &event["object"]), (&json!("ADDED"), &created));

    // Leaving the selection: DELETED with the last matching state at the update's version.
    let updated = set_slices(&admin, "a", 12).await;
    let event = eight.next_event().await;
    assert_eq!(event["type"], "DELETED");
    assert_eq!(event["object"]["spec"]["slices"], 8);
    assert_eq!(rv(&event["object"]), rv(&updated));

    // Entering it again: ADDED with the new state.
    let back = set_slices(&admin, "a", 8).await;
    let event = eight.next_event().await;
    assert_eq!((&event["type"], &event["object"]), (&json!("ADDED"), &back));

    // Baking enters the `status.phase=Baked` selection; changes inside it are MODIFIED.
    let oven = admin.post(&format!("{}/bake", pizza("default", "a")), &json!({})).await.expect_json(201);
    let event = baked.next_event().await;
    assert_eq!(event["type"], "ADDED");
    assert_eq!((&event["object"]["status"]["phase"], rv(&event["object"])), (&json!("Baked"), rv(&oven)));
    assert_eq!(eight.next_event().await["type"], "MODIFIED");
    set_slices(&admin, "a", 6).await;
    assert_eq!(baked.next_event().await["type"], "MODIFIED");
    assert_eq!(eight.next_event().await["type"], "DELETED");

    // Deleting a baked pizza is DELETED for the baked watcher only.
    admin.delete(&pizza("default", "a")).await.expect(200);
    let event = baked.next_event().await;
    assert_eq!((&event["type"], &event["object"]["spec"]["slices"]), (&json!("DELETED"), &json!(6)));
    eight.expect_quiet(Duration::from_millis(200)).await;
    baked.expect_quiet(Duration::from_millis(200)).await;
}

/// `kubectl get --field-selector` on a declared field, against the real binary.
#[test]
fn kubectl_selects_on_declared_fields() {
    let dir = support::TempDir::new("field-selectors");
    let server = support::Server::start(&dir);
    let k = server.kubectl();
    k.ok(&["apply", "-f", &support::example("toppings.yaml")]);
    for name in ["a", "b"] {
        let spec = json!({"toppings": [{"name": "tomato", "quantity": 1}]});
        k.ok_stdin(&["create", "-f", "-"], &support::pizza_json("v1beta1", name, spec));
    }
    k.ok(&["patch", "pizza", "b", "--type=merge", "-p", r#"{"spec":{"slices":12}}"#]);
    for (selector, want) in [("spec.slices=12", "b"), ("spec.slices!=12", "a")] {
        let out = k.ok(&["get", "pizzas", "--field-selector", selector, "-o", "name"]);
        assert_eq!(out.lines().collect::<Vec<_>>(), [format!("pizza.{GROUP}/{want}")], "{selector}");
    }
    let out = k.fails(&["get", "pizzas", "--field-selector", "spec.cost=1"]);
    assert!(out.stderr.contains("field label not supported: spec.cost"), "{out}");
}
