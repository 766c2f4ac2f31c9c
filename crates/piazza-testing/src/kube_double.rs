//! [`KubeDouble`]: a stand-in for the cluster's kube-apiserver, as an aggregated server sees
//! it for delegated authentication and authorization. An HTTPS server on `127.0.0.1:0` that
//! serves only:
//! - `POST /apis/authentication.k8s.io/v1/tokenreviews` — scripted token → user;
//! - `POST /apis/authorization.k8s.io/v1/subjectaccessreviews` — scripted allow rules, all
//!   else denied (with a scripted reason);
//! - `GET /api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication` —
//!   scripted data, or 404.
//!
//! Each endpoint counts its calls and can be put in an outage (500, or the connection closed
//! without an answer). [`KubeDouble::write_kubeconfig`] writes a kubeconfig pointing at it.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose, SanType};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::certs::{CertError, TestCa};

/// The endpoints of the double.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST …/tokenreviews`.
    TokenReview,
    /// `POST …/subjectaccessreviews`.
    SubjectAccessReview,
    /// `GET …/configmaps/extension-apiserver-authentication`.
    ConfigMap,
}

/// How an endpoint misbehaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Outage {
    /// It answers.
    #[default]
    None,
    /// It answers 500 with an InternalError Status.
    InternalError,
    /// It closes the connection without answering.
    CloseConnection,
}

/// A user the token reviews return.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReviewedUser {
    /// `username`.
    pub name: String,
    /// `uid`.
    pub uid: String,
    /// `groups`.
    pub groups: Vec<String>,
    /// `extra`.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl ReviewedUser {
    /// A user named `name` in `groups`.
    pub fn new(name: &str, groups: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            ..Default::default()
        }
    }
}

/// One allow rule: `user` may `verb` (`*`: any) the resource or non-resource path `what`
/// (a resource name such as `pizzas`, or a path such as `/metrics`; `*`: anything).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    user: String,
    verb: String,
    what: String,
}

