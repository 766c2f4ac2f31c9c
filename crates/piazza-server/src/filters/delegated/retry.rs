//! Calls to the cluster: a deadline for the whole call and bounded, growing waits between
//! attempts, retrying only what upstream's webhook client retries (`DefaultShouldRetry`):
//! internal errors (500), timeouts (504 or reason `Timeout`), 429, and connections reset
//! mid-request. Anything else (connection refused, 4xx) fails at once.

use std::future::Future;
use std::time::Duration;

/// Why a call to the cluster failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Worth another attempt.
    #[error("{0}")]
    Transient(String),
    /// Not worth another attempt.
    #[error("{0}")]
    Permanent(String),
}

impl CallError {
    /// True for [`CallError::Transient`].
    pub fn is_transient(&self) -> bool {
        matches!(self, CallError::Transient(_))
    }
}

/// Exponential backoff between attempts, as `wait.Backoff`: `steps` attempts at most, the
/// first wait `initial`, each next wait `factor` times the previous.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The first wait.
    pub initial: Duration,
    /// Growth of each wait.
    pub factor: f64,
    /// Attempts at most (at least one is made).
    pub steps: u32,
}

impl Default for Backoff {
    /// Upstream's `DefaultAuthWebhookRetryBackoff`: 500 ms, ×1.5, 5 attempts.
    fn default() -> Self {
        Self { initial: Duration::from_millis(500), factor: 1.5, steps: 5 }
    }
}

impl Backoff {
    /// The wait before attempt `attempt` (1-based; there is no wait before the first).
    pub fn wait_before(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        self.initial.mul_f64(self.factor.max(1.0).powi(attempt.saturating_sub(2).min(30) as i32))
    }
}

/// Sorts a client error into transient or permanent, as upstream's `DefaultShouldRetry`.
pub fn classify(error: &kube::Error) -> CallError {
    let message = error.to_string();
    let transient = match error {
        kube::Error::Api(status) => matches!(status.code, 500 | 504 | 429) || status.reason == "Timeout",
        _ => connection_reset(error),
    };
    if transient { CallError::Transient(message) } else { CallError::Permanent(message) }
}

/// True if some cause of `error` is a connection reset or closed mid-message.
fn connection_reset(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>()
            && hyper.is_incomplete_message()
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Runs `attempt` until it succeeds, fails permanently, runs out of `backoff.steps`, or the
/// whole call exceeds `timeout`.
pub async fn call_with_retries<T, F, Fut>(
    backoff: Backoff,
    timeout: Duration,
    mut attempt: F,
) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let attempts = async {
        let mut last = CallError::Permanent("no attempt made".to_owned());
        for n in 1..=backoff.steps.max(1) {
            tokio::time::sleep(backoff.wait_before(n)).await;
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(e) if e.is_transient() => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    };
    match tokio::time::timeout(timeout, attempts).await {
        Ok(result) => result,
        Err(_) => Err(CallError::Permanent(format!("call timed out after {timeout:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast(steps: u32) -> Backoff {
        Backoff { initial: Duration::from_millis(1), factor: 2.0, steps }
    }

    #[test]
    fn waits_grow_by_the_factor() {
        let b = Backoff::default();
        assert_eq!(b.wait_before(1), Duration::ZERO);
        assert_eq!(b.wait_before(2), Duration::from_millis(500));
        assert_eq!(b.wait_before(3), Duration::from_millis(750));
        assert_eq!(b.wait_before(4), Duration::from_millis(1125));
    }

    #[tokio::test]
    async fn transient_errors_are_retried_up_to_the_step_count() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = call_with_retries(fast(3), Duration::from_secs(5), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(CallError::Transient("500".into()))
        })
        .await;
        assert_eq!(result, Err(CallError::Transient("500".into())));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn permanent_errors_and_successes_stop_at_once() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = call_with_retries(fast(5), Duration::from_secs(5), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(CallError::Permanent("refused".into()))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let calls = AtomicU32::new(0);
        let result = call_with_retries(fast(5), Duration::from_secs(5), || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n == 0 { Err(CallError::Transient("reset".into())) } else { Ok(n) }
        })
        .await;
        assert_eq!(result, Ok(1));
    }

    #[tokio::test]
    async fn the_whole_call_has_a_deadline() {
        let result: Result<(), _> = call_with_retries(fast(1), Duration::from_millis(20), || async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        })
        .await;
        assert!(matches!(result, Err(CallError::Permanent(m)) if m.contains("timed out")));
    }

    #[test]
    fn api_errors_are_classified_as_upstream() {
        let status = |code: u16, reason: &str| {
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                reason: reason.to_owned(),
                ..Default::default()
            }))
        };
        assert!(classify(&status(500, "InternalError")).is_transient());
        assert!(classify(&status(429, "TooManyRequests")).is_transient());
        assert!(classify(&status(504, "")).is_transient());
        assert!(!classify(&status(403, "Forbidden")).is_transient());
        assert!(!classify(&status(404, "NotFound")).is_transient());
    }
}
