//! Certificates and TLS for Piazza servers.
//!
//! Everything a Piazza server needs to speak TLS the way an aggregated Kubernetes API server
//! does, with [`rustls`] and the `ring` crypto provider (no aws-lc):
//!
//! | Module | What it gives you |
//! |---|---|
//! | [`pki`] | [`StandalonePki`]: a self-signed CA, a serving cert and an `admin` client cert, generated once into a directory and reused afterwards |
//! | [`kubeconfig`] | [`write_kubeconfig`]: a kubeconfig with embedded credentials, written atomically with mode 0600 |
//! | [`policy`] | [`TlsPolicy`]: `--tls-min-version` and `--tls-cipher-suites` with Go's names |
//! | [`server_config`] | [`ServerTls`]: the rustls [`ServerConfig`](rustls::ServerConfig) (TLS 1.2/1.3 by [`TlsPolicy`], ALPN `h2`, `http/1.1`), client certificates requested but optional, serving cert and CA bundles reloaded without restart |
//! | [`verify`] | [`CertificateAuthority`]: a reloadable CA bundle that verifies client chains and yields a [`ClientIdentity`] (CN → user, O → groups) |
//!
//! # Wiring a server
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use piazza_tls::{ClientAuthRoots, ServerTls, StandalonePki, DEFAULT_RELOAD_INTERVAL};
//!
//! let pki = StandalonePki::load_or_generate("certs".as_ref())?;
//! let client_ca = pki.client_ca()?;
//! let tls = ServerTls::new(pki.serving_cert_source(), ClientAuthRoots::new([client_ca.clone()]))?;
//! let _reloader = tls.spawn_reloader(DEFAULT_RELOAD_INTERVAL);
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     // Take the acceptor per connection: it carries the current configuration.
//!     let acceptor = tls.acceptor();
//!     let client_ca = client_ca.clone();
//!     tokio::spawn(async move {
//!         let Ok(stream) = acceptor.accept(tcp).await else { return };
//!         let (_, conn) = stream.get_ref();
//!         let user = conn
//!             .peer_certificates()
//!             .map(|chain| client_ca.verify_client_chain(chain, rustls_pki_types::UnixTime::now()));
//!         // ... hand `user` and `stream` to the HTTP server
//! #       drop((user, stream));
//!     });
//! }
//! # }
//! ```

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

mod client_auth;
pub mod error;
mod files;
pub mod kubeconfig;
mod pem;
pub mod pki;
pub mod policy;
pub mod reload;
pub mod server_config;
pub mod serving_cert;
pub mod verify;

#[cfg(test)]
mod test_support;

pub use error::{TlsError, VerifyError};
pub use kubeconfig::{KubeconfigSpec, render_kubeconfig, write_kubeconfig};
pub use pki::{CertKeyPair, StandalonePki};
pub use policy::{TlsPolicy, TlsVersion};
pub use reload::{DEFAULT_RELOAD_INTERVAL, ReloadOutcome};
pub use server_config::{ALPN_H2, ALPN_HTTP11, ClientAuthRoots, ServerTls};
pub use serving_cert::{ServingCertResolver, ServingCertSource};
pub use verify::{CertificateAuthority, ClientIdentity};

/// The crypto provider used by every configuration this crate builds: rustls's `ring` provider.
///
/// Shared, so that callers building their own client configurations (for example for
/// `TokenReview` calls) can use the same one.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}
