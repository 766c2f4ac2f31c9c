//! The values that go in and out of a [`Storage`](crate::Storage).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::StorageError;

/// A global, strictly increasing revision. Every create, update and delete takes the next one.
/// A store that has never been written to is at revision 1 (as etcd is); 0 never names a state.
pub type Revision = u64;

/// One version of one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key.
    pub key: String,
    /// The stored bytes.
    pub value: Bytes,
    /// The revision that created this incarnation of the key.
    pub create_revision: Revision,
    /// The revision of the write that produced this version (for a deleted key in a watch
    /// event: the revision of the delete).
    pub mod_revision: Revision,
}

/// Which state of the store a read is served from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadRevision {
    /// A consistent read at the current revision.
    Latest,
    /// Any state at or after this revision: the store serves its current state.
    /// `NotOlderThan(0)` means "any". A revision newer than the current one is
    /// [`StorageError::TooLargeResourceVersion`].
    NotOlderThan(Revision),
    /// The state as of exactly this revision (an MVCC snapshot).
    /// [`StorageError::Compacted`] below the compacted revision,
    /// [`StorageError::TooLargeResourceVersion`] above the current one.
    Exact(Revision),
}

/// A filter run on every candidate of a list.
pub type Predicate = Arc<dyn Fn(&KeyValue) -> bool + Send + Sync>;

/// How to list.
#[derive(Clone)]
pub struct ListOptions {
    /// Which state to read.
    pub revision: ReadRevision,
    /// At most this many items that match the predicate. `None` (or `Some(0)`) means no limit.
    /// The scan goes on past keys that do not match, so a page is never empty while matching
    /// keys remain.
    pub limit: Option<usize>,
    /// Continue after this full key (exclusive), as decoded from a continue token.
    pub start_after: Option<String>,
    /// Only return items this accepts.
    pub predicate: Option<Predicate>,
}

impl Default for ListOptions {
    fn default() -> Self {
        ListOptions { revision: ReadRevision::Latest, limit: None, start_after: None, predicate: None }
    }
}

impl fmt::Debug for ListOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListOptions")
            .field("revision", &self.revision)
            .field("limit", &self.limit)
            .field("start_after", &self.start_after)
            .field("predicate", &self.predicate.as_ref().map(|_| "<fn>"))
            .finish()
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListResult {
    /// The items, in key order.
    pub items: Vec<KeyValue>,
    /// The revision of the snapshot the page was read from (for `Latest`: the current
    /// revision). Continue tokens carry it so every page is read at the same revision.
    pub revision: Revision,
    /// Whether keys exist after the last returned one (whether or not they match the
    /// predicate).
    pub more: bool,
    /// The exact number of keys after the page; only set with no predicate and `more`.
    pub remaining: Option<u64>,
}

/// What happened to a key, or how far a watch has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// The key was created.
    Added,
    /// The key's value was replaced.
    Modified,
    /// The key was deleted.
    Deleted,
    /// A progress marker, not a change: every event of this watch with a revision at or below
    /// the marker's has already been delivered. See [`Event::progress`] and the watch contract
    /// on [`Storage::watch`](crate::Storage::watch).
    Progress,
}

/// One change, or a progress marker, as seen by a watcher.
#[derive(Clone, Debug)]
pub struct Event {
    /// What happened.
    pub event_type: EventType,
    /// The new version. For [`EventType::Deleted`]: the last value before the delete, with
    /// `mod_revision` set to the revision of the delete. For [`EventType::Progress`]: no key
    /// and no value, only `mod_revision`, the revision reached.
    pub kv: KeyValue,
    /// The version before this change (for `Modified` and `Deleted`).
    pub prev: Option<KeyValue>,
}

impl Event {
    /// A progress marker at `revision`: every event of the watch at or below it has been
    /// delivered. Like upstream's storage-level `watch.Bookmark` event, it carries nothing but
    /// the revision: an empty key and value, no `prev`. Making one does not allocate.
    pub fn progress(revision: Revision) -> Event {
        let kv =
            KeyValue { key: String::new(), value: Bytes::new(), create_revision: 0, mod_revision: revision };
        Event { event_type: EventType::Progress, kv, prev: None }
    }

    /// Whether this is a progress marker rather than a change of a key.
    pub fn is_progress(&self) -> bool {
        self.event_type == EventType::Progress
    }

    /// The revision of the write this event reports (for a progress marker: the revision
    /// reached).
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// The stream a watch returns. It ends after an `Err`.
pub type WatchStream = Pin<Box<dyn futures::Stream<Item = Result<Event, StorageError>> + Send>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_options_default_is_a_consistent_unbounded_list() {
        let o = ListOptions::default();
        assert_eq!(o.revision, ReadRevision::Latest);
        assert_eq!(o.limit, None);
        assert_eq!(o.start_after, None);
        assert!(o.predicate.is_none());
    }

    #[test]
    fn a_progress_marker_carries_only_its_revision() {
        let p = Event::progress(42);
        assert!(p.is_progress());
        assert_eq!(p.revision(), 42);
        assert!(p.kv.key.is_empty() && p.kv.value.is_empty() && p.prev.is_none());
        let change = Event { event_type: EventType::Added, kv: p.kv.clone(), prev: None };
        assert!(!change.is_progress());
    }

    #[test]
    fn list_options_debug_hides_the_closure() {
        let o = ListOptions { predicate: Some(Arc::new(|_: &KeyValue| true)), ..Default::default() };
        assert!(format!("{o:?}").contains("<fn>"));
    }
}
