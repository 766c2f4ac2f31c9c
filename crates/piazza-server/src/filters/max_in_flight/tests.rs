use std::convert::Infallible;
use std::time::Duration;

use http::header::RETRY_AFTER;
use piazza_core::request_info::RequestInfoFactory;
use tokio::sync::{mpsc, watch};
use tower::util::BoxCloneSyncService;

use super::*;
use crate::body::Response;

fn info(method: &str, target: &str) -> RequestInfo {
    RequestInfoFactory::default().parse_path_and_query(method, target).unwrap()
}

fn user(groups: &[&str]) -> UserInfo {
    UserInfo {
        name: "u".into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        ..Default::default()
    }
}

/// A fake inner service: each call reports that it entered, then blocks until released.
struct Blocking {
    entered: mpsc::UnboundedReceiver<()>,
    release: watch::Sender<bool>,
    service: crate::filters::Inner,
}

impl Blocking {
    fn new() -> Self {
        let (entered_tx, entered) = mpsc::unbounded_channel();
        let (release, released) = watch::channel(false);
        let service = tower::service_fn(move |_request: Request| {
            let entered_tx = entered_tx.clone();
            let mut released = released.clone();
            async move {
                let _ = entered_tx.send(());
                let _ = released.wait_for(|r| *r).await;
                Ok::<_, Infallible>(Response::new(crate::body::full("done")))
            }
        });
        Self { entered, release, service: BoxCloneSyncService::new(service) }
    }

    fn next(&self) -> Next {
        Next::new(self.service.clone())
    }

    /// Waits until `n` more calls have reached the inner service.
    async fn wait_entered(&mut self, n: usize) {
        for _ in 0..n {
            tokio::time::timeout(Duration::from_secs(5), self.entered.recv()).await.unwrap().unwrap();
        }
    }

    fn release_all(&self) {
        self.release.send_replace(true);
    }
}

fn request(method: &str, target: &str, user: Option<UserInfo>) -> Request {
    let mut request =
        http::Request::builder().method(method).uri(target).body(crate::body::request_body("")).unwrap();
    request.extensions_mut().insert(info(method, target));
    if let Some(user) = user {
        request.extensions_mut().insert(user);
    }
    request
}

const PIZZAS: &str = "/apis/g.io/v1/namespaces/ns/pizzas";

async fn body_json(response: Response) -> serde_json::Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn verbs_pick_their_pool_as_upstream() {
    let cases = [
        ("GET", PIZZAS, Some(RequestKind::ReadOnly)),
        ("GET", "/apis/g.io/v1/namespaces/ns/pizzas/a", Some(RequestKind::ReadOnly)),
        ("GET", "/healthz", Some(RequestKind::ReadOnly)),
        ("GET", "/apis", Some(RequestKind::ReadOnly)),
        // Upstream only counts get/list/watch as read-only: a non-resource HEAD is "head".
        ("HEAD", "/apis", Some(RequestKind::Mutating)),
        ("POST", PIZZAS, Some(RequestKind::Mutating)),
        ("PUT", "/apis/g.io/v1/namespaces/ns/pizzas/a", Some(RequestKind::Mutating)),
        ("PATCH", "/apis/g.io/v1/namespaces/ns/pizzas/a", Some(RequestKind::Mutating)),
        ("DELETE", PIZZAS, Some(RequestKind::Mutating)),
        ("GET", "/apis/g.io/v1/namespaces/ns/pizzas?watch=true", None),
        ("GET", "/apis/g.io/v1/watch/namespaces/ns/pizzas", None),
        ("GET", "/api/v1/namespaces/ns/pods/p/log", None),
        ("POST", "/api/v1/namespaces/ns/pods/p/exec", None),
        ("POST", "/api/v1/namespaces/ns/pods/p/attach", None),
        ("POST", "/api/v1/namespaces/ns/pods/p/portforward", None),
        ("GET", "/api/v1/namespaces/ns/pods/p/proxy/x", None),
        ("GET", "/api/v1/proxy/namespaces/ns/pods/p", None),
        ("GET", "/apis/g.io/v1/namespaces/ns/pizzas/a/status", Some(RequestKind::ReadOnly)),
    ];
    for (method, target, expected) in cases {
        assert_eq!(classify(&info(method, target)), expected, "{method} {target}");
    }
}

