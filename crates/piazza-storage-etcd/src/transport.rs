//! The gRPC transport for plain-HTTP etcd endpoints: etcd-client's calls carried straight
//! over an [`h2`] connection.
//!
//! etcd-client's own channel (tonic's) puts three hand-offs between a call and the socket: a
//! `tower::Buffer` worker task, hyper's dispatch queue to the connection task, and a spawned
//! task that pipes the request body once flow-control capacity is assigned. Each is a task
//! wake-up, often on the other core, and the body pipe sends HEADERS, DATA and the closing
//! empty DATA frame in separate writes. A unary etcd call has its whole body ready at once,
//! so here the caller's task opens the stream and queues HEADERS and the DATA frame that
//! ends it together; the connection task writes them in one go. Measured in
//! docs/benchmarks.md ("CREATE on etcd: the transport and the write path"): 9 to 18 µs less
//! client CPU per transaction.
//!
//! Streaming calls (watches) send what their body has ready, then a task forwards the rest.
//! The connection is opened on first use and again after it fails, trying the endpoints in
//! order; a keep-alive ping drops a connection whose peer stopped answering, as
//! etcd-client's channel does with its keep-alive options. TLS endpoints keep etcd-client's
//! own channel (see [`connect_client`]).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use h2::client::SendRequest;
use http::uri::{Authority, PathAndQuery, Scheme};
use http_body::{Body, Frame};
use tokio::net::TcpStream;
use tonic::Status;

/// Connects etcd-client's [`Client`](etcd_client::Client) the way [`crate::EtcdStore`]
/// does: over the direct h2 transport when every endpoint is a plain `http://host:port`
/// URL, over etcd-client's own channel otherwise (TLS). `connect_timeout` bounds opening a
/// connection; `options` carries the rest (TLS, `require_leader`, credentials).
///
/// Public so that a load tool measuring raw etcd throughput pays the same client costs as
/// the store.
pub async fn connect_client(
    endpoints: &[String],
    connect_timeout: Duration,
    options: etcd_client::ConnectOptions,
) -> Result<etcd_client::Client, etcd_client::Error> {
    match H2Channel::for_endpoints(endpoints, connect_timeout, crate::options::KEEP_ALIVE) {
        Some(channel) => {
            let channel = etcd_client::Channel::Custom(tower::util::BoxCloneSyncService::new(channel));
            etcd_client::Client::from_channel(channel, Some(options)).await
        }
        None => etcd_client::Client::connect(endpoints, Some(options)).await,
    }
}

/// How often an idle connection is pinged, and how long a ping may go unanswered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeepAlive {
    /// Between pings.
    pub(crate) interval: Duration,
    /// For the answer.
    pub(crate) timeout: Duration,
}

/// A cloneable gRPC channel over one h2 connection to the first etcd endpoint that answers.
#[derive(Clone)]
pub(crate) struct H2Channel {
    shared: Arc<Shared>,
}

struct Shared {
    /// `host:port` of each endpoint, in the order they are tried.
    endpoints: Vec<Authority>,
    connect_timeout: Duration,
    keep_alive: KeepAlive,
    /// The open connection's request handle and the endpoint it goes to, if any.
    open: Mutex<Option<Open>>,
    /// Held while connecting, so that concurrent calls open one connection, not many.
    connecting: tokio::sync::Mutex<()>,
}

/// An open connection: its request handle and the endpoint it goes to.
#[derive(Clone)]
struct Open {
    sender: SendRequest<Bytes>,
    endpoint: Authority,
}

// === impl H2Channel ===

impl H2Channel {
    /// A channel to `endpoints` (`http://host:port` URLs); `None` if any is not plain HTTP.
    /// Nothing is connected until the first call.
    pub(crate) fn for_endpoints(
        endpoints: &[String],
        connect_timeout: Duration,
        keep_alive: KeepAlive,
    ) -> Option<H2Channel> {
        let endpoints = endpoints.iter().map(|e| plain_http_authority(e)).collect::<Option<Vec<_>>>()?;
        if endpoints.is_empty() {
            return None;
        }
        let shared = Shared {
            endpoints,
            connect_timeout,
            keep_alive,
            open: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
        };
        Some(H2Channel { shared: Arc::new(shared) })
    }

