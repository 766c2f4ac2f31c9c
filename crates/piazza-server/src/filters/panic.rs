//! Panic recovery: a panic anywhere below becomes a 500 `metav1.Status`, and the
//! connection survives.

use futures::FutureExt;
use piazza_codec::Format;
use piazza_core::ApiError;

use super::Next;
use crate::body::{Request, Response};
use crate::response::error_response;

/// The filter function.
pub async fn recover_panics(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    match std::panic::AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            tracing::error!(%path, %message, "handler panicked");
            error_response(&ApiError::internal("an unexpected panic occurred"), Format::Json)
        }
    }
}
