//! The server behind a kube-aggregator: a test reverse proxy terminates the client's TLS,
//! authenticates a bearer token, and forwards to Piazza with the front-proxy client
//! certificate and `X-Remote-*` headers. The real kubectl, pointed at the proxy, works for a
//! normal user whose permissions come from SubjectAccessReviews answered by the
//! [`KubeDouble`]; identity headers a caller sends are stripped by the proxy.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::aggregator_support::{AggregatorProxy, ProxyUser};
use piazza_testing::{Endpoint, HttpVersion, KubeDouble, TestCa, TestClient, TestServer};

const GROUP: &str = "restaurant.programming-kubernetes.info";
/// The kube-aggregator's front-proxy client name.
const PROXY_CN: &str = "front-proxy-client";
/// The longest one kubectl invocation may take.
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(20);

/// What the cluster lets alice do to pizzas and toppings (not delete).
const ALICE_VERBS: [&str; 4] = ["get", "list", "watch", "create"];

/// The non-resource paths kubectl reads, as the system:discovery ClusterRole grants them.
fn discovery_paths() -> Vec<String> {
    let mut paths: Vec<String> =
        ["/api", "/apis", "/openapi/v2", "/openapi/v3", "/version"].map(str::to_owned).into();
    paths.extend(["v1alpha1", "v1beta1"].map(|version| format!("/openapi/v3/apis/{GROUP}/{version}")));
    paths
}

/// Whether the double, scripted by [`Aggregated::start`], allows the review `spec`.
fn allowed(spec: &serde_json::Value) -> bool {
    if let Some(attrs) = spec.get("resourceAttributes") {
        let verb = attrs["verb"].as_str().unwrap_or_default();
        ALICE_VERBS.contains(&verb)
            && ["pizzas", "toppings"].contains(&attrs["resource"].as_str().unwrap_or_default())
    } else {
        let path = spec["nonResourceAttributes"]["path"].as_str().unwrap_or_default();
        spec["nonResourceAttributes"]["verb"] == "get" && discovery_paths().iter().any(|p| p == path)
    }
}

/// Everything one test needs: the double, Piazza, the proxy, and kubectl's files.
struct Aggregated {
    double: KubeDouble,
    server: TestServer,
    proxy: AggregatorProxy,
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
}

impl Aggregated {
    async fn start() -> Self {
        let double = KubeDouble::start().await;
        for verb in ALICE_VERBS {
            double.allow("alice", verb, "pizzas");
            double.allow("alice", verb, "toppings");
        }
        for path in discovery_paths() {
            double.allow("alice", "get", &path);
        }

        let dir = tempfile::Builder::new().prefix("aggregator-test-").tempdir().unwrap();
        let authz = dir.path().join("authorization.kubeconfig");
        double.write_kubeconfig(&authz).unwrap();
        let front_proxy = TestCa::new("front-proxy-ca").unwrap();
        let front_proxy_ca = dir.path().join("front-proxy-ca.crt");
        front_proxy.write_cert(&front_proxy_ca).unwrap();
        let (authz, front_proxy_ca) = (authz.to_str().unwrap(), front_proxy_ca.to_str().unwrap());
        let args = [
            "--requestheader-client-ca-file",
            front_proxy_ca,
            "--requestheader-allowed-names",
            PROXY_CN,
            "--authorization-kubeconfig",
            authz,
        ];
        let server = TestServer::start_with_args(&args, |storage| {
            pizza_apiserver::resources(storage).expect("pizza resources build")
        })
        .await;

        let upstream = server.client(Some(front_proxy.sign(PROXY_CN, &[]).unwrap()), HttpVersion::Http1);
        let alice = ProxyUser { name: "alice".to_owned(), groups: vec!["devs".to_owned()] };
        let proxy =
            AggregatorProxy::start(BTreeMap::from([("alice-token".to_owned(), alice)]), upstream).await;
        let proxy_ca = dir.path().join("proxy-ca.crt");
        std::fs::write(&proxy_ca, proxy.ca_pem()).unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, proxy.kubeconfig(&proxy_ca, "alice-token")).unwrap();
        Self { double, server, proxy, kubeconfig, dir }
    }

    /// Runs `kubectl <args>` against the proxy, off the async runtime.
    async fn kubectl(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_owned()));
        cmd.args(args)
            .arg(format!("--request-timeout={}s", KUBECTL_TIMEOUT.as_secs()))
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .stdin(Stdio::null());
        let run = tokio::task::spawn_blocking(move || cmd.output().expect("kubectl runs"));
        tokio::time::timeout(KUBECTL_TIMEOUT + Duration::from_secs(5), run)
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish"))
            .unwrap()
    }

    /// Runs kubectl, asserting success; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}\ndenied: {:?}",
            show(&out),
            self.denied()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The spec of every review the double denied.
    fn denied(&self) -> Vec<String> {
        self.double
            .access_reviews()
            .iter()
            .filter(|review| !allowed(&review["spec"]))
            .map(|review| review["spec"].to_string())
            .collect()
    }

    /// A client calling the proxy directly (trusting its serving certificate).
    fn proxy_client(&self) -> TestClient {
        TestClient::new(self.proxy.addr(), self.proxy.ca_pem(), None, HttpVersion::Http1)
    }
}

