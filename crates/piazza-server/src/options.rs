//! Command-line options, named as in the Go generic apiserver where the concept exists.

use std::net::IpAddr;
use std::path::PathBuf;

/// The generic server's flags. Embed with `#[command(flatten)]` in a binary's options.
#[derive(Clone, Debug, clap::Args)]
pub struct ServerOptions {
    /// The port on which to serve HTTPS with authentication and authorization.
    #[arg(long, default_value_t = 8443)]
    pub secure_port: u16,

    /// The IP address on which to listen for the --secure-port port.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: IpAddr,

    /// The directory where the TLS certs are located. If --tls-cert-file and
    /// --tls-private-key-file are provided, this flag is ignored. Default: <data-dir>/certs.
    #[arg(long)]
    pub cert_dir: Option<PathBuf>,

    /// File containing the default x509 certificate for HTTPS (CA cert, if any,
    /// concatenated after server cert). Reloaded when it changes.
    #[arg(long, requires = "tls_private_key_file")]
    pub tls_cert_file: Option<PathBuf>,

    /// File containing the default x509 private key matching --tls-cert-file.
    #[arg(long, requires = "tls_cert_file")]
    pub tls_private_key_file: Option<PathBuf>,

    /// If set, any request presenting a client certificate signed by one of the authorities
    /// in the client-ca-file is authenticated with an identity corresponding to the
    /// CommonName of the client certificate. Default in standalone mode: the generated CA.
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,

    /// If set, the file that will be used to secure the secure port of the API server via
    /// token authentication (CSV: token,user,uid,"group1,group2").
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,

    /// The directory holding the embedded store, generated certificates and the kubeconfig.
    #[arg(long, default_value = "piazza-data")]
    pub data_dir: PathBuf,

    /// Timeout for non-long-running requests, in seconds.
    #[arg(long, default_value_t = 60)]
    pub request_timeout_seconds: u64,

    /// On SIGTERM, how long to keep serving with /readyz failing before refusing new
    /// connections, so load balancers notice first.
    #[arg(long, default_value_t = 0)]
    pub shutdown_delay_seconds: u64,

    /// Maximum request body size in bytes.
    #[arg(long, default_value_t = 3 * 1024 * 1024)]
    pub max_request_body_bytes: usize,
}

impl ServerOptions {
    /// The certificate directory.
    pub fn cert_dir(&self) -> PathBuf {
        self.cert_dir.clone().unwrap_or_else(|| self.data_dir.join("certs"))
    }

    /// The path of the kubeconfig written in standalone mode.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.data_dir.join("kubeconfig")
    }
}
