//! Every scenario, in JSON and in protobuf, end to end: the `piazza-bench` binary against
//! pizza-apiserver's resources served in-process (embedded store), each run a few dozen
//! requests. A scenario passes when every request it made succeeded, and the watch
//! scenario when every watcher saw every acknowledged write exactly once. Also the suite's
//! CREATE block, with its etcd limits measured on a throw-away etcd.

mod common;

use std::path::{Path, PathBuf};

use common::bench;
use piazza_testing::TestServer;
use serde_json::Value;

async fn start() -> (TestServer, PathBuf) {
    let server =
        TestServer::start(|storage| pizza_apiserver::resources(storage).expect("pizza resources build"))
            .await;
    let kubeconfig = server.data_dir().join("kubeconfig");
    assert!(kubeconfig.exists(), "the server wrote no kubeconfig at {}", kubeconfig.display());
    (server, kubeconfig)
}

/// Runs `piazza-bench scenario <args> --json` and returns its reports.
async fn scenario(kubeconfig: &Path, format: &str, args: &[&str]) -> Vec<Value> {
    let target = ["--kubeconfig", kubeconfig.to_str().unwrap(), "--format", format, "--json"];
    match bench(&[&["scenario"][..], args, &target].concat()).await {
        Value::Array(reports) => reports,
        one => vec![one],
    }
}

fn assert_clean(report: &Value, requests: u64) {
    assert_eq!(report["errors"], 0, "{report:#}");
    assert_eq!(report["requests"], requests, "{report:#}");
    assert_eq!(report["ok"], requests, "{report:#}");
    assert_eq!(report["conflicts"], 0, "{report:#}");
}

/// Mean response bytes per request.
fn bytes_per_request(report: &Value) -> f64 {
    report["bytes"].as_f64().unwrap() / report["requests"].as_f64().unwrap()
}