fn show(out: &Output) -> String {
    format!(
        "[{}]\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn example(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name).display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_through_the_aggregator_acts_as_the_reviewed_user() {
    let setup = Aggregated::start().await;

    let out = setup.kubectl(&["get", "pizzas", "-n", "default"]).await;
    assert!(out.status.success(), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No resources found"), "{}", show(&out));

    let applied = setup.ok(&["apply", "-f", &example("toppings.yaml")]).await;
    assert!(applied.contains("mozzarella created"), "{applied}");
    let created = setup.ok(&["create", "-f", &example("margherita.yaml")]).await;
    assert!(created.contains("margherita created"), "{created}");
    let pizza: serde_json::Value =
        serde_json::from_str(&setup.ok(&["get", "pizza", "margherita", "-o", "json"]).await).unwrap();
    assert_eq!(pizza["metadata"]["name"], "margherita");
    assert_eq!(pizza["metadata"]["namespace"], "default");
    assert_eq!(pizza["spec"]["toppings"][0]["name"], "mozzarella", "{pizza}");

    // Delete is not granted by the cluster: refused for alice, and the pizza stays.
    let out = setup.kubectl(&["delete", "pizza", "margherita"]).await;
    assert!(!out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "Error from server (Forbidden): pizzas.{GROUP} \"margherita\" is forbidden: User \"alice\" cannot delete resource \"pizzas\" in API group \"{GROUP}\" in the namespace \"default\""
        )),
        "{}",
        show(&out)
    );
    setup.ok(&["get", "pizza", "margherita"]).await;

    // Every decision was the cluster's, about alice in devs: the proxy's certificate never
    // stood for anyone.
    let reviews = setup.double.access_reviews();
    assert!(!reviews.is_empty());
    for review in &reviews {
        assert_eq!(review["spec"]["user"], "alice", "{review}");
        assert_eq!(review["spec"]["groups"], serde_json::json!(["devs", "system:authenticated"]), "{review}");
    }
    let verbs: Vec<_> =
        reviews.iter().filter_map(|r| r["spec"]["resourceAttributes"]["verb"].as_str()).collect();
    for verb in ["list", "create", "get", "delete"] {
        assert!(verbs.contains(&verb), "no {verb} review in {verbs:?}");
    }
    assert!(setup.proxy.forwarded().iter().all(|headers| headers["x-remote-user"] == "alice"));
    // The delete was the only thing the cluster refused (discovery included).
    let denied = setup.denied();
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert!(denied[0].contains("\"verb\":\"delete\""), "{denied:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_headers_sent_through_the_proxy_are_stripped() {
    let setup = Aggregated::start().await;
    let client = setup.proxy_client();
    let list = format!("/apis/{GROUP}/v1beta1/namespaces/default/pizzas");
    let spoofed = [
        ("Authorization", "Bearer alice-token"),
        ("X-Remote-User", "admin"),
        ("X-Remote-Group", "system:masters"),
        ("Impersonate-User", "admin"),
    ];

    // Still alice: what alice may do works, and what she may not is refused in her name.
    client.get_with(&list, &spoofed).await.expect(200);
    let pizza = format!("{list}/margherita");
    let response = client.request(piazza_testing::Method::DELETE, &pizza, &spoofed, "").await;
    let status = response.expect_status(403, "Forbidden");
    assert!(status["message"].as_str().unwrap().contains("User \"alice\" cannot delete"), "{status}");
    let reviews = setup.double.access_reviews();
    assert_eq!(reviews.len(), 2);
    assert!(reviews.iter().all(|review| review["spec"]["user"] == "alice"));
    let forwarded = setup.proxy.forwarded();
    assert_eq!(forwarded.len(), 2);
    for headers in &forwarded {
        assert_eq!(headers.get_all("x-remote-user").iter().collect::<Vec<_>>(), ["alice"]);
        assert_eq!(headers.get_all("x-remote-group").iter().collect::<Vec<_>>(), ["devs"]);
        assert!(headers.get("impersonate-user").is_none());
        assert!(headers.get("authorization").is_none());
    }

    // An unknown token is refused by the proxy itself: nothing reaches Piazza or the cluster.
    let response =
        client.get_with(&list, &[("Authorization", "Bearer mallory"), ("X-Remote-User", "admin")]).await;
    response.expect_status(401, "Unauthorized");
    client.get_with(&list, &[("X-Remote-User", "admin")]).await.expect_status(401, "Unauthorized");
    assert_eq!(setup.proxy.forwarded().len(), 2);
    assert_eq!(setup.double.calls(Endpoint::SubjectAccessReview), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_stream_through_the_proxy() {
    let setup = Aggregated::start().await;
    let toppings = format!("/apis/{GROUP}/v1alpha1/toppings");
    let mut watch = setup
        .proxy_client()
        .watch_with(&format!("{toppings}?watch=true"), &[("Authorization", "Bearer alice-token")])
        .await
        .unwrap_or_else(|response| panic!("watch refused: {}", response.text()));

    // Each event arrives while the response is still open: the proxy does not buffer.
    for name in ["basil", "olives"] {
        let topping = serde_json::json!({"apiVersion": format!("{GROUP}/v1alpha1"), "kind": "Topping",
                                         "metadata": {"name": name}, "spec": {"cost": 1.0}});
        setup.server.admin_client().post(&toppings, &topping).await.expect(201);
        let event = watch.next_event().await;
        assert_eq!(event["type"], "ADDED", "{event}");
        assert_eq!(event["object"]["metadata"]["name"], name, "{event}");
    }
    let reviews = setup.double.access_reviews();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0]["spec"]["user"], "alice");
    assert_eq!(reviews[0]["spec"]["resourceAttributes"]["verb"], "watch");
}
