//! Impersonation: a user acting as another with `Impersonate-User`, `Impersonate-Group`
//! (repeatable), `Impersonate-Uid` and `Impersonate-Extra-<key>` (repeatable), as upstream's
//! `WithImpersonation`.
//!
//! Each thing asked for is authorized for the authenticated user with verb `impersonate`:
//!
//! | header | resource | API group | name | namespace / subresource |
//! |---|---|---|---|---|
//! | `Impersonate-User: system:serviceaccount:<ns>:<sa>` | `serviceaccounts` | core | `<sa>` | namespace `<ns>` |
//! | `Impersonate-User: <user>` | `users` | core | `<user>` | |
//! | `Impersonate-Group: <group>` | `groups` | core | `<group>` | |
//! | `Impersonate-Extra-<key>: <value>` | `userextras` | `authentication.k8s.io` | `<value>` | subresource `<key>` |
//! | `Impersonate-Uid: <uid>` | `uids` | `authentication.k8s.io` | `<uid>` | |
//!
//! The first denial answers 403 with upstream's message. Groups, uid or extras without a user
//! are refused with 400 (upstream answers 500 with the same message). Once everything is
//! allowed the request continues as the impersonated user: a service account gets its groups
//! when none are given; everyone but `system:anonymous` gets `system:authenticated` (unless
//! `system:authenticated` or `system:unauthenticated` was asked for), and `system:anonymous`
//! gets `system:unauthenticated`. The impersonation headers are removed, and the real user is
//! kept as the [`OriginalUser`] extension (and in the audit event).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use http::header::HeaderName;
use piazza_codec::Format;
use piazza_core::request_info::RequestInfo;
use piazza_core::user::{ANONYMOUS_USER, AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP};
use piazza_core::{ApiError, UserInfo};
use piazza_registry::object_meta::is_dns1123_subdomain;

use super::audit::AuditHandle;
use super::authorization::{Authorizer, authorize};
use super::request_header::unescape_extra_key;
use super::{FilterFuture, Next, respond};
use crate::body::{Request, Response};
use crate::response::error_response;

// Header names as constants: a lookup by `&str` parses the name first, on every request.
/// `Impersonate-User`.
pub const IMPERSONATE_USER_HEADER: HeaderName = HeaderName::from_static("impersonate-user");
/// `Impersonate-Group`.
pub const IMPERSONATE_GROUP_HEADER: HeaderName = HeaderName::from_static("impersonate-group");
/// `Impersonate-Uid`.
pub const IMPERSONATE_UID_HEADER: HeaderName = HeaderName::from_static("impersonate-uid");
/// The prefix of `Impersonate-Extra-<key>`.
pub const IMPERSONATE_EXTRA_PREFIX: &str = "impersonate-extra-";

/// The API group of the `uids` and `userextras` impersonation resources.
const AUTHENTICATION_GROUP: &str = "authentication.k8s.io";
/// How service-account user names start.
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";
/// The group of all service accounts.
const SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";

/// The user who actually made an impersonated request, as authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalUser(pub UserInfo);

/// One thing a request asks to act as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A plain user name.
    User(String),
    /// A service account (`system:serviceaccount:<namespace>:<name>`).
    ServiceAccount {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A group.
    Group(String),
    /// One value of an extra attribute.
    Extra {
        /// The (lowercased, unescaped) key.
        key: String,
        /// The value.
        value: String,
    },
    /// A uid.
    Uid(String),
}

