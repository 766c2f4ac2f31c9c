//! The rustls server configuration of a Piazza server.
//!
//! [`ServerTls`] owns it: TLS 1.2 and 1.3 only (narrowed by a [`TlsPolicy`]), ALPN `h2` then `http/1.1`, the serving
//! certificate from files (reloaded without restart), and client certificates requested but
//! optional, with the subjects of the client CA bundles advertised as acceptable issuers.
//!
//! Go clients (kube-aggregator among them) send their certificate only when its issuer is in
//! that advertised list, so the list must follow CA rotations. rustls reads it from the
//! configuration, so when a bundle changes [`ServerTls`] builds a new configuration (sharing
//! the certificate resolver and session cache); take [`ServerTls::acceptor`] (or
//! [`ServerTls::config`]) per connection to get the current one.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::DistinguishedName;
use rustls::crypto::CryptoProvider;
use rustls::server::StoresServerSessions;
use rustls::{ServerConfig, SupportedProtocolVersion};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::client_auth::RequestClientCert;
use crate::reload::{ReloadOutcome, read_lock, spawn_periodic, write_lock};
use crate::{CertificateAuthority, ServingCertResolver, ServingCertSource, TlsError, TlsPolicy};

/// The ALPN protocol id of HTTP/2, offered first.
pub const ALPN_H2: &[u8] = b"h2";
/// The ALPN protocol id of HTTP/1.1, offered second.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The CA bundles whose subjects the server advertises when it requests a client certificate
/// (typically `--client-ca-file` and `--requestheader-client-ca-file`).
///
/// They only shape the request: the handshake accepts any well-formed certificate whose key
/// the client proves it holds, and the authenticators decide trust with
/// [`CertificateAuthority::verify_client_chain`]. With no bundles the request names no CA,
/// and clients send whatever certificate they have.
#[derive(Debug, Clone, Default)]
pub struct ClientAuthRoots {
    authorities: Vec<CertificateAuthority>,
}

impl ClientAuthRoots {
    /// No bundles: client certificates are still requested, naming no CA.
    pub fn none() -> Self {
        Self::default()
    }

    /// The given bundles.
    pub fn new(authorities: impl IntoIterator<Item = CertificateAuthority>) -> Self {
        Self { authorities: authorities.into_iter().collect() }
    }

    /// Adds a bundle.
    pub fn with(mut self, authority: CertificateAuthority) -> Self {
        self.authorities.push(authority);
        self
    }

    /// The bundles.
    pub fn authorities(&self) -> &[CertificateAuthority] {
        &self.authorities
    }

    fn generations(&self) -> Vec<u64> {
        self.authorities.iter().map(CertificateAuthority::generation).collect()
    }

    /// The subjects of every root of every bundle, without duplicates, in order.
    fn hints(&self) -> Vec<DistinguishedName> {
        let mut hints: Vec<DistinguishedName> = Vec::new();
        for subject in self.authorities.iter().flat_map(|ca| ca.subjects()) {
            if !hints.iter().any(|h| h.as_ref() == subject.as_ref()) {
                hints.push(subject);
            }
        }
        hints
    }
}

#[derive(Clone)]
struct Built {
    config: Arc<ServerConfig>,
    generations: Vec<u64>,
}

struct Inner {
    provider: Arc<CryptoProvider>,
    versions: Vec<&'static SupportedProtocolVersion>,
    resolver: Arc<ServingCertResolver>,
    client_auth: ClientAuthRoots,
    session_storage: Arc<dyn StoresServerSessions>,
    built: RwLock<Built>,
}

impl Inner {
    fn build(&self) -> Result<Built, TlsError> {
        // Read the generations before the subjects: a swap in between makes the next refresh
        // rebuild again rather than keep stale hints.
        let generations = self.client_auth.generations();
        let config = build_config(
            self.provider.clone(),
            &self.versions,
            self.resolver.clone(),
            self.client_auth.hints(),
            Some(self.session_storage.clone()),
        )?;
        Ok(Built { config: Arc::new(config), generations })
    }

    /// Rebuilds the configuration if a client CA bundle changed since it was built.
    fn refresh(&self) -> Result<ReloadOutcome, TlsError> {
        if read_lock(&self.built).generations == self.client_auth.generations() {
            return Ok(ReloadOutcome::Unchanged);
        }
        write_lock(&self.built, self.build()?);
        Ok(ReloadOutcome::Reloaded)
    }

