//! Group, version, kind and resource names.

use std::fmt;

/// An API group and version, such as `restaurant.programming-kubernetes.info/v1beta1`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupVersion {
    /// The API group; empty for the legacy core group.
    pub group: String,
    /// The version within the group.
    pub version: String,
}

impl GroupVersion {
    /// Builds a group/version pair.
    pub fn new(group: impl Into<String>, version: impl Into<String>) -> Self {
        Self { group: group.into(), version: version.into() }
    }

    /// The `apiVersion` string: `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            return self.version.clone();
        }
        let mut api_version = String::with_capacity(self.group.len() + 1 + self.version.len());
        api_version.push_str(&self.group);
        api_version.push('/');
        api_version.push_str(&self.version);
        api_version
    }
}

impl fmt::Display for GroupVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.api_version())
    }
}

/// A kind within a group/version, such as `Pizza` in `restaurant.programming-kubernetes.info/v1beta1`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupVersionKind {
    /// The API group.
    pub group: String,
    /// The version within the group.
    pub version: String,
    /// The kind, in CamelCase.
    pub kind: String,
}

impl GroupVersionKind {
    /// Builds a group/version/kind triple.
    pub fn new(group: impl Into<String>, version: impl Into<String>, kind: impl Into<String>) -> Self {
        Self { group: group.into(), version: version.into(), kind: kind.into() }
    }

    /// The `apiVersion` string of this kind.
    pub fn api_version(&self) -> String {
        GroupVersion::new(self.group.clone(), self.version.clone()).api_version()
    }
}

/// A resource name qualified by its group, as used in Kubernetes error messages
/// (`pizzas.restaurant.programming-kubernetes.info`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupResource {
    /// The API group.
    pub group: String,
    /// The plural resource name.
    pub resource: String,
}

impl GroupResource {
    /// Builds a group/resource pair.
    pub fn new(group: impl Into<String>, resource: impl Into<String>) -> Self {
        Self { group: group.into(), resource: resource.into() }
    }
}

impl fmt::Display for GroupResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// A kind qualified by its group (`Pizza.restaurant.programming-kubernetes.info`), as used
/// in `Invalid` error messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupKind {
    /// The API group.
    pub group: String,
    /// The kind.
    pub kind: String,
}

impl GroupKind {
    /// Builds a group/kind pair.
    pub fn new(group: impl Into<String>, kind: impl Into<String>) -> Self {
        Self { group: group.into(), kind: kind.into() }
    }
}

impl fmt::Display for GroupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.kind)
        } else {
            write!(f, "{}.{}", self.kind, self.group)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_version_omits_empty_group() {
        assert_eq!(GroupVersion::new("", "v1").api_version(), "v1");
        assert_eq!(GroupVersion::new("g.io", "v1").api_version(), "g.io/v1");
    }

    #[test]
    fn qualified_names_match_upstream_messages() {
        assert_eq!(GroupResource::new("g.io", "pizzas").to_string(), "pizzas.g.io");
        assert_eq!(GroupResource::new("", "pods").to_string(), "pods");
        assert_eq!(GroupKind::new("g.io", "Pizza").to_string(), "Pizza.g.io");
    }
}
