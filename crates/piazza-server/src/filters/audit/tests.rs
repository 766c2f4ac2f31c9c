use std::convert::Infallible;
use std::time::Duration;

use futures::FutureExt;
use piazza_core::request_info::RequestInfoFactory;
use tower::util::BoxCloneSyncService;

use super::event::MAX_USER_AGENT_LENGTH;
use super::*;
use crate::body::full;
use crate::handlers::metrics::MetricsSource;

// === The policy checker (ported from upstream's checker_test.go) ===

fn rule(json: Value) -> PolicyRule {
    serde_json::from_value(json).unwrap()
}

use super::policy::PolicyRule;

fn rules(name: &str) -> PolicyRule {
    rule(match name {
        "default" => json!({"level": "Metadata"}),
        "create" => json!({"level": "Request", "verbs": ["create"]}),
        "tims" => json!({"level": "Metadata", "users": ["tim@k8s.io"]}),
        "humans" => json!({"level": "Metadata", "userGroups": ["humans"]}),
        "serviceAccounts" => json!({"level": "Request", "userGroups": ["system:serviceaccounts"]}),
        "getPods" => {
            json!({"level": "RequestResponse", "verbs": ["get"], "resources": [{"resources": ["pods"]}]})
        }
        "getPodLogs" => {
            json!({"level": "Request", "verbs": ["get"], "resources": [{"resources": ["pods/log"]}]})
        }
        "getPodWildcardMatching" => {
            json!({"level": "Request", "verbs": ["get"], "resources": [{"resources": ["*"]}]})
        }
        "getPodResourceWildcardMatching" => {
            json!({"level": "Request", "verbs": ["get"], "resources": [{"resources": ["*/log"]}]})
        }
        "getPodSubResourceWildcardMatching" => {
            json!({"level": "Request", "verbs": ["get"], "resources": [{"resources": ["pods/*"]}]})
        }
        "getClusterRoles" => json!({
            "level": "RequestResponse", "verbs": ["get"], "namespaces": [""],
            "resources": [{"group": "rbac.authorization.k8s.io", "resources": ["clusterroles"]}]
        }),
        "getLogs" => json!({"level": "RequestResponse", "verbs": ["get"], "nonResourceURLs": ["/logs*"]}),
        "getMetrics" => json!({"level": "Request", "verbs": ["get"], "nonResourceURLs": ["/metrics"]}),
        "clusterRoleEdit" => json!({
            "level": "Request",
            "resources": [{"group": "rbac.authorization.k8s.io", "resources": ["clusterroles"], "resourceNames": ["edit"]}]
        }),
        "omit RequestReceived" => json!({"level": "Request", "omitStages": ["RequestReceived"]}),
        "only audit panic" => {
            json!({"level": "Request", "omitStages": ["RequestReceived", "ResponseStarted", "ResponseComplete"]})
        }
        other => panic!("no rule {other}"),
    })
}

fn tim() -> UserInfo {
    UserInfo {
        name: "tim@k8s.io".into(),
        groups: vec!["humans".into(), "developers".into()],
        ..Default::default()
    }
}

fn attrs(name: &str) -> (UserInfo, RequestInfo) {
    let resource =
        |group: &str, version: &str, ns: &str, resource: &str, sub: &str, name: &str| RequestInfo {
            is_resource_request: true,
            verb: "get".into(),
            api_group: group.into(),
            api_version: version.into(),
            namespace: ns.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            ..Default::default()
        };
    match name {
        "namespaced" => (tim(), resource("", "v1", "default", "pods", "", "busybox")),
        "cluster" => {
            (tim(), resource("rbac.authorization.k8s.io", "v1beta1", "", "clusterroles", "", "edit"))
        }
        "nonResource" => (
            tim(),
            RequestInfo { verb: "get".into(), path: "/logs/kubelet.log".into(), ..Default::default() },
        ),
        "subresource" => (tim(), resource("", "v1", "default", "pods", "log", "busybox")),
        "Unauthorized" => (UserInfo::default(), resource("", "v1", "default", "pods", "", "busybox")),
        other => panic!("no attrs {other}"),
    }
}

