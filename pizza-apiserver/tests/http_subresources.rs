//! Subresources over real TLS: `pizzas/<name>/status`, `scale` (`autoscaling/v1` `Scale`),
//! the `bake` action and the streaming `oven` log; 404 for unknown subresources, 405 for
//! verbs a subresource does not serve; discovery; and authorization seeing the subresource.

use std::time::Duration;

use crate::http_common::*;
use bytes::Bytes;
use http_body_util::BodyExt;
use piazza_testing::{Method, TestClient};
use serde_json::json;

fn sub(ns: &str, name: &str, subresource: &str) -> String {
    format!("{}/{subresource}", pizza(ns, name))
}

fn message(response: &piazza_testing::TestResponse) -> String {
    response.json()["message"].as_str().unwrap_or_default().to_owned()
}

/// Polls `check` until it holds (10 s at most).
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn status_updates_change_only_the_status_and_main_updates_keep_it() {
    let (_server, admin) = start_with_toppings().await;
    let created = create_pizza(&admin, "default", "margherita", &[("salami", 2), ("tomato", 1)]).await;
    // The cost is computed on write: 2 × 1.0 + 1 × 0.25.
    assert_eq!(created["status"]["cost"], 2.25);
    assert_eq!(created["spec"]["slices"], 8);

    let got = admin.get(&sub("default", "margherita", "status")).await.expect_json(200);
    assert_eq!(got["kind"], "Pizza");
    assert_eq!(got["spec"], created["spec"]);

    // PUT /status: the spec change is dropped, the status change and a new label are kept.
    let mut body = got.clone();
    body["spec"]["toppings"] = json!([{ "name": "mozzarella", "quantity": 5 }]);
    body["spec"]["slices"] = json!(3);
    body["status"]["cost"] = json!(9.5);
    body["metadata"]["labels"] = json!({ "oven": "wood" });
    let updated = admin.put(&sub("default", "margherita", "status"), &body).await.expect_json(200);
    assert_eq!(updated["spec"], created["spec"]);
    assert_eq!(updated["status"]["cost"], 9.5);
    assert_eq!(updated["metadata"]["labels"]["oven"], "wood");
    assert_eq!(updated["metadata"]["generation"], created["metadata"]["generation"]);

    // PATCH /status works the same way.
    let patched = admin
        .patch(
            &sub("default", "margherita", "status"),
            &json!({ "spec": { "slices": 2 }, "status": { "cost": 7.0 } }),
        )
        .await
        .expect_json(200);
    assert_eq!(patched["spec"]["slices"], 8);
    assert_eq!(patched["status"]["cost"], 7.0);

    // An invalid status is a 422 naming the status field.
    admin
        .patch(&sub("default", "margherita", "status"), &json!({ "status": { "cost": -1.0 } }))
        .await
        .expect_status(422, "Invalid");

    // PUT on the pizza itself: spec changes apply, the status in the body is ignored (the
    // cost is recomputed from the new toppings).
    let mut main = admin.get(&pizza("default", "margherita")).await.expect_json(200);
    main["spec"]["toppings"] = json!([{ "name": "mozzarella", "quantity": 2 }]);
    main["status"]["cost"] = json!(999.0);
    main["status"]["phase"] = json!("Baked");
    let replaced = admin.put(&pizza("default", "margherita"), &main).await.expect_json(200);
    assert_eq!(replaced["spec"]["toppings"], json!([{ "name": "mozzarella", "quantity": 2 }]));
    assert_eq!(replaced["status"]["cost"], 1.0);
    assert!(replaced["status"].get("phase").is_none(), "{replaced}");
}

#[tokio::test]
async fn topping_cost_changes_reprice_the_pizzas_that_use_them() {
    let (_server, admin) = start_with_toppings().await;
    create_pizza(&admin, "default", "salami-only", &[("salami", 3)]).await;
    create_pizza(&admin, "other", "plain", &[("tomato", 1)]).await;
    let mut salami = admin.get(&topping("salami")).await.expect_json(200);
    salami["spec"]["cost"] = json!(2.0);
    admin.put(&topping("salami"), &salami).await.expect(200);
    eventually("the salami pizza to cost 6", async || {
        admin.get(&pizza("default", "salami-only")).await.json()["status"]["cost"] == 6.0
    })
    .await;
    // The pizza without salami was not rewritten.
    let plain = admin.get(&pizza("other", "plain")).await.expect_json(200);
    assert_eq!(plain["status"]["cost"], 0.25);
    assert_eq!(
        plain["metadata"]["resourceVersion"],
        admin.get(&pizza("other", "plain")).await.json()["metadata"]["resourceVersion"]
    );
}

