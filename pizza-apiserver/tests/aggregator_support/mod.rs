//! A stand-in kube-aggregator for tests: a TLS reverse proxy that authenticates its callers by
//! bearer token (as kube-apiserver would), drops every identity header the caller sent, and
//! forwards the request to the extension server over TLS with the front-proxy client
//! certificate and `X-Remote-User`/`X-Remote-Group` for the caller. Response bodies are
//! streamed through unbuffered, so watches work.

#![allow(dead_code, missing_docs)] // a test-only helper

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use piazza_testing::TestClient;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ProxyBody = BoxBody<Bytes, BoxError>;

/// A user the proxy knows by bearer token.
#[derive(Clone, Debug)]
pub struct ProxyUser {
    pub name: String,
    pub groups: Vec<String>,
}

/// Header name prefixes a caller may never send through the proxy: the identity it asserts
/// upstream, and impersonation (which the aggregator's own filters would have handled).
const IDENTITY_PREFIXES: &[&str] = &["x-remote-", "impersonate-"];

/// Whether `name` is an identity header the proxy strips from incoming requests.
pub fn is_identity_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    IDENTITY_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

/// The user a bearer `Authorization` value names, if the token is known.
pub fn authenticate<'a>(
    tokens: &'a BTreeMap<String, ProxyUser>,
    headers: &HeaderMap,
) -> Option<&'a ProxyUser> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    tokens.get(token.trim())
}

/// The headers to send upstream: the caller's, minus `Authorization`, `Host` and every
/// identity header, plus the front-proxy identity of `user`.
pub fn upstream_headers(incoming: &HeaderMap, user: &ProxyUser) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in incoming {
        if name == AUTHORIZATION || name == HOST || is_identity_header(name.as_str()) {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    headers.insert("x-remote-user", HeaderValue::from_str(&user.name).expect("user name is a header value"));
    for group in &user.groups {
        headers.append("x-remote-group", HeaderValue::from_str(group).expect("group is a header value"));
    }
    headers
}

/// A running proxy; dropping it stops accepting connections.
pub struct AggregatorProxy {
    addr: SocketAddr,
    ca_pem: String,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
    task: JoinHandle<()>,
}

impl Drop for AggregatorProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    tokens: BTreeMap<String, ProxyUser>,
    upstream: TestClient,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
}

impl AggregatorProxy {
    /// Starts a proxy on 127.0.0.1 with a fresh self-signed serving certificate, forwarding to
    /// `upstream` (a client presenting the front-proxy certificate).
    pub async fn start(tokens: BTreeMap<String, ProxyUser>, upstream: TestClient) -> AggregatorProxy {
        let serving = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("serving cert");
        let ca_pem = serving.cert.pem();
        let cert = CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("serving cert PEM");
        let key =
            PrivateKeyDer::from_pem_slice(serving.signing_key.serialize_pem().as_bytes()).expect("key PEM");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("serving config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared { tokens, upstream, seen: Arc::clone(&seen) });
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |request| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, Infallible>(forward(&shared, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        AggregatorProxy { addr, ca_pem, seen, task }
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy's serving certificate (self-signed), PEM: the CA clients must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The headers of every request the proxy forwarded, as sent upstream.
    pub fn forwarded(&self) -> Vec<HeaderMap> {
        self.seen.lock().unwrap().clone()
    }

    /// A kubeconfig for kubectl: this proxy, trusting `ca_file`, with bearer `token`.
    pub fn kubeconfig(&self, ca_file: &std::path::Path, token: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: aggregator\n  cluster:\n    server: https://{}\n    certificate-authority: {}\nusers:\n- name: caller\n  user:\n    token: {token}\ncontexts:\n- name: aggregator\n  context:\n    cluster: aggregator\n    user: caller\n    namespace: default\ncurrent-context: aggregator\n",
            self.addr,
            ca_file.display()
        )
    }
}

/// Authenticates and forwards one request; upstream failures are a 503 like the aggregator's.
async fn forward(shared: &Shared, request: Request<Incoming>) -> Response<ProxyBody> {
    let (parts, body) = request.into_parts();
    let Some(user) = authenticate(&shared.tokens, &parts.headers) else {
        return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    };
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
    };
    let headers = upstream_headers(&parts.headers, user);
    shared.seen.lock().unwrap().push(headers.clone());
    let mut upstream =
        Request::builder().method(parts.method).uri(parts.uri).body(Full::new(body)).expect("request");
    *upstream.headers_mut() = headers;
    match shared.upstream.send(upstream).await {
        Ok(response) => response.map(|body| body.map_err(BoxError::from).boxed()),
        Err(e) => status(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            &format!("error trying to reach service: {e}"),
        ),
    }
}

/// A `metav1.Status` failure response.
fn status(code: StatusCode, reason: &str, message: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16(),
    });
    Response::builder()
        .status(code)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())).map_err(|never: Infallible| match never {}).boxed())
        .expect("status response")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> BTreeMap<String, ProxyUser> {
        BTreeMap::from([(
            "alice-token".to_owned(),
            ProxyUser { name: "alice".to_owned(), groups: vec!["devs".to_owned()] },
        )])
    }

    #[test]
    fn bearer_tokens_name_users() {
        let tokens = tokens();
        let mut headers = HeaderMap::new();
        assert!(authenticate(&tokens, &headers).is_none());
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer alice-token"));
        assert_eq!(authenticate(&tokens, &headers).map(|u| u.name.as_str()), Some("alice"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic alice-token"));
        assert!(authenticate(&tokens, &headers).is_none());
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer mallory"));
        assert!(authenticate(&tokens, &headers).is_none());
    }

    #[test]
    fn identity_headers_are_replaced() {
        let mut incoming = HeaderMap::new();
        incoming.insert(AUTHORIZATION, HeaderValue::from_static("Bearer alice-token"));
        incoming.insert("X-Remote-User", HeaderValue::from_static("admin"));
        incoming.insert("x-remote-group", HeaderValue::from_static("system:masters"));
        incoming.insert("X-Remote-Extra-Scopes", HeaderValue::from_static("all"));
        incoming.insert("Impersonate-User", HeaderValue::from_static("admin"));
        incoming.insert("Accept", HeaderValue::from_static("application/json"));
        let user = &tokens()["alice-token"];
        let out = upstream_headers(&incoming, user);
        assert_eq!(out.get_all("x-remote-user").iter().collect::<Vec<_>>(), ["alice"]);
        assert_eq!(out.get_all("x-remote-group").iter().collect::<Vec<_>>(), ["devs"]);
        assert!(out.get("x-remote-extra-scopes").is_none());
        assert!(out.get("impersonate-user").is_none());
        assert!(out.get(AUTHORIZATION).is_none());
        assert_eq!(out["accept"], "application/json");
    }
}
