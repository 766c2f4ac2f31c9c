//! The audit policy (`--audit-policy-file`): an `audit.k8s.io/v1` `Policy` whose first matching
//! rule sets a request's audit level, as upstream's policy checker (`pkg/audit/policy`).
//!
//! Supported: `rules` with `level`, `users`, `userGroups`, `verbs`, `resources` (`group`,
//! `resources` with `*`, `resource/subresource`, `*/subresource` and `resource/*`,
//! `resourceNames`), `namespaces` (`""` for cluster-scoped), `nonResourceURLs` (exact, `*`, or a
//! trailing-`*` prefix), `omitStages` and `omitManagedFields`; and the policy-wide `omitStages`
//! and `omitManagedFields`. A request no rule matches is not audited (level `None`). Unknown
//! fields are refused, so a typo cannot silently widen or narrow the policy.

use std::path::Path;

use piazza_core::UserInfo;
use piazza_core::request_info::RequestInfo;
use serde::{Deserialize, Serialize};

/// The largest policy file read.
const MAX_POLICY_BYTES: u64 = 4 * 1024 * 1024;

/// How much of a request is recorded. Ordered: `None < Metadata < Request < RequestResponse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    /// Not audited.
    None,
    /// User, verb, resource, response status: no bodies.
    Metadata,
    /// Metadata and the request object.
    Request,
    /// Metadata, the request object and the response object.
    RequestResponse,
}

/// When during a request an event is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// As soon as the request is received.
    RequestReceived,
    /// When the headers of a long-running response (a watch) are sent.
    ResponseStarted,
    /// When the response has been sent.
    ResponseComplete,
    /// When handling the request panicked.
    Panic,
}

/// A set of resources in one API group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupResources {
    /// The API group; `""` is the core group.
    #[serde(default)]
    pub group: String,
    /// Resources (`pods`, `pods/log`, `*`, `*/status`, `pods/*`); empty matches all.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Object names; empty matches all.
    #[serde(default)]
    pub resource_names: Vec<String>,
}

/// One rule: when every non-empty selector matches, the request gets `level`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRule {
    /// The level of matching requests.
    pub level: Level,
    /// User names.
    #[serde(default)]
    pub users: Vec<String>,
    /// Groups; the user must be in at least one.
    #[serde(default)]
    pub user_groups: Vec<String>,
    /// Verbs (`get`, `list`, `watch`, `create`, ...).
    #[serde(default)]
    pub verbs: Vec<String>,
    /// Resources (resource requests only).
    #[serde(default)]
    pub resources: Vec<GroupResources>,
    /// Namespaces (resource requests only; `""` matches cluster-scoped ones).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Non-resource paths (non-resource requests only).
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
    /// Stages not written for matching requests (added to the policy's).
    #[serde(default)]
    pub omit_stages: Vec<Stage>,
    /// Whether to drop `metadata.managedFields` from recorded objects (overrides the policy).
    #[serde(default)]
    pub omit_managed_fields: Option<bool>,
}

/// An `audit.k8s.io/v1` `Policy`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// Must be `audit.k8s.io/v1`.
    pub api_version: String,
    /// Must be `Policy`.
    pub kind: String,
    /// Ignored.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    /// Tried in order; the first match wins.
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
    /// Stages never written.
    #[serde(default)]
    pub omit_stages: Vec<Stage>,
    /// Whether to drop `metadata.managedFields` from recorded objects.
    #[serde(default)]
    pub omit_managed_fields: bool,
}

/// Why a policy was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("reading audit policy {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is too large.
    #[error("audit policy {0} is larger than {MAX_POLICY_BYTES} bytes")]
    TooLarge(String),
    /// The document does not parse as a policy.
    #[error("audit policy does not parse: {0}")]
    Parse(#[source] serde_yaml_ng::Error),
    /// The document parses but is not a valid policy.
    #[error("invalid audit policy: {0}")]
    Invalid(String),
}

/// What the policy decided for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestAuditConfig {
    /// The level.
    pub level: Level,
    /// Stages not written.
    pub omit_stages: Vec<Stage>,
    /// Whether to drop `metadata.managedFields` from recorded objects.
    pub omit_managed_fields: bool,
}

fn valid_path_spec(spec: &str) -> bool {
    spec == "*" || (spec.starts_with('/') && !spec.trim_end_matches('*').contains('*'))
}

