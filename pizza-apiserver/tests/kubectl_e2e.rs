//! End to end: the real `pizza-apiserver` binary on a temporary data dir, driven by the real
//! `kubectl` (v1.32), as a user of the sample would drive it.
//!
//! Each test starts its own server on a free port of 127.0.0.1, so the tests run in
//! parallel and share nothing.
//!
//! Run with `cargo test -p pizza-apiserver --test integration kubectl_e2e::`.

use crate::support;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::support::{
    GROUP, Kubectl, Server, TIMEOUT, TempDir, example, meta, pizza_json, pizzas_path, poll, rv_num,
};
use serde_json::{Value, json};

/// One server with its kubectl; fields drop in order, so the server dies before its dir.
struct Env {
    k: Kubectl,
    server: Server,
    dir: TempDir,
}

impl Env {
    fn start(label: &str) -> Env {
        let dir = TempDir::new(label);
        let server = Server::start(&dir);
        Env { k: server.kubectl(), server, dir }
    }

    /// A server with the example toppings (mozzarella, tomato, salami) applied.
    fn with_toppings(label: &str) -> Env {
        let env = Env::start(label);
        let out = env.k.ok(&["apply", "-f", &example("toppings.yaml")]);
        for t in ["mozzarella", "tomato", "salami"] {
            assert!(
                out.contains(&format!("topping.{GROUP}/{t} created")),
                "applying toppings.yaml should create {t}:\n{out}"
            );
        }
        env
    }

    fn create(&self, version: &str, name: &str, spec: Value) -> Value {
        let out = self.k.run_stdin(&["create", "-f", "-", "-o", "json"], &pizza_json(version, name, spec));
        assert!(out.status.success(), "creating pizza {name} failed:\n{out}");
        out.json()
    }
}

fn alpha(name: &str) -> String {
    format!("pizzas.v1alpha1.{GROUP}/{name}")
}

fn beta(name: &str) -> String {
    format!("pizzas.v1beta1.{GROUP}/{name}")
}

/// `kubectl get <resource/name> -o json`.
fn get(k: &Kubectl, resource_and_name: &str) -> Value {
    let out = k.run(&["get", resource_and_name, "-o", "json"]);
    assert!(out.status.success(), "kubectl get failed:\n{out}");
    out.json()
}

// === discovery ===

/// `kubectl api-resources` and `kubectl api-versions` show the group and nothing else.
#[test]
fn discovery_lists_exactly_the_served_resources() {
    let env = Env::start("discovery");

    let out = env.k.ok(&["api-resources"]);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows.first().map(Vec::as_slice),
        Some(&["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"][..]),
        "{out}"
    );
    let pizzas_v = format!("{GROUP}/v1beta1");
    let toppings_v = format!("{GROUP}/v1alpha1");
    // The same stored Pizzas are also served as menu.piazza.dev/v1 (cohabitation).
    let menu_v = "menu.piazza.dev/v1";
    assert_eq!(
        rows[1..].to_vec(),
        vec![
            vec!["pizzas", menu_v, "true", "Pizza"],
            vec!["pizzas", "pz", pizzas_v.as_str(), "true", "Pizza"],
            // No SHORTNAMES column for toppings: it has none.
            vec!["toppings", toppings_v.as_str(), "false", "Topping"],
        ],
        "kubectl api-resources:\n{out}"
    );

    let wide = env.k.ok(&["api-resources", "-o", "wide", "--no-headers"]);
    let rows: Vec<Vec<&str>> = wide.lines().map(|l| l.split_whitespace().collect()).collect();
    let verbs = "create,delete,deletecollection,get,list,patch,update,watch";
    assert_eq!(
        rows,
        vec![
            vec!["pizzas", menu_v, "true", "Pizza", verbs],
            vec!["pizzas", "pz", pizzas_v.as_str(), "true", "Pizza", verbs, "all"],
            vec!["toppings", toppings_v.as_str(), "false", "Topping", verbs],
        ],
        "kubectl api-resources -o wide:\n{wide}"
    );

    let versions = env.k.ok(&["api-versions"]);
    assert_eq!(
        versions.lines().collect::<Vec<_>>(),
        vec![menu_v, toppings_v.as_str(), pizzas_v.as_str()],
        "{versions}"
    );
}

// === apply, get, conversion ===

