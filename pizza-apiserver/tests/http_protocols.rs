//! HTTP/1.1 and HTTP/2 (chosen by ALPN) serve the same API.

use piazza_testing::{HttpVersion, Version};
use serde_json::json;

use crate::http_common::*;

#[tokio::test]
async fn both_http_versions_serve_the_api() {
    let server = start().await;
    let h1 = server.admin_client().with_version(HttpVersion::Http1);
    let h2 = server.admin_client().with_version(HttpVersion::Http2);

    let discovery = h1.get("/apis").await;
    assert_eq!(discovery.version, Version::HTTP_11);
    let discovery2 = h2.get("/apis").await;
    assert_eq!(discovery2.version, Version::HTTP_2);
    assert_eq!(discovery.json(), discovery2.json());

    // Write with one, read with the other.
    let created = h2.post(&toppings(), &topping_obj("salami", 1.0)).await;
    assert_eq!(created.version, Version::HTTP_2);
    let created = created.expect_json(201);
    let got = h1.get(&topping("salami")).await.expect_json(200);
    assert_eq!(got, created);
    let created = h1.post(&toppings(), &topping_obj("tomato", 0.25)).await.expect_json(201);
    let got = h2.get(&topping("tomato")).await.expect_json(200);
    assert_eq!(got, created);

    let mut updated = got.clone();
    updated["spec"]["cost"] = json!(0.5);
    h2.put(&topping("tomato"), &updated).await.expect(200);
    h2.delete(&topping("salami")).await.expect(200);
    let list = h1.get(&toppings()).await.expect_json(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["spec"]["cost"], 0.5);

    // Errors are the same Status either way.
    let e1 = h1.get(&topping("nope")).await.expect_status(404, "NotFound");
    let e2 = h2.get(&topping("nope")).await.expect_status(404, "NotFound");
    assert_eq!(e1, e2);

    // Health over both.
    assert_eq!(h2.get("/readyz").await.text(), "ok");
    assert_eq!(h1.get("/readyz").await.text(), "ok");
}

#[tokio::test]
async fn watch_over_http2() {
    let server = start().await;
    let h2 = server.admin_client().http2();
    let list = h2.get(&toppings()).await.expect_json(200);
    let mut watch = h2
        .watch(&format!("{}?watch=true&resourceVersion={}", toppings(), rv(&list)))
        .await
        .expect("watch starts");
    assert_eq!(watch.headers()["content-type"], "application/json");
    h2.post(&toppings(), &topping_obj("salami", 1.0)).await.expect(201);
    let event = watch.next_event().await;
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["metadata"]["name"], "salami");
}
