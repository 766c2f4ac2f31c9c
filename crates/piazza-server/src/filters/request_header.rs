//! Front-proxy authentication: the identity kube-aggregator forwards in `X-Remote-*` headers.
//!
//! The headers are believed **only** when the connection's client certificate verifies against
//! the requestheader CA (`--requestheader-client-ca-file`) and, if `--requestheader-allowed-names`
//! is non-empty, its common name is on that list. Otherwise they are ignored: the authenticator
//! has no opinion and the next one in the union decides, so a forged
//! `X-Remote-User: admin` / `X-Remote-Group: system:masters` grants nothing.
//!
//! Only the configured header names are read (upstream's `headerrequest` package):
//! - the user name is the first non-empty value among the username headers, tried in order;
//! - the uid likewise from the uid headers;
//! - the groups are every non-empty value of every group header (values are not split on commas);
//! - each header starting with an extra prefix (case-insensitively) adds its values to the extra
//!   key named by the rest of the header name, lowercased and then percent-unescaped (kept as
//!   is when the escapes are malformed or decode to invalid UTF-8).
//!
//! Values that are not UTF-8 are skipped. After authentication the credentials are removed from
//! the request ([`strip_credentials`]): `Authorization`, the standard `X-Remote-*` headers and
//! the configured ones, as upstream's authentication filter does, so nothing downstream can
//! mistake them for verified facts.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderName};
use piazza_core::user::{ANONYMOUS_USER, AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP};
use piazza_core::{ApiError, UserInfo};
use piazza_tls::CertificateAuthority;
use rustls_pki_types::{CertificateDer, UnixTime};

use super::authentication::{Authenticator, PeerCertificates};
use super::{FilterFuture, Next};
use crate::body::Request;

/// The default username header (`--requestheader-username-headers`).
pub const DEFAULT_USERNAME_HEADER: &str = "X-Remote-User";
/// The default uid header (`--requestheader-uid-headers`).
pub const DEFAULT_UID_HEADER: &str = "X-Remote-Uid";
/// The default group header (`--requestheader-group-headers`).
pub const DEFAULT_GROUP_HEADER: &str = "X-Remote-Group";
/// The default extra-header prefix (`--requestheader-extra-headers-prefix`).
pub const DEFAULT_EXTRA_HEADERS_PREFIX: &str = "X-Remote-Extra-";

/// Why a request-header configuration was refused at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestHeaderError {
    /// A configured header name is empty once trimmed.
    #[error("empty header name {0:?} in --requestheader-{1}")]
    Empty(String, &'static str),
    /// A configured header name is not a valid HTTP header name.
    #[error("invalid header name {name:?} in --requestheader-{flag}: {source}")]
    Invalid {
        /// The name as given.
        name: String,
        /// Which flag.
        flag: &'static str,
        /// The cause.
        #[source]
        source: http::header::InvalidHeaderName,
    },
}

/// Which headers carry the front proxy's identity. Names are stored lowercased (HTTP header
/// names are case-insensitive, and hyper hands them to us lowercased). The default configures
/// none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHeaderNames {
    /// Tried in order; the first non-empty value is the user name.
    pub username: Vec<HeaderName>,
    /// Tried in order; the first non-empty value is the uid.
    pub uid: Vec<HeaderName>,
    /// Every non-empty value of each is a group.
    pub group: Vec<HeaderName>,
    /// Lowercased prefixes of the headers that carry extra attributes.
    pub extra_prefixes: Vec<String>,
}

fn header_names(names: &[String], flag: &'static str) -> Result<Vec<HeaderName>, RequestHeaderError> {
    names
        .iter()
        .map(|raw| {
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                return Err(RequestHeaderError::Empty(raw.clone(), flag));
            }
            HeaderName::from_bytes(trimmed.as_bytes()).map_err(|source| RequestHeaderError::Invalid {
                name: raw.clone(),
                flag,
                source,
            })
        })
        .collect()
}

