//! Authentication: who is making the request. Authenticators are tried in order, as
//! upstream's union: the first that recognises credentials wins; one that finds invalid
//! credentials does not stop the others (a bad client certificate with a good token is the
//! token's user), but if none succeeds the request is a 401. A request with no credentials is
//! anonymous when anonymous access is on (`--anonymous-auth`), or when the path is one of the
//! configured unauthenticated paths; otherwise a 401.

use std::sync::Arc;

use async_trait::async_trait;
use piazza_codec::Format;
use piazza_core::user::AUTHENTICATED_GROUP;
use piazza_core::{ApiError, UserInfo};
use piazza_tls::CertificateAuthority;
use rustls_pki_types::CertificateDer;

use super::Next;
use crate::body::{Request, Response};
use crate::response::error_response;

/// The TLS client certificate chain of the connection, attached to each request.
#[derive(Clone, Debug, Default)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

/// One way of recognising a user.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// `Ok(None)`: no credentials of this kind. `Err`: credentials present but invalid.
    async fn authenticate(&self, request: &http::request::Parts) -> Result<Option<UserInfo>, ApiError>;
}

/// Client certificates verified against a CA: CN is the user, O the groups.
///
/// As upstream (`dynamiccertificates.WithChainsVerification`), a connection's chain is
/// verified once and the user reused by its later requests while the CA bundle is
/// unchanged; it is re-verified after [`X509_REVERIFY_AFTER`] so that a certificate that
/// expires during a long connection stops working. Signature checks dominated the CPU of
/// small requests before (about a third of a GET).
pub struct X509Authenticator {
    authority: CertificateAuthority,
    /// Users of verified connections, by the address of their [`PeerCertificates`] (the
    /// `Weak` keeps that address from being reused while the entry exists).
    verified: std::sync::Mutex<std::collections::HashMap<usize, VerifiedChain>>,
}

/// How long a connection's verified chain is trusted before it is verified again.
pub const X509_REVERIFY_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// Connections remembered before the entries of closed ones are dropped.
const X509_CACHE_PRUNE_AT: usize = 256;

struct VerifiedChain {
    chain: std::sync::Weak<Vec<CertificateDer<'static>>>,
    generation: u64,
    at: std::time::Instant,
    user: UserInfo,
}

impl X509Authenticator {
    /// Verifies client certificates against `authority`.
    pub fn new(authority: CertificateAuthority) -> Self {
        Self { authority, verified: std::sync::Mutex::default() }
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<usize, VerifiedChain>> {
        self.verified.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The user of an already verified connection, if still fresh.
    fn cached_user(&self, peer: &PeerCertificates) -> Option<UserInfo> {
        let verified = self.verified();
        let entry = verified.get(&(Arc::as_ptr(&peer.0) as usize))?;
        let fresh = std::ptr::eq(entry.chain.as_ptr(), Arc::as_ptr(&peer.0))
            && entry.generation == self.authority.generation()
            && entry.at.elapsed() < X509_REVERIFY_AFTER;
        fresh.then(|| entry.user.clone())
    }

    fn remember(&self, peer: &PeerCertificates, generation: u64, user: &UserInfo) {
        let mut verified = self.verified();
        if verified.len() >= X509_CACHE_PRUNE_AT {
            verified.retain(|_, e| e.chain.strong_count() > 0);
            if verified.len() >= X509_CACHE_PRUNE_AT * 4 {
                verified.clear();
            }
        }
        let entry = VerifiedChain {
            chain: Arc::downgrade(&peer.0),
            generation,
            at: std::time::Instant::now(),
            user: user.clone(),
        };
        verified.insert(Arc::as_ptr(&peer.0) as usize, entry);
    }
}

#[async_trait]
impl Authenticator for X509Authenticator {
    async fn authenticate(&self, request: &http::request::Parts) -> Result<Option<UserInfo>, ApiError> {
        let Some(peer) = request.extensions.get::<PeerCertificates>().filter(|p| !p.0.is_empty()) else {
            return Ok(None);
        };
        if let Some(user) = self.cached_user(peer) {
            return Ok(Some(user));
        }
        let generation = self.authority.generation();
        let user = self.verify(peer)?;
        self.remember(peer, generation, &user);
        Ok(Some(user))
    }
}

impl X509Authenticator {
    /// Verifies the chain now and names its user.
    fn verify(&self, peer: &PeerCertificates) -> Result<UserInfo, ApiError> {
        let identity =
            self.authority.verify_client_chain(&peer.0, rustls_pki_types::UnixTime::now()).map_err(|e| {
                tracing::debug!(error = %e, "client certificate rejected");
                ApiError::unauthorized()
            })?;
        if identity.common_name.is_empty() {
            // As upstream: a certificate without a common name names no user.
            return Err(ApiError::unauthorized());
        }
        let mut groups = identity.organizations.clone();
        groups.push(AUTHENTICATED_GROUP.to_owned());
        Ok(UserInfo { name: identity.common_name.clone(), groups, ..Default::default() })
    }
}

/// The authentication settings of the chain.
#[derive(Clone)]
pub struct Authentication {
    /// Authenticators, tried in order.
    pub authenticators: Vec<Arc<dyn Authenticator>>,
    /// Whether requests without credentials proceed as `system:anonymous`.
    pub anonymous: bool,
    /// Paths that need no authentication (exact, or prefix when ending in `*`).
    pub unauthenticated_paths: Arc<Vec<String>>,
}

/// True if `path` matches one of `patterns` (exact, or prefix for a trailing `*`).
pub fn path_matches(patterns: &[String], path: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => p == path,
    })
}

