//! The cache's ingestion task: it watches the backend from the cache's revision and applies
//! every event. If the watch ends or fails it watches again from where it was; if the backend
//! has compacted past that point (the cache fell too far behind) it lists the backend again and
//! replaces the cache's contents, terminating the watchers that would otherwise miss events.
//!
//! The task holds only a weak reference to the cache and stops when the cache is dropped.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use super::CachedStorage;
use crate::Storage;
use crate::types::ListOptions;

/// The scope of the backend watch: every key, so the cache sees every revision (see the
/// [`CacheOptions::prefix`](super::CacheOptions::prefix) docs).
const EVERYTHING: &str = "";

/// Runs `future` unless the cache is dropped first (then `None`).
pub(super) async fn or_shutdown<F: Future>(
    shutdown: &mut watch::Receiver<()>,
    future: F,
) -> Option<F::Output> {
    tokio::select! {
        biased;
        _ = shutdown.changed() => None,
        output = future => Some(output),
    }
}

/// Sleeps for `pause`; false if the cache was dropped meanwhile.
pub(super) async fn pause(shutdown: &mut watch::Receiver<()>, pause: Duration) -> bool {
    or_shutdown(shutdown, tokio::time::sleep(pause)).await.is_some()
}

/// The ingestion loop. See the [module docs](self).
pub(super) async fn run(
    cache: Weak<CachedStorage>,
    backend: Arc<dyn Storage>,
    mut shutdown: watch::Receiver<()>,
    backoff: Duration,
) {
    let mut relist = false;
    loop {
        let Some(from) = cache.upgrade().map(|c| c.revision()) else { return };
        if relist {
            let Some(prefix) = cache.upgrade().map(|c| c.options.prefix.clone()) else { return };
            match or_shutdown(&mut shutdown, backend.list(&prefix, ListOptions::default())).await {
                None => return,
                Some(Ok(list)) => {
                    let Some(cache) = cache.upgrade() else { return };
                    cache.relist(list);
                    relist = false;
                    continue;
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "watch cache: listing the backend failed; retrying");
                    if !pause(&mut shutdown, backoff).await {
                        return;
                    }
                    continue;
                }
            }
        }
        let mut events = match or_shutdown(&mut shutdown, backend.watch(EVERYTHING, from)).await {
            None => return,
            Some(Ok(events)) => events,
            Some(Err(error)) => {
                tracing::warn!(%error, from, "watch cache: watching the backend failed");
                if error.is_compacted() {
                    let Some(cache) = cache.upgrade() else { return };
                    cache.begin_relist();
                    relist = true;
                } else if !pause(&mut shutdown, backoff).await {
                    return;
                }
                continue;
            }
        };
        loop {
            let Some(item) = or_shutdown(&mut shutdown, events.next()).await else { return };
            let Some(cache) = cache.upgrade() else { return };
            match item {
                Some(Ok(event)) => cache.apply(event),
                Some(Err(error)) if error.is_compacted() => {
                    tracing::warn!(%error, "watch cache: fell behind the backend's history; re-listing");
                    cache.begin_relist();
                    relist = true;
                    break;
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "watch cache: the backend watch failed; watching again");
                    break;
                }
                None => {
                    tracing::debug!("watch cache: the backend watch ended; watching again");
                    break;
                }
            }
        }
        if !relist && !pause(&mut shutdown, backoff).await {
            return;
        }
    }
}