fn check(req: &str, level: Level, policy_stages: &[Stage], expected_stages: &[Stage], names: &[&str]) {
    let policy = Policy {
        api_version: "audit.k8s.io/v1".into(),
        kind: "Policy".into(),
        metadata: None,
        rules: names.iter().map(|n| rules(n)).collect(),
        omit_stages: policy_stages.to_vec(),
        omit_managed_fields: false,
    };
    let (user, info) = attrs(req);
    let config = policy.evaluate(&user, &info);
    assert_eq!(config.level, level, "request {req} rules {names:?}");
    let mut got = config.omit_stages.clone();
    let mut want = expected_stages.to_vec();
    let key = |s: &Stage| format!("{s:?}");
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want, "request {req} rules {names:?}");
}

fn check_levels(stages: &[Stage]) {
    use Level::*;
    let cases: &[(&str, Level, &[&str])] = &[
        ("namespaced", Metadata, &["default"]),
        ("namespaced", None, &["create"]),
        ("namespaced", Metadata, &["tims"]),
        ("namespaced", Metadata, &["humans"]),
        ("namespaced", None, &["serviceAccounts"]),
        ("namespaced", RequestResponse, &["getPods"]),
        ("namespaced", None, &["getClusterRoles"]),
        ("namespaced", None, &["getLogs"]),
        ("namespaced", None, &["getMetrics"]),
        ("namespaced", Metadata, &["getMetrics", "serviceAccounts", "default"]),
        ("namespaced", RequestResponse, &["getMetrics", "getPods", "default"]),
        ("namespaced", RequestResponse, &["getPodLogs", "getPods"]),
        ("cluster", Metadata, &["default"]),
        ("cluster", None, &["create"]),
        ("cluster", Metadata, &["tims"]),
        ("cluster", Metadata, &["humans"]),
        ("cluster", None, &["serviceAccounts"]),
        ("cluster", None, &["getPods"]),
        ("cluster", RequestResponse, &["getClusterRoles"]),
        ("cluster", Request, &["clusterRoleEdit", "getClusterRoles"]),
        ("cluster", None, &["getLogs"]),
        ("cluster", None, &["getMetrics"]),
        ("cluster", Metadata, &["getMetrics", "serviceAccounts", "default"]),
        ("cluster", RequestResponse, &["getMetrics", "getClusterRoles", "default"]),
        ("cluster", None, &["getPodLogs", "getPods"]),
        ("nonResource", Metadata, &["default"]),
        ("nonResource", None, &["create"]),
        ("nonResource", Metadata, &["tims"]),
        ("nonResource", Metadata, &["humans"]),
        ("nonResource", None, &["serviceAccounts"]),
        ("nonResource", None, &["getPods"]),
        ("nonResource", None, &["getClusterRoles"]),
        ("nonResource", RequestResponse, &["getLogs"]),
        ("nonResource", None, &["getMetrics"]),
        ("nonResource", Metadata, &["getMetrics", "serviceAccounts", "default"]),
        ("nonResource", RequestResponse, &["getLogs", "getClusterRoles", "default"]),
        ("nonResource", None, &["getPodLogs", "getPods"]),
        ("subresource", Request, &["getPodLogs", "getPods"]),
        ("subresource", Request, &["getPodWildcardMatching"]),
        ("subresource", Request, &["getPodResourceWildcardMatching"]),
        ("subresource", Request, &["getPodSubResourceWildcardMatching"]),
        ("Unauthorized", None, &["tims"]),
        ("Unauthorized", Metadata, &["tims", "default"]),
        ("Unauthorized", None, &["humans"]),
        ("Unauthorized", Metadata, &["humans", "default"]),
    ];
    for (req, level, names) in cases {
        check(req, *level, stages, stages, names);
    }
}

#[test]
fn checker_matches_upstream() {
    use Stage::*;
    check_levels(&[]);
    let panic_only = [RequestReceived, ResponseStarted, ResponseComplete];
    for req in ["namespaced", "cluster", "nonResource"] {
        check(req, Level::Request, &[], &[RequestReceived], &["omit RequestReceived", "getPods", "default"]);
        check(req, Level::Request, &[], &panic_only, &["only audit panic", "getPods", "default"]);
    }
}

#[test]
fn checker_unions_policy_omit_stages() {
    use Stage::*;
    let policy_stages = [RequestReceived, ResponseStarted];
    check_levels(&policy_stages);
    let panic_only = [RequestReceived, ResponseStarted, ResponseComplete];
    for req in ["namespaced", "cluster"] {
        check(
            req,
            Level::Request,
            &policy_stages,
            &policy_stages,
            &["omit RequestReceived", "getPods", "default"],
        );
        check(req, Level::Request, &policy_stages, &panic_only, &["only audit panic", "getPods", "default"]);
    }
    check(
        "nonResource",
        Level::Metadata,
        &policy_stages,
        &policy_stages,
        &["default", "omit RequestReceived", "getPods"],
    );
}

