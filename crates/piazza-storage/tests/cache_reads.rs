//! The watch cache's reads: where they are served from, how fresh they are, and the self-check.

mod cache_support;

use std::time::Duration;

use cache_support::{Probe, cache_over, eventually, probed_backend, put, settled, test_options};
use piazza_storage::cache::{CacheOptions, CachedStorage};
use piazza_storage::{ListOptions, Memo, ReadRevision, Storage, StorageError};

fn at(revision: ReadRevision) -> ListOptions {
    ListOptions { revision, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_revision_reads_are_served_from_memory() {
    let (probe, _dir) = probed_backend();
    let cache = cache_over(&probe, test_options()).await;
    for name in ["a", "b", "c"] {
        put(&*cache, &format!("/pods/ns/{name}"), name).await;
    }
    settled(&cache, &*probe).await;
    let lists = Probe::count(&probe.lists);
    assert_eq!(lists, 1, "only the initial list");

    let page = cache.list("/pods/ns/", at(ReadRevision::NotOlderThan(0))).await.unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.revision, cache.revision());
    let got = cache.get("/pods/ns/b", ReadRevision::NotOlderThan(0)).await.unwrap();
    assert_eq!(got.value, "b");
    let current = probe.current_revision().await.unwrap();
    let page = cache.list("/pods/ns/", at(ReadRevision::NotOlderThan(current))).await.unwrap();
    assert_eq!(page.items.len(), 3);

    assert_eq!((Probe::count(&probe.lists), Probe::count(&probe.gets)), (lists, 0), "no backend reads");
    assert_eq!(cache.metrics().snapshot().reads_from_cache, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consistent_read_sees_a_write_made_directly_on_the_backend() {
    let (probe, _dir) = probed_backend();
    let cache = cache_over(&probe, test_options()).await;
    for i in 0..20 {
        // Straight to the backend, then at once a consistent read of the cache.
        let written = put(&*probe.inner, &format!("/pods/ns/k{i}"), "v").await;
        assert_eq!(cache.get(&written.key, ReadRevision::Latest).await.unwrap(), written);
        let page = cache.list("/pods/ns/", ListOptions::default()).await.unwrap();
        assert_eq!(page.items.len(), i + 1);
        assert_eq!(page.revision, written.mod_revision);
    }
    let metrics = cache.metrics().snapshot();
    assert_eq!(Probe::count(&probe.gets), 0, "served from memory");
    assert_eq!(Probe::count(&probe.lists), 1, "only the initial list");
    assert_eq!(metrics.consistent_read_fallbacks, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consistent_read_falls_back_to_the_backend_when_the_cache_lags() {
    let (probe, _dir) = probed_backend();
    let cache = cache_over(&probe, test_options()).await;
    probe.hide(|e| e.kv.key.contains("/stuck/"));
    let stuck = put(&*cache, "/pods/stuck/x", "v").await;
    // The cache never sees that revision, so a consistent read cannot be served from memory.
    assert_eq!(cache.get(&stuck.key, ReadRevision::Latest).await.unwrap(), stuck);
    assert_eq!(Probe::count(&probe.gets), 1);
    assert_eq!(cache.metrics().snapshot().consistent_read_fallbacks, 1);
    // A minimum revision the cache cannot reach in time is "too large" (504, retried by clients).
    match cache.get(&stuck.key, ReadRevision::NotOlderThan(stuck.mod_revision)).await {
        Err(StorageError::TooLargeResourceVersion { requested, current }) => {
            assert_eq!((requested, current), (stuck.mod_revision, stuck.mod_revision - 1));
        }
        other => panic!("expected TooLargeResourceVersion, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_revision_is_too_large_at_once() {
    let (probe, _dir) = probed_backend();
    let options = CacheOptions { freshness_timeout: Duration::from_secs(30), ..test_options() };
    let cache = cache_over(&probe, options).await;
    let current = probe.current_revision().await.unwrap();
    let started = std::time::Instant::now();
    let err = cache.list("/pods/", at(ReadRevision::NotOlderThan(current + 5))).await.unwrap_err();
    assert!(
        matches!(err, StorageError::TooLargeResourceVersion { requested, current: c } if requested == current + 5 && c == current),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "no wait for a revision the backend lacks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_pages_come_from_memory_until_the_cache_moves_on() {
    let (probe, _dir) = probed_backend();
    let cache = cache_over(&probe, test_options()).await;
    for name in ["a", "b", "c", "d", "e"] {
        put(&*cache, &format!("/pods/ns/{name}"), name).await;
    }
    let first = cache.list("/pods/ns/", ListOptions { limit: Some(2), ..Default::default() }).await.unwrap();
    assert_eq!((first.items.len(), first.more, first.remaining), (2, true, Some(3)));
    let next = |after: &str| ListOptions {
        revision: ReadRevision::Exact(first.revision),
        limit: Some(2),
        start_after: Some(after.to_owned()),
        ..Default::default()
    };
    let lists = Probe::count(&probe.lists);
    let second = cache.list("/pods/ns/", next("/pods/ns/b")).await.unwrap();
    assert_eq!(Probe::count(&probe.lists), lists, "the cache is still at the snapshot");

    put(&*cache, "/pods/ns/bb", "new").await;
    settled(&cache, &*probe).await;
    let third = cache.list("/pods/ns/", next("/pods/ns/d")).await.unwrap();
    assert_eq!(Probe::count(&probe.lists), lists + 1, "an older snapshot comes from the backend");
    let seen: Vec<&str> =
        [&first, &second, &third].iter().flat_map(|p| &p.items).map(|kv| &*kv.key).collect();
    assert_eq!(seen, ["/pods/ns/a", "/pods/ns/b", "/pods/ns/c", "/pods/ns/d", "/pods/ns/e"]);
    assert!([&second, &third].iter().all(|p| p.revision == first.revision));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefixed_cache_holds_only_its_prefix_but_tracks_every_revision() {
    let (probe, _dir) = probed_backend();
    let options = CacheOptions { prefix: "/registry/pizzas/".into(), ..test_options() };
    let cache = cache_over(&probe, options).await;
    let pizza = put(&*cache, "/registry/pizzas/ns/margherita", "v").await;
    let topping = put(&*cache, "/registry/toppings/ns/basil", "v").await;

    // The last write is outside the prefix, yet a consistent read is served from memory.
    let page = cache.list("/registry/pizzas/", ListOptions::default()).await.unwrap();
    assert_eq!((page.items, page.revision), (vec![pizza], topping.mod_revision));
    assert_eq!(cache.metrics().snapshot().consistent_read_fallbacks, 0);
    assert_eq!(Probe::count(&probe.gets), 0);

    // Keys outside the prefix are read from the backend.
    assert_eq!(cache.get(&topping.key, ReadRevision::Latest).await.unwrap(), topping);
    assert_eq!(Probe::count(&probe.gets), 1);
    let watches = Probe::count(&probe.watches);
    drop(cache.watch("/registry/toppings/", 0).await.unwrap());
    assert_eq!(Probe::count(&probe.watches), watches + 1);

    let err =
        CachedStorage::start(probe.clone(), CacheOptions { prefix: "/registry".into(), ..test_options() })
            .await
            .unwrap_err();
    assert!(err.to_string().contains("watch cache"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_self_check_detects_a_missed_event() {
    let (probe, _dir) = probed_backend();
    let cache = cache_over(&probe, test_options()).await;
    put(&*cache, "/pods/ns/a", "a").await;
    settled(&cache, &*probe).await;
    assert!(cache.check_consistency().await.unwrap());

    // The cache's watch never delivers this write; the next one moves its revision past it.
    probe.hide(|e| e.kv.key.contains("/hidden/"));
    put(&*cache, "/pods/hidden/x", "x").await;
    put(&*cache, "/pods/ns/b", "b").await;
    settled(&cache, &*probe).await;
    assert!(!cache.check_consistency().await.unwrap());

    let m = cache.metrics().snapshot();
    assert_eq!((m.consistency_checks, m.consistency_mismatches, m.consistency_check_errors), (2, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_self_check_runs_periodically() {
    let (probe, _dir) = probed_backend();
    let options =
        CacheOptions { consistency_check_interval: Some(Duration::from_millis(20)), ..test_options() };
    let cache = cache_over(&probe, options).await;
    put(&*cache, "/pods/ns/a", "a").await;
    eventually("two periodic checks", || cache.metrics().snapshot().consistency_checks >= 2).await;
    assert_eq!(cache.metrics().snapshot().consistency_mismatches, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memo_stays_with_its_version_of_an_item() {
    let (probe, _dir) = probed_backend();
    let cache = cache_over(&probe, test_options()).await;
    let a = put(&*cache, "/pods/ns/a", "a").await;
    put(&*cache, "/pods/ns/b", "b").await;
    settled(&cache, &*probe).await;

    let first = cache.list_shared("/pods/ns/", ListOptions::default()).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert!(first.items[0].keep(Memo { tag: 7, bytes: "encoded a".into() }));
    let again = cache.list_shared("/pods/ns/", at(ReadRevision::NotOlderThan(0))).await.unwrap();
    assert_eq!(again.items[0].memo(7), Some(&"encoded a".into()), "kept across lists");
    assert_eq!(again.items[1].memo(7), None);

    // A new version of the key is a new item: the memo of the old one is not handed out.
    let updated = cache.update("/pods/ns/a", a.mod_revision, "a2".into()).await.unwrap();
    settled(&cache, &*probe).await;
    let after = cache.list_shared("/pods/ns/", ListOptions::default()).await.unwrap();
    assert_eq!((&after.items[0].kv, after.items[0].memo(7)), (&updated, None));
    assert_eq!(first.items[0].kv, a, "a page already handed out keeps its version");
    assert_eq!(Probe::count(&probe.lists), 1, "served from memory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_list_the_cache_cannot_serve_comes_from_the_backend() {
    let (probe, _dir) = probed_backend();
    let cache = cache_over(&probe, test_options()).await;
    let a = put(&*cache, "/pods/ns/a", "a").await;
    put(&*cache, "/pods/ns/a2", "x").await;
    settled(&cache, &*probe).await;
    // An exact revision the cache is no longer at is read from the backend.
    let old = cache.list_shared("/pods/ns/", at(ReadRevision::Exact(a.mod_revision))).await.unwrap();
    assert_eq!((old.items.len(), &old.items[0].kv, old.revision), (1, &a, a.mod_revision));
    assert_eq!(Probe::count(&probe.lists), 2, "the initial list and this one");
}