#[tokio::test]
async fn unknown_subresources_are_404_and_unserved_verbs_405() {
    let (_server, admin) = start_with_toppings().await;
    create_pizza(&admin, "default", "margherita", &[("salami", 1)]).await;
    let response = admin.get(&sub("default", "margherita", "nope")).await;
    response.expect_status(404, "NotFound");
    assert_eq!(message(&response), "the server could not find the requested resource");
    admin.get(&format!("{}/status", topping("salami"))).await.expect_status(404, "NotFound");
    admin.delete(&sub("default", "margherita", "status")).await.expect_status(405, "MethodNotAllowed");
    admin
        .post(&sub("default", "margherita", "status"), &json!({}))
        .await
        .expect_status(405, "MethodNotAllowed");
    admin.get(&sub("default", "margherita", "bake")).await.expect_status(405, "MethodNotAllowed");
    admin.put(&sub("default", "margherita", "oven"), &json!({})).await.expect_status(405, "MethodNotAllowed");
    // A missing object is the usual NotFound.
    let response = admin.get(&sub("default", "ghost", "status")).await;
    response.expect_status(404, "NotFound");
    assert_eq!(message(&response), format!("pizzas.{GROUP} \"ghost\" not found"));
}

#[tokio::test]
async fn scale_reads_and_writes_slices_as_an_autoscaling_scale() {
    let (_server, admin) = start_with_toppings().await;
    let mut body = pizza_obj("margherita", &[("salami", 1)]);
    body["metadata"]["labels"] = json!({ "app": "pizza" });
    admin.post(&pizzas("default"), &body).await.expect(201);
    let path = sub("default", "margherita", "scale");

    let scale = admin.get(&path).await.expect_json(200);
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["metadata"]["name"], "margherita");
    assert_eq!(scale["metadata"]["namespace"], "default");
    assert_eq!(scale["spec"]["replicas"], 8);
    assert_eq!(scale["status"]["replicas"], 8);
    assert_eq!(scale["status"]["selector"], "app=pizza");

    let mut put = scale.clone();
    put["spec"]["replicas"] = json!(12);
    let scaled = admin.put(&path, &put).await.expect_json(200);
    assert_eq!(scaled["spec"]["replicas"], 12);
    let pizza_now = admin.get(&pizza("default", "margherita")).await.expect_json(200);
    assert_eq!(pizza_now["spec"]["slices"], 12);
    assert_eq!(pizza_now["metadata"]["generation"], 2);

    // The old resourceVersion is now stale: 409.
    admin.put(&path, &put).await.expect_status(409, "Conflict");

    let patched = admin.patch(&path, &json!({ "spec": { "replicas": 4 } })).await.expect_json(200);
    assert_eq!(patched["spec"]["replicas"], 4);
    let json_patched = admin
        .patch_as(
            &path,
            &json!([{ "op": "replace", "path": "/spec/replicas", "value": 6 }]),
            "application/json-patch+json",
        )
        .await
        .expect_json(200);
    assert_eq!(json_patched["status"]["replicas"], 6);

    let response = admin.patch(&path, &json!({ "spec": { "replicas": -1 } })).await;
    let status = response.expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        "Scale.autoscaling \"margherita\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    );
    // Zero slices passes Scale validation but not the pizza's.
    admin.patch(&path, &json!({ "spec": { "replicas": 0 } })).await.expect_status(422, "Invalid");
    // A body of another kind is a 400.
    let wrong = json!({ "apiVersion": "v1", "kind": "Pod", "spec": { "replicas": 1 } });
    admin.put(&path, &wrong).await.expect_status(400, "BadRequest");
}

#[tokio::test]
async fn bake_is_an_atomic_action_refused_the_second_time() {
    let (_server, admin) = start_with_toppings().await;
    create_pizza(&admin, "default", "margherita", &[("salami", 1)]).await;
    let path = sub("default", "margherita", "bake");
    let baked = admin.post(&path, &json!({})).await.expect_json(201);
    assert_eq!(baked["kind"], "Pizza");
    assert_eq!(baked["status"]["phase"], "Baked");
    let baked_at = baked["status"]["bakedAt"].as_str().expect("bakedAt").to_owned();
    assert!(baked_at.ends_with('Z'), "{baked_at}");

    let response = admin.post(&path, &json!({})).await;
    let status = response.expect_status(409, "Conflict");
    assert_eq!(
        status["message"],
        format!("Operation cannot be fulfilled on pizzas.{GROUP} \"margherita\": the pizza is already baked")
    );
    let stored = admin.get(&pizza("default", "margherita")).await.expect_json(200);
    assert_eq!(stored["status"]["bakedAt"], baked_at.as_str());
    // Baking a pizza that does not exist is a 404.
    admin.post(&sub("default", "ghost", "bake"), &json!({})).await.expect_status(404, "NotFound");
}

/// Starts `GET <path>?follow=true` and returns the streaming body once the headers are in.
async fn follow(client: &TestClient, path: &str) -> hyper::body::Incoming {
    let request = http::Request::get(format!("{path}?follow=true"))
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let response = client.send(request).await.expect("oven response");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain");
    response.into_body()
}

