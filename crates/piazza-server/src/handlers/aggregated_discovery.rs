//! Aggregated discovery (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`), served on `/apis`
//! and `/api` when the `Accept` header asks for it.

use piazza_codec::media::parse_accept;
use piazza_core::Scope;
use serde::Serialize;

use crate::api_set::ApiSet;
use piazza_registry::RestResource;

use crate::handlers::discovery::{api_resource, subresource_entries};

/// The group of the aggregated discovery types.
pub const DISCOVERY_GROUP: &str = "apidiscovery.k8s.io";
/// The kind asked for in `as=`.
pub const DISCOVERY_KIND: &str = "APIGroupDiscoveryList";

/// Which aggregated discovery version the client accepts, if any (`v2` or `v2beta1`).
pub fn wanted_version(accept: Option<&str>) -> Option<&'static str> {
    let ranges = parse_accept(accept?).ok()?;
    for range in ranges {
        if range.param("g") == Some(DISCOVERY_GROUP)
            && range.param("as") == Some(DISCOVERY_KIND)
            && range.matches("application/json")
        {
            match range.param("v") {
                Some("v2") => return Some("v2"),
                Some("v2beta1") => return Some("v2beta1"),
                _ => {}
            }
        }
    }
    None
}

/// The response content type for an aggregated discovery version.
pub fn content_type(version: &str) -> String {
    format!("application/json;g={DISCOVERY_GROUP};v={version};as={DISCOVERY_KIND}")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupVersionKindRef {
    group: String,
    version: String,
    kind: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceDiscovery {
    resource: String,
    response_kind: GroupVersionKindRef,
    scope: &'static str,
    singular_resource: String,
    verbs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    short_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    categories: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subresources: Vec<SubresourceDiscovery>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubresourceDiscovery {
    subresource: String,
    response_kind: GroupVersionKindRef,
    verbs: Vec<String>,
}

/// The `subresources` of a resource in `version`: the legacy entries, with the parent's
/// group and version for subresources answering with the parent's kind.
fn subresources(resource: &dyn RestResource, version: &str) -> Vec<SubresourceDiscovery> {
    let d = resource.descriptor();
    subresource_entries(resource)
        .into_iter()
        .map(|entry| SubresourceDiscovery {
            subresource: entry.name.rsplit('/').next().unwrap_or_default().to_owned(),
            response_kind: GroupVersionKindRef {
                group: entry.group.unwrap_or_else(|| d.group.to_owned()),
                version: entry.version.unwrap_or_else(|| version.to_owned()),
                kind: entry.kind,
            },
            verbs: entry.verbs,
        })
        .collect()
}

#[derive(Serialize)]
struct VersionDiscovery {
    version: String,
    resources: Vec<ResourceDiscovery>,
    freshness: &'static str,
}

#[derive(Serialize)]
struct NameMeta {
    name: String,
}

#[derive(Serialize)]
struct GroupDiscovery {
    metadata: NameMeta,
    versions: Vec<VersionDiscovery>,
}

/// The `APIGroupDiscoveryList` document.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupDiscoveryList {
    api_version: String,
    kind: &'static str,
    metadata: serde_json::Value,
    items: Vec<GroupDiscovery>,
}

/// Builds the document for `/apis` (all groups) or `/api` (`core_only`: no groups here).
pub fn group_discovery_list(apis: &ApiSet, version: &str, core_only: bool) -> GroupDiscoveryList {
    let items = if core_only {
        Vec::new()
    } else {
        apis.groups()
            .iter()
            .map(|group| GroupDiscovery {
                metadata: NameMeta { name: group.name.clone() },
                versions: group
                    .versions
                    .iter()
                    .map(|v| VersionDiscovery {
                        version: v.clone(),
                        resources: apis
                            .resources_in(&group.name, v)
                            .map(|r| {
                                let d = r.descriptor();
                                let legacy = api_resource(d);
                                ResourceDiscovery {
                                    resource: d.plural.to_owned(),
                                    response_kind: GroupVersionKindRef {
                                        group: d.group.to_owned(),
                                        version: v.clone(),
                                        kind: d.kind.to_owned(),
                                    },
                                    scope: if d.scope == Scope::Namespaced {
                                        "Namespaced"
                                    } else {
                                        "Cluster"
                                    },
                                    singular_resource: d.singular.to_owned(),
                                    verbs: legacy.verbs,
                                    short_names: legacy.short_names.unwrap_or_default(),
                                    categories: legacy.categories.unwrap_or_default(),
                                    subresources: subresources(r.as_ref(), v),
                                }
                            })
                            .collect(),
                        freshness: "Current",
                    })
                    .collect(),
            })
            .collect()
    };
    GroupDiscoveryList {
        api_version: format!("{DISCOVERY_GROUP}/{version}"),
        kind: DISCOVERY_KIND,
        metadata: serde_json::json!({}),
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_kubectl_accept() {
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(wanted_version(Some(accept)), Some("v2"));
        assert_eq!(wanted_version(Some("application/json")), None);
        assert_eq!(wanted_version(None), None);
        assert_eq!(
            wanted_version(Some("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList")),
            Some("v2beta1")
        );
    }
}
