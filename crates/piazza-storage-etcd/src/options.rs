//! How to reach etcd: endpoints, TLS files, timeouts, and the store's own knobs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};
use piazza_storage::StorageError;

use crate::progress::ProgressNotify;
use crate::transport::KeepAlive;

/// How connections to etcd are kept alive: a ping every 30 s, dropped after 10 s unanswered
/// (as kube-apiserver's etcd client: `keepaliveTime` 30 s, `keepaliveTimeout` 10 s).
pub(crate) const KEEP_ALIVE: KeepAlive =
    KeepAlive { interval: Duration::from_secs(30), timeout: Duration::from_secs(10) };

/// Settings of an [`EtcdStore`](crate::EtcdStore), the flags of kube-apiserver's
/// `--etcd-*` family.
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    /// The etcd client URLs (`--etcd-servers`), e.g. `https://10.0.0.1:2379`. `http://` URLs
    /// connect in plain text; `https://` URLs need [`ca_file`](Self::ca_file).
    pub endpoints: Vec<String>,
    /// The CA bundle (PEM) that signs the etcd servers' certificates (`--etcd-cafile`).
    pub ca_file: Option<PathBuf>,
    /// The client certificate (PEM) for etcd's client-cert auth (`--etcd-certfile`). Needs
    /// [`key_file`](Self::key_file).
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM) (`--etcd-keyfile`).
    pub key_file: Option<PathBuf>,
    /// The key prefix the server keeps its objects under (`--etcd-prefix`, default
    /// `/registry`).
    ///
    /// The store does **not** prepend it: callers (the registry) pass full keys such as
    /// `/registry/<group>/<resource>/<ns>/<name>`, exactly the keys kube-apiserver writes. The
    /// prefix only names the key that the cheap revision and health probes read.
    pub prefix: String,
    /// How often the background compactor runs (`--etcd-compaction-interval`, default 5
    /// minutes). Each run compacts to the revision the previous run observed, so at least one
    /// interval of history is always kept. `Duration::ZERO` disables it.
    pub compaction_interval: Duration,
    /// The deadline of every unary etcd request and of connecting (default 60 s, like
    /// kube-apiserver's request timeout). A watch whose etcd stream cannot be re-established
    /// for this long ends with an error.
    pub request_timeout: Duration,
    /// The deadline of [`check_health`](piazza_storage::Storage::check_health)
    /// (`--etcd-healthcheck-timeout`, default 2 s).
    pub health_timeout: Duration,
    /// How many revisions of events each watch buffers for a consumer that is not reading
    /// (default 1024). A consumer further behind than that is caught up by re-watching etcd
    /// from its last delivered revision once it has drained half the buffer.
    pub watch_buffer: usize,
    /// Whether watches ask etcd for progress notifications, which become progress markers
    /// and let bookmarks advance while the watched prefix is quiet (default
    /// [`ProgressNotify::Auto`]: only on an etcd release that sends trustworthy ones, so not on
    /// Debian's 3.4.23). Correctness never depends on them. etcd sends them every
    /// `--experimental-watch-progress-notify-interval` (10 minutes by default).
    pub progress_notify: ProgressNotify,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        EtcdOptions {
            endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            ca_file: None,
            cert_file: None,
            key_file: None,
            prefix: "/registry".to_owned(),
            compaction_interval: Duration::from_secs(5 * 60),
            request_timeout: Duration::from_secs(60),
            health_timeout: Duration::from_secs(2),
            watch_buffer: 1024,
            progress_notify: ProgressNotify::Auto,
        }
    }
}

// === impl EtcdOptions ===

impl EtcdOptions {
    /// The defaults, with `endpoints`.
    pub fn with_endpoints(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        EtcdOptions { endpoints: endpoints.into_iter().map(Into::into).collect(), ..Default::default() }
    }

    /// Checks the options and reads the TLS files into etcd-client's connect options.
    pub(crate) fn connect_options(&self) -> Result<ConnectOptions, StorageError> {
        if self.endpoints.is_empty() {
            return Err(config_error("no etcd endpoints are configured"));
        }
        let mut options = ConnectOptions::new()
            .with_connect_timeout(self.request_timeout)
            .with_keep_alive(KEEP_ALIVE.interval, KEEP_ALIVE.timeout)
            .with_require_leader(true);
        if let Some(tls) = self.tls_options()? {
            options = options.with_tls(tls);
        }
        Ok(options)
    }

