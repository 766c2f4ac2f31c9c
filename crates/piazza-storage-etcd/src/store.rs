//! [`EtcdStore`]: the [`Storage`] trait on etcd. Glue only: the logic lives in the `read`,
//! `write`, `watch` and `compaction` modules.

use std::sync::Arc;

use bytes::Bytes;
use piazza_storage::{
    KeyValue, ListOptions, ListResult, ReadRevision, Revision, Storage, StorageError, WatchStream,
};
use tokio::sync::watch as signal;

use crate::client::Conn;
use crate::error::EtcdError;
use crate::options::EtcdOptions;
use crate::revision_reads::RevisionReads;
use crate::transport::connect_client;
use crate::{compaction, read, watch, write};

/// The etcd v3 storage backend. See the [crate docs](crate).
///
/// Cheap to share behind its `Arc`. Dropping the last reference stops the background
/// compactor and ends every watch stream.
pub struct EtcdStore {
    conn: Conn,
    /// Current-revision reads, shared by the callers that ask at the same time.
    revisions: RevisionReads<Conn>,
    options: EtcdOptions,
    /// Whether watches ask etcd for progress notifications ([`EtcdOptions::progress_notify`],
    /// resolved at connect time).
    progress_notify: bool,
    /// Dropped with the store: background tasks watch it to know when to stop.
    _shutdown: signal::Sender<()>,
    /// What background tasks subscribe to.
    stopped: signal::Receiver<()>,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("options", &self.options)
            .field("progress_notify", &self.progress_notify)
            .finish_non_exhaustive()
    }
}

// === impl EtcdStore ===

impl EtcdStore {
    /// Connects to etcd and checks that it answers (a linearizable read, so a cluster without
    /// a leader is refused too). Starts the background compactor unless
    /// [`EtcdOptions::compaction_interval`] is zero. Resolves
    /// [`EtcdOptions::progress_notify`] (for `Auto`, from the version etcd's maintenance Status
    /// call reports).
    ///
    /// Fails with [`StorageError::Internal`] naming the problem: no endpoints, a TLS file that
    /// cannot be read, or an etcd that does not answer within the request timeout.
    pub async fn connect(options: EtcdOptions) -> Result<Arc<EtcdStore>, StorageError> {
        let connect_options = options.connect_options()?;
        let context = || format!("connecting to etcd at {:?}", options.endpoints);
        let connecting = connect_client(&options.endpoints, options.request_timeout, connect_options);
        let client = match tokio::time::timeout(options.request_timeout, connecting).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(StorageError::internal(context(), e)),
            Err(_) => return Err(EtcdError::Timeout(options.request_timeout).into_storage(context())),
        };
        let conn = Conn::new(&client, options.request_timeout, options.prefix.clone());
        // A linearizable read: etcd answers, and has a leader.
        conn.probe(0).await.map_err(|e| e.into_storage(context()))?;
        let progress_notify = options.progress_notify.resolve(&client, options.request_timeout).await;

        let (shutdown, stopped) = signal::channel(());
        if !options.compaction_interval.is_zero() {
            tokio::spawn(compaction::run(conn.clone(), options.compaction_interval, stopped.clone()));
        }
        let revisions = RevisionReads::new(conn.clone());
        Ok(Arc::new(EtcdStore { conn, revisions, options, progress_notify, _shutdown: shutdown, stopped }))
    }

    /// The options the store was connected with.
    pub fn options(&self) -> &EtcdOptions {
        &self.options
    }

    /// Whether its watches ask etcd for progress notifications: [`EtcdOptions::progress_notify`]
    /// as resolved when connecting.
    pub fn progress_notify(&self) -> bool {
        self.progress_notify
    }
}

#[async_trait::async_trait]
impl Storage for EtcdStore {
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError> {
        write::create(&self.conn, key, value).await
    }

    async fn get(&self, key: &str, revision: ReadRevision) -> Result<KeyValue, StorageError> {
        read::get(&self.conn, key, revision).await
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult, StorageError> {
        read::list(&self.conn, prefix, &options).await
    }

    async fn update(
        &self,
        key: &str,
        expected_mod_revision: Revision,
        value: Bytes,
    ) -> Result<KeyValue, StorageError> {
        write::update(&self.conn, key, expected_mod_revision, value).await
    }

    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<KeyValue, StorageError> {
        write::delete(&self.conn, key, expected_mod_revision).await
    }

    async fn watch(&self, prefix: &str, after_revision: Revision) -> Result<WatchStream, StorageError> {
        // "From now" is from the current revision, read so that a re-watch has a place to
        // resume from.
        let (seen, verify) = match after_revision {
            0 => (self.revisions.current().await?, false),
            after => (after, true),
        };
        let settings =
            watch::Settings { buffer: self.options.watch_buffer, progress_notify: self.progress_notify };
        Ok(watch::stream(self.conn.clone(), prefix, seen, verify, settings, self.stopped.clone()))
    }

    /// A linearizable read of etcd's revision, shared with the callers that ask at the same
    /// time (see `revision_reads`).
    async fn current_revision(&self) -> Result<Revision, StorageError> {
        self.revisions.current().await
    }

    async fn compact(&self, revision: Revision) -> Result<(), StorageError> {
        compaction::compact(&self.conn, revision).await
    }

    async fn check_health(&self) -> Result<(), StorageError> {
        let timeout = self.options.health_timeout;
        match tokio::time::timeout(timeout, self.conn.current_revision()).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(StorageError::internal(
                "checking etcd's health",
                format!("etcd did not answer within {timeout:?}"),
            )),
        }
    }
}