impl RequestHeaderNames {
    /// Validates the configured names: each is trimmed and must be a non-empty, valid header
    /// name (a prefix must be a valid header name too).
    pub fn new(
        username: &[String],
        uid: &[String],
        group: &[String],
        extra_prefixes: &[String],
    ) -> Result<Self, RequestHeaderError> {
        Ok(Self {
            username: header_names(username, "username-headers")?,
            uid: header_names(uid, "uid-headers")?,
            group: header_names(group, "group-headers")?,
            extra_prefixes: header_names(extra_prefixes, "extra-headers-prefix")?
                .into_iter()
                .map(|name| name.as_str().to_owned())
                .collect(),
        })
    }

    /// The standard names: `X-Remote-User`, `X-Remote-Uid`, `X-Remote-Group`, `X-Remote-Extra-`.
    pub fn standard() -> &'static Self {
        static STANDARD: OnceLock<RequestHeaderNames> = OnceLock::new();
        STANDARD.get_or_init(|| {
            let one = |s: &str| vec![s.to_owned()];
            Self::new(
                &one(DEFAULT_USERNAME_HEADER),
                &one(DEFAULT_UID_HEADER),
                &one(DEFAULT_GROUP_HEADER),
                &one(DEFAULT_EXTRA_HEADERS_PREFIX),
            )
            .expect("the standard header names are valid")
        })
    }
}

/// A header value as text, or `None` if it is not UTF-8.
fn text(value: &http::HeaderValue) -> Option<&str> {
    std::str::from_utf8(value.as_bytes()).ok()
}

/// The first non-empty value among `names`, looking only at each header's first value (as Go's
/// `Header.Get`).
fn first_value(headers: &HeaderMap, names: &[HeaderName]) -> Option<String> {
    names
        .iter()
        .filter_map(|name| headers.get(name).and_then(text))
        .find(|value| !value.is_empty())
        .map(str::to_owned)
}

/// Decodes `%XX` escapes as Go's `url.PathUnescape` does (a `+` stays a `+`). `None` when an
/// escape is malformed or the result is not UTF-8.
fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The extra key named by the rest of a header name: lowercased, then percent-unescaped; kept
/// as is (lowercased) when unescaping fails, so an extra is always recorded, as upstream.
pub fn unescape_extra_key(encoded: &str) -> String {
    let lower = encoded.to_ascii_lowercase();
    percent_decode(&lower).unwrap_or(lower)
}

