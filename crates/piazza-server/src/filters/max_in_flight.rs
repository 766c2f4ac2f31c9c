//! Max-in-flight: at most `--max-requests-inflight` read-only and
//! `--max-mutating-requests-inflight` mutating requests are served at once (upstream's
//! `WithMaxInFlightLimit`).
//!
//! - `get`, `list` and `watch` (resource or non-resource) use the read-only pool; every other
//!   verb the mutating pool.
//! - Long-running requests (watch and proxy verbs; attach, exec, log, portforward and proxy
//!   subresources) are exempt: they would hold a slot for hours.
//! - A limit of 0 disables that pool.
//! - A request that finds its pool full is answered at once with 429 and `Retry-After: 1`, unless
//!   its user is in `system:masters`, which upstream always serves ("a super-admin should
//!   always get an answer") without taking a slot.
//! - A slot is taken with `try_acquire` in the call, never awaited, and held until the response
//!   body has been sent.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use piazza_codec::Format;
use piazza_core::request_info::RequestInfo;
use piazza_core::user::MASTERS_GROUP;
use piazza_core::{ApiError, UserInfo};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{FilterFuture, Next, respond};
use crate::body::{Request, ResponseBody};
use crate::handlers::metrics::MetricsSource;
use crate::response::error_response;

/// The default read-only limit, as upstream (`--max-requests-inflight`).
pub const DEFAULT_MAX_REQUESTS_INFLIGHT: usize = 400;
/// The default mutating limit, as upstream (`--max-mutating-requests-inflight`).
pub const DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT: usize = 200;
/// The `Retry-After` of a 429, in seconds, as upstream.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// The verbs that use upstream's long-running check.
const LONG_RUNNING_VERBS: &[&str] = &["watch", "proxy"];
/// The subresources that use upstream's long-running check.
const LONG_RUNNING_SUBRESOURCES: &[&str] = &["attach", "exec", "proxy", "log", "portforward"];

/// Which pool a request counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// `get`, `list`, `watch`.
    ReadOnly,
    /// Everything else.
    Mutating,
}

impl RequestKind {
    /// The `request_kind` label upstream's metrics use.
    pub fn label(self) -> &'static str {
        match self {
            RequestKind::ReadOnly => "readOnly",
            RequestKind::Mutating => "mutating",
        }
    }
}

/// True for requests that stream for a long time (upstream's `BasicLongRunningRequestCheck`
/// with the generic server's verbs and subresources).
pub fn is_long_running(info: &RequestInfo) -> bool {
    info.is_resource_request
        && (LONG_RUNNING_VERBS.contains(&info.verb.as_str())
            || LONG_RUNNING_SUBRESOURCES.contains(&info.subresource.as_str()))
}

/// The pool `info` counts against, or `None` when it is exempt (long-running).
pub fn classify(info: &RequestInfo) -> Option<RequestKind> {
    if is_long_running(info) {
        return None;
    }
    Some(if info.is_read_only() { RequestKind::ReadOnly } else { RequestKind::Mutating })
}

/// One bounded pool.
#[derive(Debug)]
struct Pool {
    limit: usize,
    slots: Arc<Semaphore>,
    dropped: AtomicU64,
}

impl Pool {
    fn new(limit: usize) -> Option<Arc<Pool>> {
        (limit > 0).then(|| {
            Arc::new(Pool {
                limit: limit.min(Semaphore::MAX_PERMITS),
                slots: Arc::new(Semaphore::new(limit.min(Semaphore::MAX_PERMITS))),
                dropped: AtomicU64::new(0),
            })
        })
    }

    fn in_flight(&self) -> usize {
        self.limit - self.slots.available_permits()
    }
}

/// What the limiter decided for one request.
#[derive(Debug)]
pub enum Admission {
    /// Served without a slot: long-running, its pool disabled, or a `system:masters` user
    /// finding the pool full.
    Exempt,
    /// Served, holding this slot until the response is sent.
    Admitted(OwnedSemaphorePermit),
    /// Refused: the pool of this kind is full.
    Rejected(RequestKind),
}

