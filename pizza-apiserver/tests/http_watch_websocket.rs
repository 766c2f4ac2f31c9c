//! Watch over WebSocket (upstream's `WatchServer.HandleWS`): a watch with `Upgrade:
//! websocket` is switched and each event is one text message holding the same JSON as a
//! line of the chunked stream.

use std::time::Duration;

use futures::StreamExt;
use piazza_testing::TestClient;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::http_common::*;

/// The client's end of a WebSocket.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Io for T {}

const WAIT: Duration = Duration::from_secs(10);

/// Opens a WebSocket watch on `path` (HTTP/1.1 over TLS) with extra request headers.
async fn websocket(
    client: &TestClient,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<WebSocketStream<impl Io + use<>>, Error> {
    let mut request = format!("wss://{}{path}", client.addr()).into_client_request()?;
    request.headers_mut().insert("origin", "https://example.com".parse().unwrap());
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    let tls = client.http1().connect_tls().await.expect("TLS handshake");
    let (socket, response) = client_async(request, tls).await?;
    assert_eq!(response.status(), 101);
    Ok(socket)
}

/// The next message, which must be a text message holding one JSON event.
async fn next_event(socket: &mut WebSocketStream<impl Io>) -> Value {
    let message = tokio::time::timeout(WAIT, socket.next()).await.expect("a message in time");
    match message.expect("the socket is open").expect("a message") {
        Message::Text(text) => {
            assert!(!text.ends_with('\n'), "messages carry no newline: {text:?}");
            serde_json::from_str(&text).expect("JSON")
        }
        other => panic!("expected a text message, got {other:?}"),
    }
}

#[tokio::test]
async fn events_arrive_as_messages_with_the_chunked_watchs_json() {
    let (_server, admin) = start_with_toppings().await;
    let list = admin.get(&pizzas("default")).await.expect_json(200);
    let path = format!("{}?watch=true&resourceVersion={}", pizzas("default"), rv(&list));
    let mut chunked = admin.watch(&path).await.expect("chunked watch starts");
    let mut socket = websocket(&admin, &path, &[]).await.expect("websocket watch starts");

    let created = create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    let mut changed = created.clone();
    changed["spec"]["toppings"] = json!([{ "name": "tomato", "quantity": 2 }]);
    let updated = admin.put(&pizza("default", "margherita"), &changed).await.expect_json(200);
    admin.delete(&pizza("default", "margherita")).await.expect(200);

    for (kind, object) in [("ADDED", &created), ("MODIFIED", &updated)] {
        let event = next_event(&mut socket).await;
        assert_eq!(event["type"], kind);
        assert_eq!(&event["object"], object);
        assert_eq!(event, chunked.next_event().await, "the same event as the chunked watch");
    }
    let deleted = next_event(&mut socket).await;
    assert_eq!(deleted["type"], "DELETED");
    assert_eq!(deleted["object"]["metadata"]["name"], "margherita");
    assert_eq!(deleted, chunked.next_event().await);

    // The client closes; the server answers the Close and ends the connection.
    socket.close(None).await.expect("close sent");
    let rest = tokio::time::timeout(WAIT, socket.collect::<Vec<_>>()).await.expect("the server ends");
    assert!(rest.iter().all(|m| matches!(m, Ok(Message::Close(_)))), "{rest:?}");
}

#[tokio::test]
async fn the_watch_timeout_ends_with_a_close_frame() {
    let (_server, admin) = start_with_toppings().await;
    let path = format!("{}?watch=true&timeoutSeconds=1", pizzas("default"));
    let mut socket = websocket(&admin, &path, &[]).await.expect("websocket watch starts");
    // The initial state (the toppings are cluster-scoped; no pizzas exist yet) is empty.
    let message = tokio::time::timeout(WAIT, socket.next()).await.expect("the watch times out");
    assert!(matches!(message, Some(Ok(Message::Close(_)))), "{message:?}");
    let end = tokio::time::timeout(WAIT, socket.next()).await.expect("the connection ends");
    assert!(end.is_none(), "{end:?}");
}

#[tokio::test]
async fn one_subprotocol_is_echoed() {
    let (_server, admin) = start_with_toppings().await;
    let path = format!("{}?watch=true", pizzas("default"));
    let mut request = format!("wss://{}{path}", admin.addr()).into_client_request().unwrap();
    request.headers_mut().insert("origin", "https://example.com".parse().unwrap());
    request.headers_mut().insert("sec-websocket-protocol", "base64.binary.k8s.io".parse().unwrap());
    let tls = admin.http1().connect_tls().await.expect("TLS handshake");
    let (mut socket, response) = client_async(request, tls).await.expect("switched");
    assert_eq!(response.headers()["sec-websocket-protocol"], "base64.binary.k8s.io");
    create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    assert_eq!(next_event(&mut socket).await["type"], "ADDED", "JSON stays text framed");
}

#[tokio::test]
async fn an_unauthorized_websocket_watch_is_403() {
    let (server, _admin) = start_with_toppings().await;
    let bob = server.client_for("bob", &["devs"]);
    let error =
        websocket(&bob, &format!("{}?watch=true", pizzas("default")), &[]).await.err().expect("refused");
    let Error::Http(response) = error else { panic!("expected an HTTP answer, got {error}") };
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()["connection"], "close");
    let status: Value = serde_json::from_slice(response.body().as_deref().expect("a body")).unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "Forbidden");
}

