//! [`TestServer`]: a real server on `127.0.0.1:0`, in this process, on embedded storage in
//! a temporary directory, with the standalone PKI generated into `<data-dir>/certs`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use piazza_registry::RestResource;
use piazza_server::{Server, ServerOptions, StorageOptions};
use piazza_storage::Storage;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::certs::{self, Identity};
use crate::client::{HttpVersion, TestClient};

/// The generic server flags, parsed as the binaries parse them, so that new flags get
/// their defaults here too.
#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    server: ServerOptions,
    #[command(flatten)]
    storage: StorageOptions,
}

/// How long [`TestServer::shutdown`] waits for the server to drain before failing the test.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);

/// A running in-process server. Dropping it stops the server (without waiting);
/// [`shutdown`](Self::shutdown) stops it gracefully and waits for the drain.
pub struct TestServer {
    addr: SocketAddr,
    data_dir: tempfile::TempDir,
    storage: Arc<dyn Storage>,
    ca_pem: String,
    ca_key_pem: String,
    admin: Identity,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir.path())
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// Starts a server with the default flags whose resources `build` makes on the store.
    ///
    /// Panics if the server cannot start: this is a test harness.
    pub async fn start<F>(build: F) -> TestServer
    where
        F: FnOnce(Arc<dyn Storage>) -> Vec<Arc<dyn RestResource>>,
    {
        Self::start_with_args(&[], build).await
    }

    /// Starts a server with extra command-line flags (for example
    /// `["--max-request-body-bytes", "1024"]`). `--secure-port`, `--bind-address` and
    /// `--data-dir` are set by the harness.
    pub async fn start_with_args<F>(args: &[&str], build: F) -> TestServer
    where
        F: FnOnce(Arc<dyn Storage>) -> Vec<Arc<dyn RestResource>>,
    {
        let data_dir = tempfile::Builder::new().prefix("piazza-test-").tempdir().expect("temp dir");
        let dir = data_dir.path().to_str().expect("temp dir path is UTF-8").to_owned();
        let argv = ["piazza-test", "--secure-port", "0", "--bind-address", "127.0.0.1", "--data-dir", &dir]
            .into_iter()
            .chain(args.iter().copied());
        let flags = Flags::try_parse_from(argv).unwrap_or_else(|e| panic!("bad server flags: {e}"));
        let options = flags.server;
        let opened = flags.storage.open(&options.data_dir).await.expect("storage opens");
        let storage: Arc<dyn Storage> = opened.storage;
        let resources = build(Arc::clone(&storage));
        let mut server = Server::bind(&options, Arc::clone(&storage), resources)
            .await
            .expect("server binds and loads TLS");
        for source in opened.metrics {
            server.add_metrics(source);
        }
        let addr = server.local_addr().expect("bound address");
        let cert_dir = options.cert_dir();
        let read = |name: &str| {
            std::fs::read_to_string(cert_dir.join(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
        };
        let ca_pem = read("ca.crt");
        let ca_key_pem = read("ca.key");
        let admin = Identity { cert_pem: read("admin.crt"), key_pem: read("admin.key") };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        TestServer { addr, data_dir, storage, ca_pem, ca_key_pem, admin, stop: Some(stop), task: Some(task) }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's data directory (embedded store, certificates, kubeconfig).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The storage the server runs on, for checks below the API.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The generated CA certificate (PEM): it signed the serving cert and verifies clients.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A client trusting the CA, presenting `identity` (or no certificate), speaking `version`.
    pub fn client(&self, identity: Option<Identity>, version: HttpVersion) -> TestClient {
        TestClient::new(self.addr, &self.ca_pem, identity, version)
    }

    /// An HTTP/1.1 client with the generated `admin` certificate (group `system:masters`).
    pub fn admin_client(&self) -> TestClient {
        self.client(Some(self.admin.clone()), HttpVersion::Http1)
    }

    /// An HTTP/1.1 client with a new certificate signed by the server's CA: CN `user`,
    /// one O per group.
    pub fn client_for(&self, user: &str, groups: &[&str]) -> TestClient {
        self.client(Some(self.identity_for(user, groups)), HttpVersion::Http1)
    }

    /// A certificate for `user` in `groups` signed by the server's CA.
    pub fn identity_for(&self, user: &str, groups: &[&str]) -> Identity {
        certs::sign_client_cert(&self.ca_pem, &self.ca_key_pem, user, groups).expect("client cert signs")
    }

    /// An HTTP/1.1 client with a certificate for `user` in `groups` signed by a CA the
    /// server does not trust.
    pub fn foreign_client(&self, user: &str, groups: &[&str]) -> TestClient {
        let identity = certs::foreign_client_cert(user, groups).expect("foreign client cert signs");
        self.client(Some(identity), HttpVersion::Http1)
    }

    /// An HTTP/1.1 client that presents no certificate.
    pub fn anonymous_client(&self) -> TestClient {
        self.client(None, HttpVersion::Http1)
    }

    /// Asks the server to stop, without waiting; [`shutdown`](Self::shutdown) then waits.
    /// Idempotent.
    pub fn trigger_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the server gracefully and waits until it has drained: `/readyz` fails, new
    /// connections are refused, watches end, in-flight requests finish. Panics if the
    /// drain takes longer than 20 s or the server task panicked.
    pub async fn shutdown(mut self) {
        self.trigger_shutdown();
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(SHUTDOWN_TIMEOUT, task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("server task failed: {e}"),
                Err(_) => panic!("server did not shut down within {SHUTDOWN_TIMEOUT:?}"),
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.trigger_shutdown();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
