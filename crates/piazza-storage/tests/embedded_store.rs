//! Behaviour of the embedded backend beyond the shared suite: persistence across reopen, crash
//! safety, retention, and watchers that fall behind a tiny live buffer.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use piazza_storage::{EventType, ListOptions, ReadRevision, Storage, StorageError};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn open(dir: &std::path::Path, options: EmbeddedOptions) -> Arc<EmbeddedStore> {
    EmbeddedStore::open(dir, options).expect("open")
}

#[tokio::test]
async fn fresh_store_is_at_revision_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), EmbeddedOptions::default());
    assert_eq!(store.current_revision().await.unwrap(), 1);
    assert_eq!(store.create("/a", b("v")).await.unwrap().mod_revision, 2);
    assert_eq!(store.create("/b", b("v")).await.unwrap().mod_revision, 3);
    assert!(dir.path().join("piazza.redb").exists());
}

#[tokio::test]
async fn open_creates_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("x/y/z");
    let store = open(&nested, EmbeddedOptions::default());
    store.create("/a", b("v")).await.unwrap();
    assert!(nested.join("piazza.redb").exists());
}

#[tokio::test]
async fn reopen_keeps_data_revisions_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let (snapshot, before, after_rev) = {
        let store = open(dir.path(), EmbeddedOptions::default());
        store.create("/r/ns/a", b("a1")).await.unwrap();
        let bb = store.create("/r/ns/b", b("b1")).await.unwrap();
        let snapshot = store.current_revision().await.unwrap();
        store.update("/r/ns/b", bb.mod_revision, b("b2")).await.unwrap();
        store.delete("/r/ns/a", None).await.unwrap();
        store.create("/r/ns/c", b("c1")).await.unwrap();
        store.compact(bb.mod_revision).await.unwrap();
        let before = store.list("/r/", ListOptions::default()).await.unwrap();
        (snapshot, before, bb.mod_revision)
    };

    let store = open(dir.path(), EmbeddedOptions::default());
    let after = store.list("/r/", ListOptions::default()).await.unwrap();
    assert_eq!(after, before, "same items at the same revision");
    assert_eq!(store.current_revision().await.unwrap(), before.revision);
    assert_eq!(store.compacted_revision().await.unwrap(), after_rev);

    let old = ListOptions { revision: ReadRevision::Exact(snapshot), ..Default::default() };
    let old = store.list("/r/", old).await.unwrap();
    assert_eq!(old.items.iter().map(|kv| kv.value.clone()).collect::<Vec<_>>(), [b("a1"), b("b1")]);

    // History written before the restart is still watchable, and revisions keep increasing.
    let mut w = store.watch("/r/", after_rev).await.unwrap();
    let types: Vec<EventType> = (&mut w).take(3).map(|e| e.unwrap().event_type).collect().await;
    assert_eq!(types, [EventType::Modified, EventType::Deleted, EventType::Added]);
    let d = store.create("/r/ns/d", b("d1")).await.unwrap();
    assert_eq!(d.mod_revision, before.revision + 1);
    let live = w.next().await.unwrap().unwrap();
    assert_eq!((live.event_type, live.kv.mod_revision), (EventType::Added, d.mod_revision));
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let _store = open(dir.path(), EmbeddedOptions::default());
    match EmbeddedStore::open(dir.path(), EmbeddedOptions::default()) {
        Err(StorageError::Internal { .. }) => {}
        other => panic!("expected an Internal error, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_ends_when_the_store_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), EmbeddedOptions::default());
    let mut w = store.watch("/", 0).await.unwrap();
    let kv = store.create("/a", b("v")).await.unwrap();
    drop(store);
    let event = w.next().await.unwrap().unwrap();
    assert_eq!(event.kv.mod_revision, kv.mod_revision, "events already committed are delivered");
    let end = tokio::time::timeout(Duration::from_secs(5), w.next()).await.unwrap();
    assert!(end.is_none(), "{end:?}");
}

/// With a live buffer of 4 events, a watcher that reads nothing during 200 writes still gets all
/// of them, in order, from disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_far_behind_a_tiny_buffer_catches_up_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), EmbeddedOptions { watch_channel_capacity: 4, ..Default::default() });
    let mut slow = store.watch("/w/", 0).await.unwrap();
    let mut revs = Vec::new();
    for i in 0..200 {
        revs.push(store.create(&format!("/w/{i:04}"), b("v")).await.unwrap().mod_revision);
        // Out-of-scope writes interleaved: the gap filler must skip them too.
        store.create(&format!("/other/{i:04}"), b("v")).await.unwrap();
    }
    for rev in revs {
        let event =
            tokio::time::timeout(Duration::from_secs(10), slow.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(event.kv.mod_revision, rev);
    }
}

/// With a live buffer of 4 events, a watcher whose missed history is compacted must get
/// `Err(Compacted)` and end, never a silent gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_behind_compacted_history_gets_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), EmbeddedOptions { watch_channel_capacity: 4, ..Default::default() });
    let mut slow = store.watch("/w/", 0).await.unwrap();
    for i in 0..50 {
        store.create(&format!("/w/{i:04}"), b("v")).await.unwrap();
    }
    store.compact(store.current_revision().await.unwrap()).await.unwrap();
    match slow.next().await {
        Some(Err(StorageError::Compacted { compacted, .. })) => assert_eq!(compacted, 51),
        other => panic!("expected Err(Compacted), got {other:?}"),
    }
    assert!(slow.next().await.is_none());
}

