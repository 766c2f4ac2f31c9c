//! The watch cache, over the embedded backend, against the shared conformance suite.

#![cfg(feature = "testing")]

use std::time::Duration;

use piazza_storage::cache::{CacheOptions, CachedStorage};
use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use piazza_storage::testing::{SLOW_WATCHER_WRITES, TestStore};

/// A fresh cache over a fresh embedded store in its own temporary directory. Both the backend's
/// live ring and the cache's per-watcher queues are smaller than the suite's slow-watcher write
/// count, so the suite exercises falling behind at both levels; the cache's event buffer holds
/// more than that, so a slow watcher catches up from it. Progress markers go out every 50 ms,
/// so every case runs with them interleaved.
async fn fresh_cache() -> TestStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend_options =
        EmbeddedOptions { watch_channel_capacity: SLOW_WATCHER_WRITES / 10, ..Default::default() };
    let backend = EmbeddedStore::open(dir.path(), backend_options).expect("open");
    let options = CacheOptions {
        watcher_queue_capacity: SLOW_WATCHER_WRITES / 10,
        event_capacity: SLOW_WATCHER_WRITES * 4,
        progress_interval: Some(Duration::from_millis(50)),
        ..Default::default()
    };
    let cache = CachedStorage::start(backend, options).await.expect("start the cache");
    TestStore::with_guard(cache, dir)
}

piazza_storage::storage_conformance_tests!(fresh_cache());

/// The all-in-one runner covers the same cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_conformance_runs_every_case() {
    piazza_storage::testing::run_conformance(fresh_cache).await;
}
