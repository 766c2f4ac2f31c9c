//! What the server needs to know about a served kind to route, discover and document it.

use piazza_core::{GroupKind, GroupResource, GroupVersionKind, Scope};

/// One served version of a kind.
#[derive(Clone, Debug)]
pub struct VersionDescriptor {
    /// The version name, e.g. `v1beta1`.
    pub name: &'static str,
    /// True for the version objects are stored in.
    pub storage: bool,
}

/// A served kind: names, scope, versions and verbs.
#[derive(Clone, Debug)]
pub struct ResourceDescriptor {
    /// API group.
    pub group: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Plural name, used in URLs.
    pub plural: &'static str,
    /// Singular name.
    pub singular: &'static str,
    /// Namespaced or cluster-scoped.
    pub scope: Scope,
    /// Short names.
    pub short_names: &'static [&'static str],
    /// Categories.
    pub categories: &'static [&'static str],
    /// Served versions, preferred first.
    pub versions: Vec<VersionDescriptor>,
    /// Verbs allowed on this resource, as discovery lists them.
    pub verbs: &'static [&'static str],
    /// What objects are stored as (for `storageVersionHash`); it may belong to another
    /// group when storage is shared.
    pub storage_gvk: GroupVersionKind,
}

/// The verbs a full read-write resource supports.
pub const ALL_VERBS: &[&str] =
    &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

impl ResourceDescriptor {
    /// `pizzas.restaurant.programming-kubernetes.info`.
    pub fn group_resource(&self) -> GroupResource {
        GroupResource::new(self.group, self.plural)
    }

    /// `Pizza.restaurant.programming-kubernetes.info`.
    pub fn group_kind(&self) -> GroupKind {
        GroupKind::new(self.group, self.kind)
    }

    /// True if the version is served.
    pub fn serves(&self, version: &str) -> bool {
        self.versions.iter().any(|v| v.name == version)
    }

    /// True for namespaced kinds.
    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    /// True if the verb is allowed.
    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
}