/// The examples apply with kubectl's default settings (validation on); the pizza reads back in
/// both versions, converted through the hub, and writes in either version convert too.
#[test]
fn apply_examples_get_and_convert_between_versions() {
    let env = Env::with_toppings("convert");
    let k = &env.k;

    let out = k.ok(&["apply", "-f", &example("margherita.yaml")]);
    assert_eq!(out.trim(), format!("pizza.{GROUP}/margherita created"));

    // `kubectl get pizzas` (and the short name) lists it.
    for resource in ["pizzas", "pz"] {
        let table = k.ok(&["get", resource]);
        let names: Vec<&str> = table.lines().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
        assert_eq!(names, ["margherita"], "kubectl get {resource}:\n{table}");
        assert!(table.starts_with("NAME"), "kubectl get {resource} prints a header:\n{table}");
    }

    // v1alpha1: a list of names.
    let yaml = k.ok(&["get", &format!("pizzas.v1alpha1.{GROUP}"), "margherita", "-o", "yaml"]);
    assert!(yaml.contains(&format!("apiVersion: {GROUP}/v1alpha1\n")), "{yaml}");
    assert!(yaml.contains("kind: Pizza\n"), "{yaml}");
    assert!(
        yaml.contains("spec:\n  slices: 8\n  toppings:\n  - mozzarella\n  - tomato\n"),
        "v1alpha1 toppings are names:\n{yaml}"
    );
    let a = get(k, &alpha("margherita"));
    assert_eq!(a["spec"]["toppings"], json!(["mozzarella", "tomato"]), "{a:#}");

    // v1beta1: [{name, quantity}].
    let b = k.ok(&["get", &format!("pizzas.v1beta1.{GROUP}"), "margherita", "-o", "json"]);
    let b: Value = serde_json::from_str(&b).expect("json");
    assert_eq!(b["apiVersion"], json!(format!("{GROUP}/v1beta1")));
    assert_eq!(
        b["spec"]["toppings"],
        json!([{"name": "mozzarella", "quantity": 1}, {"name": "tomato", "quantity": 1}]),
        "{b:#}"
    );
    // One object, two views.
    assert_eq!(meta(&a, "uid"), meta(&b, "uid"));
    assert!(!meta(&a, "uid").is_empty());
    assert_eq!(meta(&a, "resourceVersion"), meta(&b, "resourceVersion"));

    // Applying the same file again changes nothing: no write, same resourceVersion.
    let out = k.ok(&["apply", "-f", &example("margherita.yaml")]);
    assert_eq!(out.trim(), format!("pizza.{GROUP}/margherita unchanged"));
    assert_eq!(meta(&get(k, &beta("margherita")), "resourceVersion"), meta(&b, "resourceVersion"));

    // Written as v1beta1 with quantity 2, read as v1alpha1: the name appears twice.
    env.create(
        "v1beta1",
        "double",
        json!({"toppings": [{"name": "salami", "quantity": 2}, {"name": "tomato", "quantity": 1}]}),
    );
    let a = get(k, &alpha("double"));
    assert_eq!(a["spec"]["toppings"], json!(["salami", "salami", "tomato"]), "{a:#}");

    // Written as v1alpha1 with a repeated name, read as v1beta1: a quantity.
    env.create("v1alpha1", "twice", json!({"toppings": ["tomato", "mozzarella", "tomato"]}));
    let b = get(k, &beta("twice"));
    assert_eq!(
        b["spec"]["toppings"],
        json!([{"name": "tomato", "quantity": 2}, {"name": "mozzarella", "quantity": 1}]),
        "{b:#}"
    );
}

// === defaulting, admission, validation ===

/// Empty toppings become salami, mozzarella and tomato; a missing quantity becomes 1.
#[test]
fn defaulting_fills_in_toppings_and_quantities() {
    let env = Env::with_toppings("defaults");
    let k = &env.k;

    let created = env.create("v1alpha1", "plain", json!({}));
    assert_eq!(created["spec"]["toppings"], json!(["salami", "mozzarella", "tomato"]), "{created:#}");
    let b = get(k, &beta("plain"));
    assert_eq!(
        b["spec"]["toppings"],
        json!([{"name": "salami", "quantity": 1}, {"name": "mozzarella", "quantity": 1}, {"name": "tomato", "quantity": 1}]),
        "{b:#}"
    );

    env.create("v1beta1", "empty-beta", json!({"toppings": []}));
    let b = get(k, &beta("empty-beta"));
    assert_eq!(
        b["spec"]["toppings"],
        json!([{"name": "salami", "quantity": 1}, {"name": "mozzarella", "quantity": 1}, {"name": "tomato", "quantity": 1}]),
        "{b:#}"
    );

    env.create("v1beta1", "no-quantity", json!({"toppings": [{"name": "tomato"}]}));
    let b = get(k, &beta("no-quantity"));
    assert_eq!(b["spec"]["toppings"], json!([{"name": "tomato", "quantity": 1}]), "{b:#}");
}

