//! What the cache holds: the current state of every key under its prefix, the recent events,
//! and the watchers attached to the live fan-out. All of it sits behind one lock in
//! [`CachedStorage`](super::CachedStorage), and every method here runs under that lock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::metrics::{CacheMetrics, inc};
use super::watcher::{Ending, Fate, Live};
use crate::error::StorageError;
use crate::scope::in_watch_scope;
use crate::shared::SharedItem;
use crate::types::{Event, EventType, ListResult, Revision};

/// Events a catching-up watcher copies out of the buffer per lock acquisition.
const CATCH_UP_CHUNK: usize = 512;

/// A watcher attached to the live fan-out.
struct Registration {
    prefix: String,
    /// Events at or below this revision are not for this watcher.
    after: Revision,
    /// The highest revision its stream has reported (an event or a progress marker), or its
    /// position when it attached: a progress marker must be above it.
    reported: Revision,
    queue: mpsc::Sender<Arc<Event>>,
    fate: Arc<Fate>,
}

/// What a watcher catching up from the buffer gets.
pub(super) enum CatchUp {
    /// Events in its scope (possibly none), and the revision it has now accounted for.
    Events(Vec<Arc<Event>>, Revision),
    /// It has caught up and is attached to the live fan-out.
    Attached(Live),
}

/// Why a watcher could not catch up: the events it needs are no longer buffered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Gap {
    /// They were evicted to make room for newer ones: the watcher was too slow.
    Evicted,
    /// A re-list of the backend replaced the buffer.
    Relisted,
    /// A compaction made through the cache dropped them (or the watch asked for them).
    Compacted,
}

/// The cache's contents. See the [module docs](self).
pub(super) struct State {
    /// The keys the cache holds (empty or ending in `/`).
    pub(super) prefix: String,
    /// Every write up to this revision has been applied, none after it.
    pub(super) revision: Revision,
    /// The state of every key under `prefix` at `revision`, shared with the lists that hand
    /// it out (see [`SharedItem`]).
    pub(super) items: BTreeMap<String, Arc<SharedItem>>,
    /// Every event under `prefix` with a revision above `buffer_start`, oldest first.
    buffer: VecDeque<Arc<Event>>,
    buffer_capacity: usize,
    buffer_start: Revision,
    /// Compactions made through the cache: watches cannot start below this.
    compacted: Revision,
    /// The revision of the last re-list (0: none): history before it was lost.
    relisted_at: Revision,
    watchers: HashMap<u64, Registration>,
    next_watcher: u64,
    queue_capacity: usize,
}

impl State {
    /// A cache holding `list` (a list of `prefix` at its revision).
    pub(super) fn new(
        prefix: String,
        list: ListResult,
        buffer_capacity: usize,
        queue_capacity: usize,
    ) -> State {
        let mut state = State {
            prefix,
            revision: 0,
            items: BTreeMap::new(),
            buffer: VecDeque::new(),
            buffer_capacity: buffer_capacity.max(1),
            buffer_start: 0,
            compacted: 0,
            relisted_at: 0,
            watchers: HashMap::new(),
            next_watcher: 0,
            queue_capacity: queue_capacity.max(1),
        };
        state.replace(list);
        state
    }

    /// The oldest revision a watch can start after.
    pub(super) fn oldest_watchable(&self) -> Revision {
        self.buffer_start.max(self.compacted)
    }

    /// The highest compaction made through the cache.
    pub(super) fn compacted(&self) -> Revision {
        self.compacted
    }

    /// The number of watchers attached to the live fan-out.
    pub(super) fn attached_watchers(&self) -> usize {
        self.watchers.len()
    }

    /// Replaces the contents with a fresh list after the backend watch was lost. Watchers that
    /// had not accounted for every revision up to the list's are terminated with `Compacted`:
    /// the events between are gone. Returns how many were terminated.
    pub(super) fn relist(&mut self, list: ListResult) -> usize {
        let (before, at) = (self.revision, list.revision);
        self.replace(list);
        self.relisted_at = at;
        let doomed: Vec<u64> =
            (self.watchers.iter()).filter(|(_, w)| w.after.max(before) < at).map(|(&id, _)| id).collect();
        for id in &doomed {
            if let Some(w) = self.watchers.remove(id) {
                w.fate.set(Ending::Expired { compacted: at });
            }
        }
        doomed.len()
    }

    fn replace(&mut self, list: ListResult) {
        self.revision = self.revision.max(list.revision);
        self.items =
            list.items.into_iter().map(|kv| (kv.key.clone(), Arc::new(SharedItem::new(kv)))).collect();
        self.buffer.clear();
        self.buffer_start = self.revision;
    }

