//! [`TestClient`]: an HTTPS client for tests. Every request opens its own TCP + TLS
//! connection (cheap on loopback), so requests never interfere with each other and a test
//! can observe exactly when the server stops accepting connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;

use crate::certs::Identity;
use crate::response::TestResponse;
use crate::watch::WatchStream;

/// A boxed error, as bodies report them.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
/// The body type every request is sent with.
type RequestBody = BoxBody<Bytes, BoxError>;

/// How long a single request may take before the client gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP version a client negotiates with ALPN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/1.1 (ALPN `http/1.1`).
    Http1,
    /// HTTP/2 (ALPN `h2`).
    Http2,
}

/// Why a request failed below HTTP: connecting, the TLS handshake, or the exchange itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The TCP connection was not established (for instance refused).
    #[error("connect to {addr} failed: {source}")]
    Connect {
        /// The server address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake failed: {0}")]
    Tls(#[source] std::io::Error),
    /// The server did not agree to the HTTP version asked for.
    #[error("ALPN negotiated {negotiated:?}, wanted {wanted:?}")]
    Alpn {
        /// The version asked for.
        wanted: HttpVersion,
        /// What the server chose (raw protocol id), if anything.
        negotiated: Option<String>,
    },
    /// The HTTP exchange failed.
    #[error("HTTP error: {0}")]
    Http(#[source] hyper::Error),
    /// Reading the response body failed.
    #[error("reading the response body failed: {0}")]
    Body(#[source] BoxError),
    /// The request could not be built (bad header name or value, bad path).
    #[error("invalid request: {0}")]
    InvalidRequest(#[source] http::Error),
    /// The request took longer than the client's timeout.
    #[error("request timed out")]
    Timeout,
}

/// An HTTPS client bound to one server, trusting its CA, with an optional client
/// certificate, speaking one HTTP version.
#[derive(Clone)]
pub struct TestClient {
    addr: SocketAddr,
    version: HttpVersion,
    tls: Arc<ClientConfig>,
    ca_pem: String,
    identity: Option<Identity>,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient")
            .field("addr", &self.addr)
            .field("version", &self.version)
            .field("client_cert", &self.identity.is_some())
            .finish_non_exhaustive()
    }
}

fn tls_config(ca_pem: &str, identity: Option<&Identity>, version: HttpVersion) -> ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM parses")).expect("CA certificate is acceptable as a root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("default TLS versions are supported")
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(id) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(id.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .expect("client certificate PEM parses");
            let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).expect("client key PEM parses");
            builder.with_client_auth_cert(chain, key).expect("client certificate and key match")
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![match version {
        HttpVersion::Http1 => b"http/1.1".to_vec(),
        HttpVersion::Http2 => b"h2".to_vec(),
    }];
    config
}

/// The sending half of one connection.
enum Sender {
    Http1(hyper::client::conn::http1::SendRequest<RequestBody>),
    Http2(hyper::client::conn::http2::SendRequest<RequestBody>),
}

impl TestClient {
    /// A client for the server at `addr` trusting `ca_pem`, presenting `identity` if given.
    pub fn new(addr: SocketAddr, ca_pem: &str, identity: Option<Identity>, version: HttpVersion) -> Self {
        let tls = Arc::new(tls_config(ca_pem, identity.as_ref(), version));
        Self { addr, version, tls, ca_pem: ca_pem.to_owned(), identity }
    }

    /// The same client speaking `version`.
    pub fn with_version(&self, version: HttpVersion) -> Self {
        Self::new(self.addr, &self.ca_pem, self.identity.clone(), version)
    }

    /// The same client speaking HTTP/2.
    pub fn http2(&self) -> Self {
        self.with_version(HttpVersion::Http2)
    }

    /// The same client speaking HTTP/1.1.
    pub fn http1(&self) -> Self {
        self.with_version(HttpVersion::Http1)
    }

    /// The HTTP version this client speaks.
    pub fn version(&self) -> HttpVersion {
        self.version
    }

    /// The server address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Opens a TLS connection (ALPN offering only this client's HTTP version), for tests that
    /// speak HTTP themselves.
    pub async fn connect_tls(&self) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ClientError> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|source| ClientError::Connect { addr: self.addr, source })?;
        let _ = tcp.set_nodelay(true);
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.tls));
        let name = ServerName::IpAddress(self.addr.ip().into());
        connector.connect(name, tcp).await.map_err(ClientError::Tls)
    }

    /// Opens a new connection: TCP, TLS (checking the negotiated ALPN), HTTP handshake.
    async fn connect(&self) -> Result<Sender, ClientError> {
        let stream = self.connect_tls().await?;
        let negotiated = stream.get_ref().1.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
        let expected = match self.version {
            HttpVersion::Http1 => "http/1.1",
            HttpVersion::Http2 => "h2",
        };
        if negotiated.as_deref() != Some(expected) {
            return Err(ClientError::Alpn { wanted: self.version, negotiated });
        }
        let io = TokioIo::new(stream);
        match self.version {
            HttpVersion::Http1 => {
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(io).await.map_err(ClientError::Http)?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Ok(Sender::Http1(sender))
            }
            HttpVersion::Http2 => {
                let (sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(ClientError::Http)?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Ok(Sender::Http2(sender))
            }
        }
    }

    /// Sends `request` on a new connection and returns the response with its body still
    /// streaming. The path-and-query of the request URI is used; the client fills in the
    /// scheme and authority (HTTP/2) or the `Host` header (HTTP/1.1).
    pub async fn send<B>(&self, request: Request<B>) -> Result<Response<Incoming>, ClientError>
    where
        B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        let (mut parts, body) = request.into_parts();
        let body: RequestBody = body.map_err(Into::into).boxed();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let authority = self.addr.to_string();
        let uri = match self.version {
            HttpVersion::Http1 => path.clone(),
            HttpVersion::Http2 => format!("https://{authority}{path}"),
        };
        parts.uri = uri
            .parse::<http::Uri>()
            .map_err(|e: http::uri::InvalidUri| ClientError::InvalidRequest(e.into()))?;
        if self.version == HttpVersion::Http1 && !parts.headers.contains_key(HOST) {
            let host =
                HeaderValue::from_str(&authority).map_err(|e| ClientError::InvalidRequest(e.into()))?;
            parts.headers.insert(HOST, host);
        }
        let request = Request::from_parts(parts, body);
        let exchange = async {
            match self.connect().await? {
                Sender::Http1(mut sender) => sender.send_request(request).await.map_err(ClientError::Http),
                Sender::Http2(mut sender) => sender.send_request(request).await.map_err(ClientError::Http),
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange).await.map_err(|_| ClientError::Timeout)?
    }

    /// Sends a request with a buffered body and reads the whole response.
    pub async fn try_request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<TestResponse, ClientError> {
        let body: Bytes = body.into();
        let mut builder = Request::builder().method(method.clone()).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let has_body = !body.is_empty() || !matches!(method, Method::GET | Method::HEAD | Method::DELETE);
        if has_body && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(CONTENT_LENGTH.as_str())) {
            builder = builder.header(CONTENT_LENGTH, body.len());
        }
        let request = builder.body(Full::new(body)).map_err(ClientError::InvalidRequest)?;
        let response = self.send(request).await?;
        TestResponse::read(response).await
    }

    /// Like [`try_request`](Self::try_request), panicking on transport errors: the usual
    /// form in tests, which assert on HTTP statuses.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> TestResponse {
        match self.try_request(method.clone(), path, headers, body).await {
            Ok(response) => response,
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(Method::GET, path, &[], Bytes::new()).await
    }

    /// `GET path` with extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> TestResponse {
        self.request(Method::GET, path, headers, Bytes::new()).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> TestResponse {
        self.json_request(Method::POST, path, body, "application/json").await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &serde_json::Value) -> TestResponse {
        self.json_request(Method::PUT, path, body, "application/json").await
    }

    /// `PATCH path` with a JSON merge patch (`application/merge-patch+json`).
    pub async fn patch(&self, path: &str, body: &serde_json::Value) -> TestResponse {
        self.json_request(Method::PATCH, path, body, "application/merge-patch+json").await
    }

    /// `PATCH path` with a body of the given patch `content_type`.
    pub async fn patch_as(&self, path: &str, body: &serde_json::Value, content_type: &str) -> TestResponse {
        self.json_request(Method::PATCH, path, body, content_type).await
    }

    /// `DELETE path` without a body.
    pub async fn delete(&self, path: &str) -> TestResponse {
        self.request(Method::DELETE, path, &[], Bytes::new()).await
    }

    async fn json_request(
        &self,
        method: Method,
        path: &str,
        body: &serde_json::Value,
        content_type: &str,
    ) -> TestResponse {
        let bytes = serde_json::to_vec(body).expect("a JSON value serializes");
        self.request(method, path, &[(CONTENT_TYPE.as_str(), content_type)], bytes).await
    }

    /// Starts a request whose body the test writes piece by piece, without a
    /// `Content-Length` (so HTTP/1.1 sends it chunked). The response is read in the
    /// background; await the returned handle for it.
    pub fn streaming_request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (BodyWriter, tokio::task::JoinHandle<Result<TestResponse, ClientError>>) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let chunks = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (Ok::<_, std::convert::Infallible>(Frame::data(chunk)), rx))
        });
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(StreamBody::new(chunks));
        let client = self.clone();
        let response = tokio::spawn(async move {
            let request = request.map_err(ClientError::InvalidRequest)?;
            let response = client.send(request).await?;
            TestResponse::read(response).await
        });
        (BodyWriter { tx }, response)
    }

    /// Sends a body made of `chunks`, streamed without a `Content-Length`, and reads the
    /// response. Panics on transport errors.
    pub async fn request_chunked(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        chunks: Vec<Bytes>,
    ) -> TestResponse {
        let frames = chunks.into_iter().map(|c| Ok::<_, std::convert::Infallible>(Frame::data(c)));
        let mut builder = Request::builder().method(method.clone()).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(StreamBody::new(futures::stream::iter(frames))).expect("valid request");
        let result = match self.send(request).await {
            Ok(response) => TestResponse::read(response).await,
            Err(e) => Err(e),
        };
        result.unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Starts a watch: `GET path` (add `watch=true` or use a `/watch/` path yourself).
    ///
    /// On a 200 the body is handed back as a [`WatchStream`] of parsed JSON lines; any
    /// other status is read in full and returned as the error.
    pub async fn watch(&self, path: &str) -> Result<WatchStream, TestResponse> {
        self.watch_with(path, &[]).await
    }

    /// [`watch`](Self::watch) with extra request headers.
    pub async fn watch_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<WatchStream, TestResponse> {
        let mut builder = Request::builder().method(Method::GET).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(http_body_util::Empty::<Bytes>::new()).expect("valid watch request");
        let response = match self.send(request).await {
            Ok(r) => r,
            Err(e) => panic!("watch {path}: {e}"),
        };
        if response.status() != 200 {
            return Err(TestResponse::read(response).await.unwrap_or_else(|e| panic!("watch {path}: {e}")));
        }
        Ok(WatchStream::new(response))
    }
}

/// The writing end of a [`TestClient::streaming_request`] body. Dropping it (or
/// [`finish`](Self::finish)) ends the body.
#[derive(Debug)]
pub struct BodyWriter {
    tx: tokio::sync::mpsc::Sender<Bytes>,
}

impl BodyWriter {
    /// Sends one chunk; false if the request is already gone.
    pub async fn send(&self, chunk: impl Into<Bytes>) -> bool {
        self.tx.send(chunk.into()).await.is_ok()
    }

    /// Ends the body.
    pub fn finish(self) {}
}
