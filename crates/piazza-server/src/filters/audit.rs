//! Audit: `audit.k8s.io/v1` events for each request the policy selects (upstream's
//! `WithAuditInit` and `WithAudit`).
//!
//! - Every request gets an audit ID ([`assign_audit_id`], the outermost filter): the client's
//!   `Audit-ID` header when it is sane (kube-apiserver forwards its own, so the aggregator's and
//!   this server's events correlate), else a new UUID. It is returned in the `Audit-Id`
//!   response header.
//! - After authentication, [`audit_request`] asks the [`Policy`] for the level. At `Metadata`
//!   and above it writes `RequestReceived`, then `ResponseStarted` for long-running requests
//!   (watch), then `ResponseComplete` once the response body has been sent (or dropped); or
//!   `Panic` if the handler panicked. A request cancelled before its response (timed out, or
//!   the client went away) still gets a `ResponseComplete`, with a 504 `Timeout` status.
//!   Stages the policy omits are skipped.
//! - At `Request` and above a JSON request body is recorded as `requestObject`; at
//!   `RequestResponse` a JSON response body as `responseObject` (not for long-running
//!   requests). Failure responses record their whole `Status` as `responseStatus` at every
//!   level. At most [`MAX_CAPTURE_BYTES`] of a body are kept; a larger object is left out.
//! - Later filters add to the event through the [`AuditHandle`] extension (impersonation
//!   records the impersonated user there).
//! - Sinks ([`AuditSink`]) must not block; the log backend queues and drops when full.

