//! Lists: ported from `store_tests.go` (`RunTestList`, `RunTestGetListRecursivePrefix`,
//! `RunTestListContinuation`, `RunTestListPaginationRareObject`,
//! `RunTestListContinuationWithFilter`, `RunTestListInconsistentContinuation`,
//! `RunTestNamespaceScoping`).

use std::sync::Arc;

use super::support::{b, current, keys, list, list_at, put, remove, set};
use crate::Storage;
use crate::continue_token::{decode_continue, encode_continue};
use crate::error::StorageError;
use crate::types::{KeyValue, ListOptions, Predicate, ReadRevision};

fn name_is(name: &'static str) -> Predicate {
    Arc::new(move |kv: &KeyValue| kv.key.rsplit('/').next() == Some(name))
}

fn name_is_not(name: &'static str) -> Predicate {
    Arc::new(move |kv: &KeyValue| kv.key.rsplit('/').next() != Some(name))
}

/// `ns1` never matches `ns10`, and `foo` never matches `foobar`.
pub async fn list_prefix_boundaries(store: Arc<dyn Storage>) {
    for key in
        ["/pods/ns1/a", "/pods/ns1/foo", "/pods/ns1/foobar", "/pods/ns10/b", "/pods/ns1x", "/podsx/ns1/a"]
    {
        put(&*store, key, "v").await;
    }
    let ns1 = list_at(&*store, "/pods/ns1/", ReadRevision::Latest).await;
    assert_eq!(keys(&ns1), ["/pods/ns1/a", "/pods/ns1/foo", "/pods/ns1/foobar"]);
    let under_foo = list_at(&*store, "/pods/ns1/foo/", ReadRevision::Latest).await;
    assert!(under_foo.items.is_empty(), "{under_foo:?}");
    let ns10 = list_at(&*store, "/pods/ns10/", ReadRevision::Latest).await;
    assert_eq!(keys(&ns10), ["/pods/ns10/b"]);
    let all = list_at(&*store, "/pods/", ReadRevision::Latest).await;
    assert_eq!(all.items.len(), 5, "{all:?}"); // everything but /podsx/
    let none = list_at(&*store, "/pods/non-existing/", ReadRevision::Latest).await;
    assert!(none.items.is_empty() && !none.more && none.remaining.is_none());
    // Every read mode honours the same boundaries.
    let rev = current(&*store).await;
    for revision in [ReadRevision::Exact(rev), ReadRevision::NotOlderThan(rev)] {
        assert_eq!(keys(&list_at(&*store, "/pods/ns1/", revision).await), keys(&ns1));
    }
}

/// `RunTestList`: every read mode, including before the first write and too high.
pub async fn list_at_each_read_revision(store: Arc<dyn Storage>) {
    let initial = current(&*store).await;
    for key in
        ["/pods/first/bar", "/pods/second/bar", "/pods/second/foo", "/pods/third/barfoo", "/pods/fourth/foo"]
    {
        put(&*store, key, key).await;
    }
    let rev = current(&*store).await;

    let latest = list_at(&*store, "/pods/second/", ReadRevision::Latest).await;
    assert_eq!(keys(&latest), ["/pods/second/bar", "/pods/second/foo"]);
    assert_eq!(latest.revision, rev, "a consistent list is served at the current revision");
    assert!(!latest.more && latest.remaining.is_none());

    let all = list_at(&*store, "/pods/", ReadRevision::Latest).await;
    assert_eq!(
        keys(&all),
        ["/pods/first/bar", "/pods/fourth/foo", "/pods/second/bar", "/pods/second/foo", "/pods/third/barfoo"]
    );

    let exact = list_at(&*store, "/pods/first/", ReadRevision::Exact(rev)).await;
    assert_eq!(keys(&exact), ["/pods/first/bar"]);
    assert_eq!(exact.revision, rev, "an exact revision is echoed back");

    let before_first_write = list_at(&*store, "/pods/first/", ReadRevision::Exact(initial)).await;
    assert!(before_first_write.items.is_empty(), "{before_first_write:?}");
    assert_eq!(before_first_write.revision, initial);

    for revision in [ReadRevision::NotOlderThan(0), ReadRevision::NotOlderThan(initial)] {
        let any = list_at(&*store, "/pods/first/", revision).await;
        assert!(any.items.is_empty() || keys(&any) == ["/pods/first/bar"], "{any:?}");
    }
    let not_older = list_at(&*store, "/pods/first/", ReadRevision::NotOlderThan(rev)).await;
    assert_eq!(keys(&not_older), ["/pods/first/bar"]);
    assert!(not_older.revision >= rev);

    for revision in [ReadRevision::NotOlderThan(rev + 1000), ReadRevision::Exact(rev + 1000)] {
        let err = store.list("/pods/", ListOptions { revision, ..Default::default() }).await.unwrap_err();
        assert!(err.is_too_large_resource_version(), "{err:?}");
    }

    let empty = list_at(&*store, "/pods/empty/", ReadRevision::Latest).await;
    assert!(empty.items.is_empty());
    assert_eq!(empty.revision, rev, "a consistent list of nothing is still at the current revision");
}

