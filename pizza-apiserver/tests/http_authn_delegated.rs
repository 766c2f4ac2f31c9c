//! Delegated authentication and authorization over real TLS, against a stand-in
//! kube-apiserver ([`KubeDouble`]): bearer tokens by TokenReview, requests by
//! SubjectAccessReview, both cached and failing closed; `--anonymous-auth`; and the client CA
//! and front-proxy settings read (and re-read) from the extension-apiserver-authentication
//! ConfigMap.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::http_common::*;
use piazza_testing::{Endpoint, HttpVersion, KubeDouble, Outage, ReviewedUser, TestCa, TestServer};

struct Delegated {
    server: TestServer,
    double: KubeDouble,
    _dir: tempfile::TempDir,
}

impl Delegated {
    /// A server delegating to a fresh double (prepared by `script`), with `extra` flags.
    async fn start(extra: &[&str], script: impl FnOnce(&KubeDouble)) -> Self {
        let double = KubeDouble::start().await;
        script(&double);
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        double.write_kubeconfig(&kubeconfig).unwrap();
        let kubeconfig = kubeconfig.to_str().unwrap().to_owned();
        let mut args =
            vec!["--authentication-kubeconfig", &kubeconfig, "--authorization-kubeconfig", &kubeconfig];
        args.extend_from_slice(extra);
        let server = TestServer::start_with_args(&args, |storage| {
            pizza_apiserver::resources(storage).expect("pizza resources build")
        })
        .await;
        Self { server, double, _dir: dir }
    }

    async fn get_as(&self, token: &str, path: &str) -> piazza_testing::TestResponse {
        let bearer = format!("Bearer {token}");
        self.server.anonymous_client().get_with(path, &[("Authorization", &bearer)]).await
    }
}

fn message(response: &piazza_testing::TestResponse) -> String {
    response.json()["message"].as_str().unwrap_or_default().to_owned()
}

/// Polls `check` every 50 ms for up to 10 s.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn tokens_are_reviewed_and_requests_authorized_by_the_cluster() {
    let setup = Delegated::start(&[], |double| {
        double.add_token("tok-alice", ReviewedUser::new("alice", &["devs"]));
        double.allow("alice", "list", "pizzas");
        double.set_deny_reason("no RBAC policy matched");
    })
    .await;

    let response = setup.get_as("tok-alice", &pizzas("default")).await;
    response.expect(200);
    let reviews = setup.double.access_reviews();
    assert_eq!(reviews.len(), 1);
    let spec = &reviews[0]["spec"];
    assert_eq!(spec["user"], "alice");
    assert_eq!(spec["groups"], serde_json::json!(["devs", "system:authenticated"]));
    assert_eq!(
        spec["resourceAttributes"],
        serde_json::json!({"namespace": "default", "verb": "list", "group": GROUP,
                           "version": "v1beta1", "resource": "pizzas"})
    );

    // Not allowed by the cluster: 403 with upstream's message and the review's reason.
    let status =
        setup.get_as("tok-alice", &pizza("default", "margherita")).await.expect_status(403, "Forbidden");
    assert_eq!(
        status["message"],
        format!(
            "pizzas.{GROUP} \"margherita\" is forbidden: User \"alice\" cannot get resource \"pizzas\" in API group \"{GROUP}\" in the namespace \"default\": no RBAC policy matched"
        )
    );
    assert_eq!(
        setup.double.access_reviews().last().unwrap()["spec"]["resourceAttributes"]["name"],
        "margherita"
    );

    // Non-resource requests are reviewed by path and verb.
    setup.get_as("tok-alice", "/metrics").await.expect_status(403, "Forbidden");
    let spec = setup.double.access_reviews().last().unwrap()["spec"].clone();
    assert_eq!(spec["nonResourceAttributes"], serde_json::json!({"path": "/metrics", "verb": "get"}));

    // A token the cluster does not know is a 401, and nothing is asked about it.
    let before = setup.double.calls(Endpoint::SubjectAccessReview);
    setup.get_as("tok-mallory", &pizzas("default")).await.expect_status(401, "Unauthorized");
    assert_eq!(setup.double.calls(Endpoint::SubjectAccessReview), before);

    // system:masters is allowed without asking.
    let before = setup.double.calls(Endpoint::SubjectAccessReview);
    setup.server.admin_client().get(&pizzas("default")).await.expect(200);
    assert_eq!(setup.double.calls(Endpoint::SubjectAccessReview), before);
}

