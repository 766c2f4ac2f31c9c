//! Front-proxy authentication over real TLS: `X-Remote-*` headers are trusted only from a
//! client certificate that chains to `--requestheader-client-ca-file` and whose CN is in
//! `--requestheader-allowed-names`. Every other request carrying them is judged as if they
//! were absent: the best-known aggregated-server bug (`X-Remote-User: admin`,
//! `X-Remote-Group: system:masters` from anyone) must grant nothing.

use std::time::{Duration, Instant};

use crate::http_common::*;
use piazza_testing::{HttpVersion, TestCa, TestClient, TestServer};

/// The forged identity of the famous bug.
const FORGED: &[(&str, &str)] = &[("X-Remote-User", "admin"), ("X-Remote-Group", "system:masters")];

/// The kube-aggregator's front-proxy client name.
const PROXY_CN: &str = "front-proxy-client";

struct FrontProxySetup {
    server: TestServer,
    ca: TestCa,
    _dir: tempfile::TempDir,
}

impl FrontProxySetup {
    /// A server trusting a fresh front-proxy CA for `PROXY_CN`, with `extra` flags.
    async fn start(extra: &[&str]) -> Self {
        let ca = TestCa::new("front-proxy-ca").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("front-proxy-ca.crt");
        ca.write_cert(&path).unwrap();
        let path = path.to_str().unwrap().to_owned();
        let mut args =
            vec!["--requestheader-client-ca-file", &path, "--requestheader-allowed-names", PROXY_CN];
        args.extend_from_slice(extra);
        let server = TestServer::start_with_args(&args, |storage| {
            pizza_apiserver::resources(storage).expect("pizza resources build")
        })
        .await;
        Self { server, ca, _dir: dir }
    }

    /// A client presenting a certificate signed by the front-proxy CA with CN `cn`.
    fn proxy(&self, cn: &str) -> TestClient {
        self.server.client(Some(self.ca.sign(cn, &[]).unwrap()), HttpVersion::Http1)
    }
}

fn message(response: &piazza_testing::TestResponse) -> String {
    response.json()["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn spoofed_headers_are_never_trusted() {
    let setup = FrontProxySetup::start(&[]).await;
    let list = pizzas("default");

    // (a) no client certificate: the headers are ignored and the caller is anonymous.
    let response = setup.server.anonymous_client().get_with(&list, FORGED).await;
    response.expect_status(401, "Unauthorized");

    // (b) a certificate from the client CA (not the requestheader CA), even with the proxy's
    // CN: it authenticates as itself, never as the asserted user.
    let response = setup.server.client_for(PROXY_CN, &[]).get_with(&list, FORGED).await;
    response.expect_status(403, "Forbidden");
    assert!(message(&response).contains(&format!("User \"{PROXY_CN}\"")), "{}", message(&response));
    // ... and a certificate from a CA nobody trusts is not a user at all.
    let response = setup.server.foreign_client(PROXY_CN, &["system:masters"]).get_with(&list, FORGED).await;
    response.expect_status(401, "Unauthorized");

    // (c) the requestheader CA, but a CN that is not on the allowed list.
    let response = setup.proxy("not-the-proxy").get_with(&list, FORGED).await;
    response.expect_status(401, "Unauthorized");

    // (d) the real front proxy: the asserted identity is the user.
    let proxy = setup.proxy(PROXY_CN);
    proxy.get_with(&list, FORGED).await.expect(200);
    let response = proxy.get_with(&list, &[("X-Remote-User", "bob"), ("X-Remote-Group", "devs")]).await;
    response.expect_status(403, "Forbidden");
    assert!(
        message(&response)
            .starts_with("pizzas.restaurant.programming-kubernetes.info is forbidden: User \"bob\"")
    );
    // Header names are case-insensitive, and HTTP/2 works the same.
    proxy
        .http2()
        .get_with(&list, &[("x-remote-user", "admin"), ("x-remote-group", "system:masters")])
        .await
        .expect(200);
    // The proxy asserting nobody: its own certificate is not a user (not signed by the client CA).
    proxy.get_with(&list, &[("X-Remote-Group", "system:masters")]).await.expect_status(401, "Unauthorized");
}

#[tokio::test]
async fn only_the_configured_header_names_count() {
    let setup = FrontProxySetup::start(&[
        "--requestheader-username-headers",
        "X-Custom-User",
        "--requestheader-group-headers",
        "X-Custom-Group,X-Custom-Group2",
        "--requestheader-extra-headers-prefix",
        "X-Custom-Extra-",
        "--requestheader-uid-headers",
        "X-Custom-Uid",
    ])
    .await;
    let list = pizzas("default");
    let proxy = setup.proxy(PROXY_CN);
    // (e) the standard names carry nothing now.
    proxy.get_with(&list, FORGED).await.expect_status(401, "Unauthorized");
    proxy
        .get_with(&list, &[("X-Custom-User", "admin"), ("X-Remote-Group", "system:masters")])
        .await
        .expect(403);
    proxy
        .get_with(&list, &[("X-Custom-User", "admin"), ("X-Custom-Group2", "system:masters")])
        .await
        .expect(200);
    // Still only from the front proxy.
    setup
        .server
        .anonymous_client()
        .get_with(&list, &[("X-Custom-User", "admin"), ("X-Custom-Group", "system:masters")])
        .await
        .expect_status(401, "Unauthorized");
}

#[tokio::test]
async fn without_a_requestheader_ca_the_headers_mean_nothing() {
    let server = start().await;
    let list = pizzas("default");
    server.anonymous_client().get_with(&list, FORGED).await.expect_status(401, "Unauthorized");
    // A real user's headers do not change who they are.
    let response = server.client_for("carol", &[]).get_with(&list, FORGED).await;
    response.expect_status(403, "Forbidden");
    assert!(message(&response).contains("User \"carol\""));
    let response = server.admin_client().get_with(&list, &[("X-Remote-User", "bob")]).await;
    response.expect(200);
}

#[tokio::test]
async fn the_aggregator_probe_answers_fast() {
    let setup = FrontProxySetup::start(&[]).await;
    let proxy = setup.proxy(PROXY_CN);
    let probe = [("X-Remote-User", "system:kube-aggregator"), ("X-Remote-Group", "system:masters")];
    for version in ["v1alpha1", "v1beta1"] {
        let started = Instant::now();
        let response = proxy.get_with(&format!("/apis/{GROUP}/{version}"), &probe).await;
        response.expect(200);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(response.json()["kind"], "APIResourceList");
    }
}

#[tokio::test]
async fn an_empty_allowed_list_trusts_every_certificate_of_the_ca() {
    let ca = TestCa::new("front-proxy-ca").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.crt");
    ca.write_cert(&path).unwrap();
    let server =
        TestServer::start_with_args(&["--requestheader-client-ca-file", path.to_str().unwrap()], |storage| {
            pizza_apiserver::resources(storage).expect("pizza resources build")
        })
        .await;
    let any_proxy = server.client(Some(ca.sign("any-name", &[]).unwrap()), HttpVersion::Http1);
    any_proxy.get_with(&pizzas("default"), FORGED).await.expect(200);
    // The client CA still authenticates its own users.
    server.admin_client().get(&pizzas("default")).await.expect(200);
}