    /// The TLS client settings, if any endpoint or file asks for TLS.
    fn tls_options(&self) -> Result<Option<TlsOptions>, StorageError> {
        let https = self.endpoints.iter().filter(|e| e.starts_with("https://")).count();
        let files = self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some();
        if https == 0 && !files {
            return Ok(None);
        }
        if https != self.endpoints.len() {
            return Err(config_error(format!(
                "TLS is configured, so every etcd endpoint must be an https:// URL: {:?}",
                self.endpoints
            )));
        }
        let Some(ca_file) = &self.ca_file else {
            return Err(config_error("https:// etcd endpoints need a CA file (--etcd-cafile)"));
        };
        let mut tls = TlsOptions::new().ca_certificate(Certificate::from_pem(read_pem(ca_file, "CA")?));
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                tls = tls.identity(Identity::from_pem(
                    read_pem(cert, "client certificate")?,
                    read_pem(key, "client key")?,
                ));
            }
            (None, None) => {}
            _ => {
                return Err(config_error("an etcd client certificate needs both a cert file and a key file"));
            }
        }
        Ok(Some(tls))
    }
}

/// Reads one PEM file, naming it in the error.
fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, StorageError> {
    let pem = std::fs::read(path)
        .map_err(|e| StorageError::internal(format!("reading the etcd {what} file {}", path.display()), e))?;
    if !pem.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(config_error(format!("the etcd {what} file {} is not PEM", path.display())));
    }
    Ok(pem)
}

/// A configuration mistake, as a storage error.
fn config_error(message: impl Into<String>) -> StorageError {
    StorageError::internal("configuring the etcd client", message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: StorageError) -> String {
        let source = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default();
        format!("{e}: {source}")
    }

    #[test]
    fn defaults_match_kube_apiserver() {
        let o = EtcdOptions::default();
        assert_eq!(o.prefix, "/registry");
        assert_eq!(o.compaction_interval, Duration::from_secs(300));
        assert_eq!(o.health_timeout, Duration::from_secs(2));
        assert_eq!(o.progress_notify, ProgressNotify::Auto);
        assert!(o.connect_options().is_ok());
    }

    #[test]
    fn plain_http_needs_no_files() {
        let o = EtcdOptions::with_endpoints(["http://127.0.0.1:1"]);
        assert!(o.tls_options().unwrap().is_none());
    }

    #[test]
    fn missing_ca_file_is_named() {
        let o = EtcdOptions {
            ca_file: Some("/nonexistent/ca.crt".into()),
            ..EtcdOptions::with_endpoints(["https://127.0.0.1:1"])
        };
        let m = message(o.connect_options().unwrap_err());
        assert!(m.contains("reading the etcd CA file /nonexistent/ca.crt"), "{m}");
    }

    #[test]
    fn https_without_ca_is_refused() {
        let m = message(EtcdOptions::with_endpoints(["https://127.0.0.1:1"]).connect_options().unwrap_err());
        assert!(m.contains("need a CA file"), "{m}");
    }

    #[test]
    fn tls_files_with_http_endpoints_are_refused() {
        let o = EtcdOptions { ca_file: Some("/x".into()), ..EtcdOptions::with_endpoints(["http://e:1"]) };
        assert!(message(o.connect_options().unwrap_err()).contains("https:// URL"));
    }

    #[test]
    fn cert_without_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n").unwrap();
        let o = EtcdOptions {
            ca_file: Some(ca.clone()),
            cert_file: Some(ca),
            ..EtcdOptions::with_endpoints(["https://127.0.0.1:1"])
        };
        assert!(message(o.connect_options().unwrap_err()).contains("both a cert file and a key file"));
    }

    #[test]
    fn non_pem_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        std::fs::write(&ca, "garbage").unwrap();
        let o = EtcdOptions { ca_file: Some(ca), ..EtcdOptions::with_endpoints(["https://127.0.0.1:1"]) };
        assert!(message(o.connect_options().unwrap_err()).contains("is not PEM"));
    }

    #[test]
    fn with_endpoints_keeps_the_other_defaults() {
        let o = EtcdOptions::with_endpoints(vec!["http://a:1".to_owned(), "http://b:2".to_owned()]);
        assert_eq!(o.endpoints, ["http://a:1", "http://b:2"]);
        assert_eq!(o.prefix, "/registry");
    }
}