pub mod event;
pub mod metrics;
pub mod policy;
pub mod rotate;
pub mod sink;
pub mod webhook;

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::USER_AGENT;
use http::{HeaderName, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use piazza_core::UserInfo;
use piazza_core::request_info::RequestInfo;
use serde_json::{Value, json};

pub use self::event::Event;
use self::event::{
    EventUser, ObjectReference, micro_time, omit_managed_fields, source_ips, truncate_user_agent,
};
pub use self::policy::{Level, Policy, PolicyError, RequestAuditConfig, Stage};
pub use self::rotate::Rotation;
pub use self::sink::{AuditSink, AuditSinks, DEFAULT_LOG_BUFFER_EVENTS, LogBackend};
use super::max_in_flight::is_long_running;
use super::panic::{panic_message, run_catching_panics};
use super::{FilterFuture, Next};
use crate::body::{BoxError, Request, RequestBody, Response, ResponseBody};

/// The request and response header carrying the audit ID (a constant name: inserting by
/// `&str` would parse and allocate the name on every response).
pub const AUDIT_ID_HEADER: HeaderName = HeaderName::from_static("audit-id");
/// The longest client-supplied audit ID accepted.
pub const MAX_AUDIT_ID_LENGTH: usize = 128;
/// The most bytes of a request or response body recorded.
pub const MAX_CAPTURE_BYTES: usize = 3 * 1024 * 1024;

/// The audit settings of the chain.
#[derive(Clone)]
pub struct Audit {
    /// Which requests are audited, and how much.
    pub policy: Arc<Policy>,
    /// Where events go.
    pub sink: Arc<dyn AuditSink>,
}

/// The request's audit ID, as a request extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditId(pub String);

/// The audit ID for a request: the client's `Audit-ID` when it is 1 to 128 visible ASCII
/// characters, else a new random UUID.
pub fn audit_id_for(headers: &http::HeaderMap) -> String {
    headers
        .get(AUDIT_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| {
            !id.is_empty() && id.len() <= MAX_AUDIT_ID_LENGTH && id.bytes().all(|b| b.is_ascii_graphic())
        })
        .map_or_else(new_audit_id, str::to_owned)
}

/// The outermost filter, a step: attaches the [`AuditId`] and returns it in the `Audit-Id`
/// header.
pub fn assign_audit_id(mut request: Request, next: Next) -> FilterFuture {
    let id = audit_id_for(request.headers());
    let value = HeaderValue::from_str(&id).ok().map(|mut value| {
        // Unique per response: HPACK indexing it would only evict reusable entries.
        value.set_sensitive(true);
        value
    });
    request.extensions_mut().insert(AuditId(id));
    let rest = next.run(request);
    Box::pin(async move {
        let mut response = rest.await;
        if let Some(value) = value {
            response.headers_mut().insert(AUDIT_ID_HEADER, value);
        }
        response
    })
}

#[derive(Debug, Default)]
struct Shared {
    impersonated_user: Option<UserInfo>,
    annotations: BTreeMap<String, String>,
}

/// The part of an audit event the filters after audit may fill in, as a request extension.
#[derive(Clone, Debug, Default)]
pub struct AuditHandle(Arc<Mutex<Shared>>);

impl AuditHandle {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the user the request impersonates.
    pub fn set_impersonated_user(&self, user: &UserInfo) {
        self.lock().impersonated_user = Some(user.clone());
    }

    /// Adds an annotation to the event.
    pub fn annotate(&self, key: impl Into<String>, value: impl Into<String>) {
        self.lock().annotations.insert(key.into(), value.into());
    }
}

/// A body being recorded, up to a limit.
#[derive(Debug)]
struct Capture {
    bytes: Vec<u8>,
    overflowed: bool,
}

impl Capture {
    fn new() -> Self {
        Self { bytes: Vec::new(), overflowed: false }
    }

    fn push(&mut self, data: &[u8]) {
        if self.overflowed {
            return;
        }
        if self.bytes.len() + data.len() > MAX_CAPTURE_BYTES {
            self.overflowed = true;
            self.bytes = Vec::new();
        } else {
            self.bytes.extend_from_slice(data);
        }
    }

    /// The recorded body as JSON, if it was complete, non-empty and JSON.
    fn json(&self) -> Option<Value> {
        (!self.overflowed && !self.bytes.is_empty())
            .then(|| serde_json::from_slice(&self.bytes).ok())
            .flatten()
    }
}

/// Writes the events of one request.
struct Recorder {
    template: Event,
    config: RequestAuditConfig,
    sink: Arc<dyn AuditSink>,
    handle: AuditHandle,
    request_body: Option<Arc<Mutex<Capture>>>,
}

impl Recorder {
    fn emit(&self, stage: Stage, response_status: Option<Value>, response_object: Option<Value>) {
        if self.config.omit_stages.contains(&stage) {
            return;
        }
        let mut event = self.template.clone();
        event.stage = stage;
        event.stage_timestamp = if stage == Stage::RequestReceived {
            event.request_received_timestamp.clone()
        } else {
            micro_time(jiff::Timestamp::now())
        };
        {
            let shared = self.handle.lock();
            event.impersonated_user = shared.impersonated_user.as_ref().map(EventUser::from);
            event.annotations.extend(shared.annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if stage != Stage::RequestReceived && self.config.level >= Level::Request {
            event.request_object = self
                .request_body
                .as_ref()
                .and_then(|c| c.lock().unwrap_or_else(|e| e.into_inner()).json())
                .map(|v| self.trimmed(v));
        }
        event.response_status = response_status;
        event.response_object = response_object.map(|v| self.trimmed(v));
        self.sink.process(&event);
    }

    fn trimmed(&self, mut value: Value) -> Value {
        if self.config.omit_managed_fields {
            omit_managed_fields(&mut value);
        }
        value
    }

    /// `ResponseComplete` for a response with `code` whose (recorded) body is `captured`.
    fn complete(&self, code: u16, captured: Option<&Capture>) {
        let body = captured.and_then(Capture::json);
        let status = body.as_ref().filter(|v| v["kind"] == "Status").map(|status| {
            let mut status = status.clone();
            if let Some(fields) = status.as_object_mut() {
                fields.remove("kind");
                fields.remove("apiVersion");
            }
            status
        });
        let response_object = body.filter(|_| self.config.level >= Level::RequestResponse);
        self.emit(
            Stage::ResponseComplete,
            Some(status.unwrap_or_else(|| code_status(code))),
            response_object,
        );
    }
}

/// The `responseStatus` of a response that is not a `Status`: only its code.
fn code_status(code: u16) -> Value {
    json!({ "metadata": {}, "code": code })
}

/// A request body that records what the handler reads.
struct RecordedRequestBody {
    inner: RequestBody,
    capture: Arc<Mutex<Capture>>,
}

impl Body for RecordedRequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.capture.lock().unwrap_or_else(|e| e.into_inner()).push(data);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that writes `ResponseComplete` when it is done (sent or dropped),
/// recording its bytes when asked to.
struct RecordedResponseBody {
    inner: ResponseBody,
    code: u16,
    capture: Option<Capture>,
    recorder: Option<Recorder>,
}

impl Body for RecordedResponseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let (Some(data), Some(capture)) = (frame.data_ref(), self.capture.as_mut())
        {
            capture.push(data);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for RecordedResponseBody {
    fn drop(&mut self) {
        if let Some(recorder) = self.recorder.take() {
            recorder.complete(self.code, self.capture.as_ref());
        }
    }
}

/// Holds the recorder while the rest of the chain runs. If the request is cancelled there
/// (the timeout filter gave up on it, or the client went away), it still writes
/// `ResponseComplete`, so no audited request goes unfinished in the log.
struct Pending(Option<Recorder>);

impl Pending {
    fn take(&mut self) -> Recorder {
        self.0.take().expect("the recorder is taken once")
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(recorder) = self.0.take() {
            let status = json!({
                "metadata": {},
                "status": "Failure",
                "message": "the request was cancelled before a response was produced (timeout or client disconnect)",
                "reason": "Timeout",
                "code": 504,
            });
            recorder.emit(Stage::ResponseComplete, Some(status), None);
        }
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The event every stage of this request starts from.
fn template(request: &Request, info: &RequestInfo, user: &UserInfo, level: Level) -> Event {
    let received = micro_time(jiff::Timestamp::now());
    Event {
        kind: "Event",
        api_version: "audit.k8s.io/v1",
        level,
        audit_id: request
            .extensions()
            .get::<AuditId>()
            .map_or_else(|| audit_id_for(request.headers()), |id| id.0.clone()),
        stage: Stage::RequestReceived,
        request_uri: request
            .uri()
            .path_and_query()
            .map_or_else(|| request.uri().path().to_owned(), |p| p.to_string()),
        verb: info.verb.clone(),
        user: EventUser::from(user),
        impersonated_user: None,
        source_ips: source_ips(
            request.headers(),
            request.extensions().get::<crate::serve::PeerAddr>().map(|p| p.0.ip()),
        ),
        user_agent: request
            .headers()
            .get(USER_AGENT)
            .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
            .map(truncate_user_agent)
            .unwrap_or_default(),
        object_ref: ObjectReference::of(info),
        response_status: None,
        request_object: None,
        response_object: None,
        request_received_timestamp: received.clone(),
        stage_timestamp: received,
        annotations: BTreeMap::new(),
    }
}

/// The filter function, placed right after authentication. `None` audits nothing.
pub async fn audit_request(audit: Option<Audit>, mut request: Request, next: Next) -> Response {
    let Some(audit) = audit else { return next.run(request).await };
    let info = super::request_info_or_fallback(&request);
    let info = info.as_ref();
    let user = request.extensions().get::<UserInfo>().cloned().unwrap_or_else(UserInfo::anonymous);
    let config = audit.policy.evaluate(&user, info);
    if config.level == Level::None {
        return next.run(request).await;
    }
    let long_running = is_long_running(info);
    let template = template(&request, info, &user, config.level);
    let handle = AuditHandle::default();
    request.extensions_mut().insert(handle.clone());
    let request_body = (config.level >= Level::Request).then(|| Arc::new(Mutex::new(Capture::new())));
    if let Some(capture) = &request_body {
        let capture = Arc::clone(capture);
        request = request.map(|inner| RecordedRequestBody { inner, capture }.boxed());
    }
    let recorder = Recorder { template, config, sink: audit.sink, handle, request_body };
    recorder.emit(Stage::RequestReceived, None, None);

    let mut pending = Pending(Some(recorder));
    let outcome = run_catching_panics(next, request).await;
    let recorder = pending.take();
    let response = match outcome {
        Ok(response) => response,
        Err(panic) => {
            let status = json!({
                "metadata": {},
                "status": "Failure",
                "message": format!("APIServer panic'd: {}", panic_message(panic.as_ref())),
                "reason": "InternalError",
                "code": 500,
            });
            recorder.emit(Stage::Panic, Some(status), None);
            std::panic::resume_unwind(panic);
        }
    };
    let code = response.status().as_u16();
    if long_running {
        recorder.emit(Stage::ResponseStarted, Some(code_status(code)), None);
    }
    let record_body = !long_running
        && is_json(&response)
        && (code >= 400 || recorder.config.level >= Level::RequestResponse);
    let capture = record_body.then(Capture::new);
    response
        .map(|inner| RecordedResponseBody { inner, code, capture, recorder: Some(recorder) }.boxed_unsync())
}

/// A fresh audit ID: a random (v4) UUID from the thread-local generator, which, unlike
/// `Uuid::new_v4`, costs no `getrandom` system call per request.
fn new_audit_id() -> String {
    let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    uuid.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).to_owned()
}

#[cfg(test)]
mod tests;
