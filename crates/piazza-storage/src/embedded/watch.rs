//! Watch streams: history from disk, then the live feed, with no gaps and no duplicates.
//!
//! Every committed revision is published on a tokio broadcast channel, in revision order, by the
//! single writer. A watcher tracks `seen`, the revision up to which it has accounted for every
//! write (delivered it, or skipped it as out of scope). A live event at `seen + 1` is delivered
//! directly. Anything newer means a gap: the initial history, or writes the broadcast ring dropped
//! because this watcher was slow (`Lagged`). Gaps are filled from the on-disk history in chunks
//! before the live event is delivered. The broadcast never waits for a receiver, so a slow
//! watcher cannot block writers or other watchers; if its gap has been compacted away it gets
//! `Err(Compacted)` and the stream ends.
//!
//! Only changes are yielded, never progress markers (see the backend's module docs).

use std::collections::VecDeque;
use std::sync::Arc;

use redb::Database;
use tokio::sync::broadcast::{self, error::RecvError};

use super::read;
use crate::error::StorageError;
use crate::scope::in_watch_scope;
use crate::types::{Event, Revision, WatchStream};

/// Revisions read from history per blocking call.
const HISTORY_CHUNK: Revision = 1024;

/// Where one watcher is.
struct Watcher {
    db: Arc<Database>,
    live: broadcast::Receiver<Arc<Event>>,
    prefix: String,
    /// Every revision up to here has been delivered or skipped.
    seen: Revision,
    /// Revisions up to here must come from history before anything live is delivered.
    catch_up_to: Revision,
    /// A live event that arrived ahead of a gap; delivered once the gap is filled.
    held: Option<Arc<Event>>,
    /// Events ready to hand out.
    ready: VecDeque<Event>,
    /// No more events will come (after an error, or the store was dropped).
    done: bool,
}

/// Starts a watch of `prefix` after `after` (0: from `current`). `live` must have been
/// subscribed before `current` was read, so no revision after `current` can be missed.
pub(crate) fn stream(
    db: Arc<Database>,
    live: broadcast::Receiver<Arc<Event>>,
    prefix: &str,
    after: Revision,
    current: Revision,
) -> WatchStream {
    let seen = if after == 0 { current } else { after };
    let watcher = Watcher {
        db,
        live,
        prefix: prefix.to_owned(),
        seen,
        catch_up_to: current,
        held: None,
        ready: VecDeque::new(),
        done: false,
    };
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
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            if self.catch_up_to > self.seen {
                if let Err(e) = self.read_history().await {
                    self.done = true;
                    return Some(Err(e));
                }
                continue;
            }
            if let Some(event) = self.held.take() {
                self.accept(&event);
                continue;
            }
            match self.live.recv().await {
                Ok(event) => {
                    let rev = event.revision();
                    if rev <= self.seen {
                        continue; // already read from history
                    }
                    if rev > self.seen + 1 {
                        self.catch_up_to = rev - 1;
                        self.held = Some(event);
                        continue;
                    }
                    self.accept(&event);
                }
                // The ring dropped events for this watcher; the next one it gets reveals the gap.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => self.done = true,
            }
        }
    }

    /// Takes the live event at `seen + 1`.
    fn accept(&mut self, event: &Event) {
        self.seen = event.revision();
        if in_watch_scope(&self.prefix, &event.kv.key) {
            self.ready.push_back(event.clone());
        }
    }

    /// Reads the next chunk of history towards `catch_up_to`.
    async fn read_history(&mut self) -> Result<(), StorageError> {
        let after = self.seen;
        let upto = self.catch_up_to.min(after.saturating_add(HISTORY_CHUNK));
        let db = Arc::clone(&self.db);
        let prefix = self.prefix.clone();
        let events = tokio::task::spawn_blocking(move || read::history(&db, &prefix, after, upto))
            .await
            .map_err(|e| StorageError::internal("reading watch history", e))??;
        self.ready.extend(events);
        self.seen = upto;
        Ok(())
    }
}
