//! The encoded-object cache: each stored object revision is decoded, converted and encoded
//! as JSON once per served version, and GET and LIST of unchanged objects reuse those bytes.
//!
//! Entries are keyed by mod revision, which the storage assigns to one write of one key
//! (and which is also the object's `resourceVersion`, already in the bytes): hashing a
//! server-chosen integer is cheaper than hashing storage keys, and the key is compared on
//! every hit. An entry holds one encoding per served version asked for (usually one).
//! Only encoded bytes are kept, never decoded objects, and the total is bounded by
//! weight: when an insertion would go over the budget, half of the entries (arbitrary
//! ones) are dropped first, which also clears out revisions that were overwritten or
//! deleted. Locks are never held across an await.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;

/// Most bytes (encoded objects, keys and bookkeeping) kept per store.
const DEFAULT_BUDGET: usize = 16 << 20;
/// Bookkeeping bytes counted per entry on top of its key and bodies.
const ENTRY_OVERHEAD: usize = 96;

/// What a cached encoding holds: the object's JSON, or its protobuf message (without the
/// envelope, so that lists can embed it as an item).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    /// The complete JSON object, with `apiVersion` and `kind`.
    Json,
    /// The object's protobuf message.
    ProtobufMessage,
}

/// One encoding of one object revision.
#[derive(Clone, Debug)]
struct Encoding {
    version: &'static str,
    wire: Wire,
    body: Bytes,
}

/// Everything cached for one revision: its storage key and its encodings.
#[derive(Debug)]
struct Entry {
    key: Box<str>,
    encodings: Vec<Encoding>,
}

impl Entry {
    fn weight(&self) -> usize {
        self.key.len() + self.encodings.iter().map(|e| e.body.len() + ENTRY_OVERHEAD).sum::<usize>()
    }

    fn find(&self, lookup: Lookup<'_>) -> Option<&Bytes> {
        if &*self.key != lookup.key {
            return None;
        }
        self.encodings.iter().find(|e| e.version == lookup.version && e.wire == lookup.wire).map(|e| &e.body)
    }
}

/// Hashes revisions (server-assigned integers, not attacker-chosen) with one multiply.
#[derive(Default)]
struct RevisionHasher(u64);

impl Hasher for RevisionHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

type Entries = HashMap<u64, Entry, BuildHasherDefault<RevisionHasher>>;

#[derive(Debug, Default)]
struct Inner {
    entries: Entries,
    weight: usize,
}

/// The encoded JSON of stored objects, per served version (see the module docs).
#[derive(Debug)]
pub(crate) struct EncodedCache {
    inner: RwLock<Inner>,
    budget: usize,
}

impl Default for EncodedCache {
    fn default() -> Self {
        Self::with_budget(DEFAULT_BUDGET)
    }
}

/// A cache lookup: the storage key and revision of the object, and the served version.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lookup<'a> {
    /// The storage key.
    pub key: &'a str,
    /// The object's mod revision.
    pub mod_revision: u64,
    /// The served version of the encoding.
    pub version: &'static str,
    /// JSON or a protobuf message.
    pub wire: Wire,
}

/// A read-locked view of the cache, for looking up many encodings without cloning them.
pub(crate) struct View<'c>(RwLockReadGuard<'c, Inner>);

impl View<'_> {
    /// The cached encoding of one object revision, if any.
    pub(crate) fn get(&self, lookup: Lookup<'_>) -> Option<&Bytes> {
        self.0.entries.get(&lookup.mod_revision)?.find(lookup)
    }
}

impl EncodedCache {
    /// A cache holding at most about `budget` bytes.
    pub(crate) fn with_budget(budget: usize) -> Self {
        Self { inner: RwLock::new(Inner::default()), budget }
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Read-locks the cache; the view must not be held across an await.
    pub(crate) fn view(&self) -> View<'_> {
        View(self.inner.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The cached encoding of one object revision, if any.
    pub(crate) fn get(&self, lookup: Lookup<'_>) -> Option<Bytes> {
        self.view().get(lookup).cloned()
    }

    /// Caches the encoding of one object revision.
    pub(crate) fn insert(&self, lookup: Lookup<'_>, body: Bytes) {
        self.insert_many(std::iter::once((lookup, body)));
    }

    /// Caches many encodings under one lock.
    pub(crate) fn insert_many<'a>(&self, items: impl Iterator<Item = (Lookup<'a>, Bytes)>) {
        let mut inner = self.write();
        for (lookup, body) in items {
            insert_one(&mut inner, self.budget, lookup, body);
        }
    }

    /// The number of revisions cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.view().0.entries.len()
    }

    /// Drops every entry, as evictions would.
    #[cfg(test)]
    pub(crate) fn clear(&self) {
        *self.write() = Inner::default();
    }

    /// The weight currently accounted.
    #[cfg(test)]
    pub(crate) fn weight(&self) -> usize {
        self.view().0.weight
    }
}

fn insert_one(inner: &mut Inner, budget: usize, lookup: Lookup<'_>, body: Bytes) {
    let added = lookup.key.len() + body.len() + ENTRY_OVERHEAD;
    if added > budget {
        return;
    }
    if inner.weight + added > budget {
        evict_half(inner);
    }
    let encoding = Encoding { version: lookup.version, wire: lookup.wire, body };
    let (entry, before) = match inner.entries.entry(lookup.mod_revision) {
        std::collections::hash_map::Entry::Occupied(occupied) => {
            let entry = occupied.into_mut();
            let before = entry.weight();
            (entry, before)
        }
        std::collections::hash_map::Entry::Vacant(vacant) => {
            (vacant.insert(Entry { key: lookup.key.into(), encodings: Vec::new() }), 0)
        }
    };
    if &*entry.key != lookup.key {
        // Not expected (one revision writes one key), but never serve one key's bytes for another.
        *entry = Entry { key: lookup.key.into(), encodings: Vec::new() };
    }
    entry.encodings.retain(|e| (e.version, e.wire) != (encoding.version, encoding.wire));
    entry.encodings.push(encoding);
    let after = entry.weight();
    inner.weight = inner.weight + after - before;
}

