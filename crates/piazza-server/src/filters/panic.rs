//! Panic recovery: a panic anywhere below becomes a 500, and the connection survives. The
//! answer is upstream's (`WithPanicRecovery`): plain text that points at the logs, not a
//! `metav1.Status`, so nothing about the panic reaches the client.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use super::{FilterFuture, Next};
use crate::body::{Request, Response};
use crate::response::text_response;

/// The body of the answer to a request whose handling panicked, as upstream words it
/// (followed by a newline, as Go's `http.Error` writes it).
pub const PANIC_ANSWER: &str = "This request caused apiserver to panic. Look in the logs for details.\n";

/// The filter function, a step. A panic while the rest of the chain starts (steps and the
/// resource handler do their checks before their first poll) or while its future runs
/// becomes a 500.
pub fn recover_panics(request: Request, next: Next) -> FilterFuture {
    // Only read if something panics; cloning a URI shares its bytes.
    let uri = request.uri().clone();
    let rest = run_catching_panics(next, request);
    Box::pin(async move {
        match rest.await {
            Ok(response) => response,
            Err(panic) => {
                let message = panic_message(panic.as_ref());
                tracing::error!(path = %uri.path(), %message, "handler panicked");
                text_response(500, PANIC_ANSWER)
            }
        }
    })
}

/// Runs the rest of the chain, catching a panic both while it starts and while its future
/// runs.
pub fn run_catching_panics(
    next: Next,
    request: Request,
) -> impl Future<Output = std::thread::Result<Response>> + Send + 'static {
    let started = std::panic::catch_unwind(AssertUnwindSafe(|| next.run(request)));
    async move {
        match started {
            Ok(rest) => AssertUnwindSafe(rest).catch_unwind().await,
            Err(panic) => Err(panic),
        }
    }
}

/// The text of a panic's payload.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}
