//! The transport limit: a minimal hyper + rustls server (TLS 1.3, ring, ALPN h2 and http/1.1,
//! hyper-util's auto builder, as the Piazza server uses) on 127.0.0.1:0 that answers every
//! request with a fixed body, driven by the same client as the real scenarios.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::client::tls::{TlsOptions, provider};
use crate::error::BenchError;

/// The size of one Pizza as pizza-apiserver encodes it in JSON (v1beta1, one topping, as the
/// scenarios create it), measured with `GET`. The suite measures the real size instead.
pub const PIZZA_BODY_SIZE: usize = 339;

/// The path requested from the transport server: shaped like a GET of one pizza, so request
/// headers are the same size.
pub const BASELINE_PATH: &str =
    "/apis/restaurant.programming-kubernetes.info/v1beta1/namespaces/piazza-bench-get/pizzas/pizza-0";

/// A running transport server; stops when dropped.
pub struct TransportServer {
    addr: SocketAddr,
    ca_pem: Vec<u8>,
    task: JoinHandle<()>,
}

impl TransportServer {
    /// Starts the server on 127.0.0.1 (an ephemeral port), answering `body_size` bytes.
    pub async fn start(body_size: usize) -> Result<TransportServer, BenchError> {
        let (ca_pem, config) = tls_config()?;
        let listener =
            TcpListener::bind("127.0.0.1:0").await.map_err(|e| BenchError::io("binding 127.0.0.1:0", e))?;
        let addr = listener.local_addr().map_err(|e| BenchError::io("local address", e))?;
        let task = tokio::spawn(serve(listener, TlsAcceptor::from(Arc::new(config)), fixed_body(body_size)));
        Ok(TransportServer { addr, ca_pem, task })
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// PEM of the CA that signed the serving certificate.
    pub fn ca_pem(&self) -> &[u8] {
        &self.ca_pem
    }

    /// Trust for a client of this server.
    pub fn tls_options(&self) -> TlsOptions {
        TlsOptions { ca_pem: Some(self.ca_pem.clone()), ..TlsOptions::default() }
    }
}

impl Drop for TransportServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A JSON object of exactly `size` bytes (or `size` bytes of padding when too small for one).
pub fn fixed_body(size: usize) -> Bytes {
    const WRAP: usize = r#"{"pad":""}"#.len();
    if size < WRAP {
        return Bytes::from(vec![b'x'; size]);
    }
    Bytes::from(format!(r#"{{"pad":"{}"}}"#, "x".repeat(size - WRAP)))
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, body: Bytes) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    // Dropped (and with it every connection task) when the server task is aborted.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, builder, body) = (acceptor.clone(), Arc::clone(&builder), body.clone());
        connections.spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else { return };
            let service = hyper::service::service_fn(move |_request: Request<Incoming>| {
                let mut response = Response::new(Full::new(body.clone()));
                response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// A throwaway CA and a serving certificate for 127.0.0.1 signed by it; TLS 1.3 only.
fn tls_config() -> Result<(Vec<u8>, ServerConfig), BenchError> {
    let tls = |e: rcgen::Error| BenchError::Tls(e.to_string());
    let ca_key = KeyPair::generate().map_err(tls)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "piazza-bench transport CA");
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().map_err(tls)?;
    let leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).map_err(tls)?;
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).map_err(tls)?;
    let key = PrivateKeyDer::from_pem_slice(leaf_key.serialize_pem().as_bytes())
        .map_err(|e| BenchError::Tls(e.to_string()))?;
    let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone()];
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| BenchError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| BenchError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((ca_cert.pem().into_bytes(), config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_bodies_have_the_exact_size() {
        for size in [0, 5, 10, 11, 480, 4096] {
            assert_eq!(fixed_body(size).len(), size);
        }
        let body = fixed_body(480);
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
    }
}