/// Drops every other entry (in the map's arbitrary order).
fn evict_half(inner: &mut Inner) {
    let mut keep = false;
    let mut freed = 0;
    inner.entries.retain(|_, entry| {
        keep = !keep;
        if !keep {
            freed += entry.weight();
        }
        keep
    });
    inner.weight -= freed;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(key: &'a str, mod_revision: u64, version: &'static str) -> Lookup<'a> {
        Lookup { key, mod_revision, version, wire: Wire::Json }
    }

    #[test]
    fn hits_need_the_same_revision_and_version() {
        let cache = EncodedCache::default();
        cache.insert(at("/k/a", 5, "v1"), Bytes::from_static(b"a5"));
        assert_eq!(cache.get(at("/k/a", 5, "v1")).unwrap(), "a5");
        assert_eq!(cache.get(at("/k/a", 6, "v1")), None);
        assert_eq!(cache.get(at("/k/a", 5, "v2")), None);
        assert_eq!(cache.get(at("/k/b", 5, "v1")), None);
    }

    #[test]
    fn json_and_protobuf_of_a_revision_are_kept_apart() {
        let cache = EncodedCache::default();
        cache.insert(at("/k/a", 5, "v1"), Bytes::from_static(b"{json}"));
        let proto = Lookup { wire: Wire::ProtobufMessage, ..at("/k/a", 5, "v1") };
        assert_eq!(cache.get(proto), None);
        cache.insert(proto, Bytes::from_static(b"\x0a\x00"));
        assert_eq!(cache.get(proto).unwrap(), &b"\x0a\x00"[..]);
        assert_eq!(cache.get(at("/k/a", 5, "v1")).unwrap(), "{json}");
    }

    #[test]
    fn versions_of_a_revision_are_kept_side_by_side() {
        let cache = EncodedCache::default();
        cache.insert(at("/k/a", 5, "v1"), Bytes::from_static(b"a5v1"));
        cache.insert(at("/k/a", 5, "v2"), Bytes::from_static(b"a5v2"));
        cache.insert(at("/k/a", 7, "v1"), Bytes::from_static(b"a7v1"));
        assert_eq!(cache.get(at("/k/a", 5, "v1")).unwrap(), "a5v1");
        assert_eq!(cache.get(at("/k/a", 5, "v2")).unwrap(), "a5v2");
        assert_eq!(cache.get(at("/k/a", 7, "v1")).unwrap(), "a7v1");
        assert_eq!(cache.get(at("/k/a", 7, "v2")), None);
        // re-encoding a version replaces it without growing the weight
        let weight = cache.weight();
        cache.insert(at("/k/a", 5, "v1"), Bytes::from_static(b"A5V1"));
        assert_eq!(cache.get(at("/k/a", 5, "v1")).unwrap(), "A5V1");
        assert_eq!(cache.weight(), weight);
        assert_eq!(cache.weight(), 2 * "/k/a".len() + 3 * (4 + ENTRY_OVERHEAD));
    }

    #[test]
    fn a_revision_never_answers_for_another_key() {
        let cache = EncodedCache::default();
        cache.insert(at("/k/a", 7, "v1"), Bytes::from_static(b"a"));
        assert_eq!(cache.get(at("/k/b", 7, "v1")), None);
        cache.insert(at("/k/b", 7, "v1"), Bytes::from_static(b"b"));
        assert_eq!(cache.get(at("/k/a", 7, "v1")), None);
        assert_eq!(cache.get(at("/k/b", 7, "v1")).unwrap(), "b");
        assert_eq!(cache.weight(), "/k/b".len() + 1 + ENTRY_OVERHEAD);
    }

    #[test]
    fn weight_stays_within_the_budget() {
        let per_entry = "/k/00".len() + 10 + ENTRY_OVERHEAD;
        let cache = EncodedCache::with_budget(per_entry * 8);
        let keys: Vec<String> = (0..40).map(|i| format!("/k/{i:02}")).collect();
        for (revision, key) in (1..).zip(&keys) {
            cache.insert(at(key, revision, "v1"), Bytes::from_static(b"0123456789"));
            assert!(cache.weight() <= per_entry * 8, "{}", cache.weight());
        }
        assert!(cache.len() >= 4 && cache.len() <= 8, "{}", cache.len());
        // the last insertion is always kept
        assert_eq!(cache.get(at(&keys[39], 40, "v1")).unwrap(), "0123456789");
        assert_eq!(cache.weight(), cache.len() * per_entry);
    }

    #[test]
    fn oversized_bodies_are_not_cached() {
        let cache = EncodedCache::with_budget(64);
        cache.insert(at("/k/a", 1, "v1"), Bytes::from(vec![b'x'; 100]));
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.weight(), 0);
    }

    #[test]
    fn a_view_looks_up_many_without_cloning() {
        let cache = EncodedCache::default();
        cache.insert_many(
            [
                (at("/k/a", 1, "v1"), Bytes::from_static(b"a")),
                (at("/k/c", 3, "v1"), Bytes::from_static(b"c")),
            ]
            .into_iter(),
        );
        let view = cache.view();
        let got: Vec<_> = [at("/k/a", 1, "v1"), at("/k/b", 2, "v1"), at("/k/c", 3, "v1")]
            .map(|l| view.get(l).cloned())
            .into();
        assert_eq!(got, vec![Some(Bytes::from_static(b"a")), None, Some(Bytes::from_static(b"c"))]);
    }
}
