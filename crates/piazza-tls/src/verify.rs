//! Client certificate chain verification for authenticators.
//!
//! A [`CertificateAuthority`] is a bundle of trusted root certificates (a `--client-ca-file`,
//! a `--requestheader-client-ca-file`, or the same PEM taken from the
//! `extension-apiserver-authentication` ConfigMap). Its roots are parsed once per content
//! change, so [`verify_client_chain`](CertificateAuthority::verify_client_chain) costs one
//! path build and no parsing of the bundle. Handles are cheap clones sharing one bundle: a
//! reload through any of them is seen by all.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::DistinguishedName;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use tokio::task::JoinHandle;

use crate::reload::{ReloadOutcome, content_digest, read_lock, spawn_periodic, write_lock};
use crate::{TlsError, VerifyError, pem};

mod identity;

pub use identity::ClientIdentity;

/// Where a bundle's PEM comes from.
#[derive(Debug)]
enum Origin {
    /// A file, re-read by [`CertificateAuthority::reload`].
    File(PathBuf),
    /// In-memory PEM, replaced only by [`CertificateAuthority::update_pem`].
    Memory(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => path.display().fmt(f),
            Origin::Memory(name) => name.fmt(f),
        }
    }
}

/// The parsed roots of one version of the bundle.
struct Bundle {
    digest: [u8; 32],
    certs: Vec<CertificateDer<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
    subjects: Vec<DistinguishedName>,
}

impl Bundle {
    fn parse(origin: &str, pem_bytes: &[u8]) -> Result<Self, TlsError> {
        let certs = pem::certificates(origin, pem_bytes)?;
        let anchors = certs
            .iter()
            .enumerate()
            .map(|(index, cert)| {
                webpki::anchor_from_trusted_cert(cert).map(|anchor| anchor.to_owned()).map_err(|source| {
                    TlsError::InvalidTrustAnchor { origin: origin.to_owned(), index, source }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let subjects =
            anchors.iter().map(|anchor| DistinguishedName::in_sequence(anchor.subject.as_ref())).collect();
        Ok(Self { digest: content_digest(&[pem_bytes]), certs, anchors, subjects })
    }
}

struct Inner {
    origin: Origin,
    bundle: RwLock<Arc<Bundle>>,
    generation: AtomicU64,
}

impl Inner {
    fn swap_if_changed(&self, pem_bytes: &[u8]) -> Result<ReloadOutcome, TlsError> {
        if content_digest(&[pem_bytes]) == read_lock(&self.bundle).digest {
            return Ok(ReloadOutcome::Unchanged);
        }
        let bundle = Bundle::parse(&self.origin.to_string(), pem_bytes)?;
        let roots = bundle.anchors.len();
        write_lock(&self.bundle, Arc::new(bundle));
        self.generation.fetch_add(1, Ordering::Release);
        tracing::info!(ca = %self.origin, roots, "reloaded CA bundle");
        Ok(ReloadOutcome::Reloaded)
    }

    fn reload(&self) -> Result<ReloadOutcome, TlsError> {
        match &self.origin {
            Origin::File(path) => self.swap_if_changed(&pem::read_file(path)?),
            Origin::Memory(_) => Ok(ReloadOutcome::Unchanged),
        }
    }
}

/// A reloadable bundle of trusted root certificates (one or several CAs) that verifies client
/// certificate chains.
#[derive(Clone)]
pub struct CertificateAuthority {
    inner: Arc<Inner>,
}

impl CertificateAuthority {
    /// Loads a PEM bundle from a file; [`reload`](Self::reload) re-reads it.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self, TlsError> {
        let path = path.into();
        let bytes = pem::read_file(&path)?;
        Self::build(Origin::File(path), &bytes)
    }

    /// Builds a bundle from in-memory PEM; `name` identifies it in errors and logs (for example
    /// `"configmap kube-system/extension-apiserver-authentication client-ca-file"`).
    pub fn from_pem(name: impl Into<String>, pem_bytes: &[u8]) -> Result<Self, TlsError> {
        Self::build(Origin::Memory(name.into()), pem_bytes)
    }

    fn build(origin: Origin, pem_bytes: &[u8]) -> Result<Self, TlsError> {
        let bundle = Bundle::parse(&origin.to_string(), pem_bytes)?;
        Ok(Self {
            inner: Arc::new(Inner {
                origin,
                bundle: RwLock::new(Arc::new(bundle)),
                generation: AtomicU64::new(0),
            }),
        })
    }

    /// The file or name this bundle was loaded from, for messages.
    pub fn name(&self) -> String {
        self.inner.origin.to_string()
    }

    /// The file this bundle is read from, if it is file-backed.
    pub fn path(&self) -> Option<&Path> {
        match &self.inner.origin {
            Origin::File(path) => Some(path),
            Origin::Memory(_) => None,
        }
    }

    /// Re-reads the file; if its content changed and parses, swaps the new roots in. On error
    /// the previous roots stay in use. An in-memory bundle is always `Unchanged`.
    pub fn reload(&self) -> Result<ReloadOutcome, TlsError> {
        self.inner.reload()
    }

    /// Replaces the roots with `pem_bytes` if they differ from the current content and parse
    /// (for bundles fed from a ConfigMap). On error the previous roots stay in use. For a
    /// file-backed bundle, the next [`reload`](Self::reload) brings back the file's content.
    pub fn update_pem(&self, pem_bytes: &[u8]) -> Result<ReloadOutcome, TlsError> {
        self.inner.swap_if_changed(pem_bytes)
    }

    /// Counts the swaps so far; compare two readings to learn whether the roots changed.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// The DER-encoded subjects of the roots, as sent in a TLS `CertificateRequest`.
    pub fn subjects(&self) -> Vec<DistinguishedName> {
        read_lock(&self.inner.bundle).subjects.clone()
    }

    /// The root certificates currently trusted.
    pub fn certificates(&self) -> Vec<CertificateDer<'static>> {
        read_lock(&self.inner.bundle).certs.clone()
    }

    /// Verifies that `chain` (leaf first, then any intermediates, as received in the TLS
    /// handshake) chains to one of the roots, is valid at `now` and allows client
    /// authentication (its extended key usage includes clientAuth, or it has none), and returns
    /// who the leaf names.
    pub fn verify_client_chain(
        &self,
        chain: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientIdentity, VerifyError> {
        let (leaf, intermediates) = chain.split_first().ok_or(VerifyError::NoCertificate)?;
        let end_entity = webpki::EndEntityCert::try_from(leaf).map_err(VerifyError::Malformed)?;
        let bundle = read_lock(&self.inner.bundle);
        end_entity
            .verify_for_usage(
                crate::crypto_provider().signature_verification_algorithms.all,
                &bundle.anchors,
                intermediates,
                now,
                webpki::KeyUsage::client_auth(),
                None,
                None,
            )
            .map_err(VerifyError::from_webpki)?;
        ClientIdentity::from_leaf(leaf)
    }

    /// Spawns a task that calls [`reload`](Self::reload) every `interval`, logging failures.
    /// It ends by itself when every handle to this bundle is dropped.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime.
    pub fn spawn_reloader(&self, interval: Duration) -> JoinHandle<()> {
        spawn_periodic(Arc::downgrade(&self.inner), interval, |inner| {
            if let Err(error) = inner.reload() {
                tracing::error!(ca = %inner.origin, %error, "CA bundle reload failed; keeping the previous roots");
            }
        })
    }
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("origin", &self.inner.origin)
            .field("roots", &read_lock(&self.inner.bundle).anchors.len())
            .field("generation", &self.generation())
            .finish()
    }
}

#[cfg(test)]
mod tests;
