//! A port, in our own code, of the typed-object cases of upstream's end-to-end field
//! validation test (`test/e2e/apimachinery/field_validation.go`): unknown and duplicate
//! fields, in the spec and in metadata, under `fieldValidation=Strict`, and the same bodies
//! under `Warn` (created, with `Warning` headers) and `Ignore` (created silently).

use piazza_testing::TestClient;

use crate::http_common::*;

const GROUP_VERSION: &str = "restaurant.programming-kubernetes.info/v1beta1";

fn body_with_unknown_and_duplicate(name: &str) -> String {
    format!(
        r#"{{
        "apiVersion": "{GROUP_VERSION}",
        "kind": "Pizza",
        "metadata": {{ "name": "{name}", "labels": {{ "app": "pizza" }} }},
        "spec": {{
            "unknownField": "foo",
            "toppings": [ {{ "name": "tomato", "quantity": 1 }} ],
            "toppings": [ {{ "name": "tomato", "quantity": 2 }} ]
        }}
    }}"#
    )
}

fn body_with_unknown_metadata(name: &str) -> String {
    format!(
        r#"{{
        "apiVersion": "{GROUP_VERSION}",
        "kind": "Pizza",
        "metadata": {{ "name": "{name}", "unknownMeta": "foo", "labels": {{ "app": "pizza" }} }},
        "spec": {{ "toppings": [ {{ "name": "tomato", "quantity": 1 }} ] }}
    }}"#
    )
}

async fn post(client: &TestClient, validation: &str, body: String) -> piazza_testing::TestResponse {
    let path = format!("{}?fieldManager=field_validation_mgr&fieldValidation={validation}", pizzas("fv"));
    client.request(piazza_testing::Method::POST, &path, &[("content-type", "application/json")], body).await
}

#[tokio::test]
async fn strict_rejects_unknown_and_duplicate_fields_of_a_typed_object() {
    let (_server, c) = start_with_toppings().await;
    let response = post(&c, "Strict", body_with_unknown_and_duplicate("my-pizza")).await;
    let status = response.expect_status(400, "BadRequest");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.contains(
            r#"strict decoding error: unknown field "spec.unknownField", duplicate field "spec.toppings""#
        ),
        "{message}"
    );
    c.get(&pizza("fv", "my-pizza")).await.expect(404);
}

#[tokio::test]
async fn strict_rejects_unknown_metadata_fields_of_a_typed_object() {
    let (_server, c) = start_with_toppings().await;
    let response = post(&c, "Strict", body_with_unknown_metadata("my-pizza")).await;
    let status = response.expect_status(400, "BadRequest");
    let message = status["message"].as_str().unwrap();
    assert!(message.contains(r#"strict decoding error: unknown field "metadata.unknownMeta""#), "{message}");
}

#[tokio::test]
async fn warn_creates_and_says_why_in_warning_headers() {
    let (_server, c) = start_with_toppings().await;
    let response = post(&c, "Warn", body_with_unknown_and_duplicate("warned")).await;
    let created = response.expect_json(201);
    let warnings: Vec<&str> =
        response.headers.get_all("warning").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(warnings.contains(&r#"299 - "unknown field \"spec.unknownField\"""#), "{warnings:?}");
    assert!(warnings.contains(&r#"299 - "duplicate field \"spec.toppings\"""#), "{warnings:?}");
    // As upstream's JSON decoding: the last duplicate wins.
    assert_eq!(created["spec"]["toppings"][0]["quantity"], 2);
}

#[tokio::test]
async fn ignore_creates_silently() {
    let (_server, c) = start_with_toppings().await;
    let response = post(&c, "Ignore", body_with_unknown_metadata("ignored")).await;
    response.expect(201);
    assert!(response.headers.get("warning").is_none());
}