/// Reads one chunk of a streaming body (None at its end).
async fn next_chunk(body: &mut hyper::body::Incoming) -> Option<Bytes> {
    loop {
        let frame =
            tokio::time::timeout(Duration::from_secs(10), body.frame()).await.expect("a chunk in time")?;
        // HTTP/2 may end with an empty DATA frame.
        if let Ok(data) = frame.expect("a body frame").into_data()
            && !data.is_empty()
        {
            return Some(data);
        }
    }
}

#[tokio::test]
async fn the_oven_log_is_streamed_until_the_pizza_is_baked() {
    let (_server, admin) = start_with_toppings().await;
    create_pizza(&admin, "default", "margherita", &[("salami", 2)]).await;
    let path = sub("default", "margherita", "oven");

    // Without follow: what is there, at once.
    let now = admin.get(&path).await;
    now.expect(200);
    assert_eq!(now.header("content-type"), "text/plain");
    assert_eq!(now.text(), "margherita: waiting for the oven\n");

    // With follow (HTTP/1.1, chunked): the first line, then the rest once the pizza is
    // baked, then the end.
    let mut body = follow(&admin, &path).await;
    assert_eq!(next_chunk(&mut body).await.unwrap(), "margherita: waiting for the oven\n");
    let baked = admin.post(&sub("default", "margherita", "bake"), &json!({})).await.expect_json(201);
    let baked_at = baked["status"]["bakedAt"].as_str().unwrap().to_owned();
    let mut rest = String::new();
    while let Some(chunk) = next_chunk(&mut body).await {
        rest.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(rest, format!("margherita: adding salami x2\nmargherita: baked at {baked_at}\n"));

    // Following a baked pizza (HTTP/2) gives the whole log and ends.
    let mut body = follow(&admin.http2(), &path).await;
    let whole = next_chunk(&mut body).await.unwrap();
    assert_eq!(whole, format!("margherita: waiting for the oven\n{rest}"));
    assert!(next_chunk(&mut body).await.is_none());

    // Hostile parameters are a 400 Status.
    admin.get(&format!("{path}?follow=maybe")).await.expect_status(400, "BadRequest");
}

#[tokio::test]
async fn discovery_lists_subresources() {
    let (_server, admin) = start_with_toppings().await;
    let list = admin.get(&format!("/apis/{GROUP}/v1beta1")).await.expect_json(200);
    let names: Vec<&str> =
        list["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        vec!["pizzas", "pizzas/bake", "pizzas/oven", "pizzas/scale", "pizzas/status"],
        "{list}"
    );
    let entry = |name: &str| {
        list["resources"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap().clone()
    };
    let status = entry("pizzas/status");
    assert_eq!(status["kind"], "Pizza");
    assert_eq!(status["singularName"], "");
    assert_eq!(status["namespaced"], true);
    assert_eq!(status["verbs"], json!(["get", "patch", "update"]));
    assert!(status.get("group").is_none(), "{status}");
    let scale = entry("pizzas/scale");
    assert_eq!(
        (&scale["group"], &scale["version"], &scale["kind"]),
        (&json!("autoscaling"), &json!("v1"), &json!("Scale"))
    );
    assert_eq!(entry("pizzas/bake")["verbs"], json!(["create"]));
    assert_eq!(entry("pizzas/oven")["verbs"], json!(["get"]));

    let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
    let doc = admin.get_with("/apis", &[("Accept", accept)]).await.expect_json(200);
    let group = doc["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == GROUP).unwrap();
    let beta = group["versions"].as_array().unwrap().iter().find(|v| v["version"] == "v1beta1").unwrap();
    let pizzas = beta["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "pizzas").unwrap();
    let subs = pizzas["subresources"].as_array().unwrap();
    let find = |name: &str| subs.iter().find(|s| s["subresource"] == name).unwrap().clone();
    assert_eq!(
        find("status")["responseKind"],
        json!({ "group": GROUP, "version": "v1beta1", "kind": "Pizza" })
    );
    assert_eq!(
        find("scale")["responseKind"],
        json!({ "group": "autoscaling", "version": "v1", "kind": "Scale" })
    );
    assert_eq!(find("scale")["verbs"], json!(["get", "patch", "update"]));
    let toppings = beta["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "toppings");
    assert!(toppings.is_none_or(|t| t.get("subresources").is_none()));
}

#[tokio::test]
async fn authorization_sees_the_subresource() {
    let (server, admin) = start_with_toppings().await;
    create_pizza(&admin, "default", "margherita", &[("salami", 1)]).await;
    let alice = server.client_for("alice", &["devs"]);
    for (method, subresource, verb) in
        [(Method::GET, "status", "get"), (Method::PUT, "scale", "update"), (Method::POST, "bake", "create")]
    {
        let response = alice
            .request(
                method,
                &sub("default", "margherita", subresource),
                &[("Content-Type", "application/json")],
                "{}",
            )
            .await;
        response.expect_status(403, "Forbidden");
        assert_eq!(
            message(&response),
            format!(
                "pizzas.{GROUP} \"margherita\" is forbidden: User \"alice\" cannot {verb} resource \"pizzas/{subresource}\" in API group \"{GROUP}\" in the namespace \"default\""
            )
        );
    }
}