    /// The open connection, connecting first if there is none.
    async fn open(&self) -> Result<Open, Status> {
        if let Some(open) = self.cached() {
            return Ok(open);
        }
        let _one_at_a_time = self.shared.connecting.lock().await;
        if let Some(open) = self.cached() {
            return Ok(open);
        }
        let mut failures = Vec::new();
        for endpoint in &self.shared.endpoints {
            match self.connect(endpoint).await {
                Ok(sender) => {
                    let open = Open { sender, endpoint: endpoint.clone() };
                    *self.slot() = Some(open.clone());
                    return Ok(open);
                }
                Err(e) => failures.push(format!("{endpoint}: {e}")),
            }
        }
        Err(Status::unavailable(format!("cannot connect to etcd: {}", failures.join("; "))))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Open>> {
        self.shared.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cached(&self) -> Option<Open> {
        self.slot().clone()
    }

    /// Forgets the connection (it failed); the next call opens a new one.
    fn forget(&self) {
        *self.slot() = None;
    }

    /// Opens a connection to `endpoint` and starts the task that drives it.
    async fn connect(&self, endpoint: &Authority) -> Result<SendRequest<Bytes>, String> {
        let opening = async {
            let tcp = TcpStream::connect(endpoint.as_str()).await.map_err(|e| e.to_string())?;
            tcp.set_nodelay(true).map_err(|e| e.to_string())?;
            h2::client::Builder::new()
                // etcd's responses (a page of a large list) should not stall on the
                // 64 KiB default windows.
                .initial_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .max_frame_size(MAX_FRAME)
                .handshake::<_, Bytes>(tcp)
                .await
                .map_err(|e| e.to_string())
        };
        let (sender, mut connection) = tokio::time::timeout(self.shared.connect_timeout, opening)
            .await
            .map_err(|_| format!("no connection within {:?}", self.shared.connect_timeout))??;
        let pings = connection.ping_pong().ok_or("the h2 connection gave no ping handle")?;
        let keep_alive = self.shared.keep_alive;
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            tokio::select! {
                result = &mut connection => {
                    if let Err(e) = result {
                        tracing::debug!(%endpoint, error = %e, "etcd connection closed");
                    }
                }
                () = keep_pinging(pings, keep_alive) => {
                    tracing::warn!(%endpoint, "etcd stopped answering pings; dropping the connection");
                }
            }
        });
        Ok(sender)
    }

    /// A connection ready for one more stream. A connection found dead is replaced once:
    /// nothing has been sent on it, so trying again is safe.
    async fn ready(&self) -> Result<(SendRequest<Bytes>, Authority), Status> {
        let mut replaced = false;
        loop {
            let Open { sender, endpoint } = self.open().await?;
            match sender.ready().await {
                Ok(sender) => return Ok((sender, endpoint)),
                Err(e) => {
                    self.forget();
                    if replaced {
                        return Err(unavailable(&e));
                    }
                    replaced = true;
                }
            }
        }
    }

