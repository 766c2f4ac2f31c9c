//! [`WatchStream`]: a JSON watch response as a stream of parsed lines.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use http::HeaderMap;
use http_body::Body;
use hyper::body::Incoming;
use serde_json::Value;

/// How long [`WatchStream::next_event`] waits by default.
pub const DEFAULT_EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a watch stream failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The body ended abnormally (connection reset, stream reset, truncated chunking).
    #[error("watch body failed: {0}")]
    Body(#[source] hyper::Error),
    /// A line was not JSON.
    #[error("watch line is not JSON ({source}): {line}")]
    NotJson {
        /// The offending line.
        line: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The body ended in the middle of a line.
    #[error("watch body ended inside a line: {0}")]
    Truncated(String),
}

/// The body of a watch response, yielding one parsed JSON value per newline-terminated
/// line (a `WatchEvent`: `{"type": ..., "object": ...}`). The stream ends when the server
/// ends the response cleanly; an abnormal end is an `Err` item.
pub struct WatchStream {
    headers: HeaderMap,
    body: Incoming,
    buffer: Vec<u8>,
    finished: bool,
}

impl std::fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchStream").field("finished", &self.finished).finish_non_exhaustive()
    }
}

impl WatchStream {
    pub(crate) fn new(response: http::Response<Incoming>) -> Self {
        let (parts, body) = response.into_parts();
        Self { headers: parts.headers, body, buffer: Vec::new(), finished: false }
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    fn take_line(&mut self) -> Option<Result<Value, WatchError>> {
        loop {
            let newline = self.buffer.iter().position(|b| *b == b'\n')?;
            let line: Vec<u8> = self.buffer.drain(..=newline).collect();
            let line = &line[..line.len() - 1];
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(serde_json::from_slice(line).map_err(|source| WatchError::NotJson {
                line: String::from_utf8_lossy(line).into_owned(),
                source,
            }));
        }
    }

    /// The next event, waiting at most `timeout`.
    ///
    /// `Ok(Some(event))` for an event, `Ok(None)` when the stream ended cleanly, `Err` for
    /// an abnormal end. Panics if nothing happens within `timeout`.
    pub async fn next_within(&mut self, timeout: Duration) -> Result<Option<Value>, WatchError> {
        use futures::StreamExt;
        match tokio::time::timeout(timeout, self.next()).await {
            Ok(item) => item.transpose(),
            Err(_) => panic!("no watch event within {timeout:?}"),
        }
    }

    /// The next event (waiting up to 10 s); panics on a clean or abnormal end, or a timeout.
    pub async fn next_event(&mut self) -> Value {
        match self.next_within(DEFAULT_EVENT_TIMEOUT).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("the watch ended; an event was expected"),
            Err(e) => panic!("the watch failed; an event was expected: {e}"),
        }
    }

    /// Waits up to `timeout` for more events; panics if one arrives or the wait times out.
    /// `Ok(())` for a clean end, `Err` for an abnormal one.
    pub async fn expect_end(&mut self, timeout: Duration) -> Result<(), WatchError> {
        match self.next_within(timeout).await? {
            None => Ok(()),
            Some(event) => panic!("the watch should have ended, got {event}"),
        }
    }

    /// Asserts that no event arrives within `wait` (and that the stream is still open).
    pub async fn expect_quiet(&mut self, wait: Duration) {
        use futures::StreamExt;
        if let Ok(item) = tokio::time::timeout(wait, self.next()).await {
            panic!("expected no watch event within {wait:?}, got {item:?}");
        }
    }
}

impl Stream for WatchStream {
    type Item = Result<Value, WatchError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(item) = self.take_line() {
                return Poll::Ready(Some(item));
            }
            if self.finished {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    self.finished = true;
                    return Poll::Ready(Some(Err(WatchError::Body(e))));
                }
                Poll::Ready(None) => {
                    self.finished = true;
                    if !self.buffer.is_empty() && !self.buffer.iter().all(u8::is_ascii_whitespace) {
                        let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buffer)).into_owned();
                        return Poll::Ready(Some(Err(WatchError::Truncated(rest))));
                    }
                    return Poll::Ready(None);
                }
            }
        }
    }
}
