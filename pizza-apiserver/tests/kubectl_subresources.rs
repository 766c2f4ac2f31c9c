//! Subresources driven by the real `kubectl`: `kubectl scale` (the `scale` subresource),
//! and `--subresource=status|scale` reads and patches.
//!
//! Run with `cargo test -p pizza-apiserver --test integration kubectl_subresources::`.

use crate::support::{GROUP, Server, TempDir, example, pizza_json};
use serde_json::json;

#[test]
fn kubectl_scale_and_status_subresources() {
    let dir = TempDir::new("subresources");
    let server = Server::start(&dir);
    let k = server.kubectl();
    k.ok(&["apply", "-f", &example("toppings.yaml")]);
    let spec =
        json!({ "toppings": [{ "name": "tomato", "quantity": 2 }, { "name": "mozzarella", "quantity": 1 }] });
    let out = k.run_stdin(&["create", "-f", "-"], &pizza_json("v1beta1", "margherita", spec));
    assert!(out.status.success(), "{out}");

    // `kubectl scale` reads and writes through pizzas/margherita/scale.
    let out = k.ok(&["scale", "pizza", "margherita", "--replicas=12"]);
    assert_eq!(out.trim(), format!("pizza.{GROUP}/margherita scaled"));
    assert_eq!(k.ok(&["get", "pizza", "margherita", "-o", "jsonpath={.spec.slices}"]), "12");
    // With a precondition that no longer holds, kubectl reports the mismatch.
    let out = k.run(&["scale", "pizza", "margherita", "--current-replicas=3", "--replicas=4"]);
    assert!(!out.status.success(), "{out}");
    assert!(out.stderr.contains("Expected replicas to be 3, was 12"), "{out}");
    // The Scale itself.
    let scale: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "pizza", "margherita", "--subresource=scale", "-o", "json"]))
            .unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 12);

    // Status: computed cost (2 × 0.5 + 1 × 1.0), patched through --subresource=status.
    assert_eq!(
        k.ok(&["get", "pizza", "margherita", "--subresource=status", "-o", "jsonpath={.status.cost}"]),
        "2"
    );
    k.ok(&[
        "patch",
        "pizza",
        "margherita",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"cost":3.5},"spec":{"slices":1}}"#,
    ]);
    assert_eq!(
        k.ok(&["get", "pizza", "margherita", "-o", "jsonpath={.status.cost} {.spec.slices}"]),
        "3.5 12"
    );
}
