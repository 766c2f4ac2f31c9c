//! Whether watches ask etcd for progress notifications.
//!
//! etcd can tell a watcher, periodically, "you have every event up to revision R" (a watch
//! response with a header and no events). Watches turn those into storage progress markers
//! ([`piazza_storage::Event::progress`]), so bookmarks advance while the watched prefix is
//! quiet. Older etcd releases send them before events they cover under load (etcd-io/etcd
//! #15220 and follow-ups); Kubernetes trusts them only from 3.4.31 and 3.5.13 on, and so does
//! [`ProgressNotify::Auto`]. Debian's `etcd-server` is 3.4.23: `Auto` leaves them off there.
//!
//! Whatever the setting, a notification only ever becomes a marker for the consumer: it never
//! moves the revision a watch resumes from, so an untrustworthy one can at worst make a
//! bookmark early, never lose an event.

use std::time::Duration;

use etcd_client::Client;

/// Whether watches ask etcd for progress notifications (`WatchOptions::with_progress_notify`),
/// see [`EtcdOptions::progress_notify`](crate::EtcdOptions::progress_notify).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProgressNotify {
    /// Only if the etcd member that answers the maintenance Status call at connect time runs
    /// a release with the fixes Kubernetes requires ([`ProgressNotify::trusts`]); off if it
    /// does not answer. The default.
    #[default]
    Auto,
    /// Always (for an etcd known to be fixed, or to test against an old one).
    Always,
    /// Never.
    Never,
}

impl ProgressNotify {
    /// Whether the etcd release `version` (as the maintenance Status call reports it, e.g.
    /// `3.4.23`) sends progress notifications Kubernetes trusts: 3.4.31 or later in 3.4.x,
    /// 3.5.13 or later in 3.5.x, and every release from 3.6.0 on. A pre-release counts as
    /// older than its release (as in semver), and an unreadable version is not trusted.
    pub fn trusts(version: &str) -> bool {
        let Some(version) = Release::parse(version) else { return false };
        let first_fixed = match (version.major, version.minor) {
            (3, 4) => Release::new(3, 4, 31),
            (3, 5) => Release::new(3, 5, 13),
            _ => Release::new(3, 6, 0),
        };
        version >= first_fixed
    }

    /// Decides, for a connected `client`, whether watches ask for progress notifications.
    pub(crate) async fn resolve(self, client: &Client, timeout: Duration) -> bool {
        match self {
            ProgressNotify::Always => true,
            ProgressNotify::Never => false,
            ProgressNotify::Auto => {
                let mut maintenance = client.maintenance_client();
                match tokio::time::timeout(timeout, maintenance.status()).await {
                    Ok(Ok(status)) => {
                        let enabled = ProgressNotify::trusts(status.version());
                        tracing::info!(
                            version = status.version(),
                            enabled,
                            "etcd watch progress notifications (auto)"
                        );
                        enabled
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "etcd's version is unknown; watch progress notifications stay off");
                        false
                    }
                    Err(_) => {
                        tracing::warn!(
                            ?timeout,
                            "etcd's version is unknown; watch progress notifications stay off"
                        );
                        false
                    }
                }
            }
        }
    }
}

/// An etcd release, ordered as semver orders them (a pre-release before its release).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Release {
    major: u64,
    minor: u64,
    patch: u64,
    /// False for a pre-release such as `3.5.13-rc.0`.
    released: bool,
}

impl Release {
    const fn new(major: u64, minor: u64, patch: u64) -> Release {
        Release { major, minor, patch, released: true }
    }

    /// `3.5.13`, `v3.5.13`, `3.5.13-rc.0` or `3.6` (patch 0); `None` for anything else.
    fn parse(version: &str) -> Option<Release> {
        let version = version.trim().trim_start_matches('v');
        let version = version.split_once('+').map_or(version, |(v, _build)| v);
        let (numbers, released) = match version.split_once('-') {
            Some((numbers, _pre_release)) => (numbers, false),
            None => (version, true),
        };
        let mut parts = numbers.split('.').map(|p| p.parse::<u64>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().unwrap_or(Some(0))?;
        if parts.next().is_some() {
            return None;
        }
        Some(Release { major, minor, patch, released })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusts_the_releases_kubernetes_trusts() {
        for version in
            ["3.4.31", "3.4.40", "3.5.13", "3.5.21", "3.6.0", "3.6.1", "3.10.0", "4.0.0", "v3.5.13"]
        {
            assert!(ProgressNotify::trusts(version), "{version}");
        }
        for version in ["3.4.23", "3.4.30", "3.5.0", "3.5.12", "3.3.27", "2.3.8"] {
            assert!(!ProgressNotify::trusts(version), "{version}");
        }
    }

    #[test]
    fn a_pre_release_is_older_than_its_release() {
        assert!(!ProgressNotify::trusts("3.5.13-rc.0"));
        assert!(!ProgressNotify::trusts("3.6.0-alpha.0"));
        assert!(ProgressNotify::trusts("3.5.14-rc.0"));
        assert!(ProgressNotify::trusts("3.5.13+build.1"), "build metadata is not a pre-release");
        assert!(ProgressNotify::trusts("3.6"), "a missing patch is 0");
    }

    #[test]
    fn an_unreadable_version_is_not_trusted() {
        for version in ["", "banana", "3", "x.5.13", "3.x.1", "3.5.13.1", "3.5.x"] {
            assert!(!ProgressNotify::trusts(version), "{version:?}");
        }
    }

    #[test]
    fn auto_is_the_default() {
        assert_eq!(ProgressNotify::default(), ProgressNotify::Auto);
    }
}
