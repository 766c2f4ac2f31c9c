//! The embedded backend: a crash-safe, single-process store on redb.
//!
//! - **Revisions.** A new store is at revision 1 with no keys (like etcd); its first write
//!   takes revision 2.
//! - **Durability.** Every write is committed in a redb transaction with
//!   [`redb::Durability::Immediate`] (fsynced) before the call returns, so `kill -9` loses no
//!   acknowledged write. Writes that arrive while a commit is in progress share the next
//!   transaction (group commit, see the `group` module): one fsync for many writes, each with
//!   its own revision, precondition and answer.
//! - **Ordering.** One committer at a time applies writes in arrival order and publishes their
//!   events after the commit, so revisions are committed and published to watchers in order.
//! - **Watch fan-out.** A tokio broadcast ring of events; slow watchers fall back to the on-disk
//!   history (see the `watch` module), so they never block anyone.
//! - **Progress.** Its watches never yield progress markers
//!   ([`EventType::Progress`](crate::EventType::Progress)): each watcher does see every commit
//!   go by, but reporting quiet stretches would take a timer per watcher, and the watch cache
//!   that normally sits in front (and watches everything) reports them for all its watchers at
//!   once.
//! - **Retention.** A background task compacts history older than
//!   [`EmbeddedOptions::history_window`] or beyond [`EmbeddedOptions::max_history_revisions`].
//!
//! The layout of the database is described in the `schema` module.

mod compaction;
mod group;
mod read;
mod schema;
mod watch;
mod write;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use redb::{Database, ReadableDatabase};
use tokio::sync::{Notify, broadcast};

use self::schema::{
    CHANGES, DB_FILE, DbResult, KV, META, META_CURRENT, META_SCHEMA, SCHEMA_VERSION, TIMES, meta_get,
};
use crate::Storage;
use crate::error::StorageError;
use crate::types::{Event, KeyValue, ListOptions, ListResult, ReadRevision, Revision, WatchStream};

/// Settings of an [`EmbeddedStore`].
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// Keep history at least this long (default 5 minutes, like kube-apiserver's compaction
    /// interval).
    pub history_window: Duration,
    /// Never keep more than this many revisions of history (default 100 000): a size cap that
    /// wins over the window.
    pub max_history_revisions: u64,
    /// How often the background task compacts (default 60 s).
    pub compaction_interval: Duration,
    /// How many events the live broadcast ring holds (default 1024). A watcher further behind
    /// than this catches up from disk.
    pub watch_channel_capacity: usize,
    /// Memory for the database's page cache (default [`DEFAULT_CACHE_BYTES`]). redb's own
    /// default is 1 GiB, which under steady churn lets the cache grow with the file; reads
    /// that miss go to the operating system's page cache, and most reads are answered by the
    /// watch cache in front of this store anyway.
    pub cache_bytes: usize,
}

/// The default [`EmbeddedOptions::cache_bytes`]: 32 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 32 * 1024 * 1024;

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            history_window: Duration::from_secs(5 * 60),
            max_history_revisions: 100_000,
            compaction_interval: Duration::from_secs(60),
            watch_channel_capacity: 1024,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// The embedded storage backend. See the [module docs](self).
