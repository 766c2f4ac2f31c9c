//! The HTTPS listener: TLS via rustls, HTTP/1.1 and HTTP/2 via ALPN (hyper-util's auto
//! builder), the peer certificates attached to each request, and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use piazza_tls::ServerTls;
use tokio::net::TcpListener;

use crate::body::BoxError;
use crate::chain::HandlerChain;
use crate::filters::authentication::PeerCertificates;
use crate::shutdown::Shutdown;
use crate::write_batching::BatchedWrites;

/// The client's address, attached to each request (for audit `sourceIPs`).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// The HTTP/2 limits of each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Http2Limits {
    /// The most streams a client may have open at once (`SETTINGS_MAX_CONCURRENT_STREAMS`,
    /// `--http2-max-streams-per-connection`); streams over it are refused with
    /// `REFUSED_STREAM`.
    pub max_concurrent_streams: u32,
    /// The most streams a client may open and reset before the server accepted them; past
    /// it the connection ends with `GOAWAY` (`ENHANCE_YOUR_CALM`): the "rapid reset" attack
    /// (CVE-2023-44487).
    pub max_pending_accept_reset_streams: usize,
    /// The most streams the server may reset because of the client's protocol errors before
    /// it ends the connection with `GOAWAY`.
    pub max_local_error_reset_streams: usize,
}

/// Upstream's default streams per connection for an aggregated server (Go's default).
pub const DEFAULT_HTTP2_MAX_STREAMS_PER_CONNECTION: u32 = 250;

impl Default for Http2Limits {
    fn default() -> Self {
        Self {
            max_concurrent_streams: DEFAULT_HTTP2_MAX_STREAMS_PER_CONNECTION,
            max_pending_accept_reset_streams: 20,
            max_local_error_reset_streams: 1024,
        }
    }
}

impl Http2Limits {
    /// The limits with `streams` concurrent streams per connection (0: the default).
    pub fn with_max_streams(streams: u32) -> Self {
        let max_concurrent_streams =
            if streams == 0 { DEFAULT_HTTP2_MAX_STREAMS_PER_CONNECTION } else { streams };
        Self { max_concurrent_streams, ..Self::default() }
    }

    /// The connection builder with these limits.
    fn builder(self) -> auto::Builder<TokioExecutor> {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http2()
            .max_concurrent_streams(self.max_concurrent_streams)
            .max_pending_accept_reset_streams(self.max_pending_accept_reset_streams)
            .max_local_error_reset_streams(self.max_local_error_reset_streams);
        builder
    }
}

/// True when the request asks to switch protocols (`Connection: Upgrade`).
pub fn wants_upgrade(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// An upgrade request that was not switched (refused, failed or unsupported) ends its
/// connection: the client may already have sent bytes of the other protocol.
pub fn close_failed_upgrade(upgrade: bool, mut response: crate::body::Response) -> crate::body::Response {
    if upgrade && response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        response.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    }
    response
}

/// The longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Accepts connections until `shutdown` fires, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    tls: ServerTls,
    chain: HandlerChain,
    http2: Http2Limits,
    shutdown: Shutdown,
) {
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(http2.builder());
    let stop = shutdown.clone().wait();
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = tls.acceptor();
        let chain = chain.clone();
        let builder = Arc::clone(&builder);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let certs = PeerCertificates(Arc::new(
                stream.get_ref().1.peer_certificates().map(|c| c.to_vec()).unwrap_or_default(),
            ));
            let hyper_service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                let mut request = request.map(|body| body.map_err(|e| -> BoxError { Box::new(e) }).boxed());
                request.extensions_mut().insert(certs.clone());
                request.extensions_mut().insert(PeerAddr(peer));
                let next = chain.start();
                let upgrade = wants_upgrade(request.headers());
                async move {
                    let response = next.run(request).await;
                    Ok::<_, std::convert::Infallible>(close_failed_upgrade(upgrade, response))
                }
            });
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(BatchedWrites::new(stream)), hyper_service);
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("some connections did not drain in time");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16) -> crate::body::Response {
        let mut response = crate::body::Response::new(crate::body::empty());
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
        response
    }

    #[test]
    fn upgrade_is_a_connection_token() {
        let mut headers = http::HeaderMap::new();
        assert!(!wants_upgrade(&headers));
        headers.insert(http::header::CONNECTION, http::HeaderValue::from_static("keep-alive, Upgrade"));
        assert!(wants_upgrade(&headers));
        headers.insert(http::header::CONNECTION, http::HeaderValue::from_static("upgrader"));
        assert!(!wants_upgrade(&headers));
    }

    #[test]
    fn only_a_failed_upgrade_closes_the_connection() {
        let closed = close_failed_upgrade(true, response(403));
        assert_eq!(closed.headers()[http::header::CONNECTION], "close");
        assert!(close_failed_upgrade(true, response(101)).headers().get(http::header::CONNECTION).is_none());
        assert!(close_failed_upgrade(false, response(403)).headers().get(http::header::CONNECTION).is_none());
    }
}
