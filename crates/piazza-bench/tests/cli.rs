//! The binary end to end against the in-process transport server, and the etcd baseline
//! against a throw-away etcd (no apiserver).
//! Each run is bounded to about a second.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::bench;
use piazza_bench::baseline::transport::{Behind, ServeMode, TransportServer};
use serde_json::Value;

fn assert_clean_run(report: &Value, protocol: &str) {
    assert_eq!(report["protocol"], protocol, "{report:#}");
    assert_eq!(report["errors"], 0, "{report:#}");
    assert!(report["throughput"].as_f64().unwrap() > 0.0, "{report:#}");
    assert_eq!(report["ok"], report["requests"], "{report:#}");
    assert!(report["latency"]["p99_ms"].as_f64().unwrap() > 0.0, "{report:#}");
}

#[tokio::test]
async fn baseline_transport_runs_for_a_second() {
    let report =
        bench(&["baseline", "transport", "-z", "1s", "-c", "4", "--body-size", "339", "--json"]).await;
    assert_clean_run(&report, "h2");
    assert!(report["requests"].as_u64().unwrap() > 10, "{report:#}");
    let per_response = report["bytes"].as_u64().unwrap() / report["requests"].as_u64().unwrap();
    assert_eq!(per_response, 339);
}

#[tokio::test]
async fn baseline_transport_in_process_runs_for_a_second() {
    let report = bench(&[
        "baseline",
        "transport",
        "--in-process",
        "-z",
        "1s",
        "-c",
        "2",
        "--body-size",
        "50",
        "--json",
    ])
    .await;
    assert_clean_run(&report, "h2");
    assert_eq!(report["bytes"].as_u64().unwrap() / report["requests"].as_u64().unwrap(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transport_server_child_process_serves_and_dies_with_its_handle() {
    let server = TransportServer::spawn(
        std::path::Path::new(env!("CARGO_BIN_EXE_piazza-bench")),
        77,
        ServeMode::Fixed,
    )
    .await
    .unwrap();
    let url = format!("{}/anything", server.url());
    let report = bench(&["http", "--url", &url, "--insecure", "-n", "20", "-c", "2", "--json"]).await;
    assert_clean_run(&report, "h2");
    assert_eq!(report["bytes"], 20 * 77, "{report:#}");
    let addr = server.url().trim_start_matches("https://").to_owned();
    drop(server);
    // The child is killed on drop: the port stops accepting within a few seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "the transport server still accepts on {addr}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_mode_drives_the_transport_server_with_a_kubeconfig() {
    let server = TransportServer::start(100, Behind::Nothing).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let yaml = format!(
        "clusters: [{{name: c, cluster: {{server: '{}', certificate-authority-data: {}}}}}]\n\
         users: [{{name: u, user: {{token: s3cret}}}}]\n\
         contexts: [{{name: x, context: {{cluster: c, user: u}}}}]\ncurrent-context: x\n",
        server.url(),
        STANDARD.encode(server.ca_pem())
    );
    std::fs::write(&kubeconfig, yaml).unwrap();
    let url = format!("{}/apis/x?limit=1", server.url());
    let report = bench(&[
        "http",
        "--url",
        &url,
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "-X",
        "POST",
        "-d",
        r#"{"metadata":{"name":"p-{run}-{n}"}}"#,
        "--body-template",
        "-H",
        "X-Bench: 1",
        "-n",
        "200",
        "-c",
        "8",
        "-z",
        "5s",
        "--server-pid",
        &std::process::id().to_string(),
        "--json",
    ])
    .await;
    assert_clean_run(&report, "h2");
    assert_eq!(report["requests"], 200, "{report:#}");
    assert_eq!(report["statuses"]["200"], 200, "{report:#}");
    assert_eq!(report["bytes"], 200 * 100, "{report:#}");
    assert!(report["server_rss"]["after_kib"].as_u64().unwrap() > 0, "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_mode_over_http1_with_a_ca_file() {
    let server = TransportServer::start(10, Behind::Nothing).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, server.ca_pem()).unwrap();
    let url = format!("{}/", server.url());
    let report = bench(&[
        "http",
        "--url",
        &url,
        "--cacert",
        ca.to_str().unwrap(),
        "--h1",
        "-n",
        "100",
        "-c",
        "4",
        "-z",
        "5s",
        "--json",
    ])
    .await;
    assert_clean_run(&report, "http/1.1");
    assert_eq!(report["requests"], 100, "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_servers_are_errors_not_crashes() {
    let server = TransportServer::start(10, Behind::Nothing).await.unwrap();
    let url = format!("{}/", server.url());
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_piazza-bench"))
        .args(["http", "--url", &url, "-n", "5", "-c", "1", "--json"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success(), "no CA to trust must be a usage error");
    assert!(String::from_utf8_lossy(&output.stderr).contains("no CA to trust"));

    let report =
        bench(&["http", "--url", &url, "--insecure", "-n", "5", "-c", "1", "-z", "5s", "--json"]).await;
    assert_clean_run(&report, "h2");

    let other = TransportServer::start(10, Behind::Nothing).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wrong_ca = dir.path().join("ca.pem");
    std::fs::write(&wrong_ca, other.ca_pem()).unwrap();
    let report = bench(&[
        "http",
        "--url",
        &url,
        "--cacert",
        wrong_ca.to_str().unwrap(),
        "-n",
        "3",
        "-z",
        "5s",
        "--json",
    ])
    .await;
    assert_eq!(report["errors"], 3, "{report:#}");
    let messages = report["error_messages"].as_object().unwrap();
    assert!(messages.keys().any(|m| m.starts_with("tls:")), "{report:#}");
}

#[tokio::test]
async fn baseline_etcd_with_a_watcher_commits_then_cleans_up() {
    let etcd = piazza_storage_etcd::testing::EtcdServer::start();
    let endpoint = etcd.endpoint();
    let args = ["baseline", "etcd", "--endpoints", &endpoint, "-z", "1s", "-c", "4", "--with-watcher"];
    let report = bench(&[&args[..], &["--clean-up", "--json"]].concat()).await;
    assert_eq!(report["name"], "baseline etcd put-if-absent txn, one watcher", "{report:#}");
    assert_eq!(report["errors"], 0, "{report:#}");
    assert!(report["requests"].as_u64().unwrap() > 10, "{report:#}");
    assert_eq!(report["statuses"]["201"], report["requests"], "every put-if-absent committed: {report:#}");
    // Nothing is left under the bench's prefix.
    assert_eq!(bench_keys(&endpoint, 0).await.0, 0);
}

#[tokio::test]
async fn baseline_etcd_reads_both_ways_and_writes_nothing() {
    let etcd = piazza_storage_etcd::testing::EtcdServer::start();
    let endpoint = etcd.endpoint();
    for (mode, name) in [
        (&["-c", "2"][..], "baseline etcd linearizable range (count only)"),
        (&["-c", "1"][..], "baseline etcd linearizable range (count only, one in flight)"),
        (&["-c", "2", "--serializable"][..], "baseline etcd serializable range (count only)"),
    ] {
        let args = ["baseline", "etcd", "--reads", "--endpoints", &endpoint, "-z", "500ms", "--json"];
        let report = bench(&[&args[..], mode].concat()).await;
        assert_eq!(report["name"], name, "{report:#}");
        assert_eq!(report["errors"], 0, "{report:#}");
        assert!(report["requests"].as_u64().unwrap() > 10, "{report:#}");
        assert_eq!(report["statuses"]["200"], report["requests"], "{report:#}");
    }
    assert_eq!(bench_keys(&endpoint, 0).await.0, 0, "reads wrote nothing");
}

/// The number of keys under the bench's prefix, and whether every value has `size` bytes.
async fn bench_keys(endpoint: &str, size: usize) -> (usize, bool) {
    let options = etcd_client::ConnectOptions::new();
    let mut client = piazza_storage_etcd::connect_client(
        &[endpoint.to_owned()],
        std::time::Duration::from_secs(5),
        options,
    )
    .await
    .unwrap();
    let all = client.get("/piazza-bench/", Some(etcd_client::GetOptions::new().with_prefix())).await.unwrap();
    (all.kvs().len(), all.kvs().iter().all(|kv| kv.value().len() == size))
}

#[tokio::test]
async fn baseline_transport_with_etcd_behind_writes_every_post() {
    let etcd = piazza_storage_etcd::testing::EtcdServer::start();
    let endpoint = etcd.endpoint();
    let args = ["baseline", "transport", "--etcd-endpoints", &endpoint, "-z", "1s", "-c", "4", "--json"];
    let report = bench(&args).await;
    assert_eq!(report["name"], "baseline transport → etcd txn (339 B body)", "{report:#}");
    assert_clean_run(&report, "h2");
    let requests = report["requests"].as_u64().unwrap() as usize;
    assert!(requests > 10, "{report:#}");
    assert_eq!(report["statuses"]["201"], report["requests"], "every POST was a created key: {report:#}");
    // Each acknowledged POST is one key holding its body; requests cut off by the deadline
    // may have committed too (at most one per worker).
    let (keys, sizes_match) = bench_keys(&endpoint, 339).await;
    assert!((requests..=requests + 4).contains(&keys), "{keys} keys for {requests} requests");
    assert!(sizes_match, "every value is the 339-byte body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transport_server_refuses_an_oversized_body_and_writes_nothing() {
    let etcd = piazza_storage_etcd::testing::EtcdServer::start();
    let endpoint = etcd.endpoint();
    let behind = piazza_bench::baseline::etcd::EtcdBehind::connect(std::slice::from_ref(&endpoint), "t")
        .await
        .unwrap();
    let server = TransportServer::start(10, Behind::Etcd(std::sync::Arc::new(behind))).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body");
    std::fs::write(&body, vec![b'x'; 1024 * 1024 + 1]).unwrap();
    let url = format!("{}/apis/x", server.url());
    let body = body.to_str().unwrap();
    let args =
        ["http", "--url", &url, "--insecure", "-X", "POST", "-D", body, "-n", "2", "-c", "1", "--json"];
    let report = bench(&args).await;
    assert_eq!(report["statuses"]["413"], 2, "{report:#}");
    assert_eq!(bench_keys(&endpoint, 0).await.0, 0, "nothing was written");
    // A body at the limit is written.
    std::fs::write(body, vec![b'x'; 1024 * 1024]).unwrap();
    let report = bench(&args).await;
    assert_eq!(report["statuses"]["201"], 2, "{report:#}");
    assert_eq!(bench_keys(&endpoint, 1024 * 1024).await, (2, true));
}
