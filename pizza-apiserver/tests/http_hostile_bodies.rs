//! Hostile request bodies over real TLS: oversized, deeply nested, alias bombs and huge
//! patches each get a 4xx `metav1.Status` quickly, and the server keeps serving.

use std::time::{Duration, Instant};

use crate::http_common::*;
use bytes::Bytes;
use piazza_testing::{Method, TestClient, TestResponse};

/// Every hostile body must be answered within this.
const QUICK: Duration = Duration::from_secs(1);
/// Upstream's `MaxRequestBodyBytes`.
const LIMIT: usize = 3 * 1024 * 1024;

/// Sends `body` with `content_type`, asserts the answer came within [`QUICK`], and that the
/// server still serves a follow-up read.
async fn send_hostile(
    client: &TestClient,
    method: Method,
    path: &str,
    content_type: &str,
    body: impl Into<Bytes>,
) -> TestResponse {
    let body = body.into();
    let started = Instant::now();
    let response = client.request(method, path, &[("Content-Type", content_type)], body).await;
    let took = started.elapsed();
    assert!(took < QUICK, "answered after {took:?}: {}", response.text());
    client.get(&pizzas("default")).await.expect(200);
    response
}

/// The status of a client error, asserted to be a `Status` with one of `reasons`.
fn expect_client_error(response: &TestResponse, codes: &[(u16, &str)]) -> serde_json::Value {
    let code = response.status.as_u16();
    let reason = codes
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, r)| *r)
        .unwrap_or_else(|| panic!("status {code} is not one of {codes:?}: {}", response.text()));
    response.expect_status(code, reason)
}

#[tokio::test]
async fn a_body_one_byte_over_the_limit_is_413_declared_or_streamed() {
    let server = start().await;
    let admin = server.admin_client();
    let body = vec![b' '; LIMIT + 1];

    let declared =
        send_hostile(&admin, Method::POST, &pizzas("default"), "application/json", body.clone()).await;
    let status = declared.expect_status(413, "RequestEntityTooLarge");
    assert_eq!(status["message"], format!("Request entity too large: limit is {LIMIT}"));

    // Without a Content-Length the limit applies while the body is read.
    let chunks: Vec<Bytes> = body.chunks(64 * 1024).map(Bytes::copy_from_slice).collect();
    let started = Instant::now();
    let streamed = admin
        .request_chunked(Method::POST, &pizzas("default"), &[("Content-Type", "application/json")], chunks)
        .await;
    assert!(started.elapsed() < QUICK);
    let status = streamed.expect_status(413, "RequestEntityTooLarge");
    assert_eq!(status["message"], format!("Request entity too large: limit is {LIMIT}"));

    // Exactly at the limit is read (and then rejected for what it is, not for its size).
    let at_limit =
        send_hostile(&admin, Method::POST, &pizzas("default"), "application/json", vec![b' '; LIMIT]).await;
    assert_ne!(at_limit.status.as_u16(), 413, "{}", at_limit.text());
    assert!(at_limit.status.is_client_error(), "{}", at_limit.text());
}