    /// One gRPC call.
    async fn call(
        self,
        request: http::Request<tonic::body::Body>,
    ) -> Result<http::Response<tonic::body::Body>, Status> {
        let (mut sender, endpoint) = self.ready().await?;
        let (mut head, mut body) = request.into_parts();
        head.uri = absolute_uri(&head.uri, &endpoint)?;
        let (ready, ended) = take_ready(&mut body).await?;
        let (response, mut stream) =
            sender.send_request(http::Request::from_parts(head, ()), false).map_err(|e| unavailable(&e))?;
        // Each chunk as it is (tonic encodes one message per chunk), the last one ending the
        // stream if the body has ended.
        let last = ready.len().saturating_sub(1);
        for (i, chunk) in ready.into_iter().enumerate() {
            stream.send_data(chunk, ended && i == last).map_err(|e| unavailable(&e))?;
        }
        if !ended {
            tokio::spawn(forward_body(body, stream));
        }
        let response = response.await.map_err(|e| unavailable(&e))?;
        Ok(response.map(|received| tonic::body::Body::new(Received { stream: received, data_done: false })))
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for H2Channel {
    type Response = http::Response<tonic::body::Body>;
    type Error = tower::BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is awaited per call, on the connection's own stream limit.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let channel = self.clone();
        Box::pin(async move { channel.call(request).await.map_err(Into::into) })
    }
}

/// The stream flow-control window we grant etcd.
const STREAM_WINDOW: u32 = 4 << 20;
/// The connection flow-control window we grant etcd.
const CONNECTION_WINDOW: u32 = 16 << 20;
/// The largest frame we accept.
const MAX_FRAME: u32 = 1 << 20;

/// `host:port` of an `http://host:port` URL (a trailing `/` allowed); `None` otherwise.
fn plain_http_authority(endpoint: &str) -> Option<Authority> {
    let uri: http::Uri = endpoint.parse().ok()?;
    let plain = uri.scheme() == Some(&Scheme::HTTP)
        && uri.port_u16().is_some()
        && uri.path_and_query().is_none_or(|p| p.as_str() == "/");
    if plain { uri.authority().cloned() } else { None }
}

/// The request's URI with the endpoint as authority (tonic sends the path only).
fn absolute_uri(uri: &http::Uri, endpoint: &Authority) -> Result<http::Uri, Status> {
    let path = uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
    http::Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(endpoint.clone())
        .path_and_query(path)
        .build()
        .map_err(|e| Status::internal(format!("building the etcd request URI: {e}")))
}

/// The chunks the body has ready now, and whether that is all of it. A body that ends
/// without data yields one empty chunk, so that the stream is still ended. An encoding error
/// (a message over the size limit) fails the call before anything is sent.
async fn take_ready(body: &mut tonic::body::Body) -> Result<(Vec<Bytes>, bool), Status> {
    let mut ready = Vec::new();
    let ended = std::future::poll_fn(|cx| {
        loop {
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        ready.push(data);
                    }
                }
                Poll::Ready(Some(Err(status))) => return Poll::Ready(Err(status)),
                Poll::Ready(None) => return Poll::Ready(Ok(true)),
                Poll::Pending => return Poll::Ready(Ok(false)),
            }
        }
    })
    .await?;
    if ended && ready.is_empty() {
        ready.push(Bytes::new());
    }
    Ok((ready, ended))
}

/// Sends the rest of a streaming call's body as it comes, then ends the stream.
async fn forward_body(mut body: tonic::body::Body, mut stream: h2::SendStream<Bytes>) {
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let sent = match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => stream.send_data(data, false),
                Err(_) => Ok(()),
            },
            Some(Err(e)) => {
                tracing::warn!(error = %e, "encoding an etcd stream message failed");
                stream.send_reset(h2::Reason::CANCEL);
                return;
            }
            None => {
                let _ = stream.send_data(Bytes::new(), true);
                return;
            }
        };
        if sent.is_err() {
            return; // the stream is gone: etcd or the connection ended it
        }
    }
}

/// Pings every `interval`; returns when a ping goes unanswered for `timeout`.
async fn keep_pinging(mut pings: h2::PingPong, keep_alive: KeepAlive) {
    loop {
        tokio::time::sleep(keep_alive.interval).await;
        match tokio::time::timeout(keep_alive.timeout, pings.ping(h2::Ping::opaque())).await {
            Ok(Ok(_pong)) => {}
            Ok(Err(_)) | Err(_) => return,
        }
    }
}

fn unavailable(error: &h2::Error) -> Status {
    Status::unavailable(format!("etcd connection: {error}"))
}

/// A response body read from an h2 stream: its data, then its trailers (the gRPC status).
struct Received {
    stream: h2::RecvStream,
    data_done: bool,
}