/// A list at an exact revision is a snapshot: later updates, deletes and creates are invisible.
pub async fn list_exact_historical_snapshot(store: Arc<dyn Storage>) {
    let a1 = put(&*store, "/pods/ns/a", "a1").await;
    let b1 = put(&*store, "/pods/ns/b", "b1").await;
    let snapshot = current(&*store).await;
    let a2 = set(&*store, "/pods/ns/a", "a2").await;
    remove(&*store, "/pods/ns/b").await;
    let c1 = put(&*store, "/pods/ns/c", "c1").await;

    let old = list_at(&*store, "/pods/ns/", ReadRevision::Exact(snapshot)).await;
    assert_eq!(old.items, vec![a1, b1]);
    assert_eq!(old.revision, snapshot);
    let now = list_at(&*store, "/pods/ns/", ReadRevision::Latest).await;
    assert_eq!(now.items, vec![a2, c1]);
}

/// A list at a compacted revision fails with `Compacted` (410 Expired upstream).
pub async fn list_compacted_revision_fails(store: Arc<dyn Storage>) {
    let a1 = put(&*store, "/pods/ns/a", "a1").await;
    set(&*store, "/pods/ns/a", "a2").await;
    let rev = current(&*store).await;
    store.compact(rev).await.unwrap();
    let options = ListOptions { revision: ReadRevision::Exact(a1.mod_revision), ..Default::default() };
    match store.list("/pods/ns/", options).await.unwrap_err() {
        StorageError::Compacted { requested, .. } => assert_eq!(requested, a1.mod_revision),
        e => panic!("expected Compacted, got {e:?}"),
    }
    assert_eq!(list_at(&*store, "/pods/ns/", ReadRevision::Exact(rev)).await.items.len(), 1);
}

