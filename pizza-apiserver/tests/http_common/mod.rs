//! Shared helpers of the `http_*` integration tests: starting the pizza server in-process
//! and building its URLs and objects.

#![allow(dead_code)]

use piazza_testing::{TestClient, TestServer};
use serde_json::{Value, json};

/// The API group.
pub const GROUP: &str = "restaurant.programming-kubernetes.info";

/// Starts pizza-apiserver's resources in an in-process server.
pub async fn start() -> TestServer {
    TestServer::start(|storage| pizza_apiserver::resources(storage).expect("pizza resources build")).await
}

/// Starts the server and creates the toppings of [`seed_toppings`]; returns the server (keep
/// it alive) and an admin client.
pub async fn start_with_toppings() -> (TestServer, TestClient) {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    (server, admin)
}

/// `/apis/<group>/v1beta1/namespaces/<ns>/pizzas`.
pub fn pizzas(ns: &str) -> String {
    format!("/apis/{GROUP}/v1beta1/namespaces/{ns}/pizzas")
}

/// `/apis/<group>/v1beta1/namespaces/<ns>/pizzas/<name>`.
pub fn pizza(ns: &str, name: &str) -> String {
    format!("{}/{name}", pizzas(ns))
}

/// `/apis/<group>/v1alpha1/namespaces/<ns>/pizzas`.
pub fn alpha_pizzas(ns: &str) -> String {
    format!("/apis/{GROUP}/v1alpha1/namespaces/{ns}/pizzas")
}

/// `/apis/<group>/v1alpha1/toppings`.
pub fn toppings() -> String {
    format!("/apis/{GROUP}/v1alpha1/toppings")
}

/// `/apis/<group>/v1alpha1/toppings/<name>`.
pub fn topping(name: &str) -> String {
    format!("{}/{name}", toppings())
}

/// A v1alpha1 Topping.
pub fn topping_obj(name: &str, cost: f64) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/v1alpha1"),
        "kind": "Topping",
        "metadata": { "name": name },
        "spec": { "cost": cost },
    })
}

/// A v1beta1 Pizza with `(topping, quantity)` pairs.
pub fn pizza_obj(name: &str, toppings: &[(&str, i64)]) -> Value {
    let toppings: Vec<Value> = toppings.iter().map(|(t, q)| json!({ "name": t, "quantity": q })).collect();
    json!({
        "apiVersion": format!("{GROUP}/v1beta1"),
        "kind": "Pizza",
        "metadata": { "name": name },
        "spec": { "toppings": toppings },
    })
}

/// Creates the toppings the sample's examples use: salami, mozzarella, tomato.
pub async fn seed_toppings(client: &TestClient) {
    for (name, cost) in [("salami", 1.0), ("mozzarella", 0.5), ("tomato", 0.25)] {
        client.post(&toppings(), &topping_obj(name, cost)).await.expect(201);
    }
}

/// Creates a pizza in `ns` (toppings must exist) and returns the created object.
pub async fn create_pizza(client: &TestClient, ns: &str, name: &str, toppings: &[(&str, i64)]) -> Value {
    client.post(&pizzas(ns), &pizza_obj(name, toppings)).await.expect_json(201)
}

/// `metadata.resourceVersion` of an object or list, as a number.
pub fn rv(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no resourceVersion in {object}"))
        .parse()
        .unwrap_or_else(|e| panic!("resourceVersion of {object} is not a number: {e}"))
}

/// Sends a raw HTTP/1.1 request over TLS and reads until the server closes the connection
/// (or 5 s); returns what was read and whether the server closed.
pub async fn raw_http1(client: &TestClient, request: &str) -> (String, bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tls = client.http1().connect_tls().await.expect("TLS handshake");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let read = tls.read_to_end(&mut received);
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), read).await.is_ok();
    (String::from_utf8_lossy(&received).into_owned(), closed)
}
