//! A port, in our own code, of upstream's end-to-end request-timeout test
//! (`test/e2e/apimachinery/request_timeout.go`): `?timeout=` is parsed like a Go duration,
//! a malformed value is a 400, and zero or a value above the server's maximum means the
//! server's default.

use crate::http_common::*;

#[tokio::test]
async fn an_invalid_timeout_in_the_url_is_a_400() {
    let server = start().await;
    let admin = server.admin_client();
    let status = admin.get("/version?timeout=invalid").await.expect_status(400, "BadRequest");
    let message = status["message"].as_str().unwrap();
    assert!(message.contains("invalid timeout specified in the request URL"), "{message}");
    // The same on an API path.
    admin.get(&format!("{}?timeout=10", pizzas("t"))).await.expect_status(400, "BadRequest");
}

#[tokio::test]
async fn a_timeout_above_the_maximum_is_served_with_the_default() {
    let server = start().await;
    let admin = server.admin_client();
    admin.get("/version?timeout=3m").await.expect(200);
    admin.get(&format!("{}?timeout=3m", pizzas("t"))).await.expect(200);
}

#[tokio::test]
async fn a_zero_timeout_is_served_with_the_default() {
    let server = start().await;
    let admin = server.admin_client();
    admin.get("/version?timeout=0s").await.expect(200);
    admin.get(&format!("{}?timeout=1s", pizzas("t"))).await.expect(200);
}