#[tokio::test]
async fn bad_handshakes_are_refused_as_upstream() {
    let (_server, admin) = start_with_toppings().await;
    let host = admin.addr();
    let path = format!("{}?watch=true", pizzas("default"));
    let request = |extra: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
        )
    };
    // No Origin: golang.org/x/net/websocket's Handler refuses a "null origin".
    let (response, closed) = raw_http1(&admin, &request("Sec-WebSocket-Version: 13\r\n")).await;
    assert!(response.starts_with("HTTP/1.1 403 "), "{response}");
    assert!(closed, "{response}");

    let (response, closed) =
        raw_http1(&admin, &request("Sec-WebSocket-Version: 8\r\nOrigin: https://example.com\r\n")).await;
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    assert!(response.to_ascii_lowercase().contains("sec-websocket-version: 13"), "{response}");
    assert!(response.ends_with("bad protocol version"), "{response}");
    assert!(closed, "{response}");

    let (response, closed) = raw_http1(
        &admin,
        &request(
            "Sec-WebSocket-Version: 13\r\nOrigin: https://example.com\r\nSec-WebSocket-Protocol: a, b\r\n",
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    assert!(closed, "{response}");

    // A watch that fails before the handshake answers as usual.
    let bad = format!(
        "GET {path}&resourceVersion=x HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nOrigin: https://example.com\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let (response, closed) = raw_http1(&admin, &bad).await;
    assert!(response.contains("\"kind\":\"Status\""), "{response}");
    assert!(!response.starts_with("HTTP/1.1 101 "), "{response}");
    assert!(closed, "{response}");
}

#[tokio::test]
async fn shutdown_closes_websocket_watches() {
    let (mut server, admin) = start_with_toppings().await;
    let mut socket = websocket(&admin, &format!("{}?watch=true", pizzas("default")), &[])
        .await
        .expect("websocket watch starts");
    create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    assert_eq!(next_event(&mut socket).await["type"], "ADDED");
    server.trigger_shutdown();
    let message = tokio::time::timeout(WAIT, socket.next()).await.expect("the server closes the watch");
    assert!(matches!(message, Some(Ok(Message::Close(_)))), "{message:?}");
}

#[tokio::test]
async fn a_terminal_error_event_is_the_last_message() {
    let (server, admin) = start_with_toppings().await;
    let a = create_pizza(&admin, "default", "a", &[("tomato", 1)]).await;
    let c = create_pizza(&admin, "default", "c", &[("tomato", 1)]).await;
    server.storage().compact(rv(&c)).await.expect("compaction");

    let path = format!("{}?watch=true&resourceVersion={}", pizzas("default"), rv(&a));
    let mut socket = websocket(&admin, &path, &[]).await.expect("the watch starts, then reports the error");
    let event = next_event(&mut socket).await;
    assert_eq!(event["type"], "ERROR", "{event}");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
    let message = tokio::time::timeout(WAIT, socket.next()).await.expect("the watch ends");
    assert!(matches!(message, Some(Ok(Message::Close(_)))), "{message:?}");
}
