//! Values too large to compare inside an etcd transaction (the value would travel twice and
//! exceed etcd's 1.5 MiB request limit) take the read-then-compare-and-swap path.

use bytes::Bytes;
use piazza_storage::{ReadRevision, Storage};
use piazza_storage_etcd::testing::EtcdServer;

use super::support::connect;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_updates_keep_the_identical_write_and_conflict_rules() {
    let server = EtcdServer::start();
    let store = connect(&server).await;
    let big = |fill: u8| Bytes::from(vec![fill; 900 * 1024]);
    let created = store.create("/registry/blobs/ns/big", big(b'a')).await.unwrap();

    let same = store.update(&created.key, created.mod_revision, big(b'a')).await.unwrap();
    assert_eq!(same, created);
    assert_eq!(
        store.current_revision().await.unwrap(),
        created.mod_revision,
        "identical write took a revision"
    );

    let changed = store.update(&created.key, created.mod_revision, big(b'b')).await.unwrap();
    assert!(changed.mod_revision > created.mod_revision);
    assert_eq!(changed.create_revision, created.create_revision);
    assert_eq!(store.get(&created.key, ReadRevision::Latest).await.unwrap(), changed);

    let stale = store.update(&created.key, created.mod_revision, big(b'c')).await.unwrap_err();
    assert!(stale.is_conflict(), "{stale:?}");
    let missing = store.update("/registry/blobs/ns/none", 5, big(b'c')).await.unwrap_err();
    assert!(missing.is_not_found(), "{missing:?}");
}
