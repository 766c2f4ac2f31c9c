//! Per-request overhead of the filter chain: [`build_handler_chain`] around a router with no
//! resources and one `/healthz` with no checks, against the bare router on the same requests.
//! The difference is what the chain (audit ID, panic recovery, request info, timeout,
//! anonymous authentication, audit off, impersonation, max-in-flight, authorization, body
//! limit) costs per request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use criterion::{BenchmarkId, Criterion};
use piazza_core::UserInfo;
use piazza_core::request_info::RequestInfo;
use piazza_server::api_set::ApiSet;
use piazza_server::body::{Request, request_body};
use piazza_server::chain::{ChainConfig, build_handler_chain};
use piazza_server::filters::authentication::Authentication;
use piazza_server::filters::authorization::{Authorizer, Decision};
use piazza_server::filters::max_in_flight::MaxInFlight;
use piazza_server::filters::request_header::RequestHeaderNames;
use piazza_server::handlers::health::HealthEndpoint;
use piazza_server::handlers::openapi::OpenApiDocs;
use piazza_server::router::{RouterState, route};
use piazza_server::shutdown::Shutdown;

/// Allows everything, so that requests reach the router.
struct AllowAll;

#[async_trait]
impl Authorizer for AllowAll {
    async fn authorize(&self, _user: &UserInfo, _info: &RequestInfo) -> Decision {
        Decision::Allow
    }
}

/// `(name, path)`: a non-resource request the router answers 200, and a resource request it
/// answers 404 (no resources are served).
const CASES: &[(&str, &str)] = &[
    ("healthz", "/healthz"),
    (
        "resource_get_404",
        "/apis/restaurant.programming-kubernetes.info/v1beta1/namespaces/default/pizzas/margherita",
    ),
];

fn request(path: &str) -> Request {
    http::Request::builder().method("GET").uri(path).body(request_body(bytes::Bytes::new())).unwrap()
}

fn filter_chain(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (shutdown, _trigger) = Shutdown::new();
    let state = Arc::new(RouterState {
        apis: ApiSet::new(Vec::new()),
        openapi: OpenApiDocs::default(),
        health: vec![HealthEndpoint { name: "healthz", checks: Vec::new() }],
        shutdown,
        metrics: Vec::new(),
    });
    let config = ChainConfig {
        authentication: Authentication {
            authenticators: Vec::new(),
            anonymous: true,
            unauthenticated_paths: Arc::new(Vec::new()),
        },
        front_proxy_headers: Arc::new(RequestHeaderNames::default()),
        audit: None,
        authorizers: Arc::new(vec![Arc::new(AllowAll) as Arc<dyn Authorizer>]),
        max_in_flight: MaxInFlight::new(400, 200),
        request_timeout: Duration::from_secs(60),
        max_body_bytes: 3 * 1024 * 1024,
    };
    let chain = build_handler_chain(config, Arc::clone(&state));

    let mut group = c.benchmark_group("filter_chain");
    for &(name, path) in CASES {
        let direct = runtime.block_on(route(&state, request(path)));
        let chained = runtime.block_on(chain.start().run(request(path)));
        assert_eq!(direct.status(), chained.status(), "{path}");
        group.bench_function(BenchmarkId::new("router_only", name), |b| {
            b.iter(|| runtime.block_on(route(&state, request(path))))
        });
        group.bench_function(BenchmarkId::new("chain_and_router", name), |b| {
            b.iter(|| runtime.block_on(chain.start().run(request(path))))
        });
    }
    group.finish();
}

// `criterion_group!` would generate an undocumented `pub fn`, which `missing_docs` rejects.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    filter_chain(&mut criterion);
    criterion.final_summary();
}
