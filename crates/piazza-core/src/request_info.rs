//! [`RequestInfo`]: the verb, group, version, namespace, resource, subresource and name of a
//! request, parsed once from its method, path and query, as k8s.io/apiserver's
//! `RequestInfoFactory.NewRequestInfo` does.
//!
//! Authorization, audit, max-in-flight and routing all read this one value, so it has to
//! agree with upstream exactly: an authorizer that sees a different verb or name than
//! kube-apiserver would is a security bug. The rules, in order:
//!
//! 1. The path is percent-decoded first, as Go's `URL.Path` is. `%2F` therefore splits
//!    segments like a raw `/`. Leading and trailing slashes are trimmed, then the rest is
//!    split on `/`; empty segments in the middle are kept.
//! 2. Anything that is not `/{api-prefix}/[{group}/]{version}/{something}` is a
//!    non-resource request whose verb is the lowercased HTTP method. So `/api`, `/api/v1`,
//!    `/apis/{group}` and `/apis/{group}/{version}` (discovery) are non-resource requests.
//! 3. A first part of `watch` or `proxy` (the deprecated verb-in-path forms) is the verb.
//!    Otherwise POST is `create`, GET and HEAD `get`, PUT `update`, PATCH `patch`, DELETE
//!    `delete`, and any other method the empty verb.
//! 4. `namespaces/{ns}/...` sets the namespace. If the part after `{ns}` is `status` or
//!    `finalize`, the request is about the namespace object itself; otherwise the parts
//!    continue from the namespaced resource.
//! 5. The parts left are `resource/name/subresource/...`; anything after the subresource is
//!    kept in [`RequestInfo::parts`] but not interpreted. `proxy` takes no subresource.
//! 6. A `get` without a name is `list`, or `watch` when the query's `watch` is set to
//!    anything but `0` or `false`. A `fieldSelector` pinning `metadata.name` then fills the
//!    name. A `delete` without a name is `deletecollection`.
//! 7. `list`, `watch` and `deletecollection` that did not come from a verb-in-path keep
//!    their raw `fieldSelector` and `labelSelector` for selector-aware authorization.
//!
//! # Deliberate differences from upstream
//!
//! - Go strings may hold any bytes; Rust strings are UTF-8. A path that is not UTF-8 after
//!   percent-decoding is refused with [`RequestInfoError::NonUtf8Path`]. A `metadata.name`
//!   field-selector value or a selector that is not UTF-8 after decoding is left out (no
//!   name, empty selector), which only ever makes the authorization check broader.
//! - Go's HTTP server refuses a request target with a malformed `%` escape or a raw
//!   control character before any filter runs; [`RequestInfoFactory::parse`] reports those
//!   as errors ([`RequestInfoError::is_bad_request`]) so the caller can answer 400 the same
//!   way.
//! - Upstream keeps the selectors only behind the `AuthorizeWithSelectors` feature gate
//!   (on by default since Kubernetes 1.32); here they are always kept.
//! - Upstream configures the prefixes *without* a group (`GrouplessAPIPrefixes`); here
//!   [`RequestInfoFactory::grouped_api_prefixes`] names those *with* one. The defaults
//!   behave the same; only a custom prefix listed in neither differs (groupless here).
//! - The method is lowercased with Rust's Unicode rules rather than Go's. They differ only
//!   for non-ASCII methods, which HTTP does not allow.
//! - Which list options can fail to decode (and so drop a field-selector name) follows
//!   released Kubernetes: `limit`, `timeoutSeconds`, `labelSelector`, `fieldSelector`.
//!   The shard `selector` option on upstream's development branch is not modelled.

mod selectors;
mod url;

#[cfg(test)]
mod tests;

use std::fmt;

use self::url::Query;

/// A request as Kubernetes authorizers, audit and admission see it.
///
/// For a non-resource request only [`path`](Self::path) and [`verb`](Self::verb) are set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// True for requests about an API resource or subresource.
    pub is_resource_request: bool,
    /// The percent-decoded URL path.
    pub path: String,
    /// For resource requests one of `get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `delete`, `deletecollection` or `proxy` (or empty for an unknown HTTP method); for
    /// non-resource requests the lowercased HTTP method (`get`, `post`, ...).
    pub verb: String,
    /// The API prefix: `api` (the legacy core group) or `apis`.
    pub api_prefix: String,
    /// The API group, empty for the core group.
    pub api_group: String,
    /// The API version, e.g. `v1`.
    pub api_version: String,
    /// The namespace, empty for cluster-scoped resources and all-namespace lists.
    pub namespace: String,
    /// The resource (plural name), e.g. `pods`. Not the kind.
    pub resource: String,
    /// The subresource, e.g. `status` or `scale`.
    pub subresource: String,
    /// The object name, when the path names one (or a list pins it with a
    /// `metadata.name` field selector).
    pub name: String,
    /// The path parts from the resource on: `resource/name/subresource/...`.
    pub parts: Vec<String>,
    /// The raw `fieldSelector` of a `list`, `watch` or `deletecollection`.
    pub field_selector: String,
    /// The raw `labelSelector` of a `list`, `watch` or `deletecollection`.
    pub label_selector: String,
}