#[test]
fn omit_managed_fields_rule_overrides_policy() {
    let info = RequestInfo { verb: "get".into(), ..Default::default() };
    for (global, rule_value, want) in
        [(false, None, false), (true, None, true), (true, Some(false), false), (false, Some(true), true)]
    {
        let mut r = rule(json!({"level": "RequestResponse", "verbs": ["get"]}));
        r.omit_managed_fields = rule_value;
        let policy = Policy {
            api_version: "audit.k8s.io/v1".into(),
            kind: "Policy".into(),
            metadata: None,
            rules: vec![r],
            omit_stages: vec![],
            omit_managed_fields: global,
        };
        assert_eq!(policy.evaluate(&tim(), &info).omit_managed_fields, want, "{global} {rule_value:?}");
    }
}

const EXAMPLE_POLICY: &str = r#"
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
  - level: RequestResponse
    resources:
      - group: "restaurant.programming-kubernetes.info"
        resources: ["pizzas"]
  - level: Metadata
"#;

#[test]
fn policy_files_parse_and_validate() {
    let policy = Policy::parse(EXAMPLE_POLICY).unwrap();
    assert_eq!(policy.rules.len(), 3);
    assert_eq!(policy.omit_stages, vec![Stage::RequestReceived]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, EXAMPLE_POLICY).unwrap();
    assert_eq!(Policy::load(&path).unwrap(), policy);
    assert!(matches!(Policy::load(&dir.path().join("missing")), Err(PolicyError::Read { .. })));

    for bad in [
        "apiVersion: audit.k8s.io/v1beta1\nkind: Policy\n",
        "apiVersion: audit.k8s.io/v1\nkind: Pod\n",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Everything\n",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  verb: [get]\n",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: [healthz]\n",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: ['/a*b']\n",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: ['/a']\n  namespaces: [x]\n",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Sometimes]\n",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nsurprise: 1\n",
        "{{{{",
        "",
    ] {
        assert!(Policy::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_yaml_bomb_policy_fails_fast() {
    // Under `metadata`, which takes any value, so the aliases would really be expanded.
    let mut bomb = String::from(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nmetadata:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..12 {
        let prev = i - 1;
        bomb.push_str(&format!("  a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
    }
    let started = std::time::Instant::now();
    let err = Policy::parse(&bomb).unwrap_err();
    assert!(err.to_string().contains("repetition limit"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

// === Event helpers ===

#[test]
fn audit_ids_from_clients_are_kept_only_when_sane() {
    let headers = |v: &[u8]| {
        let mut h = http::HeaderMap::new();
        h.insert(AUDIT_ID_HEADER, HeaderValue::from_bytes(v).unwrap());
        h
    };
    assert_eq!(
        audit_id_for(&headers(b"0b7e9ac4-1f8c-4f7c-9a3a-6a1d1e2b1c3d")),
        "0b7e9ac4-1f8c-4f7c-9a3a-6a1d1e2b1c3d"
    );
    for hostile in [&b""[..], b"   ", b"has space", b"\xff\xfe", &[b'a'; 129][..], b"tab\there"] {
        let id = audit_id_for(&headers(hostile));
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{hostile:?} gave {id}");
    }
    assert!(uuid::Uuid::parse_str(&audit_id_for(&http::HeaderMap::new())).is_ok());
}

#[test]
fn user_agents_are_cut_and_sources_parsed() {
    assert_eq!(truncate_user_agent("kubectl/v1.30"), "kubectl/v1.30");
    let long = "é".repeat(200);
    let cut = truncate_user_agent(&long);
    assert!(cut.ends_with("...TRUNCATED"));
    assert!(cut.len() <= MAX_USER_AGENT_LENGTH + "...TRUNCATED".len());

    let mut h = http::HeaderMap::new();
    h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1, bogus, 10.0.0.2,10.0.0.1"));
    h.append("x-forwarded-for", HeaderValue::from_static("::1"));
    h.insert("x-real-ip", HeaderValue::from_static("10.0.0.3"));
    let peer = "192.0.2.1".parse().ok();
    assert_eq!(source_ips(&h, peer), vec!["10.0.0.1", "10.0.0.2", "::1", "10.0.0.3", "192.0.2.1"]);
    let mut flood = http::HeaderMap::new();
    let many = (0..1000).map(|i| format!("10.1.{}.{}", i / 250, i % 250)).collect::<Vec<_>>().join(",");
    flood.insert("x-forwarded-for", HeaderValue::from_str(&many).unwrap());
    assert_eq!(source_ips(&flood, None).len(), 16);
}

#[test]
fn managed_fields_are_dropped_from_objects_and_lists() {
    let mut object = json!({"metadata": {"name": "a", "managedFields": [{}]}});
    omit_managed_fields(&mut object);
    assert_eq!(object, json!({"metadata": {"name": "a"}}));
    let mut list = json!({"items": [{"metadata": {"managedFields": []}}, {"metadata": {"name": "b"}}]});
    omit_managed_fields(&mut list);
    assert_eq!(list, json!({"items": [{"metadata": {}}, {"metadata": {"name": "b"}}]}));
}

// === The filter ===

type Events = Arc<Mutex<Vec<Event>>>;

fn recording(policy: &str) -> (Option<Audit>, Events) {
    let events: Events = Arc::default();
    let sink_events = Arc::clone(&events);
    let sink = move |event: &Event| sink_events.lock().unwrap().push(event.clone());
    (Some(Audit { policy: Arc::new(Policy::parse(policy).unwrap()), sink: Arc::new(sink) }), events)
}

fn policy_at(level: &str) -> String {
    format!("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: {level}\n")
}

fn admin() -> UserInfo {
    UserInfo { name: "admin".into(), groups: vec!["system:masters".into()], ..Default::default() }
}

fn request(method: &str, target: &str, body: &str) -> Request {
    let mut request = http::Request::builder()
        .method(method)
        .uri(target)
        .header("user-agent", "kubectl/v1.30.0")
        .header("content-type", "application/json")
        .body(crate::body::request_body(body.to_owned()))
        .unwrap();
    request
        .extensions_mut()
        .insert(RequestInfoFactory::default().parse_path_and_query(method, target).unwrap());
    request.extensions_mut().insert(admin());
    request.extensions_mut().insert(AuditId("test-audit-id".into()));
    request
}

/// The rest of the chain: reads the request body, then answers `status` with `body` (JSON).
fn answering(status: u16, body: &'static str) -> Next {
    let inner = tower::service_fn(move |request: Request| async move {
        if let Some(handle) = request.extensions().get::<AuditHandle>() {
            handle.annotate("test/annotation", "seen");
        }
        let _ = request.into_body().collect().await;
        let mut response = Response::new(full(body));
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
        response.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
        Ok::<_, Infallible>(response)
    });
    Next::new(BoxCloneSyncService::new(inner))
}

/// An event with its varying fields (timestamps) replaced, as JSON: a golden form.
fn golden(event: &Event) -> Value {
    let mut value = serde_json::to_value(event).unwrap();
    value["requestReceivedTimestamp"] = json!("<received>");
    value["stageTimestamp"] = json!("<stage>");
    value
}

async fn send(audit: Option<Audit>, request: Request, next: Next) -> (u16, Bytes) {
    let response = audit_request(audit, request, next).await;
    let status = response.status().as_u16();
    (status, response.into_body().collect().await.unwrap().to_bytes())
}

const PIZZA: &str = r#"{"kind":"Pizza","metadata":{"name":"p","managedFields":[{"manager":"kubectl"}]}}"#;
const PIZZAS: &str = "/apis/restaurant.programming-kubernetes.info/v1beta1/namespaces/default/pizzas";

#[tokio::test]
async fn metadata_level_golden_events() {
    let (audit, events) = recording(&policy_at("Metadata"));
    let (status, body) =
        send(audit, request("POST", &format!("{PIZZAS}?dryRun=All"), PIZZA), answering(201, PIZZA)).await;
    assert_eq!((status, body.as_ref()), (201, PIZZA.as_bytes()));
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 2);
    let received = golden(&events[0]);
    assert_eq!(
        received,
        json!({
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": "test-audit-id",
            "stage": "RequestReceived",
            "requestURI": format!("{PIZZAS}?dryRun=All"),
            "verb": "create",
            "user": {"username": "admin", "groups": ["system:masters"]},
            "userAgent": "kubectl/v1.30.0",
            "objectRef": {
                "resource": "pizzas",
                "namespace": "default",
                "apiGroup": "restaurant.programming-kubernetes.info",
                "apiVersion": "v1beta1"
            },
            "requestReceivedTimestamp": "<received>",
            "stageTimestamp": "<stage>"
        })
    );
    assert_eq!(events[0].stage_timestamp, events[0].request_received_timestamp);
    let mut complete = golden(&events[1]);
    assert_eq!(complete["stage"], "ResponseComplete");
    assert_eq!(complete["responseStatus"], json!({"metadata": {}, "code": 201}));
    assert_eq!(complete["annotations"], json!({"test/annotation": "seen"}));
    // No bodies at Metadata.
    complete.as_object_mut().unwrap().retain(|k, _| k == "requestObject" || k == "responseObject");
    assert_eq!(complete, json!({}));
    // MicroTime: RFC 3339, UTC, six fractional digits.
    let ts = &events[1].stage_timestamp;
    assert_eq!(ts.len(), "2024-01-02T03:04:05.123456Z".len(), "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
}

#[tokio::test]
async fn request_and_request_response_levels_record_bodies() {
    let (audit, events) = recording(&policy_at("Request"));
    send(audit, request("POST", PIZZAS, PIZZA), answering(201, PIZZA)).await;
    let complete = golden(&events.lock().unwrap()[1]);
    assert_eq!(complete["requestObject"], serde_json::from_str::<Value>(PIZZA).unwrap());
    assert!(complete.get("responseObject").is_none());

    let policy = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitManagedFields: true\nrules:\n- level: RequestResponse\n";
    let (audit, events) = recording(policy);
    send(audit, request("POST", PIZZAS, PIZZA), answering(201, PIZZA)).await;
    let complete = golden(&events.lock().unwrap()[1]);
    let trimmed = json!({"kind": "Pizza", "metadata": {"name": "p"}});
    assert_eq!(complete["requestObject"], trimmed);
    assert_eq!(complete["responseObject"], trimmed);
    assert_eq!(complete["responseStatus"], json!({"metadata": {}, "code": 201}));

    // A body that is not JSON is not recorded.
    let (audit, events) = recording(&policy_at("RequestResponse"));
    send(audit, request("POST", PIZZAS, "\u{0}binary"), answering(201, PIZZA)).await;
    assert!(golden(&events.lock().unwrap()[1]).get("requestObject").is_none());
}

#[tokio::test]
async fn failures_record_their_status_at_every_level() {
    const NOT_FOUND: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pizzas \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"pizzas"},"code":404}"#;
    let (audit, events) = recording(&policy_at("Metadata"));
    send(audit, request("GET", &format!("{PIZZAS}/x"), ""), answering(404, NOT_FOUND)).await;
    let complete = golden(&events.lock().unwrap()[1]);
    assert_eq!(
        complete["responseStatus"],
        json!({"metadata":{},"status":"Failure","message":"pizzas \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"pizzas"},"code":404})
    );
    assert_eq!(complete["verb"], "get");
    assert_eq!(complete["objectRef"]["name"], "x");
    assert!(complete.get("responseObject").is_none());
}

#[tokio::test]
async fn omitted_stages_and_level_none_write_nothing() {
    let (audit, events) = recording(EXAMPLE_POLICY);
    send(audit.clone(), request("GET", "/healthz", ""), answering(200, "{}")).await;
    assert!(events.lock().unwrap().is_empty());
    send(audit, request("GET", "/apis", ""), answering(200, "{}")).await;
    let events = events.lock().unwrap().clone();
    assert_eq!(events.iter().map(|e| e.stage).collect::<Vec<_>>(), vec![Stage::ResponseComplete]);
    assert!(events[0].object_ref.is_none());
    assert_eq!(events[0].verb, "get");
    // No policy at all: nothing.
    let response = audit_request(None, request("GET", "/apis", ""), answering(200, "{}")).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn watches_get_response_started_and_no_response_object() {
    let (audit, events) = recording(&policy_at("RequestResponse"));
    let (status, _) = send(
        audit,
        request("GET", &format!("{PIZZAS}?watch=true"), ""),
        answering(200, r#"{"type":"ADDED"}"#),
    )
    .await;
    assert_eq!(status, 200);
    let events = events.lock().unwrap();
    let stages: Vec<Stage> = events.iter().map(|e| e.stage).collect();
    assert_eq!(stages, vec![Stage::RequestReceived, Stage::ResponseStarted, Stage::ResponseComplete]);
    assert_eq!(events[1].response_status, Some(json!({"metadata": {}, "code": 200})));
    assert!(events[2].response_object.is_none());
    assert_eq!(events[2].verb, "watch");
}

#[tokio::test]
async fn response_complete_waits_for_the_body() {
    let (audit, events) = recording(&policy_at("Metadata"));
    let response = audit_request(audit, request("GET", PIZZAS, ""), answering(200, "{}")).await;
    assert_eq!(events.lock().unwrap().len(), 1, "only RequestReceived before the body is sent");
    drop(response);
    assert_eq!(events.lock().unwrap()[1].stage, Stage::ResponseComplete);
}

#[tokio::test]
async fn cancelled_requests_still_complete_in_the_log() {
    let (audit, events) = recording(&policy_at("Metadata"));
    let inner = tower::service_fn(|_request: Request| async move {
        std::future::pending::<()>().await;
        Ok::<_, Infallible>(Response::new(crate::body::empty()))
    });
    let next = Next::new(BoxCloneSyncService::new(inner));
    let timed_out = tokio::time::timeout(
        Duration::from_millis(50),
        audit_request(audit, request("GET", PIZZAS, ""), next),
    )
    .await;
    assert!(timed_out.is_err());
    let events = events.lock().unwrap().clone();
    assert_eq!(
        events.iter().map(|e| e.stage).collect::<Vec<_>>(),
        vec![Stage::RequestReceived, Stage::ResponseComplete]
    );
    let status = events[1].response_status.as_ref().unwrap();
    assert_eq!((status["code"].as_u64(), status["reason"].as_str()), (Some(504), Some("Timeout")));
}

/// The rest of a chain that panics: in its future's poll, or (`at_start`) while it starts,
/// as a step or the resource handler could.
fn panicking(at_start: bool) -> Next {
    if at_start {
        return Arc::new(crate::filters::Chain::new(|_request: Request| -> crate::filters::FilterFuture {
            panic!("boom")
        }))
        .start();
    }
    Next::new(BoxCloneSyncService::new(tower::service_fn(|_request: Request| async move {
        if true {
            panic!("boom");
        }
        Ok::<_, Infallible>(Response::new(crate::body::empty()))
    })))
}

#[tokio::test]
async fn panics_are_audited_and_propagate() {
    for at_start in [false, true] {
        let (audit, events) = recording(&policy_at("Metadata"));
        let next = panicking(at_start);
        let outcome = std::panic::AssertUnwindSafe(audit_request(audit, request("GET", PIZZAS, ""), next))
            .catch_unwind()
            .await;
        assert!(outcome.is_err(), "the panic reaches panic recovery (at start: {at_start})");
        let events = events.lock().unwrap();
        assert_eq!(
            events.iter().map(|e| e.stage).collect::<Vec<_>>(),
            vec![Stage::RequestReceived, Stage::Panic],
            "at start: {at_start}"
        );
        assert_eq!(
            events[1].response_status,
            Some(
                json!({"metadata": {}, "status": "Failure", "message": "APIServer panic'd: boom", "reason": "InternalError", "code": 500})
            )
        );
    }
}

#[tokio::test]
async fn panic_recovery_answers_500_and_audit_id_survives() {
    for at_start in [false, true] {
        let chain = Arc::new(
            crate::filters::Chain::new(move |_request: Request| -> crate::filters::FilterFuture {
                if at_start {
                    panic!("boom");
                }
                Box::pin(async { panic!("boom") })
            })
            .step(assign_audit_id)
            .step(crate::filters::panic::recover_panics),
        );
        let response = chain.start().run(request("GET", PIZZAS, "")).await;
        assert_eq!(response.status(), 500, "at start: {at_start}");
        assert!(response.headers().contains_key(AUDIT_ID_HEADER));
        assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            body, "This request caused apiserver to panic. Look in the logs for details.\n",
            "upstream's answer; nothing of the panic itself (at start: {at_start})"
        );
    }
}

#[tokio::test]
async fn impersonation_is_recorded_next_to_the_real_user() {
    let (audit, events) = recording(&policy_at("Metadata"));
    let inner = tower::service_fn(|request: Request| async move {
        let bob = UserInfo {
            name: "bob".into(),
            groups: vec!["system:authenticated".into()],
            ..Default::default()
        };
        request.extensions().get::<AuditHandle>().unwrap().set_impersonated_user(&bob);
        Ok::<_, Infallible>(Response::new(crate::body::empty()))
    });
    send(audit, request("GET", PIZZAS, ""), Next::new(BoxCloneSyncService::new(inner))).await;
    let complete = golden(&events.lock().unwrap()[1]);
    assert_eq!(complete["user"]["username"], "admin");
    assert_eq!(complete["impersonatedUser"], json!({"username": "bob", "groups": ["system:authenticated"]}));
}

#[tokio::test]
async fn audit_ids_are_returned_in_a_header() {
    let inner = tower::service_fn(|request: Request| async move {
        let id = request.extensions().get::<AuditId>().unwrap().0.clone();
        Ok::<_, Infallible>(Response::new(full(id)))
    });
    let next = || Next::new(BoxCloneSyncService::new(inner));
    let plain = http::Request::builder().uri("/").body(crate::body::request_body("")).unwrap();
    let response = assign_audit_id(plain, next()).await;
    let header = response.headers()[AUDIT_ID_HEADER].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&header).is_ok());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, header.as_bytes());
    let forwarded = http::Request::builder()
        .uri("/")
        .header("Audit-ID", "from-kube-apiserver")
        .body(crate::body::request_body(""))
        .unwrap();
    assert_eq!(assign_audit_id(forwarded, next()).await.headers()[AUDIT_ID_HEADER], "from-kube-apiserver");
}

// === The log backend ===

#[tokio::test]
async fn the_log_backend_writes_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/audit.log");
    let backend = LogBackend::open(&path, 100).unwrap();
    let audit = Some(Audit {
        policy: Arc::new(Policy::parse(&policy_at("Metadata")).unwrap()),
        sink: Arc::new(backend.clone()),
    });
    send(audit, request("GET", PIZZAS, ""), answering(200, "{}")).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().count() == 2 {
            for line in text.lines() {
                let event: Value = serde_json::from_str(line).unwrap();
                assert_eq!(event["apiVersion"], "audit.k8s.io/v1");
                assert_eq!(event["auditID"], "test-audit-id");
            }
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(backend.dropped(), 0);
    let mut metrics = String::new();
    backend.render(&mut metrics);
    assert!(metrics.contains("apiserver_audit_event_total 2\n"), "{metrics}");
    assert!(metrics.contains("apiserver_audit_error_total{plugin=\"log\"} 0\n"), "{metrics}");
}

/// A writer that blocks until released, to fill the queue.
struct Stuck(std::sync::mpsc::Receiver<()>);

impl std::io::Write for Stuck {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.recv();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking() {
    let (release, stuck) = std::sync::mpsc::channel();
    let backend = LogBackend::with_writer(Stuck(stuck), 2).unwrap();
    let (user, info) = attrs("namespaced");
    let event = Event {
        kind: "Event",
        api_version: "audit.k8s.io/v1",
        level: Level::Metadata,
        audit_id: "x".into(),
        stage: Stage::ResponseComplete,
        request_uri: "/".into(),
        verb: info.verb.clone(),
        user: EventUser::from(&user),
        impersonated_user: None,
        source_ips: vec![],
        user_agent: String::new(),
        object_ref: ObjectReference::of(&info),
        response_status: None,
        request_object: None,
        response_object: None,
        request_received_timestamp: String::new(),
        stage_timestamp: String::new(),
        annotations: BTreeMap::new(),
    };
    let started = std::time::Instant::now();
    // Big enough lines that the BufWriter must write through to the stuck writer.
    let mut big = event.clone();
    big.request_uri = "/".repeat(64 * 1024);
    for _ in 0..50 {
        backend.process(&big);
    }
    assert!(started.elapsed() < Duration::from_secs(1), "processing never blocks");
    assert!(backend.dropped() >= 40, "dropped {}", backend.dropped());
    drop(release);
}

#[test]
fn audit_ids_are_distinct_version_4_uuids() {
    let a = uuid::Uuid::parse_str(&super::new_audit_id()).unwrap();
    let b = uuid::Uuid::parse_str(&super::new_audit_id()).unwrap();
    assert_ne!(a, b);
    assert_eq!(a.get_version_num(), 4);
    assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
}
