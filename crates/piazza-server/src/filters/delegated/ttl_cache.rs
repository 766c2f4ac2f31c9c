//! A small bounded cache whose entries expire after a per-entry time to live.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most entries a cache holds; inserting into a full cache first drops expired entries,
/// then an arbitrary one.
pub const DEFAULT_MAX_ENTRIES: usize = 4096;

/// Values by key, each valid until its deadline.
#[derive(Debug)]
pub struct TtlCache<V> {
    entries: Mutex<HashMap<String, (Instant, V)>>,
    max_entries: usize,
}

impl<V: Clone> TtlCache<V> {
    /// An empty cache holding at most `max_entries` (at least one).
    pub fn new(max_entries: usize) -> Self {
        Self { entries: Mutex::new(HashMap::new()), max_entries: max_entries.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, V)>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value for `key` if it has not expired at `now`.
    pub fn get(&self, key: &str, now: Instant) -> Option<V> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((deadline, value)) if *deadline > now => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value` for `ttl` from `now`; a zero `ttl` stores nothing.
    pub fn insert(&self, key: String, value: V, ttl: Duration, now: Instant) {
        if ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            entries.retain(|_, (deadline, _)| *deadline > now);
            if entries.len() >= self.max_entries
                && let Some(victim) = entries.keys().next().cloned()
            {
                entries.remove(&victim);
            }
        }
        entries.insert(key, (now + ttl, value));
    }

    /// How many entries are stored (expired ones included until touched).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True if nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_their_ttl() {
        let cache = TtlCache::new(8);
        let t0 = Instant::now();
        cache.insert("a".into(), 1, Duration::from_secs(10), t0);
        cache.insert("b".into(), 2, Duration::from_secs(1), t0);
        assert_eq!(cache.get("a", t0 + Duration::from_secs(5)), Some(1));
        assert_eq!(cache.get("b", t0 + Duration::from_secs(5)), None);
        assert_eq!(cache.get("a", t0 + Duration::from_secs(10)), None);
        assert!(cache.is_empty());
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let cache = TtlCache::new(8);
        cache.insert("a".into(), 1, Duration::ZERO, Instant::now());
        assert_eq!(cache.get("a", Instant::now()), None);
    }

    #[test]
    fn the_size_is_bounded_and_expired_entries_go_first() {
        let cache = TtlCache::new(2);
        let t0 = Instant::now();
        cache.insert("old".into(), 0, Duration::from_secs(1), t0);
        cache.insert("keep".into(), 1, Duration::from_secs(100), t0);
        let later = t0 + Duration::from_secs(2);
        cache.insert("new".into(), 2, Duration::from_secs(100), later);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("keep", later), Some(1));
        assert_eq!(cache.get("new", later), Some(2));
        cache.insert("third".into(), 3, Duration::from_secs(100), later);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("third", later), Some(3));
    }
}
