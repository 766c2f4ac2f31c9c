//! Patching pizzas with the real `kubectl` (v1.32) against the real `pizza-apiserver`
//! binary: client-side `apply` (a three-way strategic merge patch computed from the server's
//! OpenAPI), `patch` with each `--type`, `label`, `annotate` and `edit`.
//!
//! Run with `cargo test -p pizza-apiserver --all-features --test integration kubectl_patch::`.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::support::{GROUP, Kubectl, Server, TempDir, example, meta};
use serde_json::{Value, json};

/// A server with the example toppings, its data dir and its kubectl. Bind the result as
/// `let (dir, _server, k)`: locals drop in reverse order, so the server dies before its dir.
fn start(label: &str) -> (TempDir, Server, Kubectl) {
    let dir = TempDir::new(label);
    let server = Server::start(&dir);
    let k = server.kubectl();
    k.ok(&["apply", "-f", &example("toppings.yaml")]);
    (dir, server, k)
}

/// Pizza `p` in v1beta1.
fn pizza(k: &Kubectl) -> Value {
    let out = k.run(&["get", &format!("pizzas.v1beta1.{GROUP}/p"), "-o", "json"]);
    assert!(out.status.success(), "kubectl get failed:\n{out}");
    out.json()
}

fn toppings(k: &Kubectl) -> Value {
    pizza(k)["spec"]["toppings"].clone()
}

fn manifest(toppings: &[(&str, i64)]) -> String {
    let list: String = toppings.iter().map(|(n, q)| format!("  - name: {n}\n    quantity: {q}\n")).collect();
    format!("apiVersion: {GROUP}/v1beta1\nkind: Pizza\nmetadata:\n  name: p\nspec:\n  toppings:\n{list}")
}

/// The Content-Type of the PATCH kubectl sent, from its `-v=8` log.
fn patch_content_type(stderr: &str) -> Option<String> {
    let after_patch = stderr.split("PATCH https://").nth(1)?;
    after_patch.lines().find_map(|l| l.split_once("Content-Type: ").map(|(_, v)| v.trim().to_owned()))
}

