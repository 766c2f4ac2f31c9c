//! Counters describing what a [`CachedStorage`](super::CachedStorage) has been doing.

use std::sync::atomic::{AtomicU64, Ordering};

/// Defines [`CacheMetrics`] (atomic counters) and [`CacheMetricsSnapshot`] (plain values) from
/// one list, so the two never drift apart.
macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// The watch cache's counters. Every counter only grows. Take a
        /// [`snapshot`](CacheMetrics::snapshot) to read them all at once, e.g. to export them as
        /// Prometheus counters.
        #[derive(Debug, Default)]
        pub struct CacheMetrics {
            $($(#[doc = $doc])* pub $name: AtomicU64,)*
        }

        /// The values of [`CacheMetrics`] at one moment.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct CacheMetricsSnapshot {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl CacheMetrics {
            /// The current value of every counter.
            pub fn snapshot(&self) -> CacheMetricsSnapshot {
                CacheMetricsSnapshot { $($name: self.$name.load(Ordering::Relaxed),)* }
            }

            /// Every counter in the Prometheus text format, named `<prefix>_<name>_total`.
            pub fn prometheus_text(&self, prefix: &str) -> String {
                let mut out = String::new();
                $(
                    let docs: &[&str] = &[$($doc),*];
                    let help = docs.iter().map(|d| d.trim()).collect::<Vec<_>>().join(" ");
                    let name = concat!(stringify!($name), "_total");
                    out.push_str(&format!("# HELP {prefix}_{name} {}\n", help.replace('\\', "\\\\")));
                    out.push_str(&format!("# TYPE {prefix}_{name} counter\n"));
                    out.push_str(&format!("{prefix}_{name} {}\n", self.$name.load(Ordering::Relaxed)));
                )*
                out
            }
        }
    };
}

counters! {
    /// Self-checks that compared the cache with the backend (periodic and on demand).
    consistency_checks,
    /// Self-checks that found the cache's state different from the backend's at the same
    /// revision. Anything above zero is a bug (in the cache or the backend) worth an alert.
    consistency_mismatches,
    /// Self-checks that could not finish (the backend failed, or compacted the revision being
    /// checked).
    consistency_check_errors,
    /// Watchers whose queue overflowed: they were detached from the live fan-out and catch up
    /// from the event buffer when they read again.
    lagging_watchers,
    /// Lagging watchers that fell out of the event buffer, and were terminated with
    /// [`StorageError::Compacted`](crate::StorageError::Compacted).
    terminated_slow_watchers,
    /// Watchers terminated with `Compacted` because a re-list left a gap in their history.
    terminated_by_relist,
    /// Watches that started before the event buffer (e.g. resumed after a restart) and were
    /// served from the backend's own history instead.
    watches_from_backend,
    /// Times the cache lost its backend watch to compaction and listed the backend again.
    relists,
    /// Events taken from the backend watch (progress markers not included).
    events,
    /// Progress markers queued to watchers whose scope was quiet while the cache's revision
    /// moved on.
    progress_markers,
    /// Reads (`get` and `list`) answered from memory.
    reads_from_cache,
    /// Reads passed to the backend: exact revisions other than the cache's, keys outside the
    /// cache's prefix, reads while the cache re-lists, and consistent reads that fell back.
    reads_from_backend,
    /// Consistent (`Latest`) reads that fell back to the backend because the cache did not
    /// catch up with the backend's revision in time.
    consistent_read_fallbacks,
}

/// Adds one to a counter.
pub(super) fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_reads_every_counter() {
        let m = CacheMetrics::default();
        inc(&m.relists);
        inc(&m.relists);
        inc(&m.events);
        let s = m.snapshot();
        assert_eq!((s.relists, s.events, s.consistency_checks), (2, 1, 0));
    }
}

#[cfg(test)]
mod prometheus_tests {
    use super::*;

    #[test]
    fn renders_every_counter() {
        let m = CacheMetrics::default();
        inc(&m.consistency_mismatches);
        let text = m.prometheus_text("piazza_watch_cache");
        assert!(text.contains("# TYPE piazza_watch_cache_consistency_mismatches_total counter\n"));
        assert!(text.contains("\npiazza_watch_cache_consistency_mismatches_total 1\n"));
        assert!(text.contains("\npiazza_watch_cache_relists_total 0\n"));
        assert!(text.lines().filter(|l| l.starts_with("# HELP")).all(|l| !l.ends_with(' ')));
    }
}