/// Runs the request-response scenarios in `format`; returns the bytes per request of GET,
/// CREATE and UPDATE.
async fn request_scenarios(kubeconfig: &Path, format: &str) -> [f64; 3] {
    let load = ["-n", "40", "-c", "4"];
    let get = scenario(kubeconfig, format, &[&["get"][..], &load].concat()).await;
    assert_clean(&get[0], 40);
    let list = scenario(kubeconfig, format, &[&["list", "--objects", "20"][..], &load].concat()).await;
    assert_eq!(list.len(), 2, "consistent and resourceVersion=0");
    list.iter().for_each(|r| assert_clean(r, 40));
    let page = scenario(kubeconfig, format, &[&["list-limit", "--objects", "510"][..], &load].concat()).await;
    assert_clean(&page[0], 40);
    let create = scenario(kubeconfig, format, &[&["create"][..], &load].concat()).await;
    assert_clean(&create[0], 40);
    assert_eq!(create[0]["statuses"]["201"], 40, "{:#}", create[0]);
    // One object, four workers: conflicts happen and are retried; the rest must succeed.
    let update = scenario(kubeconfig, format, &[&["update", "--objects", "3"][..], &load].concat()).await;
    assert_eq!(update[0]["errors"], 0, "{:#}", update[0]);
    assert_eq!(update[0]["ok"], 40, "{:#}", update[0]);
    let mixed = scenario(kubeconfig, format, &[&["mixed", "-n", "100", "-c", "4"][..]].concat()).await;
    assert_eq!(mixed[0]["errors"], 0, "{:#}", mixed[0]);
    assert_eq!(mixed[0]["ok"], 100, "{:#}", mixed[0]);
    [bytes_per_request(&get[0]), bytes_per_request(&create[0]), bytes_per_request(&update[0])]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_clean_in_json_and_in_protobuf() {
    let (_server, kubeconfig) = start().await;
    let json = request_scenarios(&kubeconfig, "json").await;
    let protobuf = request_scenarios(&kubeconfig, "protobuf").await;
    // The formats really differ on the wire: a protobuf Pizza is smaller than its JSON.
    for (what, (j, p)) in ["GET", "CREATE", "UPDATE"].iter().zip(json.iter().zip(&protobuf)) {
        assert!(p < j, "{what}: protobuf answers ({p:.0} bytes) should be smaller than JSON ({j:.0})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_scenario_sees_every_write_in_json_and_in_protobuf() {
    let (_server, kubeconfig) = start().await;
    for format in ["json", "protobuf"] {
        let args = ["watch", "--watchers", "3", "--writes-per-sec", "30", "-z", "1s"];
        let report = &scenario(&kubeconfig, format, &args).await[0];
        let notes = &report["notes"];
        let acked = notes["writes_acked"].as_u64().unwrap();
        assert!(acked >= 20, "{format}: {report:#}");
        assert_eq!(notes["write_errors"], 0, "{format}: {report:#}");
        assert_eq!(notes["watchers_connected"], 3, "{format}: {report:#}");
        assert_eq!(notes["missed"], 0, "{format}: {report:#}");
        assert_eq!(notes["duplicates"], 0, "{format}: {report:#}");
        assert_eq!(report["requests"], acked * 3, "{format}: every watcher saw every write: {report:#}");
    }
}

/// Runs `piazza-bench suite <args>` against the server of `kubeconfig`; returns the Markdown
/// it wrote to `--out`.
async fn suite(kubeconfig: &Path, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("suite.md");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_piazza-bench"))
        .arg("suite")
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--out")
        .arg(&out)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    std::fs::read_to_string(&out).unwrap()
}

/// The table rows of a suite's Markdown whose first cell starts with `name`.
fn rows<'a>(markdown: &'a str, name: &str) -> Vec<Vec<&'a str>> {
    markdown
        .lines()
        .filter(|line| line.starts_with(&format!("| {name}")))
        .map(|line| line.trim_matches('|').split('|').map(str::trim).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_on_etcd_compares_create_to_both_etcd_limits_and_lists_etcd_reads() {
    let (_server, kubeconfig) = start().await;
    let etcd = piazza_storage_etcd::testing::EtcdServer::start();
    let endpoint = etcd.endpoint();
    let args =
        ["--only", "get,create", "-z", "500ms", "-c", "2", "--rounds", "2", "--etcd-endpoints", &endpoint];
    let markdown = suite(&kubeconfig, &args).await;
    // CREATE appears twice: against raw transactions and against the transport with etcd
    // behind it, each followed by that limit's own row.
    let creates = rows(&markdown, "CREATE pizza");
    assert_eq!(creates.len(), 2, "{markdown}");
    assert_eq!(creates[0][8], "etcd txn", "{markdown}");
    assert_eq!(creates[1][8], "transport → etcd txn", "{markdown}");
    for create in &creates {
        assert!(create[10].contains("median of 2 rounds"), "{markdown}");
        assert_eq!(create[6], "0", "no errors: {markdown}");
    }
    let behind = rows(&markdown, "baseline transport → etcd txn");
    assert_eq!(behind.len(), 1, "{markdown}");
    assert_eq!(behind[0][6], "0", "no errors: {markdown}");
    assert!(behind[0][1].parse::<f64>().unwrap() > 0.0, "{markdown}");
    assert_eq!(rows(&markdown, "baseline etcd put-if-absent txn").len(), 2, "raw, and with a watcher");
    // The GET block lists etcd's linearizable reads for reference, at -c and one in flight.
    assert_eq!(rows(&markdown, "GET one pizza").len(), 1, "{markdown}");
    let reads = rows(&markdown, "baseline etcd linearizable range");
    assert_eq!(reads.len(), 2, "{markdown}");
    assert!(reads[1][0].ends_with("one in flight)"), "{markdown}");
    assert!(reads.iter().all(|r| r[6] == "0" && r[1].parse::<f64>().unwrap() > 0.0), "{markdown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_shows_the_watch_limit_beside_the_watch_round_by_round() {
    let (_server, kubeconfig) = start().await;
    let args = ["--only", "watch", "--watchers", "4", "--writes-per-sec", "20", "-z", "1s", "--rounds", "2"];
    let markdown = suite(&kubeconfig, &args).await;
    let main_rows: Vec<_> = markdown
        .lines()
        .filter(|l| l.starts_with("| baseline transport fan-out, watch") || l.starts_with("| watch ("))
        .map(|l| l.split('|').nth(1).unwrap().trim())
        .collect();
    let limit = "baseline transport fan-out, watch (4 watchers, 20 writes/s)";
    let watch = "watch (4 watchers, 20 writes/s)";
    assert_eq!(main_rows, [limit, watch, limit, watch], "the limit, then Piazza, each round: {markdown}");
    // Each run has its delivery table, and none missed an event.
    assert_eq!(markdown.matches("| watchers connected |").count(), 4, "{markdown}");
    let details: Vec<Vec<&str>> = markdown
        .lines()
        .filter(|l| l.starts_with("| 4 |"))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    assert_eq!(details.len(), 4, "{markdown}");
    for row in details {
        assert_eq!(
            (row[3], row[6], row[7]),
            ("0", "0", "0"),
            "no write errors, missed or duplicates: {markdown}"
        );
        assert_eq!(row[4], row[5], "deliveries = expected: {markdown}");
    }
}