/// `limit` caps the page; `more` and the exact `remaining` count describe the rest.
pub async fn list_limit_and_remaining(store: Arc<dyn Storage>) {
    for name in ["a", "b", "c"] {
        put(&*store, &format!("/pods/ns/{name}"), name).await;
    }
    put(&*store, "/pods/other/z", "z").await;
    remove(&*store, "/pods/ns/c").await;
    put(&*store, "/pods/ns/d", "d").await;
    let rev = current(&*store).await;

    for (limit, want, more, remaining) in [
        (Some(1), vec!["/pods/ns/a"], true, Some(2)),
        (Some(2), vec!["/pods/ns/a", "/pods/ns/b"], true, Some(1)),
        (Some(3), vec!["/pods/ns/a", "/pods/ns/b", "/pods/ns/d"], false, None),
        (Some(10), vec!["/pods/ns/a", "/pods/ns/b", "/pods/ns/d"], false, None),
        (None, vec!["/pods/ns/a", "/pods/ns/b", "/pods/ns/d"], false, None),
        (Some(0), vec!["/pods/ns/a", "/pods/ns/b", "/pods/ns/d"], false, None),
    ] {
        for revision in [ReadRevision::Latest, ReadRevision::Exact(rev), ReadRevision::NotOlderThan(rev)] {
            let page =
                list(&*store, "/pods/ns/", ListOptions { revision, limit, ..Default::default() }).await;
            assert_eq!(keys(&page), want, "limit {limit:?} at {revision:?}");
            assert_eq!((page.more, page.remaining), (more, remaining), "limit {limit:?} at {revision:?}");
        }
    }
    // With a predicate there is no remaining count.
    let options = ListOptions { limit: Some(1), predicate: Some(name_is_not("zzz")), ..Default::default() };
    let page = list(&*store, "/pods/ns/", options).await;
    assert_eq!((keys(&page), page.more, page.remaining), (vec!["/pods/ns/a"], true, None));
}

/// `RunTestListContinuation` and `RunTestListInconsistentContinuation`: every page of a paginated
/// list is served at the revision of the first, so writes made between pages are invisible, and
/// the continue token carries the key and revision.
pub async fn list_pages_share_one_snapshot(store: Arc<dyn Storage>) {
    let mut original = Vec::new();
    for name in ["a", "c", "e", "g", "i"] {
        original.push(put(&*store, &format!("/pods/ns/{name}"), name).await);
    }
    let prefix = "/pods/ns/";
    let first = list(&*store, prefix, ListOptions { limit: Some(2), ..Default::default() }).await;
    assert_eq!(first.remaining, Some(3));
    let snapshot = first.revision;
    let mut pages = vec![first];

    // Writes between pages: a key inside the remaining range, one at the end, an update and a
    // delete of keys not yet returned.
    put(&*store, "/pods/ns/d", "new").await;
    put(&*store, "/pods/ns/z", "new").await;
    set(&*store, "/pods/ns/g", "changed").await;
    remove(&*store, "/pods/ns/i").await;

    while pages.last().is_some_and(|p| p.more) {
        let last = pages.last().unwrap();
        let token = encode_continue(prefix, &last.items.last().unwrap().key, last.revision);
        let (start_after, rv) = decode_continue(&token, prefix).unwrap();
        assert_eq!(rv, Some(snapshot));
        let rv = snapshot;
        let options = ListOptions {
            revision: ReadRevision::Exact(rv),
            limit: Some(2),
            start_after: Some(start_after),
            ..Default::default()
        };
        pages.push(list(&*store, prefix, options).await);
        assert!(pages.len() <= 5, "pagination does not end: {pages:?}");
    }
    for page in &pages {
        assert_eq!(page.revision, snapshot, "every page is served at the first page's revision");
        assert!(!page.items.is_empty(), "no empty pages: {pages:?}");
    }
    let seen: Vec<KeyValue> = pages.into_iter().flat_map(|p| p.items).collect();
    assert_eq!(seen, original, "the pages together are the snapshot");

    // Once the snapshot is compacted, continuing fails.
    let now = current(&*store).await;
    store.compact(now).await.unwrap();
    let options = ListOptions {
        revision: ReadRevision::Exact(snapshot),
        limit: Some(2),
        start_after: Some("/pods/ns/c".to_owned()),
        ..Default::default()
    };
    assert!(store.list(prefix, options).await.unwrap_err().is_compacted());
}

/// `RunTestListPaginationRareObject`: a limit-1 list whose only match is the last key returns it
/// in one page, with no continuation.
pub async fn list_filtered_rare_object_single_page(store: Arc<dyn Storage>) {
    let count = 200;
    for i in 0..count {
        put(&*store, &format!("/pods/ns/pod-{i:04}"), "v").await;
    }
    let target = format!("/pods/ns/pod-{:04}", count - 1);
    let wanted = target.clone();
    let predicate: Predicate = Arc::new(move |kv: &KeyValue| kv.key == wanted);
    let options = ListOptions { limit: Some(1), predicate: Some(predicate), ..Default::default() };
    let page = list(&*store, "/pods/ns/", options).await;
    assert_eq!(keys(&page), [target.as_str()]);
    assert!(!page.more, "nothing follows the last key");
    assert_eq!(page.remaining, None);
}

