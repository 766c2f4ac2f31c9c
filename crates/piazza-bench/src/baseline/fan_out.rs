//! The watch fan-out limit: what the transport server does when it relays every POSTed body to
//! every open watch, and nothing else. Each body is framed once as an `ADDED` watch event (a
//! JSON line, or a length-prefixed protobuf `WatchEvent` for a protobuf body) and the same bytes
//! are queued to every watcher that asked for that format. No storage, no cache, no selectors:
//! the least any API server does to deliver one event to M watchers over TLS and HTTP/2.
//!
//! The server does not convert: a watcher receives the events whose body was POSTed in the
//! format it accepts. A watcher whose queue is full is dropped (its stream ends), as API servers
//! drop watchers that cannot keep up, so a slow client shows up as missed events.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame, Incoming};
use tokio::sync::mpsc;

use piazza::codec::protobuf::watch::event_frame;
use piazza::codec::watch::WatchEventType;

/// The media type prefix of Kubernetes protobuf.
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// Events queued per watcher before it counts as too slow and is dropped: 10 s of 100 writes/s.
pub const WATCHER_QUEUE: usize = 1024;

/// The two encodings the server relays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Newline-delimited JSON watch events.
    Json,
    /// Length-prefixed protobuf `WatchEvent` frames.
    Protobuf,
}

impl Encoding {
    /// The encoding a request body declares with `Content-Type`.
    pub fn of_body(headers: &HeaderMap) -> Encoding {
        Encoding::from_header(headers, CONTENT_TYPE)
    }

    /// The encoding a watch asks for with `Accept` (JSON unless protobuf comes first).
    pub fn accepted(headers: &HeaderMap) -> Encoding {
        Encoding::from_header(headers, ACCEPT)
    }

    fn from_header(headers: &HeaderMap, name: http::header::HeaderName) -> Encoding {
        let value = headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if value.trim_start().starts_with(PROTOBUF) { Encoding::Protobuf } else { Encoding::Json }
    }

    /// The `Content-Type` of a watch stream in this encoding.
    pub fn stream_content_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/json",
            Encoding::Protobuf => "application/vnd.kubernetes.protobuf;stream=watch",
        }
    }
}

/// Why a body cannot be relayed.
#[derive(Debug, PartialEq, Eq)]
pub enum RelayError {
    /// A JSON body with a line break would split its event across lines of the stream.
    MultiLineJson,
}

/// Most watches open at once (the scenario opens 1000 by default); more get 429.
pub const MAX_WATCHERS: usize = 100_000;

/// The open watches, and the relay of each published body to them.
pub struct FanOut {
    watchers: Mutex<Vec<Watcher>>,
    max_watchers: usize,
}

impl Default for FanOut {
    fn default() -> Self {
        FanOut::with_max_watchers(MAX_WATCHERS)
    }
}

struct Watcher {
    encoding: Encoding,
    queue: mpsc::Sender<Bytes>,
}

impl FanOut {
    /// A relay that holds at most `max_watchers` watches open.
    pub fn with_max_watchers(max_watchers: usize) -> FanOut {
        FanOut { watchers: Mutex::default(), max_watchers }
    }

    /// Opens a watch in `encoding`: the body of its response; `None` when `max_watchers` are
    /// already open.
    pub fn subscribe(&self, encoding: Encoding) -> Option<WatchBody> {
        let mut watchers = self.lock();
        if watchers.len() >= self.max_watchers {
            watchers.retain(|w| !w.queue.is_closed());
            if watchers.len() >= self.max_watchers {
                return None;
            }
        }
        let (queue, events) = mpsc::channel(WATCHER_QUEUE);
        watchers.push(Watcher { encoding, queue });
        Some(WatchBody { events })
    }

    /// Frames `body` once as an `ADDED` event and queues it to every open watch of its
    /// encoding. Watches that are gone or too far behind are dropped. Returns how many
    /// watchers it was queued to.
    pub fn publish(&self, body: &[u8], encoding: Encoding) -> Result<usize, RelayError> {
        let frame = match encoding {
            Encoding::Json => json_event(body)?,
            Encoding::Protobuf => Bytes::from(event_frame(WatchEventType::Added, body)),
        };
        let mut queued = 0;
        self.lock().retain(|watcher| {
            if watcher.encoding != encoding {
                return !watcher.queue.is_closed();
            }
            let sent = watcher.queue.try_send(frame.clone()).is_ok();
            queued += usize::from(sent);
            sent
        });
        Ok(queued)
    }

