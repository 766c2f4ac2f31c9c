//! Crash test: SIGKILL `pizza-apiserver` in the middle of a stream of creates, restart it on
//! the same data dir and port, and check that
//! - every acknowledged create survived, with the resourceVersion it was acknowledged with;
//! - nothing unacknowledged appeared, except possibly the one create in flight at the kill;
//! - a watch resumed from the last resourceVersion it saw gets the remaining creates in
//!   order, with no gap and no duplicate.
//!
//! Run with `cargo test -p pizza-apiserver --test integration crash::`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::support::{
    GROUP, Kubectl, Server, Spawned, TIMEOUT, TempDir, example, json_stream, meta, pizzas_path, rv_num,
};
use serde_json::Value;

/// Pizzas offered to `kubectl create`; the server dies long before the last.
const TOTAL: usize = 1000;
/// One watcher is stopped after this many acknowledged creates, so that its resumed watch has
/// to be served from the history persisted before the crash.
const STOP_EARLY_WATCHER_AFTER: usize = 40;
/// The server is SIGKILLed once this many creates have been acknowledged.
const KILL_AFTER: usize = 100;

/// One watch event: type, pizza name, resourceVersion.
#[derive(Clone, Debug, PartialEq)]
struct Event {
    kind: String,
    name: String,
    rv: u64,
}

fn events(values: &[Value]) -> Vec<Event> {
    values
        .iter()
        .map(|e| Event {
            kind: e["type"].as_str().unwrap_or("?").to_owned(),
            name: meta(&e["object"], "name").to_owned(),
            rv: meta(&e["object"], "resourceVersion").parse().unwrap_or(0),
        })
        .collect()
}

fn pizza_yaml(name: &str) -> String {
    format!(
        "---\napiVersion: {GROUP}/v1beta1\nkind: Pizza\nmetadata:\n  name: {name}\nspec:\n  toppings:\n  - name: tomato\n    quantity: 1\n"
    )
}

/// A raw watch on the default namespace's pizzas (v1beta1) from `rv`, with kubectl's request
/// log on stderr.
fn spawn_watch(k: &Kubectl, rv: u64) -> Spawned {
    let path = format!("{}?watch=true&resourceVersion={rv}", pizzas_path("v1beta1", "default"));
    let mut watch = k.spawn(&["get", "--raw", &path, "-v=6"]);
    watch.wait_until(TIMEOUT, "the watch to be established", |_, err| {
        err.lines().any(|l| l.contains("watch=true") && l.contains("200 OK"))
    });
    watch
}

