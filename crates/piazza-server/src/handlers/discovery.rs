//! Legacy discovery: `/api`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`.

use base64::Engine;
use piazza_core::Scope;
use piazza_core::meta::{
    APIGroup, APIGroupList, APIResource, APIResourceList, APIVersions, GroupVersionForDiscovery,
};
use piazza_registry::{ResourceDescriptor, RestResource};
use sha2::{Digest, Sha256};

use crate::api_set::{ApiGroup, ApiSet};

/// `storageVersionHash`: the first 8 bytes of SHA-256 of `group/version/kind` of the
/// storage version, base64-encoded, as upstream computes it.
pub fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    let digest = Sha256::digest(format!("{group}/{version}/{kind}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

/// `/api`: this server serves no legacy core group.
pub fn core_versions() -> APIVersions {
    APIVersions { versions: Vec::new(), server_address_by_client_cidrs: Vec::new() }
}

fn group_versions(group: &ApiGroup) -> Vec<GroupVersionForDiscovery> {
    group
        .versions
        .iter()
        .map(|v| GroupVersionForDiscovery {
            group_version: format!("{}/{v}", group.name),
            version: v.clone(),
        })
        .collect()
}

/// `/apis/<group>`.
pub fn api_group(group: &ApiGroup) -> APIGroup {
    let versions = group_versions(group);
    APIGroup {
        name: group.name.clone(),
        preferred_version: versions.first().cloned(),
        versions,
        server_address_by_client_cidrs: None,
    }
}

/// `/apis`.
pub fn api_group_list(apis: &ApiSet) -> APIGroupList {
    APIGroupList { groups: apis.groups().iter().map(api_group).collect() }
}

/// One resource's discovery entry.
pub fn api_resource(d: &ResourceDescriptor) -> APIResource {
    APIResource {
        name: d.plural.to_owned(),
        singular_name: d.singular.to_owned(),
        namespaced: d.scope == Scope::Namespaced,
        kind: d.kind.to_owned(),
        verbs: d.verbs.iter().map(|v| (*v).to_owned()).collect(),
        short_names: (!d.short_names.is_empty())
            .then(|| d.short_names.iter().map(|s| (*s).to_owned()).collect()),
        categories: (!d.categories.is_empty())
            .then(|| d.categories.iter().map(|s| (*s).to_owned()).collect()),
        storage_version_hash: Some(storage_version_hash(
            &d.storage_gvk.group,
            &d.storage_gvk.version,
            &d.storage_gvk.kind,
        )),
        group: None,
        version: None,
    }
}

/// The discovery entries of a resource's subresources (`pizzas/status`, `pizzas/scale`),
/// sorted by name as upstream lists its paths. Each carries the subresource's kind, and its
/// group and version when the kind is another group's (`autoscaling/v1` `Scale`).
pub fn subresource_entries(resource: &dyn RestResource) -> Vec<APIResource> {
    let d = resource.descriptor();
    let mut subs: Vec<_> = resource.subresources().iter().collect();
    subs.sort_by_key(|s| s.name());
    subs.into_iter()
        .map(|sub| {
            let kind = sub.response_kind();
            APIResource {
                name: format!("{}/{}", d.plural, sub.name()),
                singular_name: String::new(),
                namespaced: d.scope == Scope::Namespaced,
                kind: kind.as_ref().map_or_else(|| d.kind.to_owned(), |k| k.kind.clone()),
                verbs: sub.verbs().iter().map(|v| (*v).to_owned()).collect(),
                short_names: None,
                categories: None,
                storage_version_hash: None,
                group: kind.as_ref().map(|k| k.group.clone()),
                version: kind.map(|k| k.version),
            }
        })
        .collect()
}

/// `/apis/<group>/<version>`: each resource followed by its subresources.
pub fn api_resource_list(apis: &ApiSet, group: &str, version: &str) -> APIResourceList {
    APIResourceList {
        group_version: format!("{group}/{version}"),
        resources: apis
            .resources_in(group, version)
            .flat_map(|r| {
                std::iter::once(api_resource(r.descriptor())).chain(subresource_entries(r.as_ref()))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_version_hash_is_stable() {
        // Fixed value: a change here would make clients think the storage version moved.
        let h = storage_version_hash("restaurant.programming-kubernetes.info", "v1beta1", "Pizza");
        assert_eq!(h.len(), 12);
        assert_eq!(h, storage_version_hash("restaurant.programming-kubernetes.info", "v1beta1", "Pizza"));
        assert_ne!(h, storage_version_hash("restaurant.programming-kubernetes.info", "v1alpha1", "Pizza"));
    }

    #[test]
    fn empty_core_group() {
        let json = serde_json::to_value(core_versions()).unwrap();
        assert_eq!(json["kind"], "APIVersions");
        assert_eq!(json["versions"], serde_json::json!([]));
    }
}
