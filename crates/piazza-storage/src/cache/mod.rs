//! The watch cache: a [`Storage`] that wraps another one and serves reads and watches from
//! memory, as k8s.io/apiserver's cacher does in front of etcd.
//!
//! [`CachedStorage::start`] lists the backend under [`CacheOptions::prefix`], then a background
//! task watches the backend from that revision and keeps, in memory, the current value of every
//! key under the prefix and a bounded buffer of the most recent events.
//!
//! | Operation | Served by |
//! |-----------|-----------|
//! | `create`, `update`, `delete`, `compact`, `current_revision` | the backend (a compaction also stops watches from starting below it) |
//! | `get`/`list` at `NotOlderThan(0)` | memory, at once |
//! | `get`/`list` at `NotOlderThan(r)` | memory, once the cache has reached `r` (up to [`CacheOptions::freshness_timeout`], then `TooLargeResourceVersion`, 504) |
//! | `get`/`list` at `Latest` | memory, once the cache has reached the backend's current revision; the backend if that takes longer than the timeout |
//! | `get`/`list` at `Exact(r)` (e.g. later pages of a paginated list) | memory if the cache is at exactly `r`, else the backend (the cache only holds its current state) |
//! | `watch` | memory: the event buffer, then live fan-out |
//! | anything outside the prefix, or while the cache re-lists | the backend |
//!
//! Pages served from memory follow the backend's rules exactly: each page is read at the
//! cache's revision and reports it, `remaining` is exact, and a page filtered by a predicate is
//! never empty while matches remain. Continue tokens carry the first page's revision, so a later
//! page goes to the backend once the cache has moved on, and the backend serves that snapshot.
//!
//! [`Storage::list_shared`] hands out the items the cache holds instead of copies: a page of
//! 10,000 takes one reference each, and a [`Memo`](crate::Memo) a caller keeps with an
//! item (the registry keeps the item's encodings) is there for every later list that sees
//! the same version of that key. A write replaces the item, so a memo never outlives its
//! version; memos cost at most [`MEMO_SLOTS`](crate::MEMO_SLOTS) values per key held, freed
//! with the item.
//!
//! # Watches
//!
//! A watch from revision `r` replays the buffered events after `r` and then follows the live
//! fan-out. "From now" (`after == 0`) means after the backend's current revision. A watch from
//! below the oldest buffered revision (or below a compaction made through the cache) yields
//! [`StorageError::Compacted`] (410, upstream's "too old resource version").
//!
//! Each watcher has a bounded queue ([`CacheOptions::watcher_queue_capacity`]). The fan-out
//! never waits: a watcher whose queue is full is detached, and when it reads again it catches up
//! from the event buffer and re-attaches. If the events it needs have left the buffer by then it
//! is terminated with `Err(Compacted)`: its client gets 410 `Expired` and re-lists, as upstream's
//! clients do after the cacher drops an unresponsive watcher. A slow watcher therefore never
//! stalls ingestion or other watchers, and is never silently short of an event.
//!
//! # Progress
//!
//! The cache watches the whole backend, so for a watcher attached to its live fan-out it knows
//! that every event up to the cache's revision has been queued to it. Every
//! [`CacheOptions::progress_interval`] a background task queues a progress marker
//! ([`Event::progress`] at the cache's revision) to each attached watcher whose last event or
//! marker is below that revision: a watch of a quiet prefix learns, within one interval, that
//! the store has moved on, and the registry's bookmarks advance with it. A round costs one pass
//! over the attached watchers and at most one allocation, shared by all (nothing is added to
//! the per-event fan-out); a watcher whose queue is full is skipped. A watcher catching up from
//! the buffer gets none until it attaches again. Progress markers from the backend's watch move
//! the cache's revision like any event.
//!
//! If the backend watch fails the cache watches again from its revision. If the backend has
//! compacted past it, the cache re-lists and terminates, with `Err(Compacted)`, the watchers
//! whose events in between are lost; the others carry on.
//!
//! # Consistency
//!
//! A background task (every [`CacheOptions::consistency_check_interval`]) and
//! [`CachedStorage::check_consistency`] compare a digest of the cache with a digest of the
//! backend listed at exactly the cache's revision. A mismatch is logged with `tracing::error!`
//! and counted in [`CacheMetrics::consistency_mismatches`].
//!
//! The background tasks hold only weak references: dropping the cache stops them.
//!
//! ```
//! use std::sync::Arc;
//! use piazza_storage::cache::{CacheOptions, CachedStorage};
//! use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
//! use piazza_storage::{ReadRevision, Storage};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), piazza_storage::StorageError> {
//! let dir = tempfile::tempdir().unwrap();
//! let backend = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
//! let cache = CachedStorage::start(backend, CacheOptions::default()).await?;
//! let created = cache.create("/registry/pizzas/ns/margherita", "{}".into()).await?;
//! // A consistent read waits until the cache has seen the write, then answers from memory.
//! let got = cache.get(&created.key, ReadRevision::Latest).await?;
//! assert_eq!(got, created);
//! assert!(cache.check_consistency().await?);
//! # Ok(())
//! # }
//! ```

