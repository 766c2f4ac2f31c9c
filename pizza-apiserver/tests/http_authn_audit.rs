//! Audit over real TLS: `--audit-policy-file` + `--audit-log-path` write `audit.k8s.io/v1`
//! events as JSON lines, with the front proxy's user (uid and extras included), the
//! impersonated user, and bodies at the levels that ask for them; every response carries
//! `Audit-Id`.

use std::time::{Duration, Instant};

use crate::http_common::*;
use piazza_testing::{HttpVersion, Method, TestCa, TestServer};
use serde_json::Value;

const POLICY: &str = r#"
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
  - level: RequestResponse
    omitStages: ["RequestReceived"]
    resources:
      - group: restaurant.programming-kubernetes.info
        resources: ["pizzas"]
  - level: Metadata
"#;

struct Audited {
    server: TestServer,
    ca: TestCa,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn start_audited() -> Audited {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("front-proxy-ca").unwrap();
    let ca_path = dir.path().join("front-proxy-ca.crt");
    ca.write_cert(&ca_path).unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let log = dir.path().join("audit/audit.log");
    let server = TestServer::start_with_args(
        &[
            "--requestheader-client-ca-file",
            ca_path.to_str().unwrap(),
            "--audit-policy-file",
            policy.to_str().unwrap(),
            "--audit-log-path",
            log.to_str().unwrap(),
        ],
        |storage| pizza_apiserver::resources(storage).expect("pizza resources build"),
    )
    .await;
    Audited { server, ca, log, _dir: dir }
}

/// The events written so far for `audit_id`, waiting until there are `count`.
async fn events_for(log: &std::path::Path, audit_id: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let events: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).expect("each line is a JSON event"))
            .filter(|event| event["auditID"] == audit_id)
            .collect();
        if events.len() >= count {
            assert_eq!(events.len(), count, "{events:#?}");
            return events;
        }
        assert!(Instant::now() < deadline, "only {} events for {audit_id}: {text}", events.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn front_proxy_users_are_audited_with_uid_extra_and_bodies() {
    let audited = start_audited().await;
    let admin = audited.server.admin_client();
    seed_toppings(&admin).await;
    let proxy =
        audited.server.client(Some(audited.ca.sign("front-proxy-client", &[]).unwrap()), HttpVersion::Http1);
    let body = serde_json::to_vec(&pizza_obj("audited", &[("salami", 2)])).unwrap();
    let response = proxy
        .request(
            Method::POST,
            &pizzas("default"),
            &[
                ("Content-Type", "application/json"),
                ("Audit-ID", "from-the-aggregator-1"),
                ("X-Remote-User", "alice"),
                ("X-Remote-Uid", "uid-42"),
                ("X-Remote-Group", "system:masters"),
                ("X-Remote-Extra-Scopes", "view"),
                ("X-Remote-Extra-Acme.com%2FTeam", "pizza"),
            ],
            body,
        )
        .await;
    response.expect(201);
    // The aggregator's audit ID is kept, so both servers' events correlate.
    assert_eq!(response.header("audit-id"), "from-the-aggregator-1");

    // RequestReceived is omitted for pizzas: one event.
    let events = events_for(&audited.log, "from-the-aggregator-1", 1).await;
    let event = &events[0];
    assert_eq!(event["kind"], "Event");
    assert_eq!(event["apiVersion"], "audit.k8s.io/v1");
    assert_eq!(event["stage"], "ResponseComplete");
    assert_eq!(event["level"], "RequestResponse");
    assert_eq!(event["verb"], "create");
    assert_eq!(event["user"]["username"], "alice");
    assert_eq!(event["user"]["uid"], "uid-42");
    assert_eq!(event["user"]["groups"], serde_json::json!(["system:masters", "system:authenticated"]));
    assert_eq!(event["user"]["extra"], serde_json::json!({"scopes": ["view"], "acme.com/team": ["pizza"]}));
    assert_eq!(event["objectRef"]["resource"], "pizzas");
    assert_eq!(event["objectRef"]["namespace"], "default");
    assert_eq!(event["responseStatus"]["code"], 201);
    assert_eq!(event["requestObject"]["metadata"]["name"], "audited");
    assert_eq!(event["responseObject"]["metadata"]["name"], "audited");
    assert!(event["responseObject"]["metadata"]["uid"].is_string());
}

#[tokio::test]
async fn impersonation_failures_and_ids_are_audited() {
    let audited = start_audited().await;
    let admin = audited.server.admin_client();

    // Impersonation: the real user and the impersonated one.
    let response = admin
        .get_with("/apis", &[("Impersonate-User", "bob"), ("Impersonate-Group", "system:masters")])
        .await;
    response.expect(200);
    let id = response.header("audit-id").to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let events = events_for(&audited.log, &id, 2).await;
    assert_eq!(events[0]["stage"], "RequestReceived");
    assert_eq!(events[1]["stage"], "ResponseComplete");
    for event in &events {
        assert_eq!(event["level"], "Metadata");
        assert_eq!(event["user"]["username"], "admin");
        assert!(event.get("objectRef").is_none());
    }
    assert_eq!(events[1]["impersonatedUser"]["username"], "bob");
    assert!(events[1].get("requestObject").is_none());

    // A failure records its Status.
    let response = admin.get(&pizza("default", "missing")).await;
    response.expect(404);
    let id = response.header("audit-id").to_owned();
    let events = events_for(&audited.log, &id, 1).await;
    assert_eq!(events[0]["responseStatus"]["reason"], "NotFound");
    assert_eq!(events[0]["responseStatus"]["code"], 404);

    // Health checks are not audited, but still carry an ID; so do 401s.
    let response = audited.server.anonymous_client().get("/healthz").await;
    let health_id = response.header("audit-id").to_owned();
    assert!(!health_id.is_empty());
    let response = audited.server.anonymous_client().http2().get("/apis").await;
    response.expect(401);
    assert!(!response.header("audit-id").is_empty());
    // Nothing for the health check (give the writer a moment).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = std::fs::read_to_string(&audited.log).unwrap();
    assert!(!text.contains(&health_id));

    // The backend's counters are on /metrics.
    let metrics = admin.get("/metrics").await.expect(200).text();
    assert!(metrics.contains("apiserver_audit_error_total{plugin=\"log\"} 0"), "{metrics}");
}

#[tokio::test]
async fn a_bad_policy_stops_the_server_from_starting() {
    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        server: piazza::ServerOptions,
        #[command(flatten)]
        storage: piazza::server::StorageOptions,
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n").unwrap();
    let flags = <Flags as clap::Parser>::parse_from([
        "t",
        "--audit-policy-file",
        policy.to_str().unwrap(),
        "--audit-log-path",
        "-",
        "--secure-port",
        "0",
        "--bind-address",
        "127.0.0.1",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    let storage = flags.storage.open(&flags.server.data_dir).await.unwrap().storage;
    match piazza::Server::bind(&flags.server, storage, Vec::new()).await {
        Err(piazza::server::ServerError::AuditPolicy(e)) => assert!(e.to_string().contains("Loud"), "{e}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a bad audit policy must stop the server"),
    }
}
