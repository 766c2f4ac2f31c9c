//! The etcd limits: raw put-if-absent transactions (`create_revision == 0` → put), the write a
//! Kubernetes CREATE makes, and count-only ranges, the read a consistent GET's revision probe
//! makes; through etcd-client at the same concurrency and over the same transport as the etcd
//! store ([`piazza_storage_etcd::connect_client`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, KvClient, Txn, TxnOp, WatchOptions,
};

use crate::client::RequestError;
use crate::error::BenchError;
use crate::report::Sample;
use crate::runner::Workload;

/// Put-if-absent of `<prefix><seq>`.
pub struct EtcdWorkload {
    client: Client,
    prefix: String,
    value: Bytes,
    /// The watcher draining the run's events, if the run has one; stopped with the workload.
    watcher: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for EtcdWorkload {
    fn drop(&mut self) {
        if let Some(watcher) = &self.watcher {
            watcher.abort();
        }
    }
}

impl EtcdWorkload {
    /// Connects to `endpoints`; keys go under `/piazza-bench/<run>/`. With `watched`, one
    /// watch on that prefix (with previous values, as an API server's watch cache opens it)
    /// receives every event of the run: etcd's cost of serving an API server's watch.
    pub async fn connect(
        endpoints: &[String],
        run: &str,
        value: Bytes,
        watched: bool,
    ) -> Result<EtcdWorkload, BenchError> {
        let client = connect(endpoints).await?;
        let prefix = format!("/piazza-bench/{run}/");
        let watcher = match watched {
            true => Some(start_watcher(&client, &prefix).await?),
            false => None,
        };
        Ok(EtcdWorkload { client, prefix, value, watcher })
    }

    /// Deletes the keys the run wrote.
    pub async fn clean_up(&self) -> Result<(), BenchError> {
        self.client
            .kv_client()
            .delete(self.prefix.as_str(), Some(DeleteOptions::new().with_prefix()))
            .await
            .map(drop)
            .map_err(|e| BenchError::Storage(format!("cleaning up {}: {e}", self.prefix)))
    }
}

impl Workload for EtcdWorkload {
    type Worker = KvClient;

    async fn worker(&self, _index: usize) -> KvClient {
        self.client.kv_client()
    }

    async fn call(&self, kv: &mut KvClient, seq: u64) -> Result<Sample, RequestError> {
        let created = self.put_if_absent(kv, seq, &self.value).await?;
        Ok(Sample::new("txn", if created { 201 } else { 409 }, 0))
    }
}

impl EtcdWorkload {
    /// One put-if-absent of `<prefix><seq>` = `value`: whether it created the key.
    pub async fn put_if_absent(
        &self,
        kv: &mut KvClient,
        seq: u64,
        value: &[u8],
    ) -> Result<bool, RequestError> {
        let key = format!("{}{seq}", self.prefix);
        let txn = Txn::new()
            .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.as_str(), value.to_vec(), None)]);
        let response = kv.txn(txn).await.map_err(|e| RequestError(format!("etcd: {e}")))?;
        Ok(response.succeeded())
    }

    /// A KV client on the workload's connection.
    pub fn kv_client(&self) -> KvClient {
        self.client.kv_client()
    }
}

/// The etcd side of the transport server's `--etcd-endpoints` mode: every request's body is
/// written with one put-if-absent under a fresh key while one watcher receives every write,
/// the least an API server backed by etcd does for a CREATE.
pub struct EtcdBehind {
    workload: EtcdWorkload,
    next: AtomicU64,
}

impl EtcdBehind {
    /// Connects to `endpoints` and opens the watcher; keys go under `/piazza-bench/<run>/`.
    pub async fn connect(endpoints: &[String], run: &str) -> Result<EtcdBehind, BenchError> {
        let workload = EtcdWorkload::connect(endpoints, run, Bytes::new(), true).await?;
        Ok(EtcdBehind { workload, next: AtomicU64::new(0) })
    }

    /// Writes `value` under the next key: 201 when created, 409 when the key existed (never:
    /// every key is new), 500 when etcd failed.
    pub async fn create(&self, value: &[u8]) -> http::StatusCode {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        match self.workload.put_if_absent(&mut self.workload.kv_client(), seq, value).await {
            Ok(true) => http::StatusCode::CREATED,
            Ok(false) => http::StatusCode::CONFLICT,
            Err(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Count-only ranges of one absent key: with `linearizable`, each one waits for etcd's
/// ReadIndex, as the revision probe of a consistent read does.
pub struct EtcdReadWorkload {
    client: Client,
    key: String,
    linearizable: bool,
}

impl EtcdReadWorkload {
    /// Connects to `endpoints`; the key read is `/piazza-bench/<run>/probe`.
    pub async fn connect(
        endpoints: &[String],
        run: &str,
        linearizable: bool,
    ) -> Result<EtcdReadWorkload, BenchError> {
        let client = connect(endpoints).await?;
        Ok(EtcdReadWorkload { client, key: format!("/piazza-bench/{run}/probe"), linearizable })
    }
}

impl Workload for EtcdReadWorkload {
    type Worker = KvClient;

    async fn worker(&self, _index: usize) -> KvClient {
        self.client.kv_client()
    }

    async fn call(&self, kv: &mut KvClient, _seq: u64) -> Result<Sample, RequestError> {
        let mut options = GetOptions::new().with_count_only();
        if !self.linearizable {
            options = options.with_serializable();
        }
        let response =
            kv.get(self.key.as_str(), Some(options)).await.map_err(|e| RequestError(format!("etcd: {e}")))?;
        match response.header() {
            Some(header) if header.revision() > 0 => Ok(Sample::new("range", 200, 0)),
            _ => Err(RequestError("etcd: a range answered without a revision".into())),
        }
    }
}

/// A client of `endpoints` over the store's own transport
/// ([`piazza_storage_etcd::connect_client`]), so that a limit pays the client costs the server
/// pays.
async fn connect(endpoints: &[String]) -> Result<Client, BenchError> {
    let options = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(30));
    piazza_storage_etcd::connect_client(endpoints, Duration::from_secs(5), options)
        .await
        .map_err(|e| BenchError::Storage(format!("connecting to etcd {endpoints:?}: {e}")))
}

/// Opens a watch on `prefix` and drains it in a task until aborted or the stream ends.
async fn start_watcher(client: &Client, prefix: &str) -> Result<tokio::task::JoinHandle<()>, BenchError> {
    let options = WatchOptions::new().with_prefix().with_prev_key();
    let mut stream = client
        .watch_client()
        .watch(prefix, Some(options))
        .await
        .map_err(|e| BenchError::Storage(format!("watching {prefix}: {e}")))?;
    Ok(tokio::spawn(async move { while let Ok(Some(_events)) = stream.message().await {} }))
}
