//! Shared watch caches: every watcher of a store decodes each stored object revision, and
//! encodes each watch frame (per served version and view), once between them.
//!
//! [`BoundedCache`] is a small insertion-ordered (FIFO) map bounded both by entry count
//! and by a total weight (bytes); fan-out hits arrive right after the first watcher
//! inserts, so recency tracking would buy nothing. Its lock is never held across an await.
//!
//! Each [`Store`](super::Store) owns one [`WatchCaches`], shared by all its watchers.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Most decoded objects kept per store.
const DECODED_ENTRIES: usize = 1024;
/// Most stored bytes behind the decoded objects kept per store.
const DECODED_WEIGHT: usize = 32 << 20;
/// Most encoded frames kept per store.
const FRAME_ENTRIES: usize = 4096;
/// Most bytes of encoded frames kept per store.
const FRAME_WEIGHT: usize = 64 << 20;

/// A map bounded by entry count and total weight; the oldest insertions leave first.
pub(crate) struct BoundedCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    max_entries: usize,
    max_weight: usize,
}

struct Inner<K, V> {
    map: HashMap<K, (V, usize)>,
    order: VecDeque<K>,
    weight: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> BoundedCache<K, V> {
    /// A cache of at most `max_entries` entries weighing at most `max_weight` in total.
    pub(crate) fn new(max_entries: usize, max_weight: usize) -> Self {
        Self {
            inner: Mutex::new(Inner { map: HashMap::new(), order: VecDeque::new(), weight: 0 }),
            max_entries,
            max_weight,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value under `key`, if cached.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.lock().map.get(key).map(|(v, _)| v.clone())
    }

    /// Caches `value` under `key` (keeping an existing value), evicting the oldest entries
    /// to stay within bounds. A value heavier than the whole budget is not cached.
    pub(crate) fn insert(&self, key: K, value: V, weight: usize) {
        if self.max_entries == 0 || weight > self.max_weight {
            return;
        }
        let mut inner = self.lock();
        if inner.map.contains_key(&key) {
            return;
        }
        while inner.map.len() >= self.max_entries || inner.weight + weight > self.max_weight {
            let Some(old) = inner.order.pop_front() else { break };
            if let Some((_, w)) = inner.map.remove(&old) {
                inner.weight -= w;
            }
        }
        inner.weight += weight;
        inner.order.push_back(key.clone());
        inner.map.insert(key, (value, weight));
    }

    /// The value under `key`, computing and caching it (with its weight) if missing. The
    /// lock is not held while computing; errors are not cached.
    pub(crate) fn get_or_try_insert<E>(
        &self,
        key: &K,
        make: impl FnOnce() -> Result<(V, usize), E>,
    ) -> Result<V, E> {
        if let Some(v) = self.get(key) {
            return Ok(v);
        }
        let (value, weight) = make()?;
        self.insert(key.clone(), value.clone(), weight);
        Ok(value)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().map.len()
    }
}

/// Which state of a storage event a decoded object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum DecodedState {
    /// The event's own key-value, at its mod revision.
    Current,
    /// The previous state, relabelled with the event's revision (an object leaving a
    /// watcher's selection).
    PreviousAt,
}

/// The key of a decoded object: storage key, revision, state.
pub(crate) type DecodeKey = (String, u64, DecodedState);

/// What a cached frame shows of its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum FrameView {
    /// The whole object.
    Object,
    /// `PartialObjectMetadata`.
    Metadata,
}

/// The key of an encoded watch frame: namespace, name, resourceVersion, event type name,
/// served version and view. Within one store (key prefix), a resourceVersion identifies one
/// write of one object, and for a given write every ADDED or MODIFIED frame shows the new
/// state while every DELETED frame shows the same state (the deleted object, or the state
/// before an update that left a selection), so the event type distinguishes the states.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FrameKey {
    pub namespace: Option<String>,
    pub name: String,
    pub resource_version: String,
    pub event_type: &'static str,
    pub version: String,
    pub view: FrameView,
    pub format: piazza_codec::Format,
}

/// The shared watch caches of one store.
pub(crate) struct WatchCaches<H> {
    /// Decoded stored objects.
    pub decoded: BoundedCache<DecodeKey, Arc<H>>,
    /// Encoded watch frames (whole `{"type":…,"object":…}` lines).
    pub frames: BoundedCache<FrameKey, Bytes>,
}

impl<H> Default for WatchCaches<H>
where
    H: Send + Sync + 'static,
{
    fn default() -> Self {
        Self {
            decoded: BoundedCache::new(DECODED_ENTRIES, DECODED_WEIGHT),
            frames: BoundedCache::new(FRAME_ENTRIES, FRAME_WEIGHT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_after_insert_and_existing_values_are_kept() {
        let cache = BoundedCache::new(4, 100);
        assert_eq!(cache.get(&1), None);
        cache.insert(1, "a", 1);
        cache.insert(1, "b", 1);
        assert_eq!(cache.get(&1), Some("a"));
    }

    #[test]
    fn evicts_oldest_beyond_entry_count() {
        let cache = BoundedCache::new(3, 100);
        for i in 0..5 {
            cache.insert(i, i * 10, 1);
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&0), None);
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get(&2), Some(20));
        assert_eq!(cache.get(&4), Some(40));
    }

    #[test]
    fn evicts_oldest_beyond_weight_and_skips_oversized() {
        let cache = BoundedCache::new(100, 10);
        cache.insert("a", 1, 4);
        cache.insert("b", 2, 4);
        cache.insert("c", 3, 4);
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(cache.get(&"b"), Some(2));
        assert_eq!(cache.get(&"c"), Some(3));
        cache.insert("huge", 4, 11);
        assert_eq!(cache.get(&"huge"), None);
        assert_eq!(cache.get(&"b"), Some(2));
    }

    #[test]
    fn errors_are_not_cached() {
        let cache: BoundedCache<u8, u8> = BoundedCache::new(4, 100);
        assert_eq!(cache.get_or_try_insert(&1, || Err::<(u8, usize), _>("boom")), Err("boom"));
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get_or_try_insert(&1, || Ok::<_, ()>((7, 1))), Ok(7));
        assert_eq!(cache.get_or_try_insert(&1, || Ok::<_, ()>((8, 1))), Ok(7));
    }

    #[test]
    fn frame_keys_distinguish_states_versions_and_views() {
        let key = |event_type, version: &str, view| FrameKey {
            namespace: Some("ns".into()),
            name: "x".into(),
            resource_version: "5".into(),
            event_type,
            version: version.into(),
            view,
            format: piazza_codec::Format::Json,
        };
        let cache = BoundedCache::new(16, 1 << 20);
        cache.insert(key("MODIFIED", "v1", FrameView::Object), Bytes::from_static(b"new"), 3);
        cache.insert(key("DELETED", "v1", FrameView::Object), Bytes::from_static(b"old"), 3);
        assert_eq!(cache.get(&key("MODIFIED", "v1", FrameView::Object)).unwrap(), "new");
        assert_eq!(cache.get(&key("DELETED", "v1", FrameView::Object)).unwrap(), "old");
        assert_eq!(cache.get(&key("MODIFIED", "v2", FrameView::Object)), None);
        assert_eq!(cache.get(&key("MODIFIED", "v1", FrameView::Metadata)), None);
        let protobuf =
            FrameKey { format: piazza_codec::Format::Protobuf, ..key("MODIFIED", "v1", FrameView::Object) };
        assert_eq!(cache.get(&protobuf), None);
    }
}