/// `RunTestListContinuationWithFilter`: a filtered, paginated list fills each page from matching
/// keys only, skipping the rest, and never returns an empty page while matches remain.
pub async fn list_filtered_pages_are_never_empty(store: Arc<dyn Storage>) {
    for key in ["/pods/1/foo", "/pods/2/bar", "/pods/3/foo", "/pods/4/foo"] {
        put(&*store, key, "v").await;
    }
    let options = |start_after: Option<String>| ListOptions {
        limit: Some(2),
        start_after,
        predicate: Some(name_is_not("bar")),
        ..Default::default()
    };
    let first = list(&*store, "/pods/", options(None)).await;
    assert_eq!(keys(&first), ["/pods/1/foo", "/pods/3/foo"]);
    assert!(first.more);
    let second = list(&*store, "/pods/", options(Some("/pods/3/foo".to_owned()))).await;
    assert_eq!(keys(&second), ["/pods/4/foo"]);
    assert!(!second.more);

    // Sparse matches: every page until the matches run out has exactly `limit` items.
    for i in 0..60 {
        put(&*store, &format!("/sparse/k{i:03}/{}", if i % 20 == 7 { "hit" } else { "miss" }), "v").await;
    }
    let mut start_after = None;
    let mut hits = Vec::new();
    loop {
        let options = ListOptions {
            limit: Some(1),
            start_after,
            predicate: Some(name_is("hit")),
            ..Default::default()
        };
        let page = list(&*store, "/sparse/", options).await;
        if hits.len() < 3 {
            assert_eq!(page.items.len(), 1, "a page is never empty while matches remain: {page:?}");
        }
        hits.extend(page.items.iter().map(|kv| kv.key.clone()));
        if !page.more {
            break;
        }
        start_after = page.items.last().map(|kv| kv.key.clone());
        assert!(start_after.is_some(), "more pages after an empty one: {page:?}");
    }
    assert_eq!(hits, ["/sparse/k007/hit", "/sparse/k027/hit", "/sparse/k047/hit"]);
}

/// `start_after` is exclusive, may name a key that no longer exists, and cannot escape the prefix.
pub async fn list_start_after_bounds(store: Arc<dyn Storage>) {
    for key in ["/pods/ns/a", "/pods/ns/b", "/pods/ns/c", "/pods/other/x"] {
        put(&*store, key, "v").await;
    }
    remove(&*store, "/pods/ns/b").await;
    let from = |after: &str| ListOptions { start_after: Some(after.to_owned()), ..Default::default() };
    assert_eq!(keys(&list(&*store, "/pods/ns/", from("/pods/ns/a")).await), ["/pods/ns/c"]);
    assert_eq!(keys(&list(&*store, "/pods/ns/", from("/pods/ns/b")).await), ["/pods/ns/c"]);
    assert_eq!(keys(&list(&*store, "/pods/ns/", from("/pods/ns/")).await), ["/pods/ns/a", "/pods/ns/c"]);
    assert_eq!(keys(&list(&*store, "/pods/ns/", from("/a")).await), ["/pods/ns/a", "/pods/ns/c"]);
    let past_end = list(&*store, "/pods/ns/", from("/pods/ns/c")).await;
    assert!(past_end.items.is_empty() && !past_end.more);
    let beyond = list(&*store, "/pods/ns/", from("/pods/zzz")).await;
    assert!(beyond.items.is_empty() && !beyond.more);
    assert_eq!(b("v"), list(&*store, "/pods/ns/", Default::default()).await.items[0].value);
}
