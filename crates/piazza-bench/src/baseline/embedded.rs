//! The embedded limit: raw creates on piazza-storage's `EmbeddedStore`, the commit every
//! Piazza write makes, at the same concurrency. Concurrent creates share fsynced redb
//! transactions (the store's group commit) exactly as the server's writes do.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use piazza_storage::Storage;
use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};

use crate::client::RequestError;
use crate::error::BenchError;
use crate::report::Sample;
use crate::runner::Workload;

/// Creates `/registry/piazza-bench/<run>/<seq>`.
pub struct EmbeddedWorkload {
    store: Arc<EmbeddedStore>,
    prefix: String,
    value: Bytes,
}

impl EmbeddedWorkload {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path, run: &str, value: Bytes) -> Result<EmbeddedWorkload, BenchError> {
        let store = EmbeddedStore::open(dir, EmbeddedOptions::default())
            .map_err(|e| BenchError::Storage(format!("opening {}: {e}", dir.display())))?;
        Ok(EmbeddedWorkload { store, prefix: format!("/registry/piazza-bench/{run}/"), value })
    }
}

impl Workload for EmbeddedWorkload {
    type Worker = ();

    async fn worker(&self, _index: usize) {}

    async fn call(&self, _worker: &mut (), seq: u64) -> Result<Sample, RequestError> {
        let key = format!("{}{seq}", self.prefix);
        match self.store.create(&key, self.value.clone()).await {
            Ok(_) => Ok(Sample::new("commit", 201, 0)),
            Err(piazza_storage::StorageError::AlreadyExists { .. }) => Ok(Sample::new("commit", 409, 0)),
            Err(e) => Err(RequestError(format!("embedded: {e}"))),
        }
    }
}