/// Client-side apply twice: the second apply drops salami and changes tomato's quantity with a
/// three-way strategic merge patch, and keeps the topping another client added meanwhile (a
/// JSON merge patch would have replaced the whole list).
#[test]
fn apply_twice_merges_toppings_by_name() {
    let (dir, _server, k) = start("kpatch-apply");
    let k = &k;
    let file = dir.write("p.yaml", &manifest(&[("salami", 1), ("tomato", 1)]));
    let out = k.ok(&["apply", "-f", file.to_str().unwrap()]);
    assert_eq!(out.trim(), format!("pizza.{GROUP}/p created"));

    k.ok(&[
        "patch",
        "pizza",
        "p",
        "--type=strategic",
        "-p",
        r#"{"spec":{"toppings":[{"name":"mozzarella","quantity":2}]}}"#,
    ]);
    assert_eq!(
        toppings(k),
        json!([{"name": "mozzarella", "quantity": 2}, {"name": "salami", "quantity": 1}, {"name": "tomato", "quantity": 1}])
    );

    let file = dir.write("p.yaml", &manifest(&[("tomato", 3)]));
    let args = ["apply", "-f", file.to_str().unwrap(), "-v=8"];
    let out = k.run(&args);
    assert!(out.status.success(), "kubectl apply failed:\n{out}");
    assert_eq!(out.stdout.trim(), format!("pizza.{GROUP}/p configured"), "{out}");
    assert_eq!(
        patch_content_type(&out.stderr).as_deref(),
        Some("application/strategic-merge-patch+json"),
        "kubectl apply must choose strategic merge patch:\n{}",
        out.stderr
    );
    // mozzarella was before tomato on the server and keeps its place.
    assert_eq!(
        toppings(k),
        json!([{"name": "mozzarella", "quantity": 2}, {"name": "tomato", "quantity": 3}])
    );
    let p = pizza(k);
    assert_eq!(meta(&p, "name"), "p");
    let applied = p["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or("");
    let applied: Value = serde_json::from_str(applied).expect("last-applied-configuration is JSON");
    assert_eq!(applied["spec"]["toppings"], json!([{"name": "tomato", "quantity": 3}]));

    // Applying the same file again changes nothing on the server. (kubectl still sends a
    // `$setElementOrder` patch, because the live list has an element the file has not.)
    let before = pizza(k);
    k.ok(&["apply", "-f", file.to_str().unwrap()]);
    let after = pizza(k);
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(
        meta(&after, "resourceVersion"),
        meta(&before, "resourceVersion"),
        "a no-op patch does not write"
    );
}

/// `kubectl patch` with each `--type`.
#[test]
fn patch_with_every_type() {
    let (_dir, _server, k) = start("kpatch-types");
    let k = &k;
    k.ok_stdin(&["create", "-f", "-"], &manifest(&[("salami", 1), ("tomato", 1)]));

    let out = k.ok(&[
        "patch",
        "pizza",
        "p",
        "--type=strategic",
        "-p",
        r#"{"spec":{"toppings":[{"name":"tomato","quantity":5},{"name":"salami","$patch":"delete"}]}}"#,
    ]);
    assert_eq!(out.trim(), format!("pizza.{GROUP}/p patched"));
    assert_eq!(toppings(k), json!([{"name": "tomato", "quantity": 5}]));

    // Strategic is kubectl's default type.
    k.ok(&["patch", "pizza", "p", "-p", r#"{"spec":{"toppings":[{"name":"salami","quantity":2}]}}"#]);
    assert_eq!(toppings(k), json!([{"name": "salami", "quantity": 2}, {"name": "tomato", "quantity": 5}]));

    k.ok(&[
        "patch",
        "pizza",
        "p",
        "--type=merge",
        "-p",
        r#"{"spec":{"toppings":[{"name":"mozzarella","quantity":1}]}}"#,
    ]);
    assert_eq!(toppings(k), json!([{"name": "mozzarella", "quantity": 1}]));

    k.ok(&[
        "patch",
        "pizza",
        "p",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/toppings/0/quantity","value":4}]"#,
    ]);
    assert_eq!(toppings(k), json!([{"name": "mozzarella", "quantity": 4}]));

    // A strategic patch missing the merge key is refused with upstream's message.
    let out = k.fails(&["patch", "pizza", "p", "-p", r#"{"spec":{"toppings":[{"quantity":1}]}}"#]);
    assert!(out.stderr.contains("map: map[quantity:1] does not contain declared merge key: name"), "{out}");
    assert_eq!(toppings(k), json!([{"name": "mozzarella", "quantity": 4}]));
    assert_eq!(pizza(k)["metadata"]["generation"], 5);
}

/// `kubectl label`, `kubectl annotate` and `kubectl edit` (with an editor script).
#[test]
fn label_annotate_and_edit() {
    let (dir, _server, k) = start("kpatch-edit");
    let k = &k;
    k.ok_stdin(&["create", "-f", "-"], &manifest(&[("salami", 1), ("tomato", 1)]));

    assert_eq!(
        k.ok(&["label", "pizza", "p", "size=large", "crust=thin"]).trim(),
        format!("pizza.{GROUP}/p labeled")
    );
    assert_eq!(k.ok(&["label", "pizza", "p", "crust-"]).trim(), format!("pizza.{GROUP}/p unlabeled"));
    assert_eq!(k.ok(&["annotate", "pizza", "p", "note=hot"]).trim(), format!("pizza.{GROUP}/p annotated"));
    let p = pizza(k);
    assert_eq!(p["metadata"]["labels"], json!({"size": "large"}));
    assert_eq!(p["metadata"]["annotations"], json!({"note": "hot"}));

    let editor = dir.write(
        "editor.sh",
        "#!/bin/sh\nsed -i -e 's/quantity: 1$/quantity: 7/' -e 's/size: large/size: small/' \"$1\"\n",
    );
    fs::set_permissions(&editor, fs::Permissions::from_mode(0o755)).expect("chmod");
    let args = ["edit", "pizza", "p"];
    let mut cmd = k.command(&args);
    cmd.env("KUBE_EDITOR", &editor);
    let out = k.run_cmd(cmd, &args, None);
    assert!(out.status.success(), "kubectl edit failed:\n{out}");
    assert_eq!(out.stdout.trim(), format!("pizza.{GROUP}/p edited"), "{out}");
    let p = pizza(k);
    assert_eq!(
        p["spec"]["toppings"],
        json!([{"name": "salami", "quantity": 7}, {"name": "tomato", "quantity": 7}])
    );
    assert_eq!(p["metadata"]["labels"], json!({"size": "small"}));
    assert_eq!(p["metadata"]["annotations"], json!({"note": "hot"}));
}
