//! A throw-away etcd for tests (feature `testing`).
//!
//! [`EtcdServer::start`] runs the `etcd` binary as a single-member cluster on 127.0.0.1, with
//! free client, peer and metrics ports and a fresh data directory (on `/dev/shm` when there is
//! one, so fsync is cheap), waits until `/health` says it has a leader, and kills the process,
//! by its own PID, when dropped. It starts in well under a second.
//!
//! # Isolation
//!
//! Revisions and compaction are global to an etcd cluster, and the conformance suite asserts
//! exact revisions (a write takes the current revision + 1; a compaction leaves other keys'
//! history alone). So tests that assert revisions or compact need an etcd of their own; start
//! one per test. Tests that only read and write keys may share one server if each keeps to its
//! own key prefix, chosen so no prefix is a prefix of another (for example `/t-<test name>/`).
//!
//! # Progress notifications
//!
//! The server sends watch progress notifications every [`PROGRESS_NOTIFY_INTERVAL`] (etcd's
//! default is 10 minutes) to watches that ask for them, so tests of
//! [`ProgressNotify`](crate::ProgressNotify) need not wait long. Watches only ask with
//! `Always`, or with `Auto` on an etcd release that has the fixes (not Debian's 3.4.23).
//!
//! # Missing etcd
//!
//! If there is no etcd binary, starting panics with instructions: the etcd backend's tests fail
//! loudly rather than skip. The binary is `$ETCD_BIN`, else `/usr/bin/etcd`, else `etcd` on the
//! `PATH` (Debian: `apt-get install -y etcd-server`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::EtcdOptions;

/// How long etcd may take to become healthy.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times to try fresh ports if etcd cannot bind the chosen ones.
const START_ATTEMPTS: usize = 3;
/// How often the server sends watch progress notifications to the watches that ask for them
/// (`--experimental-watch-progress-notify-interval`; etcd's default is 10 minutes).
pub const PROGRESS_NOTIFY_INTERVAL: Duration = Duration::from_millis(500);

/// TLS files for the server's client port.
#[derive(Clone, Debug)]
pub struct ServerTls {
    /// The server certificate (PEM); it must name `127.0.0.1` as an IP SAN.
    pub cert_file: PathBuf,
    /// The server certificate's key (PEM).
    pub key_file: PathBuf,
    /// If set, clients must present a certificate signed by this CA (`--client-cert-auth`).
    pub client_ca_file: Option<PathBuf>,
}

/// A running etcd process, killed on drop. See the [module docs](self).
pub struct EtcdServer {
    child: Option<Child>,
    binary: PathBuf,
    /// Holds `data/` (etcd's data directory) and `etcd.log`.
    dir: TempDir,
    ports: Ports,
    tls: Option<ServerTls>,
}

/// The ports one server listens on.
#[derive(Clone, Copy, Debug)]
struct Ports {
    client: u16,
    peer: u16,
    metrics: u16,
}

impl std::fmt::Debug for EtcdServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdServer")
            .field("endpoint", &self.endpoint())
            .field("pid", &self.pid())
            .field("dir", &self.dir.path())
            .finish()
    }
}

// === impl EtcdServer ===

impl EtcdServer {
    /// Starts a plain-text etcd. Panics (with the reason and etcd's log) if it cannot.
    pub fn start() -> EtcdServer {
        EtcdServer::launch(None)
    }

    /// Starts an etcd whose client port speaks TLS with `tls`.
    pub fn start_tls(tls: ServerTls) -> EtcdServer {
        EtcdServer::launch(Some(tls))
    }

    fn launch(tls: Option<ServerTls>) -> EtcdServer {
        let binary = etcd_binary();
        let dir = scratch_dir();
        let mut server = EtcdServer { child: None, binary, dir, ports: free_ports(), tls };
        for attempt in 1..=START_ATTEMPTS {
            match server.spawn_and_wait() {
                Ok(()) => return server,
                Err(reason) if attempt < START_ATTEMPTS => {
                    server.stop();
                    eprintln!("etcd did not start ({reason}); retrying on fresh ports");
                    let _ = std::fs::remove_dir_all(server.data_dir());
                    server.ports = free_ports();
                }
                Err(reason) => {
                    panic!("etcd did not start: {reason}\n--- etcd log ---\n{}", server.log_tail())
                }
            }
        }
        unreachable!("the last attempt panics")
    }

