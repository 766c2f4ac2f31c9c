//! End to end: graceful deletion and finalizers with the real `pizza-apiserver` binary and
//! the real `kubectl` (v1.32):
//! - `kubectl delete --grace-period=N` (which waits by default) returns once the server
//!   removes the pizza at the end of the grace period;
//! - `kubectl wait --for=delete` returns once the last finalizer is cleared;
//! - a pending graceful deletion survives a restart of the server on the same data dir, and
//!   is finished by another replica on the same etcd when the one that started it is gone.
//!
//! Run with `cargo test -p pizza-apiserver --test integration kubectl_delete::`.

use std::time::{Duration, Instant};

use crate::support::{GROUP, Kubectl, Server, TIMEOUT, TempDir, example, pizza_json, poll};
use serde_json::{Value, json};

/// One server with its kubectl and the example toppings; the server dies before its dir.
struct Env {
    k: Kubectl,
    server: Server,
    dir: TempDir,
}

impl Env {
    fn start(label: &str) -> Env {
        let dir = TempDir::new(label);
        let server = Server::start(&dir);
        let k = server.kubectl();
        k.ok(&["apply", "-f", &example("toppings.yaml")]);
        Env { k, server, dir }
    }

    fn create(&self, name: &str, finalizers: &[&str]) -> Value {
        let mut pizza: Value = serde_json::from_str(&pizza_json("v1beta1", name, json!({}))).unwrap();
        if !finalizers.is_empty() {
            pizza["metadata"]["finalizers"] = json!(finalizers);
        }
        let out = self.k.run_stdin(&["create", "-f", "-", "-o", "json"], &pizza.to_string());
        assert!(out.status.success(), "creating pizza {name} failed:\n{out}");
        out.json()
    }

    /// `kubectl get pizza <name>`: the object, or `None` once it is NotFound.
    fn get(&self, name: &str) -> Option<Value> {
        let out = self.k.run(&["get", "pizza", name, "-o", "json"]);
        if out.status.success() {
            return Some(out.json());
        }
        assert!(out.stderr.contains("NotFound"), "kubectl get failed:\n{out}");
        None
    }
}

/// `kubectl delete --grace-period=2` waits (kubectl's default `--wait=true`) until the
/// server removes the pizza, which it does no earlier than the grace period.
#[test]
fn delete_with_a_grace_period_waits_until_the_pizza_is_gone() {
    let env = Env::start("delete-grace");
    env.create("slow", &[]);
    let started = Instant::now();
    let out = env.k.ok(&["delete", "pizza", "slow", "--grace-period=2"]);
    assert_eq!(out.trim(), format!("pizza.{GROUP} \"slow\" deleted"));
    assert!(started.elapsed() >= Duration::from_secs(1), "returned after {:?}", started.elapsed());
    assert!(env.get("slow").is_none());
}

/// While the grace period runs the pizza is visible with `deletionTimestamp`;
/// `kubectl wait --for=delete` returns when it ends.
#[test]
fn wait_for_delete_returns_when_the_grace_period_ends() {
    let env = Env::start("wait-grace");
    env.create("g", &[]);
    env.k.ok(&["delete", "pizza", "g", "--grace-period=3", "--wait=false"]);
    let deleting = env.get("g").expect("visible while the grace period runs");
    assert!(deleting["metadata"]["deletionTimestamp"].is_string(), "{deleting:#}");
    assert_eq!(deleting["metadata"]["deletionGracePeriodSeconds"], 3);
    let out = env.k.ok(&["wait", "--for=delete", "pizza/g", "--timeout=30s"]);
    assert_eq!(out.trim(), format!("pizza.{GROUP}/g condition met"));
    assert!(env.get("g").is_none());
}

