//! The set of served resources, grouped by API group with versions in priority order.

use std::cmp::Ordering;
use std::sync::Arc;

use piazza_registry::RestResource;

/// One API group and its versions, preferred first.
#[derive(Clone, Debug)]
pub struct ApiGroup {
    /// The group name.
    pub name: String,
    /// Served versions, highest priority first.
    pub versions: Vec<String>,
}

/// Every served resource, indexed for routing and discovery.
#[derive(Clone, Default)]
pub struct ApiSet {
    resources: Vec<Arc<dyn RestResource>>,
    groups: Vec<ApiGroup>,
}

impl ApiSet {
    /// Indexes `resources`.
    pub fn new(resources: Vec<Arc<dyn RestResource>>) -> Self {
        let mut groups: Vec<ApiGroup> = Vec::new();
        for resource in &resources {
            let d = resource.descriptor();
            let index = match groups.iter().position(|g| g.name == d.group) {
                Some(i) => i,
                None => {
                    groups.push(ApiGroup { name: d.group.to_owned(), versions: Vec::new() });
                    groups.len() - 1
                }
            };
            for v in &d.versions {
                if !groups[index].versions.iter().any(|x| x == v.name) {
                    groups[index].versions.push(v.name.to_owned());
                }
            }
        }
        for group in &mut groups {
            group.versions.sort_by(|a, b| compare_versions(a, b));
        }
        // Groups keep the order their first resource was registered in: that order is the
        // group priority (kube-aggregator's groupPriorityMinimum), which clients such as
        // kubectl use to pick a group when two serve the same resource name.
        Self { resources, groups }
    }

    /// The groups, highest priority first.
    pub fn groups(&self) -> &[ApiGroup] {
        &self.groups
    }

    /// One group.
    pub fn group(&self, name: &str) -> Option<&ApiGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The resources served in `group`/`version`.
    pub fn resources_in<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a Arc<dyn RestResource>> {
        self.resources.iter().filter(move |r| {
            let d = r.descriptor();
            d.group == group && d.serves(version)
        })
    }

    /// The resource for a URL's group, version and plural.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<dyn RestResource>> {
        self.resources.iter().find(|r| {
            let d = r.descriptor();
            d.group == group && d.plural == plural && d.serves(version)
        })
    }

    /// All resources.
    pub fn resources(&self) -> &[Arc<dyn RestResource>] {
        &self.resources
    }
}

/// A version's rank: GA before beta before alpha, then higher numbers first; versions that
/// do not look like Kubernetes versions come last, alphabetically.
fn rank(version: &str) -> Option<(u8, u64, u64)> {
    let rest = version.strip_prefix('v')?;
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let major: u64 = rest[..digits].parse().ok()?;
    let tail = &rest[digits..];
    if tail.is_empty() {
        return Some((3, major, 0));
    }
    let (level, minor) = if let Some(m) = tail.strip_prefix("beta") {
        (2, m)
    } else if let Some(m) = tail.strip_prefix("alpha") {
        (1, m)
    } else {
        return None;
    };
    let minor: u64 = if minor.is_empty() { 0 } else { minor.parse().ok()? };
    Some((level, major, minor))
}

/// Orders versions by Kubernetes priority, highest first.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    match (rank(a), rank(b)) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_version_order() {
        let mut v = vec!["v1alpha1", "foo", "v1", "v2beta1", "v1beta2", "v1beta1", "v2", "v10alpha1", "bar"];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            vec!["v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v10alpha1", "v1alpha1", "bar", "foo"]
        );
    }
}
