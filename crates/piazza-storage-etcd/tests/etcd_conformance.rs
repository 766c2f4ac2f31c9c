//! The shared storage conformance suite against [`EtcdStore`] on a real etcd.
//!
//! Every case gets its own etcd process (they start in well under a second): the suite asserts
//! exact revisions and compacts, and both are global to an etcd cluster.

use piazza_storage::testing::{SLOW_WATCHER_WRITES, TestStore};
use piazza_storage_etcd::EtcdStore;
use piazza_storage_etcd::testing::EtcdServer;

/// A store on a fresh etcd, with a watch buffer smaller than the suite's slow-watcher write
/// count so falling behind (and re-watching) is exercised.
async fn fresh_store() -> TestStore {
    let server = EtcdServer::start();
    let mut options = server.options();
    options.watch_buffer = SLOW_WATCHER_WRITES / 10;
    let store = EtcdStore::connect(options).await.expect("connecting to the test etcd");
    TestStore::with_guard(store, server)
}

piazza_storage::storage_conformance_tests!(fresh_store());
