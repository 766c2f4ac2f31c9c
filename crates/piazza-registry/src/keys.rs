//! The storage key layout, the same as Kubernetes uses in etcd:
//! `/<prefix>/<group>/<resource>/<namespace>/<name>` for namespaced kinds and
//! `/<prefix>/<group>/<resource>/<name>` for cluster-scoped ones.

/// Builds storage keys for one resource.
#[derive(Clone, Debug)]
pub struct KeyLayout {
    root: String,
    namespaced: bool,
}

impl KeyLayout {
    /// The layout under `prefix` (e.g. `/registry`) for `group`/`resource`.
    pub fn new(prefix: &str, group: &str, resource: &str, namespaced: bool) -> Self {
        let prefix = prefix.trim_end_matches('/');
        Self { root: format!("{prefix}/{group}/{resource}/"), namespaced }
    }

    /// The key of one object.
    pub fn object(&self, namespace: Option<&str>, name: &str) -> String {
        // Built by hand: this runs for every read and write, and `format!` costs several
        // times as much.
        let namespace = namespace.filter(|_| self.namespaced);
        let len = self.root.len() + namespace.map_or(0, |ns| ns.len() + 1) + name.len();
        let mut key = String::with_capacity(len);
        key.push_str(&self.root);
        if let Some(ns) = namespace {
            key.push_str(ns);
            key.push('/');
        }
        key.push_str(name);
        key
    }

    /// The prefix of a collection: one namespace, or all objects. Always ends in `/`, so
    /// `ns1` never matches `ns10`.
    pub fn collection(&self, namespace: Option<&str>) -> String {
        match (self.namespaced, namespace) {
            (true, Some(ns)) => format!("{}{ns}/", self.root),
            _ => self.root.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_kubernetes() {
        let k = KeyLayout::new("/registry/", "g.io", "pizzas", true);
        assert_eq!(k.object(Some("default"), "m"), "/registry/g.io/pizzas/default/m");
        assert_eq!(k.collection(Some("ns1")), "/registry/g.io/pizzas/ns1/");
        assert_eq!(k.collection(None), "/registry/g.io/pizzas/");
        let c = KeyLayout::new("/registry", "g.io", "toppings", false);
        assert_eq!(c.object(None, "salami"), "/registry/g.io/toppings/salami");
        // A cluster-scoped layout has no namespace level, whatever it is given.
        assert_eq!(c.object(Some("ns"), "salami"), "/registry/g.io/toppings/salami");
        assert_eq!(k.object(None, "m"), "/registry/g.io/pizzas/m");
    }
}
