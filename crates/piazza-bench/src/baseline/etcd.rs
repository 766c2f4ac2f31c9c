//! The etcd limit: raw put-if-absent transactions (`create_revision == 0` → put), the write a
//! Kubernetes CREATE makes, through etcd-client at the same concurrency and over the same
//! transport as the etcd store ([`piazza_storage_etcd::connect_client`]).

use std::time::Duration;

use bytes::Bytes;
use etcd_client::{Client, Compare, CompareOp, ConnectOptions, DeleteOptions, KvClient, Txn, TxnOp};

use crate::client::RequestError;
use crate::error::BenchError;
use crate::report::Sample;
use crate::runner::Workload;

/// Put-if-absent of `<prefix><seq>`.
pub struct EtcdWorkload {
    client: Client,
    prefix: String,
    value: Bytes,
}

impl EtcdWorkload {
    /// Connects to `endpoints`; keys go under `/piazza-bench/<run>/`.
    pub async fn connect(endpoints: &[String], run: &str, value: Bytes) -> Result<EtcdWorkload, BenchError> {
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(30));
        // The store's own transport, so that the limit pays the client costs the server pays.
        let client = piazza_storage_etcd::connect_client(endpoints, Duration::from_secs(5), options)
            .await
            .map_err(|e| BenchError::Storage(format!("connecting to etcd {endpoints:?}: {e}")))?;
        Ok(EtcdWorkload { client, prefix: format!("/piazza-bench/{run}/"), value })
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
        let key = format!("{}{seq}", self.prefix);
        let txn = Txn::new()
            .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.as_str(), self.value.to_vec(), None)]);
        let response = kv.txn(txn).await.map_err(|e| RequestError(format!("etcd: {e}")))?;
        let status = if response.succeeded() { 201 } else { 409 };
        Ok(Sample::new("txn", status, 0))
    }
}
