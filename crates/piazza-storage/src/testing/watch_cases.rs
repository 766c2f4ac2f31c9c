//! Watches: ported from `watcher_tests.go` (`RunTestWatch`, `RunTestWatchFromZero`,
//! `RunTestWatchFromNonZero`, `RunTestDeleteTriggerWatch`, `RunTestDelayedWatchDelivery`,
//! `RunTestWatcherTimeout`, `RunTestWatchDeleteEventObjectHaveLatestRV`,
//! `RunTestNamespaceScopedWatch`), plus the no-gap guarantees of a slow consumer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::support::{
    b, current, expect_compacted_then_end, expect_event, expect_quiet, next_event, next_item, put, remove,
    set, watch,
};
use crate::Storage;
use crate::error::StorageError;
use crate::types::{EventType, Revision};

/// How many writes the slow-watcher cases make while a watcher is not reading. Backends should
/// buffer fewer live events than this under the suite, so falling behind is exercised.
pub const SLOW_WATCHER_WRITES: usize = 300;

/// `RunTestWatchFromZero` as restated by the trait: after 0 means "from now".
pub async fn watch_from_zero_sees_only_new_events(store: Arc<dyn Storage>) {
    put(&*store, "/pods/ns/old", "v").await;
    let mut w = watch(&*store, "/pods/ns/", 0).await;
    expect_quiet(&mut w).await;
    let new = put(&*store, "/pods/ns/new", "v").await;
    expect_event(&mut w, EventType::Added, "/pods/ns/new", new.mod_revision).await;
}

/// `RunTestWatchFromNonZero`: history after the revision is replayed in order, then live events
/// follow with no duplicates.
pub async fn watch_from_revision_replays_history_then_live(store: Arc<dyn Storage>) {
    let a1 = put(&*store, "/pods/ns/a", "a1").await;
    let a2 = set(&*store, "/pods/ns/a", "a2").await;
    put(&*store, "/pods/other/x", "x").await;
    let bb = put(&*store, "/pods/ns/b", "b1").await;
    let a_gone = remove(&*store, "/pods/ns/a").await;

    let mut w = watch(&*store, "/pods/ns/", a1.mod_revision).await;
    expect_event(&mut w, EventType::Modified, "/pods/ns/a", a2.mod_revision).await;
    expect_event(&mut w, EventType::Added, "/pods/ns/b", bb.mod_revision).await;
    expect_event(&mut w, EventType::Deleted, "/pods/ns/a", a_gone.mod_revision).await;
    let c = put(&*store, "/pods/ns/c", "c1").await;
    expect_event(&mut w, EventType::Added, "/pods/ns/c", c.mod_revision).await;
    expect_quiet(&mut w).await;

    // Watching from just before a create replays the create.
    let mut w = watch(&*store, "/pods/ns/", a1.mod_revision - 1).await;
    expect_event(&mut w, EventType::Added, "/pods/ns/a", a1.mod_revision).await;
}

/// Added carries no `prev`; Modified carries the previous version; Deleted carries the last
/// value with the deletion revision (`RunTestWatchDeleteEventObjectHaveLatestRV`).
pub async fn watch_event_shapes(store: Arc<dyn Storage>) {
    let start = current(&*store).await;
    let created = put(&*store, "/pods/ns/foo", "v1").await;
    let updated = set(&*store, "/pods/ns/foo", "v2").await;
    let deleted = remove(&*store, "/pods/ns/foo").await;

    // From history, on the exact key and on its collection.
    for prefix in ["/pods/ns/foo", "/pods/ns/"] {
        let mut w = watch(&*store, prefix, start).await;
        let added = next_event(&mut w).await;
        assert_eq!(added.event_type, EventType::Added);
        assert_eq!(added.kv, created);
        assert!(added.prev.is_none());

        let modified = next_event(&mut w).await;
        assert_eq!(modified.event_type, EventType::Modified);
        assert_eq!(modified.kv, updated);
        assert_eq!(modified.prev.as_ref(), Some(&created));

        let gone = next_event(&mut w).await;
        assert_eq!(gone.event_type, EventType::Deleted);
        assert_eq!(gone.kv, deleted, "a delete event carries the last value at the deletion revision");
        assert_eq!(gone.kv.value, b("v2"));
        assert_eq!(gone.kv.create_revision, created.create_revision);
        assert!(gone.kv.mod_revision > updated.mod_revision);
        assert_eq!(gone.prev.as_ref(), Some(&updated));
    }

    // And live, with the watch opened before the writes.
    let mut w = watch(&*store, "/pods/ns/bar", 0).await;
    let c = put(&*store, "/pods/ns/bar", "x").await;
    let d = remove(&*store, "/pods/ns/bar").await;
    let added = expect_event(&mut w, EventType::Added, "/pods/ns/bar", c.mod_revision).await;
    assert!(added.prev.is_none());
    let gone = expect_event(&mut w, EventType::Deleted, "/pods/ns/bar", d.mod_revision).await;
    assert_eq!(gone.kv.value, b("x"));
    assert_eq!(gone.prev.as_ref(), Some(&c));
}

