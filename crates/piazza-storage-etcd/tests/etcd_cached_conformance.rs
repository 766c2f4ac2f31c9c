//! The shared storage conformance suite against the watch cache in front of [`EtcdStore`]
//! on a real etcd: the cache must keep the contract whatever backend it fronts.

use piazza_storage::cache::{CacheOptions, CachedStorage};
use piazza_storage::testing::{SLOW_WATCHER_WRITES, TestStore};
use piazza_storage_etcd::EtcdStore;
use piazza_storage_etcd::testing::EtcdServer;

async fn fresh_cached_store() -> TestStore {
    let server = EtcdServer::start();
    let backend = EtcdStore::connect(server.options()).await.expect("connecting to the test etcd");
    // A watcher queue smaller than the suite's slow-watcher write count, so lagging and
    // catching up from the buffer are exercised.
    let options =
        CacheOptions { watcher_queue_capacity: SLOW_WATCHER_WRITES / 10, ..CacheOptions::default() };
    let cache = CachedStorage::start(backend, options).await.expect("starting the watch cache");
    TestStore::with_guard(cache, server)
}

piazza_storage::storage_conformance_tests!(fresh_cached_store());
