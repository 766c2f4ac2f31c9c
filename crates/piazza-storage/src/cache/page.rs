//! Lists served from the cache's in-memory map, page by page, with exactly the backend's
//! semantics (see [`Storage::list`](crate::Storage::list)): `start_after` is exclusive and cannot
//! escape the prefix, `limit` counts matching items only, `more` says whether any key follows
//! the page, and `remaining` is the exact number of keys after it (only without a predicate).

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::types::{KeyValue, ListOptions, ListResult, Revision};

/// One page of the keys under `prefix`, as of `revision` (the revision `items` is at).
pub(super) fn list(
    items: &BTreeMap<String, KeyValue>,
    prefix: &str,
    options: &ListOptions,
    revision: Revision,
) -> ListResult {
    let start = match options.start_after.as_deref() {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    };
    let limit = options.limit.filter(|&l| l > 0);
    let predicate = options.predicate.as_ref();
    let mut page = Vec::new();
    let mut more = false;
    let mut remaining = 0u64;
    for (key, kv) in items.range::<str, _>((start, Bound::Unbounded)) {
        if !key.starts_with(prefix) {
            break;
        }
        if limit.is_some_and(|l| page.len() >= l) {
            more = true;
            if predicate.is_some() {
                break; // no count to give: one key is enough to know there is more
            }
            remaining += 1;
            continue;
        }
        if predicate.is_none_or(|p| p(kv)) {
            page.push(kv.clone());
        }
    }
    let remaining = (more && predicate.is_none()).then_some(remaining);
    ListResult { items: page, revision, more, remaining }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::types::Predicate;

    fn map(keys: &[&str]) -> BTreeMap<String, KeyValue> {
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                let rev = i as u64 + 2;
                let kv = KeyValue {
                    key: (*k).to_owned(),
                    value: "v".into(),
                    create_revision: rev,
                    mod_revision: rev,
                };
                ((*k).to_owned(), kv)
            })
            .collect()
    }

    fn keys(r: &ListResult) -> Vec<&str> {
        r.items.iter().map(|kv| kv.key.as_str()).collect()
    }

    fn opts(limit: Option<usize>, start_after: Option<&str>) -> ListOptions {
        ListOptions { limit, start_after: start_after.map(str::to_owned), ..Default::default() }
    }

    #[test]
    fn prefix_stops_at_the_segment() {
        let m = map(&["/p/ns1/a", "/p/ns10/b", "/p/ns1x", "/q/ns1/a"]);
        let r = list(&m, "/p/ns1/", &opts(None, None), 9);
        assert_eq!((keys(&r), r.revision, r.more, r.remaining), (vec!["/p/ns1/a"], 9, false, None));
    }

    #[test]
    fn limit_counts_the_rest_exactly() {
        let m = map(&["/p/a", "/p/b", "/p/c", "/p/d", "/q/x"]);
        let r = list(&m, "/p/", &opts(Some(1), None), 9);
        assert_eq!((keys(&r), r.more, r.remaining), (vec!["/p/a"], true, Some(3)));
        let r = list(&m, "/p/", &opts(Some(2), Some("/p/b")), 9);
        assert_eq!((keys(&r), r.more, r.remaining), (vec!["/p/c", "/p/d"], false, None));
        let r = list(&m, "/p/", &opts(Some(0), None), 9);
        assert_eq!(r.items.len(), 4);
    }

    #[test]
    fn start_after_cannot_escape_the_prefix() {
        let m = map(&["/a/z", "/p/a", "/p/b"]);
        assert_eq!(keys(&list(&m, "/p/", &opts(None, Some("/a/z")), 9)), ["/p/a", "/p/b"]);
        assert!(list(&m, "/p/", &opts(None, Some("/q")), 9).items.is_empty());
    }

    #[test]
    fn predicate_pages_are_full_and_uncounted() {
        let m = map(&["/p/1/hit", "/p/2/miss", "/p/3/miss", "/p/4/hit", "/p/5/miss"]);
        let hit: Predicate = Arc::new(|kv: &KeyValue| kv.key.ends_with("hit"));
        let o = ListOptions { limit: Some(1), predicate: Some(hit), ..Default::default() };
        let r = list(&m, "/p/", &o, 9);
        assert_eq!((keys(&r), r.more, r.remaining), (vec!["/p/1/hit"], true, None));
        let o = ListOptions { start_after: Some("/p/1/hit".into()), ..o };
        let r = list(&m, "/p/", &o, 9);
        assert_eq!((keys(&r), r.more), (vec!["/p/4/hit"], true));
    }
}
