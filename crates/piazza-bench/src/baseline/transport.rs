//! The transport limit: a minimal hyper + rustls server (TLS 1.3, ring, ALPN h2 and http/1.1,
//! hyper-util's auto builder, as the Piazza server uses) on 127.0.0.1:0 that answers every
//! request with a fixed body, driven by the same client as the real scenarios.
//!
//! With etcd behind it ([`EtcdBehind`]) it first writes each request's body to etcd with one
//! put-if-absent while one watcher receives every write: the least any API server on etcd does
//! for a CREATE, so the limit of a CREATE on this machine with nothing else in the server.
//!
//! By default the server runs in a child process (`piazza-bench baseline transport-serve`), with
//! its own runtime, as a real server does: client and server then compete for the cores the
//! same way as in a scenario. [`TransportServer::start`] keeps it in this process (for tests,
//! and `baseline transport --in-process`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::client::tls::{TlsOptions, provider};
use crate::error::BenchError;
use crate::template::run_id;

use super::etcd::EtcdBehind;
use super::fan_out::{self, FanOut, Reply};

/// The size of one Pizza as pizza-apiserver encodes it in JSON (v1beta1, one topping, as the
/// scenarios create it), measured with `GET`. The suite measures the real size instead.
pub const PIZZA_BODY_SIZE: usize = 339;

/// The path requested from the transport server: shaped like a GET of one pizza, so request
/// headers are the same size.
pub const BASELINE_PATH: &str =
    "/apis/restaurant.programming-kubernetes.info/v1beta1/namespaces/piazza-bench-get/pizzas/pizza-0";

/// The path POSTed to the transport server when etcd is behind it: shaped like a CREATE of a
/// pizza.
pub const BASELINE_CREATE_PATH: &str =
    "/apis/restaurant.programming-kubernetes.info/v1beta1/namespaces/piazza-bench-create/pizzas";

/// What the server does with a request besides answering it.
#[derive(Clone, Default)]
pub enum Behind {
    /// Nothing: every request gets the fixed body.
    #[default]
    Nothing,
    /// Each request's body is first written to etcd.
    Etcd(Arc<EtcdBehind>),
    /// Watches and the relay of POSTed bodies to them (see [`fan_out`]).
    FanOut(Arc<FanOut>),
}

impl Behind {
    /// What a server started in `mode` does (connecting to etcd first when asked).
    pub async fn for_mode(mode: ServeMode<'_>) -> Result<Behind, BenchError> {
        Ok(match mode {
            ServeMode::Fixed => Behind::Nothing,
            ServeMode::Etcd(endpoints) => {
                Behind::Etcd(Arc::new(EtcdBehind::connect(endpoints, &run_id()).await?))
            }
            ServeMode::FanOut => Behind::FanOut(Arc::default()),
        })
    }
}

/// Which server to start, as a command line can say it (see [`TransportServer::spawn`]).
#[derive(Clone, Copy, Debug, Default)]
pub enum ServeMode<'a> {
    /// A fixed body.
    #[default]
    Fixed,
    /// etcd at these endpoints behind the server.
    Etcd(&'a [String]),
    /// Watches and the relay of POSTed bodies to them.
    FanOut,
}

impl<'a> ServeMode<'a> {
    /// etcd when given endpoints, else a fixed body.
    pub fn etcd_when_given(endpoints: &'a [String]) -> ServeMode<'a> {
        if endpoints.is_empty() { ServeMode::Fixed } else { ServeMode::Etcd(endpoints) }
    }
}

/// A running transport server; stops when dropped.
pub struct TransportServer {
    addr: SocketAddr,
    ca_pem: Vec<u8>,
    running: Running,
}

/// Where the server runs.
enum Running {
    InProcess(JoinHandle<()>),
    /// Killed on drop (`kill_on_drop`).
    Child(Child),
}

impl TransportServer {
    /// Starts the server in this process on 127.0.0.1 (an ephemeral port), answering
    /// `body_size` bytes, after doing what `behind` says with each request.
    pub async fn start(body_size: usize, behind: Behind) -> Result<TransportServer, BenchError> {
        let (ca_pem, config) = tls_config()?;
        let listener =
            TcpListener::bind("127.0.0.1:0").await.map_err(|e| BenchError::io("binding 127.0.0.1:0", e))?;
        let addr = listener.local_addr().map_err(|e| BenchError::io("local address", e))?;
        let answer = Answer { body: fixed_body(body_size), behind };
        let task = tokio::spawn(serve(listener, TlsAcceptor::from(Arc::new(config)), answer));
        Ok(TransportServer { addr, ca_pem, running: Running::InProcess(task) })
    }

