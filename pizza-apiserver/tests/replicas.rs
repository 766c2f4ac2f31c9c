//! Two `pizza-apiserver` replicas on one real etcd (started by the test):
//! - a watch on replica B sees every write made on replica A, in order, with no gap;
//! - resourceVersions agree across replicas;
//! - concurrent compare-and-swap updates through both replicas lose no update.

use crate::support;
use std::thread;

use crate::support::{GROUP, Server, TIMEOUT, TempDir, example, pizzas_path, poll};
use piazza_storage_etcd::testing::EtcdServer;

fn replica(label: &str, etcd: &EtcdServer) -> (TempDir, Server) {
    let root = TempDir::new(label);
    let endpoint = etcd.endpoint();
    let server =
        Server::start_with_args(&root, &["--etcd-servers", &endpoint, "--etcd-prefix", "/piazza-replicas"]);
    (root, server)
}

fn pizza_json(name: &str) -> String {
    format!(
        r#"{{"apiVersion":"{GROUP}/v1beta1","kind":"Pizza","metadata":{{"name":"{name}"}},"spec":{{"toppings":[{{"name":"salami","quantity":1}}]}}}}"#
    )
}

#[test]
fn a_watch_on_one_replica_sees_every_write_of_the_other_in_order() {
    let etcd = EtcdServer::start();
    let (_ra, a) = replica("replica-a", &etcd);
    let (_rb, b) = replica("replica-b", &etcd);
    let (ka, kb) = (a.kubectl(), b.kubectl());
    ka.ok(&["apply", "-f", &example("toppings.yaml")]);

    let list = kb.run(&["get", "--raw", &pizzas_path("v1beta1", "default")]).json();
    let start = list["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
    let watch_path =
        format!("{}?watch=true&resourceVersion={start}&timeoutSeconds=60", pizzas_path("v1beta1", "default"));
    let mut watch = kb.spawn(&["get", "--raw", &watch_path]);

    const WRITES: usize = 25;
    let mut acked = Vec::new();
    for i in 0..WRITES {
        let name = format!("r{i:03}");
        let rv = ka.ok_stdin(
            &["create", "-f", "-", "-o", "jsonpath={.metadata.resourceVersion}"],
            &pizza_json(&name),
        );
        acked.push((name, rv.trim().parse::<u64>().unwrap()));
    }
    watch.wait_until(TIMEOUT, "all writes seen on replica B", |out, _| {
        support::json_stream(out).len() >= WRITES
    });
    let events = watch.json_values();
    let seen: Vec<(String, u64)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "ADDED", "{e}");
            let meta = &e["object"]["metadata"];
            (
                meta["name"].as_str().unwrap().to_owned(),
                meta["resourceVersion"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen, acked, "replica B's watch must match replica A's acknowledged writes exactly, in order");

    // Both replicas report the same resourceVersion for every object.
    for (name, rv) in &acked {
        let on_b = kb.get_json("pizza", name);
        assert_eq!(on_b["metadata"]["resourceVersion"].as_str().unwrap(), rv.to_string(), "{name}");
    }
    let list_a = ka.run(&["get", "--raw", &pizzas_path("v1beta1", "default")]).json();
    let list_b = kb.run(&["get", "--raw", &pizzas_path("v1beta1", "default")]).json();
    assert_eq!(list_a["items"], list_b["items"]);
}

#[test]
fn compare_and_swap_through_both_replicas_loses_no_update() {
    let etcd = EtcdServer::start();
    let (_ra, a) = replica("cas-a", &etcd);
    let (_rb, b) = replica("cas-b", &etcd);
    a.kubectl().ok(&["apply", "-f", &example("toppings.yaml")]);
    a.kubectl().ok_stdin(&["create", "-f", "-"], &pizza_json("counter"));

    const PER_WORKER: u64 = 6;
    let workers: Vec<_> = [&a, &b, &a, &b]
        .into_iter()
        .map(|server| {
            let k = server.kubectl();
            thread::spawn(move || {
                let mut conflicts = 0;
                for _ in 0..PER_WORKER {
                    loop {
                        let current = k.ok(&[
                            "get",
                            "pizza",
                            "counter",
                            "-o",
                            "jsonpath={.metadata.resourceVersion} {.metadata.annotations.count}",
                        ]);
                        let mut parts = current.split_whitespace();
                        let rv = parts.next().unwrap().to_owned();
                        let count: u64 = parts.next().map_or(0, |c| c.parse().unwrap());
                        let out = k.run(&[
                            "annotate",
                            "pizza",
                            "counter",
                            "--overwrite",
                            &format!("--resource-version={rv}"),
                            &format!("count={}", count + 1),
                        ]);
                        if out.status.success() {
                            break;
                        }
                        assert!(out.stderr.contains("Conflict") || out.stderr.contains("modified"), "{out}");
                        conflicts += 1;
                    }
                }
                conflicts
            })
        })
        .collect();
    let conflicts: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let expected = 4 * PER_WORKER;
    let final_count = poll(TIMEOUT, || {
        let c = b.kubectl().ok(&["get", "pizza", "counter", "-o", "jsonpath={.metadata.annotations.count}"]);
        (c.trim() == expected.to_string()).then_some(c)
    });
    assert!(final_count.is_some(), "every increment must land exactly once ({conflicts} conflicts retried)");
}