/// The PizzaToppings admission plugin rejects a pizza naming a topping that does not exist.
#[test]
fn admission_rejects_an_unknown_topping() {
    let env = Env::with_toppings("admission");
    let k = &env.k;

    let out = k.fails(&["apply", "-f", &example("pizza-unknown-topping.yaml")]);
    assert!(out.stderr.contains("unknown topping: pineapple"), "{out}");
    assert!(out.stderr.contains("Error from server (Forbidden)"), "{out}");

    let out = k.fails(&["get", "pizza", "hawaii"]);
    assert!(out.stderr.contains("(NotFound)"), "the rejected pizza must not exist:\n{out}");
}

/// A negative quantity is invalid: kubectl shows the field path and value, and the server
/// answered 422 with an `Invalid` Status carrying the cause.
#[test]
fn validation_rejects_a_negative_quantity_with_422() {
    let env = Env::with_toppings("validation");
    let k = &env.k;
    let file = example("pizza-invalid-quantity.yaml");

    let out = k.fails(&["apply", "-f", &file]);
    assert!(out.stderr.contains("spec.toppings[0].quantity"), "{out}");
    assert!(out.stderr.contains("Invalid value: -1"), "{out}");
    assert!(out.stderr.contains("The Pizza \"negative\" is invalid"), "{out}");

    // The status code, from kubectl's request log.
    let out = k.fails(&["create", "-f", &file, "-v=6"]);
    let post = format!("POST https://127.0.0.1:{}{}", env.server.port, pizzas_path("v1beta1", "default"));
    assert!(
        out.stderr.lines().any(|l| l.contains(&post) && l.contains("422 Unprocessable Entity")),
        "expected a line with {post:?} and 422 Unprocessable Entity:\n{out}"
    );

    // The Status body, from a raw POST (kubectl prints response bodies at -v=8).
    let body = pizza_json("v1beta1", "negative", json!({"toppings": [{"name": "salami", "quantity": -1}]}));
    let body_file = env.dir.write("negative.json", &body);
    let out = k.fails(&[
        "create",
        "--raw",
        &pizzas_path("v1beta1", "default"),
        "-f",
        &body_file.display().to_string(),
        "-v=8",
    ]);
    let status =
        response_body(&out.stderr).unwrap_or_else(|| panic!("no Response Body in kubectl's log:\n{out}"));
    assert_eq!(status["kind"], "Status", "{status:#}");
    assert_eq!(status["status"], "Failure", "{status:#}");
    assert_eq!(status["code"], 422, "{status:#}");
    assert_eq!(status["reason"], "Invalid", "{status:#}");
    assert_eq!(status["details"]["group"], GROUP, "{status:#}");
    assert_eq!(status["details"]["kind"], "Pizza", "{status:#}");
    assert_eq!(status["details"]["name"], "negative", "{status:#}");
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "FieldValueInvalid", "field": "spec.toppings[0].quantity", "message": "Invalid value: -1: must be greater than 0"}]),
        "{status:#}"
    );

    let out = k.fails(&["get", "pizza", "negative"]);
    assert!(out.stderr.contains("(NotFound)"), "the invalid pizza must not exist:\n{out}");
}

/// The JSON of the last `"Response Body" body="..."` line kubectl logged at -v=8. The value is
/// a Go-quoted string; for ASCII JSON its escapes (`\"`, `\\`) are JSON's.
fn response_body(log: &str) -> Option<Value> {
    let line = log.lines().rev().find(|l| l.contains("\"Response Body\" body=\""))?;
    let quoted = &line[line.find("body=\"")? + "body=".len()..];
    let text: String = serde_json::Deserializer::from_str(quoted).into_iter::<String>().next()?.ok()?;
    serde_json::from_str(&text).ok()
}

