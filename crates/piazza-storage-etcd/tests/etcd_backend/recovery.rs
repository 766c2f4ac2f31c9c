//! What a store does when etcd goes away and comes back, and when the store itself goes.

use std::time::{Duration, Instant};

use futures::StreamExt;
use piazza_storage::{EventType, KeyValue, Storage};
use piazza_storage_etcd::testing::EtcdServer;

use super::support::{PATIENCE, b, connect, next_event};

/// Retries a create until etcd answers again after a restart.
async fn create_eventually(store: &dyn Storage, key: &str) -> KeyValue {
    let began = Instant::now();
    loop {
        match store.create(key, b("v")).await {
            Ok(kv) => return kv,
            Err(e) if began.elapsed() < PATIENCE => {
                eprintln!("create {key} while etcd restarts: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("etcd did not come back: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_resume_after_etcd_restarts() {
    let mut server = EtcdServer::start();
    let store = connect(&server).await;
    let mut w = store.watch("/registry/pizzas/", 0).await.unwrap();
    let first = store.create("/registry/pizzas/ns/before", b("v")).await.unwrap();
    assert_eq!(next_event(&mut w).await.kv, first);

    let pid = server.pid();
    server.restart();
    assert_ne!(server.pid(), pid);

    let second = create_eventually(&*store, "/registry/pizzas/ns/after").await;
    let third = store.update(&second.key, second.mod_revision, b("w")).await.unwrap();
    let event = next_event(&mut w).await;
    assert_eq!((event.event_type, &event.kv), (EventType::Added, &second));
    let event = next_event(&mut w).await;
    assert_eq!((event.event_type, &event.kv), (EventType::Modified, &third));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_etcd() {
    let mut server = EtcdServer::start();
    let store = connect(&server).await;
    store.check_health().await.unwrap();
    server.stop();
    let began = Instant::now();
    let e = store.check_health().await.unwrap_err();
    assert!(began.elapsed() < Duration::from_secs(5), "health check took {:?}", began.elapsed());
    assert!(e.to_string().contains("etcd"), "{e}");
    server.restart();
    let began = Instant::now();
    while let Err(e) = store.check_health().await {
        assert!(began.elapsed() < PATIENCE, "still unhealthy after restart: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_store_ends_its_watches() {
    let server = EtcdServer::start();
    let store = connect(&server).await;
    let mut w = store.watch("/registry/pizzas/", 0).await.unwrap();
    drop(store);
    let end = tokio::time::timeout(PATIENCE, w.next()).await.expect("the watch did not end");
    assert!(end.is_none(), "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_buffer_still_delivers_everything_in_order() {
    let server = EtcdServer::start();
    let store = super::support::connect_with(piazza_storage_etcd::EtcdOptions {
        watch_buffer: 2,
        ..server.options()
    })
    .await;
    let mut w = store.watch("/registry/pizzas/ns/", 0).await.unwrap();
    let mut written = Vec::new();
    for i in 0..100 {
        written.push(store.create(&format!("/registry/pizzas/ns/p{i:03}"), b("v")).await.unwrap());
    }
    for kv in written {
        assert_eq!(next_event(&mut w).await.kv, kv);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_with_an_error_once_etcd_stays_away_past_the_request_timeout() {
    let mut server = EtcdServer::start();
    let options =
        piazza_storage_etcd::EtcdOptions { request_timeout: Duration::from_secs(1), ..server.options() };
    let store = super::support::connect_with(options).await;
    let mut w = store.watch("/registry/pizzas/", 0).await.unwrap();
    let kv = store.create("/registry/pizzas/ns/a", b("v")).await.unwrap();
    assert_eq!(next_event(&mut w).await.kv, kv);
    server.stop();
    match tokio::time::timeout(PATIENCE, w.next()).await.expect("the watch neither recovered nor ended") {
        Some(Err(e)) => {
            assert!(!e.is_compacted(), "{e:?}");
            assert!(e.to_string().contains("etcd"), "{e}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let end = tokio::time::timeout(PATIENCE, w.next()).await.expect("the stream did not end");
    assert!(end.is_none(), "the stream must end after an error, got {end:?}");
}
