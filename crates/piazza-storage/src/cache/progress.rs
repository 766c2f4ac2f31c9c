//! The cache's progress task: every interval, it sends a progress marker to the attached
//! watchers whose scope was quiet while the cache's revision moved (see
//! `State::report_progress` and the [module docs](super#progress)).
//!
//! The task holds only a weak reference to the cache and stops when the cache is dropped.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use super::CachedStorage;
use super::reflector::pause;

/// The shortest interval between rounds, whatever the options say.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Runs a round of progress markers every `interval` while the cache lives.
pub(super) async fn run(cache: Weak<CachedStorage>, mut shutdown: watch::Receiver<()>, interval: Duration) {
    let interval = interval.max(MIN_INTERVAL);
    while pause(&mut shutdown, interval).await {
        let Some(cache) = cache.upgrade() else { return };
        let sent = cache.state_mut().report_progress();
        cache.metrics.progress_markers.fetch_add(sent as u64, Ordering::Relaxed);
    }
}
