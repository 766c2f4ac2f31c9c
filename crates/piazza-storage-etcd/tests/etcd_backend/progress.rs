//! Watch progress notifications ([`ProgressNotify`]): `Always` turns etcd's notifications into
//! progress markers on a quiet watch (the test etcd sends them every
//! [`PROGRESS_NOTIFY_INTERVAL`]), and `Auto` follows the server's version, so it stays off on
//! Debian's 3.4.23.

use std::time::Duration;

use futures::StreamExt;
use piazza_storage::testing::{TestStore, cases, run_case};
use piazza_storage::{Storage, WatchStream};
use piazza_storage_etcd::testing::{EtcdServer, PROGRESS_NOTIFY_INTERVAL};
use piazza_storage_etcd::{EtcdOptions, ProgressNotify};

use super::support::{b, connect, connect_with, next_event};

/// Long enough for the test etcd to send a few progress notifications.
fn a_few_intervals() -> Duration {
    PROGRESS_NOTIFY_INTERVAL * 4
}

/// Options for `server` with `progress_notify`.
fn with_progress(server: &EtcdServer, progress_notify: ProgressNotify) -> EtcdOptions {
    EtcdOptions { progress_notify, ..server.options() }
}

/// The revision of the next progress marker, which must come within a few intervals, with no
/// event before it.
async fn next_progress(w: &mut WatchStream) -> u64 {
    match tokio::time::timeout(a_few_intervals(), w.next()).await {
        Ok(Some(Ok(event))) if event.is_progress() => event.revision(),
        Ok(other) => panic!("expected a progress marker, got {other:?}"),
        Err(_) => panic!("no progress marker within {:?}", a_few_intervals()),
    }
}

/// etcd's version, as its maintenance Status call reports it.
async fn server_version(server: &EtcdServer) -> String {
    let mut client = etcd_client::Client::connect([server.endpoint()], None).await.expect("connecting");
    client.status().await.expect("etcd's status").version().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_reports_progress_on_a_quiet_watch() {
    let server = EtcdServer::start();
    let store = connect_with(with_progress(&server, ProgressNotify::Always)).await;
    assert!(store.progress_notify());
    let mut w = store.watch("/registry/pizzas/quiet/", 0).await.unwrap();
    let elsewhere = store.create("/registry/pizzas/busy/a", b("v")).await.unwrap();

    let progress = next_progress(&mut w).await;
    assert!(progress >= elsewhere.mod_revision, "progress {progress} is behind {}", elsewhere.mod_revision);
    assert!(progress <= store.current_revision().await.unwrap(), "progress is never ahead of etcd");

    // Markers only move forward, and an event after one is above it.
    let later = store.create("/registry/pizzas/busy/b", b("v")).await.unwrap();
    let next = next_progress(&mut w).await;
    assert!(next > progress && next >= later.mod_revision, "{next} after {progress}, {}", later.mod_revision);
    let here = store.create("/registry/pizzas/quiet/x", b("v")).await.unwrap();
    let event = next_event(&mut w).await;
    assert_eq!(event.kv, here);
    assert!(event.revision() > next);
}

#[test]
fn always_passes_the_conformance_progress_case() {
    // The simple (unloaded) case only: under load, etcd before 3.4.31 / 3.5.13 may send a
    // notification ahead of its events, which is why `Auto` leaves them off there.
    let fresh_store = || async {
        let server = EtcdServer::start();
        let store = connect_with(with_progress(&server, ProgressNotify::Always)).await;
        TestStore::with_guard(store, server)
    };
    run_case(fresh_store, cases::progress_is_monotonic_and_never_ahead);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_follows_the_servers_version() {
    let server = EtcdServer::start();
    let version = server_version(&server).await;
    let store = connect(&server).await;
    assert_eq!(store.options().progress_notify, ProgressNotify::Auto, "Auto is the default");
    assert_eq!(store.progress_notify(), ProgressNotify::trusts(&version), "etcd {version}");
    if version.starts_with("3.4.") && !ProgressNotify::trusts(&version) {
        // Debian's 3.4.23: nothing is asked for, so a quiet watch stays silent.
        let mut w = store.watch("/registry/pizzas/quiet/", 0).await.unwrap();
        store.create("/registry/pizzas/busy/a", b("v")).await.unwrap();
        let quiet = tokio::time::timeout(PROGRESS_NOTIFY_INTERVAL * 3, w.next()).await;
        assert!(quiet.is_err(), "no progress from etcd {version}: {quiet:?}");
    }
    let never = connect_with(with_progress(&server, ProgressNotify::Never)).await;
    assert!(!never.progress_notify());
}
