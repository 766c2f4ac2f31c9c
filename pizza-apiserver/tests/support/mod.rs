//! Shared helpers for the end-to-end tests: a temporary directory, a guard around a running
//! `pizza-apiserver` process, and a `kubectl` runner bound to the server's kubeconfig.
//!
//! Everything here talks to the real binary over a real socket on 127.0.0.1, with the real
//! `kubectl` (v1.32) from `PATH` (or from `$KUBECTL`). A missing `kubectl` fails the test
//! loudly; it never skips.
//!
//! Set `PIZZA_E2E_KEEP=1` to keep the temporary directories (data dir, server log) for
//! debugging.

#![allow(dead_code, missing_docs)] // each test binary uses a different subset

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// The API group served by the sample.
pub const GROUP: &str = "restaurant.programming-kubernetes.info";
/// A generous bound for anything that should happen "soon" on a loaded 2-core machine.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a single one-shot kubectl invocation may take before the test fails.
pub const KUBECTL_TIMEOUT: Duration = Duration::from_secs(60);

/// `pizza-apiserver/examples/<name>`.
pub fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name).display().to_string()
}

/// The path of the collection of pizzas in `namespace`, for `kubectl get --raw`.
pub fn pizzas_path(version: &str, namespace: &str) -> String {
    format!("/apis/{GROUP}/{version}/namespaces/{namespace}/pizzas")
}

// === temporary directory ===

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "pizza-e2e-{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `<dir>/<name>` and returns the path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.path.join(name);
        fs::write(&p, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("PIZZA_E2E_KEEP").is_some() {
            eprintln!("keeping {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// A port that was free a moment ago (the listener is dropped before returning).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

// === captured output of a child process ===

/// Bytes a child writes to one of its pipes, collected by a background thread.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn drain(&self, mut from: impl Read + Send + 'static) -> JoinHandle<()> {
        let buf = Arc::clone(&self.0);
        thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match from.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.lock().unwrap().extend_from_slice(&chunk[..n]),
                }
            }
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Every complete JSON value in `text`, in order; a trailing incomplete value is ignored.
pub fn json_stream(text: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(text).into_iter::<Value>().map_while(Result::ok).collect()
}

/// Polls `f` every 20 ms until it returns `Some`, or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

// === the server ===

/// A running `pizza-apiserver`, killed (SIGKILL) and reaped on drop.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub data_dir: PathBuf,
    log: PathBuf,
    stdout: Captured,
    cache_dir: PathBuf,
}

impl Server {
    /// Starts a server on a free port with `<root>/data` as its data dir and `<root>/server.log`
    /// as its log, and waits until it is ready.
    pub fn start(root: &TempDir) -> Server {
        Server::start_with_args(root, &[])
    }

