//! The handler chain, written once, in execution order (outermost first).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::Service;

use crate::body::{Request, Response};
use crate::filters::audit::{Audit, assign_audit_id, audit_request};
use crate::filters::authentication::{Authentication, authenticate_request};
use crate::filters::authorization::{Authorizer, authorize_request};
use crate::filters::body_limit::limit_body;
use crate::filters::impersonation::impersonate_request;
use crate::filters::max_in_flight::{MaxInFlight, limit_in_flight};
use crate::filters::panic::recover_panics;
use crate::filters::request_header::{RequestHeaderNames, strip_credentials};
use crate::filters::request_info::attach_request_info;
use crate::filters::timeout::enforce_timeout;
use crate::filters::{Chain, Next};
use crate::router::{RouterState, route};
use piazza_core::request_info::RequestInfoFactory;

/// The whole server: the filters around the router, shared by every connection. Cloning it
/// is a reference-count increment. It is also a tower [`Service`], so a test (or an embedding
/// tower stack) can `oneshot` it.
#[derive(Clone)]
pub struct HandlerChain(Arc<Chain>);

impl HandlerChain {
    /// The start of the chain, for one request.
    pub fn start(&self) -> Next {
        self.0.start()
    }
}

impl Service<Request> for HandlerChain {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    /// Always ready: limits answer in `call`.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let response = self.start().run(request);
        Box::pin(async move { Ok(response.await) })
    }
}

/// Settings of the chain.
#[derive(Clone)]
pub struct ChainConfig {
    /// Authentication.
    pub authentication: Authentication,
    /// The configured front-proxy headers, removed (with `Authorization` and the standard
    /// `X-Remote-*` headers) from every authenticated request.
    pub front_proxy_headers: Arc<RequestHeaderNames>,
    /// Auditing; `None` audits nothing (requests still get an audit ID).
    pub audit: Option<Audit>,
    /// Authorizers, asked in order (for the request, and for each impersonation).
    pub authorizers: Arc<Vec<Arc<dyn Authorizer>>>,
    /// The read-only and mutating in-flight limits.
    pub max_in_flight: MaxInFlight,
    /// Request timeout for non-long-running requests.
    pub request_timeout: Duration,
    /// Maximum request body.
    pub max_body_bytes: usize,
}

/// Builds the chain around the router:
/// audit ID → panic recovery → request info → timeout → authentication → credential stripping
/// → audit (only with a policy) → impersonation → max-in-flight → authorization → body limit
/// → router. All but authentication, audit and authorization are steps: plain functions
/// that start the rest of the chain themselves (see [`Chain::step`]).
pub fn build_handler_chain(config: ChainConfig, state: Arc<RouterState>) -> HandlerChain {
    let factory = RequestInfoFactory::default();
    let ChainConfig {
        authentication,
        front_proxy_headers,
        audit,
        authorizers,
        max_in_flight,
        request_timeout,
        max_body_bytes,
    } = config;
    let impersonation_authorizers = Arc::clone(&authorizers);
    // Shared, so a request clones a pointer rather than the list of authenticators.
    let authentication = Arc::new(authentication);
    let mut chain = Chain::new(move |request: Request| route(&state, request))
        .step(assign_audit_id)
        .step(recover_panics)
        .step(move |request: Request, next: Next| attach_request_info(&factory, request, next))
        .step(move |request: Request, next: Next| enforce_timeout(request_timeout, request, next))
        .filter(move |request: Request, next: Next| {
            authenticate_request(Arc::clone(&authentication), request, next)
        })
        .step(move |request: Request, next: Next| strip_credentials(&front_proxy_headers, request, next));
    // Without an audit policy the audit filter would only pass requests on: leave it out.
    if let Some(audit) = audit {
        chain = chain
            .filter(move |request: Request, next: Next| audit_request(Some(audit.clone()), request, next));
    }
    let chain = chain
        .step(move |request: Request, next: Next| {
            impersonate_request(&impersonation_authorizers, request, next)
        })
        .step(move |request: Request, next: Next| limit_in_flight(&max_in_flight, request, next))
        .filter(move |request: Request, next: Next| {
            authorize_request(Arc::clone(&authorizers), request, next)
        })
        .step(move |request: Request, next: Next| limit_body(max_body_bytes, request, next));
    HandlerChain(Arc::new(chain))
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use piazza_core::UserInfo;
    use piazza_core::request_info::RequestInfo;
    use tower::ServiceExt;

    use super::*;
    use crate::api_set::ApiSet;
    use crate::body::request_body;
    use crate::filters::authentication::Authentication;
    use crate::filters::authorization::Decision;
    use crate::filters::request_header::RequestHeaderNames;
    use crate::handlers::health::HealthEndpoint;
    use crate::handlers::openapi::OpenApiDocs;
    use crate::shutdown::Shutdown;

    struct AllowAll;

    #[async_trait]
    impl Authorizer for AllowAll {
        async fn authorize(&self, _user: &UserInfo, _info: &RequestInfo) -> Decision {
            Decision::Allow
        }
    }

    fn chain(anonymous: bool) -> HandlerChain {
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
                anonymous,
                unauthenticated_paths: Arc::new(Vec::new()),
            },
            front_proxy_headers: Arc::new(RequestHeaderNames::default()),
            audit: None,
            authorizers: Arc::new(vec![Arc::new(AllowAll) as Arc<dyn Authorizer>]),
            max_in_flight: MaxInFlight::new(400, 200),
            request_timeout: Duration::from_secs(60),
            max_body_bytes: 1024,
        };
        build_handler_chain(config, state)
    }

    fn get(path: &str) -> Request {
        http::Request::builder().uri(path).body(request_body(bytes::Bytes::new())).unwrap()
    }

    #[tokio::test]
    async fn the_assembled_chain_serves_through_oneshot() {
        let response = chain(true).oneshot(get("/healthz")).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("audit-id"), "the outermost filter ran");
    }

    #[tokio::test]
    async fn filters_before_the_router_answer_first() {
        // Authentication refuses before the router is reached; the audit ID is still set.
        let response = chain(false).oneshot(get("/healthz")).await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key("audit-id"));
        // The timeout filter (before authentication) rejects a malformed `?timeout=` first.
        let response = chain(false).oneshot(get("/healthz?timeout=soon")).await.unwrap();
        assert_eq!(response.status(), 400);
    }
}