/// A finalizer keeps the pizza until `kubectl patch` clears it; `kubectl wait --for=delete`
/// and a waiting `kubectl delete` both return then.
#[test]
fn wait_for_delete_returns_when_the_last_finalizer_is_cleared() {
    let env = Env::start("wait-finalizer");
    env.create("f", &["example.com/bake"]);
    env.k.ok(&["delete", "pizza", "f", "--wait=false"]);
    let mut wait = env.k.spawn(&["wait", "--for=delete", "pizza/f", "--timeout=60s", "-v=6"]);
    let mut delete = env.k.spawn(&["delete", "pizza", "f", "--timeout=60s"]);
    wait.wait_until(TIMEOUT, "kubectl wait to start watching", |_, err| {
        err.lines().any(|l| l.contains("watch=true") && l.contains("200 OK"))
    });
    let early = poll(Duration::from_secs(2), || wait.try_status().or_else(|| delete.try_status()));
    assert_eq!(early, None, "kubectl returned while the finalizer is pending:\n{wait}\n{delete}");
    let deleting = env.get("f").expect("kept by its finalizer");
    assert_eq!(deleting["metadata"]["finalizers"], json!(["example.com/bake"]));

    env.k.ok(&["patch", "pizza", "f", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    let status = wait.wait(TIMEOUT).unwrap_or_else(|| panic!("kubectl wait did not return:\n{wait}"));
    assert!(status.success(), "{wait}");
    let status = delete.wait(TIMEOUT).unwrap_or_else(|| panic!("kubectl delete did not return:\n{delete}"));
    assert!(status.success(), "{delete}");
    assert!(env.get("f").is_none());
}

/// `--cascade=orphan` and `--cascade=foreground` add the garbage collector's finalizers, as
/// kube-apiserver does; with no garbage collector running, the pizza stays until they are
/// cleared.
#[test]
fn cascade_policies_add_the_garbage_collector_finalizers() {
    let env = Env::start("cascade");
    env.create("o", &[]);
    env.create("fg", &[]);
    env.k.ok(&["delete", "pizza", "o", "--cascade=orphan", "--wait=false"]);
    env.k.ok(&["delete", "pizza", "fg", "--cascade=foreground", "--wait=false"]);
    assert_eq!(env.get("o").expect("kept")["metadata"]["finalizers"], json!(["orphan"]));
    assert_eq!(env.get("fg").expect("kept")["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    let out = env.k.fails(&[
        "patch",
        "pizza",
        "o",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["orphan","x.io/y"]}}"#,
    ]);
    assert!(out.stderr.contains("no new finalizers can be added if the object is being deleted"), "{out}");
}

/// A graceful deletion pending when the server stops finishes after it starts again.
#[test]
fn a_pending_graceful_deletion_survives_a_restart() {
    let mut env = Env::start("restart-grace");
    env.create("r", &[]);
    env.k.ok(&["delete", "pizza", "r", "--grace-period=3", "--wait=false"]);
    let port = env.server.port;
    let status = env.server.terminate();
    assert!(status.success(), "{}", env.server.log_text());
    // Past the deadline while no server runs.
    std::thread::sleep(Duration::from_secs(4));
    env.server = Server::start_on(&env.dir, port).unwrap_or_else(|e| panic!("restart failed: {e}"));
    let gone = poll(TIMEOUT, || env.get("r").is_none().then_some(()));
    assert!(gone.is_some(), "the pizza survived its grace period across a restart");
}

#[cfg(feature = "etcd")]
/// Two replicas on one etcd: a graceful deletion made through replica A is finished by
/// replica B, which learned of it from its watch, after A is gone.
#[test]
fn another_replica_finishes_a_graceful_deletion() {
    let etcd = piazza_storage_etcd::testing::EtcdServer::start();
    let endpoint = etcd.endpoint();
    let args = ["--etcd-servers", endpoint.as_str(), "--etcd-prefix", "/piazza-graceful"];
    let (dir_a, dir_b) = (TempDir::new("graceful-a"), TempDir::new("graceful-b"));
    let mut a = Server::start_with_args(&dir_a, &args);
    let b = Server::start_with_args(&dir_b, &args);
    let (ka, kb) = (a.kubectl(), b.kubectl());
    ka.ok(&["apply", "-f", &example("toppings.yaml")]);
    ka.ok_stdin(&["create", "-f", "-"], &pizza_json("v1beta1", "shared", json!({})));
    ka.ok(&["delete", "pizza", "shared", "--grace-period=3", "--wait=false"]);
    let status = a.terminate();
    assert!(status.success(), "{}", a.log_text());
    let deleting = kb.run(&["get", "pizza", "shared", "-o", "json"]);
    assert!(deleting.status.success(), "{deleting}");
    assert!(deleting.json()["metadata"]["deletionTimestamp"].is_string());
    let out = kb.ok(&["wait", "--for=delete", "pizza/shared", "--timeout=30s"]);
    assert_eq!(out.trim(), format!("pizza.{GROUP}/shared condition met"));
}