impl RequestInfo {
    /// True for a resource `watch`, whether asked for by `?watch=true` or the deprecated
    /// `/watch/` path prefix.
    pub fn is_watch(&self) -> bool {
        self.is_resource_request && self.verb == "watch"
    }

    /// True for a resource `list` or `watch`: reads of a collection.
    pub fn is_list_like(&self) -> bool {
        self.is_resource_request && matches!(self.verb.as_str(), "list" | "watch")
    }

    /// True if the verb does not change anything (`get`, `list` or `watch`), for resource
    /// and non-resource requests alike. This is how max-in-flight picks its pool.
    pub fn is_read_only(&self) -> bool {
        matches!(self.verb.as_str(), "get" | "list" | "watch")
    }
}

/// Why a request's info could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestInfoError {
    /// The path or query holds a raw control character (below 0x20, or 0x7f).
    ControlCharacter,
    /// A `%` in the path is not followed by two hex digits.
    InvalidPercentEncoding {
        /// The offending sequence, at most three characters.
        escape: String,
    },
    /// The percent-decoded path is not UTF-8.
    NonUtf8Path,
    /// The path ends right after a `watch` or `proxy` verb, so it names no resource.
    MissingResource {
        /// The verb found in the path.
        verb: String,
        /// The decoded path.
        path: String,
    },
}

impl RequestInfoError {
    /// True if the request is malformed (HTTP 400), as Go's HTTP server judges it before any
    /// filter runs. The other errors are the ones upstream's request-info filter answers
    /// with 500 Internal Error.
    pub fn is_bad_request(&self) -> bool {
        !matches!(self, Self::MissingResource { .. })
    }
}

impl fmt::Display for RequestInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ControlCharacter => f.write_str("invalid control character in URL"),
            Self::InvalidPercentEncoding { escape } => write!(f, "invalid URL escape {escape:?}"),
            Self::NonUtf8Path => f.write_str("URL path is not valid UTF-8 once unescaped"),
            Self::MissingResource { verb, path } => {
                write!(
                    f,
                    "unable to determine kind and namespace from path {:?} after verb {verb:?}",
                    clip(path)
                )
            }
        }
    }
}

impl std::error::Error for RequestInfoError {}

