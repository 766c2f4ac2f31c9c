//! The load client: HTTP/2 multiplexed over a small pool of connections, or HTTP/1.1 with one
//! connection per worker; TLS with rustls (ring), client certificates or a bearer token.
//!
//! A [`Client`] is shared by all workers; each worker takes a [`Session`], which holds its
//! HTTP/1.1 connection or picks its slot of the HTTP/2 pool. Broken connections are replaced on
//! the next request.

mod stream;
mod target;
pub mod tls;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

pub use self::stream::Stream;
pub use self::target::Target;
use self::tls::TlsOptions;
use crate::error::BenchError;

/// The HTTP version to speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum HttpVersion {
    /// HTTP/1.1, one connection per worker (like `hey`).
    #[serde(rename = "http/1.1")]
    H1,
    /// HTTP/2, workers multiplexed over a pool of connections.
    #[default]
    #[serde(rename = "h2")]
    H2,
}

impl HttpVersion {
    /// `h2` or `http/1.1`.
    pub fn name(self) -> &'static str {
        match self {
            HttpVersion::H1 => "http/1.1",
            HttpVersion::H2 => "h2",
        }
    }

    /// The ALPN protocol id.
    pub fn alpn(self) -> &'static [u8] {
        match self {
            HttpVersion::H1 => b"http/1.1",
            HttpVersion::H2 => b"h2",
        }
    }
}

/// How to build a [`Client`].
#[derive(Clone, Default)]
pub struct ClientOptions {
    /// HTTP/1.1 or HTTP/2.
    pub version: HttpVersion,
    /// Size of the HTTP/2 connection pool (ignored for HTTP/1.1). At least 1.
    pub connections: usize,
    /// Trust and client certificate.
    pub tls: TlsOptions,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Added to every request.
    pub headers: HeaderMap,
    /// Per request, including reading the whole body.
    pub timeout: Option<Duration>,
}

/// A request failed without an HTTP status (connect, TLS, protocol, timeout).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RequestError(pub String);

/// A shared client for one target.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    options: ClientOptions,
    connector: Option<TlsConnector>,
    server_name: rustls::pki_types::ServerName<'static>,
    pool: Vec<H2Slot>,
}

/// One pooled HTTP/2 connection, replaced when it breaks.
#[derive(Default)]
struct H2Slot {
    sender: Mutex<Option<http2::SendRequest<Full<Bytes>>>>,
    connecting: tokio::sync::Mutex<()>,
}

// === impl Client ===

impl Client {
    /// A client for `target`. Connects lazily.
    pub fn new(target: Target, options: ClientOptions) -> Result<Client, BenchError> {
        let connector = if target.tls {
            let config = tls::client_config(&options.tls, options.version.alpn())?;
            Some(TlsConnector::from(Arc::new(config)))
        } else {
            None
        };
        let server_name = tls::server_name(&target.host)?;
        let pool_size = match options.version {
            HttpVersion::H1 => 0,
            HttpVersion::H2 => options.connections.max(1),
        };
        let pool = (0..pool_size).map(|_| H2Slot::default()).collect();
        Ok(Client { inner: Arc::new(Inner { target, options, connector, server_name, pool }) })
    }

    /// A client like this one with its own pool of `connections` HTTP/2 connections (for
    /// many long-running requests, such as watches, next to the load).
    pub fn with_connections(&self, connections: usize) -> Client {
        let inner = &self.inner;
        let pool_size = match inner.options.version {
            HttpVersion::H1 => 0,
            HttpVersion::H2 => connections.max(1),
        };
        Client {
            inner: Arc::new(Inner {
                target: inner.target.clone(),
                options: ClientOptions { connections, ..inner.options.clone() },
                connector: inner.connector.clone(),
                server_name: inner.server_name.clone(),
                pool: (0..pool_size).map(|_| H2Slot::default()).collect(),
            }),
        }
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.inner.target
    }

    /// The HTTP version spoken.
    pub fn version(&self) -> HttpVersion {
        self.inner.options.version
    }

    /// A session for worker number `worker`.
    pub fn session(&self, worker: usize) -> Session {
        Session { client: self.clone(), worker, h1: None }
    }