// === replace and delete ===

/// `kubectl replace` changes the spec (and bumps generation and resourceVersion), a stale
/// replace conflicts, and after `kubectl delete` the pizza is gone.
#[test]
fn replace_then_delete() {
    let env = Env::with_toppings("replace");
    let k = &env.k;

    let created = env.create("v1beta1", "r", json!({"toppings": [{"name": "tomato", "quantity": 1}]}));
    assert_eq!(created["metadata"]["generation"], 1, "{created:#}");

    let mut changed = created.clone();
    changed["spec"]["toppings"] = json!([{"name": "salami", "quantity": 2}]);
    let out = k.ok_stdin(&["replace", "-f", "-"], &changed.to_string());
    assert_eq!(out.trim(), format!("pizza.{GROUP}/r replaced"));

    let replaced = get(k, &beta("r"));
    assert_eq!(replaced["spec"]["toppings"], json!([{"name": "salami", "quantity": 2}]), "{replaced:#}");
    assert_eq!(replaced["metadata"]["generation"], 2, "{replaced:#}");
    assert_eq!(meta(&replaced, "uid"), meta(&created, "uid"));
    assert!(
        rv_num(meta(&replaced, "resourceVersion")) > rv_num(meta(&created, "resourceVersion")),
        "{replaced:#}"
    );

    // A replace carrying the old resourceVersion is a conflict.
    let mut stale = created.clone();
    stale["spec"]["toppings"] = json!([{"name": "mozzarella", "quantity": 3}]);
    let out = k.fails_stdin(&["replace", "-f", "-"], &stale.to_string());
    assert!(out.stderr.contains("Error from server (Conflict)"), "{out}");
    assert!(out.stderr.contains("the object has been modified"), "{out}");
    assert_eq!(get(k, &beta("r"))["spec"], replaced["spec"], "a conflicting replace must not write");

    let out = k.ok(&["delete", "pizza", "r"]);
    assert_eq!(out.trim(), format!("pizza.{GROUP} \"r\" deleted"));

    let out = k.fails(&["get", "pizza", "r"]);
    assert!(
        out.stderr.contains(&format!("Error from server (NotFound): pizzas.{GROUP} \"r\" not found")),
        "{out}"
    );
    let list = k.ok(&["get", "pizzas", "-o", "json"]);
    let list: Value = serde_json::from_str(&list).expect("json");
    assert_eq!(list["items"], json!([]), "{list:#}");
}

// === watch ===

/// A `kubectl get --watch` in one process sees ADDED, MODIFIED and DELETED for writes made by
/// other kubectl processes, in order.
#[test]
fn watch_sees_added_modified_deleted() {
    let env = Env::with_toppings("watch");
    let k = &env.k;

    env.create("v1beta1", "before", json!({"toppings": [{"name": "tomato", "quantity": 1}]}));
    let mut watch = k.spawn(&["get", "pizzas", "--watch", "--output-watch-events", "-o", "json"]);
    // The initial list has been printed: the watch starts from the list's resourceVersion, so
    // every later write is seen.
    watch.wait_until(TIMEOUT, "ADDED before", |out, _| {
        support::json_stream(out)
            .iter()
            .any(|e| e["type"] == "ADDED" && meta(&e["object"], "name") == "before")
    });

    env.create("v1beta1", "w", json!({"toppings": [{"name": "tomato", "quantity": 1}]}));
    assert_eq!(k.ok(&["label", "pizza", "w", "size=large"]).trim(), format!("pizza.{GROUP}/w labeled"));
    assert_eq!(k.ok(&["delete", "pizza", "w"]).trim(), format!("pizza.{GROUP} \"w\" deleted"));

    watch.wait_until(TIMEOUT, "DELETED w", |out, _| {
        support::json_stream(out).iter().any(|e| e["type"] == "DELETED" && meta(&e["object"], "name") == "w")
    });
    let events = watch.json_values();
    let seen: Vec<(&str, &str)> =
        events.iter().map(|e| (e["type"].as_str().unwrap_or("?"), meta(&e["object"], "name"))).collect();
    assert_eq!(
        seen,
        [("ADDED", "before"), ("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")],
        "watch events:\n{watch}"
    );
    let rvs: Vec<u64> = events[1..].iter().map(|e| rv_num(meta(&e["object"], "resourceVersion"))).collect();
    assert!(rvs.windows(2).all(|w| w[0] < w[1]), "resourceVersions must increase: {rvs:?}");
    assert_eq!(events[2]["object"]["metadata"]["labels"], json!({"size": "large"}), "{:#}", events[2]);
    assert_eq!(
        events[3]["object"]["metadata"]["labels"],
        json!({"size": "large"}),
        "DELETED carries the last state"
    );
    for e in &events {
        assert_eq!(e["object"]["apiVersion"], json!(format!("{GROUP}/v1beta1")), "{e:#}");
        assert_eq!(e["object"]["kind"], "Pizza", "{e:#}");
    }
}

