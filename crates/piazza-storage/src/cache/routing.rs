//! Where a read is served from: memory once the cache is fresh enough for it, the backend
//! otherwise (see the table in the [module docs](super)).

use super::CachedStorage;
use super::metrics::inc;
use super::state::State;
use crate::error::StorageError;
use crate::types::{ReadRevision, Revision};

/// Where a read is served from.
pub(super) enum Route {
    Backend,
    /// Memory; for `Some(r)` only if the cache is at exactly `r`.
    Memory(Option<Revision>),
}

impl CachedStorage {
    /// Whether the cache can serve `key` (or the keys under a prefix that starts with it).
    pub(super) fn covers(&self, key: &str) -> bool {
        self.is_ready() && key.starts_with(&self.options.prefix)
    }

    /// Waits until the cache has reached `revision`; false if the freshness timeout passed.
    async fn caught_up(&self, revision: Revision) -> bool {
        let mut changes = self.revision.subscribe();
        let wait = changes.wait_for(|&r| r >= revision);
        matches!(tokio::time::timeout(self.options.freshness_timeout, wait).await, Ok(Ok(_)))
    }

    /// Decides where a read of `key` at `revision` is served from.
    pub(super) async fn route(&self, key: &str, revision: ReadRevision) -> Result<Route, StorageError> {
        if !self.covers(key) {
            return Ok(Route::Backend);
        }
        match revision {
            ReadRevision::Exact(r) => Ok(Route::Memory(Some(r))),
            ReadRevision::NotOlderThan(r) if r <= self.revision() => Ok(Route::Memory(None)),
            ReadRevision::NotOlderThan(r) => {
                let current = self.backend.current_revision().await?;
                if r > current {
                    return Err(StorageError::TooLargeResourceVersion { requested: r, current });
                }
                if self.caught_up(r).await {
                    Ok(Route::Memory(None))
                } else {
                    Err(StorageError::TooLargeResourceVersion { requested: r, current: self.revision() })
                }
            }
            ReadRevision::Latest => {
                let current = self.backend.current_revision().await?;
                if self.caught_up(current).await {
                    return Ok(Route::Memory(None));
                }
                inc(&self.metrics.consistent_read_fallbacks);
                tracing::debug!(
                    current,
                    cached = self.revision(),
                    "consistent read fell back to the backend"
                );
                Ok(Route::Backend)
            }
        }
    }

    /// Runs `read` on the cache's state if `route` allows it; `None` means "ask the backend".
    pub(super) fn read_memory<T>(&self, route: Route, read: impl FnOnce(&State) -> T) -> Option<T> {
        let exact = match route {
            Route::Backend => None,
            Route::Memory(exact) => Some(exact),
        }?;
        let state = self.state();
        if exact.is_some_and(|r| r != state.revision || r < state.compacted()) {
            return None;
        }
        inc(&self.metrics.reads_from_cache);
        Some(read(&state))
    }
}
