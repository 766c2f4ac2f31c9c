//! The filter chain: one module per filter, each a plain decision function
//! `(Request, Next) -> Response` added to a [`Chain`]. [`crate::chain`] lists them once, in
//! execution order.

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
use std::sync::Arc;

use tower::Service;
use tower::util::BoxCloneSyncService;

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

/// A service a chain can end in (tests wrap a single filter around one with [`Next::new`]).
pub type Inner = BoxCloneSyncService<Request, Response, Infallible>;

/// The boxed future a filter returns.
pub type FilterFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// One link of a [`Chain`]: a filter function behind a vtable.
trait Link: Send + Sync {
    fn call(&self, request: Request, next: Next) -> FilterFuture;
}

impl<F, Fut> Link for F
where
    F: Fn(Request, Next) -> Fut + Send + Sync,
    Fut: Future<Output = Response> + Send + 'static,
{
    fn call(&self, request: Request, next: Next) -> FilterFuture {
        Box::pin(self(request, next))
    }
}

/// A filter written as a plain function that returns the future of the answer itself: the
/// rest's ([`Next::run`]), a small future of its own around it, or an answer of its own.
struct Step<F>(F);

impl<F> Link for Step<F>
where
    F: Fn(Request, Next) -> FilterFuture + Send + Sync,
{
    fn call(&self, request: Request, next: Next) -> FilterFuture {
        (self.0)(request, next)
    }
}

/// A filter's own answer, in place of the rest of the chain.
pub fn respond(response: Response) -> FilterFuture {
    Box::pin(std::future::ready(response))
}

/// What a [`Chain`] ends in: a function from the request to the boxed future of its
/// response, so an endpoint that answers with a future it already has (a handler's) adds no
/// box of its own.
trait Endpoint: Send + Sync {
    fn call(&self, request: Request) -> FilterFuture;
}

impl<F> Endpoint for F
where
    F: Fn(Request) -> FilterFuture + Send + Sync,
{
    fn call(&self, request: Request) -> FilterFuture {
        self(request)
    }
}

/// Filters in execution order (outermost first) around an endpoint, built once and shared by
/// every request. A request walks it through [`Next`], a position in the chain: each step
/// costs one boxed future and a reference-count increment, with no per-request clones of
/// services or filter state.
pub struct Chain {
    links: Vec<Box<dyn Link>>,
    endpoint: Box<dyn Endpoint>,
}

impl Chain {
    /// A chain of no filters that ends in `endpoint`.
    pub fn new<F>(endpoint: F) -> Self
    where
        F: Fn(Request) -> FilterFuture + Send + Sync + 'static,
    {
        Self { links: Vec::new(), endpoint: Box::new(endpoint) }
    }

    /// Adds `filter` after (inside) the filters added so far.
    pub fn filter<F, Fut>(mut self, filter: F) -> Self
    where
        F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.links.push(Box::new(filter));
        self
    }

    /// Adds a step after (inside) the filters added so far: a filter written as a plain
    /// function returning the future of the answer. It decides and does its request-side work
    /// at once, then hands on [`Next::run`]'s future as it is, wraps it in a future holding only
    /// what it needs afterwards, or [`respond`]s. An `async fn` filter ([`Chain::filter`])
    /// instead costs a boxed future that holds the whole request.
    pub fn step<F>(mut self, step: F) -> Self
    where
        F: Fn(Request, Next) -> FilterFuture + Send + Sync + 'static,
    {
        self.links.push(Box::new(Step(step)));
        self
    }

    /// The start of the chain, for one request.
    pub fn start(self: &Arc<Self>) -> Next {
        Next { chain: Arc::clone(self), position: 0 }
    }
}

/// The rest of the chain, handed to a filter function.
pub struct Next {
    chain: Arc<Chain>,
    position: usize,
}

impl Next {
    /// Runs the rest of the chain.
    pub fn run(self, request: Request) -> FilterFuture {
        let Next { chain, position } = self;
        match chain.links.get(position) {
            Some(link) => {
                let rest = Next { chain: Arc::clone(&chain), position: position + 1 };
                link.call(request, rest)
            }
            None => chain.endpoint.call(request),
        }
    }

    /// A chain of no filters ending in `inner` (tests drive one filter with it).
    pub fn new(inner: Inner) -> Self {
        let endpoint = move |request: Request| -> FilterFuture {
            let mut inner = inner.clone();
            Box::pin(async move {
                if let Err(never) = std::future::poll_fn(|cx| inner.poll_ready(cx)).await {
                    match never {}
                }
                match inner.call(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            })
        };
        Arc::new(Chain::new(endpoint)).start()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use http_body_util::BodyExt;

    use super::*;
    use crate::body::{BoxError, empty, full};

    fn request() -> Request {
        let body =
            http_body_util::Empty::<bytes::Bytes>::new().map_err(|never| -> BoxError { match never {} });
        http::Request::builder().uri("/x").body(body.boxed()).unwrap()
    }

    async fn body_text(response: Response) -> String {
        String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    /// A filter that records its name, then passes the request on.
    fn recording(
        name: &'static str,
        seen: &Arc<Mutex<Vec<&'static str>>>,
    ) -> impl Fn(Request, Next) -> FilterFuture + Send + Sync + 'static {
        let seen = Arc::clone(seen);
        move |request, next| {
            seen.lock().unwrap().push(name);
            next.run(request)
        }
    }

    #[tokio::test]
    async fn filters_run_in_the_order_added_then_the_endpoint() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let endpoint_seen = Arc::clone(&seen);
        let chain = Arc::new(
            Chain::new(move |_request: Request| {
                endpoint_seen.lock().unwrap().push("endpoint");
                respond(http::Response::new(full("done")))
            })
            .filter(recording("first", &seen))
            .step(recording("second", &seen))
            .filter(recording("third", &seen)),
        );
        for _ in 0..2 {
            assert_eq!(body_text(chain.start().run(request()).await).await, "done");
        }
        assert_eq!(
            *seen.lock().unwrap(),
            ["first", "second", "third", "endpoint", "first", "second", "third", "endpoint"]
        );
    }

    #[tokio::test]
    async fn a_filter_or_a_step_that_answers_stops_the_chain() {
        for as_step in [false, true] {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let endpoint_seen = Arc::clone(&seen);
            let chain = Chain::new(move |_request: Request| {
                endpoint_seen.lock().unwrap().push("endpoint");
                respond(http::Response::new(empty()))
            })
            .filter(recording("outer", &seen));
            let refuse = |_request: Request, _next: Next| {
                respond(http::Response::builder().status(413).body(full("too big")).unwrap())
            };
            let chain = if as_step { chain.step(refuse) } else { chain.filter(refuse) };
            let chain = Arc::new(chain.step(recording("inner", &seen)));
            let response = chain.start().run(request()).await;
            assert_eq!(response.status(), 413, "as step: {as_step}");
            assert_eq!(body_text(response).await, "too big");
            assert_eq!(*seen.lock().unwrap(), ["outer"], "as step: {as_step}");
        }
    }

    #[tokio::test]
    async fn next_new_ends_in_a_service() {
        let inner = BoxCloneSyncService::new(tower::service_fn(|request: Request| async move {
            Ok::<_, Infallible>(http::Response::new(full(request.uri().path().to_owned())))
        }));
        assert_eq!(body_text(Next::new(inner).run(request()).await).await, "/x");
    }
}