pub struct EmbeddedStore {
    db: Arc<Database>,
    /// The latest committed revision (updated after commit, before publish).
    current: Arc<AtomicU64>,
    /// Applies writes in order, batching those that arrive during a commit.
    writer: Arc<group::GroupCommit>,
    /// The live feed. Watch streams hold receivers only, so dropping the store ends them.
    events: broadcast::Sender<Arc<Event>>,
    options: EmbeddedOptions,
    /// Wakes the background compactor so it stops when the store is dropped.
    shutdown: Arc<Notify>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("current", &self.current.load(Ordering::Acquire))
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

// === impl EmbeddedStore ===

impl EmbeddedStore {
    /// Opens the store in directory `path`, creating the directory and the database as needed.
    ///
    /// When called inside a tokio runtime, this also starts the background compactor (it holds a
    /// weak reference and stops when the store is dropped). Outside a runtime there is no
    /// background compaction; [`EmbeddedStore::compact_now`] still works.
    pub fn open(path: &Path, options: EmbeddedOptions) -> Result<Arc<EmbeddedStore>, StorageError> {
        std::fs::create_dir_all(path)
            .map_err(|e| StorageError::internal(format!("creating {}", path.display()), e))?;
        let db = redb::Builder::new()
            .set_cache_size(options.cache_bytes)
            .create(path.join(DB_FILE))
            .ctx("opening the database")?;
        let current = init_schema(&db)?;
        let (events, _) = broadcast::channel(options.watch_channel_capacity.max(1));
        let (db, current) = (Arc::new(db), Arc::new(AtomicU64::new(current)));
        let writer = group::GroupCommit::new(Arc::clone(&db), Arc::clone(&current), events.clone());
        let store = Arc::new(EmbeddedStore {
            db,
            current,
            writer: Arc::new(writer),
            events,
            options,
            shutdown: Arc::new(Notify::new()),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(compactor(Arc::downgrade(&store), store.shutdown.clone()));
        } else {
            tracing::warn!("EmbeddedStore opened outside a tokio runtime: no background compaction");
        }
        Ok(store)
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &EmbeddedOptions {
        &self.options
    }

    /// Runs the retention policy once: compacts history older than the window or beyond the
    /// revision cap. Returns the compacted revision afterwards.
    pub async fn compact_now(&self) -> Result<Revision, StorageError> {
        let db = Arc::clone(&self.db);
        let (window, cap) = (self.options.history_window, self.options.max_history_revisions);
        blocking(move || {
            let target = compaction::policy_target(&db, window, cap)?;
            compaction::compact(&db, target)?;
            Ok(read::bounds(&read::begin(&db)?)?.compacted)
        })
        .await
    }

    /// The compacted revision: history at or below it is gone.
    pub async fn compacted_revision(&self) -> Result<Revision, StorageError> {
        let db = Arc::clone(&self.db);
        blocking(move || Ok(read::bounds(&read::begin(&db)?)?.compacted)).await
    }

    /// How many write transactions (each one fsync) have been committed since the store was
    /// opened; below the number of writes when group commit batched some.
    pub fn write_commits(&self) -> u64 {
        self.writer.batches()
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.shutdown.notify_one();
    }
}

#[async_trait::async_trait]
impl Storage for EmbeddedStore {
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError> {
        self.writer.submit(write::Op::Create { key: key.to_owned(), value }).await
    }

    async fn get(&self, key: &str, revision: ReadRevision) -> Result<KeyValue, StorageError> {
        let (db, key) = (Arc::clone(&self.db), key.to_owned());
        blocking(move || read::get(&db, &key, revision)).await
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult, StorageError> {
        let (db, prefix) = (Arc::clone(&self.db), prefix.to_owned());
        blocking(move || read::list(&db, &prefix, &options)).await
    }

    async fn update(
        &self,
        key: &str,
        expected_mod_revision: Revision,
        value: Bytes,
    ) -> Result<KeyValue, StorageError> {
        let op = write::Op::Update { key: key.to_owned(), expected: expected_mod_revision, value };
        self.writer.submit(op).await
    }

    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<KeyValue, StorageError> {
        self.writer.submit(write::Op::Delete { key: key.to_owned(), expected: expected_mod_revision }).await
    }

    async fn watch(&self, prefix: &str, after_revision: Revision) -> Result<WatchStream, StorageError> {
        // Subscribe before reading the revision: every later commit reaches the receiver.
        let live = self.events.subscribe();
        let current = self.current.load(Ordering::Acquire);
        Ok(watch::stream(Arc::clone(&self.db), live, prefix, after_revision, current))
    }

    async fn current_revision(&self) -> Result<Revision, StorageError> {
        Ok(self.current.load(Ordering::Acquire))
    }

    async fn compact(&self, revision: Revision) -> Result<(), StorageError> {
        let db = Arc::clone(&self.db);
        blocking(move || compaction::compact(&db, revision)).await
    }

    async fn check_health(&self) -> Result<(), StorageError> {
        let db = Arc::clone(&self.db);
        blocking(move || read::bounds(&read::begin(&db)?).map(|_| ())).await
    }
}

/// Creates the tables on first open and checks the layout version; returns the current revision.
fn init_schema(db: &Database) -> Result<Revision, StorageError> {
    let txn = write::begin(db)?;
    {
        let mut meta = txn.open_table(META).ctx("creating meta")?;
        match meta_get(&meta, META_SCHEMA)? {
            0 => {
                meta.insert(META_SCHEMA, SCHEMA_VERSION).ctx("writing meta")?;
                // Like etcd, an empty store is at revision 1, so 0 never names a state.
                meta.insert(META_CURRENT, 1).ctx("writing meta")?;
            }
            SCHEMA_VERSION => {}
            other => {
                return Err(StorageError::internal(
                    "opening the database",
                    format!("unsupported schema version {other} (this build reads {SCHEMA_VERSION})"),
                ));
            }
        }
        txn.open_table(KV).ctx("creating kv")?;
        txn.open_table(CHANGES).ctx("creating changes")?;
        txn.open_table(TIMES).ctx("creating times")?;
    }
    write::commit(txn)?;
    let txn = db.begin_read().ctx("starting a read transaction")?;
    meta_get(&txn.open_table(META).ctx("opening meta")?, META_CURRENT)
}

/// Runs blocking redb work on the blocking pool.
async fn blocking<T, F>(f: F) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StorageError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| StorageError::internal("storage task failed", e))?
}

/// The background compactor: every interval, applies the retention policy while the store lives.
async fn compactor(store: Weak<EmbeddedStore>, shutdown: Arc<Notify>) {
    loop {
        let interval = match store.upgrade() {
            Some(store) => store.options.compaction_interval,
            None => return,
        };
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = shutdown.notified() => return,
        }
        let Some(store) = store.upgrade() else { return };
        if let Err(error) = store.compact_now().await {
            tracing::warn!(%error, "background compaction failed");
        }
    }
}
