//! The request timeout: non-long-running requests that take longer than the limit get a
//! 504 Status. Watches are long-running and carry their own timeout.

use std::time::Duration;

use piazza_codec::Format;
use piazza_core::ApiError;
use piazza_core::request_info::RequestInfo;

use super::Next;
use crate::body::{Request, Response};
use crate::response::error_response;

/// The default request timeout, as upstream (`--request-timeout`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// True for requests that stream for a long time and are exempt from the timeout (the same
/// rule max-in-flight uses).
pub fn is_long_running(info: Option<&RequestInfo>) -> bool {
    info.is_some_and(super::max_in_flight::is_long_running)
}

/// The filter function; `limit` is the timeout.
pub async fn enforce_timeout(limit: Duration, request: Request, next: Next) -> Response {
    if is_long_running(request.extensions().get::<RequestInfo>()) {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error_response(
            &ApiError::timeout(
                "request did not complete within requested timeout - context deadline exceeded",
            ),
            Format::Json,
        ),
    }
}
