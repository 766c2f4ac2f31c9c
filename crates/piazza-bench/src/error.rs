//! The one error type of the tool.

/// Why a benchmark could not be set up or run. Individual failed requests during a run are not
/// errors of this kind: they are counted in the report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A command-line value or a combination of them is invalid.
    #[error("invalid argument: {0}")]
    Usage(String),
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The kubeconfig could not be parsed or lacks what is needed.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// TLS material (PEM, keys) is invalid.
    #[error("tls: {0}")]
    Tls(String),
    /// Connecting to the server failed.
    #[error("connecting to {addr}: {source}")]
    Connect {
        /// The address.
        addr: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An HTTP exchange failed outside the measured loop (seeding, setup).
    #[error("http: {0}")]
    Http(String),
    /// The server answered a setup request with an unexpected status.
    #[error("{what}: unexpected status {status}: {body}")]
    Status {
        /// What was being done.
        what: String,
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// A helper process (the out-of-process transport server) failed to start.
    #[error("process: {0}")]
    Process(String),
    /// A storage backend (etcd, embedded) failed during setup.
    #[error("storage: {0}")]
    Storage(String),
}

impl BenchError {
    /// An [`BenchError::Io`] with context.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        BenchError::Io { what: what.into(), source }
    }
}