/// A watch of `ns1/` never sees `ns10/`; a watch of the exact key `foo` never sees `foobar`.
pub async fn watch_scope_boundaries(store: Arc<dyn Storage>) {
    let mut ns1 = watch(&*store, "/pods/ns1/", 0).await;
    let mut exact = watch(&*store, "/pods/ns1/foo", 0).await;
    put(&*store, "/pods/ns10/foo", "v").await;
    put(&*store, "/pods/ns1/foobar", "v").await;
    let f = put(&*store, "/pods/ns1/foo", "v").await;
    let foobar = current(&*store).await - 1;
    expect_event(&mut ns1, EventType::Added, "/pods/ns1/foobar", foobar).await;
    expect_event(&mut ns1, EventType::Added, "/pods/ns1/foo", f.mod_revision).await;
    expect_event(&mut exact, EventType::Added, "/pods/ns1/foo", f.mod_revision).await;
    expect_quiet(&mut ns1).await;
    expect_quiet(&mut exact).await;
}

/// `RunTestWatchFromZero` (the compacted part): a watch from below the compacted revision yields
/// `Err(Compacted)` and ends.
pub async fn watch_from_compacted_revision_fails(store: Arc<dyn Storage>) {
    let a1 = put(&*store, "/pods/ns/a", "a1").await;
    set(&*store, "/pods/ns/a", "a2").await;
    let a3 = set(&*store, "/pods/ns/a", "a3").await;
    store.compact(a3.mod_revision).await.unwrap();
    let mut w = watch(&*store, "/pods/ns/", a1.mod_revision).await;
    expect_compacted_then_end(&mut w).await;
    // From zero still works after compaction.
    let mut w = watch(&*store, "/pods/ns/", 0).await;
    let a4 = set(&*store, "/pods/ns/a", "a4").await;
    let event = expect_event(&mut w, EventType::Modified, "/pods/ns/a", a4.mod_revision).await;
    assert_eq!(event.prev.as_ref(), Some(&a3), "prev survives compaction");
}

/// A watch from exactly the compacted revision gets everything after it, with `prev` intact.
pub async fn watch_at_compacted_revision_succeeds(store: Arc<dyn Storage>) {
    let a1 = put(&*store, "/pods/ns/a", "a1").await;
    let b1 = put(&*store, "/pods/ns/b", "b1").await;
    store.compact(b1.mod_revision).await.unwrap();
    let a2 = set(&*store, "/pods/ns/a", "a2").await;
    let b_gone = remove(&*store, "/pods/ns/b").await;
    let mut w = watch(&*store, "/pods/ns/", b1.mod_revision).await;
    let modified = expect_event(&mut w, EventType::Modified, "/pods/ns/a", a2.mod_revision).await;
    assert_eq!(modified.prev, Some(a1));
    let gone = expect_event(&mut w, EventType::Deleted, "/pods/ns/b", b_gone.mod_revision).await;
    assert_eq!(gone.prev, Some(b1));
}

/// A watch from a revision that does not exist yet starts delivering once it is passed.
pub async fn watch_from_future_revision(store: Arc<dyn Storage>) {
    let now = current(&*store).await;
    let mut w = watch(&*store, "/pods/ns/", now + 2).await;
    put(&*store, "/pods/ns/a", "v").await;
    put(&*store, "/pods/ns/b", "v").await;
    let c = put(&*store, "/pods/ns/c", "v").await;
    assert_eq!(c.mod_revision, now + 3, "this case needs a store nobody else writes to");
    expect_event(&mut w, EventType::Added, "/pods/ns/c", c.mod_revision).await;
}

/// Two watchers from the same revision, one opened before and one after the writes, see the
/// same events.
pub async fn watchers_see_identical_sequences(store: Arc<dyn Storage>) {
    let start = current(&*store).await;
    let mut early = watch(&*store, "/pods/", start).await;
    for i in 0..10 {
        put(&*store, &format!("/pods/ns/k{i}"), "v").await;
    }
    let mut late = watch(&*store, "/pods/", start).await;
    for _ in 0..10 {
        let (x, y) = (next_event(&mut early).await, next_event(&mut late).await);
        assert_eq!((x.event_type, &x.kv), (y.event_type, &y.kv));
    }
}