    /// How many watches are open (or not yet found closed).
    pub fn watchers(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Watcher>> {
        self.watchers.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The answer of the transport server in fan-out mode: a fixed body, or an endless watch.
pub type Reply = Response<Either<Full<Bytes>, WatchBody>>;

/// An empty list, so that a client can take a `resourceVersion` to watch from.
const EMPTY_LIST: &[u8] =
    br#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}"#;

/// Serves one request in fan-out mode:
/// - `GET` with `watch=true` (or `1`): a watch in the encoding it accepts (429 when
///   [`MAX_WATCHERS`] are open);
/// - any other `GET`: an empty list;
/// - `POST`: relays the body (at most 1 MiB, else 413) to the open watches and
///   answers 201 with it; a JSON body with a line break gets 400 and is relayed to nobody;
/// - anything else: 405.
pub async fn respond(fan_out: &FanOut, request: Request<Incoming>) -> Reply {
    match *request.method() {
        Method::GET if is_watch(request.uri().query()) => {
            let encoding = Encoding::accepted(request.headers());
            let Some(watch) = fan_out.subscribe(encoding) else {
                return fixed(StatusCode::TOO_MANY_REQUESTS, Bytes::new());
            };
            let mut response = Response::new(Either::Right(watch));
            let content_type = HeaderValue::from_static(encoding.stream_content_type());
            response.headers_mut().insert(CONTENT_TYPE, content_type);
            response
        }
        Method::GET => fixed(StatusCode::OK, Bytes::from_static(EMPTY_LIST)),
        Method::POST => {
            let encoding = Encoding::of_body(request.headers());
            let body = match super::transport::read_body(request.into_body()).await {
                Ok(body) => body,
                Err(status) => return fixed(status, Bytes::new()),
            };
            match fan_out.publish(&body, encoding) {
                Ok(_) => fixed(StatusCode::CREATED, body),
                Err(RelayError::MultiLineJson) => fixed(StatusCode::BAD_REQUEST, Bytes::new()),
            }
        }
        _ => fixed(StatusCode::METHOD_NOT_ALLOWED, Bytes::new()),
    }
}

fn fixed(status: StatusCode, body: Bytes) -> Reply {
    let mut response = Response::new(Either::Left(Full::new(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Whether a query string asks for a watch (`watch=true` or `watch=1`).
fn is_watch(query: Option<&str>) -> bool {
    query.unwrap_or_default().split('&').any(|pair| matches!(pair, "watch=true" | "watch=1"))
}

/// `{"type":"ADDED","object":<body>}` and a newline.
fn json_event(body: &[u8]) -> Result<Bytes, RelayError> {
    const HEAD: &[u8] = br#"{"type":"ADDED","object":"#;
    if body.contains(&b'\n') || body.contains(&b'\r') {
        return Err(RelayError::MultiLineJson);
    }
    let mut line = BytesMut::with_capacity(HEAD.len() + body.len() + 2);
    line.put_slice(HEAD);
    line.put_slice(body);
    line.put_slice(b"}\n");
    Ok(line.freeze())
}

/// The endless body of a watch response: each queued event as one data frame.
pub struct WatchBody {
    events: mpsc::Receiver<Bytes>,
}

impl Body for WatchBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.events.poll_recv(cx).map(|event| event.map(|bytes| Ok(Frame::data(bytes))))
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;
    use http::HeaderValue;
    use piazza::codec::protobuf::watch::FrameDecoder;

    async fn next(body: &mut WatchBody) -> Option<Bytes> {
        let frame = poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
        frame.ok()?.into_data().ok()
    }

    #[tokio::test]
    async fn every_watch_of_the_encoding_gets_the_same_event() {
        let fan_out = FanOut::default();
        let (mut a, mut b) =
            (fan_out.subscribe(Encoding::Json).unwrap(), fan_out.subscribe(Encoding::Json).unwrap());
        let mut proto = fan_out.subscribe(Encoding::Protobuf).unwrap();
        assert_eq!(fan_out.publish(br#"{"metadata":{"name":"p"}}"#, Encoding::Json), Ok(2));
        let line = br#"{"type":"ADDED","object":{"metadata":{"name":"p"}}}
"#;
        assert_eq!(next(&mut a).await.as_deref(), Some(&line[..]));
        assert_eq!(next(&mut b).await.as_deref(), Some(&line[..]));

        assert_eq!(fan_out.publish(b"k8s\0pizza", Encoding::Protobuf), Ok(1));
        let mut decoder = FrameDecoder::default();
        decoder.push(&next(&mut proto).await.unwrap());
        let event = decoder.next_event().unwrap().expect("one whole frame");
        assert_eq!(event.type_, "ADDED");
        assert_eq!(event.object.raw.0, b"k8s\0pizza");
    }

    #[tokio::test]
    async fn a_body_that_would_break_the_json_stream_is_refused_and_queued_to_nobody() {
        let fan_out = FanOut::default();
        let mut watch = fan_out.subscribe(Encoding::Json).unwrap();
        for hostile in [&b"{\"a\":\n1}"[..], b"{}\r{}"] {
            assert_eq!(fan_out.publish(hostile, Encoding::Json), Err(RelayError::MultiLineJson));
        }
        assert_eq!(fan_out.publish(b"{}", Encoding::Json), Ok(1));
        assert_eq!(next(&mut watch).await.as_deref(), Some(&b"{\"type\":\"ADDED\",\"object\":{}}\n"[..]));
    }

    #[tokio::test]
    async fn closed_and_stalled_watches_are_dropped() {
        let fan_out = FanOut::default();
        let closed = fan_out.subscribe(Encoding::Json).unwrap();
        let mut stalled = fan_out.subscribe(Encoding::Json).unwrap();
        let mut other = fan_out.subscribe(Encoding::Protobuf).unwrap();
        drop(closed);
        for _ in 0..WATCHER_QUEUE {
            assert_eq!(fan_out.publish(b"{}", Encoding::Json), Ok(1));
        }
        assert_eq!(fan_out.watchers(), 2, "the closed watch is gone, the full and the other remain");
        assert_eq!(fan_out.publish(b"{}", Encoding::Json), Ok(0));
        assert_eq!(fan_out.watchers(), 1, "the full one is dropped");
        // The dropped watch still delivers what it had queued, then ends.
        let mut delivered = 0;
        while next(&mut stalled).await.is_some() {
            delivered += 1;
        }
        assert_eq!(delivered, WATCHER_QUEUE);
        assert_eq!(fan_out.publish(b"k8s\0", Encoding::Protobuf), Ok(1));
        assert!(next(&mut other).await.is_some());
    }

    #[test]
    fn open_watches_are_bounded_and_a_closed_one_frees_its_place() {
        let fan_out = FanOut::with_max_watchers(2);
        let first = fan_out.subscribe(Encoding::Json).unwrap();
        let _second = fan_out.subscribe(Encoding::Protobuf).unwrap();
        assert!(fan_out.subscribe(Encoding::Json).is_none(), "a third is refused");
        drop(first);
        let third = fan_out.subscribe(Encoding::Json);
        assert!(third.is_some(), "the closed one's place is free again");
        assert!(fan_out.subscribe(Encoding::Json).is_none());
        assert_eq!(fan_out.watchers(), 2);
    }

    #[test]
    fn only_watch_true_or_1_is_a_watch() {
        assert!(is_watch(Some("watch=true&resourceVersion=5")));
        assert!(is_watch(Some("resourceVersion=5&watch=1")));
        for not in
            [None, Some(""), Some("watch=false"), Some("watch=0"), Some("xwatch=true"), Some("watch=truex")]
        {
            assert!(!is_watch(not), "{not:?}");
        }
    }

    #[test]
    fn encodings_come_from_content_type_and_accept() {
        let mut headers = HeaderMap::new();
        assert_eq!(Encoding::of_body(&headers), Encoding::Json);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/vnd.kubernetes.protobuf"));
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, application/vnd.kubernetes.protobuf"),
        );
        assert_eq!(Encoding::of_body(&headers), Encoding::Protobuf);
        assert_eq!(Encoding::accepted(&headers), Encoding::Json);
        headers.insert(ACCEPT, HeaderValue::from_static("application/vnd.kubernetes.protobuf;stream=watch"));
        assert_eq!(Encoding::accepted(&headers), Encoding::Protobuf);
        assert!(Encoding::Protobuf.stream_content_type().ends_with(";stream=watch"));
    }
}