mod consistency;
mod metrics;
mod page;
mod progress;
mod reflector;
mod routing;
mod state;
mod watcher;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

use self::metrics::inc;
pub use self::metrics::{CacheMetrics, CacheMetricsSnapshot};
use self::state::State;
use crate::Storage;
use crate::error::StorageError;
use crate::shared::{SharedItem, SharedList};
use crate::types::{Event, KeyValue, ListOptions, ListResult, ReadRevision, Revision, WatchStream};

/// Settings of a [`CachedStorage`].
#[derive(Clone, Debug)]
pub struct CacheOptions {
    /// The keys the cache holds: every key that starts with this. Empty (the default) or ending
    /// in `/`. Reads and watches of keys outside it go to the backend.
    ///
    /// Whatever the prefix, the cache watches every key of the backend, so that it sees every
    /// revision and can tell when it has caught up with the backend's current one (writes
    /// elsewhere, such as etcd's shared `compact_rev_key`, move the backend's revision too).
    /// Events outside the prefix only move the cache's revision.
    pub prefix: String,
    /// How many recent events the cache buffers for watches to start from or catch up with
    /// (default 10 000).
    pub event_capacity: usize,
    /// How many events a watcher may have queued before it is detached and left to catch up
    /// from the buffer (default 256).
    pub watcher_queue_capacity: usize,
    /// How long a read waits for the cache to reach the revision it needs (default 3 s, as
    /// upstream).
    pub freshness_timeout: Duration,
    /// How often the background self-check runs (default every 5 minutes, as upstream; `None`
    /// turns it off).
    pub consistency_check_interval: Option<Duration>,
    /// How long to wait before trying the backend again after a failed list or watch (default
    /// 250 ms).
    pub retry_backoff: Duration,
    /// How often watchers of a quiet prefix are sent a progress marker (default every second;
    /// `None` turns progress markers off). See [Progress](self#progress).
    pub progress_interval: Option<Duration>,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            prefix: String::new(),
            event_capacity: 10_000,
            watcher_queue_capacity: 256,
            freshness_timeout: Duration::from_secs(3),
            consistency_check_interval: Some(Duration::from_secs(5 * 60)),
            retry_backoff: Duration::from_millis(250),
            progress_interval: Some(Duration::from_secs(1)),
        }
    }
}

/// A watch cache in front of a backend. See the [module docs](self).
pub struct CachedStorage {
    backend: Arc<dyn Storage>,
    options: CacheOptions,
    state: RwLock<State>,
    /// The cache's revision, for readers waiting for it to move.
    revision: watch::Sender<Revision>,
    /// False while the cache re-lists the backend: everything goes to the backend meanwhile.
    ready: AtomicBool,
    metrics: CacheMetrics,
    /// Itself, for watch streams (which must not keep the cache alive).
    me: Weak<CachedStorage>,
    /// Dropped with the cache, which ends the background tasks.
    _shutdown: watch::Sender<()>,
}

