//! The watch fan-out limit end to end: the watch scenario against the transport server relaying
//! every POST to every watch, in a child process and in-process, and the relay's answers to
//! bodies it must not relay. Each run is bounded to about a second of writes.

mod common;

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use common::bench;
use hyper::body::Body;
use piazza_bench::baseline::fan_out::{Encoding, FanOut, WatchBody};
use piazza_bench::baseline::transport::{Behind, TransportServer};
use serde_json::Value;

/// Every acknowledged write reached every watcher once.
fn assert_every_write_delivered(report: &Value, watchers: u64) {
    let notes = &report["notes"];
    assert_eq!(notes["watchers_connected"], watchers, "{report:#}");
    assert_eq!(notes["write_errors"], 0, "{report:#}");
    let acked = notes["writes_acked"].as_u64().unwrap();
    assert!(acked >= 15, "about 20 writes in a second: {report:#}");
    assert_eq!(notes["expected_deliveries"], acked * watchers, "{report:#}");
    assert_eq!(report["requests"], acked * watchers, "{report:#}");
    assert_eq!((&notes["missed"], &notes["duplicates"]), (&Value::from(0), &Value::from(0)), "{report:#}");
    assert!(report["latency"]["p99_ms"].as_f64().unwrap() > 0.0, "{report:#}");
}

#[tokio::test]
async fn the_watch_limit_in_a_child_process_delivers_every_write_to_every_watcher() {
    let args = ["baseline", "watch", "--watchers", "30", "--writes-per-sec", "20", "-z", "1s", "--json"];
    let report = bench(&args).await;
    assert_eq!(report["name"], "baseline transport fan-out, watch (30 watchers, 20 writes/s)", "{report:#}");
    assert_every_write_delivered(&report, 30);
    // The child's CPU and memory are measured, as a server's are.
    assert!(report["server_rss"]["after_kib"].as_u64().unwrap() > 0, "{report:#}");
}

#[tokio::test]
async fn the_watch_limit_relays_protobuf_in_process() {
    let args = [
        "baseline",
        "watch",
        "--in-process",
        "--format",
        "protobuf",
        "--watchers",
        "10",
        "--writes-per-sec",
        "20",
        "-z",
        "1s",
        "--json",
    ];
    assert_every_write_delivered(&bench(&args).await, 10);
}

/// The next event queued to `watch`, if one comes within 200 ms.
async fn next_event(watch: &mut WatchBody) -> Option<bytes::Bytes> {
    let frame = poll_fn(|cx| Pin::new(&mut *watch).poll_frame(cx));
    let frame = tokio::time::timeout(Duration::from_millis(200), frame).await.ok()??;
    frame.ok()?.into_data().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_the_relay_must_not_pass_on_get_an_error_and_reach_no_watch() {
    let fan_out = Arc::new(FanOut::default());
    let server = TransportServer::start(0, Behind::FanOut(Arc::clone(&fan_out))).await.unwrap();
    let mut watch = fan_out.subscribe(Encoding::Json).unwrap();
    let url = format!("{}/apis/x", server.url());
    let dir = tempfile::tempdir().unwrap();
    let body_file = dir.path().join("body");
    let body = body_file.to_str().unwrap();
    let post = |flag: &'static str, data: &str| {
        let args = ["http", "--url", &url, "--insecure", "-X", "POST", flag, data, "-n", "1", "--json"];
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        async move { bench(&args.iter().map(String::as_str).collect::<Vec<_>>()).await }
    };

    // A line break would split the event in a JSON watch stream.
    let report = post("-d", "{\"a\":\n1}").await;
    assert_eq!(report["statuses"]["400"], 1, "{report:#}");
    // Over 1 MiB.
    std::fs::write(&body_file, vec![b'x'; 1024 * 1024 + 1]).unwrap();
    let report = post("-D", body).await;
    assert_eq!(report["statuses"]["413"], 1, "{report:#}");
    assert_eq!(next_event(&mut watch).await, None, "nothing was relayed");

    // At the limit, and a small one: relayed once each, answered 201 with the body.
    std::fs::write(&body_file, vec![b'x'; 1024 * 1024]).unwrap();
    let report = post("-D", body).await;
    assert_eq!(report["statuses"]["201"], 1, "{report:#}");
    assert_eq!(report["bytes"], 1024 * 1024, "{report:#}");
    let event = next_event(&mut watch).await.expect("the 1 MiB body was relayed");
    assert_eq!(event.len(), 1024 * 1024 + r#"{"type":"ADDED","object":}"#.len() + 1);
    let report = post("-d", r#"{"metadata":{"name":"p"}}"#).await;
    assert_eq!(report["statuses"]["201"], 1, "{report:#}");
    let event = next_event(&mut watch).await.expect("relayed");
    assert_eq!(&event[..], b"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"p\"}}}\n");
    assert_eq!(next_event(&mut watch).await, None, "each body once");

    // A plain GET is an empty list to watch from; other methods are refused.
    let list_url = format!("{url}?limit=1");
    let report = bench(&["http", "--url", &list_url, "--insecure", "-n", "1", "--json"]).await;
    assert_eq!(report["statuses"]["200"], 1, "{report:#}");
    let report =
        bench(&["http", "--url", &url, "--insecure", "-X", "PUT", "-d", "{}", "-n", "1", "--json"]).await;
    assert_eq!(report["statuses"]["405"], 1, "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_over_the_limit_gets_429() {
    let fan_out = Arc::new(FanOut::with_max_watchers(0));
    let server = TransportServer::start(0, Behind::FanOut(fan_out)).await.unwrap();
    let url = format!("{}/apis/x?watch=true", server.url());
    let report = bench(&["http", "--url", &url, "--insecure", "-n", "2", "-c", "1", "--json"]).await;
    assert_eq!(report["statuses"]["429"], 2, "{report:#}");
}
