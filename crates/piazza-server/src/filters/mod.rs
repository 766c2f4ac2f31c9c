//! The filter chain: one module per filter, each a plain decision function wired in by a
//! [`FilterLayer`]. [`crate::chain`] stacks them once, in execution order.

pub mod audit;
pub mod authentication;
pub mod authorization;
pub mod body_limit;
pub mod delegated;
pub mod impersonation;
pub mod max_in_flight;
pub mod panic;
pub mod request_header;
pub mod request_info;
pub mod timeout;
pub mod token_file;

#[cfg(test)]
pub(crate) mod test_certs;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower::util::BoxCloneSyncService;
use tower::{Layer, Service};

use crate::body::{Request, Response};

/// The request's [`RequestInfo`](piazza_core::request_info::RequestInfo), or, were it
/// missing, one that judges the request by its method and path alone (a non-resource
/// request) — never a request let through unclassified.
pub fn request_info_or_fallback(
    request: &Request,
) -> std::borrow::Cow<'_, piazza_core::request_info::RequestInfo> {
    use piazza_core::request_info::RequestInfo;
    match request.extensions().get::<RequestInfo>() {
        Some(info) => std::borrow::Cow::Borrowed(info),
        None => std::borrow::Cow::Owned(RequestInfo {
            verb: request.method().as_str().to_ascii_lowercase(),
            path: request.uri().path().to_owned(),
            ..RequestInfo::default()
        }),
    }
}

/// The inner service every filter wraps.
pub type Inner = BoxCloneSyncService<Request, Response, Infallible>;

/// The rest of the chain, handed to a filter function.
pub struct Next(Inner);

impl Next {
    /// Runs the rest of the chain.
    pub async fn run(mut self, request: Request) -> Response {
        // Calls the boxed service directly (its future is already a boxed `Send` future),
        // which keeps the chain's future types simple.
        let ready = std::future::poll_fn(|cx| self.0.poll_ready(cx)).await;
        if let Err(never) = ready {
            match never {}
        }
        match self.0.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// Wraps a service as the rest of a chain.
    pub fn new(inner: Inner) -> Self {
        Self(inner)
    }
}

/// A layer made from an async function `(Request, Next) -> Response`.
#[derive(Clone)]
pub struct FilterLayer<F> {
    filter: F,
}

impl<F> FilterLayer<F> {
    /// Wraps a filter function.
    pub fn new<Fut>(filter: F) -> Self
    where
        F: Fn(Request, Next) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        Self { filter }
    }
}

impl<S, F> Layer<S> for FilterLayer<F>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    F: Clone,
{
    type Service = Filter<F>;

    fn layer(&self, inner: S) -> Self::Service {
        Filter { filter: self.filter.clone(), inner: BoxCloneSyncService::new(inner) }
    }
}

/// The service a [`FilterLayer`] produces.
#[derive(Clone)]
pub struct Filter<F> {
    filter: F,
    inner: Inner,
}

impl<F, Fut> Service<Request> for Filter<F>
where
    F: Fn(Request, Next) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    /// Always ready: filters never wait in `poll_ready` (limits answer in `call`).
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let fut = (self.filter)(request, Next(self.inner.clone()));
        Box::pin(async move { Ok(fut.await) })
    }
}