impl Target {
    /// The attributes the impersonating user must be allowed: verb `impersonate` on this
    /// target's resource.
    pub fn request_info(&self) -> RequestInfo {
        let (group, namespace, resource, subresource, name) = match self {
            Target::User(user) => ("", "", "users", "", user.as_str()),
            Target::ServiceAccount { namespace, name } => {
                ("", namespace.as_str(), "serviceaccounts", "", name.as_str())
            }
            Target::Group(group) => ("", "", "groups", "", group.as_str()),
            Target::Extra { key, value } => {
                (AUTHENTICATION_GROUP, "", "userextras", key.as_str(), value.as_str())
            }
            Target::Uid(uid) => (AUTHENTICATION_GROUP, "", "uids", "", uid.as_str()),
        };
        RequestInfo {
            is_resource_request: true,
            verb: "impersonate".to_owned(),
            api_prefix: if group.is_empty() { "api" } else { "apis" }.to_owned(),
            api_group: group.to_owned(),
            api_version: "v1".to_owned(),
            namespace: namespace.to_owned(),
            resource: resource.to_owned(),
            subresource: subresource.to_owned(),
            name: name.to_owned(),
            parts: [resource, name, subresource]
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| (*p).to_owned())
                .collect(),
            ..RequestInfo::default()
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::User(user) => write!(f, "User {user:?}"),
            Target::ServiceAccount { namespace, name } => write!(f, "ServiceAccount {namespace:?}/{name:?}"),
            Target::Group(group) => write!(f, "Group {group:?}"),
            Target::Extra { key, value } => write!(f, "UserExtra {key:?}={value:?}"),
            Target::Uid(uid) => write!(f, "UID {uid:?}"),
        }
    }
}

/// `system:serviceaccount:<ns>:<name>` split into its parts when both are valid names, as
/// upstream's `serviceaccount.SplitUsername`.
pub fn split_service_account(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix(SERVICE_ACCOUNT_PREFIX)?;
    let (namespace, name) = rest.split_once(':')?;
    let namespace_ok = namespace.len() <= 63 && !namespace.contains('.') && is_dns1123_subdomain(namespace);
    (namespace_ok && !name.contains(':') && is_dns1123_subdomain(name)).then_some((namespace, name))
}

fn bad_header(name: &HeaderName) -> ApiError {
    ApiError::bad_request(format!("invalid impersonation header {:?}: the value is not UTF-8", name.as_str()))
}

/// Every value of `name`, as text; a value that is not UTF-8 is a 400.
fn values<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Vec<&'h str>, ApiError> {
    headers
        .get_all(name)
        .iter()
        .map(|v| std::str::from_utf8(v.as_bytes()).map_err(|_| bad_header(name)))
        .collect()
}

/// Reads what the request asks to impersonate, in upstream's order: user, groups, extras, uid.
/// Empty when it asks for nothing; 400 when it asks for groups, extras or a uid without a user,
/// or a value is not UTF-8.
pub fn requested_targets(headers: &HeaderMap) -> Result<Vec<Target>, ApiError> {
    let mut targets = Vec::new();
    // As Go's `Header.Get`: the first value counts.
    let user = values(headers, &IMPERSONATE_USER_HEADER)?.first().copied().unwrap_or_default();
    let has_user = !user.is_empty();
    if has_user {
        targets.push(match split_service_account(user) {
            Some((namespace, name)) => {
                Target::ServiceAccount { namespace: namespace.to_owned(), name: name.to_owned() }
            }
            None => Target::User(user.to_owned()),
        });
    }
    for group in values(headers, &IMPERSONATE_GROUP_HEADER)? {
        targets.push(Target::Group(group.to_owned()));
    }
    let mut extra_headers: Vec<&HeaderName> =
        headers.keys().filter(|h| h.as_str().starts_with(IMPERSONATE_EXTRA_PREFIX)).collect();
    extra_headers.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    for header in extra_headers {
        let key = unescape_extra_key(&header.as_str()[IMPERSONATE_EXTRA_PREFIX.len()..]);
        for value in values(headers, header)? {
            targets.push(Target::Extra { key: key.clone(), value: value.to_owned() });
        }
    }
    let uid = values(headers, &IMPERSONATE_UID_HEADER)?.first().copied().unwrap_or_default();
    if !uid.is_empty() {
        targets.push(Target::Uid(uid.to_owned()));
    }
    if !has_user && !targets.is_empty() {
        let list: Vec<String> = targets.iter().map(ToString::to_string).collect();
        return Err(ApiError::bad_request(format!(
            "requested [{}] without impersonating a user",
            list.join(", ")
        )));
    }
    Ok(targets)
}