#[test]
fn sigkill_mid_stream_loses_nothing_acknowledged_and_watch_resumes() {
    let dir = TempDir::new("crash");
    let mut server = Server::start(&dir);
    let port = server.port;
    let k = server.kubectl();
    k.ok(&["apply", "-f", &example("toppings.yaml")]);

    let list: Value =
        serde_json::from_str(&k.ok(&["get", "--raw", &pizzas_path("v1beta1", "default")])).expect("json");
    assert_eq!(list["items"], serde_json::json!([]), "{list:#}");
    let start_rv = rv_num(list["metadata"]["resourceVersion"].as_str().expect("list resourceVersion"));

    // Two watchers from the start: one runs until the crash, one is stopped early.
    let mut until_crash = spawn_watch(&k, start_rv);
    let mut early = spawn_watch(&k, start_rv);

    // One kubectl streams the creates, one at a time, and prints each acknowledgement.
    let names: Vec<String> = (0..TOTAL).map(|i| format!("p{i:04}")).collect();
    let stream: String = names.iter().map(|n| pizza_yaml(n)).collect();
    let mut creator = k.spawn_stdin(
        &["create", "-f", "-", "-o", r#"jsonpath={.metadata.name} {.metadata.resourceVersion}{"\n"}"#],
        stream,
    );

    creator.wait_until(TIMEOUT, "the first acknowledged creates", |out, _| {
        out.lines().count() >= STOP_EARLY_WATCHER_AFTER
    });
    early.kill();
    creator.wait_until(TIMEOUT, "more acknowledged creates", |out, _| out.lines().count() >= KILL_AFTER);
    server.kill(); // SIGKILL, mid-stream

    // The creates after the kill fail fast (connection refused); kubectl goes on to the end.
    let status = creator
        .wait(Duration::from_secs(120))
        .unwrap_or_else(|| panic!("kubectl create did not finish after the server died:\n{creator}"));
    assert!(!status.success(), "creates after the kill must fail:\n{creator}");
    if until_crash.wait(TIMEOUT).is_none() {
        until_crash.kill();
    }

    // What was acknowledged: a prefix of `names`, since kubectl creates them in order and
    // every create before the kill succeeds.
    let acked: Vec<(String, u64)> = creator
        .stdout()
        .lines()
        .map(|l| {
            let (name, rv) =
                l.split_once(' ').unwrap_or_else(|| panic!("unexpected kubectl output line {l:?}"));
            (name.to_owned(), rv_num(rv))
        })
        .collect();
    assert!(acked.len() >= KILL_AFTER, "{creator}");
    assert!(
        acked.len() < TOTAL,
        "all {TOTAL} creates were acknowledged: the server was not killed mid-stream; raise TOTAL"
    );
    let acked_names: Vec<&str> = acked.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        acked_names,
        names[..acked.len()].iter().map(String::as_str).collect::<Vec<_>>(),
        "acknowledged out of order"
    );
    assert!(
        acked.windows(2).all(|w| w[0].1 < w[1].1),
        "acknowledged resourceVersions must increase: {acked:?}"
    );
    // The create that was in flight at the kill may or may not have been committed.
    let in_flight = names[acked.len()].clone();

    let before_crash = events(&until_crash.json_values());
    let before_stop = events(&early.json_values());
    assert!(
        before_stop.len() >= STOP_EARLY_WATCHER_AFTER / 2,
        "the early watcher saw too little to make the test meaningful: {before_stop:?}\n{early}"
    );

    // Restart on the same data dir and port.
    server = Server::start_on(&dir, port).unwrap_or_else(|e| panic!("restart after SIGKILL failed: {e}"));
    let k = server.kubectl();

    // Every acknowledged create is there, with the acknowledged resourceVersion.
    let list: Value =
        serde_json::from_str(&k.ok(&["get", "--raw", &pizzas_path("v1beta1", "default")])).expect("json");
    let stored: BTreeMap<String, u64> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| (meta(o, "name").to_owned(), rv_num(meta(o, "resourceVersion"))))
        .collect();
    for (name, rv) in &acked {
        assert_eq!(
            stored.get(name),
            Some(rv),
            "acknowledged pizza {name} (resourceVersion {rv}) after the restart"
        );
    }
    let allowed: BTreeSet<&str> = acked_names.iter().copied().chain([in_flight.as_str()]).collect();
    for name in stored.keys() {
        assert!(
            allowed.contains(name.as_str()),
            "pizza {name} was never acknowledged nor in flight, yet is stored"
        );
    }
    // What a watcher saw before the crash was durable.
    for e in before_crash.iter().chain(&before_stop) {
        assert_eq!(
            stored.get(&e.name),
            Some(&e.rv),
            "watched before the crash, but not stored like this: {e:?}"
        );
    }

    // Resume both watches from the last resourceVersion each saw.
    let resume = |before: &[Event]| {
        let from = before.last().map_or(start_rv, |e| e.rv);
        let path = format!(
            "{}?watch=true&resourceVersion={from}&timeoutSeconds=5",
            pizzas_path("v1beta1", "default")
        );
        (from, k.spawn(&["get", "--raw", &path]))
    };
    let (from_crash, mut resumed_crash) = resume(&before_crash);
    let (from_stop, mut resumed_stop) = resume(&before_stop);
    for (label, before, from, resumed) in [
        ("watch that ran until the crash", &before_crash, from_crash, &mut resumed_crash),
        ("watch stopped early", &before_stop, from_stop, &mut resumed_stop),
    ] {
        let status = resumed.wait(TIMEOUT).unwrap_or_else(|| {
            panic!("{label}: the resumed watch did not end after timeoutSeconds=5:\n{resumed}")
        });
        assert!(status.success(), "{label}: the resumed watch failed:\n{resumed}");
        let after = events(&json_stream(&resumed.stdout()));
        eprintln!(
            "{label}: {} events before, {} after resuming from {from}; {} acknowledged, in-flight {in_flight} stored: {}",
            before.len(),
            after.len(),
            acked.len(),
            stored.contains_key(&in_flight)
        );
        check_resumed(label, before, from, &after, &names, acked.len(), &stored);
    }

    // The revision sequence continues after the restart.
    let max_rv = stored.values().copied().max().unwrap_or(start_rv);
    let out = k.ok_stdin(
        &["create", "-f", "-", "-o", "jsonpath={.metadata.resourceVersion}"],
        &pizza_yaml("after-restart"),
    );
    assert!(
        rv_num(out.trim()) > max_rv,
        "a create after the restart got resourceVersion {out}, not above {max_rv}"
    );
}

/// `before` (seen before the crash or the stop) followed by `after` (the watch resumed from
/// `from`) is exactly the stored creates, in order: no gap, no duplicate.
fn check_resumed(
    label: &str,
    before: &[Event],
    from: u64,
    after: &[Event],
    names: &[String],
    acked: usize,
    stored: &BTreeMap<String, u64>,
) {
    let all: Vec<&Event> = before.iter().chain(after).collect();
    let context = format!("{label}: before {before:?}\nresumed from {from}: {after:?}");
    assert!(all.iter().all(|e| e.kind == "ADDED"), "only creates happened\n{context}");
    if let Some(first) = after.first() {
        assert!(first.rv > from, "the first resumed event must be newer than {from}\n{context}");
    }
    assert!(all.windows(2).all(|w| w[0].rv < w[1].rv), "resourceVersions must strictly increase\n{context}");
    let seen: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
    let unique: BTreeSet<&str> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a pizza was seen twice\n{context}");
    // In creation order, without a gap...
    let expected: Vec<&str> = names.iter().take(seen.len()).map(String::as_str).collect();
    assert_eq!(seen, expected, "events are not the creates in order\n{context}");
    // ...and exactly what is stored: every acknowledged create, plus the one in flight at the
    // kill if (and only if) it was committed.
    let stored_names: BTreeSet<&str> = stored.keys().map(String::as_str).collect();
    assert_eq!(unique, stored_names, "seen (before + resumed) differs from what is stored\n{context}");
    assert!(seen.len() == acked || seen.len() == acked + 1, "{context}");
    for e in &all {
        assert_eq!(
            stored.get(&e.name),
            Some(&e.rv),
            "event resourceVersion differs from the stored one\n{context}"
        );
    }
}