#[derive(Default)]
struct State {
    tokens: Mutex<HashMap<String, ReviewedUser>>,
    rules: Mutex<Vec<Rule>>,
    deny_reason: Mutex<String>,
    configmap: Mutex<Option<BTreeMap<String, String>>>,
    outages: Mutex<HashMap<Endpoint, Outage>>,
    calls: Mutex<HashMap<Endpoint, usize>>,
    access_reviews: Mutex<Vec<Value>>,
    connections: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The double: scripted from the test, running until dropped.
pub struct KubeDouble {
    addr: SocketAddr,
    ca: TestCa,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for KubeDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeDouble").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// A serving certificate for 127.0.0.1 signed by `ca`, as (cert PEM, key PEM).
fn serving_cert(ca: &TestCa) -> Result<(String, String), CertError> {
    let ca_key = KeyPair::from_pem(&ca.key_pem).map_err(CertError::Generate)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key).map_err(CertError::Generate)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "kube-double");
    params.subject_alt_names = vec![SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(CertError::Generate)?;
    let cert = params.signed_by(&key, &issuer).map_err(CertError::Generate)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn tls_acceptor(cert_pem: &str, key_pem: &str) -> tokio_rustls::TlsAcceptor {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("cert PEM parses");
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key PEM parses");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("default TLS versions are supported")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("serving cert and key match");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

impl KubeDouble {
    /// Starts the double on `127.0.0.1:0`. Panics if it cannot: this is a test harness.
    pub async fn start() -> KubeDouble {
        let ca = TestCa::new("kube-double-ca").expect("CA generates");
        let (cert, key) = serving_cert(&ca).expect("serving cert signs");
        let acceptor = tls_acceptor(&cert, &key);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds 127.0.0.1:0");
        let addr = listener.local_addr().expect("bound address");
        let state = Arc::new(State::default());
        let task = tokio::spawn(accept_loop(listener, acceptor, Arc::clone(&state)));
        KubeDouble { addr, ca, state, task }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA (PEM) that signed its serving certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca.cert_pem
    }

    /// A kubeconfig pointing at the double (trusting its CA, with a bearer token of no
    /// meaning to it), written to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// The kubeconfig text of [`write_kubeconfig`](Self::write_kubeconfig).
    pub fn kubeconfig(&self) -> String {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(self.ca.cert_pem.as_bytes());
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: double\n  cluster:\n    server: https://{addr}\n    certificate-authority-data: {ca}\nusers:\n- name: double\n  user:\n    token: kube-double-caller\ncontexts:\n- name: double\n  context:\n    cluster: double\n    user: double\ncurrent-context: double\n",
            addr = self.addr
        )
    }

    /// Token reviews of `token` authenticate `user`.
    pub fn add_token(&self, token: &str, user: ReviewedUser) {
        lock(&self.state.tokens).insert(token.to_owned(), user);
    }

    /// Token reviews of `token` no longer authenticate.
    pub fn remove_token(&self, token: &str) {
        lock(&self.state.tokens).remove(token);
    }

    /// Access reviews allow `user` to `verb` `what` (a resource, or a non-resource path;
    /// `*` matches any verb or anything).
    pub fn allow(&self, user: &str, verb: &str, what: &str) {
        lock(&self.state.rules).push(Rule {
            user: user.to_owned(),
            verb: verb.to_owned(),
            what: what.to_owned(),
        });
    }

    /// Removes what [`allow`](Self::allow) granted.
    pub fn revoke(&self, user: &str, verb: &str, what: &str) {
        let rule = Rule { user: user.to_owned(), verb: verb.to_owned(), what: what.to_owned() };
        lock(&self.state.rules).retain(|r| *r != rule);
    }

    /// The `status.reason` of denials (empty by default).
    pub fn set_deny_reason(&self, reason: &str) {
        *lock(&self.state.deny_reason) = reason.to_owned();
    }

    /// The extension-apiserver-authentication ConfigMap's data; `None`: 404.
    pub fn set_configmap(&self, data: Option<BTreeMap<String, String>>) {
        *lock(&self.state.configmap) = data;
    }

    /// Puts `endpoint` in `outage` ([`Outage::None`] ends it).
    pub fn set_outage(&self, endpoint: Endpoint, outage: Outage) {
        lock(&self.state.outages).insert(endpoint, outage);
    }

    /// Requests `endpoint` received so far (failed ones included).
    pub fn calls(&self, endpoint: Endpoint) -> usize {
        lock(&self.state.calls).get(&endpoint).copied().unwrap_or(0)
    }

    /// Every access review received, as JSON, oldest first.
    pub fn access_reviews(&self) -> Vec<Value> {
        lock(&self.state.access_reviews).clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }
}

impl Drop for KubeDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, state: Arc<State>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        state.connections.fetch_add(1, Ordering::SeqCst);
        let acceptor = acceptor.clone();
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let service = hyper::service::service_fn(move |request| handle(Arc::clone(&state), request));
            let _ =
                auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(tls), service).await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// Why the double dropped a connection on purpose.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the double")
    }
}

impl std::error::Error for Dropped {}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn endpoint_of(method: &Method, path: &str) -> Option<Endpoint> {
    match (method, path) {
        (&Method::POST, "/apis/authentication.k8s.io/v1/tokenreviews") => Some(Endpoint::TokenReview),
        (&Method::POST, "/apis/authorization.k8s.io/v1/subjectaccessreviews") => {
            Some(Endpoint::SubjectAccessReview)
        }
        (&Method::GET, "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication") => {
            Some(Endpoint::ConfigMap)
        }
        _ => None,
    }
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let Some(endpoint) = endpoint_of(&parts.method, parts.uri.path()) else {
        return Ok(json_response(
            StatusCode::NOT_FOUND,
            &status_body(404, "NotFound", "the server could not find the requested resource"),
        ));
    };
    *lock(&state.calls).entry(endpoint).or_insert(0) += 1;
    match lock(&state.outages).get(&endpoint).copied().unwrap_or_default() {
        Outage::None => {}
        Outage::InternalError => {
            return Ok(json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &status_body(500, "InternalError", "Internal error occurred: the double is down"),
            ));
        }
        Outage::CloseConnection => return Err(Dropped),
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok(match endpoint {
        Endpoint::TokenReview => token_review(&state, request),
        Endpoint::SubjectAccessReview => access_review(&state, request),
        Endpoint::ConfigMap => configmap(&state),
    })
}

