//! Piazza's storage layer.
//!
//! One trait, [`Storage`], with the MVCC semantics of etcd and of k8s.io/apiserver's
//! `storage.Interface`: a global, strictly increasing [`Revision`]; reads at the latest, at a
//! minimum, or at an exact revision; compare-and-swap writes; paginated snapshot lists; ordered,
//! gap-free, resumable watches; and compaction of old history.
//!
//! Backends:
//! - [`embedded::EmbeddedStore`]: the default. A single-process, crash-safe store on
//!   [redb](https://docs.rs/redb) in a directory, with zero setup.
//!
//! Every backend runs the same conformance suite, `storage_conformance_tests!` (feature
//! `testing`).
//!
//! ```
//! use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
//! use piazza_storage::{ReadRevision, Storage};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), piazza_storage::StorageError> {
//! let dir = tempfile::tempdir().unwrap();
//! let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
//! let created = store.create("/registry/pizzas/ns/margherita", "{}".into()).await?;
//! let updated = store.update(&created.key, created.mod_revision, "{ }".into()).await?;
//! assert!(updated.mod_revision > created.mod_revision);
//! let old = store.get(&created.key, ReadRevision::Exact(created.mod_revision)).await?;
//! assert_eq!(old, created);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! | Feature   | What it adds |
//! |-----------|--------------|
//! | `testing` | `piazza_storage::testing`: the backend conformance suite and `storage_conformance_tests!`. |
//!
//! # Keys and prefixes
//!
//! Keys are `/`-separated strings such as `/registry/pods/ns1/foo`. [`Storage::list`] takes a
//! prefix that ends in `/`; [`Storage::watch`] takes either such a prefix or an exact key, and
//! never crosses a segment boundary (see [`in_watch_scope`]).

pub mod cache;
mod continue_token;
pub mod embedded;
mod error;
mod scope;
mod shared;
#[cfg(feature = "testing")]
pub mod testing;
mod types;

pub use continue_token::{decode_continue, encode_continue, encode_continue_at_latest};
pub use error::StorageError;
pub use scope::in_watch_scope;
pub use shared::{MEMO_SLOTS, Memo, SharedItem, SharedList};
pub use types::{
    Event, EventType, KeyValue, ListOptions, ListResult, Predicate, ReadRevision, Revision, WatchStream,
};

use bytes::Bytes;

/// A key-value store with etcd-like MVCC semantics.
///
/// Revisions are global and strictly increasing across all keys: every create, update and delete
/// takes the next one. A store that has never been written to is at revision 1 (as etcd is), so
/// revision 0 never names a state: a list of an empty store returns a revision that a watch can
/// resume from, while `watch(_, 0)` unambiguously means "from now".
#[async_trait::async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Creates `key`. [`StorageError::AlreadyExists`] if the key exists.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError>;

    /// Reads `key` at `revision`. [`StorageError::NotFound`] if it does not exist there.
    async fn get(&self, key: &str, revision: ReadRevision) -> Result<KeyValue, StorageError>;

    /// Lists keys starting with `prefix` (callers always pass a prefix ending in `/`, so `ns1/`
    /// never matches `ns10/...`).
    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult, StorageError>;

    /// The same page as [`list`](Self::list), with its items shared instead of copied.
    ///
    /// A store that keeps its items in memory (the [watch cache](cache)) hands out the items
    /// it holds, so a [`Memo`] kept with one is still there for the next list that sees the
    /// same version of that key. The default makes fresh items from [`list`](Self::list):
    /// correct, but their memos are never seen again.
    async fn list_shared(&self, prefix: &str, options: ListOptions) -> Result<SharedList, StorageError> {
        self.list(prefix, options).await.map(SharedList::from)
    }

    /// Compare-and-swap on the mod revision.
    ///
    /// [`StorageError::Conflict`] if the current mod revision is not `expected_mod_revision`,
    /// [`StorageError::NotFound`] if the key is absent. If `value` is byte-identical to the stored
    /// value nothing is written and the existing [`KeyValue`] is returned (the revision is not
    /// bumped).
    async fn update(
        &self,
        key: &str,
        expected_mod_revision: Revision,
        value: Bytes,
    ) -> Result<KeyValue, StorageError>;

    /// Deletes `key`, if given only when its mod revision matches ([`StorageError::Conflict`]
    /// otherwise). Returns the deleted [`KeyValue`] with `mod_revision` set to the revision of
    /// the delete.
    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<KeyValue, StorageError>;

    /// Watches the keys in scope of `prefix` (a prefix ending in `/` or an exact key, see
    /// [`in_watch_scope`]) for events with a revision greater than `after_revision`.
    ///
    /// Events come in revision order with no gaps and no duplicates: history first, then live.
    /// `after_revision == 0` means "from now" (only new events). If `after_revision` is below the
    /// compacted revision the stream yields `Err(Compacted)` and ends. A slow consumer never
    /// blocks writers or other watchers and never silently loses events: when it falls behind it
    /// catches up from history, or gets `Err(Compacted)` if that history is gone.
    ///
    /// # Progress
    ///
    /// A stream may also yield progress markers ([`Event::progress`], of type
    /// [`EventType::Progress`]): `Progress(R)` means every event of this watch with a revision
    /// at or below `R` has already been delivered. It lets a consumer whose scope is quiet learn
    /// that the store has moved on (the registry turns it into the revision of its next
    /// BOOKMARK). The rules:
    ///
    /// - Backends **may** emit it, at any time and as rarely as they like; a backend that never
    ///   does is conforming. Consumers **must** accept it anywhere in the stream, and may ignore
    ///   it.
    /// - `R` is greater than `after_revision` and than the revision of everything the stream
    ///   yielded before it (events and earlier markers): progress never goes backwards, and
    ///   every event after `Progress(R)` has a revision above `R`.
    /// - `R` never exceeds what is really delivered: it is at most the store's current
    ///   revision, and a watch resumed from `R` misses nothing.
    ///
    /// The backends: the [watch cache](cache) emits it to a watcher whose scope has been quiet
    /// while the cache's revision moved (at most once per
    /// [`CacheOptions::progress_interval`](cache::CacheOptions::progress_interval)); the
    /// [embedded store](embedded) never does (every watcher sees every revision go by, but
    /// reporting it is left to the watch cache in front); the etcd backend forwards etcd's
    /// progress notifications only where the etcd version makes them trustworthy.
    async fn watch(&self, prefix: &str, after_revision: Revision) -> Result<WatchStream, StorageError>;

    /// The current (latest committed) revision. Cheap.
    async fn current_revision(&self) -> Result<Revision, StorageError>;

    /// Drops history at or below `revision`, keeping the latest version of every live key. Reads
    /// below `revision` then fail with [`StorageError::Compacted`]. Compacting to a revision at or
    /// below the compacted one does nothing; a revision above the current one is
    /// [`StorageError::TooLargeResourceVersion`].
    async fn compact(&self, revision: Revision) -> Result<(), StorageError>;

    /// Readiness check for `/readyz`.
    async fn check_health(&self) -> Result<(), StorageError>;
}
