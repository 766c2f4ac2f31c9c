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
use crate::chain::HandlerService;
use crate::filters::Next;
use crate::filters::authentication::PeerCertificates;
use crate::shutdown::Shutdown;

/// The client's address, attached to each request (for audit `sourceIPs`).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// The longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Accepts connections until `shutdown` fires, then drains in-flight requests.
pub async fn serve(listener: TcpListener, tls: ServerTls, service: HandlerService, shutdown: Shutdown) {
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
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
        let service = service.clone();
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
                let next = Next::new(service.clone());
                async move { Ok::<_, std::convert::Infallible>(next.run(request).await) }
            });
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), hyper_service);
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
