//! The request body limit (3 MiB by default, as upstream): a declared `Content-Length`
//! over the limit is refused at once; a body that grows past it while being read fails
//! with 413 when the handler reads it.

use http::header::CONTENT_LENGTH;
use http_body_util::{BodyExt, Limited};
use piazza_codec::Format;
use piazza_core::ApiError;

use super::Next;
use crate::body::{Request, Response};
use crate::response::error_response;

/// The default maximum request body, as upstream (`MaxRequestBodyBytes`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The limit, recorded as a request extension so handlers can name it in errors.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// The filter function.
pub async fn limit_body(limit: usize, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return error_response(&ApiError::request_entity_too_large(limit), Format::Json);
    }
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(BodyLimit(limit));
    let body = Limited::new(body, limit).boxed();
    next.run(Request::from_parts(parts, body)).await
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
