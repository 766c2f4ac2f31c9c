//! Lists served from the cache's in-memory map, page by page, with exactly the backend's
//! semantics (see [`Storage::list`](crate::Storage::list)): `start_after` is exclusive and cannot
//! escape the prefix, `limit` counts matching items only, `more` says whether any key follows
//! the page, and `remaining` is the exact number of keys after it (only without a predicate).
//!
//! The scan is bounded by the range of keys that start with the prefix, so it never reads the
//! keys themselves: a page of shared items touches each item once, to take a reference.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use crate::shared::SharedItem;
use crate::types::{ListOptions, Revision};

/// One page: the items taken, the revision they are at, and what follows them.
pub(super) struct Page<T> {
    pub(super) items: Vec<T>,
    pub(super) revision: Revision,
    pub(super) more: bool,
    pub(super) remaining: Option<u64>,
}

/// One page of the keys under `prefix` as of `revision` (the revision `items` is at), each
/// item taken by `take` (a copy of its key-value, or a shared reference).
pub(super) fn list<T>(
    items: &BTreeMap<String, Arc<SharedItem>>,
    prefix: &str,
    options: &ListOptions,
    revision: Revision,
    take: impl Fn(&Arc<SharedItem>) -> T,
) -> Page<T> {
    let start = match options.start_after.as_deref() {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    };
    let end = prefix_end(prefix);
    if let (Bound::Excluded(after), Some(end)) = (start, end.as_deref())
        && after >= end
    {
        return Page { items: Vec::new(), revision, more: false, remaining: None }; // past the prefix
    }
    let upper = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let limit = options.limit.filter(|&l| l > 0);
    let predicate = options.predicate.as_ref();
    let mut page = Vec::new();
    let mut more = false;
    let mut remaining = 0u64;
    for (key, item) in items.range::<str, _>((start, upper)) {
        if end.is_none() && !key.starts_with(prefix) {
            break; // no finite bound: stop at the first key outside the prefix
        }
        if limit.is_some_and(|l| page.len() >= l) {
            more = true;
            if predicate.is_some() {
                break; // no count to give: one key is enough to know there is more
            }
            remaining += 1;
            continue;
        }
        if predicate.is_none_or(|p| p(&item.kv)) {
            page.push(take(item));
        }
    }
    let remaining = (more && predicate.is_none()).then_some(remaining);
    Page { items: page, revision, more, remaining }
}

/// The first string after every string that starts with `prefix`: the prefix with its last
/// character moved one up, when that is still one ASCII character (prefixes end in `/`).
/// `None` when there is no such bound to give (an empty prefix, or one ending otherwise).
fn prefix_end(prefix: &str) -> Option<String> {
    let last = prefix.chars().next_back().filter(|c| c.is_ascii() && *c < '\x7f')?;
    let mut end = prefix[..prefix.len() - 1].to_owned();
    end.push(char::from(last as u8 + 1));
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{KeyValue, Predicate};

    fn map(keys: &[&str]) -> BTreeMap<String, Arc<SharedItem>> {
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
                ((*k).to_owned(), Arc::new(SharedItem::new(kv)))
            })
            .collect()
    }

    fn page(m: &BTreeMap<String, Arc<SharedItem>>, prefix: &str, options: &ListOptions) -> Page<KeyValue> {
        list(m, prefix, options, 9, |item| item.kv.clone())
    }

    fn keys(r: &Page<KeyValue>) -> Vec<&str> {
        r.items.iter().map(|kv| kv.key.as_str()).collect()
    }

    fn opts(limit: Option<usize>, start_after: Option<&str>) -> ListOptions {
        ListOptions { limit, start_after: start_after.map(str::to_owned), ..Default::default() }
    }

    #[test]
    fn prefix_stops_at_the_segment() {
        let m = map(&["/p/ns1/a", "/p/ns10/b", "/p/ns1/\u{10ffff}", "/p/ns1x", "/p/ns10", "/q/ns1/a"]);
        let r = page(&m, "/p/ns1/", &opts(None, None));
        assert_eq!(
            (keys(&r), r.revision, r.more, r.remaining),
            (vec!["/p/ns1/a", "/p/ns1/\u{10ffff}"], 9, false, None)
        );
    }

    #[test]
    fn prefixes_without_an_ascii_end_are_scanned_to_their_last_key() {
        let m = map(&["/p/é", "/p/éa", "/p/éz", "/p/f", "\x7f", "\x7fa", "a"]);
        assert_eq!(keys(&page(&m, "/p/é", &opts(None, None))), ["/p/é", "/p/éa", "/p/éz"]);
        assert_eq!(keys(&page(&m, "\x7f", &opts(None, None))), ["\x7f", "\x7fa"]);
        assert_eq!(page(&m, "", &opts(None, None)).items.len(), 7);
    }

    #[test]
    fn the_end_of_a_prefix() {
        assert_eq!(prefix_end("/registry/pizzas/").as_deref(), Some("/registry/pizzas0"));
        assert_eq!(prefix_end("/a~").as_deref(), Some("/a\x7f"));
        assert_eq!((prefix_end(""), prefix_end("/a\x7f"), prefix_end("/é")), (None, None, None));
    }

    #[test]
    fn limit_counts_the_rest_exactly() {
        let m = map(&["/p/a", "/p/b", "/p/c", "/p/d", "/q/x"]);
        let r = page(&m, "/p/", &opts(Some(1), None));
        assert_eq!((keys(&r), r.more, r.remaining), (vec!["/p/a"], true, Some(3)));
        let r = page(&m, "/p/", &opts(Some(2), Some("/p/b")));
        assert_eq!((keys(&r), r.more, r.remaining), (vec!["/p/c", "/p/d"], false, None));
        let r = page(&m, "/p/", &opts(Some(0), None));
        assert_eq!(r.items.len(), 4);
    }

    #[test]
    fn start_after_cannot_escape_the_prefix() {
        let m = map(&["/a/z", "/p/a", "/p/b"]);
        assert_eq!(keys(&page(&m, "/p/", &opts(None, Some("/a/z")))), ["/p/a", "/p/b"]);
        assert!(page(&m, "/p/", &opts(None, Some("/q"))).items.is_empty());
    }

    #[test]
    fn predicate_pages_are_full_and_uncounted() {
        let m = map(&["/p/1/hit", "/p/2/miss", "/p/3/miss", "/p/4/hit", "/p/5/miss"]);
        let hit: Predicate = Arc::new(|kv: &KeyValue| kv.key.ends_with("hit"));
        let o = ListOptions { limit: Some(1), predicate: Some(hit), ..Default::default() };
        let r = page(&m, "/p/", &o);
        assert_eq!((keys(&r), r.more, r.remaining), (vec!["/p/1/hit"], true, None));
        let o = ListOptions { start_after: Some("/p/1/hit".into()), ..o };
        let r = page(&m, "/p/", &o);
        assert_eq!((keys(&r), r.more), (vec!["/p/4/hit"], true));
    }

    #[test]
    fn shared_pages_hand_out_the_cached_items() {
        let m = map(&["/p/a", "/p/b"]);
        let r = list(&m, "/p/", &opts(None, None), 9, Arc::clone);
        assert!(r.items.iter().zip(m.values()).all(|(a, b)| Arc::ptr_eq(a, b)));
    }
}
