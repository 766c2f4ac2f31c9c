//! The handler chain, written once, in execution order (outermost first).

use std::sync::Arc;
use std::time::Duration;

use crate::body::Request;
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

/// The whole server: the filters around the router, shared by every connection.
pub type HandlerChain = Arc<Chain>;

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
/// → audit → impersonation → max-in-flight → authorization → body limit → router.
pub fn build_handler_chain(config: ChainConfig, state: Arc<RouterState>) -> HandlerChain {
    let factory = Arc::new(RequestInfoFactory::default());
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
    let chain = Chain::new(move |request: Request| route(Arc::clone(&state), request))
        .filter(assign_audit_id)
        .filter(recover_panics)
        .filter(move |request: Request, next: Next| {
            let factory = Arc::clone(&factory);
            async move { attach_request_info(&factory, request, next).await }
        })
        .filter(move |request: Request, next: Next| enforce_timeout(request_timeout, request, next))
        .filter(move |request: Request, next: Next| {
            authenticate_request(Arc::clone(&authentication), request, next)
        })
        .filter(move |request: Request, next: Next| {
            strip_credentials(Arc::clone(&front_proxy_headers), request, next)
        })
        .filter(move |request: Request, next: Next| audit_request(audit.clone(), request, next))
        .filter(move |request: Request, next: Next| {
            impersonate_request(Arc::clone(&impersonation_authorizers), request, next)
        })
        .filter(move |request: Request, next: Next| limit_in_flight(max_in_flight.clone(), request, next))
        .filter(move |request: Request, next: Next| {
            authorize_request(Arc::clone(&authorizers), request, next)
        })
        .filter(move |request: Request, next: Next| limit_body(max_body_bytes, request, next));
    Arc::new(chain)
}
