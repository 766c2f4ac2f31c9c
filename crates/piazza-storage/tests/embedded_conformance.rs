//! The embedded backend against the shared conformance suite.

use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use piazza_storage::testing::{SLOW_WATCHER_WRITES, TestStore};

/// A fresh store in its own temporary directory, with a live watch buffer smaller than the
/// suite's slow-watcher write count so falling behind is exercised, and a 64 KiB page cache
/// (sixteen pages) so reads and writes keep missing it.
async fn fresh_store() -> TestStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = EmbeddedOptions {
        watch_channel_capacity: SLOW_WATCHER_WRITES / 10,
        cache_bytes: 64 * 1024,
        ..Default::default()
    };
    let store = EmbeddedStore::open(dir.path(), options).expect("open");
    TestStore::with_guard(store, dir)
}

piazza_storage::storage_conformance_tests!(fresh_store());

/// The all-in-one runner covers the same cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_conformance_runs_every_case() {
    piazza_storage::testing::run_conformance(fresh_store).await;
}
