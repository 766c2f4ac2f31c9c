//! Compaction on etcd: explicit, and the background compactor.

use std::time::{Duration, Instant};

use piazza_storage::{ReadRevision, Storage, StorageError};
use piazza_storage_etcd::EtcdOptions;
use piazza_storage_etcd::testing::EtcdServer;

use super::support::{PATIENCE, b, connect, connect_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_compaction_fails_old_exact_reads_with_the_compacted_revision() {
    let server = EtcdServer::start();
    let store = connect(&server).await;
    let v1 = store.create("/registry/pizzas/ns/a", b("v1")).await.unwrap();
    let v2 = store.update(&v1.key, v1.mod_revision, b("v2")).await.unwrap();
    store.compact(v2.mod_revision).await.unwrap();
    match store.get(&v1.key, ReadRevision::Exact(v1.mod_revision)).await {
        Err(StorageError::Compacted { requested, compacted }) => {
            assert_eq!((requested, compacted), (v1.mod_revision, v2.mod_revision));
        }
        other => panic!("expected Compacted, got {other:?}"),
    }
    // A second store (another replica) sees the same compaction.
    let other = connect(&server).await;
    assert!(other.get(&v1.key, ReadRevision::Exact(v1.mod_revision)).await.unwrap_err().is_compacted());
    assert_eq!(other.get(&v1.key, ReadRevision::Exact(v2.mod_revision)).await.unwrap(), v2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_compaction_keeps_one_interval_then_compacts() {
    let server = EtcdServer::start();
    let interval = Duration::from_millis(300);
    let store = connect_with(EtcdOptions { compaction_interval: interval, ..server.options() }).await;
    let v1 = store.create("/registry/pizzas/ns/a", b("v1")).await.unwrap();
    let v2 = store.update(&v1.key, v1.mod_revision, b("v2")).await.unwrap();
    let old = ReadRevision::Exact(v1.mod_revision);

    // The first round only observes a revision; history survives it.
    tokio::time::sleep(interval / 2).await;
    assert_eq!(store.get(&v1.key, old).await.unwrap(), v1, "compacted before a full interval passed");

    let began = Instant::now();
    let compacted = loop {
        match store.get(&v1.key, old).await {
            Ok(_) if began.elapsed() < PATIENCE => tokio::time::sleep(interval / 3).await,
            Ok(_) => panic!("the background compactor did not compact within {PATIENCE:?}"),
            Err(StorageError::Compacted { compacted, .. }) => break compacted,
            Err(e) => panic!("expected Compacted, got {e:?}"),
        }
    };
    assert!(compacted > v2.mod_revision, "compacted to {compacted}");
    assert_eq!(store.get(&v1.key, ReadRevision::Latest).await.unwrap(), v2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compactors_stop_when_their_store_is_dropped() {
    let server = EtcdServer::start();
    let interval = Duration::from_millis(100);
    let store = connect_with(EtcdOptions { compaction_interval: interval, ..server.options() }).await;
    let observer = connect(&server).await;
    tokio::time::sleep(interval * 3).await;
    drop(store);
    tokio::time::sleep(interval * 2).await;
    // Every compaction round writes `compact_rev_key`; with the compactor gone, nothing does.
    let before = observer.current_revision().await.unwrap();
    tokio::time::sleep(interval * 5).await;
    assert_eq!(observer.current_revision().await.unwrap(), before);
}