/// The user the request continues as once every target is allowed. `groups_specified` is true
/// when the request carried `Impersonate-Group`.
pub fn impersonated_user(targets: &[Target], groups_specified: bool) -> UserInfo {
    let mut user = UserInfo::default();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for target in targets {
        match target {
            Target::User(name) => user.name = name.clone(),
            Target::ServiceAccount { namespace, name } => {
                user.name = format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}");
                if !groups_specified {
                    user.groups = vec![
                        SERVICE_ACCOUNTS_GROUP.to_owned(),
                        format!("{SERVICE_ACCOUNTS_GROUP}:{namespace}"),
                    ];
                }
            }
            Target::Group(group) => user.groups.push(group.clone()),
            Target::Extra { key, value } => extra.entry(key.clone()).or_default().push(value.clone()),
            Target::Uid(uid) => user.uid = uid.clone(),
        }
    }
    user.extra = extra;
    let has = |user: &UserInfo, group: &str| user.groups.iter().any(|g| g == group);
    if user.name == ANONYMOUS_USER {
        if !has(&user, UNAUTHENTICATED_GROUP) {
            user.groups.push(UNAUTHENTICATED_GROUP.to_owned());
        }
    } else if !has(&user, AUTHENTICATED_GROUP) && !has(&user, UNAUTHENTICATED_GROUP) {
        user.groups.push(AUTHENTICATED_GROUP.to_owned());
    }
    user
}

/// Authorizes every target for `requester`, in order, and returns the user to act as, or the
/// first denial (403 with upstream's message).
pub async fn impersonate(
    authorizers: &[Arc<dyn Authorizer>],
    requester: &UserInfo,
    targets: &[Target],
    groups_specified: bool,
) -> Result<UserInfo, ApiError> {
    for target in targets {
        authorize(authorizers, requester, &target.request_info()).await?;
    }
    Ok(impersonated_user(targets, groups_specified))
}

/// Removes every impersonation header.
pub fn clear_impersonation_headers(headers: &mut HeaderMap) {
    headers.remove(IMPERSONATE_USER_HEADER);
    headers.remove(IMPERSONATE_GROUP_HEADER);
    headers.remove(IMPERSONATE_UID_HEADER);
    let extras: Vec<HeaderName> =
        headers.keys().filter(|h| h.as_str().starts_with(IMPERSONATE_EXTRA_PREFIX)).cloned().collect();
    for name in extras {
        headers.remove(name);
    }
}

/// The filter function. A request that asks for no impersonation (nearly all) is passed on
/// as a step, without a future of its own.
pub fn impersonate_request(
    authorizers: &Arc<Vec<Arc<dyn Authorizer>>>,
    request: Request,
    next: Next,
) -> FilterFuture {
    match requested_targets(request.headers()) {
        Ok(targets) if targets.is_empty() => next.run(request),
        Ok(targets) => Box::pin(impersonate_targets(Arc::clone(authorizers), targets, request, next)),
        Err(e) => respond(error_response(&e, Format::Json)),
    }
}

/// Checks every target with the authorizers and continues as the impersonated user.
async fn impersonate_targets(
    authorizers: Arc<Vec<Arc<dyn Authorizer>>>,
    targets: Vec<Target>,
    mut request: Request,
    next: Next,
) -> Response {
    let requester = request.extensions().get::<UserInfo>().cloned().unwrap_or_else(UserInfo::anonymous);
    let groups_specified = request.headers().contains_key(IMPERSONATE_GROUP_HEADER);
    match impersonate(&authorizers, &requester, &targets, groups_specified).await {
        Ok(user) => {
            tracing::debug!(requester = %requester.name, impersonated = %user.name, "impersonating");
            if let Some(audit) = request.extensions().get::<AuditHandle>() {
                audit.set_impersonated_user(&user);
            }
            clear_impersonation_headers(request.headers_mut());
            let extensions = request.extensions_mut();
            extensions.insert(user);
            extensions.insert(OriginalUser(requester));
            next.run(request).await
        }
        Err(e) => error_response(&e, Format::Json),
    }
}

#[cfg(test)]
mod tests;