#[tokio::test]
async fn deeply_nested_json_is_refused_quickly() {
    let server = start().await;
    let admin = server.admin_client();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let response = send_hostile(&admin, Method::POST, &pizzas("default"), "application/json", deep).await;
    expect_client_error(&response, &[(400, "BadRequest")]);

    // Under a field nobody reads it is refused too (the duplicate-field walk bounds depth
    // everywhere), as upstream refuses excessive nesting wherever it is.
    let unknown = format!(
        r#"{{"apiVersion":"{GROUP}/v1beta1","kind":"Pizza","metadata":{{"name":"deep"}},"junk":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let response = send_hostile(&admin, Method::POST, &pizzas("default"), "application/json", unknown).await;
    let status = expect_client_error(&response, &[(400, "BadRequest")]);
    assert!(status["message"].as_str().unwrap().contains("recursion limit exceeded"), "{status}");

    // Nested inside an otherwise valid object.
    let nested = format!(
        r#"{{"apiVersion":"{GROUP}/v1beta1","kind":"Pizza","metadata":{{"name":"deep"}},"spec":{{"toppings":{}{}}}}}"#,
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let response = send_hostile(&admin, Method::POST, &pizzas("default"), "application/json", nested).await;
    expect_client_error(&response, &[(400, "BadRequest")]);

    // And as a merge patch on an existing object.
    seed_toppings(&admin).await;
    create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    let patch = format!(r#"{{"spec":{}{}}}"#, "{\"a\":".repeat(50_000), "}".repeat(50_000));
    let response = send_hostile(
        &admin,
        Method::PATCH,
        &pizza("default", "margherita"),
        "application/merge-patch+json",
        patch,
    )
    .await;
    let status = expect_client_error(&response, &[(400, "BadRequest")]);
    assert!(status["message"].as_str().unwrap().contains("recursion limit exceeded"), "{status}");
}

/// A "billion laughs" document: each level refers to the previous one ten times.
fn yaml_alias_bomb(levels: usize) -> String {
    let mut doc = format!(
        "apiVersion: {GROUP}/v1beta1\nkind: Pizza\nmetadata:\n  name: laughs\nl0: &l0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
    );
    for level in 1..levels {
        let previous = level - 1;
        let refs = vec![format!("*l{previous}"); 10].join(",");
        doc.push_str(&format!("l{level}: &l{level} [{refs}]\n"));
    }
    doc
}

#[tokio::test]
async fn a_yaml_alias_bomb_is_refused_quickly() {
    let server = start().await;
    let admin = server.admin_client();
    // 10^10 strings if expanded.
    let bomb = yaml_alias_bomb(10);
    let response = send_hostile(&admin, Method::POST, &pizzas("default"), "application/yaml", bomb).await;
    let status = expect_client_error(&response, &[(400, "BadRequest")]);
    assert!(status["message"].as_str().unwrap().contains("excessive aliasing"), "{status}");

    // A bomb hidden under a known field is refused the same way.
    let mut spec_bomb =
        String::from("x: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let mut previous = "a".to_owned();
    for level in 0..9 {
        let name = format!("b{level}");
        spec_bomb.push_str(&format!("{name}: &{name} [{}]\n", vec![format!("*{previous}"); 10].join(",")));
        previous = name;
    }
    let doc = format!(
        "{spec_bomb}apiVersion: {GROUP}/v1beta1\nkind: Pizza\nmetadata:\n  name: laughs\nspec:\n  toppings: *{previous}\n"
    );
    let response = send_hostile(&admin, Method::POST, &pizzas("default"), "application/yaml", doc).await;
    expect_client_error(&response, &[(400, "BadRequest")]);
}

#[tokio::test]
async fn deeply_nested_yaml_is_refused_quickly() {
    let server = start().await;
    let admin = server.admin_client();
    let flow = format!("spec: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let response = send_hostile(&admin, Method::POST, &pizzas("default"), "application/yaml", flow).await;
    let status = expect_client_error(&response, &[(400, "BadRequest")]);
    assert!(status["message"].as_str().unwrap().contains("too many flow collections"), "{status}");

    // Within the budget the whole document is parsed, still quickly, and the unknown field
    // dropped: the object is judged for what it is (invalid).
    let flow = format!("junk: {}{}\n", "[".repeat(4_000), "]".repeat(4_000));
    let response = send_hostile(&admin, Method::POST, &pizzas("default"), "application/yaml", flow).await;
    expect_client_error(&response, &[(422, "Invalid")]);

    // Block style, each level one more indentation step, under a field nobody reads: parsed
    // in linear time and dropped.
    let mut block = String::from("spec:\n");
    for depth in 1..2_000 {
        block.push_str(&" ".repeat(depth));
        block.push_str("a:\n");
    }
    let response = send_hostile(&admin, Method::POST, &pizzas("default"), "application/yaml", block).await;
    expect_client_error(&response, &[(422, "Invalid")]);
}

#[tokio::test]
async fn huge_json_patches_are_refused() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    let target = pizza("default", "margherita");

    // One operation too many: 413, as upstream.
    let op = r#"{"op":"test","path":"/metadata/name","value":"margherita"}"#;
    let ops = format!("[{}]", vec![op; 10_001].join(","));
    let response = send_hostile(&admin, Method::PATCH, &target, "application/json-patch+json", ops).await;
    let status = response.expect_status(413, "RequestEntityTooLarge");
    assert_eq!(status["message"], "The allowed maximum operations in a JSON patch is 10000, got 10001");

    // Within the operation limit but close to the body limit: every operation is applied and
    // the result is judged (a failing `test` is a 422; nothing is stored).
    let value = "x".repeat(250);
    let op = format!(r#"{{"op":"test","path":"/metadata/name","value":"{value}"}}"#);
    let ops = format!("[{}]", vec![op.as_str(); 10_000].join(","));
    assert!(ops.len() < LIMIT && ops.len() > LIMIT - 300_000, "{}", ops.len());
    let response = send_hostile(&admin, Method::PATCH, &target, "application/json-patch+json", ops).await;
    expect_client_error(&response, &[(422, "Invalid"), (400, "BadRequest")]);

    // The object is unchanged.
    let current = admin.get(&target).await.expect_json(200);
    assert_eq!(current["spec"]["toppings"][0]["name"], "tomato");
}