#[tokio::test]
async fn background_compaction_applies_the_time_window() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmbeddedOptions {
        history_window: Duration::ZERO,
        compaction_interval: Duration::from_millis(20),
        ..Default::default()
    };
    let store = open(dir.path(), options);
    let a = store.create("/a", b("1")).await.unwrap();
    store.update("/a", a.mod_revision, b("2")).await.unwrap();
    let current = store.current_revision().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.compacted_revision().await.unwrap() < current {
        assert!(tokio::time::Instant::now() < deadline, "the background compactor did not run");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let err = store.get("/a", ReadRevision::Exact(a.mod_revision)).await.unwrap_err();
    assert!(err.is_compacted(), "{err:?}");
    assert_eq!(store.get("/a", ReadRevision::Latest).await.unwrap().value, b("2"));
}

#[tokio::test]
async fn compaction_keeps_recent_history_inside_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmbeddedOptions { history_window: Duration::from_secs(3600), ..Default::default() };
    let store = open(dir.path(), options);
    for i in 0..20 {
        store.create(&format!("/k{i}"), b("v")).await.unwrap();
    }
    assert_eq!(store.compact_now().await.unwrap(), 0, "everything is younger than the window");
}

#[tokio::test]
async fn compaction_caps_the_number_of_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmbeddedOptions {
        history_window: Duration::from_secs(3600),
        max_history_revisions: 10,
        ..Default::default()
    };
    let store = open(dir.path(), options);
    let first = store.create("/k", b("0")).await.unwrap();
    let mut last = first.clone();
    for i in 1..30 {
        last = store.update("/k", last.mod_revision, b(&i.to_string())).await.unwrap();
    }
    let current = store.current_revision().await.unwrap();
    assert_eq!(store.compact_now().await.unwrap(), current - 10);
    assert!(store.get("/k", ReadRevision::Exact(current - 11)).await.unwrap_err().is_compacted());
    let kept = store.get("/k", ReadRevision::Exact(current - 10)).await.unwrap();
    assert_eq!(kept.create_revision, first.create_revision);
    assert_eq!(store.get("/k", ReadRevision::Latest).await.unwrap(), last);
}

#[tokio::test]
async fn compaction_of_a_large_range_runs_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), EmbeddedOptions::default());
    let mut kv = store.create("/k", b("0")).await.unwrap();
    for i in 1..5000 {
        kv = store.update("/k", kv.mod_revision, b(&i.to_string())).await.unwrap();
    }
    store.create("/other", b("x")).await.unwrap();
    let current = store.current_revision().await.unwrap();
    store.compact(current - 1).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), current - 1);
    assert_eq!(store.get("/k", ReadRevision::Exact(current - 1)).await.unwrap(), kv);
    let mut w = store.watch("/", current - 1).await.unwrap();
    assert_eq!(w.next().await.unwrap().unwrap().kv.key, "/other");
}

#[tokio::test]
async fn the_compactor_stops_when_the_store_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmbeddedOptions { compaction_interval: Duration::from_millis(5), ..Default::default() };
    let store = open(dir.path(), options.clone());
    store.create("/a", b("v")).await.unwrap();
    drop(store);
    // Reopening needs the database closed: nothing, the compactor included, may keep it open.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let store = loop {
        match EmbeddedStore::open(dir.path(), options.clone()) {
            Ok(store) => break store,
            Err(e) => {
                assert!(tokio::time::Instant::now() < deadline, "still open: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    assert_eq!(store.get("/a", ReadRevision::Latest).await.unwrap().value, b("v"));
}

#[tokio::test]
async fn health_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), EmbeddedOptions::default());
    store.check_health().await.unwrap();
}