/// True if `name` starts with `prefix`, ignoring ASCII case.
fn has_prefix_ignore_case(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.is_char_boundary(prefix.len())
        && name[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Reads the identity the (already trusted) front proxy asserts. `None` when no username
/// header has a value: the proxy asserted nobody.
pub fn user_from_headers(names: &RequestHeaderNames, headers: &HeaderMap) -> Option<UserInfo> {
    let name = first_value(headers, &names.username)?;
    let uid = first_value(headers, &names.uid).unwrap_or_default();
    let mut groups: Vec<String> = names
        .group
        .iter()
        .flat_map(|header| headers.get_all(header).iter())
        .filter_map(text)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
        .collect();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for prefix in &names.extra_prefixes {
        for header in headers.keys() {
            if !has_prefix_ignore_case(header.as_str(), prefix) {
                continue;
            }
            let key = unescape_extra_key(&header.as_str()[prefix.len()..]);
            let values = headers.get_all(header).iter().filter_map(text).map(str::to_owned);
            extra.entry(key).or_default().extend(values);
        }
    }
    // As upstream's authenticated-group adder: everyone but the anonymous user is in
    // system:authenticated unless the proxy already said otherwise.
    if name != ANONYMOUS_USER
        && !groups.iter().any(|g| g == AUTHENTICATED_GROUP || g == UNAUTHENTICATED_GROUP)
    {
        groups.push(AUTHENTICATED_GROUP.to_owned());
    }
    Some(UserInfo { name, uid, groups, extra })
}

/// Removes every header `names` reads from `headers`.
pub fn clear_headers(names: &RequestHeaderNames, headers: &mut HeaderMap) {
    for name in names.username.iter().chain(&names.uid).chain(&names.group) {
        headers.remove(name);
    }
    let extras: Vec<HeaderName> = headers
        .keys()
        .filter(|h| names.extra_prefixes.iter().any(|p| has_prefix_ignore_case(h.as_str(), p)))
        .cloned()
        .collect();
    for name in extras {
        headers.remove(name);
    }
}

/// Why a client certificate may not speak for other users.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyRejection {
    /// The connection presented no certificate.
    #[error("no client certificate")]
    NoCertificate,
    /// The certificate does not verify against the requestheader CA.
    #[error("client certificate not signed by the requestheader CA: {0}")]
    Untrusted(#[source] piazza_tls::VerifyError),
    /// The certificate verifies, but its common name is not an allowed proxy name.
    #[error("client certificate CN {0:?} is not in --requestheader-allowed-names")]
    NameNotAllowed(String),
}

/// Decides whether the certificate `chain` belongs to a trusted front proxy: it must verify
/// against `authority` at `now` and, when `allowed_names` is non-empty, name one of them as
/// its common name. Returns that common name.
pub fn verify_front_proxy(
    authority: &CertificateAuthority,
    allowed_names: &[String],
    chain: &[CertificateDer<'_>],
    now: UnixTime,
) -> Result<String, ProxyRejection> {
    if chain.is_empty() {
        return Err(ProxyRejection::NoCertificate);
    }
    let identity = authority.verify_client_chain(chain, now).map_err(ProxyRejection::Untrusted)?;
    if !allowed_names.is_empty() && !allowed_names.contains(&identity.common_name) {
        return Err(ProxyRejection::NameNotAllowed(identity.common_name));
    }
    Ok(identity.common_name)
}

/// The front-proxy authenticator: the first in the union.
pub struct RequestHeaderAuthenticator {
    authority: CertificateAuthority,
    allowed_names: Vec<String>,
    names: Arc<RequestHeaderNames>,
}

impl RequestHeaderAuthenticator {
    /// Trusts proxies whose certificates verify against `authority` and whose CN is in
    /// `allowed_names` (any CN when empty), reading the identity from `names`.
    ///
    /// Empty entries are dropped (`--requestheader-allowed-names=""` is an empty list, as in
    /// Go); other entries are kept exactly, so a list of blanks allows nobody rather than
    /// everybody.
    pub fn new(
        authority: CertificateAuthority,
        allowed_names: Vec<String>,
        names: Arc<RequestHeaderNames>,
    ) -> Self {
        let allowed_names = allowed_names.into_iter().filter(|n| !n.is_empty()).collect();
        Self { authority, allowed_names, names }
    }
}

#[async_trait]
impl Authenticator for RequestHeaderAuthenticator {
    async fn authenticate(&self, request: &http::request::Parts) -> Result<Option<UserInfo>, ApiError> {
        let chain = request.extensions.get::<PeerCertificates>().map(|p| p.0.as_slice()).unwrap_or_default();
        if chain.is_empty() {
            return Ok(None);
        }
        match verify_front_proxy(&self.authority, &self.allowed_names, chain, UnixTime::now()) {
            Ok(_) => Ok(user_from_headers(&self.names, &request.headers)),
            Err(why) => {
                // Not a front proxy: its headers mean nothing, and the next authenticator
                // (x509 for the same certificate) decides.
                tracing::trace!(reason = %why, "request headers ignored");
                Ok(None)
            }
        }
    }
}

/// The filter function, a step placed right after authentication: removes `Authorization`,
/// the standard front-proxy headers and the configured ones (`names`) from every
/// authenticated request.
pub fn strip_credentials(names: &RequestHeaderNames, mut request: Request, next: Next) -> FilterFuture {
    let headers = request.headers_mut();
    headers.remove(AUTHORIZATION);
    clear_headers(RequestHeaderNames::standard(), headers);
    clear_headers(names, headers);
    next.run(request)
}

#[cfg(test)]
mod tests;