#[tokio::test]
async fn the_request_over_the_limit_gets_429_at_once() {
    let limits = MaxInFlight::new(2, 1);
    let mut inner = Blocking::new();
    let mut running = Vec::new();
    for _ in 0..2 {
        running.push(tokio::spawn(limit_in_flight(&limits, request("GET", PIZZAS, None), inner.next())));
    }
    inner.wait_entered(2).await;
    assert_eq!(limits.in_flight(RequestKind::ReadOnly), 2);

    // The third read is refused without waiting.
    let response = tokio::time::timeout(
        Duration::from_secs(1),
        limit_in_flight(&limits, request("GET", PIZZAS, Some(user(&["devs"]))), inner.next()),
    )
    .await
    .expect("a full pool answers at once");
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()[RETRY_AFTER], "1");
    assert_eq!(response.headers()["content-type"], "application/json");
    let status = body_json(response).await;
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "TooManyRequests");
    assert_eq!(status["code"], 429);
    assert_eq!(status["message"], "Too many requests, please try again later.");
    assert_eq!(status["details"]["retryAfterSeconds"], 1);
    assert_eq!(limits.dropped(RequestKind::ReadOnly), 1);
    assert_eq!(limits.dropped(RequestKind::Mutating), 0);

    // The mutating pool is separate: one write still fits, the second does not.
    let write = tokio::spawn(limit_in_flight(&limits, request("POST", PIZZAS, None), inner.next()));
    inner.wait_entered(1).await;
    let refused = limit_in_flight(&limits, request("DELETE", PIZZAS, None), inner.next()).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(limits.dropped(RequestKind::Mutating), 1);

    // A watch is long-running and exempt, even with both pools full.
    let watch = tokio::spawn(limit_in_flight(
        &limits,
        request("GET", &format!("{PIZZAS}?watch=true"), None),
        inner.next(),
    ));
    inner.wait_entered(1).await;

    inner.release_all();
    for handle in running.into_iter().chain([write, watch]) {
        let response = handle.await.unwrap();
        assert_eq!(response.status(), 200);
        let _ = response.into_body().collect().await;
    }
    assert_eq!(limits.in_flight(RequestKind::ReadOnly), 0);
    assert_eq!(limits.in_flight(RequestKind::Mutating), 0);

    // Slots come back: a new read is served.
    let response = limit_in_flight(&limits, request("GET", PIZZAS, None), inner.next()).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn masters_are_served_when_the_pool_is_full() {
    let limits = MaxInFlight::new(1, 1);
    let mut inner = Blocking::new();
    let first = tokio::spawn(limit_in_flight(&limits, request("GET", PIZZAS, None), inner.next()));
    inner.wait_entered(1).await;
    let admin = tokio::spawn(limit_in_flight(
        &limits,
        request("GET", PIZZAS, Some(user(&[MASTERS_GROUP, "system:authenticated"]))),
        inner.next(),
    ));
    inner.wait_entered(1).await;
    // The admin did not take a slot, and nobody was dropped.
    assert_eq!(limits.in_flight(RequestKind::ReadOnly), 1);
    assert_eq!(limits.dropped(RequestKind::ReadOnly), 0);
    inner.release_all();
    assert_eq!(first.await.unwrap().status(), 200);
    assert_eq!(admin.await.unwrap().status(), 200);
}

#[tokio::test]
async fn zero_disables_a_pool() {
    let limits = MaxInFlight::new(0, 1);
    let mut inner = Blocking::new();
    let reads: Vec<_> = (0..5)
        .map(|_| tokio::spawn(limit_in_flight(&limits, request("GET", PIZZAS, None), inner.next())))
        .collect();
    inner.wait_entered(5).await;
    assert_eq!(limits.in_flight(RequestKind::ReadOnly), 0);
    inner.release_all();
    for read in reads {
        assert_eq!(read.await.unwrap().status(), 200);
    }
    let unlimited = MaxInFlight::unlimited();
    assert!(matches!(unlimited.admit(&info("POST", PIZZAS), None), Admission::Exempt));
}

#[tokio::test]
async fn the_slot_is_held_until_the_body_is_sent() {
    let limits = MaxInFlight::new(1, 1);
    let inner = Blocking::new();
    inner.release_all();
    let response = limit_in_flight(&limits, request("GET", PIZZAS, None), inner.next()).await;
    assert_eq!(limits.in_flight(RequestKind::ReadOnly), 1, "body not sent yet");
    let refused = limit_in_flight(&limits, request("GET", PIZZAS, None), inner.next()).await;
    assert_eq!(refused.status(), 429);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "done");
    assert_eq!(limits.in_flight(RequestKind::ReadOnly), 0);
    // Dropping an unsent body frees the slot too.
    let response = limit_in_flight(&limits, request("GET", PIZZAS, None), inner.next()).await;
    drop(response);
    assert_eq!(limits.in_flight(RequestKind::ReadOnly), 0);
}

#[tokio::test]
async fn missing_request_info_is_judged_by_method() {
    let limits = MaxInFlight::new(1, 1);
    let inner = Blocking::new();
    let held = limits.admit(&info("POST", "/x"), None);
    assert!(matches!(held, Admission::Admitted(_)));
    let bare = http::Request::builder().method("POST").uri("/x").body(crate::body::request_body("")).unwrap();
    assert_eq!(limit_in_flight(&limits, bare, inner.next()).await.status(), 429);
}

#[test]
fn metrics_name_both_kinds() {
    let limits = MaxInFlight::new(3, 0);
    let _slot = limits.admit(&info("GET", PIZZAS), None);
    let mut out = String::new();
    limits.render(&mut out);
    assert!(out.contains("apiserver_current_inflight_requests{request_kind=\"readOnly\"} 1\n"), "{out}");
    assert!(out.contains("apiserver_current_inflight_requests{request_kind=\"mutating\"} 0\n"), "{out}");
    assert!(out.contains("apiserver_dropped_requests_total{request_kind=\"readOnly\"} 0\n"), "{out}");
}
