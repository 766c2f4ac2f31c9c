//! The serving certificate: loaded from PEM files and swapped in place when they change.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::reload::{ReloadOutcome, content_digest, read_lock, write_lock};
use crate::{TlsError, pem};

/// Where the serving certificate comes from: `--tls-cert-file` and `--tls-private-key-file`.
///
/// The certificate file holds the leaf first, optionally followed by intermediates; the key
/// file holds one PKCS#8, PKCS#1 or SEC1 private key. Both may be the same file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingCertSource {
    cert_file: PathBuf,
    key_file: PathBuf,
}

impl ServingCertSource {
    /// A source reading the given certificate and key files.
    pub fn new(cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> Self {
        Self { cert_file: cert_file.into(), key_file: key_file.into() }
    }

    /// The certificate (chain) file.
    pub fn cert_file(&self) -> &Path {
        &self.cert_file
    }

    /// The private key file.
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// Reads both files.
    fn read(&self) -> Result<Contents, TlsError> {
        let cert = pem::read_file(&self.cert_file)?;
        let key = pem::read_file(&self.key_file)?;
        let digest = content_digest(&[&cert, &key]);
        Ok(Contents { cert, key, digest })
    }

    fn parse(&self, cert: &[u8], key: &[u8], provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
        pem::certified_key(
            &self.cert_file.display().to_string(),
            cert,
            &self.key_file.display().to_string(),
            key,
            provider,
        )
    }
}

/// The raw content of the two files and its digest.
struct Contents {
    cert: Vec<u8>,
    key: Vec<u8>,
    digest: [u8; 32],
}

#[derive(Clone)]
struct Loaded {
    key: Arc<CertifiedKey>,
    digest: [u8; 32],
}

/// A [`ResolvesServerCert`] that serves the current certificate of a [`ServingCertSource`] and
/// can [`reload`](Self::reload) it without a restart.
///
/// Handshakes in progress keep the certificate they started with; new handshakes get the new
/// one as soon as a reload swapped it in.
pub struct ServingCertResolver {
    source: ServingCertSource,
    provider: Arc<CryptoProvider>,
    current: RwLock<Loaded>,
}

impl ServingCertResolver {
    /// Loads the certificate and key, failing if either is unreadable, malformed or they do not
    /// belong together.
    pub fn load(source: ServingCertSource, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let Contents { cert, key, digest } = source.read()?;
        let certified = source.parse(&cert, &key, &provider)?;
        Ok(Self { source, provider, current: RwLock::new(Loaded { key: Arc::new(certified), digest }) })
    }

    /// The certificate and key new handshakes use.
    pub fn current(&self) -> Arc<CertifiedKey> {
        read_lock(&self.current).key
    }

    /// The files this resolver reads.
    pub fn source(&self) -> &ServingCertSource {
        &self.source
    }

    /// Re-reads the files; if their content changed and parses, swaps the new certificate in.
    ///
    /// On error the previous certificate stays in use.
    pub fn reload(&self) -> Result<ReloadOutcome, TlsError> {
        let Contents { cert, key, digest } = self.source.read()?;
        if digest == read_lock(&self.current).digest {
            return Ok(ReloadOutcome::Unchanged);
        }
        let certified = self.source.parse(&cert, &key, &self.provider)?;
        write_lock(&self.current, Loaded { key: Arc::new(certified), digest });
        tracing::info!(
            cert_file = %self.source.cert_file.display(),
            key_file = %self.source.key_file.display(),
            "reloaded serving certificate"
        );
        Ok(ReloadOutcome::Reloaded)
    }
}

impl fmt::Debug for ServingCertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServingCertResolver").field("source", &self.source).finish_non_exhaustive()
    }
}

impl ResolvesServerCert for ServingCertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{Usage, self_signed_ca, signed_leaf};

    fn write_pair(dir: &Path, cert: &str, key: &str) -> ServingCertSource {
        let source = ServingCertSource::new(dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(source.cert_file(), cert).unwrap();
        std::fs::write(source.key_file(), key).unwrap();
        source
    }

    #[test]
    fn reload_swaps_only_on_valid_changed_content() {
        let dir = tempfile::tempdir().unwrap();
        let ca = self_signed_ca("ca");
        let first = signed_leaf(&ca, "first", Usage::Server);
        let source = write_pair(dir.path(), &first.cert_pem, &first.key_pem);
        let resolver = ServingCertResolver::load(source.clone(), crate::crypto_provider()).unwrap();
        assert_eq!(resolver.current().cert[0], first.cert_der);
        assert_eq!(resolver.reload().unwrap(), ReloadOutcome::Unchanged);

        // A half-written rotation (new cert, old key) is rejected and the old pair kept.
        let second = signed_leaf(&ca, "second", Usage::Server);
        std::fs::write(source.cert_file(), &second.cert_pem).unwrap();
        let err = resolver.reload().unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
        assert_eq!(resolver.current().cert[0], first.cert_der);

        std::fs::write(source.key_file(), &second.key_pem).unwrap();
        assert_eq!(resolver.reload().unwrap(), ReloadOutcome::Reloaded);
        assert_eq!(resolver.current().cert[0], second.cert_der);

        // Garbage and missing files keep the current certificate too.
        std::fs::write(source.cert_file(), "garbage").unwrap();
        assert!(matches!(resolver.reload().unwrap_err(), TlsError::NoPemBlock { .. }));
        std::fs::remove_file(source.key_file()).unwrap();
        assert!(matches!(resolver.reload().unwrap_err(), TlsError::Read { .. }));
        assert_eq!(resolver.current().cert[0], second.cert_der);
    }

    #[test]
    fn load_rejects_bad_files_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let ca = self_signed_ca("ca");
        let source = write_pair(dir.path(), "", &ca.key_pem);
        let err = ServingCertResolver::load(source, crate::crypto_provider()).unwrap_err();
        assert!(matches!(err, TlsError::Empty { .. }), "{err}");
        assert!(err.to_string().contains("tls.crt"), "{err}");

        let source = write_pair(dir.path(), &ca.key_pem, &ca.key_pem);
        let err = ServingCertResolver::load(source, crate::crypto_provider()).unwrap_err();
        assert!(matches!(err, TlsError::KeyInsteadOfCertificate { .. }), "{err}");
    }
}
