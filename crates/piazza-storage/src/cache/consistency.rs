//! The cache's self-check: at the cache's revision `R`, a digest of its contents is compared
//! with a digest of the backend's list at exactly `R`. They can only differ if the cache missed
//! or misapplied an event (or the backend's watch and its reads disagree), so a mismatch is
//! logged as an error and counted in
//! [`CacheMetrics::consistency_mismatches`](super::CacheMetrics::consistency_mismatches).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;

use super::CachedStorage;
use super::metrics::inc;
use super::reflector::{or_shutdown, pause};
use crate::Storage;
use crate::error::StorageError;
use crate::types::{KeyValue, ListOptions, ReadRevision, Revision};

/// Items per backend list page while checking.
const PAGE: usize = 1000;

/// An order-independent digest of a set of key-values: their number and the wrapping sum of
/// their hashes over (key, create revision, mod revision, value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Digest {
    count: u64,
    sum: u64,
}

impl Digest {
    fn add(&mut self, kv: &KeyValue) {
        let mut h = DefaultHasher::new();
        (kv.key.as_str(), kv.create_revision, kv.mod_revision, kv.value.as_ref()).hash(&mut h);
        self.count += 1;
        self.sum = self.sum.wrapping_add(h.finish());
    }
}

impl CachedStorage {
    /// Compares the cache with the backend now: lists the backend at exactly the cache's
    /// current revision and compares digests of the two.
    ///
    /// `Ok(true)` if they agree. `Ok(false)` if they differ: this is logged with
    /// `tracing::error!` and counted in [`CacheMetrics`](super::CacheMetrics). `Err` if the
    /// check could not be made, e.g. the backend has already compacted that revision.
    pub async fn check_consistency(&self) -> Result<bool, StorageError> {
        let (revision, cached) = self.digest();
        let stored = backend_digest(&*self.backend, &self.options.prefix, revision).await;
        self.record(revision, cached, stored)
    }

    /// The cache's revision and the digest of its contents there.
    fn digest(&self) -> (Revision, Digest) {
        let state = self.state();
        let mut digest = Digest::default();
        state.items.values().for_each(|item| digest.add(&item.kv));
        (state.revision, digest)
    }

    /// Counts and logs the outcome of a check.
    fn record(
        &self,
        revision: Revision,
        cached: Digest,
        stored: Result<Digest, StorageError>,
    ) -> Result<bool, StorageError> {
        let stored = match stored {
            Ok(stored) => stored,
            Err(error) => {
                inc(&self.metrics.consistency_check_errors);
                return Err(error);
            }
        };
        inc(&self.metrics.consistency_checks);
        if stored == cached {
            tracing::debug!(revision, items = cached.count, "watch cache consistency check passed");
            return Ok(true);
        }
        inc(&self.metrics.consistency_mismatches);
        tracing::error!(
            prefix = %self.options.prefix,
            revision,
            cached_items = cached.count,
            stored_items = stored.count,
            cached_digest = format_args!("{:016x}", cached.sum),
            stored_digest = format_args!("{:016x}", stored.sum),
            "watch cache is inconsistent with its backend",
        );
        Ok(false)
    }
}

/// The digest of `backend`'s keys under `prefix` at exactly `revision`, read page by page.
async fn backend_digest(
    backend: &dyn Storage,
    prefix: &str,
    revision: Revision,
) -> Result<Digest, StorageError> {
    let mut digest = Digest::default();
    let mut start_after = None;
    loop {
        let options = ListOptions {
            revision: ReadRevision::Exact(revision),
            limit: Some(PAGE),
            start_after,
            predicate: None,
        };
        let page = backend.list(prefix, options).await?;
        page.items.iter().for_each(|kv| digest.add(kv));
        if !page.more {
            return Ok(digest);
        }
        start_after = page.items.last().map(|kv| kv.key.clone());
    }
}

/// Runs the self-check every `interval` while the cache lives. The cache is only held while
/// its own digest is taken and the outcome recorded, never while the backend is read, so
/// dropping the cache stops the task promptly.
pub(super) async fn run(
    cache: Weak<CachedStorage>,
    backend: Arc<dyn Storage>,
    mut shutdown: watch::Receiver<()>,
    interval: Duration,
) {
    while pause(&mut shutdown, interval).await {
        let Some((prefix, revision, cached)) = cache.upgrade().map(|c| {
            let (revision, cached) = c.digest();
            (c.options.prefix.clone(), revision, cached)
        }) else {
            return;
        };
        let Some(stored) = or_shutdown(&mut shutdown, backend_digest(&*backend, &prefix, revision)).await
        else {
            return;
        };
        let Some(cache) = cache.upgrade() else { return };
        if let Err(error) = cache.record(revision, cached, stored) {
            tracing::warn!(%error, "watch cache consistency check could not run");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, rev: u64, value: &str) -> KeyValue {
        KeyValue { key: key.into(), value: value.to_owned().into(), create_revision: rev, mod_revision: rev }
    }

    #[test]
    fn digest_ignores_order_but_not_content() {
        let (a, b) = (kv("/a", 2, "x"), kv("/b", 3, "y"));
        let mut one = Digest::default();
        one.add(&a);
        one.add(&b);
        let mut two = Digest::default();
        two.add(&b);
        two.add(&a);
        assert_eq!(one, two);
        for changed in [kv("/b", 3, "z"), kv("/b", 4, "y"), kv("/c", 3, "y")] {
            let mut three = Digest::default();
            three.add(&a);
            three.add(&changed);
            assert_ne!(one, three, "{changed:?}");
        }
    }
}