// === explain ===

/// `kubectl explain` prints the field docs from the OpenAPI schema, for both versions.
#[test]
fn explain_prints_field_docs() {
    let env = Env::start("explain");
    let k = &env.k;

    let out = k.ok(&["explain", "pizzas.spec.toppings"]);
    for want in [
        &format!("GROUP:      {GROUP}") as &str,
        "KIND:       Pizza",
        "VERSION:    v1beta1",
        "FIELD: toppings <[]",
        "Toppings with the number of portions of each.",
        "name\t<string>",
        "The name of a Topping object.",
        "quantity\t<integer>",
        "How many portions; 0 is defaulted to 1.",
    ] {
        assert!(out.contains(want), "kubectl explain pizzas.spec.toppings lacks {want:?}:\n{out}");
    }

    let out = k.ok(&["explain", "pizzas.spec.toppings", &format!("--api-version={GROUP}/v1alpha1")]);
    for want in [
        "VERSION:    v1alpha1",
        "FIELD: toppings <[]string>",
        "Names of Topping objects. Repeat a name for more than one portion.",
    ] {
        assert!(out.contains(want), "kubectl explain (v1alpha1) lacks {want:?}:\n{out}");
    }

    let out = k.ok(&["explain", "toppings.spec.cost"]);
    assert!(out.contains("The cost of one portion of this topping, in dollars."), "{out}");
}

// === label, annotate, edit, patch ===

