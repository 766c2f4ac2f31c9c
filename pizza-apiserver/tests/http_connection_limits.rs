//! Per-connection limits over real TLS: HTTP/2 concurrent streams
//! (`--http2-max-streams-per-connection`), rapid-reset protection, and upgrade requests that
//! are refused closing their connection.

use std::time::Duration;

use crate::http_common::*;
use bytes::Bytes;
use piazza_testing::{TestClient, TestServer};

async fn start_with(args: &[&str]) -> TestServer {
    TestServer::start_with_args(args, |storage| {
        pizza_apiserver::resources(storage).expect("pizza resources build")
    })
    .await
}

/// An `h2` client connection to the server, driven in the background; the handle ends with
/// the connection's result.
async fn h2_connect(
    client: &TestClient,
) -> (h2::client::SendRequest<Bytes>, tokio::task::JoinHandle<Result<(), h2::Error>>) {
    let tls = client.http2().connect_tls().await.expect("TLS handshake");
    let (send, connection) = h2::client::handshake(tls).await.expect("HTTP/2 handshake");
    (send, tokio::spawn(connection))
}

fn get(client: &TestClient, path: &str) -> http::Request<()> {
    http::Request::get(format!("https://{}{path}", client.addr())).body(()).unwrap()
}

#[tokio::test]
async fn streams_over_the_limit_wait_for_a_free_one() {
    let server = start_with(&["--http2-max-streams-per-connection", "3"]).await;
    let admin = server.admin_client();
    let (send, _connection) = h2_connect(&admin).await;
    let watch = format!("{}?watch=true", pizzas("default"));

    // Three watches hold the three streams the server allows.
    let mut watches = Vec::new();
    for _ in 0..3 {
        let mut send = send.clone().ready().await.unwrap();
        let (response, _) = send.send_request(get(&admin, &watch), true).unwrap();
        let response = tokio::time::timeout(Duration::from_secs(5), response).await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        watches.push(response);
    }
    // The server's SETTINGS told the client so: a fourth request is not even sent.
    let fourth = tokio::spawn({
        let send = send.clone();
        let path = get(&admin, "/healthz");
        async move {
            let mut send = send.ready().await.unwrap();
            let (response, _) = send.send_request(path, true).unwrap();
            response.await.map(|r| r.status())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!fourth.is_finished(), "a fourth stream must wait");
    // Ending one watch frees a stream.
    drop(watches.pop());
    let status = tokio::time::timeout(Duration::from_secs(5), fourth).await.unwrap().unwrap().unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_rapid_reset_burst_ends_that_connection_only() {
    let server = start_with(&[]).await;
    let admin = server.admin_client();
    let (send, connection) = h2_connect(&admin).await;
    let path = pizzas("default");

    // Open and immediately cancel streams (HEADERS then RST_STREAM), as fast as possible.
    let burst = async {
        for _ in 0..2_000 {
            let Ok(mut ready) = send.clone().ready().await else { return };
            let Ok((response, mut body)) = ready.send_request(get(&admin, &path), false) else { return };
            body.send_reset(h2::Reason::CANCEL);
            drop(response);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), burst).await.expect("the burst ends");
    let ended = tokio::time::timeout(Duration::from_secs(10), connection)
        .await
        .expect("the server ends the connection")
        .unwrap();
    let error = ended.expect_err("the server ends the connection");
    // GOAWAY(ENHANCE_YOUR_CALM), or, when the client was still writing as the server
    // closed, the broken connection.
    assert!(
        error.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM) || error.is_io(),
        "unexpected end: {error}"
    );

    // Other connections are served.
    admin.http2().get("/healthz").await.expect(200);
    admin.get(&path).await.expect(200);
}

#[tokio::test]
async fn an_unauthorized_upgrade_is_403_and_closes_the_connection() {
    let server = start().await;
    let bob = server.client_for("bob", &["devs"]);
    let host = bob.addr();
    let path = pizzas("default");
    let upgrade = format!(
        "GET {path}?watch=true HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let (response, closed) = raw_http1(&bob, &upgrade).await;
    assert!(response.starts_with("HTTP/1.1 403 "), "{response}");
    assert!(response.contains("\"reason\":\"Forbidden\""), "{response}");
    assert!(response.to_ascii_lowercase().contains("connection: close"), "{response}");
    assert!(closed, "the server closes the connection after a failed upgrade");

    // An ordinary request on HTTP/1.1 keeps its connection open.
    let plain = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let (response, closed) = raw_http1(&bob, &plain).await;
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert!(!closed, "keep-alive connections stay open");

    // Even an authorized upgrade the server does not switch ends its connection.
    let admin = server.admin_client();
    let upgrade_get =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    let (response, closed) = raw_http1(&admin, &upgrade_get).await;
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert!(closed, "{response}");
}
