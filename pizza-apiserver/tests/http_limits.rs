//! Max-in-flight over real TLS: a full pool answers 429 with `Retry-After: 1` at once, while
//! a watch keeps streaming and `system:masters` is still served.

use std::time::{Duration, Instant};

use crate::http_common::*;
use piazza_testing::{Method, TestClient, TestServer};

async fn start_limited(args: &[&str]) -> TestServer {
    TestServer::start_with_args(args, |storage| {
        pizza_apiserver::resources(storage).expect("pizza resources build")
    })
    .await
}

/// Reads one sample of `/metrics`.
async fn metric(admin: &TestClient, sample: &str) -> u64 {
    let text = admin.get("/metrics").await.expect(200).text();
    text.lines()
        .find_map(|line| line.strip_prefix(sample).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{sample} missing from {text}"))
}

async fn wait_for_metric(admin: &TestClient, sample: &str, value: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(admin, sample).await != value {
        assert!(Instant::now() < deadline, "{sample} never reached {value}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const MUTATING_IN_FLIGHT: &str = "apiserver_current_inflight_requests{request_kind=\"mutating\"}";
const MUTATING_DROPPED: &str = "apiserver_dropped_requests_total{request_kind=\"mutating\"}";

#[tokio::test]
async fn a_full_pool_answers_429_while_a_watch_keeps_streaming() {
    let server =
        start_limited(&["--max-mutating-requests-inflight", "1", "--max-requests-inflight", "2"]).await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let list = pizzas("default");

    // A watch is long-running: it holds no slot.
    let mut watch = admin.watch(&format!("{list}?watch=true")).await.expect("watch starts");

    // A create whose body never finishes holds the only mutating slot.
    let (body, slow_create) =
        admin.streaming_request(Method::POST, &list, &[("Content-Type", "application/json")]);
    let object = serde_json::to_vec(&pizza_obj("slow", &[("salami", 1)])).unwrap();
    let (head, tail) = object.split_at(10);
    assert!(body.send(head.to_vec()).await);
    wait_for_metric(&admin, MUTATING_IN_FLIGHT, 1).await;

    // Anyone else's write is refused at once, with upstream's answer.
    let bob = server.client_for("bob", &["devs"]);
    let started = Instant::now();
    let response = bob.post(&list, &pizza_obj("refused", &[("salami", 1)])).await;
    assert!(started.elapsed() < Duration::from_secs(1), "a 429 never waits");
    let status = response.expect_status(429, "TooManyRequests");
    assert_eq!(response.header("retry-after"), "1");
    assert_eq!(status["message"], "Too many requests, please try again later.");
    assert_eq!(status["details"]["retryAfterSeconds"], 1);
    assert_eq!(metric(&admin, MUTATING_DROPPED).await, 1);

    // Reads use their own pool and still work.
    bob.get(&list).await.expect(403);
    admin.get(&list).await.expect(200);

    // system:masters is always served, and the watch sees its write.
    admin.post(&list, &pizza_obj("vip", &[("salami", 1)])).await.expect(201);
    let event = watch.next_event().await;
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["metadata"]["name"], "vip");

    // Once the slow create finishes, its slot is free again.
    assert!(body.send(tail.to_vec()).await);
    body.finish();
    slow_create.await.unwrap().unwrap().expect(201);
    let event = watch.next_event().await;
    assert_eq!(event["object"]["metadata"]["name"], "slow");
    wait_for_metric(&admin, MUTATING_IN_FLIGHT, 0).await;
    // bob now passes max-in-flight and meets authorization instead.
    bob.post(&list, &pizza_obj("denied", &[("salami", 1)])).await.expect_status(403, "Forbidden");
}

#[tokio::test]
async fn zero_disables_the_limits() {
    let server =
        start_limited(&["--max-mutating-requests-inflight", "0", "--max-requests-inflight", "0"]).await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let list = pizzas("default");
    let (body, slow_create) =
        admin.streaming_request(Method::POST, &list, &[("Content-Type", "application/json")]);
    assert!(body.send(&b"{"[..]).await);
    // With no limit, another user's write reaches authorization.
    let bob = server.client_for("bob", &[]);
    bob.post(&list, &pizza_obj("x", &[("salami", 1)])).await.expect_status(403, "Forbidden");
    body.finish();
    slow_create.await.unwrap().unwrap().expect(400);
    assert_eq!(metric(&admin, MUTATING_DROPPED).await, 0);
}
