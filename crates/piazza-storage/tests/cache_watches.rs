//! The watch cache's watches: fan-out, slow watchers, the event buffer's window, re-lists, and
//! shutdown.

mod cache_support;

use std::sync::Arc;
use std::time::Duration;

use cache_support::{Probe, cache_over, eventually, probed_backend, put, settled, test_options};
use futures::StreamExt;
use piazza_storage::cache::CacheOptions;
use piazza_storage::{Event, Revision, Storage, StorageError, WatchStream};

type Item = Option<Result<Event, StorageError>>;

async fn next(w: &mut WatchStream) -> Item {
    tokio::time::timeout(Duration::from_secs(10), w.next()).await.expect("timed out waiting for a watch item")
}

async fn next_revision(w: &mut WatchStream) -> Revision {
    match next(w).await {
        Some(Ok(event)) => event.revision(),
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Reads events until an error or the end; returns their revisions and the error.
async fn drain(w: &mut WatchStream) -> (Vec<Revision>, Option<StorageError>) {
    let mut revisions = Vec::new();
    loop {
        match next(w).await {
            Some(Ok(event)) => revisions.push(event.revision()),
            Some(Err(e)) => {
                assert!(next(w).await.is_none(), "the stream ends after an error");
                return (revisions, Some(e));
            }
            None => return (revisions, None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_watcher_is_terminated_while_a_fast_one_gets_everything() {
    let (probe, _dir) = probed_backend();
    let options = CacheOptions { event_capacity: 100, watcher_queue_capacity: 8, ..test_options() };
    let cache = cache_over(&probe, options).await;
    let mut slow = cache.watch("/pods/", 0).await.unwrap();
    let mut fast = cache.watch("/pods/", 0).await.unwrap();
    let writes = 300;
    // The fast watcher reads each event as it is written; the slow one reads nothing.
    let mut written = Vec::new();
    for i in 0..writes {
        let rev = put(&*cache, &format!("/pods/ns/k{i:03}"), "v").await.mod_revision;
        assert_eq!(next_revision(&mut fast).await, rev, "the fast watcher gets every event, in order");
        written.push(rev);
    }

    let (got, error) = drain(&mut slow).await;
    assert_eq!(got, written[..8], "the slow watcher gets its queue, gap-free");
    match error {
        Some(StorageError::Compacted { requested, compacted }) => {
            assert_eq!(requested, written[7]);
            assert_eq!(compacted, written[writes - 101]);
        }
        other => panic!("expected Compacted, got {other:?}"),
    }
    let m = cache.metrics().snapshot();
    assert_eq!((m.lagging_watchers, m.terminated_slow_watchers), (1, 1), "{m:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_watcher_catches_up_from_the_buffer_and_reattaches() {
    let (probe, _dir) = probed_backend();
    let options = CacheOptions { event_capacity: 1000, watcher_queue_capacity: 4, ..test_options() };
    let cache = cache_over(&probe, options).await;
    let mut w = cache.watch("/pods/ns/", 0).await.unwrap();
    assert_eq!(cache.attached_watchers(), 1);
    let mut written = Vec::new();
    for i in 0..100 {
        written.push(put(&*cache, &format!("/pods/ns/k{i:03}"), "v").await.mod_revision);
        put(&*cache, &format!("/pods/other/k{i:03}"), "v").await; // out of scope
    }
    settled(&cache, &*probe).await;
    assert_eq!(cache.attached_watchers(), 0, "detached when its queue overflowed");
    let mut got = Vec::new();
    for _ in 0..written.len() {
        got.push(next_revision(&mut w).await);
    }
    assert_eq!(got, written);
    let live = put(&*cache, "/pods/ns/live", "v").await;
    assert_eq!(next_revision(&mut w).await, live.mod_revision);
    let quiet = tokio::time::timeout(Duration::from_millis(100), w.next()).await;
    assert!(quiet.is_err(), "no more events: {quiet:?}");
    assert_eq!(cache.attached_watchers(), 1, "attached again once caught up");
    let m = cache.metrics().snapshot();
    assert_eq!((m.lagging_watchers, m.terminated_slow_watchers), (1, 0));
    drop(w);
    assert_eq!(cache.attached_watchers(), 0, "a dropped watcher is forgotten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_before_the_buffer_is_served_from_the_backend_history() {
    let (probe, _dir) = probed_backend();
    let options = CacheOptions { event_capacity: 10, ..test_options() };
    let cache = cache_over(&probe, options).await;
    let mut written = Vec::new();
    for i in 0..30 {
        written.push(put(&*cache, &format!("/pods/ns/k{i:03}"), "v").await.mod_revision);
    }
    settled(&cache, &*probe).await;

    // Older than the buffer (it holds the last 10), but the backend still has the history:
    // the watch is served from there, complete and in order (a client resuming after a
    // restart relies on this).
    let mut old = cache.watch("/pods/", written[0]).await.unwrap();
    for rev in &written[1..] {
        assert_eq!(next_revision(&mut old).await, *rev);
    }
    assert_eq!(cache.metrics().snapshot().watches_from_backend, 1);
    // The oldest buffered revision is served from the cache.
    let mut oldest = cache.watch("/pods/", written[19]).await.unwrap();
    for rev in &written[20..] {
        assert_eq!(next_revision(&mut oldest).await, *rev);
    }
    assert_eq!(cache.metrics().snapshot().watches_from_backend, 1);

    // Once the backend has compacted that history too, the watch is a terminal Compacted.
    probe.compact(written[15]).await.unwrap();
    let mut too_old = cache.watch("/pods/", written[0]).await.unwrap();
    match drain(&mut too_old).await {
        (events, Some(StorageError::Compacted { requested, .. })) => {
            assert!(events.is_empty());
            assert_eq!(requested, written[0]);
        }
        other => panic!("expected only Err(Compacted), got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relist_terminates_only_the_watchers_that_lost_events() {
    let (probe, _dir) = probed_backend();
    let cache = cache_over(&probe, test_options()).await;
    let first = put(&*cache, "/pods/ns/a", "v").await;
    settled(&cache, &*probe).await;
    // One watcher catching up from the buffer, one attached to the live fan-out.
    let mut catching_up = cache.watch("/pods/", first.mod_revision - 1).await.unwrap();
    assert_eq!(next_revision(&mut catching_up).await, first.mod_revision);
    let mut attached = cache.watch("/pods/", first.mod_revision).await.unwrap();

    // The cache misses a write, then loses its watch to compaction and re-lists.
    let next = first.mod_revision + 1;
    probe.hide(move |e| e.revision() == next);
    let missed = put(&*cache, "/pods/ns/missed", "v").await;
    assert_eq!(missed.mod_revision, next);
    // A watcher that starts after the missed write has no gap.
    let mut ahead = cache.watch("/pods/", missed.mod_revision).await.unwrap();
    assert_eq!(cache.attached_watchers(), 2);
    probe.break_watches();
    eventually("the re-list", || cache.metrics().snapshot().relists == 1 && cache.is_ready()).await;

    for w in [&mut catching_up, &mut attached] {
        match drain(w).await {
            (events, Some(StorageError::Compacted { compacted, .. })) => {
                assert!(events.is_empty());
                assert_eq!(compacted, missed.mod_revision);
            }
            other => panic!("expected Err(Compacted), got {other:?}"),
        }
    }
    let m = cache.metrics().snapshot();
    assert_eq!((m.terminated_by_relist, m.terminated_slow_watchers), (2, 0));
    assert_eq!(Probe::count(&probe.lists), 2, "the initial list and the re-list");

    // The cache has the missed key now, and carries on.
    settled(&cache, &*probe).await;
    assert!(cache.check_consistency().await.unwrap());
    let after = put(&*cache, "/pods/ns/after", "v").await;
    assert_eq!(next_revision(&mut ahead).await, after.mod_revision, "a watcher with no gap survives");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_cache_stops_its_tasks_and_ends_its_watches() {
    let (probe, _dir) = probed_backend();
    let options =
        CacheOptions { consistency_check_interval: Some(Duration::from_millis(5)), ..test_options() };
    let cache = cache_over(&probe, options).await;
    let mut w = cache.watch("/pods/", 0).await.unwrap();
    put(&*cache, "/pods/ns/a", "v").await;
    assert!(next(&mut w).await.is_some());
    eventually("a periodic check", || cache.metrics().snapshot().consistency_checks > 0).await;
    assert_eq!(probe.open_watches.load(std::sync::atomic::Ordering::SeqCst), 1);

    drop(cache);
    eventually("the tasks to release the backend", || Arc::strong_count(&probe) == 1).await;
    assert_eq!(
        probe.open_watches.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the backend watch is closed"
    );
    assert!(next(&mut w).await.is_none(), "watches of a dropped cache end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_watcher_is_told_the_cache_has_moved_on() {
    let (probe, _dir) = probed_backend();
    let options = CacheOptions { progress_interval: Some(Duration::from_millis(50)), ..test_options() };
    let cache = cache_over(&probe, options).await;
    let mut quiet = cache.watch("/pods/ns/", 0).await.unwrap();
    let mut busy = cache.watch("/pods/", 0).await.unwrap();
    let elsewhere = put(&*cache, "/pods/other/x", "v").await;

    // The busy watcher gets the event; the quiet one a progress marker at its revision.
    assert_eq!(next_revision(&mut busy).await, elsewhere.mod_revision);
    match next(&mut quiet).await {
        Some(Ok(event)) if event.is_progress() => assert_eq!(event.revision(), elsewhere.mod_revision),
        other => panic!("expected a progress marker, got {other:?}"),
    }
    // Nothing more to report until the cache moves again; then an event comes after the marker.
    let nothing = tokio::time::timeout(Duration::from_millis(200), quiet.next()).await;
    assert!(nothing.is_err(), "one marker per revision: {nothing:?}");
    let here = put(&*cache, "/pods/ns/y", "v").await;
    assert_eq!(next_revision(&mut quiet).await, here.mod_revision);
    assert!(cache.metrics().snapshot().progress_markers >= 1);
}
