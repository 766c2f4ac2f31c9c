//! A backend wrapper for the watch cache's tests: it counts calls, can hide events from
//! watches (to make the cache miss them), and can break every open watch with `Compacted`
//! (to make the cache re-list).

#![allow(dead_code)] // each test file uses part of it

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use piazza_storage::cache::{CacheOptions, CachedStorage};
use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use piazza_storage::{
    Event, KeyValue, ListOptions, ListResult, ReadRevision, Revision, Storage, StorageError, WatchStream,
};
use tempfile::TempDir;
use tokio::sync::watch;

/// Which events to hide.
type Filter = Arc<dyn Fn(&Event) -> bool + Send + Sync>;

/// See the module docs.
pub struct Probe {
    pub inner: Arc<dyn Storage>,
    pub gets: AtomicU64,
    pub lists: AtomicU64,
    pub watches: AtomicU64,
    /// Watch streams handed out and not yet dropped.
    pub open_watches: Arc<AtomicI64>,
    /// Events this accepts are not delivered to watchers.
    hidden: Arc<Mutex<Option<Filter>>>,
    breaker: watch::Sender<u64>,
}

impl Probe {
    pub fn new(inner: Arc<dyn Storage>) -> Arc<Probe> {
        Arc::new(Probe {
            inner,
            gets: AtomicU64::new(0),
            lists: AtomicU64::new(0),
            watches: AtomicU64::new(0),
            open_watches: Arc::new(AtomicI64::new(0)),
            hidden: Arc::new(Mutex::new(None)),
            breaker: watch::Sender::new(0),
        })
    }

    pub fn count(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }

    /// Hides the events `filter` accepts from watches, from now on. The filter is applied as
    /// events pass, so it should not depend on when they do (decide by key or revision).
    pub fn hide(&self, filter: impl Fn(&Event) -> bool + Send + Sync + 'static) {
        *self.hidden.lock().unwrap() = Some(Arc::new(filter));
    }

    /// Makes every open watch yield `Err(Compacted)` and end.
    pub fn break_watches(&self) {
        self.breaker.send_modify(|n| *n += 1);
    }
}

/// Counts a live watch stream while it exists.
struct OpenWatch(Arc<AtomicI64>);

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct ProbedWatch {
    inner: WatchStream,
    broken: watch::Receiver<u64>,
    hidden: Arc<Mutex<Option<Filter>>>,
    after: Revision,
    _open: OpenWatch,
}

#[async_trait::async_trait]
impl Storage for Probe {
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError> {
        self.inner.create(key, value).await
    }

    async fn get(&self, key: &str, revision: ReadRevision) -> Result<KeyValue, StorageError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key, revision).await
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult, StorageError> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.inner.list(prefix, options).await
    }

    async fn update(&self, key: &str, expected: Revision, value: Bytes) -> Result<KeyValue, StorageError> {
        self.inner.update(key, expected, value).await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue, StorageError> {
        self.inner.delete(key, expected).await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StorageError> {
        self.watches.fetch_add(1, Ordering::SeqCst);
        self.open_watches.fetch_add(1, Ordering::SeqCst);
        let state = ProbedWatch {
            inner: self.inner.watch(prefix, after).await?,
            broken: self.breaker.subscribe(),
            hidden: Arc::clone(&self.hidden),
            after,
            _open: OpenWatch(Arc::clone(&self.open_watches)),
        };
        Ok(Box::pin(futures::stream::unfold(Some(state), |state| async move {
            let mut w = state?;
            loop {
                tokio::select! {
                    _ = w.broken.changed() => {
                        let e = StorageError::Compacted { requested: w.after, compacted: w.after + 1 };
                        return Some((Err(e), None));
                    }
                    item = w.inner.next() => match item {
                        Some(Ok(event)) => {
                            w.after = event.revision();
                            let hidden = w.hidden.lock().unwrap().clone();
                            if hidden.is_some_and(|hide| hide(&event)) {
                                continue;
                            }
                            return Some((Ok(event), Some(w)));
                        }
                        Some(Err(e)) => return Some((Err(e), None)),
                        None => return None,
                    },
                }
            }
        })))
    }

    async fn current_revision(&self) -> Result<Revision, StorageError> {
        self.inner.current_revision().await
    }

    async fn compact(&self, revision: Revision) -> Result<(), StorageError> {
        self.inner.compact(revision).await
    }

    async fn check_health(&self) -> Result<(), StorageError> {
        self.inner.check_health().await
    }
}

/// An embedded store in a temporary directory, behind a [`Probe`].
pub fn probed_backend() -> (Arc<Probe>, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("open");
    (Probe::new(store), dir)
}

/// A cache over `probe`, with a short freshness timeout and no periodic self-check unless
/// `options` say otherwise.
pub async fn cache_over(probe: &Arc<Probe>, options: CacheOptions) -> Arc<CachedStorage> {
    CachedStorage::start(Arc::clone(probe) as Arc<dyn Storage>, options).await.expect("start the cache")
}

/// Options for tests: a 300 ms freshness timeout, no periodic self-check, no progress markers
/// (so watches yield exactly their events; the progress tests turn them on).
pub fn test_options() -> CacheOptions {
    CacheOptions {
        freshness_timeout: Duration::from_millis(300),
        consistency_check_interval: None,
        progress_interval: None,
        ..Default::default()
    }
}

/// Waits until `condition` holds, for at most 10 s.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the cache has caught up with its backend.
pub async fn settled(cache: &CachedStorage, backend: &dyn Storage) {
    let current = backend.current_revision().await.unwrap();
    eventually("the cache to catch up", || cache.revision() >= current).await;
}

/// Creates `key` with `value` through `store`.
pub async fn put(store: &dyn Storage, key: &str, value: &str) -> KeyValue {
    store.create(key, Bytes::copy_from_slice(value.as_bytes())).await.expect("create")
}