    /// Applies one event from the backend watch and fans it out. Returns false (and changes
    /// nothing) for an event at or below the cache's revision.
    ///
    /// A progress marker from the backend (the whole backend is watched, so it means every
    /// write up to its revision has been applied) only moves the cache's revision; watchers
    /// learn of it from [`State::report_progress`].
    pub(super) fn apply(&mut self, event: Event, metrics: &CacheMetrics) -> bool {
        let revision = event.revision();
        if revision <= self.revision {
            return false;
        }
        self.revision = revision;
        match event.event_type {
            // No change, or outside the cache: only the revision moves.
            EventType::Progress => return true,
            _ if !event.kv.key.starts_with(&self.prefix) => return true,
            EventType::Added | EventType::Modified => {
                self.items.insert(event.kv.key.clone(), Arc::new(SharedItem::new(event.kv.clone())));
            }
            EventType::Deleted => {
                self.items.remove(&event.kv.key);
            }
        }
        let event = Arc::new(event);
        self.buffer.push_back(Arc::clone(&event));
        while self.buffer.len() > self.buffer_capacity {
            if let Some(evicted) = self.buffer.pop_front() {
                self.buffer_start = evicted.revision();
            }
        }
        self.dispatch(&event, metrics);
        true
    }

    /// Offers `event` to every attached watcher in its scope, without ever waiting. A watcher
    /// whose queue is full is detached: it will catch up from the buffer.
    fn dispatch(&mut self, event: &Arc<Event>, metrics: &CacheMetrics) {
        let revision = event.revision();
        self.watchers.retain(|_, w| {
            if revision <= w.after || !in_watch_scope(&w.prefix, &event.kv.key) {
                return true;
            }
            match w.queue.try_send(Arc::clone(event)) {
                Ok(()) => {
                    w.reported = revision;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    inc(&metrics.lagging_watchers);
                    w.fate.set(Ending::Lagged { resume_after: revision - 1 });
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    /// Queues a progress marker at the cache's revision to every attached watcher whose last
    /// event (or marker) is below it: the revisions since then had nothing in its scope.
    /// Returns how many got one.
    ///
    /// An attached watcher has been offered, under this lock, every event in its scope up to
    /// the cache's revision, and its queue is FIFO: so the marker is true, and comes after all
    /// of them. One marker is shared by every watcher of a round, and a watcher whose queue is
    /// full is simply skipped (it gets one in a later round, or catches up from the buffer), so
    /// a round costs at most one allocation and never waits.
    pub(super) fn report_progress(&mut self) -> usize {
        let revision = self.revision;
        let mut marker: Option<Arc<Event>> = None;
        let mut reported = 0;
        for w in self.watchers.values_mut() {
            if w.reported >= revision {
                continue;
            }
            let marker = marker.get_or_insert_with(|| Arc::new(Event::progress(revision)));
            if w.queue.try_send(Arc::clone(marker)).is_ok() {
                w.reported = revision;
                reported += 1;
            }
        }
        reported
    }

    /// Records a compaction made through the cache: watches can no longer start below it.
    pub(super) fn compact(&mut self, revision: Revision) {
        self.compacted = self.compacted.max(revision);
        while self.buffer.front().is_some_and(|e| e.revision() <= self.compacted) {
            if let Some(dropped) = self.buffer.pop_front() {
                self.buffer_start = self.buffer_start.max(dropped.revision());
            }
        }
    }

    /// The next step of a watcher of `prefix` that has accounted for every revision up to
    /// `cursor`: a chunk of buffered events, or, once it has seen them all, attachment to the
    /// live fan-out. `Compacted`, and why, if the events after `cursor` are no longer buffered.
    pub(super) fn catch_up(
        &mut self,
        prefix: &str,
        cursor: Revision,
    ) -> Result<CatchUp, (StorageError, Gap)> {
        let oldest = self.oldest_watchable();
        if cursor < oldest {
            let gap = if cursor < self.relisted_at {
                Gap::Relisted
            } else if cursor < self.compacted {
                Gap::Compacted
            } else {
                Gap::Evicted
            };
            return Err((StorageError::Compacted { requested: cursor, compacted: oldest }, gap));
        }
        let start = self.buffer.partition_point(|e| e.revision() <= cursor);
        let end = (start + CATCH_UP_CHUNK).min(self.buffer.len());
        let mut events = Vec::new();
        let mut seen = cursor;
        for event in self.buffer.range(start..end) {
            seen = event.revision();
            if in_watch_scope(prefix, &event.kv.key) {
                events.push(Arc::clone(event));
            }
        }
        if end < self.buffer.len() || !events.is_empty() {
            return Ok(CatchUp::Events(events, seen));
        }
        // Everything buffered has been seen: attach, under the same lock, so nothing is missed.
        let after = cursor.max(self.revision);
        let (queue, receiver) = mpsc::channel(self.queue_capacity);
        let fate = Arc::new(Fate::default());
        let id = self.next_watcher;
        self.next_watcher += 1;
        let registration = Registration {
            prefix: prefix.to_owned(),
            after,
            reported: cursor,
            queue,
            fate: Arc::clone(&fate),
        };
        self.watchers.insert(id, registration);
        Ok(CatchUp::Attached(Live { id, receiver, fate, after }))
    }

    /// Forgets an attached watcher (its stream was dropped).
    pub(super) fn detach(&mut self, id: u64) {
        self.watchers.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::KeyValue;

    fn kv(key: &str, revision: Revision) -> KeyValue {
        KeyValue { key: key.into(), value: "v".into(), create_revision: revision, mod_revision: revision }
    }

    fn added(key: &str, revision: Revision) -> Event {
        Event { event_type: EventType::Added, kv: kv(key, revision), prev: None }
    }

    /// A cache of `/` at revision 10, with one watcher of `/a/` attached there.
    fn attached(queue: usize) -> (State, Live) {
        let list = ListResult { items: Vec::new(), revision: 10, more: false, remaining: None };
        let mut state = State::new("/".into(), list, 100, queue);
        match state.catch_up("/a/", 10) {
            Ok(CatchUp::Attached(live)) => (state, live),
            _ => panic!("a watcher at the cache's revision attaches at once"),
        }
    }

    fn drain(live: &mut Live) -> Vec<(EventType, Revision)> {
        std::iter::from_fn(|| live.receiver.try_recv().ok()).map(|e| (e.event_type, e.revision())).collect()
    }

    #[test]
    fn a_backend_progress_marker_moves_only_the_revision() {
        let (mut state, mut live) = attached(8);
        let metrics = CacheMetrics::default();
        assert!(state.apply(Event::progress(12), &metrics));
        assert_eq!(state.revision, 12);
        assert!(state.items.is_empty() && state.buffer.is_empty(), "a marker is no change");
        assert!(!state.apply(Event::progress(11), &metrics), "nothing moves backwards");
        assert!(drain(&mut live).is_empty(), "markers are not fanned out as they come");
        assert_eq!(state.report_progress(), 1);
        assert_eq!(drain(&mut live), [(EventType::Progress, 12)]);
    }

    #[test]
    fn a_watcher_gets_a_marker_only_when_the_cache_is_past_its_last_event() {
        let (mut state, mut live) = attached(8);
        let metrics = CacheMetrics::default();
        assert_eq!(state.report_progress(), 0, "nothing new since it attached");
        state.apply(added("/b/x", 11), &metrics);
        assert_eq!(state.report_progress(), 1);
        assert_eq!(state.report_progress(), 0, "revision 11 was reported already");
        assert_eq!(drain(&mut live), [(EventType::Progress, 11)]);

        state.apply(added("/a/x", 12), &metrics);
        assert_eq!(state.report_progress(), 0, "its own event already says 12");
        state.apply(added("/b/y", 13), &metrics);
        state.apply(added("/b/z", 14), &metrics);
        assert_eq!(state.report_progress(), 1, "one marker for the quiet revisions since");
        assert_eq!(drain(&mut live), [(EventType::Added, 12), (EventType::Progress, 14)]);
    }

    #[test]
    fn a_full_queue_skips_the_marker_without_detaching() {
        let (mut state, mut live) = attached(1);
        let metrics = CacheMetrics::default();
        state.apply(added("/a/x", 11), &metrics);
        state.apply(added("/b/y", 12), &metrics);
        assert_eq!(state.report_progress(), 0, "the queue is full");
        assert_eq!(state.attached_watchers(), 1, "a marker never detaches anyone");
        assert_eq!(drain(&mut live), [(EventType::Added, 11)]);
        assert_eq!(state.report_progress(), 1, "the next round delivers it");
        assert_eq!(drain(&mut live), [(EventType::Progress, 12)]);
    }

    #[test]
    fn a_watcher_from_a_future_revision_gets_no_marker_below_it() {
        let list = ListResult { items: Vec::new(), revision: 10, more: false, remaining: None };
        let mut state = State::new("/".into(), list, 100, 8);
        let Ok(CatchUp::Attached(mut live)) = state.catch_up("/a/", 15) else { panic!("attaches") };
        let metrics = CacheMetrics::default();
        for revision in 11..=15 {
            state.apply(added("/b/x", revision), &metrics);
            assert_eq!(state.report_progress(), 0, "revision {revision} is not above its start");
        }
        state.apply(added("/b/x", 16), &metrics);
        assert_eq!(state.report_progress(), 1);
        assert_eq!(drain(&mut live), [(EventType::Progress, 16)]);
    }
}
