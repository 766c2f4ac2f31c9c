//! The `audit.k8s.io/v1` `Event`, as the log backend writes it (one JSON object per line).

use std::collections::BTreeMap;
use std::net::IpAddr;

use piazza_core::UserInfo;
use piazza_core::request_info::RequestInfo;
use serde::Serialize;

use super::policy::{Level, Stage};

/// The longest `userAgent` recorded; longer ones are cut and marked, as upstream.
pub const MAX_USER_AGENT_LENGTH: usize = 256;
/// How a cut `userAgent` ends.
const USER_AGENT_TRUNCATE_SUFFIX: &str = "...TRUNCATED";

/// `authentication.k8s.io/v1` `UserInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EventUser {
    /// The user name.
    pub username: String,
    /// The uid.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// The groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Extra attributes.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

impl From<&UserInfo> for EventUser {
    fn from(user: &UserInfo) -> Self {
        Self {
            username: user.name.clone(),
            uid: user.uid.clone(),
            groups: user.groups.clone(),
            extra: user.extra.clone(),
        }
    }
}

/// What a resource request is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// The resource (plural).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource: String,
    /// The namespace.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The object name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The API group.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_group: String,
    /// The API version.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// The subresource.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

impl ObjectReference {
    /// The reference of a resource request; `None` for other requests.
    pub fn of(info: &RequestInfo) -> Option<Self> {
        info.is_resource_request.then(|| Self {
            resource: info.resource.clone(),
            namespace: info.namespace.clone(),
            name: info.name.clone(),
            api_group: info.api_group.clone(),
            api_version: info.api_version.clone(),
            subresource: info.subresource.clone(),
        })
    }
}

/// One audit event.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `Event`.
    pub kind: &'static str,
    /// `audit.k8s.io/v1`.
    pub api_version: &'static str,
    /// The level the policy chose.
    pub level: Level,
    /// The request's audit ID (also the `Audit-Id` response header).
    #[serde(rename = "auditID")]
    pub audit_id: String,
    /// The stage this event records.
    pub stage: Stage,
    /// The request's path and query.
    #[serde(rename = "requestURI")]
    pub request_uri: String,
    /// The verb, as authorization sees it.
    pub verb: String,
    /// The authenticated user.
    pub user: EventUser,
    /// The impersonated user, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonated_user: Option<EventUser>,
    /// Where the request came from (forwarding headers first).
    #[serde(rename = "sourceIPs", skip_serializing_if = "Vec::is_empty")]
    pub source_ips: Vec<String>,
    /// The `User-Agent`, cut at 256 bytes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user_agent: String,
    /// What a resource request is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_ref: Option<ObjectReference>,
    /// The response status: the code, and the whole `Status` of a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_status: Option<serde_json::Value>,
    /// The request object (level Request and above).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_object: Option<serde_json::Value>,
    /// The response object (level RequestResponse).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_object: Option<serde_json::Value>,
    /// When the request arrived (RFC 3339, microseconds).
    pub request_received_timestamp: String,
    /// When this stage happened.
    pub stage_timestamp: String,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A timestamp as `metav1.MicroTime` writes it: UTC, six fractional digits.
pub fn micro_time(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The user agent, cut as upstream does.
pub fn truncate_user_agent(agent: &str) -> String {
    if agent.len() <= MAX_USER_AGENT_LENGTH {
        return agent.to_owned();
    }
    let mut end = MAX_USER_AGENT_LENGTH;
    while !agent.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{USER_AGENT_TRUNCATE_SUFFIX}", &agent[..end])
}

/// The most source addresses recorded from forwarding headers.
const MAX_SOURCE_IPS: usize = 16;

/// The source IPs: `X-Forwarded-For` entries, then `X-Real-Ip`, then the peer address, skipping
/// what is not an IP address and duplicates (upstream's `utilnet.SourceIPs`, bounded).
pub fn source_ips(headers: &http::HeaderMap, peer: Option<IpAddr>) -> Vec<String> {
    let mut ips: Vec<IpAddr> = Vec::new();
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .chain(headers.get("x-real-ip").and_then(|v| v.to_str().ok()));
    for candidate in forwarded {
        if ips.len() >= MAX_SOURCE_IPS {
            break;
        }
        if let Ok(ip) = candidate.trim().parse::<IpAddr>()
            && !ips.contains(&ip)
        {
            ips.push(ip);
        }
    }
    if let Some(peer) = peer.filter(|p| !ips.contains(p)) {
        ips.push(peer);
    }
    ips.iter().map(ToString::to_string).collect()
}

/// Removes `metadata.managedFields` from an object, or from each item of a list.
pub fn omit_managed_fields(value: &mut serde_json::Value) {
    if let Some(metadata) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        metadata.remove("managedFields");
    }
    if let Some(items) = value.get_mut("items").and_then(|i| i.as_array_mut()) {
        for item in items {
            if let Some(metadata) = item.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                metadata.remove("managedFields");
            }
        }
    }
}