/// The two pools. Clones share them.
#[derive(Clone, Debug)]
pub struct MaxInFlight {
    read_only: Option<Arc<Pool>>,
    mutating: Option<Arc<Pool>>,
}

impl MaxInFlight {
    /// Pools of `read_only` and `mutating` slots; 0 disables a pool.
    pub fn new(read_only: usize, mutating: usize) -> Self {
        Self { read_only: Pool::new(read_only), mutating: Pool::new(mutating) }
    }

    /// No limits at all.
    pub fn unlimited() -> Self {
        Self::new(0, 0)
    }

    fn pool(&self, kind: RequestKind) -> Option<&Arc<Pool>> {
        match kind {
            RequestKind::ReadOnly => self.read_only.as_ref(),
            RequestKind::Mutating => self.mutating.as_ref(),
        }
    }

    /// Decides for one request, taking a slot if one is free. Never waits.
    pub fn admit(&self, info: &RequestInfo, user: Option<&UserInfo>) -> Admission {
        let Some(kind) = classify(info) else { return Admission::Exempt };
        let Some(pool) = self.pool(kind) else { return Admission::Exempt };
        match Arc::clone(&pool.slots).try_acquire_owned() {
            Ok(permit) => Admission::Admitted(permit),
            Err(_) if user.is_some_and(|u| u.in_group(MASTERS_GROUP)) => Admission::Exempt,
            Err(_) => {
                pool.dropped.fetch_add(1, Ordering::Relaxed);
                Admission::Rejected(kind)
            }
        }
    }

    /// Requests of `kind` being served now (0 for a disabled pool).
    pub fn in_flight(&self, kind: RequestKind) -> usize {
        self.pool(kind).map_or(0, |p| p.in_flight())
    }

    /// Requests of `kind` refused so far.
    pub fn dropped(&self, kind: RequestKind) -> u64 {
        self.pool(kind).map_or(0, |p| p.dropped.load(Ordering::Relaxed))
    }
}

impl MetricsSource for MaxInFlight {
    fn render(&self, out: &mut String) {
        let kinds = [RequestKind::ReadOnly, RequestKind::Mutating];
        out.push_str(
            "# HELP apiserver_current_inflight_requests Requests currently being served, by kind.\n",
        );
        out.push_str("# TYPE apiserver_current_inflight_requests gauge\n");
        for kind in kinds {
            out.push_str(&format!(
                "apiserver_current_inflight_requests{{request_kind=\"{}\"}} {}\n",
                kind.label(),
                self.in_flight(kind)
            ));
        }
        out.push_str("# HELP apiserver_dropped_requests_total Requests refused with 429 by max-in-flight.\n");
        out.push_str("# TYPE apiserver_dropped_requests_total counter\n");
        for kind in kinds {
            out.push_str(&format!(
                "apiserver_dropped_requests_total{{request_kind=\"{}\"}} {}\n",
                kind.label(),
                self.dropped(kind)
            ));
        }
    }
}

/// A response body that keeps its request's slot until it has been sent (or dropped).
struct HoldSlot {
    inner: ResponseBody,
    _slot: OwnedSemaphorePermit,
}

impl Body for HoldSlot {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The filter function, a step.
pub fn limit_in_flight(limits: &MaxInFlight, request: Request, next: Next) -> FilterFuture {
    let admission = {
        // The chain attaches a RequestInfo before this filter; were it missing, the request
        // is judged by its method alone (as a non-resource request), never let through
        // unlimited.
        let info = super::request_info_or_fallback(&request);
        limits.admit(info.as_ref(), request.extensions().get::<UserInfo>())
    };
    match admission {
        Admission::Exempt => next.run(request),
        Admission::Admitted(slot) => {
            // The slot is held until the response body ends.
            let rest = next.run(request);
            Box::pin(async move { rest.await.map(|inner| HoldSlot { inner, _slot: slot }.boxed_unsync()) })
        }
        Admission::Rejected(kind) => {
            tracing::debug!(kind = kind.label(), "max-in-flight: too many requests");
            respond(error_response(&ApiError::too_many_requests(RETRY_AFTER_SECONDS), Format::Json))
        }
    }
}

#[cfg(test)]
mod tests;
