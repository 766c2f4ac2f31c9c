//! Which keys a watch covers.
//!
//! A watch is given either a prefix that ends in `/` (a collection: every key under it) or an
//! exact key (one object: that key, and anything nested under `key/`). Either way the match stops
//! at a path-segment boundary, so watching `pods/ns1/` never sees `pods/ns10/x` and watching
//! `pods/ns/foo` never sees `pods/ns/foobar`. An empty prefix covers every key.

/// Whether `key` is inside the watch scope `prefix` (see the module docs).
pub fn in_watch_scope(prefix: &str, key: &str) -> bool {
    if prefix.is_empty() || prefix.ends_with('/') {
        return key.starts_with(prefix);
    }
    match key.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::in_watch_scope;

    #[test]
    fn collection_prefix_stops_at_the_slash() {
        assert!(in_watch_scope("pods/ns1/", "pods/ns1/a"));
        assert!(in_watch_scope("pods/ns1/", "pods/ns1/a/b"));
        assert!(!in_watch_scope("pods/ns1/", "pods/ns10/a"));
        assert!(!in_watch_scope("pods/ns1/", "pods/ns1"));
    }

    #[test]
    fn exact_key_is_not_a_string_prefix() {
        assert!(in_watch_scope("pods/ns/foo", "pods/ns/foo"));
        assert!(in_watch_scope("pods/ns/foo", "pods/ns/foo/status"));
        assert!(!in_watch_scope("pods/ns/foo", "pods/ns/foobar"));
        assert!(!in_watch_scope("pods/ns/foo", "pods/ns/fo"));
    }

    #[test]
    fn empty_prefix_covers_everything() {
        assert!(in_watch_scope("", "anything"));
        assert!(in_watch_scope("", ""));
    }
}