impl Policy {
    /// Parses and validates a policy (YAML or JSON).
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = serde_yaml_ng::from_str(text).map_err(PolicyError::Parse)?;
        policy.validate()?;
        Ok(policy)
    }

    /// Reads, parses and validates a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let display = path.display().to_string();
        let read = |source| PolicyError::Read { path: display.clone(), source };
        if std::fs::metadata(path).map_err(read)?.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge(display));
        }
        Self::parse(&std::fs::read_to_string(path).map_err(read)?)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        let invalid = |m: String| Err(PolicyError::Invalid(m));
        if self.api_version != "audit.k8s.io/v1" || self.kind != "Policy" {
            return invalid(format!(
                "expected apiVersion audit.k8s.io/v1 and kind Policy, got {} {}",
                self.api_version, self.kind
            ));
        }
        for (index, rule) in self.rules.iter().enumerate() {
            if !rule.non_resource_urls.is_empty()
                && (!rule.resources.is_empty() || !rule.namespaces.is_empty())
            {
                return invalid(format!(
                    "rules[{index}]: nonResourceURLs cannot be combined with resources or namespaces"
                ));
            }
            if let Some(bad) = rule.non_resource_urls.iter().find(|s| !valid_path_spec(s)) {
                return invalid(format!(
                    "rules[{index}].nonResourceURLs: {bad:?} must start with '/' and may end with '*'"
                ));
            }
        }
        Ok(())
    }

    /// The level (and options) for `user` making the request `info` describes: the first
    /// matching rule's, or `None` when no rule matches.
    pub fn evaluate(&self, user: &UserInfo, info: &RequestInfo) -> RequestAuditConfig {
        let Some(rule) = self.rules.iter().find(|rule| rule_matches(rule, user, info)) else {
            return RequestAuditConfig {
                level: Level::None,
                omit_stages: self.omit_stages.clone(),
                omit_managed_fields: self.omit_managed_fields,
            };
        };
        let mut omit_stages = self.omit_stages.clone();
        for stage in &rule.omit_stages {
            if !omit_stages.contains(stage) {
                omit_stages.push(*stage);
            }
        }
        RequestAuditConfig {
            level: rule.level,
            omit_stages,
            omit_managed_fields: rule.omit_managed_fields.unwrap_or(self.omit_managed_fields),
        }
    }
}

fn has(list: &[String], value: &str) -> bool {
    list.iter().any(|s| s == value)
}

/// True if `rule` applies to the request.
pub fn rule_matches(rule: &PolicyRule, user: &UserInfo, info: &RequestInfo) -> bool {
    if !rule.users.is_empty() && !has(&rule.users, &user.name) {
        return false;
    }
    if !rule.user_groups.is_empty() && !user.groups.iter().any(|g| has(&rule.user_groups, g)) {
        return false;
    }
    if !rule.verbs.is_empty() && !has(&rule.verbs, &info.verb) {
        return false;
    }
    if !rule.namespaces.is_empty() || !rule.resources.is_empty() {
        return matches_resource(rule, info);
    }
    if !rule.non_resource_urls.is_empty() {
        return !info.is_resource_request
            && rule.non_resource_urls.iter().any(|s| path_matches(&info.path, s));
    }
    true
}

/// A non-resource URL spec: `*`, an exact path, or a prefix ending in `*`.
fn path_matches(path: &str, spec: &str) -> bool {
    spec == "*"
        || spec == path
        || spec.strip_suffix('*').is_some_and(|p| path.starts_with(p.trim_end_matches('*')))
}

fn matches_resource(rule: &PolicyRule, info: &RequestInfo) -> bool {
    if !info.is_resource_request {
        return false;
    }
    if !rule.namespaces.is_empty() && !has(&rule.namespaces, &info.namespace) {
        return false;
    }
    if rule.resources.is_empty() {
        return true;
    }
    let combined = if info.subresource.is_empty() {
        info.resource.clone()
    } else {
        format!("{}/{}", info.resource, info.subresource)
    };
    rule.resources.iter().filter(|gr| gr.group == info.api_group).any(|gr| {
        if gr.resources.is_empty() {
            return true;
        }
        if !gr.resource_names.is_empty() && !has(&gr.resource_names, &info.name) {
            return false;
        }
        gr.resources.iter().any(|res| {
            res == &combined
                || res == "*"
                || (!info.subresource.is_empty() && res.strip_prefix("*/") == Some(info.subresource.as_str()))
                || res.strip_suffix("/*") == Some(info.resource.as_str())
        })
    })
}