/// The revision of a list is a real state to watch from, even on a store nobody has written to:
/// the list-then-watch pattern of every informer misses nothing. (Revision 0 never names a
/// state, because a watch after 0 means "from now".)
pub async fn list_then_watch_misses_nothing(store: Arc<dyn Storage>) {
    let listed = store.list("/pods/", Default::default()).await.unwrap();
    assert!(listed.revision > 0, "an empty store must be at a revision above 0");
    let first = put(&*store, "/pods/ns/first", "v").await;
    let mut w = watch(&*store, "/pods/", listed.revision).await;
    expect_event(&mut w, EventType::Added, "/pods/ns/first", first.mod_revision).await;
}

/// Writers racing from several tasks are observed in strictly increasing revision order, each
/// exactly once.
pub async fn concurrent_writers_are_seen_in_order(store: Arc<dyn Storage>) {
    let mut w = watch(&*store, "/pods/", 0).await;
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut revs = Vec::new();
                for i in 0..25 {
                    revs.push(store.create(&format!("/pods/t{t}/k{i}"), b("v")).await.unwrap().mod_revision);
                }
                revs
            })
        })
        .collect();
    let mut written: Vec<Revision> = Vec::new();
    for task in tasks {
        written.extend(task.await.unwrap());
    }
    written.sort_unstable();
    let mut seen = Vec::new();
    for _ in 0..written.len() {
        seen.push(next_event(&mut w).await.kv.mod_revision);
    }
    assert!(seen.windows(2).all(|p| p[0] < p[1]), "events out of order: {seen:?}");
    assert_eq!(seen, written);
}

/// `RunTestDelayedWatchDelivery`: a watcher that does not read while many writes happen does not
/// slow the writers down, and later receives every event, in order, with no gaps.
pub async fn slow_watcher_does_not_block_writers(store: Arc<dyn Storage>) {
    let mut slow = watch(&*store, "/pods/ns/", 0).await;
    let mut revisions = Vec::new();
    for i in 0..SLOW_WATCHER_WRITES {
        let key = format!("/pods/ns/k{i:05}");
        revisions.push(put(&*store, &key, "v").await.mod_revision);
        if i % 3 == 0 {
            revisions.push(set(&*store, &key, "w").await.mod_revision);
        }
    }
    for (n, rev) in revisions.iter().enumerate() {
        match next_item(&mut slow).await {
            Some(Ok(event)) => assert_eq!(event.kv.mod_revision, *rev, "event {n} out of order or missing"),
            other => panic!("event {n}: expected revision {rev}, got {other:?}"),
        }
    }
    expect_quiet(&mut slow).await;
}

/// `RunTestWatcherTimeout`: fifty watchers that never read do not stall a watcher that does.
pub async fn non_reading_watchers_do_not_stall_others(store: Arc<dyn Storage>) {
    let start = current(&*store).await;
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(watch(&*store, "/pods/ns/", start).await);
    }
    let mut reader = watch(&*store, "/pods/ns/", start).await;
    let began = Instant::now();
    for i in 0..SLOW_WATCHER_WRITES {
        let key = format!("/pods/ns/k{i:05}");
        let kv = put(&*store, &key, "v").await;
        expect_event(&mut reader, EventType::Added, &key, kv.mod_revision).await;
    }
    let took = began.elapsed();
    assert!(took < Duration::from_secs(90), "writes and delivery took {took:?}");
    drop(idle);
}

/// A watcher that falls behind while its missed history is compacted away gets `Err(Compacted)`
/// and ends; whatever it received before is gap-free and in order. (A backend whose buffer holds
/// every event may deliver all of them instead.)
pub async fn slow_watcher_with_compacted_gap_errors(store: Arc<dyn Storage>) {
    let mut slow = watch(&*store, "/pods/ns/", 0).await;
    let first = current(&*store).await + 1;
    for i in 0..SLOW_WATCHER_WRITES {
        put(&*store, &format!("/pods/ns/k{i:05}"), "v").await;
    }
    let last = current(&*store).await;
    store.compact(last).await.unwrap();
    let mut expected = first;
    loop {
        match next_item(&mut slow).await {
            Some(Ok(event)) => {
                assert_eq!(event.kv.mod_revision, expected, "a gap or a duplicate");
                expected += 1;
                if expected > last {
                    break;
                }
            }
            Some(Err(StorageError::Compacted { .. })) => {
                let after = next_item(&mut slow).await;
                assert!(after.is_none(), "the stream must end after Compacted, got {after:?}");
                return;
            }
            other => panic!("expected an event or Err(Compacted), got {other:?}"),
        }
    }
    expect_quiet(&mut slow).await;
}
