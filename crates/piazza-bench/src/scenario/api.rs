//! The pizza-apiserver API as the scenarios use it: paths, bodies, and idempotent seeding.

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::json;

use crate::client::{Client, Session};
use crate::error::BenchError;

/// The API group of pizza-apiserver.
pub const GROUP: &str = "restaurant.programming-kubernetes.info";

/// The content type of request bodies.
pub const JSON: &str = "application/json";

/// The toppings every seeded pizza names (the `PizzaToppings` admission plugin needs them).
pub const TOPPINGS: [(&str, f64); 1] = [("salami", 2.0)];

/// Annotation a compare-and-swap update sets to its sequence number.
pub const BUMP_ANNOTATION: &str = "piazza-bench/seq";

/// Annotation a writer stamps with its wall-clock send time (Unix nanoseconds).
pub const SENT_AT_ANNOTATION: &str = "piazza-bench/sent-at-ns";

/// `/apis/<group>/v1beta1/namespaces/<ns>/pizzas`.
pub fn pizzas_path(namespace: &str) -> String {
    format!("/apis/{GROUP}/v1beta1/namespaces/{namespace}/pizzas")
}

/// `/apis/<group>/v1beta1/namespaces/<ns>/pizzas/<name>`.
pub fn pizza_path(namespace: &str, name: &str) -> String {
    format!("{}/{name}", pizzas_path(namespace))
}

/// `/apis/<group>/v1alpha1/toppings`.
pub fn toppings_path() -> String {
    format!("/apis/{GROUP}/v1alpha1/toppings")
}

/// The name of seeded object number `i`.
pub fn object_name(i: usize) -> String {
    format!("pizza-{i}")
}

/// A v1beta1 Pizza with one salami, and `annotations` if any.
pub fn pizza_json(namespace: &str, name: &str, annotations: &[(&str, String)]) -> String {
    let mut metadata = json!({ "name": name, "namespace": namespace });
    if !annotations.is_empty() {
        let map: serde_json::Map<String, serde_json::Value> =
            annotations.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        metadata["annotations"] = serde_json::Value::Object(map);
    }
    json!({
        "apiVersion": format!("{GROUP}/v1beta1"),
        "kind": "Pizza",
        "metadata": metadata,
        "spec": { "toppings": [ { "name": TOPPINGS[0].0, "quantity": 1 } ] },
    })
    .to_string()
}

/// Creates `body` at `path`; an existing object (409) is fine.
pub async fn create_if_absent(
    session: &mut Session,
    path: &str,
    body: String,
    what: &str,
) -> Result<(), BenchError> {
    let request = session.client().request(Method::POST, path, Bytes::from(body), Some(JSON));
    let fetched = session.fetch(request).await.map_err(|e| BenchError::Http(format!("{what}: {e}")))?;
    match fetched.status {
        StatusCode::CREATED | StatusCode::OK | StatusCode::CONFLICT => Ok(()),
        status => Err(BenchError::Status {
            what: what.to_owned(),
            status: status.as_u16(),
            body: String::from_utf8_lossy(&fetched.body[..fetched.body.len().min(300)]).into_owned(),
        }),
    }
}

/// Makes sure the toppings exist.
pub async fn seed_toppings(client: &Client) -> Result<(), BenchError> {
    let mut session = client.session(0);
    for (name, cost) in TOPPINGS {
        let body = json!({
            "apiVersion": format!("{GROUP}/v1alpha1"),
            "kind": "Topping",
            "metadata": { "name": name },
            "spec": { "cost": cost },
        });
        create_if_absent(&mut session, &toppings_path(), body.to_string(), "seeding toppings").await?;
    }
    Ok(())
}

/// Makes sure pizzas `pizza-0` … `pizza-<count-1>` exist in `namespace`, creating them with
/// `concurrency` workers.
pub async fn seed_pizzas(
    client: &Client,
    namespace: &str,
    count: usize,
    concurrency: usize,
) -> Result<(), BenchError> {
    let workers = concurrency.clamp(1, 64).min(count.max(1));
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let (client, namespace) = (client.clone(), namespace.to_owned());
            tokio::spawn(async move {
                let mut session = client.session(worker);
                let path = pizzas_path(&namespace);
                for i in (worker..count).step_by(workers) {
                    let body = pizza_json(&namespace, &object_name(i), &[]);
                    create_if_absent(&mut session, &path, body, &format!("seeding {namespace}")).await?;
                }
                Ok::<(), BenchError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| BenchError::Http(format!("seeding task: {e}")))??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            pizza_path("ns", "p"),
            "/apis/restaurant.programming-kubernetes.info/v1beta1/namespaces/ns/pizzas/p"
        );
        assert_eq!(toppings_path(), "/apis/restaurant.programming-kubernetes.info/v1alpha1/toppings");
    }

    #[test]
    fn pizza_bodies() {
        let plain: serde_json::Value = serde_json::from_str(&pizza_json("ns", "p", &[])).unwrap();
        assert_eq!(plain["kind"], "Pizza");
        assert_eq!(plain["metadata"]["namespace"], "ns");
        assert_eq!(plain["spec"]["toppings"][0]["name"], "salami");
        assert!(plain["metadata"].get("annotations").is_none());
        let stamped: serde_json::Value =
            serde_json::from_str(&pizza_json("ns", "p", &[(SENT_AT_ANNOTATION, "12".into())])).unwrap();
        assert_eq!(stamped["metadata"]["annotations"][SENT_AT_ANNOTATION], "12");
    }
}