    /// Like [`Server::start`], with extra flags (e.g. `--etcd-servers`).
    pub fn start_with_args(root: &TempDir, args: &[&str]) -> Server {
        let mut last_err = String::new();
        for _ in 0..5 {
            match Server::start_on_with_args(root, free_port(), args) {
                Ok(server) => return server,
                // Another process took the port between free_port() and bind: try another.
                Err(e) if e.contains("Address already in use") => last_err = e,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("could not find a free port: {last_err}");
    }

    /// Starts a server on `port` (same data dir layout as [`Server::start`]) and waits until it
    /// prints its "serving" line and `/readyz` answers `ok`.
    pub fn start_on(root: &TempDir, port: u16) -> Result<Server, String> {
        Server::start_on_with_args(root, port, &[])
    }

    /// Like [`Server::start_on`], with extra flags.
    pub fn start_on_with_args(root: &TempDir, port: u16, args: &[&str]) -> Result<Server, String> {
        let data_dir = root.path().join("data");
        let log = root.path().join("server.log");
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let mut child = Command::new(env!("CARGO_BIN_EXE_pizza-apiserver"))
            .arg("--secure-port")
            .arg(port.to_string())
            .arg("--bind-address")
            .arg("127.0.0.1")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| format!("cannot start pizza-apiserver: {e}"))?;
        let stdout = Captured::default();
        stdout.drain(child.stdout.take().expect("piped stdout"));
        let mut server = Server {
            child: Some(child),
            port,
            data_dir,
            log,
            stdout,
            cache_dir: root.path().join("kube-cache"),
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let line = format!("pizza-apiserver is serving on https://127.0.0.1:{}", self.port);
        let deadline = Instant::now() + TIMEOUT;
        // 1. The "serving" line on stdout (the socket is bound and the kubeconfig written).
        loop {
            if self.stdout.text().lines().any(|l| l.trim() == line) {
                break;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                let log = self.log_text();
                self.child = None;
                return Err(format!(
                    "pizza-apiserver exited with {status} before serving on port {}.\nstdout:\n{}\nlog:\n{log}",
                    self.port,
                    self.stdout.text()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "pizza-apiserver did not print {line:?} within {TIMEOUT:?}.\nstdout:\n{}\nlog:\n{}",
                    self.stdout.text(),
                    self.log_text()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
        // 2. /readyz answers "ok" through kubectl with the generated kubeconfig.
        let kubectl = self.kubectl();
        loop {
            let out = kubectl.run(&["get", "--raw", "/readyz"]);
            if out.status.success() && out.stdout.trim() == "ok" {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("/readyz never answered ok within {TIMEOUT:?}; last attempt:\n{out}"));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir.join("kubeconfig")
    }

    pub fn kubectl(&self) -> Kubectl {
        Kubectl { kubeconfig: self.kubeconfig(), cache_dir: self.cache_dir.clone() }
    }

    /// Everything the server wrote to stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    /// The server's log (stderr) so far, across restarts on the same root.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is running").id()
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM (via `kill -TERM <pid>`), then wait for a clean exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        let sent = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        assert!(matches!(sent, Ok(s) if s.success()), "kill -TERM {} failed: {sent:?}", child.id());
        let status = poll(TIMEOUT, || child.try_wait().ok().flatten());
        match status {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "pizza-apiserver did not exit within {TIMEOUT:?} of SIGTERM.\nlog:\n{}",
                    self.log_text()
                );
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- last lines of the pizza-apiserver log ({}) ---", self.log.display());
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

// === kubectl ===

fn kubectl_program() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_owned())
}

/// Fails the test (never skips it) when kubectl cannot be run.
fn ensure_kubectl() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let check = CHECK.get_or_init(|| {
        let program = kubectl_program();
        match Command::new(&program).args(["version", "--client"]).stdin(Stdio::null()).output() {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "`{program} version --client` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )),
            Err(e) => Err(format!("cannot run `{program}`: {e}")),
        }
    });
    if let Err(e) = check {
        panic!(
            "these end-to-end tests need kubectl (v1.32) on PATH, or its path in $KUBECTL; {e}. \
             They never skip: install kubectl to run them."
        );
    }
}

/// The outcome of one kubectl invocation.
pub struct Output {
    pub cmd: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\n[{}]\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmd, self.status, self.stdout, self.stderr
        )
    }
}

impl Output {
    /// Parses stdout as one JSON value.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

/// Runs kubectl against one server: `KUBECONFIG` is the server's kubeconfig and discovery is
/// cached in the test's temp dir.
#[derive(Clone)]
pub struct Kubectl {
    kubeconfig: PathBuf,
    cache_dir: PathBuf,
}

impl Kubectl {
    /// A `kubectl <args>` command with the environment set, for callers that need more control.
    pub fn command(&self, args: &[&str]) -> Command {
        ensure_kubectl();
        let mut cmd = Command::new(kubectl_program());
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", &self.cache_dir)
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .env_remove("KUBE_EDITOR")
            .env_remove("EDITOR");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_cmd(self.command(args), args, None)
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        self.run_cmd(self.command(args), args, Some(stdin))
    }

    /// Runs a prepared command (see [`Kubectl::command`]) to completion.
    pub fn run_cmd(&self, mut cmd: Command, args: &[&str], stdin: Option<&str>) -> Output {
        let shown = format!("kubectl {}", args.join(" "));
        let mut child = cmd
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `{shown}`: {e}"));
        let writer = stdin.map(|input| {
            let mut pipe = child.stdin.take().expect("piped stdin");
            let input = input.to_owned();
            thread::spawn(move || {
                let _ = pipe.write_all(input.as_bytes());
            })
        });
        let (out, err) = (Captured::default(), Captured::default());
        let t_out = out.drain(child.stdout.take().expect("piped stdout"));
        let t_err = err.drain(child.stderr.take().expect("piped stderr"));
        let Some(status) = poll(KUBECTL_TIMEOUT, || child.try_wait().ok().flatten()) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`{shown}` did not finish within {KUBECTL_TIMEOUT:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                out.text(),
                err.text()
            );
        };
        let _ = t_out.join();
        let _ = t_err.join();
        if let Some(w) = writer {
            let _ = w.join();
        }
        Output { cmd: shown, status, stdout: out.text(), stderr: err.text() }
    }

    /// Runs kubectl and asserts it succeeded; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "kubectl failed:\n{out}");
        out.stdout
    }

    /// Runs kubectl with `stdin` and asserts it succeeded; returns stdout.
    pub fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_stdin(args, stdin);
        assert!(out.status.success(), "kubectl failed:\n{out}");
        out.stdout
    }

    /// Runs kubectl and asserts it failed.
    pub fn fails(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(!out.status.success(), "kubectl should have failed but succeeded:\n{out}");
        out
    }

    /// Runs kubectl with `stdin` and asserts it failed.
    pub fn fails_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let out = self.run_stdin(args, stdin);
        assert!(!out.status.success(), "kubectl should have failed but succeeded:\n{out}");
        out
    }

