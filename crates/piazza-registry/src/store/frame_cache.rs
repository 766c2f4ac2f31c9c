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
    /// The keys are revisions and enumerations the server chose, never client-controlled, so
    /// a fast hasher without HashDoS resistance (foldhash) is safe; std's SipHash cost ~0.8k
    /// instructions per watch delivery (docs/benchmarks.md).
    map: HashMap<K, (V, usize), foldhash::fast::RandomState>,
    order: VecDeque<K>,
    weight: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> BoundedCache<K, V> {
    /// A cache of at most `max_entries` entries weighing at most `max_weight` in total.
    pub(crate) fn new(max_entries: usize, max_weight: usize) -> Self {
        Self {
            inner: Mutex::new(Inner { map: HashMap::default(), order: VecDeque::new(), weight: 0 }),
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

/// The key of a decoded object: revision and state. Within one store's storage a revision
/// names one write of one key (only a multi-key transaction by another writer could give
/// two keys one revision), so lookups build no string: the storage key is kept beside the
/// object and compared on every hit, and a mismatch is decoded afresh, uncached.
pub(crate) type DecodeKey = (u64, DecodedState);

/// A decoded object and the storage key it was read from.
pub(crate) type Decoded<H> = (Arc<str>, Arc<H>);

/// What a cached frame shows of its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum FrameView {
    /// The whole object.
    Object,
    /// `PartialObjectMetadata`.
    Metadata,
}

/// The key of an encoded watch frame: resourceVersion, event type name, served version,
/// view and format. A resourceVersion names one write of one object in a store, and for a
/// given write every ADDED or MODIFIED frame shows the new state while every DELETED frame
/// shows the same state (the deleted object, or the state before an update that left a
/// selection), so the event type distinguishes the states. Every field is a copy: looking a
/// frame up per watcher allocates nothing. The object's namespace and name are kept with
/// the frame and compared on every hit (see [`DecodeKey`] for why a revision could repeat).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FrameKey {
    pub resource_version: u64,
    pub event_type: &'static str,
    pub version: &'static str,
    pub view: FrameView,
    pub format: piazza_codec::Format,
}

/// An encoded watch frame and the object it shows.
pub(crate) struct Frame {
    namespace: Option<Box<str>>,
    name: Box<str>,
    bytes: Bytes,
}

/// The shared watch caches of one store.
pub(crate) struct WatchCaches<H> {
    /// Decoded stored objects.
    decoded: BoundedCache<DecodeKey, Decoded<H>>,
    /// Encoded watch frames (whole `{"type":…,"object":…}` lines).
    frames: BoundedCache<FrameKey, Arc<Frame>>,
}

impl<H> WatchCaches<H> {
    /// The object stored at `storage_key` in state `key`, decoding it (with `decode`, which
    /// also gives its weight) on a miss; errors are not cached.
    pub(crate) fn decoded<E>(
        &self,
        key: DecodeKey,
        storage_key: &str,
        decode: impl FnOnce() -> Result<(Arc<H>, usize), E>,
    ) -> Result<Arc<H>, E> {
        match self.decoded.get(&key) {
            Some((cached_key, object)) if *cached_key == *storage_key => Ok(object),
            Some(_) => decode().map(|(object, _)| object),
            None => {
                let (object, weight) = decode()?;
                self.decoded.insert(key, (Arc::from(storage_key), Arc::clone(&object)), weight);
                Ok(object)
            }
        }
    }

    /// The frame of the object `namespace`/`name` under `key`, encoding it with `encode` on
    /// a miss. An encoding error is answered (it is an error frame) but not cached.
    pub(crate) fn frame(
        &self,
        key: FrameKey,
        namespace: Option<&str>,
        name: &str,
        encode: impl FnOnce() -> Result<Bytes, Bytes>,
    ) -> Bytes {
        match self.frames.get(&key) {
            Some(frame) if frame.namespace.as_deref() == namespace && *frame.name == *name => {
                frame.bytes.clone()
            }
            Some(_) => encode().unwrap_or_else(|error_frame| error_frame),
            None => match encode() {
                Ok(bytes) => {
                    let frame = Frame {
                        namespace: namespace.map(Box::from),
                        name: Box::from(name),
                        bytes: bytes.clone(),
                    };
                    self.frames.insert(key, Arc::new(frame), bytes.len());
                    bytes
                }
                Err(error_frame) => error_frame,
            },
        }
    }
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
    fn frame_keys_distinguish_states_versions_and_views() {
        let key = |event_type, version, view| FrameKey {
            resource_version: 5,
            event_type,
            version,
            view,
            format: piazza_codec::Format::Json,
        };
        let caches = WatchCaches::<()>::default();
        let frame =
            |key, bytes: &'static [u8]| caches.frame(key, Some("ns"), "x", || Ok(Bytes::from_static(bytes)));
        assert_eq!(frame(key("MODIFIED", "v1", FrameView::Object), b"new"), "new");
        assert_eq!(frame(key("DELETED", "v1", FrameView::Object), b"old"), "old");
        // Hits: the encoder is not asked again.
        assert_eq!(frame(key("MODIFIED", "v1", FrameView::Object), b"other"), "new");
        assert_eq!(frame(key("DELETED", "v1", FrameView::Object), b"other"), "old");
        // Misses: another version, view or format.
        assert_eq!(frame(key("MODIFIED", "v2", FrameView::Object), b"v2"), "v2");
        assert_eq!(frame(key("MODIFIED", "v1", FrameView::Metadata), b"meta"), "meta");
        let protobuf =
            FrameKey { format: piazza_codec::Format::Protobuf, ..key("MODIFIED", "v1", FrameView::Object) };
        assert_eq!(frame(protobuf, b"pb"), "pb");
    }

    #[test]
    fn a_revision_shared_by_two_objects_never_serves_one_the_others_frame() {
        let caches = WatchCaches::<()>::default();
        let key = FrameKey {
            resource_version: 9,
            event_type: "ADDED",
            version: "v1",
            view: FrameView::Object,
            format: piazza_codec::Format::Json,
        };
        let a = caches.frame(key, Some("ns"), "a", || Ok(Bytes::from_static(b"a")));
        let b = caches.frame(key, Some("ns"), "b", || Ok(Bytes::from_static(b"b")));
        let other_ns = caches.frame(key, Some("other"), "a", || Ok(Bytes::from_static(b"a2")));
        let cluster = caches.frame(key, None, "a", || Ok(Bytes::from_static(b"a3")));
        assert_eq!((a, b, other_ns, cluster), ("a".into(), "b".into(), "a2".into(), "a3".into()));
        assert_eq!(caches.frame(key, Some("ns"), "a", || Ok(Bytes::from_static(b"again"))), "a");
        // Error frames are answered, not cached.
        let failing = FrameKey { resource_version: 10, ..key };
        assert_eq!(caches.frame(failing, None, "c", || Err(Bytes::from_static(b"error"))), "error");
        assert_eq!(caches.frame(failing, None, "c", || Ok(Bytes::from_static(b"ok"))), "ok");
    }

    #[test]
    fn decoded_objects_are_keyed_by_revision_and_checked_by_storage_key() {
        let caches = WatchCaches::<String>::default();
        let decode = |value: &str| {
            let value = value.to_owned();
            move || Ok::<_, ()>((Arc::new(value), 1))
        };
        let key = (3, DecodedState::Current);
        assert_eq!(*caches.decoded(key, "/r/a", decode("a")).unwrap(), "a");
        assert_eq!(*caches.decoded(key, "/r/a", decode("fresh")).unwrap(), "a", "a hit decodes nothing");
        assert_eq!(
            *caches.decoded(key, "/r/b", decode("b")).unwrap(),
            "b",
            "another key at the same revision"
        );
        assert_eq!(*caches.decoded((3, DecodedState::PreviousAt), "/r/a", decode("prev")).unwrap(), "prev");
        assert_eq!(
            caches.decoded((4, DecodedState::Current), "/r/c", || Err::<(Arc<String>, usize), _>(())),
            Err(())
        );
        assert_eq!(*caches.decoded((4, DecodedState::Current), "/r/c", decode("c")).unwrap(), "c");
    }
}