/// At most 256 bytes of `s`, cut on a character boundary, so errors stay small.
fn clip(s: &str) -> &str {
    let mut end = s.len().min(256);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Parses requests into [`RequestInfo`], given which path prefixes hold APIs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInfoFactory {
    /// Path prefixes under which resources are served, without slashes: `api` and `apis`.
    pub api_prefixes: Vec<String>,
    /// Those of `api_prefixes` whose next path part is an API group: `apis`. Under the
    /// others (`api`) the version follows the prefix directly.
    pub grouped_api_prefixes: Vec<String>,
}

impl Default for RequestInfoFactory {
    /// The prefixes of every Kubernetes API server: `/api` (groupless) and `/apis`.
    fn default() -> Self {
        Self {
            api_prefixes: vec!["api".to_owned(), "apis".to_owned()],
            grouped_api_prefixes: vec!["apis".to_owned()],
        }
    }
}

/// Root verbs that may appear as the first part after the version.
const PATH_VERBS: [&str; 2] = ["proxy", "watch"];
/// The subresources of a namespace; any other part after `namespaces/{ns}` is a resource.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

impl RequestInfoFactory {
    /// Parses a request.
    ///
    /// `path` is the raw (still percent-encoded) path and `query` the raw query string
    /// without its `?`, as they appear on the wire. `method` is the HTTP method, matched
    /// case-sensitively as in Go (`get` is not `GET`).
    ///
    /// A path without a leading `/` is parsed as if it had one, as upstream's parser does.
    pub fn parse(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
    ) -> Result<RequestInfo, RequestInfoError> {
        if url::has_control_byte(path) || query.is_some_and(url::has_control_byte) {
            return Err(RequestInfoError::ControlCharacter);
        }
        let decoded = if path.contains('%') {
            let decoded = url::unescape_path(path)
                .map_err(|escape| RequestInfoError::InvalidPercentEncoding { escape })?;
            String::from_utf8(decoded).map_err(|_| RequestInfoError::NonUtf8Path)?
        } else {
            // Nothing to unescape, and already UTF-8.
            path.to_owned()
        };
        self.parse_decoded(method, decoded, query.unwrap_or(""))
    }

    /// Parses a request target as it appears in the request line, `path[?query]`.
    pub fn parse_path_and_query(&self, method: &str, target: &str) -> Result<RequestInfo, RequestInfoError> {
        match target.split_once('?') {
            Some((path, query)) => self.parse(method, path, Some(query)),
            None => self.parse(method, target, None),
        }
    }

    fn parse_decoded(
        &self,
        method: &str,
        path: String,
        query: &str,
    ) -> Result<RequestInfo, RequestInfoError> {
        // A non-resource request's verb is its lowercased method.
        let non_resource =
            |path: String| Ok(RequestInfo { verb: method.to_lowercase(), path, ..RequestInfo::default() });
        let trimmed = path.trim_matches('/');
        let all: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            // Sized up front: one allocation however many parts.
            let mut all = Vec::with_capacity(trimmed.bytes().filter(|&b| b == b'/').count() + 1);
            all.extend(trimmed.split('/'));
            all
        };

        // Non-resource unless the path is /{prefix}/[{group}/]{version}/{at least one part}.
        let grouped = match all.first() {
            Some(prefix) if all.len() >= 3 && self.api_prefixes.iter().any(|p| p == prefix) => {
                self.grouped_api_prefixes.iter().any(|p| p == prefix)
            }
            _ => return non_resource(path),
        };
        if grouped && all.len() < 4 {
            return non_resource(path);
        }
        let mut info = RequestInfo { is_resource_request: true, ..RequestInfo::default() };
        info.api_prefix = all[0].to_owned();
        let mut rest = &all[1..];
        if grouped {
            info.api_group = rest[0].to_owned();
            rest = &rest[1..];
        }
        info.api_version = rest[0].to_owned();
        rest = &rest[1..];

        let verb_in_path = PATH_VERBS.contains(&rest[0]);
        if verb_in_path {
            if rest.len() < 2 {
                return Err(RequestInfoError::MissingResource { verb: rest[0].to_owned(), path });
            }
            info.verb = rest[0].to_owned();
            rest = &rest[1..];
        } else {
            info.verb = match method {
                "POST" => "create",
                "GET" | "HEAD" => "get",
                "PUT" => "update",
                "PATCH" => "patch",
                "DELETE" => "delete",
                _ => "",
            }
            .to_owned();
        }

        if rest[0] == "namespaces" && rest.len() > 1 {
            info.namespace = rest[1].to_owned();
            if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
                rest = &rest[2..];
            }
        }
        info.parts = rest.iter().map(|&p| p.to_owned()).collect();
        info.resource = rest[0].to_owned();
        if let Some(name) = rest.get(1) {
            info.name = (*name).to_owned();
        }
        if info.verb != "proxy"
            && let Some(subresource) = rest.get(2)
        {
            info.subresource = (*subresource).to_owned();
        }
        info.path = path;

        let query = Query::parse(query);
        if info.name.is_empty() && info.verb == "get" {
            let (watch, name) = decode_list_options(&query);
            info.verb = if watch { "watch" } else { "list" }.to_owned();
            if let Some(name) = name.and_then(|n| String::from_utf8(n).ok())
                && is_valid_path_segment_name(&name)
            {
                info.name = name;
            }
        }
        if info.name.is_empty() && info.verb == "delete" {
            info.verb = "deletecollection".to_owned();
        }
        if !verb_in_path && matches!(info.verb.as_str(), "list" | "watch" | "deletecollection") {
            let utf8 = |key| query.first(key).and_then(|v| std::str::from_utf8(v).ok()).map(str::to_owned);
            info.field_selector = utf8("fieldSelector").unwrap_or_default();
            info.label_selector = utf8("labelSelector").unwrap_or_default();
        }
        Ok(info)
    }
}

/// What upstream learns from decoding the query as `ListOptions`: whether it asks for a
/// watch, and the name an exact `metadata.name` field selector pins.
///
/// If any list option fails to decode, upstream forgets the name and judges `watch` by a
/// simpler rule (lowercase compare instead of Unicode case folding).
fn decode_list_options(query: &Query) -> (bool, Option<Vec<u8>>) {
    let watch = query.first("watch");
    if query.is_empty() {
        return (false, None);
    }
    let decoded = (|| {
        for key in ["timeoutSeconds", "limit"] {
            if query.first(key).is_some_and(|v| !selectors::is_go_int64(v)) {
                return None;
            }
        }
        if query.first("labelSelector").is_some_and(|v| !selectors::label_selector_is_valid(v)) {
            return None;
        }
        selectors::field_selector_exact_name(query.first("fieldSelector").unwrap_or(b"")).ok()
    })();
    match decoded {
        Some(name) => (watch.is_some_and(|v| !is_false_folded(v)), name),
        None => (watch.is_some_and(|v| !(v == b"0" || v.eq_ignore_ascii_case(b"false"))), None),
    }
}

/// Go's `v == "0" || strings.EqualFold(v, "false")`. Unicode simple case folding adds
/// one spelling beyond ASCII case: the long s, `ſ`.
fn is_false_folded(v: &[u8]) -> bool {
    if v == b"0" {
        return true;
    }
    let Ok(v) = std::str::from_utf8(v) else { return false };
    let mut chars = v.chars();
    let matches = "false".chars().all(|want| match chars.next() {
        Some('ſ') => want == 's',
        Some(c) => c.eq_ignore_ascii_case(&want),
        None => false,
    });
    matches && chars.next().is_none()
}

/// Upstream's `path.IsValidPathSegmentName`: not `.` or `..`, and no `/` or `%`.
fn is_valid_path_segment_name(name: &str) -> bool {
    name != "." && name != ".." && !name.contains(['/', '%'])
}
