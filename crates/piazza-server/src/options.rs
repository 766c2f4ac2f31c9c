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
    /// --tls-private-key-file are provided, this flag is ignored. Default: `<data-dir>/certs`.
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

    /// The CA bundle that verifies front-proxy client certificates (kube-aggregator's
    /// `front-proxy-client`). Only a request whose certificate chains to it (and whose CN is
    /// in --requestheader-allowed-names, when set) may assert a user in the
    /// --requestheader-*-headers; without it those headers are never read. Reloaded when the
    /// file changes.
    #[arg(long)]
    pub requestheader_client_ca_file: Option<PathBuf>,

    /// Common names of the front-proxy client certificates allowed to assert users in the
    /// request headers (comma-separated). Empty: any certificate signed by
    /// --requestheader-client-ca-file.
    #[arg(long, value_delimiter = ',')]
    pub requestheader_allowed_names: Vec<String>,

    /// Request headers to read the user name from, in order (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "X-Remote-User")]
    pub requestheader_username_headers: Vec<String>,

    /// Request headers to read the user's uid from, in order (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "X-Remote-Uid")]
    pub requestheader_uid_headers: Vec<String>,

    /// Request headers to read the user's groups from (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "X-Remote-Group")]
    pub requestheader_group_headers: Vec<String>,

    /// Prefixes of the request headers that carry the user's extra attributes
    /// (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "X-Remote-Extra-")]
    pub requestheader_extra_headers_prefix: Vec<String>,

    /// The most non-mutating (get, list, watch) requests served at once; more are answered
    /// 429. Watches do not count. 0 means no limit.
    #[arg(long, default_value_t = 400)]
    pub max_requests_inflight: usize,

    /// The most mutating requests served at once; more are answered 429. 0 means no limit.
    #[arg(long, default_value_t = 200)]
    pub max_mutating_requests_inflight: usize,

    /// Where to write audit events, as JSON lines (`-` for standard output). Needs
    /// --audit-policy-file: without a policy nothing is audited.
    #[arg(long)]
    pub audit_log_path: Option<PathBuf>,

    /// An `audit.k8s.io/v1` Policy (YAML or JSON) choosing which requests are audited and at
    /// which level.
    #[arg(long)]
    pub audit_policy_file: Option<PathBuf>,

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