    /// `kubectl get <resource> <name> -o json`, parsed.
    pub fn get_json(&self, resource: &str, name: &str) -> Value {
        let out = self.run(&["get", resource, name, "-o", "json"]);
        assert!(out.status.success(), "kubectl failed:\n{out}");
        out.json()
    }

    /// Starts a long-running kubectl (a watch, a wait, a stream of creates) in the background.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        self.spawn_cmd(self.command(args), args, None)
    }

    /// Like [`Kubectl::spawn`], feeding `stdin` from a background thread.
    pub fn spawn_stdin(&self, args: &[&str], stdin: String) -> Spawned {
        self.spawn_cmd(self.command(args), args, Some(stdin))
    }

    fn spawn_cmd(&self, mut cmd: Command, args: &[&str], stdin: Option<String>) -> Spawned {
        let shown = format!("kubectl {}", args.join(" "));
        let mut child = cmd
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `{shown}`: {e}"));
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("piped stdin");
            thread::spawn(move || {
                let _ = pipe.write_all(input.as_bytes());
            });
        }
        let (stdout, stderr) = (Captured::default(), Captured::default());
        let readers = vec![
            stdout.drain(child.stdout.take().expect("piped stdout")),
            stderr.drain(child.stderr.take().expect("piped stderr")),
        ];
        Spawned { cmd: shown, child: Some(child), stdout, stderr, readers, status: None }
    }
}

/// A kubectl running in the background, killed and reaped on drop.
pub struct Spawned {
    pub cmd: String,
    child: Option<Child>,
    stdout: Captured,
    stderr: Captured,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Spawned {
    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// The complete JSON values printed to stdout so far.
    pub fn json_values(&self) -> Vec<Value> {
        json_stream(&self.stdout())
    }

    /// The exit status, if the process has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Some(child) = self.child.as_mut()
        {
            self.status = child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `timeout` for the process to exit; then all of its output has been read.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = poll(timeout, || self.try_status())?;
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Some(status)
    }

    /// Waits up to `timeout` until `f(stdout, stderr)` holds.
    pub fn wait_until(&mut self, timeout: Duration, what: &str, mut f: impl FnMut(&str, &str) -> bool) {
        let ok = poll(timeout, || f(&self.stdout(), &self.stderr()).then_some(())).is_some();
        assert!(ok, "timed out after {timeout:?} waiting for {what}\n{self}");
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            self.status = child.wait().ok();
        }
    }
}

impl std::fmt::Display for Spawned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {} (in the background, status {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmd,
            self.status,
            self.stdout(),
            self.stderr()
        )
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}

// === small accessors on JSON objects ===

/// `obj.metadata.<field>` as a string ("" if absent).
pub fn meta<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or("")
}

/// A resourceVersion as a number, for ordering (it is opaque to clients, but Piazza's is a
/// global revision, as etcd's is).
pub fn rv_num(rv: &str) -> u64 {
    rv.parse().unwrap_or_else(|_| panic!("resourceVersion {rv:?} is not a number"))
}

/// A minimal pizza manifest in `version`, with `spec` as given (JSON).
pub fn pizza_json(version: &str, name: &str, spec: Value) -> String {
    serde_json::json!({
        "apiVersion": format!("{GROUP}/{version}"),
        "kind": "Pizza",
        "metadata": {"name": name},
        "spec": spec,
    })
    .to_string()
}
