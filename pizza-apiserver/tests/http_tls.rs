//! `--tls-min-version` and `--tls-cipher-suites` over real TLS, and their start-up errors.
//! (The refusal of a TLS 1.2-only client and of a client without a common suite is tested
//! against `ServerTls` in piazza-tls, where the client's offer can be chosen.)

use std::process::Command;

use piazza_testing::TestServer;

async fn start_with(args: &[&str]) -> TestServer {
    TestServer::start_with_args(args, |storage| {
        pizza_apiserver::resources(storage).expect("pizza resources build")
    })
    .await
}

/// The protocol version and suite a default client negotiates, as rustls names them.
async fn negotiated(server: &TestServer) -> (String, String) {
    let stream = server.admin_client().connect_tls().await.expect("handshake succeeds");
    let (_, connection) = stream.get_ref();
    let version = format!("{:?}", connection.protocol_version().expect("a version"));
    let suite = format!("{:?}", connection.negotiated_cipher_suite().expect("a suite").suite());
    (version, suite)
}

#[tokio::test]
async fn the_minimum_version_and_suite_list_reach_the_listener() {
    let server = start_with(&[]).await;
    let (version, _) = negotiated(&server).await;
    assert_eq!(version, "TLSv1_3");
    server.admin_client().get("/healthz").await.expect(200);

    // A client prefers AES-256; a server allowing only ChaCha20 gets ChaCha20.
    let server = start_with(&[
        "--tls-min-version",
        "VersionTLS13",
        "--tls-cipher-suites",
        "TLS_CHACHA20_POLY1305_SHA256",
    ])
    .await;
    let (version, suite) = negotiated(&server).await;
    assert_eq!((version.as_str(), suite.as_str()), ("TLSv1_3", "TLS13_CHACHA20_POLY1305_SHA256"));
    server.admin_client().get("/healthz").await.expect(200);
}

/// Runs the real binary with `args` and returns its exit success and standard error.
fn run_binary(args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pizza-apiserver"))
        .args(["--secure-port", "0", "--bind-address", "127.0.0.1", "--data-dir"])
        .arg(dir.path())
        .args(args)
        .output()
        .expect("the binary runs");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn unsupported_versions_and_suites_stop_start_up_with_a_clear_error() {
    let (ok, stderr) = run_binary(&["--tls-min-version", "VersionTLS10"]);
    assert!(!ok);
    assert!(stderr.contains("--tls-min-version VersionTLS10 is not supported"), "{stderr}");

    let (ok, stderr) = run_binary(&["--tls-min-version", "TLS13"]);
    assert!(!ok);
    assert!(stderr.contains("unknown tls version \"TLS13\""), "{stderr}");

    let (ok, stderr) = run_binary(&[
        "--tls-cipher-suites",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_RC4_128_SHA,TLS_NOPE",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("cipher suites not supported or unknown: TLS_RSA_WITH_RC4_128_SHA, TLS_NOPE;"),
        "{stderr}"
    );
}

#[test]
fn request_timeout_takes_a_go_duration() {
    let (ok, stderr) = run_binary(&["--request-timeout", "60"]);
    assert!(!ok);
    assert!(stderr.contains("time: missing unit in duration \"60\""), "{stderr}");
}
