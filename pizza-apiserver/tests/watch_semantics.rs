//! Watch semantics at the registry level, run against every storage backend: the embedded
//! store, etcd (started by the test), and the watch cache in front of each.
//!
//! Cases: selector transitions (leaving a selector is DELETED with the last matching state),
//! the deletion resourceVersion, monotonic bookmarks, bookmarks that advance past writes in
//! another namespace (where the storage reports progress: the watch cache, over either
//! backend; neither backend alone does here, etcd 3.4.23 because its progress notifications
//! are not trusted), `sendInitialEvents` with the `k8s.io/initial-events-end` bookmark, a
//! compacted start (terminal 410), and a slow watcher that never stalls another.

use crate::watch_semantics_cases;
use std::sync::Arc;

use piazza::storage::Storage;
use piazza::storage::cache::{CacheOptions, CachedStorage};
use piazza::storage::embedded::{EmbeddedOptions, EmbeddedStore};

struct Embedded(#[allow(dead_code)] tempfile::TempDir);

async fn embedded() -> (Arc<dyn Storage>, Embedded) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Storage> = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    (store, Embedded(dir))
}

async fn cached() -> (Arc<dyn Storage>, Embedded) {
    let (backend, guard) = embedded().await;
    let cache: Arc<dyn Storage> = CachedStorage::start(backend, CacheOptions::default()).await.unwrap();
    (cache, guard)
}

watch_semantics_cases::cases!(embedded_store, embedded, progress: false);
watch_semantics_cases::cases!(watch_cache, cached, progress: true);

async fn etcd() -> (Arc<dyn Storage>, piazza_storage_etcd::testing::EtcdServer) {
    let server = tokio::task::spawn_blocking(piazza_storage_etcd::testing::EtcdServer::start).await.unwrap();
    let store: Arc<dyn Storage> = piazza_storage_etcd::EtcdStore::connect(server.options()).await.unwrap();
    (store, server)
}

async fn etcd_cached() -> (Arc<dyn Storage>, piazza_storage_etcd::testing::EtcdServer) {
    let (backend, guard) = etcd().await;
    let cache: Arc<dyn Storage> = CachedStorage::start(backend, CacheOptions::default()).await.unwrap();
    (cache, guard)
}

watch_semantics_cases::cases!(etcd_store, etcd, progress: false);
watch_semantics_cases::cases!(watch_cache_over_etcd, etcd_cached, progress: true);