impl std::fmt::Debug for CachedStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStorage")
            .field("revision", &self.revision())
            .field("ready", &self.is_ready())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

// === impl CachedStorage ===

impl CachedStorage {
    /// Lists `backend` under `options.prefix` and starts caching it.
    ///
    /// Returns once the initial list is in memory; the cache is then ready. Must be called
    /// inside a tokio runtime: the watch of the backend and the self-check run as tasks on it.
    pub async fn start(
        backend: Arc<dyn Storage>,
        options: CacheOptions,
    ) -> Result<Arc<CachedStorage>, StorageError> {
        if !(options.prefix.is_empty() || options.prefix.ends_with('/')) {
            return Err(StorageError::internal(
                "starting the watch cache",
                format!("the prefix {:?} must be empty or end in '/'", options.prefix),
            ));
        }
        let list = backend.list(&options.prefix, ListOptions::default()).await?;
        let state =
            State::new(options.prefix.clone(), list, options.event_capacity, options.watcher_queue_capacity);
        let (shutdown, _) = watch::channel(());
        let cache = Arc::new_cyclic(|me| CachedStorage {
            revision: watch::Sender::new(state.revision),
            state: RwLock::new(state),
            backend: Arc::clone(&backend),
            options: options.clone(),
            ready: AtomicBool::new(true),
            metrics: CacheMetrics::default(),
            me: me.clone(),
            _shutdown: shutdown,
        });
        let weak = Arc::downgrade(&cache);
        tokio::spawn(reflector::run(
            weak.clone(),
            Arc::clone(&backend),
            cache._shutdown.subscribe(),
            options.retry_backoff,
        ));
        if let Some(interval) = options.progress_interval {
            tokio::spawn(progress::run(weak.clone(), cache._shutdown.subscribe(), interval));
        }
        if let Some(interval) = options.consistency_check_interval {
            tokio::spawn(consistency::run(weak, backend, cache._shutdown.subscribe(), interval));
        }
        Ok(cache)
    }

    /// The options the cache was started with.
    pub fn options(&self) -> &CacheOptions {
        &self.options
    }

    /// The cache's counters.
    pub fn metrics(&self) -> &CacheMetrics {
        &self.metrics
    }

    /// The revision the cache has caught up to (it may trail the backend's).
    pub fn revision(&self) -> Revision {
        *self.revision.borrow()
    }

    /// Whether the cache serves reads (false while it re-lists the backend).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// How many watchers are attached to the live fan-out (lagging watchers that are catching
    /// up from the buffer are not counted).
    pub fn attached_watchers(&self) -> usize {
        self.state().attached_watchers()
    }

    fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn state_mut(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// One page of a list from memory, each item taken by `take`; `None` (counted as a
    /// backend read) when the page must come from the backend.
    async fn page_from_memory<T>(
        &self,
        prefix: &str,
        options: &ListOptions,
        take: impl Fn(&Arc<SharedItem>) -> T,
    ) -> Result<Option<page::Page<T>>, StorageError> {
        let route = self.route(prefix, options.revision).await?;
        let page =
            self.read_memory(route, |state| page::list(&state.items, prefix, options, state.revision, take));
        if page.is_none() {
            inc(&self.metrics.reads_from_backend);
        }
        Ok(page)
    }

    /// Applies one event (or progress marker) from the backend watch.
    fn apply(&self, event: Event) {
        let progress = event.is_progress();
        let revision = {
            let mut state = self.state_mut();
            if !state.apply(event, &self.metrics) {
                return;
            }
            state.revision
        };
        if !progress {
            inc(&self.metrics.events);
        }
        self.revision.send_replace(revision);
    }

    /// Marks the cache as re-listing: reads go to the backend until [`Self::relist`].
    fn begin_relist(&self) {
        self.ready.store(false, Ordering::Release);
        inc(&self.metrics.relists);
    }

    /// Replaces the cache's contents with a fresh list of the backend.
    fn relist(&self, list: ListResult) {
        let (terminated, revision) = {
            let mut state = self.state_mut();
            (state.relist(list), state.revision)
        };
        self.metrics.terminated_by_relist.fetch_add(terminated as u64, Ordering::Relaxed);
        self.revision.send_replace(revision);
        self.ready.store(true, Ordering::Release);
        tracing::info!(revision, terminated, "watch cache re-listed its backend");
    }
}

#[async_trait::async_trait]
impl Storage for CachedStorage {
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError> {
        self.backend.create(key, value).await
    }