    /// The client URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.ports.client)
    }

    /// Store options for this server: its endpoint, a 10 s request timeout, and no background
    /// compaction (tests that want it turn it on).
    pub fn options(&self) -> EtcdOptions {
        EtcdOptions {
            request_timeout: Duration::from_secs(10),
            compaction_interval: Duration::ZERO,
            ..EtcdOptions::with_endpoints([self.endpoint()])
        }
    }

    /// The etcd process's ID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the etcd process (by its PID) and waits for it. Its data stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops etcd and starts it again on the same ports and data: every client sees its
    /// connections break, and then the same history.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(reason) = self.spawn_and_wait() {
            panic!("etcd did not restart: {reason}\n--- etcd log ---\n{}", self.log_tail());
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// Runs etcd and waits until it is healthy.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("opening {}: {e}", self.log_path().display()))?;
        let log_err = log.try_clone().map_err(|e| format!("opening the log: {e}"))?;
        let mut command = Command::new(&self.binary);
        command.args(self.args()).stdin(Stdio::null()).stdout(log).stderr(log_err);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ETCD_") {
                command.env_remove(name);
            }
        }
        let child = command.spawn().map_err(|e| format!("running {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        self.wait_healthy()
    }

    /// etcd's flags: a single-member cluster with fast elections and frequent progress
    /// notifications.
    fn args(&self) -> Vec<String> {
        let Ports { peer, metrics, .. } = self.ports;
        let client_url = self.endpoint();
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut args = vec![
            "--name=default".to_owned(),
            format!("--data-dir={}", self.data_dir().display()),
            format!("--listen-client-urls={client_url}"),
            format!("--advertise-client-urls={client_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=default={peer_url}"),
            format!("--listen-metrics-urls=http://127.0.0.1:{metrics}"),
            "--heartbeat-interval=25".to_owned(),
            "--election-timeout=250".to_owned(),
            format!(
                "--experimental-watch-progress-notify-interval={}ms",
                PROGRESS_NOTIFY_INTERVAL.as_millis()
            ),
            "--logger=zap".to_owned(),
            "--log-level=warn".to_owned(),
        ];
        if let Some(tls) = &self.tls {
            args.push(format!("--cert-file={}", tls.cert_file.display()));
            args.push(format!("--key-file={}", tls.key_file.display()));
            if let Some(ca) = &tls.client_ca_file {
                args.push("--client-cert-auth".to_owned());
                args.push(format!("--trusted-ca-file={}", ca.display()));
            }
        }
        args
    }

    /// Polls `/health` on the (plain-text) metrics port until etcd has a leader.
    fn wait_healthy(&mut self) -> Result<(), String> {
        let began = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("etcd exited with {status}"));
            }
            if healthy(self.ports.metrics) {
                return Ok(());
            }
            if began.elapsed() > START_TIMEOUT {
                return Err(format!("etcd was not healthy after {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The end of etcd's log, for failure messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether etcd's `/health` on `port` reports healthy.
fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /health HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200")
}

/// Three distinct free ports on 127.0.0.1 (held together while chosen, then released for
/// etcd; a lost race makes etcd exit, and [`EtcdServer::start`] tries again).
fn free_ports() -> Ports {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("binding a free port on 127.0.0.1");
    let (a, b, c) = (bind(), bind(), bind());
    let port = |l: &TcpListener| l.local_addr().expect("a bound port").port();
    Ports { client: port(&a), peer: port(&b), metrics: port(&c) }
}

/// A fresh scratch directory, on tmpfs when there is one.
fn scratch_dir() -> TempDir {
    let mut builder = tempfile::Builder::new();
    builder.prefix("piazza-etcd-");
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() { builder.tempdir_in(shm) } else { builder.tempdir() };
    dir.or_else(|_| builder.tempdir()).expect("creating a temporary directory for etcd")
}

/// The etcd binary, or a panic that says how to get one.
fn etcd_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ETCD_BIN") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "ETCD_BIN={} is not a file", path.display());
        return path;
    }
    let debian = PathBuf::from("/usr/bin/etcd");
    if debian.is_file() {
        return debian;
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|dir| dir.join("etcd")).find(|p| p.is_file()));
    match on_path.flatten() {
        Some(path) => path,
        None => panic!(
            "the etcd backend tests need a real etcd, and none was found ($ETCD_BIN, /usr/bin/etcd, PATH). \
             Install it with `apt-get install -y etcd-server` (Debian ships etcd 3.4), or point ETCD_BIN at one."
        ),
    }
}
