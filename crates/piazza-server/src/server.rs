//! Assembling and running a server: options + resources → TLS, chain, router → serve.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use piazza_registry::RestResource;
use piazza_storage::Storage;
use piazza_tls::{
    CertificateAuthority, ClientAuthRoots, DEFAULT_RELOAD_INTERVAL, ServerTls, ServingCertSource,
    StandalonePki, TlsPolicy,
};
use tokio::net::TcpListener;

use crate::api_set::ApiSet;
use crate::chain::{ChainConfig, build_handler_chain};
use crate::filters::audit::metrics::{AuditMetrics, BackendCounters};
use crate::filters::audit::webhook::{WebhookBackend, WebhookBatching, WebhookError};
use crate::filters::audit::{
    Audit, AuditSink, AuditSinks, DEFAULT_LOG_BUFFER_EVENTS, LogBackend, Policy, PolicyError, Rotation,
};
use crate::filters::authentication::{Authentication, Authenticator, X509Authenticator};
use crate::filters::authorization::{AlwaysAllowPaths, Authorizer, PrivilegedGroups};
use crate::filters::max_in_flight::MaxInFlight;
use crate::filters::request_header::{RequestHeaderAuthenticator, RequestHeaderError, RequestHeaderNames};
use crate::filters::token_file::TokenFileAuthenticator;
use crate::handlers::health::{HealthCheck, HealthEndpoint, Ping, ShutdownCheck, StorageCheck};
use crate::handlers::metrics::MetricsSource;
use crate::handlers::openapi;
use crate::options::ServerOptions;
use crate::router::RouterState;
use crate::serve::Http2Limits;
use crate::shutdown::{Shutdown, ShutdownTrigger};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Certificates could not be loaded or generated.
    #[error("TLS setup failed: {0}")]
    Tls(#[source] piazza_tls::TlsError),
    /// The token file could not be loaded.
    #[error("{0}")]
    TokenFile(#[source] crate::filters::token_file::TokenFileError),
    /// The audit policy could not be loaded.
    #[error("{0}")]
    AuditPolicy(#[source] PolicyError),
    /// The audit log could not be opened.
    #[error("cannot open audit log {path}: {source}")]
    AuditLog {
        /// The path.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The audit webhook could not be set up.
    #[error("{0}")]
    AuditWebhook(#[source] WebhookError),
    /// The front-proxy header names are invalid.
    #[error("{0}")]
    RequestHeader(#[source] RequestHeaderError),
    /// Delegated authentication or authorization could not be set up.
    #[error("{0}")]
    Delegation(#[source] crate::filters::delegated::DelegationError),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Paths that need neither authentication nor authorization.
pub fn health_paths() -> Vec<String> {
    ["/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

/// What standalone mode generated, for printing to the user.
#[derive(Clone, Debug)]
pub struct StandaloneInfo {
    /// The kubeconfig path.
    pub kubeconfig: std::path::PathBuf,
}

/// A server ready to run.
pub struct Server {
    listener: TcpListener,
    tls: ServerTls,
    state: RouterState,
    chain: ChainConfig,
    shutdown: Shutdown,
    trigger: ShutdownTrigger,
    not_ready: ShutdownTrigger,
    shutdown_delay: Duration,
    http2: Http2Limits,
    standalone: Option<StandaloneInfo>,
    /// Re-reads the cluster's authentication ConfigMap while serving, at this interval.
    extension_config: Option<(Arc<crate::filters::delegated::ExtensionConfigRefresher>, Duration)>,
}

impl Server {
    /// Prepares TLS (generating a standalone PKI when no certificate is given), binds the
    /// port, and builds the chain and router for `resources` on `storage`.
    pub async fn bind(
        options: &ServerOptions,
        storage: Arc<dyn Storage>,
        resources: Vec<Arc<dyn RestResource>>,
    ) -> Result<Server, ServerError> {
        let addr = SocketAddr::new(options.bind_address, options.secure_port);
        let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(options.secure_port);

        let (serving, mut client_ca, standalone) =
            match (&options.tls_cert_file, &options.tls_private_key_file) {
                (Some(cert), Some(key)) => (ServingCertSource::new(cert.clone(), key.clone()), None, None),
                _ => {
                    let pki =
                        StandalonePki::load_or_generate(&options.cert_dir()).map_err(ServerError::Tls)?;
                    let kubeconfig = options.kubeconfig_path();
                    piazza_tls::write_kubeconfig(
                        &kubeconfig,
                        &pki.kubeconfig_spec(format!("https://127.0.0.1:{port}")),
                    )
                    .map_err(ServerError::Tls)?;
                    let ca = pki.client_ca().map_err(ServerError::Tls)?;
                    (pki.serving_cert_source(), Some(ca), Some(StandaloneInfo { kubeconfig }))
                }
            };
        if let Some(path) = &options.client_ca_file {
            client_ca = Some(CertificateAuthority::from_file(path.clone()).map_err(ServerError::Tls)?);
        }
        let requestheader_ca = match &options.requestheader_client_ca_file {
            Some(path) => Some(CertificateAuthority::from_file(path.clone()).map_err(ServerError::Tls)?),
            None => {
                if !options.requestheader_allowed_names.is_empty() {
                    tracing::warn!(
                        "--requestheader-allowed-names without --requestheader-client-ca-file: request headers are never trusted"
                    );
                }
                None
            }
        };
        // Both CAs are advertised in the TLS CertificateRequest: Go clients (kube-aggregator
        // among them) only send a certificate whose issuer is listed.
        let delegation = crate::filters::delegated::setup(
            &options.delegation,
            options.client_ca_file.is_some(),
            options.requestheader_client_ca_file.is_some(),
        )
        .await
        .map_err(ServerError::Delegation)?;
        let extension_config = delegation.extension_config.clone();
        let cluster_cas = extension_config.as_ref().map(|e| e.certificate_authorities()).unwrap_or_default();
        let roots = client_ca
            .iter()
            .chain(requestheader_ca.iter())
            .chain(cluster_cas.iter())
            .cloned()
            .fold(ClientAuthRoots::none(), ClientAuthRoots::with);
        let policy =
            TlsPolicy::new(&options.tls_min_version, &options.tls_cipher_suites).map_err(ServerError::Tls)?;
        let tls = ServerTls::with_policy(serving, roots, &policy).map_err(ServerError::Tls)?;

        let flag_headers = RequestHeaderNames::new(
            &options.requestheader_username_headers,
            &options.requestheader_uid_headers,
            &options.requestheader_group_headers,
            &options.requestheader_extra_headers_prefix,
        )
        .map_err(ServerError::RequestHeader)?;
        // The names stripped from authenticated requests: the ConfigMap's when it configures
        // the front proxy.
        let front_proxy_headers = Arc::new(
            extension_config.as_ref().and_then(|e| e.request_header_names()).unwrap_or(flag_headers),
        );
        // The union, in upstream's order: request header, x509, token (anonymous last, in
        // `Authentication`).
        let mut authenticators: Vec<Arc<dyn Authenticator>> = Vec::new();
        if let Some(ca) = requestheader_ca {
            authenticators.push(Arc::new(RequestHeaderAuthenticator::new(
                ca,
                options.requestheader_allowed_names.clone(),
                Arc::clone(&front_proxy_headers),
            )));
        }
        if let Some(proxy) = extension_config.as_ref().and_then(|e| e.request_header_authenticator()) {
            authenticators.push(proxy);
        }
        if let Some(ca) = client_ca {
            authenticators.push(Arc::new(X509Authenticator::new(ca)));
        }
        if let Some(x509) = extension_config.as_ref().and_then(|e| e.client_cert_authenticator()) {
            authenticators.push(x509);
        }
        if let Some(path) = &options.token_auth_file {
            authenticators
                .push(Arc::new(TokenFileAuthenticator::load(path).map_err(ServerError::TokenFile)?));
        }
        authenticators.extend(delegation.token_review.clone());
        // Standalone (no SubjectAccessReview), the health checks' sub-paths are allowed too:
        // there is no cluster RBAC to grant them.
        let mut always_allow = options.delegation.authorization_always_allow_paths.clone();
        if delegation.authorizer.is_none() {
            always_allow.extend(health_paths());
        }
        let mut authorizers: Vec<Arc<dyn Authorizer>> =
            vec![Arc::new(PrivilegedGroups::default()), Arc::new(AlwaysAllowPaths(always_allow))];
        authorizers.extend(delegation.authorizer.clone());
        let max_in_flight =
            MaxInFlight::new(options.max_requests_inflight, options.max_mutating_requests_inflight);
        let mut metrics: Vec<Arc<dyn MetricsSource>> = vec![Arc::new(max_in_flight.clone())];
        let audit = audit_from(options, &mut metrics).await?;
        let chain = ChainConfig {
            authentication: Authentication {
                authenticators,
                // As upstream: with anonymous access off, even the health paths need
                // credentials (always-allowed paths skip authorization only).
                anonymous: options.delegation.anonymous_auth,
                unauthenticated_paths: Arc::new(Vec::new()),
            },
            front_proxy_headers,
            audit,
            authorizers: Arc::new(authorizers),
            max_in_flight,
            request_timeout: options.request_timeout,
            max_body_bytes: options.max_request_body_bytes,
        };

        let (shutdown, trigger) = Shutdown::new();
        let (stopping, not_ready) = Shutdown::new();
        let apis = ApiSet::new(resources);
        let openapi = openapi::build(&apis);
        let ping: Arc<dyn HealthCheck> = Arc::new(Ping);
        let storage_check: Arc<dyn HealthCheck> = Arc::new(StorageCheck(storage));
        let health = vec![
            HealthEndpoint { name: "healthz", checks: vec![ping.clone(), storage_check.clone()] },
            HealthEndpoint { name: "livez", checks: vec![ping.clone()] },
            HealthEndpoint {
                name: "readyz",
                checks: vec![ping, storage_check, Arc::new(ShutdownCheck(stopping.receiver()))],
            },
        ];
        let state = RouterState { apis, openapi, health, shutdown: shutdown.clone(), metrics };
        let shutdown_delay = Duration::from_secs(options.shutdown_delay_seconds);
        Ok(Server {
            listener,
            tls,
            state,
            chain,
            shutdown,
            trigger,
            not_ready,
            shutdown_delay,
            http2: Http2Limits::with_max_streams(options.http2_max_streams_per_connection),
            standalone,
            extension_config: extension_config
                .map(|e| (e, options.delegation.authentication_config_refresh_interval)),
        })
    }

    /// Adds a source of `/metrics`.
    pub fn add_metrics(&mut self, source: Arc<dyn MetricsSource>) {
        self.state.metrics.push(source);
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Standalone-mode details, when certificates were generated.
    pub fn standalone(&self) -> Option<&StandaloneInfo> {
        self.standalone.as_ref()
    }

    /// Serves until `stop` resolves, then shuts down gracefully: `/readyz` fails first
    /// (and keeps failing for `--shutdown-delay-seconds` while requests are still served),
    /// then new connections are refused, watches end, and in-flight requests drain.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        let Server {
            listener, tls, state, chain, shutdown, trigger, not_ready, shutdown_delay, http2, ..
        } = self;
        let _reloader = tls.spawn_reloader(DEFAULT_RELOAD_INTERVAL);
        // The refresher itself stays in the partly moved `self` until the server has stopped.
        let refresher = self.extension_config.as_ref().map(|(e, interval)| e.spawn(*interval));
        let handler_chain = build_handler_chain(chain, Arc::new(state));
        let serving = tokio::spawn(crate::serve::serve(listener, tls, handler_chain, http2, shutdown));
        stop.await;
        tracing::info!("shutdown requested; /readyz now fails");
        not_ready.trigger();
        tokio::time::sleep(shutdown_delay).await;
        trigger.trigger();
        let _ = serving.await;
        if let Some(refresher) = refresher {
            refresher.abort();
        }
    }
}

/// Auditing as the flags ask: a policy and a log backend (whose counters join `metrics`), or
/// none. Like upstream, a policy without a backend or a backend without a policy audits
/// nothing.
async fn audit_from(
    options: &ServerOptions,
    metrics: &mut Vec<Arc<dyn MetricsSource>>,
) -> Result<Option<Audit>, ServerError> {
    let policy = match &options.audit_policy_file {
        Some(path) => Some(Policy::load(path).map_err(ServerError::AuditPolicy)?),
        None => None,
    };
    let mut sinks: Vec<Arc<dyn AuditSink>> = Vec::new();
    let mut counters: Vec<Arc<dyn BackendCounters>> = Vec::new();
    if let (Some(_), Some(path)) = (&policy, &options.audit_log_path) {
        let rotation = Rotation::from_flags(
            options.audit_log_maxsize,
            options.audit_log_maxage,
            options.audit_log_maxbackup,
        );
        let backend = LogBackend::open_rotating(path, DEFAULT_LOG_BUFFER_EVENTS, rotation)
            .map_err(|source| ServerError::AuditLog { path: path.clone(), source })?;
        counters.push(Arc::new(backend.clone()));
        sinks.push(Arc::new(backend));
    }
    if let (Some(_), Some(path)) = (&policy, &options.audit_webhook_config_file) {
        let batching = WebhookBatching {
            buffer_size: options.audit_webhook_batch_buffer_size,
            max_size: options.audit_webhook_batch_max_size,
            max_wait: options.audit_webhook_batch_max_wait,
            ..WebhookBatching::default()
        };
        let backend =
            WebhookBackend::from_kubeconfig(path, batching).await.map_err(ServerError::AuditWebhook)?;
        metrics.push(Arc::new(backend.clone()));
        counters.push(Arc::new(backend.clone()));
        sinks.push(Arc::new(backend));
    }
    if !counters.is_empty() {
        metrics.push(Arc::new(AuditMetrics(counters)));
    }
    let has_backend = options.audit_log_path.is_some() || options.audit_webhook_config_file.is_some();
    match policy {
        Some(policy) if !sinks.is_empty() => {
            let sink: Arc<dyn AuditSink> =
                if sinks.len() == 1 { sinks.remove(0) } else { Arc::new(AuditSinks(sinks)) };
            Ok(Some(Audit { policy: Arc::new(policy), sink }))
        }
        Some(_) => {
            tracing::warn!(
                "--audit-policy-file is set but no audit backend (--audit-log-path, --audit-webhook-config-file): nothing is audited"
            );
            Ok(None)
        }
        None if has_backend => {
            tracing::warn!("an audit backend is set but no --audit-policy-file: nothing is audited");
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