impl Body for Received {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if !self.data_done {
            match self.stream.poll_data(cx) {
                Poll::Ready(Some(Ok(data))) => {
                    // Give the window back at once: tonic buffers the message itself.
                    let _ = self.stream.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => self.data_done = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        match self.stream.poll_trailers(cx) {
            Poll::Ready(Ok(Some(trailers))) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Poll::Ready(Ok(None)) => Poll::Ready(None),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_endpoints_with_a_port_use_the_h2_transport() {
        let authority = |e: &str| plain_http_authority(e).map(|a| a.to_string());
        assert_eq!(authority("http://127.0.0.1:2379"), Some("127.0.0.1:2379".to_owned()));
        assert_eq!(authority("http://etcd-0:2379/"), Some("etcd-0:2379".to_owned()));
        assert_eq!(authority("https://127.0.0.1:2379"), None);
        assert_eq!(authority("http://127.0.0.1"), None, "no port: etcd-client's defaults apply");
        assert_eq!(authority("http://127.0.0.1:2379/prefix"), None);
        assert_eq!(authority("unix:///run/etcd.sock"), None);
        assert_eq!(authority("not a url"), None);
    }

    #[test]
    fn a_mixed_endpoint_list_keeps_etcd_clients_channel() {
        let keep_alive = KeepAlive { interval: Duration::from_secs(30), timeout: Duration::from_secs(10) };
        let endpoints = ["http://a:1".to_owned(), "https://b:2".to_owned()];
        assert!(H2Channel::for_endpoints(&endpoints, Duration::from_secs(1), keep_alive).is_none());
        assert!(H2Channel::for_endpoints(&[], Duration::from_secs(1), keep_alive).is_none());
        assert!(H2Channel::for_endpoints(&endpoints[..1], Duration::from_secs(1), keep_alive).is_some());
    }

    #[test]
    fn requests_get_the_endpoint_as_authority() {
        let endpoint: Authority = "127.0.0.1:2379".parse().unwrap();
        let uri = absolute_uri(&"/etcdserverpb.KV/Txn".parse().unwrap(), &endpoint).unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:2379/etcdserverpb.KV/Txn");
    }

    fn body_of(frames: Vec<Result<&'static [u8], Status>>, then_pending: bool) -> tonic::body::Body {
        use futures::StreamExt;
        let frames = futures::stream::iter(frames).map(|f| f.map(|b| Frame::data(Bytes::from_static(b))));
        let tail = futures::stream::iter(then_pending.then_some(())).then(|()| std::future::pending());
        tonic::body::Body::new(http_body_util::StreamBody::new(frames.chain(tail)))
    }

    #[tokio::test]
    async fn a_unary_body_is_taken_whole_and_a_streaming_one_as_far_as_it_is_ready() {
        let (chunks, ended) = take_ready(&mut body_of(vec![Ok(b"one"), Ok(b"two")], false)).await.unwrap();
        assert_eq!((chunks, ended), (vec![Bytes::from_static(b"one"), Bytes::from_static(b"two")], true));
        let (chunks, ended) = take_ready(&mut body_of(vec![Ok(b"first")], true)).await.unwrap();
        assert_eq!((chunks, ended), (vec![Bytes::from_static(b"first")], false));
        // An empty body still ends the stream, with one empty DATA frame.
        let (chunks, ended) = take_ready(&mut tonic::body::Body::empty()).await.unwrap();
        assert_eq!((chunks, ended), (vec![Bytes::new()], true));
        // An encoding error fails the call before anything is sent.
        let failing = vec![Ok(&b"part"[..]), Err(Status::out_of_range("message too large"))];
        let err = take_ready(&mut body_of(failing, false)).await.unwrap_err();
        assert_eq!((err.code(), err.message()), (tonic::Code::OutOfRange, "message too large"));
    }

    #[tokio::test]
    async fn a_peer_that_stops_answering_pings_is_dropped() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        // Accepts, then never reads or writes: the h2 preface goes out, no ping comes back.
        let silent = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            std::future::pending::<()>().await;
            drop(socket);
        });
        let keep_alive =
            KeepAlive { interval: Duration::from_millis(50), timeout: Duration::from_millis(100) };
        let channel = H2Channel::for_endpoints(&[endpoint], Duration::from_secs(2), keep_alive).unwrap();
        let Ok(open) = channel.open().await else { panic!("the TCP connection and preface succeed") };
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(
            open.sender.ready().await.is_err(),
            "the connection should be dropped after an unanswered ping"
        );
        silent.abort();
    }

    #[tokio::test]
    async fn nothing_listening_is_unavailable_naming_every_endpoint() {
        let keep_alive = KeepAlive { interval: Duration::from_secs(30), timeout: Duration::from_secs(10) };
        // Port 1 on loopback: connection refused at once.
        let endpoints = ["http://127.0.0.1:1".to_owned(), "http://127.0.0.2:1".to_owned()];
        let channel = H2Channel::for_endpoints(&endpoints, Duration::from_secs(2), keep_alive).unwrap();
        let Err(err) = channel.open().await else { panic!("nothing listens on port 1") };
        assert_eq!(err.code(), tonic::Code::Unavailable);
        assert!(err.message().contains("127.0.0.1:1") && err.message().contains("127.0.0.2:1"), "{err}");
    }
}
