//! Two stores on one etcd, as two Piazza replicas: each sees the other's writes, in order,
//! through its watch, and compare-and-swap arbitrates between them.

use std::sync::Arc;

use piazza_storage::{EventType, ReadRevision, Revision, Storage};
use piazza_storage_etcd::testing::EtcdServer;

use super::support::{b, connect, next_event};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_see_each_others_writes_in_order() {
    let server = EtcdServer::start();
    let (a, b_store) = (connect(&server).await, connect(&server).await);
    let start = a.current_revision().await.unwrap();
    let mut watch_a = a.watch("/registry/pizzas/", 0).await.unwrap();
    let mut watch_b = b_store.watch("/registry/pizzas/", start).await.unwrap();

    // Both replicas write at once, each to its own keys, with updates and deletes.
    let writers: Vec<_> = [Arc::clone(&a), Arc::clone(&b_store)]
        .into_iter()
        .enumerate()
        .map(|(replica, store)| {
            tokio::spawn(async move {
                let mut written: Vec<(Revision, EventType, String)> = Vec::new();
                for i in 0..20 {
                    let key = format!("/registry/pizzas/r{replica}/p{i}");
                    let kv = store.create(&key, b("v1")).await.unwrap();
                    written.push((kv.mod_revision, EventType::Added, key.clone()));
                    if i % 2 == 0 {
                        let kv = store.update(&key, kv.mod_revision, b("v2")).await.unwrap();
                        written.push((kv.mod_revision, EventType::Modified, key.clone()));
                    }
                    if i % 5 == 0 {
                        let kv = store.delete(&key, None).await.unwrap();
                        written.push((kv.mod_revision, EventType::Deleted, key));
                    }
                }
                written
            })
        })
        .collect();
    let mut written = Vec::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    written.sort_by_key(|(revision, _, _)| *revision);

    for (n, (revision, event_type, key)) in written.iter().enumerate() {
        for (name, w) in [("a", &mut watch_a), ("b", &mut watch_b)] {
            let event = next_event(w).await;
            assert_eq!(
                (event.kv.mod_revision, event.event_type, &event.kv.key),
                (*revision, *event_type, key),
                "replica {name}, event {n}"
            );
        }
    }

    // A read on one replica sees the other's latest write at once (reads are linearizable).
    let (_, _, last_key) = written.iter().rev().find(|(_, t, _)| *t != EventType::Deleted).unwrap();
    let on_a = a.get(last_key, ReadRevision::Latest).await.unwrap();
    assert_eq!(b_store.get(last_key, ReadRevision::Latest).await.unwrap(), on_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_swap_arbitrates_between_replicas() {
    let server = EtcdServer::start();
    let (a, b_store) = (connect(&server).await, connect(&server).await);
    let created = a.create("/registry/pizzas/ns/contended", b("v1")).await.unwrap();
    let (ra, rb) = tokio::join!(
        a.update(&created.key, created.mod_revision, b("from-a")),
        b_store.update(&created.key, created.mod_revision, b("from-b")),
    );
    let (winner, loser) = match (ra, rb) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("exactly one update must win: {other:?}"),
    };
    assert!(loser.is_conflict(), "{loser:?}");
    assert_eq!(b_store.get(&created.key, ReadRevision::Latest).await.unwrap(), winner);
    // Creating the same key on both: one AlreadyExists.
    let (ca, cb) = tokio::join!(
        a.create("/registry/pizzas/ns/new", b("a")),
        b_store.create("/registry/pizzas/ns/new", b("b"))
    );
    assert!(ca.is_ok() != cb.is_ok(), "{ca:?} {cb:?}");
    assert!(ca.err().or(cb.err()).unwrap().is_already_exists());
}
