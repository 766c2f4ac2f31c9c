//! Reloading certificate material without a restart.
//!
//! Reloadable things ([`ServingCertResolver`](crate::ServingCertResolver),
//! [`CertificateAuthority`](crate::CertificateAuthority), [`ServerTls`](crate::ServerTls))
//! re-read their files and swap in the new material only when the content changed and parses;
//! otherwise they keep what they have. Their `spawn_reloader` methods run that check
//! periodically on the tokio runtime.

use std::sync::{PoisonError, RwLock, Weak};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// How often reloaders check their files unless told otherwise (the Kubernetes default).
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The content was the same as the one in use; nothing was swapped.
    Unchanged,
    /// New content was parsed and is now in use.
    Reloaded,
}

impl ReloadOutcome {
    /// `Reloaded` if either outcome is.
    pub fn or(self, other: ReloadOutcome) -> ReloadOutcome {
        if self == ReloadOutcome::Reloaded || other == ReloadOutcome::Reloaded {
            ReloadOutcome::Reloaded
        } else {
            ReloadOutcome::Unchanged
        }
    }
}

/// A SHA-256 over several byte strings, each length-prefixed so that boundaries count.
pub(crate) fn content_digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Reads a lock, ignoring poisoning: every writer in this crate replaces the value in a single
/// assignment, so a panic elsewhere cannot leave it half-updated.
pub(crate) fn read_lock<T: Clone>(lock: &RwLock<T>) -> T {
    lock.read().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Replaces the value of a lock, ignoring poisoning (see [`read_lock`]).
pub(crate) fn write_lock<T>(lock: &RwLock<T>, value: T) {
    *lock.write().unwrap_or_else(PoisonError::into_inner) = value;
}

/// Spawns a task that calls `reload` on `target` every `interval` (the first call one interval
/// from now), on the blocking pool since it reads files. The task ends by itself once `target`
/// is dropped; abort the returned handle to stop it earlier.
///
/// # Panics
///
/// Panics when called outside a tokio runtime.
pub(crate) fn spawn_periodic<T: Send + Sync + 'static>(
    target: Weak<T>,
    interval: Duration,
    reload: fn(&T),
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Some(strong) = target.upgrade() else {
                return;
            };
            if tokio::task::spawn_blocking(move || reload(&strong)).await.is_err() {
                tracing::error!("certificate reload panicked; stopping the reloader");
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn digest_respects_boundaries() {
        assert_ne!(content_digest(&[b"ab", b"c"]), content_digest(&[b"a", b"bc"]));
        assert_eq!(content_digest(&[b"a", b"bc"]), content_digest(&[b"a", b"bc"]));
    }

    #[test]
    fn outcome_or() {
        use ReloadOutcome::*;
        assert_eq!(Unchanged.or(Unchanged), Unchanged);
        assert_eq!(Unchanged.or(Reloaded), Reloaded);
        assert_eq!(Reloaded.or(Unchanged), Reloaded);
    }

    #[tokio::test(start_paused = true)]
    async fn periodic_task_runs_and_stops_when_target_is_dropped() {
        let counter = Arc::new(AtomicUsize::new(0));
        let handle = spawn_periodic(Arc::downgrade(&counter), Duration::from_secs(60), |c| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert_eq!(counter.load(Ordering::SeqCst), 0, "no reload before one interval");
        for _ in 0..200 {
            if counter.load(Ordering::SeqCst) >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert!(counter.load(Ordering::SeqCst) >= 2);
        drop(counter);
        tokio::time::timeout(Duration::from_secs(600), handle)
            .await
            .expect("task ends once its target is gone")
            .unwrap();
    }
}