    /// Starts the server in a child process running `program` (this binary), which prints its
    /// address on its first line of output and writes its CA into a temporary file, in `mode`.
    pub async fn spawn(
        program: &Path,
        body_size: usize,
        mode: ServeMode<'_>,
    ) -> Result<TransportServer, BenchError> {
        let dir = tempfile::tempdir().map_err(|e| BenchError::io("creating a temporary directory", e))?;
        let ca_file = dir.path().join("ca.pem");
        let mut command = Command::new(program);
        command.args(["baseline", "transport-serve", "--body-size", &body_size.to_string(), "--ca-out"]);
        command.arg(&ca_file);
        match mode {
            ServeMode::Fixed => {}
            ServeMode::Etcd(endpoints) => {
                command.arg("--etcd-endpoints").arg(endpoints.join(","));
            }
            ServeMode::FanOut => {
                command.arg("--fan-out");
            }
        }
        let mut child = command
            // The child exits when this pipe closes, so it never outlives this process.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::io("starting the transport server process", e))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Process("the transport server has no stdout".into()))?;
        let mut first_line = String::new();
        BufReader::new(stdout)
            .read_line(&mut first_line)
            .await
            .map_err(|e| BenchError::io("reading the transport server's address", e))?;
        let addr = parse_listening_line(&first_line).ok_or_else(|| {
            BenchError::Process(format!("the transport server did not start: {first_line:?}"))
        })?;
        let ca_pem =
            std::fs::read(&ca_file).map_err(|e| BenchError::io("reading the transport server's CA", e))?;
        Ok(TransportServer { addr, ca_pem, running: Running::Child(child) })
    }

    /// The child process's id, when the server runs in one.
    pub fn pid(&self) -> Option<u32> {
        match &self.running {
            Running::Child(child) => child.id(),
            Running::InProcess(_) => None,
        }
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
        match &mut self.running {
            Running::InProcess(task) => task.abort(),
            Running::Child(child) => {
                let _ = child.start_kill();
            }
        }
    }
}

/// The line `transport-serve` prints first.
const LISTENING: &str = "listening on ";

/// Serves `body_size` bytes on 127.0.0.1 (ephemeral port) until killed or until standard input
/// closes (the parent is gone): writes the CA to `ca_out`, then prints `listening on <addr>`.
/// In `mode` (connecting to etcd first when asked). The child side of
/// [`TransportServer::spawn`].
pub async fn serve_forever(body_size: usize, ca_out: &Path, mode: ServeMode<'_>) -> Result<(), BenchError> {
    let answer = Answer { body: fixed_body(body_size), behind: Behind::for_mode(mode).await? };
    let (ca_pem, config) = tls_config()?;
    let listener =
        TcpListener::bind("127.0.0.1:0").await.map_err(|e| BenchError::io("binding 127.0.0.1:0", e))?;
    let addr = listener.local_addr().map_err(|e| BenchError::io("local address", e))?;
    std::fs::write(ca_out, ca_pem).map_err(|e| BenchError::io("writing the CA", e))?;
    println!("{LISTENING}{addr}");
    let parent_gone = async {
        let mut sink = tokio::io::sink();
        let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut sink).await;
    };
    tokio::select! {
        () = serve(listener, TlsAcceptor::from(Arc::new(config)), answer) => {}
        () = parent_gone => {}
    }
    Ok(())
}

fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    line.trim().strip_prefix(LISTENING)?.parse().ok()
}

/// A JSON object of exactly `size` bytes (or `size` bytes of padding when too small for one).
pub fn fixed_body(size: usize) -> Bytes {
    const WRAP: usize = r#"{"pad":""}"#.len();
    if size < WRAP {
        return Bytes::from(vec![b'x'; size]);
    }
    Bytes::from(format!(r#"{{"pad":"{}"}}"#, "x".repeat(size - WRAP)))
}

/// The largest request body written to etcd or relayed to watches (etcd's own default request
/// limit is 1.5 MiB).
const MAX_WRITTEN_BODY: usize = 1024 * 1024;

/// A request's body, at most [`MAX_WRITTEN_BODY`] bytes: 413 when longer, 400 when it cannot
/// be read.
pub(super) async fn read_body(body: Incoming) -> Result<Bytes, StatusCode> {
    match Limited::new(body, MAX_WRITTEN_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(StatusCode::PAYLOAD_TOO_LARGE),
        Err(_) => Err(StatusCode::BAD_REQUEST),
    }
}

/// What the server does for every request.
#[derive(Clone)]
struct Answer {
    /// The fixed response body.
    body: Bytes,
    /// What happens to each request first.
    behind: Behind,
}

impl Answer {
    async fn respond(self, request: Request<Incoming>) -> Reply {
        let status = match &self.behind {
            Behind::Nothing => StatusCode::OK,
            Behind::FanOut(fan_out) => return fan_out::respond(fan_out, request).await,
            Behind::Etcd(etcd) => match read_body(request.into_body()).await {
                Ok(value) => etcd.create(&value).await,
                Err(status) => status,
            },
        };
        let mut response = Response::new(Either::Left(Full::new(self.body)));
        *response.status_mut() = status;
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, answer: Answer) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    // Dropped (and with it every connection task) when the server task is aborted.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, builder, answer) = (acceptor.clone(), Arc::clone(&builder), answer.clone());
        connections.spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else { return };
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let answer = answer.clone();
                async move { Ok::<_, Infallible>(answer.respond(request).await) }
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
    fn the_listening_line_parses_and_rejects_anything_else() {
        assert_eq!(
            parse_listening_line("listening on 127.0.0.1:4321\n"),
            Some("127.0.0.1:4321".parse().unwrap())
        );
        assert_eq!(parse_listening_line(""), None);
        assert_eq!(parse_listening_line("error: port in use"), None);
        assert_eq!(parse_listening_line("listening on nowhere"), None);
    }

    #[test]
    fn fixed_bodies_have_the_exact_size() {
        for size in [0, 5, 10, 11, 480, 4096] {
            assert_eq!(fixed_body(size).len(), size);
        }
        let body = fixed_body(480);
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
    }
}