    /// Builds a request to `path_and_query` (absolute path on the target) with the client's
    /// default headers and credentials. `content_type` is set when given.
    pub fn request(
        &self,
        method: Method,
        path_and_query: &str,
        body: Bytes,
        content_type: Option<&'static str>,
    ) -> Request<Full<Bytes>> {
        let target = &self.inner.target;
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method;
        let uri = match self.inner.options.version {
            HttpVersion::H2 => format!("{}{}", target.origin(), path_and_query),
            HttpVersion::H1 => path_and_query.to_owned(),
        };
        *request.uri_mut() = uri.parse::<Uri>().unwrap_or_else(|_| Uri::from_static("/"));
        let headers = request.headers_mut();
        if self.inner.options.version == HttpVersion::H1 {
            headers.insert(
                HOST,
                HeaderValue::from_str(target.authority.as_str()).expect("authority is a valid header"),
            );
        }
        for (name, value) in &self.inner.options.headers {
            headers.append(name.clone(), value.clone());
        }
        if let Some(token) = &self.inner.options.token
            && let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}"))
        {
            headers.insert(AUTHORIZATION, value);
        }
        if let Some(content_type) = content_type
            && !headers.contains_key(CONTENT_TYPE)
        {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        request
    }

    async fn connect(&self) -> Result<TokioIo<Stream>, RequestError> {
        let addr = self.inner.target.socket_addr();
        let tcp = TcpStream::connect(&addr).await.map_err(|e| RequestError(format!("connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let stream = match &self.inner.connector {
            None => Stream::Plain(tcp),
            Some(connector) => {
                let tls = connector
                    .connect(self.inner.server_name.clone(), tcp)
                    .await
                    .map_err(|e| RequestError(format!("tls: {e}")))?;
                let negotiated = tls.get_ref().1.alpn_protocol();
                if negotiated != Some(self.inner.options.version.alpn()) {
                    return Err(RequestError(format!(
                        "server did not agree to ALPN {:?} (got {:?})",
                        String::from_utf8_lossy(self.inner.options.version.alpn()),
                        negotiated.map(String::from_utf8_lossy)
                    )));
                }
                Stream::Tls(Box::new(tls))
            }
        };
        Ok(TokioIo::new(stream))
    }

    async fn connect_h2(&self) -> Result<http2::SendRequest<Full<Bytes>>, RequestError> {
        let io = self.connect().await?;
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(16 << 20)
            .max_frame_size(1 << 20)
            .handshake(io)
            .await
            .map_err(|e| RequestError(format!("h2 handshake: {e}")))?;
        tokio::spawn(connection);
        Ok(sender)
    }

    async fn connect_h1(&self) -> Result<http1::SendRequest<Full<Bytes>>, RequestError> {
        let io = self.connect().await?;
        let (sender, connection) =
            http1::handshake(io).await.map_err(|e| RequestError(format!("http/1.1 handshake: {e}")))?;
        tokio::spawn(connection);
        Ok(sender)
    }

    async fn h2_sender(&self, worker: usize) -> Result<http2::SendRequest<Full<Bytes>>, RequestError> {
        let slot = &self.inner.pool[worker % self.inner.pool.len()];
        if let Some(sender) = live(&slot.sender) {
            return Ok(sender);
        }
        let _connecting = slot.connecting.lock().await;
        if let Some(sender) = live(&slot.sender) {
            return Ok(sender);
        }
        let sender = self.connect_h2().await?;
        *slot.sender.lock().unwrap_or_else(|p| p.into_inner()) = Some(sender.clone());
        Ok(sender)
    }
}

fn live(slot: &Mutex<Option<http2::SendRequest<Full<Bytes>>>>) -> Option<http2::SendRequest<Full<Bytes>>> {
    slot.lock().unwrap_or_else(|p| p.into_inner()).as_ref().filter(|s| !s.is_closed()).cloned()
}

/// One worker's view of the client.
pub struct Session {
    client: Client,
    worker: usize,
    h1: Option<http1::SendRequest<Full<Bytes>>>,
}

/// A response read to the end.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Bytes,
}

// === impl Session ===

impl Session {
    /// The client this session belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Makes sure this session's connection is up (its HTTP/1.1 connection, or its slot of
    /// the HTTP/2 pool).
    pub async fn connect(&mut self) -> Result<(), RequestError> {
        match self.client.inner.options.version {
            HttpVersion::H2 => self.client.h2_sender(self.worker).await.map(drop),
            HttpVersion::H1 => {
                if self.h1.as_ref().is_none_or(|s| s.is_closed()) {
                    self.h1 = Some(self.client.connect_h1().await?);
                }
                Ok(())
            }
        }
    }

    /// Sends `request` and returns the response head with its streaming body.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, RequestError> {
        match self.client.inner.options.version {
            HttpVersion::H2 => {
                let mut sender = self.client.h2_sender(self.worker).await?;
                sender.send_request(request).await.map_err(|e| RequestError(format!("h2: {e}")))
            }
            HttpVersion::H1 => {
                let mut sender = match self.h1.take() {
                    Some(sender) if !sender.is_closed() => sender,
                    _ => self.client.connect_h1().await?,
                };
                sender.ready().await.map_err(|e| RequestError(format!("http/1.1: {e}")))?;
                let response =
                    sender.send_request(request).await.map_err(|e| RequestError(format!("http/1.1: {e}")))?;
                self.h1 = Some(sender);
                Ok(response)
            }
        }
    }

