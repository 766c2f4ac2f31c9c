//! Piazza's etcd v3 storage backend.
//!
//! [`EtcdStore`] implements [`piazza_storage::Storage`] on a real etcd cluster (tested against
//! Debian's `etcd-server` 3.4.23), with the same key layout as Kubernetes and the same
//! semantics as the embedded backend: it passes the same conformance suite. Several Piazza
//! replicas on one etcd see each other's writes in order through their watches, which is how
//! Piazza scales past one machine.
//!
//! ```no_run
//! use piazza_storage::{ReadRevision, Storage};
//! use piazza_storage_etcd::{EtcdOptions, EtcdStore};
//!
//! # async fn demo() -> Result<(), piazza_storage::StorageError> {
//! let store = EtcdStore::connect(EtcdOptions::with_endpoints(["http://127.0.0.1:2379"])).await?;
//! let created = store.create("/registry/pizzas/ns/margherita", "{}".into()).await?;
//! let read = store.get(&created.key, ReadRevision::Latest).await?;
//! assert_eq!(read.mod_revision, created.mod_revision);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! | Feature   | What it adds |
//! |-----------|--------------|
//! | `testing` | `testing::EtcdServer`: a throw-away etcd process on 127.0.0.1 for tests. |
//!
//! # Mapping onto etcd
//!
//! - **Keys** are used as given: callers pass full keys such as
//!   `/registry/<group>/<resource>/<namespace>/<name>`, which the registry builds with the
//!   `--etcd-prefix`. [`EtcdOptions::prefix`] is not prepended; it only names the key the
//!   revision and health probes read.
//! - **Revisions** are etcd's: a key's `mod_revision` is its resourceVersion.
//! - **Writes** are single transactions: create is `if create_revision == 0 then put`; update
//!   compares the mod revision and, in a nested transaction, the value (an identical value
//!   writes nothing); delete compares the mod revision if given and returns the previous value
//!   with the deletion revision.
//! - **Reads** at `Latest` are linearizable ranges; `NotOlderThan(r)` is the same read checked
//!   against `r`; `Exact(r)` is a range at revision `r`. Lists read in batches at one revision,
//!   with etcd's `count` giving the exact `remaining`.
//! - **Watches** are etcd watches with `prev_kv`, drained into a bounded buffer per consumer;
//!   a consumer that falls behind is caught up by re-watching from its last delivered
//!   revision, and broken streams are re-established the same way.
//! - **Progress notifications** are requested only where they are trustworthy
//!   ([`EtcdOptions::progress_notify`], [`ProgressNotify`]: by default, etcd 3.4.31+ / 3.5.13+
//!   / 3.6+, not Debian's 3.4.23), and only become progress markers for the watch's consumer
//!   (so bookmarks advance on a quiet prefix). They never move the revision a watch resumes
//!   from.
//! - **The current revision** comes from a cheap linearizable count-only range, never from
//!   watch progress notifications.
//! - **Compaction** is etcd's physical compaction, on demand and every
//!   [`EtcdOptions::compaction_interval`], coordinated between replicas like kube-apiserver's.

mod bounds;
mod client;
mod compaction;
mod error;
mod keys;
mod options;
mod progress;
mod read;
mod revision_reads;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod transport;
mod watch;
mod write;

pub use options::EtcdOptions;
pub use progress::ProgressNotify;
pub use store::EtcdStore;
pub use transport::connect_client;
