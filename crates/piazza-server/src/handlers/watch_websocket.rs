//! Watch over WebSocket: a watch request with `Connection: Upgrade` and
//! `Upgrade: websocket` is switched (`101`) and each watch event becomes one message
//! holding the `WatchEvent` JSON (one line of the chunked stream, without its newline).
//!
//! The handshake follows upstream's (`golang.org/x/net/websocket` behind
//! `endpoints/handlers/watch.go`): version 13 only, an `Origin` is required, and at most
//! one subprotocol, which is echoed. The connection ends with a Close frame when the watch
//! ends (timeout, terminal error, shutdown) and when the client closes or goes away.

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::header::{CONNECTION, HeaderMap, HeaderValue, ORIGIN, UPGRADE};
use http::{HeaderName, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use piazza_registry::EncodedWatch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::body::{Response, full};

/// How long a closing connection waits for the client's Close frame.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

const SEC_WEBSOCKET_KEY: HeaderName = HeaderName::from_static("sec-websocket-key");
const SEC_WEBSOCKET_VERSION: HeaderName = HeaderName::from_static("sec-websocket-version");
const SEC_WEBSOCKET_PROTOCOL: HeaderName = HeaderName::from_static("sec-websocket-protocol");
const SEC_WEBSOCKET_ACCEPT: HeaderName = HeaderName::from_static("sec-websocket-accept");

/// True when a request asks for a WebSocket (`Upgrade: websocket` and the `Upgrade`
/// connection token), as upstream's `wsstream.IsWebSocketRequest`.
pub fn is_websocket_request(headers: &HeaderMap) -> bool {
    let websocket = headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"));
    websocket && crate::serve::wants_upgrade(headers)
}

/// An accepted handshake: the response headers of the `101`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// `Sec-WebSocket-Accept`.
    pub accept: String,
    /// The subprotocol echoed in `Sec-WebSocket-Protocol`, when the client named one.
    pub protocol: Option<String>,
}

/// A refused handshake: upstream answers with a bare status line and a short text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The status (`400` or `403`).
    pub status: StatusCode,
    /// The body text (may be empty).
    pub message: &'static str,
    /// Whether to name the supported version (`Sec-WebSocket-Version: 13`).
    pub name_version: bool,
}

impl Refused {
    fn new(status: StatusCode, message: &'static str) -> Self {
        Self { status, message, name_version: false }
    }

    /// The refusal as a response.
    pub fn into_response(self) -> Response {
        let mut response = Response::new(full(Bytes::from_static(self.message.as_bytes())));
        *response.status_mut() = self.status;
        if self.name_version {
            response.headers_mut().insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        }
        response
    }
}

/// Checks a WebSocket handshake request in upstream's order: key, version, origin, then
/// the subprotocol count.
pub fn handshake(headers: &HeaderMap) -> Result<Accepted, Refused> {
    let key = headers.get(SEC_WEBSOCKET_KEY).map(HeaderValue::as_bytes).unwrap_or_default();
    if key.is_empty() {
        return Err(Refused::new(StatusCode::BAD_REQUEST, "mismatch challenge/response"));
    }
    if headers.get(SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13".as_slice()) {
        return Err(Refused {
            name_version: true,
            ..Refused::new(StatusCode::BAD_REQUEST, "bad protocol version")
        });
    }
    let protocols: Vec<&str> = headers
        .get(SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !valid_origin(origin) {
        return Err(Refused::new(StatusCode::FORBIDDEN, ""));
    }
    if protocols.len() > 1 {
        return Err(Refused::new(StatusCode::BAD_REQUEST, ""));
    }
    Ok(Accepted { accept: derive_accept_key(key), protocol: protocols.first().map(|p| (*p).to_owned()) })
}

/// An `Origin` upstream accepts: a non-empty absolute URL or absolute path (Go's
/// `url.ParseRequestURI`).
fn valid_origin(origin: &str) -> bool {
    if origin.starts_with('/') {
        return true;
    }
    match origin.split_once(':') {
        Some((scheme, rest)) => {
            let mut chars = scheme.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                && !rest.is_empty()
        }
        None => false,
    }
}

/// The `101` for an accepted handshake.
pub fn switching_protocols(accepted: &Accepted) -> Response {
    let mut response = Response::new(crate::body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(value) = HeaderValue::from_str(&accepted.accept) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, value);
    }
    if let Some(value) = accepted.protocol.as_deref().and_then(|p| HeaderValue::from_str(p).ok()) {
        headers.insert(SEC_WEBSOCKET_PROTOCOL, value);
    }
    response
}

/// One watch frame as a message: text for JSON (upstream's text framing), without the
/// stream's trailing newline; binary if the bytes are not UTF-8.
pub fn message(mut frame: Bytes) -> Message {
    if frame.ends_with(b"\n") {
        frame.truncate(frame.len() - 1);
    }
    match Utf8Bytes::try_from(frame.clone()) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Binary(frame),
    }
}

/// Answers a watch upgrade: checks the handshake and, when it passes, spawns the task that
/// sends `frames` over the upgraded connection and returns the `101`.
pub fn serve(headers: &HeaderMap, on_upgrade: OnUpgrade, frames: EncodedWatch) -> Response {
    let accepted = match handshake(headers) {
        Ok(accepted) => accepted,
        Err(refused) => return refused.into_response(),
    };
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
                pump(ws, frames).await;
            }
            Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
        }
    });
    switching_protocols(&accepted)
}

/// Sends each frame as a message until the watch or the client ends, then closes.
async fn pump<S>(mut ws: WebSocketStream<S>, mut frames: EncodedWatch)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        tokio::select! {
            frame = frames.next() => match frame {
                Some(frame) => {
                    if ws.send(message(frame)).await.is_err() {
                        return;
                    }
                }
                None => break,
            },
            incoming = ws.next() => match incoming {
                // The client should send nothing; anything but a close is ignored.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    drop(frames);
    let _ = ws.close(None).await;
    // Wait (briefly) for the client's Close, then end TLS and TCP cleanly.
    let drain = async { while let Some(Ok(_)) = ws.next().await {} };
    let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
    let _ = tokio::io::AsyncWriteExt::shutdown(ws.get_mut()).await;
}

#[cfg(test)]
mod tests;
