//! Watch streams served by the cache.
//!
//! A watcher is in one of two modes:
//!
//! - **Attached**: registered with the cache's live fan-out, with a bounded queue. The cache
//!   offers each event with `try_send` and never waits, so a slow watcher cannot stall the
//!   cache's ingestion or any other watcher.
//! - **Catching up**: copying events out of the cache's event buffer, a chunk at a time, from
//!   the revision it has accounted for. Every watch starts this way, and an attached watcher
//!   whose queue overflows is detached and returns to it after draining its queue. Once it has
//!   seen the whole buffer it attaches again, under the cache's lock, so no event is missed.
//!
//! An attached watcher may also receive progress markers ([`Event::progress`]) from the cache
//! (see `State::report_progress`); they travel through the same queue as its events, so they
//! come after every event they account for. A watcher catching up gets none.
//!
//! A watcher is never silently short-changed: if the events it still needs have left the
//! buffer (or a re-list of the backend lost them), it yields
//! [`StorageError::Compacted`] and ends, and its client starts again from a fresh list (HTTP
//! 410 `Expired`, as upstream's "too old resource version").

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::mpsc;

use super::CachedStorage;
use super::metrics::inc;
use super::state::{CatchUp, Gap};
use crate::error::StorageError;
use crate::types::{Event, Revision, WatchStream};

/// Why the cache stopped feeding an attached watcher. Set before its queue's sender is dropped,
/// so the watcher reads it once the queue is drained and closed.
#[derive(Debug, Default)]
pub(super) struct Fate(Mutex<Option<Ending>>);

/// See [`Fate`].
#[derive(Clone, Copy, Debug)]
pub(super) enum Ending {
    /// The queue overflowed; every event up to `resume_after` is in it.
    Lagged { resume_after: Revision },
    /// A re-list of the backend lost the events after the watcher's position.
    Expired { compacted: Revision },
}

impl Fate {
    pub(super) fn set(&self, ending: Ending) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(ending);
    }

    fn take(&self) -> Option<Ending> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// An attached watcher's end of its registration.
pub(super) struct Live {
    pub(super) id: u64,
    pub(super) receiver: mpsc::Receiver<Arc<Event>>,
    pub(super) fate: Arc<Fate>,
    /// The revision it was attached at: it has accounted for everything up to here.
    pub(super) after: Revision,
}

/// One watch of the cache. See the [module docs](self).
struct Watcher {
    cache: Weak<CachedStorage>,
    prefix: String,
    /// Every revision up to here has been delivered, or skipped as out of scope.
    cursor: Revision,
    live: Option<Live>,
    ready: VecDeque<Arc<Event>>,
    done: bool,
}

/// Starts a watch of `prefix` for the events after `after` (never 0 here: the caller has
/// resolved "from now" to a revision).
pub(super) fn stream(cache: &Arc<CachedStorage>, prefix: &str, after: Revision) -> WatchStream {
    let mut watcher = Watcher {
        cache: Arc::downgrade(cache),
        prefix: prefix.to_owned(),
        cursor: after,
        live: None,
        ready: VecDeque::new(),
        done: false,
    };
    // Take the first step now, so a watch that is caught up is attached before this returns.
    if let Err((e, _)) = watcher.catch_up(cache) {
        let error = futures::stream::once(async move { Err(e) });
        return Box::pin(error);
    }
    Box::pin(futures::stream::unfold(watcher, |mut w| async move {
        let item = w.next().await?;
        Some((item, w))
    }))
}

// === impl Watcher ===

impl Watcher {
    async fn next(&mut self) -> Option<Result<Event, StorageError>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(Ok(Arc::unwrap_or_clone(event)));
            }
            if self.done {
                return None;
            }
            if let Some(live) = self.live.as_mut() {
                if let Some(event) = live.receiver.recv().await {
                    // An event, or a progress marker: either way everything up to it is done.
                    self.cursor = self.cursor.max(event.revision());
                    return Some(Ok(Arc::unwrap_or_clone(event)));
                }
                // The queue is drained and closed: find out why.
                let ending = live.fate.take();
                self.live = None;
                match ending {
                    Some(Ending::Lagged { resume_after }) => self.cursor = self.cursor.max(resume_after),
                    Some(Ending::Expired { compacted }) => {
                        self.done = true;
                        return Some(Err(StorageError::Compacted { requested: self.cursor, compacted }));
                    }
                    None => {
                        self.done = true; // the cache was dropped
                        return None;
                    }
                }
            }
            let Some(cache) = self.cache.upgrade() else {
                self.done = true;
                return None;
            };
            if let Err((e, gap)) = self.catch_up(&cache) {
                self.done = true;
                match gap {
                    Gap::Evicted => inc(&cache.metrics.terminated_slow_watchers),
                    Gap::Relisted => inc(&cache.metrics.terminated_by_relist),
                    Gap::Compacted => {}
                }
                tracing::debug!(prefix = %self.prefix, error = %e, ?gap, "terminating a watcher that fell behind");
                return Some(Err(e));
            }
        }
    }

    /// One step of catching up from the cache's buffer.
    fn catch_up(&mut self, cache: &CachedStorage) -> Result<(), (StorageError, Gap)> {
        match cache.state_mut().catch_up(&self.prefix, self.cursor)? {
            CatchUp::Events(events, cursor) => {
                self.ready.extend(events);
                self.cursor = cursor;
            }
            CatchUp::Attached(live) => {
                self.cursor = live.after;
                self.live = Some(live);
            }
        }
        Ok(())
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let (Some(live), Some(cache)) = (self.live.as_ref(), self.cache.upgrade()) {
            cache.state_mut().detach(live.id);
        }
    }
}