    /// Sends `request` and reads the body, discarding it. Returns the status and body size.
    pub async fn discard(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, u64), RequestError> {
        let limit = self.client.inner.options.timeout;
        bounded(limit, async {
            let response = self.send(request).await?;
            let status = response.status();
            let mut body = response.into_body();
            let mut bytes = 0u64;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| RequestError(format!("body: {e}")))?;
                if let Some(data) = frame.data_ref() {
                    bytes += data.len() as u64;
                }
            }
            Ok((status, bytes))
        })
        .await
    }

    /// Sends `request` and collects the body.
    pub async fn fetch(&mut self, request: Request<Full<Bytes>>) -> Result<Fetched, RequestError> {
        let limit = self.client.inner.options.timeout;
        bounded(limit, async {
            let response = self.send(request).await?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| RequestError(format!("body: {e}")))?
                .to_bytes();
            Ok(Fetched { status, body })
        })
        .await
    }
}

/// Runs `work`, failing it after `limit`.
async fn bounded<T>(
    limit: Option<Duration>,
    work: impl Future<Output = Result<T, RequestError>>,
) -> Result<T, RequestError> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, work)
            .await
            .map_err(|_| RequestError(format!("timeout after {limit:?}")))?,
        None => work.await,
    }
}

/// `request` with its `Accept` set to `accept`, replacing any default one; `None` leaves it.
pub fn accepting<B>(mut request: Request<B>, accept: Option<&'static str>) -> Request<B> {
    if let Some(accept) = accept {
        request.headers_mut().insert(http::header::ACCEPT, HeaderValue::from_static(accept));
    }
    request
}

/// Parses a `Name: value` header argument.
pub fn parse_header(raw: &str) -> Result<(HeaderName, HeaderValue), BenchError> {
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| BenchError::Usage(format!("header {raw:?}: expected 'Name: value'")))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|e| BenchError::Usage(format!("header name {name:?}: {e}")))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|e| BenchError::Usage(format!("header value {value:?}: {e}")))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        let (name, value) = parse_header("Accept:  application/json ").unwrap();
        assert_eq!(name, http::header::ACCEPT);
        assert_eq!(value, "application/json");
        let (_, value) = parse_header("X-Time: 12:30").unwrap();
        assert_eq!(value, "12:30");
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
    }

    #[test]
    fn accepting_replaces_the_accept_header_or_leaves_it() {
        let mut request = Request::new(());
        request.headers_mut().insert(http::header::ACCEPT, HeaderValue::from_static("application/json"));
        let kept = accepting(request, None);
        assert_eq!(kept.headers()[http::header::ACCEPT], "application/json");
        let replaced = accepting(kept, Some("application/vnd.kubernetes.protobuf"));
        let values: Vec<_> = replaced.headers().get_all(http::header::ACCEPT).iter().collect();
        assert_eq!(values, ["application/vnd.kubernetes.protobuf"]);
    }

    #[test]
    fn requests_carry_authority_token_and_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("x-a", HeaderValue::from_static("1"));
        let options = |version| ClientOptions {
            version,
            connections: 1,
            token: Some("t".into()),
            headers: headers.clone(),
            tls: TlsOptions { insecure: true, ..TlsOptions::default() },
            timeout: None,
        };
        let target = Target::parse("https://127.0.0.1:9/base").unwrap();
        let h2 = Client::new(target.clone(), options(HttpVersion::H2)).unwrap();
        let req = h2.request(Method::POST, "/p?q=1", Bytes::from_static(b"{}"), Some("application/json"));
        assert_eq!(req.uri(), "https://127.0.0.1:9/p?q=1");
        assert!(!req.headers().contains_key(HOST));
        assert_eq!(req.headers()[AUTHORIZATION], "Bearer t");
        assert_eq!(req.headers()["x-a"], "1");
        assert_eq!(req.headers()[CONTENT_TYPE], "application/json");

        let h1 = Client::new(target, options(HttpVersion::H1)).unwrap();
        let req = h1.request(Method::GET, "/p", Bytes::new(), None);
        assert_eq!(req.uri(), "/p");
        assert_eq!(req.headers()[HOST], "127.0.0.1:9");
        assert!(!req.headers().contains_key(CONTENT_TYPE));
    }
}
