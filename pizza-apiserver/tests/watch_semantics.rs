//! Watch semantics at the registry level, run against every storage backend: the embedded
//! store, the watch cache in front of it, and (in `watch_semantics_etcd`) etcd.
//!
//! Cases: selector transitions (leaving a selector is DELETED with the last matching state),
//! the deletion resourceVersion, monotonic bookmarks, `sendInitialEvents` with the
//! `k8s.io/initial-events-end` bookmark, a compacted start (terminal 410), and a slow
//! watcher that never stalls another.

mod watch_semantics_cases;

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

watch_semantics_cases::cases!(embedded_store, embedded);
watch_semantics_cases::cases!(watch_cache, cached);