fn token_review(state: &State, mut review: Value) -> Response<Full<Bytes>> {
    let token = review.pointer("/spec/token").and_then(Value::as_str).unwrap_or_default().to_owned();
    let status = match lock(&state.tokens).get(&token) {
        Some(user) => json!({"authenticated": true, "user": {
            "username": user.name, "uid": user.uid, "groups": user.groups, "extra": user.extra}}),
        None => json!({"authenticated": false, "error": "invalid bearer token"}),
    };
    review["status"] = status;
    json_response(StatusCode::CREATED, &review)
}

fn matches(rule: &Rule, spec: &Value) -> bool {
    let user = spec.get("user").and_then(Value::as_str).unwrap_or_default();
    let (verb, what) = if let Some(attrs) = spec.get("resourceAttributes") {
        (attrs.get("verb"), attrs.get("resource"))
    } else {
        let attrs = spec.get("nonResourceAttributes").unwrap_or(&Value::Null);
        (attrs.get("verb"), attrs.get("path"))
    };
    let verb = verb.and_then(Value::as_str).unwrap_or_default();
    let what = what.and_then(Value::as_str).unwrap_or_default();
    rule.user == user && (rule.verb == "*" || rule.verb == verb) && (rule.what == "*" || rule.what == what)
}

fn access_review(state: &State, mut review: Value) -> Response<Full<Bytes>> {
    lock(&state.access_reviews).push(review.clone());
    let spec = review.get("spec").cloned().unwrap_or(Value::Null);
    let allowed = lock(&state.rules).iter().any(|rule| matches(rule, &spec));
    review["status"] = if allowed {
        json!({"allowed": true})
    } else {
        let reason = lock(&state.deny_reason).clone();
        if reason.is_empty() {
            json!({"allowed": false})
        } else {
            json!({"allowed": false, "reason": reason})
        }
    };
    json_response(StatusCode::CREATED, &review)
}

fn configmap(state: &State) -> Response<Full<Bytes>> {
    match lock(&state.configmap).clone() {
        Some(data) => json_response(
            StatusCode::OK,
            &json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
                    "data": data}),
        ),
        None => json_response(
            StatusCode::NOT_FOUND,
            &status_body(404, "NotFound", "configmaps \"extension-apiserver-authentication\" not found"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(user: &str, verb: &str, what: &str) -> Rule {
        Rule { user: user.to_owned(), verb: verb.to_owned(), what: what.to_owned() }
    }

    #[test]
    fn rules_match_user_verb_and_resource_or_path() {
        let resource = json!({"user": "alice", "resourceAttributes": {"verb": "list", "resource": "pizzas"}});
        let path = json!({"user": "alice", "nonResourceAttributes": {"verb": "get", "path": "/metrics"}});
        assert!(matches(&rule("alice", "list", "pizzas"), &resource));
        assert!(matches(&rule("alice", "*", "*"), &resource));
        assert!(!matches(&rule("alice", "get", "pizzas"), &resource));
        assert!(!matches(&rule("bob", "list", "pizzas"), &resource));
        assert!(matches(&rule("alice", "get", "/metrics"), &path));
        assert!(!matches(&rule("alice", "get", "pizzas"), &path));
    }

    #[test]
    fn only_the_three_endpoints_are_served() {
        assert_eq!(
            endpoint_of(&Method::POST, "/apis/authentication.k8s.io/v1/tokenreviews"),
            Some(Endpoint::TokenReview)
        );
        assert_eq!(endpoint_of(&Method::GET, "/apis/authentication.k8s.io/v1/tokenreviews"), None);
        assert_eq!(
            endpoint_of(
                &Method::GET,
                "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication"
            ),
            Some(Endpoint::ConfigMap)
        );
    }

    #[tokio::test]
    async fn the_kubeconfig_points_at_the_double_and_trusts_its_ca() {
        let double = KubeDouble::start().await;
        let text = double.kubeconfig();
        assert!(text.contains(&format!("server: https://{}", double.addr())), "{text}");
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(double.ca_pem().as_bytes());
        assert!(text.contains(&ca));
    }
}
