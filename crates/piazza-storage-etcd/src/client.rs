//! The connection: etcd-client's KV and watch clients, with a deadline on every unary call and
//! errors sorted into [`EtcdError`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, CompactionOptions, GetOptions, GetResponse, KvClient, Txn, TxnResponse, WatchClient,
    WatchOptions, WatchStream,
};
use piazza_storage::{Revision, StorageError};

use crate::error::EtcdError;
use crate::keys::{from_etcd, to_etcd};
use crate::revision_reads::{CURRENT_REVISION, ProbeError, RevisionProbe};

/// The largest response accepted, as kube-apiserver's `MaxCallRecvMsgSize` (`math.MaxInt32`).
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;

/// A cheap handle on one etcd client; clones share the connection.
#[derive(Clone)]
pub(crate) struct Conn {
    kv: KvClient,
    watch: WatchClient,
    /// The deadline of every unary call.
    timeout: Duration,
    /// The key the revision and health probes read (the `--etcd-prefix`).
    probe_key: String,
}

// === impl Conn ===

impl Conn {
    /// Wraps a connected client.
    pub(crate) fn new(client: &Client, timeout: Duration, probe_key: String) -> Self {
        Conn {
            kv: client.kv_client().max_decoding_message_size(MAX_RESPONSE_BYTES),
            watch: client.watch_client().max_decoding_message_size(MAX_RESPONSE_BYTES),
            timeout,
            probe_key,
        }
    }

    /// The deadline of every unary call.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A range request (linearizable unless the options say otherwise).
    pub(crate) async fn range(
        &self,
        key: impl Into<Vec<u8>>,
        options: GetOptions,
    ) -> Result<GetResponse, EtcdError> {
        let mut kv = self.kv.clone();
        let key = key.into();
        deadline(self.timeout, async move { kv.get(key, Some(options)).await }).await
    }

    /// A transaction.
    pub(crate) async fn txn(&self, txn: Txn) -> Result<TxnResponse, EtcdError> {
        let mut kv = self.kv.clone();
        deadline(self.timeout, async move { kv.txn(txn).await }).await
    }

    /// A physical compaction to `revision`: it returns once etcd has dropped the history.
    pub(crate) async fn compact(&self, revision: Revision) -> Result<(), EtcdError> {
        let mut kv = self.kv.clone();
        let options = CompactionOptions::new().with_physical();
        deadline(self.timeout, async move { kv.compact(to_etcd(revision), Some(options)).await }).await?;
        Ok(())
    }

    /// Opens a watch stream (the deadline covers opening it, not its life).
    pub(crate) async fn watch(&self, key: Vec<u8>, options: WatchOptions) -> Result<WatchStream, EtcdError> {
        let mut watch = self.watch.clone();
        deadline(self.timeout, async move { watch.watch(key, Some(options)).await }).await
    }

    /// A count-only range of the probe key, at `revision` (0: the latest, linearizable):
    /// the cheapest request that reports the store's revision, and fails like any read at
    /// `revision` would (compacted, future).
    pub(crate) async fn probe(&self, revision: i64) -> Result<Revision, EtcdError> {
        let options = GetOptions::new().with_count_only().with_revision(revision);
        let response = self.range(self.probe_key.clone(), options).await?;
        Ok(header_revision(response.header()).unwrap_or(0))
    }

    /// The current revision, by a linearizable count-only range (never by progress notify,
    /// which Debian's etcd 3.4.23 cannot be trusted with).
    /// Unshared: the store's reads go through [`RevisionReads`](crate::revision_reads::RevisionReads).
    pub(crate) async fn current_revision(&self) -> Result<Revision, StorageError> {
        self.read_current().await.map_err(|e| StorageError::internal(CURRENT_REVISION, e))
    }
}

impl RevisionProbe for Conn {
    async fn read_current(&self) -> Result<Revision, ProbeError> {
        match self.probe(0).await {
            Ok(0) => Err(ProbeError::from(Box::<dyn std::error::Error + Send + Sync>::from(
                "etcd sent no response header",
            ))),
            Ok(revision) => Ok(revision),
            Err(e) => Err(Arc::new(e) as ProbeError),
        }
    }
}

/// The revision in a response header.
pub(crate) fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Option<Revision> {
    header.map(|h| from_etcd(h.revision())).filter(|&r| r > 0)
}

/// Runs one etcd call with a deadline.
async fn deadline<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, EtcdError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(EtcdError::classify),
        Err(_) => Err(EtcdError::Timeout(timeout)),
    }
}