    fn reload(&self) -> Result<ReloadOutcome, TlsError> {
        let mut outcome = ReloadOutcome::Unchanged;
        let mut first_error = None;
        let mut note = |result: Result<ReloadOutcome, TlsError>, what: &str| match result {
            Ok(o) => outcome = outcome.or(o),
            Err(error) => {
                tracing::error!(%error, "{what} reload failed; keeping the previous one");
                first_error.get_or_insert(error);
            }
        };
        note(self.resolver.reload(), "serving certificate");
        for ca in self.client_auth.authorities() {
            note(ca.reload(), "client CA bundle");
        }
        note(self.refresh(), "TLS configuration");
        first_error.map_or(Ok(outcome), Err)
    }
}

fn build_config(
    provider: Arc<CryptoProvider>,
    versions: &[&'static SupportedProtocolVersion],
    resolver: Arc<ServingCertResolver>,
    hints: Vec<DistinguishedName>,
    session_storage: Option<Arc<dyn StoresServerSessions>>,
) -> Result<ServerConfig, TlsError> {
    let verifier = Arc::new(RequestClientCert::new(hints, provider.signature_verification_algorithms));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|source| TlsError::Config { source })?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
    if let Some(storage) = session_storage {
        config.session_storage = storage;
    }
    Ok(config)
}

/// The server side of TLS: the current rustls configuration plus what keeps it fresh.
///
/// Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct ServerTls {
    inner: Arc<Inner>,
}

impl ServerTls {
    /// Loads the serving certificate and builds the configuration.
    ///
    /// Fails if the certificate or key file is unreadable, malformed or mismatched.
    pub fn new(serving: ServingCertSource, client_auth: ClientAuthRoots) -> Result<Self, TlsError> {
        Self::with_policy(serving, client_auth, &TlsPolicy::default())
    }

    /// Like [`new`](Self::new), with the protocol versions and cipher suites narrowed to
    /// `policy` (`--tls-min-version`, `--tls-cipher-suites`).
    pub fn with_policy(
        serving: ServingCertSource,
        client_auth: ClientAuthRoots,
        policy: &TlsPolicy,
    ) -> Result<Self, TlsError> {
        let base = crate::crypto_provider();
        let versions = policy.versions_with_suites(&base);
        let provider = Arc::new(policy.provider(&base));
        let resolver = Arc::new(ServingCertResolver::load(serving, provider.clone())?);
        let generations = client_auth.generations();
        let config = build_config(provider.clone(), &versions, resolver.clone(), client_auth.hints(), None)?;
        let session_storage = config.session_storage.clone();
        Ok(Self {
            inner: Arc::new(Inner {
                provider,
                versions,
                resolver,
                client_auth,
                session_storage,
                built: RwLock::new(Built { config: Arc::new(config), generations }),
            }),
        })
    }

    /// The current configuration. Take it per connection: it is replaced when a client CA
    /// bundle changes (the serving certificate changes inside it).
    pub fn config(&self) -> Arc<ServerConfig> {
        read_lock(&self.inner.built).config
    }

    /// A tokio-rustls acceptor with the current configuration, for one connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config())
    }

    /// The serving certificate resolver.
    pub fn serving_cert(&self) -> &Arc<ServingCertResolver> {
        &self.inner.resolver
    }

    /// The client CA bundles (shared with the authenticators that verify against them).
    pub fn client_auth(&self) -> &ClientAuthRoots {
        &self.inner.client_auth
    }

    /// Re-reads the serving certificate and the file-backed client CA bundles, swapping in what
    /// changed and parses, and rebuilds the configuration if a bundle changed (also when it was
    /// changed through another handle, e.g. [`CertificateAuthority::update_pem`]).
    ///
    /// Every part is attempted; each failure is logged and leaves the previous material in
    /// use, and the first one is returned.
    pub fn reload(&self) -> Result<ReloadOutcome, TlsError> {
        self.inner.reload()
    }

    /// Spawns a task that calls [`reload`](Self::reload) every `interval`
    /// ([`DEFAULT_RELOAD_INTERVAL`](crate::DEFAULT_RELOAD_INTERVAL) in Kubernetes terms). It ends
    /// by itself when every clone of this `ServerTls` is dropped; abort the handle to stop it
    /// earlier.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime.
    pub fn spawn_reloader(&self, interval: Duration) -> JoinHandle<()> {
        spawn_periodic(Arc::downgrade(&self.inner), interval, |inner| {
            // Failures are logged inside.
            let _ = inner.reload();
        })
    }
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("serving_cert", &self.inner.resolver)
            .field("client_auth", &self.inner.client_auth)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
