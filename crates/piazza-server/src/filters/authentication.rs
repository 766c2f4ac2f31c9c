//! Authentication: who is making the request. Authenticators are tried in order; the first
//! that recognises credentials wins. A request with credentials that fail verification is
//! a 401. A request with none is anonymous when anonymous access is on, or when the path is
//! one of the health paths that need no authentication; otherwise a 401.

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
pub struct X509Authenticator {
    authority: CertificateAuthority,
}

impl X509Authenticator {
    /// Verifies client certificates against `authority`.
    pub fn new(authority: CertificateAuthority) -> Self {
        Self { authority }
    }
}

#[async_trait]
impl Authenticator for X509Authenticator {
    async fn authenticate(&self, request: &http::request::Parts) -> Result<Option<UserInfo>, ApiError> {
        let Some(peer) = request.extensions.get::<PeerCertificates>().filter(|p| !p.0.is_empty()) else {
            return Ok(None);
        };
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
        Ok(Some(UserInfo { name: identity.common_name.clone(), groups, ..Default::default() }))
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
    for authenticator in &settings.authenticators {
        if let Some(user) = authenticator.authenticate(parts).await? {
            return Ok(user);
        }
    }
    if settings.anonymous || path_matches(&settings.unauthenticated_paths, parts.uri.path()) {
        return Ok(UserInfo::anonymous());
    }
    Err(ApiError::unauthorized())
}

/// The filter function: attaches [`UserInfo`] or answers 401.
pub async fn authenticate_request(settings: Authentication, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    match authenticate(&settings, &parts).await {
        Ok(user) => {
            parts.extensions.insert(user);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => error_response(&e, Format::Json),
    }
}
