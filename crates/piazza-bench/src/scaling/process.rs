//! The server under test as a child process: start it, time its way to `/readyz`, stop it
//! with SIGTERM (so the embedded store closes cleanly), and read its footprint.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

use crate::cli::ProtocolArgs;
use crate::error::BenchError;
use crate::kubeconfig::Credentials;
use crate::setup;

/// How long a start may take before the run gives up.
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a stop may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// The pause between two `/readyz` probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(1);

/// How to start the server.
#[derive(Clone, Debug)]
pub struct ServerCommand {
    /// The `pizza-apiserver` binary (or any server taking the same flags).
    pub binary: PathBuf,
    /// `--secure-port`.
    pub port: u16,
    /// Extra arguments, passed through.
    pub extra_args: Vec<String>,
}

/// A running server.
pub struct ServerProcess {
    child: Child,
    /// The time from spawn to the first 200 from `/readyz`.
    pub startup: Duration,
}

impl ServerProcess {
    /// Starts the server on `data_dir` and waits until `/readyz` answers 200.
    pub async fn start(command: &ServerCommand, data_dir: &Path) -> Result<ServerProcess, BenchError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| BenchError::io(format!("creating {}", data_dir.display()), e))?;
        let log_path = data_dir.join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| BenchError::io(format!("opening {}", log_path.display()), e))?;
        let log_err = log.try_clone().map_err(|e| BenchError::io("cloning the log handle", e))?;
        let started = Instant::now();
        let child = Command::new(&command.binary)
            .arg("--bind-address")
            .arg("127.0.0.1")
            .arg("--secure-port")
            .arg(command.port.to_string())
            .arg("--data-dir")
            .arg(data_dir)
            .args(&command.extra_args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| BenchError::io(format!("starting {}", command.binary.display()), e))?;
        let mut server = ServerProcess { child, startup: Duration::ZERO };
        server.startup = server.wait_ready(command.port, started, &log_path).await?;
        Ok(server)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_ready(&mut self, port: u16, started: Instant, log: &Path) -> Result<Duration, BenchError> {
        // Health paths need no credentials; the certificate is not known before the first start.
        let creds = Credentials { insecure: true, ..Credentials::default() };
        let protocol = ProtocolArgs { h1: true, timeout: Duration::from_secs(5), ..ProtocolArgs::default() };
        let client =
            setup::client(&format!("https://127.0.0.1:{port}"), &creds, &protocol, HeaderMap::new())?;
        loop {
            if let Some(status) =
                self.child.try_wait().map_err(|e| BenchError::io("polling the server", e))?
            {
                return Err(BenchError::Usage(format!(
                    "the server exited with {status} before it was ready; see {}",
                    log.display()
                )));
            }
            let mut session = client.session(0);
            let request = client.request(Method::GET, "/readyz", Bytes::new(), None);
            if let Ok(fetched) = session.fetch(request).await
                && fetched.status == StatusCode::OK
            {
                return Ok(started.elapsed());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(BenchError::Usage(format!(
                    "the server was not ready after {START_TIMEOUT:?}; see {}",
                    log.display()
                )));
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// Sends SIGTERM and waits for the exit (SIGKILL after `STOP_TIMEOUT`).
    pub async fn stop(mut self) -> Result<(), BenchError> {
        let pid = self.pid().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        if !sent.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if self.child.try_wait().map_err(|e| BenchError::io("waiting for the server", e))?.is_some() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(BenchError::Usage(format!(
                    "the server (pid {pid}) ignored SIGTERM for {STOP_TIMEOUT:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Never leave a server behind when a run fails half-way.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
