//! Request and response body types shared by every layer, and small constructors.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::combinators::{BoxBody, UnsyncBoxBody};
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;

/// A boxed error from a request body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
/// The body of a request as every layer sees it.
pub type RequestBody = BoxBody<Bytes, BoxError>;
/// The body of a response.
pub type ResponseBody = UnsyncBoxBody<Bytes, Infallible>;
/// A request.
pub type Request = http::Request<RequestBody>;
/// A response.
pub type Response = http::Response<ResponseBody>;

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into()).boxed_unsync()
}

/// An empty body.
pub fn empty() -> ResponseBody {
    Empty::new().boxed_unsync()
}

/// A streaming body whose chunks come from `stream`.
pub fn streaming<S>(stream: S) -> ResponseBody
where
    S: futures::Stream<Item = Bytes> + Send + 'static,
{
    use futures::StreamExt;
    BodyExt::boxed_unsync(StreamBody::new(stream.map(|b| Ok::<_, Infallible>(Frame::data(b)))))
}

/// A request body from bytes (for tests and internal calls).
pub fn request_body(bytes: impl Into<Bytes>) -> RequestBody {
    Full::new(bytes.into()).map_err(|never: Infallible| match never {}).boxed()
}