    async fn get(&self, key: &str, revision: ReadRevision) -> Result<KeyValue, StorageError> {
        let route = self.route(key, revision).await?;
        let found = self.read_memory(route, |state| {
            let item = state.items.get(key).ok_or_else(|| StorageError::NotFound { key: key.to_owned() });
            item.map(|item| item.kv.clone())
        });
        match found {
            Some(result) => result,
            None => {
                inc(&self.metrics.reads_from_backend);
                self.backend.get(key, revision).await
            }
        }
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult, StorageError> {
        match self.page_from_memory(prefix, &options, |item| item.kv.clone()).await? {
            Some(p) => {
                Ok(ListResult { items: p.items, revision: p.revision, more: p.more, remaining: p.remaining })
            }
            None => self.backend.list(prefix, options).await,
        }
    }

    async fn list_shared(&self, prefix: &str, options: ListOptions) -> Result<SharedList, StorageError> {
        match self.page_from_memory(prefix, &options, Arc::clone).await? {
            Some(p) => {
                Ok(SharedList { items: p.items, revision: p.revision, more: p.more, remaining: p.remaining })
            }
            None => self.backend.list_shared(prefix, options).await,
        }
    }

    async fn update(
        &self,
        key: &str,
        expected_mod_revision: Revision,
        value: Bytes,
    ) -> Result<KeyValue, StorageError> {
        self.backend.update(key, expected_mod_revision, value).await
    }

    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<KeyValue, StorageError> {
        self.backend.delete(key, expected_mod_revision).await
    }

    async fn watch(&self, prefix: &str, after_revision: Revision) -> Result<WatchStream, StorageError> {
        let me = self.me.upgrade();
        let Some(me) = me.filter(|_| self.covers(prefix)) else {
            return self.backend.watch(prefix, after_revision).await;
        };
        let after = match after_revision {
            0 => self.backend.current_revision().await?,
            after => after,
        };
        // Older than the buffer but not compacted through the cache (e.g. a client resuming
        // after this process restarted): the backend's own history may still hold those
        // events, so serve the watch from the backend rather than send a 410.
        let from_backend = {
            let state = self.state();
            after < state.oldest_watchable() && after >= state.compacted()
        };
        if from_backend {
            inc(&self.metrics.watches_from_backend);
            return self.backend.watch(prefix, after).await;
        }
        Ok(watcher::stream(&me, prefix, after))
    }

    async fn current_revision(&self) -> Result<Revision, StorageError> {
        self.backend.current_revision().await
    }

    async fn compact(&self, revision: Revision) -> Result<(), StorageError> {
        self.backend.compact(revision).await?;
        self.state_mut().compact(revision);
        Ok(())
    }

    async fn check_health(&self) -> Result<(), StorageError> {
        self.backend.check_health().await?;
        if !self.is_ready() {
            return Err(StorageError::internal(
                "checking the watch cache",
                "the cache is re-listing its backend after falling behind",
            ));
        }
        Ok(())
    }
}