/// Decides who the request is from.
pub async fn authenticate(
    settings: &Authentication,
    parts: &http::request::Parts,
) -> Result<UserInfo, ApiError> {
    let mut failure: Option<ApiError> = None;
    for authenticator in &settings.authenticators {
        match authenticator.authenticate(parts).await {
            Ok(Some(user)) => return Ok(user),
            Ok(None) => {}
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if settings.anonymous || path_matches(&settings.unauthenticated_paths, parts.uri.path()) {
        return Ok(UserInfo::anonymous());
    }
    Err(ApiError::unauthorized())
}

/// The filter function: attaches [`UserInfo`] or answers 401.
pub async fn authenticate_request(settings: Arc<Authentication>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    match authenticate(&settings, &parts).await {
        Ok(user) => {
            parts.extensions.insert(user);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => error_response(&e, Format::Json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::test_certs::TestCa;

    fn parts(peer: &PeerCertificates) -> http::request::Parts {
        let (mut parts, ()) = http::Request::builder().uri("/apis").body(()).unwrap().into_parts();
        parts.extensions.insert(peer.clone());
        parts
    }

    #[tokio::test]
    async fn a_connection_is_verified_once_until_the_ca_changes() {
        let ca = TestCa::new("client-ca");
        let authority = ca.authority();
        let x509 = X509Authenticator::new(authority.clone());
        let peer = PeerCertificates(Arc::new(ca.client("alice", &["devs"])));
        for _ in 0..2 {
            let user = x509.authenticate(&parts(&peer)).await.unwrap().unwrap();
            assert_eq!(user.name, "alice");
            assert_eq!(user.groups, ["devs", AUTHENTICATED_GROUP]);
        }
        assert_eq!(x509.verified().len(), 1);
        // Another CA replaces the roots: the connection is verified again, and fails.
        let other = rcgen::generate_simple_self_signed(vec!["other".to_owned()]).unwrap();
        authority.update_pem(other.cert.pem().as_bytes()).unwrap();
        assert_eq!(x509.authenticate(&parts(&peer)).await.unwrap_err().code, 401);
    }

    #[tokio::test]
    async fn a_verified_connection_vouches_for_no_other() {
        let ca = TestCa::new("client-ca");
        let rogue = TestCa::new("client-ca");
        let x509 = X509Authenticator::new(ca.authority());
        let good = PeerCertificates(Arc::new(ca.client("alice", &[])));
        assert!(x509.authenticate(&parts(&good)).await.unwrap().is_some());
        let bad = PeerCertificates(Arc::new(rogue.client("alice", &[])));
        assert_eq!(x509.authenticate(&parts(&bad)).await.unwrap_err().code, 401);
        // a new connection with the same certificate is verified on its own
        let again = PeerCertificates(Arc::new(ca.client("bob", &[])));
        assert_eq!(x509.authenticate(&parts(&again)).await.unwrap().unwrap().name, "bob");
        assert_eq!(x509.verified().len(), 2);
    }
}
