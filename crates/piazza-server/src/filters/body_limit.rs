//! The request body limit (3 MiB by default, as upstream): a declared `Content-Length`
//! over the limit is refused at once; a body that grows past it while being read fails
//! with 413 when the handler reads it.

use http::header::CONTENT_LENGTH;
use http_body_util::{BodyExt, Limited};
use hyper::body::Body;
use piazza_codec::Format;
use piazza_core::ApiError;

use super::{FilterFuture, Next, respond};
use crate::body::Request;
use crate::response::error_response;

/// The default maximum request body, as upstream (`MaxRequestBodyBytes`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The limit, recorded as a request extension so handlers can name it in errors.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// The filter function, a step (see [`Chain::step`](super::Chain::step)). A body that has
/// already ended (a GET's, usually) has nothing left to limit and is passed on as it is.
pub fn limit_body(limit: usize, request: Request, next: Next) -> FilterFuture {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return respond(error_response(&ApiError::request_entity_too_large(limit), Format::Json));
    }
    if request.body().is_end_stream() {
        return next.run(request);
    }
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(BodyLimit(limit));
    let body = Limited::new(body, limit).boxed();
    next.run(Request::from_parts(parts, body))
}

/// Reads a whole (limited) request body; exceeding the limit is a 413.
pub async fn read_body(body: crate::body::RequestBody, limit: BodyLimit) -> Result<bytes::Bytes, ApiError> {
    match body.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::request_entity_too_large(limit.0))
        }
        Err(e) => Err(ApiError::bad_request(format!("error reading request body: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::StreamBody;
    use hyper::body::Frame;
    use tower::util::BoxCloneSyncService;

    use super::*;
    use crate::body::{BoxError, Response, full, request_body};

    /// A handler that reads the whole body, as the resource handler does, and answers with
    /// its length; it records the limit it was given.
    fn reading(seen: &Arc<Mutex<Option<Option<usize>>>>) -> Next {
        let seen = Arc::clone(seen);
        Next::new(BoxCloneSyncService::new(tower::service_fn(move |request: Request| {
            let seen = Arc::clone(&seen);
            async move {
                let limit = request.extensions().get::<BodyLimit>().copied();
                *seen.lock().unwrap() = Some(limit.map(|l| l.0));
                let limit = limit.unwrap_or(BodyLimit(DEFAULT_MAX_BODY_BYTES));
                let response = match read_body(request.into_body(), limit).await {
                    Ok(bytes) => Response::new(full(bytes.len().to_string())),
                    Err(e) => error_response(&e, Format::Json),
                };
                Ok::<_, Infallible>(response)
            }
        })))
    }

    fn streamed(chunks: usize, chunk: usize) -> crate::body::RequestBody {
        let frames = (0..chunks).map(move |_| Ok::<_, BoxError>(Frame::data(Bytes::from(vec![b'x'; chunk]))));
        StreamBody::new(futures::stream::iter(frames)).boxed()
    }

    async fn text(response: Response) -> String {
        String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_at_once() {
        let seen = Arc::new(Mutex::new(None));
        let request = http::Request::builder()
            .method("POST")
            .header(CONTENT_LENGTH, "11")
            .body(request_body("hello world"))
            .unwrap();
        let response = limit_body(10, request, reading(&seen)).await;
        assert_eq!(response.status(), 413);
        assert!(text(response).await.contains("RequestEntityTooLarge"));
        assert!(seen.lock().unwrap().is_none(), "the handler must not run");
    }

    #[tokio::test]
    async fn a_malformed_declared_length_is_left_to_the_body_limit() {
        let seen = Arc::new(Mutex::new(None));
        let request = http::Request::builder()
            .method("POST")
            .header(CONTENT_LENGTH, "-1, 99999999999999999999999")
            .body(streamed(3, 8))
            .unwrap();
        let response = limit_body(10, request, reading(&seen)).await;
        assert_eq!(response.status(), 413);
        assert_eq!(*seen.lock().unwrap(), Some(Some(10)));
    }

    #[tokio::test]
    async fn a_body_growing_past_the_limit_fails_when_read() {
        let seen = Arc::new(Mutex::new(None));
        let request = http::Request::builder().method("POST").body(streamed(4, 4)).unwrap();
        let response = limit_body(10, request, reading(&seen)).await;
        assert_eq!(response.status(), 413);
        assert_eq!(*seen.lock().unwrap(), Some(Some(10)));
        let request = http::Request::builder().method("POST").body(streamed(2, 5)).unwrap();
        let response = limit_body(10, request, reading(&seen)).await;
        assert_eq!((response.status().as_u16(), text(response).await), (200, "10".to_owned()));
    }

    #[tokio::test]
    async fn an_ended_body_passes_unwrapped() {
        let seen = Arc::new(Mutex::new(None));
        let request = http::Request::builder().body(request_body(Bytes::new())).unwrap();
        let response = limit_body(10, request, reading(&seen)).await;
        assert_eq!((response.status().as_u16(), text(response).await), (200, "0".to_owned()));
        assert_eq!(*seen.lock().unwrap(), Some(None), "nothing left to limit");
    }
}