/// Metadata commands, `kubectl edit`, and merge, JSON and strategic merge patches work on pizzas.
#[test]
fn label_annotate_edit_and_patch() {
    let env = Env::with_toppings("patch");
    let k = &env.k;

    env.create("v1beta1", "m", json!({"toppings": [{"name": "tomato", "quantity": 1}]}));

    assert_eq!(k.ok(&["label", "pizza", "m", "size=large"]).trim(), format!("pizza.{GROUP}/m labeled"));
    assert_eq!(k.ok(&["annotate", "pizza", "m", "note=hot"]).trim(), format!("pizza.{GROUP}/m annotated"));
    let p = get(k, &beta("m"));
    assert_eq!(p["metadata"]["labels"], json!({"size": "large"}), "{p:#}");
    assert_eq!(p["metadata"]["annotations"]["note"], "hot", "{p:#}");
    assert_eq!(p["metadata"]["generation"], 1, "metadata changes do not bump generation: {p:#}");

    // kubectl edit, with an "editor" that edits the file in place.
    let editor = env.dir.write("editor.sh", "#!/bin/sh\nsed -i 's/quantity: 1$/quantity: 3/' \"$1\"\n");
    fs::set_permissions(&editor, fs::Permissions::from_mode(0o755)).expect("chmod");
    let args = ["edit", "pizza", "m"];
    let mut cmd = k.command(&args);
    cmd.env("KUBE_EDITOR", &editor).env("EDITOR", &editor);
    let out = k.run_cmd(cmd, &args, None);
    assert!(out.status.success(), "kubectl edit failed:\n{out}");
    assert_eq!(out.stdout.trim(), format!("pizza.{GROUP}/m edited"), "{out}");
    let p = get(k, &beta("m"));
    assert_eq!(p["spec"]["toppings"], json!([{"name": "tomato", "quantity": 3}]), "{p:#}");

    let out = k.ok(&[
        "patch",
        "pizza",
        "m",
        "--type=merge",
        "-p",
        r#"{"spec":{"toppings":[{"name":"salami","quantity":2}]}}"#,
    ]);
    assert_eq!(out.trim(), format!("pizza.{GROUP}/m patched"));
    let p = get(k, &beta("m"));
    assert_eq!(p["spec"]["toppings"], json!([{"name": "salami", "quantity": 2}]), "{p:#}");

    let out = k.ok(&[
        "patch",
        "pizza",
        "m",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/spec/toppings/-","value":{"name":"mozzarella","quantity":1}}]"#,
    ]);
    assert_eq!(out.trim(), format!("pizza.{GROUP}/m patched"));
    let p = get(k, &beta("m"));
    assert_eq!(
        p["spec"]["toppings"],
        json!([{"name": "salami", "quantity": 2}, {"name": "mozzarella", "quantity": 1}]),
        "{p:#}"
    );
    // Three spec changes since creation; metadata survived them.
    assert_eq!(p["metadata"]["generation"], 4, "{p:#}");
    assert_eq!(p["metadata"]["labels"], json!({"size": "large"}), "{p:#}");
    assert_eq!(p["metadata"]["annotations"]["note"], "hot", "{p:#}");
    // A patch also goes through admission.
    let out = k.fails(&[
        "patch",
        "pizza",
        "m",
        "--type=merge",
        "-p",
        r#"{"spec":{"toppings":[{"name":"pineapple","quantity":1}]}}"#,
    ]);
    assert!(out.stderr.contains("unknown topping: pineapple"), "{out}");

    // Strategic merge patch merges maps (toppings merge by name: see kubectl_patch.rs).
    let out =
        k.ok(&["patch", "pizza", "m", "--type=strategic", "-p", r#"{"metadata":{"labels":{"a":"b"}}}"#]);
    assert_eq!(out.trim(), format!("pizza.{GROUP}/m patched"));
    let p = get(k, &beta("m"));
    assert_eq!(p["metadata"]["labels"], json!({"size": "large", "a": "b"}), "{p:#}");
}

/// Labels select: `kubectl get -l` and `--field-selector` filter the list.
#[test]
fn label_and_field_selectors_filter_pizzas() {
    let env = Env::with_toppings("selectors");
    let k = &env.k;

    env.create("v1beta1", "a", json!({"toppings": [{"name": "tomato", "quantity": 1}]}));
    env.create("v1beta1", "b", json!({"toppings": [{"name": "tomato", "quantity": 1}]}));
    k.ok(&["label", "pizza", "a", "size=large"]);

    let out = k.ok(&["get", "pizzas", "-l", "size=large", "-o", "name"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [format!("pizza.{GROUP}/a")],
        "GET ...pizzas?labelSelector=size%3Dlarge"
    );
    let out = k.ok(&["get", "pizzas", "-l", "size!=large", "-o", "name"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [format!("pizza.{GROUP}/b")],
        "GET ...pizzas?labelSelector=size%21%3Dlarge"
    );
    let out = k.ok(&["get", "pizzas", "--field-selector", "metadata.name=b", "-o", "name"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [format!("pizza.{GROUP}/b")],
        "GET ...pizzas?fieldSelector=metadata.name%3Db"
    );
    // A field that is not selectable is a 400, as upstream ("field label not supported").
    let out = k.fails(&["get", "pizzas", "--field-selector", "spec.color=red"]);
    assert!(out.stderr.contains("(BadRequest)"), "{out}");

    // What a selector that is silently ignored costs: `kubectl delete -l` deletes what it lists.
    let out = k.ok(&["delete", "pizzas", "-l", "size=large"]);
    assert_eq!(out.trim(), format!("pizza.{GROUP} \"a\" deleted"), "kubectl delete pizzas -l size=large");
    let out = k.ok(&["get", "pizzas", "-o", "name"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), [format!("pizza.{GROUP}/b")], "b must survive");
}

// === wait ===

/// `kubectl wait --for=delete` returns once another process deletes the pizza.
#[test]
fn wait_for_delete_returns_when_the_pizza_is_deleted() {
    let env = Env::with_toppings("wait");
    let k = &env.k;

    env.create("v1beta1", "x", json!({}));
    let mut wait = k.spawn(&["wait", "--for=delete", "pizza/x", "--timeout=30s", "-v=6"]);
    wait.wait_until(TIMEOUT, "kubectl wait to start watching", |_, err| {
        err.lines().any(|l| l.contains("watch=true") && l.contains("200 OK"))
    });
    assert_eq!(wait.try_status(), None, "kubectl wait returned while the pizza still exists:\n{wait}");

    k.ok(&["delete", "pizza", "x"]);
    let status =
        wait.wait(TIMEOUT).unwrap_or_else(|| panic!("kubectl wait did not return after the delete:\n{wait}"));
    assert!(status.success(), "{wait}");
    assert_eq!(wait.stdout().trim(), format!("pizza.{GROUP}/x condition met"), "{wait}");
}

/// `kubectl wait --for=delete pizza/x` must not return when a *different* pizza is deleted.
/// (kubectl lists and watches with `fieldSelector=metadata.name=x`.)
#[test]
fn wait_for_delete_ignores_other_pizzas() {
    let env = Env::with_toppings("wait-other");
    let k = &env.k;

    env.create("v1beta1", "x", json!({}));
    env.create("v1beta1", "other", json!({}));
    let mut wait = k.spawn(&["wait", "--for=delete", "pizza/x", "--timeout=30s", "-v=6"]);
    wait.wait_until(TIMEOUT, "kubectl wait to start watching", |_, err| {
        err.lines().any(|l| l.contains("watch=true") && l.contains("200 OK"))
    });

    k.ok(&["delete", "pizza", "other"]);
    // Nothing should happen now; give a wrongly woken kubectl time to exit.
    let early = poll(Duration::from_secs(3), || wait.try_status());
    assert_eq!(early, None, "kubectl wait for pizza/x returned when pizza/other was deleted:\n{wait}");

    k.ok(&["delete", "pizza", "x"]);
    let status =
        wait.wait(TIMEOUT).unwrap_or_else(|| panic!("kubectl wait did not return after the delete:\n{wait}"));
    assert!(status.success(), "{wait}");
}

// === restart ===

/// Every pizza and topping, by `<resource>/<name>`.
fn snapshot(k: &Kubectl) -> BTreeMap<String, Value> {
    let mut all = BTreeMap::new();
    for resource in ["pizzas", "toppings"] {
        let list: Value = serde_json::from_str(&k.ok(&["get", resource, "-o", "json"])).expect("json");
        for item in list["items"].as_array().expect("items") {
            all.insert(format!("{resource}/{}", meta(item, "name")), item.clone());
        }
    }
    all
}

/// A graceful restart on the same data dir keeps every object byte for byte (same uid and
/// resourceVersion), reuses the certificates and leaves the kubeconfig untouched; new writes
/// continue the revision sequence.
#[test]
fn restart_keeps_objects_certs_and_kubeconfig() {
    let mut env = Env::with_toppings("restart");
    env.k.ok(&["apply", "-f", &example("margherita.yaml")]);
    env.create("v1beta1", "double", json!({"toppings": [{"name": "salami", "quantity": 2}]}));
    env.k.ok(&["label", "pizza", "double", "size=large"]);

    let before = snapshot(&env.k);
    assert_eq!(before.len(), 5, "{before:#?}");
    let kubeconfig = fs::read(env.server.kubeconfig()).expect("kubeconfig");
    let certs = read_dir_files(&env.server.data_dir.join("certs"));
    assert!(!certs.is_empty(), "no certificates under {}", env.server.data_dir.display());
    let max_rv = before.values().map(|o| rv_num(meta(o, "resourceVersion"))).max().expect("objects");

    let port = env.server.port;
    let status = env.server.terminate();
    assert!(
        status.success(),
        "pizza-apiserver should exit cleanly on SIGTERM: {status}\n{}",
        env.server.log_text()
    );
    env.server = Server::start_on(&env.dir, port).unwrap_or_else(|e| panic!("restart failed: {e}"));

    assert_eq!(
        fs::read(env.server.kubeconfig()).expect("kubeconfig"),
        kubeconfig,
        "the kubeconfig changed on restart"
    );
    assert_eq!(
        read_dir_files(&env.server.data_dir.join("certs")),
        certs,
        "the certificates changed on restart"
    );

    let after = snapshot(&env.k);
    assert_eq!(after, before, "objects changed across the restart");

    let created = env.create("v1beta1", "after-restart", json!({}));
    assert!(
        rv_num(meta(&created, "resourceVersion")) > max_rv,
        "a write after the restart must get a newer resourceVersion than {max_rv}: {created:#}"
    );
}

fn read_dir_files(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| {
            let e = e.expect("dir entry");
            (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).expect("read"))
        })
        .collect()
}
