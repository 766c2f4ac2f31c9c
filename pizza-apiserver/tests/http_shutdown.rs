//! Graceful shutdown over real sockets: open watches end cleanly, an in-flight request
//! completes, and the listener stops accepting connections.

use std::time::{Duration, Instant};

use piazza_testing::{ClientError, Method};

use crate::http_common::*;

#[tokio::test]
async fn shutdown_ends_watches_drains_requests_and_refuses_new_connections() {
    let mut server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;

    let mut watch_h1 = admin.watch(&format!("{}?watch=true", pizzas("default"))).await.expect("watch starts");
    let mut watch_h2 =
        admin.http2().watch(&format!("{}?watch=true", toppings())).await.expect("watch starts");
    // Drain the initial ADDED events of the toppings watch.
    for _ in 0..3 {
        assert_eq!(watch_h2.next_event().await["type"], "ADDED");
    }

    // An in-flight request: its body is half sent when shutdown begins.
    let body = serde_json::to_vec(&topping_obj("basil", 0.1)).unwrap();
    let (half, rest) = body.split_at(body.len() / 2);
    let (writer, in_flight) =
        admin.streaming_request(Method::POST, &toppings(), &[("content-type", "application/json")]);
    assert!(writer.send(half.to_vec()).await);
    // Let the request reach the handler, which is now waiting for the rest of the body.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!in_flight.is_finished());

    server.trigger_shutdown();

    // Open watches end, cleanly (a terminating chunk / END_STREAM, not a reset).
    watch_h1.expect_end(Duration::from_secs(5)).await.expect("the HTTP/1.1 watch ends cleanly");
    watch_h2.expect_end(Duration::from_secs(5)).await.expect("the HTTP/2 watch ends cleanly");

    // New connections are refused.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match server.anonymous_client().try_request(Method::GET, "/healthz", &[], Vec::new()).await {
            Err(ClientError::Connect { source, .. }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused, "{source}");
                break;
            }
            other => {
                assert!(Instant::now() < deadline, "still accepting connections after shutdown: {other:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    // The in-flight request still completes.
    assert!(writer.send(rest.to_vec()).await);
    writer.finish();
    let response = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("the in-flight request finishes")
        .expect("the request task")
        .expect("the in-flight request is answered");
    let created = response.expect_json(201);
    assert_eq!(created["metadata"]["name"], "basil");

    // And the drain finishes.
    let started = Instant::now();
    server.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn shutdown_of_an_idle_server_is_quick() {
    let server = start().await;
    let addr = server.addr();
    server.admin_client().get("/readyz").await.expect(200);
    let started = Instant::now();
    server.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let refused = tokio::net::TcpStream::connect(addr).await.expect_err("the port is closed");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}
