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

    /// Minimum TLS version supported. Possible values: VersionTLS12, VersionTLS13
    /// (VersionTLS10 and VersionTLS11 are refused: rustls does not implement them).
    #[arg(long, default_value = "VersionTLS12")]
    pub tls_min_version: String,

    /// Comma-separated list of cipher suites for the server, by their IANA names (as Go
    /// names them). If omitted, the default suites are used. Only AEAD suites with forward
    /// secrecy are implemented; TLS 1.3 suites stay enabled unless the list names some.
    #[arg(long, value_delimiter = ',')]
    pub tls_cipher_suites: Vec<String>,

    /// The limit that the server gives to clients for the maximum number of streams in an
    /// HTTP/2 connection. Zero means the default (250).
    #[arg(long, default_value_t = crate::serve::DEFAULT_HTTP2_MAX_STREAMS_PER_CONNECTION)]
    pub http2_max_streams_per_connection: u32,

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

    /// The maximum size in megabytes of the audit log file before it gets rotated. 0: never.
    #[arg(long, default_value_t = 0)]
    pub audit_log_maxsize: u64,

    /// The maximum number of days to retain old audit log files based on the timestamp
    /// encoded in their filename. 0: no age limit.
    #[arg(long, default_value_t = 0)]
    pub audit_log_maxage: u64,

    /// The maximum number of old audit log files to retain. 0: no limit.
    #[arg(long, default_value_t = 0)]
    pub audit_log_maxbackup: usize,

    /// Path to a kubeconfig formatted file that defines the audit webhook configuration.
    /// Needs --audit-policy-file.
    #[arg(long)]
    pub audit_webhook_config_file: Option<PathBuf>,

    /// The size of the buffer to store events before batching and writing; when it is full,
    /// events are dropped (and counted).
    #[arg(long, default_value_t = 10_000)]
    pub audit_webhook_batch_buffer_size: usize,

    /// The maximum size of a batch.
    #[arg(long, default_value_t = 400)]
    pub audit_webhook_batch_max_size: usize,

    /// The amount of time to wait before force writing the batch that hadn't reached the max
    /// size (a Go duration).
    #[arg(long, default_value = "30s", value_parser = crate::filters::timeout::parse_go_duration)]
    pub audit_webhook_batch_max_wait: std::time::Duration,

    /// If set, the file that will be used to secure the secure port of the API server via
    /// token authentication (CSV: token,user,uid,"group1,group2").
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,

    /// Delegated authentication and authorization (`--authentication-*`,
    /// `--authorization-*`, `--anonymous-auth`).
    #[command(flatten)]
    pub delegation: crate::delegation_options::DelegationOptions,

    /// The directory holding the embedded store, generated certificates and the kubeconfig.
    #[arg(long, default_value = "piazza-data")]
    pub data_dir: PathBuf,

    /// An optional field indicating the duration a handler must keep a request open before
    /// timing it out (a Go duration: `60s`, `1m0s`). Watches are long-running and exempt.
    #[arg(long, default_value = "1m0s", value_parser = crate::filters::timeout::parse_go_duration)]
    pub request_timeout: std::time::Duration,

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