#[tokio::test]
async fn decisions_are_cached_for_the_ttl() {
    let ttl = [
        "--authentication-token-webhook-cache-ttl",
        "1s",
        "--authorization-webhook-cache-authorized-ttl",
        "1s",
        "--authorization-webhook-cache-unauthorized-ttl",
        "1s",
    ];
    let setup = Delegated::start(&ttl, |double| {
        double.add_token("tok-bob", ReviewedUser::new("bob", &[]));
        double.allow("bob", "list", "pizzas");
    })
    .await;
    setup.get_as("tok-bob", &pizzas("default")).await.expect(200);
    assert_eq!(setup.double.calls(Endpoint::TokenReview), 1);
    assert_eq!(setup.double.calls(Endpoint::SubjectAccessReview), 1);

    // Revoked in the cluster, but still cached: allowed, nothing asked.
    setup.double.revoke("bob", "list", "pizzas");
    let started = Instant::now();
    setup.get_as("tok-bob", &pizzas("default")).await.expect(200);
    setup.get_as("tok-bob", &pizzas("default")).await.expect(200);
    assert!(started.elapsed() < Duration::from_millis(900), "the test ran too slowly to judge the cache");
    assert_eq!(setup.double.calls(Endpoint::TokenReview), 1);
    assert_eq!(setup.double.calls(Endpoint::SubjectAccessReview), 1);

    // After the TTL the revocation takes effect, and the denial is cached in turn.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    setup.get_as("tok-bob", &pizzas("default")).await.expect_status(403, "Forbidden");
    setup.get_as("tok-bob", &pizzas("default")).await.expect_status(403, "Forbidden");
    assert_eq!(setup.double.calls(Endpoint::TokenReview), 2);
    assert_eq!(setup.double.calls(Endpoint::SubjectAccessReview), 2);

    // Token failures are cached too, then re-asked after the TTL.
    setup.get_as("tok-unknown", "/healthz").await.expect_status(401, "Unauthorized");
    setup.get_as("tok-unknown", "/healthz").await.expect_status(401, "Unauthorized");
    assert_eq!(setup.double.calls(Endpoint::TokenReview), 3);
    setup.double.add_token("tok-unknown", ReviewedUser::new("late", &[]));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    setup.get_as("tok-unknown", "/healthz").await.expect(200);
    assert_eq!(setup.double.calls(Endpoint::TokenReview), 4);
}

#[tokio::test]
async fn outages_fail_closed_while_health_checks_still_answer() {
    let setup = Delegated::start(&[], |double| {
        double.add_token("tok-carol", ReviewedUser::new("carol", &[]));
        double.allow("carol", "*", "*");
    })
    .await;
    // Authenticate carol once, so her token is cached for the authorization outage below.
    setup.get_as("tok-carol", &pizzas("default")).await.expect(200);

    // TokenReview down (500, retried with backoff): a new token is refused.
    setup.double.set_outage(Endpoint::TokenReview, Outage::InternalError);
    setup.get_as("tok-new", &pizzas("default")).await.expect_status(401, "Unauthorized");
    assert_eq!(setup.double.calls(Endpoint::TokenReview), 1 + 5, "upstream's 5 attempts on a 500");
    setup.server.anonymous_client().get("/healthz").await.expect(200);

    // SubjectAccessReview down (connections closed): 500, as upstream's authorization filter.
    setup.double.set_outage(Endpoint::SubjectAccessReview, Outage::CloseConnection);
    let response = setup.get_as("tok-carol", &pizza("default", "x")).await;
    let status = response.expect_status(500, "InternalError");
    assert!(
        status["message"].as_str().unwrap().starts_with("Internal error occurred: "),
        "{}",
        message(&response)
    );
    // Always-allowed paths need no review: health checks still pass for her and anyone.
    setup.get_as("tok-carol", "/readyz").await.expect(200);
    setup.server.anonymous_client().get("/livez").await.expect(200);

    // Back up: the failure was not cached.
    setup.double.set_outage(Endpoint::SubjectAccessReview, Outage::None);
    setup.get_as("tok-carol", &pizza("default", "x")).await.expect_status(404, "NotFound");
}

