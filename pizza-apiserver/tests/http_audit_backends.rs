//! Audit backends over real TLS: the log file rotates at `--audit-log-maxsize` keeping
//! `--audit-log-maxbackup` backups, and the batching webhook receives `EventList`s; a dead
//! webhook never blocks requests and its drops are counted in /metrics.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::http_common::*;
use piazza_testing::{TestClient, TestServer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const POLICY: &str = r#"
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/metrics"]
  - level: Request
    omitStages: ["RequestReceived"]
"#;

async fn start_audited(dir: &Path, args: &[&str]) -> TestServer {
    let policy = dir.join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let mut all = vec!["--audit-policy-file", policy.to_str().unwrap()];
    all.extend_from_slice(args);
    TestServer::start_with_args(&all, |storage| {
        pizza_apiserver::resources(storage).expect("pizza resources build")
    })
    .await
}

fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("audit-") && name.ends_with(".log")
        })
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn the_log_rotates_at_maxsize_and_keeps_maxbackup_files() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let log = logs.join("audit.log");
    let server = start_audited(
        dir.path(),
        &[
            "--audit-log-path",
            log.to_str().unwrap(),
            "--audit-log-maxsize",
            "1",
            "--audit-log-maxbackup",
            "2",
        ],
    )
    .await;
    let admin = server.admin_client();
    // Each create is audited with its ~300 KB request object: four fill a 1 MiB file.
    let filler = "x".repeat(300 * 1024);
    for i in 0..14 {
        let mut object = pizza_obj(&format!("big-{i}"), &[]);
        object["spec"]["filler"] = Value::String(filler.clone());
        let response = admin.post(&pizzas("default"), &object).await;
        assert!(response.status.is_client_error() || response.status.is_success(), "{}", response.text());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = backups(&logs);
        // 14 events of ~300 KB: at least three rotations happened, and two backups are kept.
        if found.len() == 2 {
            let current = std::fs::metadata(&log).unwrap().len();
            if current > 0 {
                for backup in &found {
                    let size = std::fs::metadata(backup).unwrap().len();
                    assert!(size <= 1024 * 1024 && size > 512 * 1024, "{backup:?}: {size}");
                    let text = std::fs::read_to_string(backup).unwrap();
                    for line in text.lines() {
                        let event: Value = serde_json::from_str(line).expect("whole events in backups");
                        assert_eq!(event["kind"], "Event");
                    }
                }
                assert!(current <= 1024 * 1024);
                break;
            }
        }
        assert!(Instant::now() < deadline, "backups: {found:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A kubeconfig naming `server` with no credentials.
fn webhook_kubeconfig(dir: &Path, server: &str) -> PathBuf {
    let path = dir.join("webhook.kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: hook\n  cluster:\n    server: {server}\n\
             contexts:\n- name: hook\n  context:\n    cluster: hook\n    user: hook\n\
             current-context: hook\nusers:\n- name: hook\n  user: {{}}\n"
        ),
    )
    .unwrap();
    path
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body); `None` at end of stream.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let mut chunk = [0u8; 65536];
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            let body = buffer[end + 4..end + 4 + length].to_vec();
            buffer.drain(..end + 4 + length);
            return Some((head, body));
        }
        let mut chunk = [0u8; 65536];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// A webhook answering 200 to every request, handing each (request line, body) to the test.
async fn recording_webhook() -> (String, mpsc::UnboundedReceiver<(String, Value)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/audit", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                while let Some((head, body)) = read_request(&mut stream, &mut buffer).await {
                    let line = head.lines().next().unwrap_or_default().to_owned();
                    let _ = tx.send((line, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if stream.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, rx)
}

async fn metric(admin: &TestClient, sample: &str) -> u64 {
    let text = admin.get("/metrics").await.expect(200).text();
    text.lines()
        .find_map(|line| line.strip_prefix(sample).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{sample} missing from {text}"))
}

#[tokio::test]
async fn the_webhook_receives_event_lists_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let (url, mut received) = recording_webhook().await;
    let config = webhook_kubeconfig(dir.path(), &url);
    let server = start_audited(
        dir.path(),
        &[
            "--audit-webhook-config-file",
            config.to_str().unwrap(),
            "--audit-webhook-batch-max-size",
            "3",
            "--audit-webhook-batch-max-wait",
            "200ms",
        ],
    )
    .await;
    let admin = server.admin_client();
    for _ in 0..4 {
        admin.get(&pizzas("default")).await.expect(200);
    }
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while events.len() < 4 {
        let left = deadline.saturating_duration_since(Instant::now());
        let (line, list) =
            tokio::time::timeout(left, received.recv()).await.expect("batches arrive").unwrap();
        assert_eq!(line, "POST /audit HTTP/1.1");
        assert_eq!(list["kind"], "EventList");
        assert_eq!(list["apiVersion"], "audit.k8s.io/v1");
        let items = list["items"].as_array().unwrap();
        assert!((1..=3).contains(&items.len()), "batch of {}", items.len());
        events.extend(items.iter().cloned());
    }
    assert_eq!(events.len(), 4);
    for event in &events {
        assert_eq!(event["kind"], "Event");
        assert_eq!(event["stage"], "ResponseComplete");
        assert_eq!(event["verb"], "list");
        assert_eq!(event["user"]["username"], "admin");
    }
    assert_eq!(metric(&admin, "apiserver_audit_webhook_batches_total").await, 2);
}

#[tokio::test]
async fn a_dead_webhook_never_blocks_requests_and_drops_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    // Accepts connections (the kernel does) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = webhook_kubeconfig(dir.path(), &format!("http://{}", silent.local_addr().unwrap()));
    let server = start_audited(
        dir.path(),
        &[
            "--audit-webhook-config-file",
            config.to_str().unwrap(),
            "--audit-webhook-batch-buffer-size",
            "5",
            "--audit-webhook-batch-max-size",
            "1",
            "--audit-webhook-batch-max-wait",
            "10ms",
        ],
    )
    .await;
    let admin = server.admin_client();
    let started = Instant::now();
    for _ in 0..30 {
        admin.get(&pizzas("default")).await.expect(200);
    }
    assert!(started.elapsed() < Duration::from_secs(10), "requests are not held by the webhook");
    // One batch is in flight and five events wait; the rest were dropped.
    let dropped = metric(&admin, "apiserver_audit_webhook_dropped_total").await;
    assert!((24..=30).contains(&dropped), "dropped {dropped}");
    assert!(metric(&admin, "apiserver_audit_error_total{plugin=\"webhook\"}").await >= dropped);
    drop(silent);
}
