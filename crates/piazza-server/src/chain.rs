//! The handler chain, written once, in execution order (outermost first).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use piazza_core::request_info::RequestInfoFactory;
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

use crate::body::{Request, Response};
use crate::filters::authentication::{Authentication, authenticate_request};
use crate::filters::authorization::{Authorizer, authorize_request};
use crate::filters::body_limit::limit_body;
use crate::filters::panic::recover_panics;
use crate::filters::request_info::attach_request_info;
use crate::filters::timeout::enforce_timeout;
use crate::filters::{FilterLayer, Next};
use crate::router::{RouterState, route};

/// The whole server as one service.
pub type HandlerService = BoxCloneSyncService<Request, Response, Infallible>;

/// Settings of the chain.
#[derive(Clone)]
pub struct ChainConfig {
    /// Authentication.
    pub authentication: Authentication,
    /// Authorizers, asked in order.
    pub authorizers: Arc<Vec<Arc<dyn Authorizer>>>,
    /// Request timeout for non-long-running requests.
    pub request_timeout: Duration,
    /// Maximum request body.
    pub max_body_bytes: usize,
}

/// Builds the chain around the router:
/// panic recovery → request info → timeout → authentication → (audit) → (impersonation)
/// → (max-in-flight) → authorization → body limit → router.
pub fn build_handler_chain(config: ChainConfig, state: Arc<RouterState>) -> HandlerService {
    let factory = Arc::new(RequestInfoFactory::default());
    let ChainConfig { authentication, authorizers, request_timeout, max_body_bytes } = config;
    let router = tower::service_fn(move |request: Request| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(route(state, request).await) }
    });
    let service = ServiceBuilder::new()
        .layer(FilterLayer::new(recover_panics))
        .layer(FilterLayer::new(move |request: Request, next: Next| {
            let factory = Arc::clone(&factory);
            async move { attach_request_info(&factory, request, next).await }
        }))
        .layer(FilterLayer::new(move |request: Request, next: Next| {
            enforce_timeout(request_timeout, request, next)
        }))
        .layer(FilterLayer::new(move |request: Request, next: Next| {
            authenticate_request(authentication.clone(), request, next)
        }))
        .layer(FilterLayer::new(move |request: Request, next: Next| {
            authorize_request(Arc::clone(&authorizers), request, next)
        }))
        .layer(FilterLayer::new(move |request: Request, next: Next| {
            limit_body(max_body_bytes, request, next)
        }))
        .service(router);
    BoxCloneSyncService::new(service)
}