#[tokio::test]
async fn anonymous_auth_false_requires_credentials_everywhere() {
    let setup = Delegated::start(&["--anonymous-auth=false"], |double| {
        double.add_token("tok-dan", ReviewedUser::new("dan", &[]));
    })
    .await;
    let anonymous = setup.server.anonymous_client();
    anonymous.get("/healthz").await.expect_status(401, "Unauthorized");
    anonymous.get(&pizzas("default")).await.expect_status(401, "Unauthorized");
    // With credentials, the always-allowed health paths need no review.
    setup.get_as("tok-dan", "/healthz").await.expect(200);
    assert_eq!(setup.double.calls(Endpoint::SubjectAccessReview), 0);

    // By default anonymous requests reach authorization: the health paths are allowed.
    let default = Delegated::start(&[], |_| {}).await;
    default.server.anonymous_client().get("/healthz").await.expect(200);
}

fn extension_configmap(client_ca: &TestCa, proxy_ca: &TestCa) -> BTreeMap<String, String> {
    [
        ("client-ca-file", client_ca.cert_pem.as_str()),
        ("requestheader-client-ca-file", proxy_ca.cert_pem.as_str()),
        ("requestheader-allowed-names", "[\"front-proxy-client\"]"),
        ("requestheader-username-headers", "[\"X-Remote-User\"]"),
        ("requestheader-group-headers", "[\"X-Remote-Group\"]"),
        ("requestheader-extra-headers-prefix", "[\"X-Remote-Extra-\"]"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[tokio::test]
async fn client_and_front_proxy_cas_come_from_the_configmap_and_rotate() {
    let cluster_ca = TestCa::new("cluster-ca").unwrap();
    let proxy_ca = TestCa::new("front-proxy-ca").unwrap();
    let setup = Delegated::start(&["--authentication-config-refresh-interval", "100ms"], |double| {
        double.set_configmap(Some(extension_configmap(&cluster_ca, &proxy_ca)));
        double.allow("erin", "list", "pizzas");
        double.allow("frank", "list", "pizzas");
    })
    .await;
    assert!(setup.double.calls(Endpoint::ConfigMap) >= 1);

    // A front proxy signed by the ConfigMap's CA asserts erin.
    let proxy =
        setup.server.client(Some(proxy_ca.sign("front-proxy-client", &[]).unwrap()), HttpVersion::Http1);
    let as_erin = [("X-Remote-User", "erin"), ("X-Remote-Group", "waiters")];
    proxy.get_with(&pizzas("default"), &as_erin).await.expect(200);
    let spec = setup.double.access_reviews().last().unwrap()["spec"].clone();
    assert_eq!(spec["user"], "erin");
    assert_eq!(spec["groups"], serde_json::json!(["waiters", "system:authenticated"]));
    // A proxy name not in requestheader-allowed-names asserts nobody (and its certificate is
    // no client certificate of the cluster either).
    let stranger = setup.server.client(Some(proxy_ca.sign("someone-else", &[]).unwrap()), HttpVersion::Http1);
    stranger.get_with(&pizzas("default"), &as_erin).await.expect_status(401, "Unauthorized");

    // A client certificate signed by the ConfigMap's client CA is frank.
    let frank = setup.server.client(Some(cluster_ca.sign("frank", &[]).unwrap()), HttpVersion::Http1);
    frank.get(&pizzas("default")).await.expect(200);

    // Rotate both CAs in the cluster: the server follows without a restart.
    let new_cluster_ca = TestCa::new("cluster-ca-2").unwrap();
    let new_proxy_ca = TestCa::new("front-proxy-ca-2").unwrap();
    setup.double.set_configmap(Some(extension_configmap(&new_cluster_ca, &new_proxy_ca)));
    eventually("the old front-proxy CA is refused", async || {
        proxy.get_with(&pizzas("default"), &as_erin).await.status == 401
    })
    .await;
    frank.get(&pizzas("default")).await.expect_status(401, "Unauthorized");
    let new_proxy =
        setup.server.client(Some(new_proxy_ca.sign("front-proxy-client", &[]).unwrap()), HttpVersion::Http1);
    new_proxy.get_with(&pizzas("default"), &as_erin).await.expect(200);
    let new_frank = setup.server.client(Some(new_cluster_ca.sign("frank", &[]).unwrap()), HttpVersion::Http1);
    new_frank.get(&pizzas("default")).await.expect(200);
}
