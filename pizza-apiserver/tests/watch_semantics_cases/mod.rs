//! The backend-independent registry cases (watch semantics and the guaranteed-update loop),
//! instantiated per backend with [`cases!`].

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use piazza::UserInfo;
use piazza::registry::store::{HubWatchEvent, HubWatchStream};
use piazza::registry::{ListParams, Store};
use piazza::storage::Storage;
use pizza_apiserver::apis::pizza::{Pizza, PizzaTopping, v1alpha1, v1beta1};

/// Generates one `#[tokio::test]` per case in a module named `$name`, with storage from
/// `$factory` (an async fn returning `(Arc<dyn Storage>, guard)`). `progress: true` says the
/// storage reports progress on quiet watches (the watch cache does), so bookmarks must advance
/// past writes the watch does not see.
macro_rules! cases {
    ($name:ident, $factory:expr, progress: $progress:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn leaving_a_selector_is_deleted_with_the_last_matching_state() {
                let (s, _g) = $factory().await;
                watch_semantics_cases::selector_transitions(s).await;
            }
            #[tokio::test]
            async fn deleted_carries_the_deletion_revision() {
                let (s, _g) = $factory().await;
                watch_semantics_cases::deletion_revision(s).await;
            }
            #[tokio::test]
            async fn bookmarks_are_monotonic() {
                let (s, _g) = $factory().await;
                watch_semantics_cases::monotonic_bookmarks(s).await;
            }
            #[tokio::test]
            async fn a_bookmark_advances_past_writes_outside_the_watched_namespace() {
                let (s, _g) = $factory().await;
                watch_semantics_cases::bookmarks_past_writes_elsewhere(s, $progress).await;
            }
            #[tokio::test]
            async fn send_initial_events_ends_with_the_marker_bookmark() {
                let (s, _g) = $factory().await;
                watch_semantics_cases::send_initial_events(s).await;
            }
            #[tokio::test]
            async fn compacted_start_is_a_terminal_410() {
                let (s, _g) = $factory().await;
                watch_semantics_cases::compacted_start(s).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_guaranteed_updates_all_land() {
                let (s, _g) = $factory().await;
                watch_semantics_cases::concurrent_updates(s).await;
            }
            #[tokio::test]
            async fn a_slow_watcher_does_not_stall_another() {
                let (s, _g) = $factory().await;
                watch_semantics_cases::slow_watcher(s).await;
            }
        }
    };
}
pub(crate) use cases;

const NS: &str = "watch-semantics";
/// A namespace whose name starts with [`NS`]: its keys must never leak into a watch of `NS`.
const ELSEWHERE: &str = "watch-semantics-elsewhere";

fn admin() -> UserInfo {
    UserInfo { name: "admin".into(), groups: vec!["system:masters".into()], ..Default::default() }
}

fn store(storage: Arc<dyn Storage>) -> Arc<Store<Pizza>> {
    Store::<Pizza>::builder(storage)
        .storage_version::<v1beta1::Pizza>()
        .version::<v1alpha1::Pizza>()
        .bookmark_interval(Duration::from_millis(100))
        .build()
        .unwrap()
}

fn pizza(name: &str, size: &str) -> Pizza {
    let mut p =
        Pizza { toppings: vec![PizzaTopping { name: "salami".into(), quantity: 1 }], ..Default::default() };
    p.metadata.name = Some(name.into());
    p.metadata.labels = Some([("size".to_owned(), size.to_owned())].into());
    p
}

fn rv(p: &Pizza) -> u64 {
    p.metadata.resource_version.as_deref().unwrap().parse().unwrap()
}

async fn next(stream: &mut HubWatchStream<Pizza>) -> HubWatchEvent<Pizza> {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10 s")
        .expect("the stream is still open")
}

/// The next event that is not a bookmark.
async fn next_change(stream: &mut HubWatchStream<Pizza>) -> HubWatchEvent<Pizza> {
    loop {
        match next(stream).await {
            HubWatchEvent::Bookmark { .. } => continue,
            other => return other,
        }
    }
}

fn from_now() -> ListParams {
    ListParams {
        resource_version: None,
        send_initial_events: Some(false),
        resource_version_match: Some(piazza::registry::params::ResourceVersionMatch::NotOlderThan),
        ..Default::default()
    }
}

pub async fn selector_transitions(storage: Arc<dyn Storage>) {
    let s = store(storage);
    let params = ListParams { label_selector: Some("size=large".into()), ..from_now() };
    let mut w = s.watch(Some(NS), &params).await.unwrap();
    let created = s.create(Some(NS), pizza("p", "large"), &admin(), false).await.unwrap();
    let mut small = created.clone();
    small.metadata.labels = Some([("size".to_owned(), "small".to_owned())].into());
    let left = s.update(Some(NS), "p", small.clone(), &admin(), false).await.unwrap();
    let mut large = left.clone();
    large.metadata.labels = Some([("size".to_owned(), "large".to_owned())].into());
    let back = s.update(Some(NS), "p", large, &admin(), false).await.unwrap();
    // An object that never matches produces nothing.
    s.create(Some(NS), pizza("other", "small"), &admin(), false).await.unwrap();
    let deleted = s.delete(Some(NS), "p", &Default::default(), &admin(), false).await.unwrap();

    match next_change(&mut w).await {
        HubWatchEvent::Added(o) => assert_eq!(rv(&o), rv(&created)),
        other => panic!("expected ADDED, got {other:?}"),
    }
    match next_change(&mut w).await {
        HubWatchEvent::Deleted(o) => {
            // The last state that matched, at the revision where it stopped matching.
            assert_eq!(o.metadata.labels.as_ref().unwrap()["size"], "large");
            assert_eq!(rv(&o), rv(&left));
        }
        other => panic!("expected DELETED on leaving the selector, got {other:?}"),
    }
    match next_change(&mut w).await {
        HubWatchEvent::Added(o) => assert_eq!(rv(&o), rv(&back)),
        other => panic!("expected ADDED on re-entering, got {other:?}"),
    }
    match next_change(&mut w).await {
        HubWatchEvent::Deleted(o) => assert_eq!(rv(&o), rv(&deleted.object)),
        other => panic!("expected DELETED, got {other:?}"),
    }
}

pub async fn deletion_revision(storage: Arc<dyn Storage>) {
    let s = store(storage);
    let mut w = s.watch(Some(NS), &from_now()).await.unwrap();
    let created = s.create(Some(NS), pizza("d", "large"), &admin(), false).await.unwrap();
    let deleted = s.delete(Some(NS), "d", &Default::default(), &admin(), false).await.unwrap();
    assert!(rv(&deleted.object) > rv(&created));
    assert!(matches!(next_change(&mut w).await, HubWatchEvent::Added(_)));
    match next_change(&mut w).await {
        HubWatchEvent::Deleted(o) => assert_eq!(rv(&o), rv(&deleted.object)),
        other => panic!("{other:?}"),
    }
}

pub async fn monotonic_bookmarks(storage: Arc<dyn Storage>) {
    let s = store(storage);
    let params = ListParams { allow_watch_bookmarks: true, ..from_now() };
    let mut w = s.watch(Some(NS), &params).await.unwrap();
    let writer = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            for i in 0..10 {
                s.create(Some(NS), pizza(&format!("b{i}"), "large"), &admin(), false).await.unwrap();
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        })
    };
    let mut last_bookmark = 0;
    let mut last_event = 0;
    let mut bookmarks = 0;
    let mut added = 0;
    while added < 10 || bookmarks < 3 {
        match next(&mut w).await {
            HubWatchEvent::Bookmark { resource_version, initial_events_end } => {
                assert!(!initial_events_end);
                assert!(resource_version >= last_bookmark, "bookmarks went backwards");
                assert!(resource_version >= last_event, "a bookmark is behind a delivered event");
                last_bookmark = resource_version;
                bookmarks += 1;
            }
            HubWatchEvent::Added(o) => {
                assert!(rv(&o) > last_event);
                assert!(rv(&o) > last_bookmark, "an event at or below a bookmark's revision");
                last_event = rv(&o);
                added += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    writer.await.unwrap();
}

/// Writes in another namespace move the store while a bookmark-enabled watch of `NS` sees
/// nothing. Everywhere: every bookmark is monotonic, never above the store's revision, and
/// below the next event; a watch without bookmarks gets none. Where the storage reports
/// progress (`reports_progress`), a bookmark also reaches the last write elsewhere.
pub async fn bookmarks_past_writes_elsewhere(storage: Arc<dyn Storage>, reports_progress: bool) {
    let s = store(Arc::clone(&storage));
    let mut w = s.watch(Some(NS), &ListParams { allow_watch_bookmarks: true, ..from_now() }).await.unwrap();
    let mut plain = s.watch(Some(NS), &from_now()).await.unwrap();
    let mut elsewhere = 0;
    for i in 0..3 {
        elsewhere =
            rv(&s.create(Some(ELSEWHERE), pizza(&format!("e{i}"), "large"), &admin(), false).await.unwrap());
    }

    // Watch the bookmarks go by: long enough for progress to show up where it is reported.
    let patience = Duration::from_secs(if reports_progress { 10 } else { 2 });
    let deadline = tokio::time::Instant::now() + patience;
    let mut last_bookmark = 0;
    while let Ok(event) = tokio::time::timeout_at(deadline, w.next()).await {
        match event.expect("the stream is still open") {
            HubWatchEvent::Bookmark { resource_version, initial_events_end: false } => {
                assert!(resource_version >= last_bookmark, "bookmarks went backwards");
                let current = storage.current_revision().await.unwrap();
                assert!(
                    resource_version <= current,
                    "a bookmark at {resource_version} is ahead of {current}"
                );
                last_bookmark = resource_version;
                if reports_progress && resource_version >= elsewhere {
                    break;
                }
            }
            other => panic!("nothing happens in {NS}, yet the watch got {other:?}"),
        }
    }
    assert!(last_bookmark > 0, "bookmarks come every 100 ms");
    if reports_progress {
        assert!(last_bookmark >= elsewhere, "the bookmark stayed at {last_bookmark}, below {elsewhere}");
    }

    // A write here comes after, above every bookmark; bookmarks before it are below it.
    let here = s.create(Some(NS), pizza("here", "large"), &admin(), false).await.unwrap();
    loop {
        match next(&mut w).await {
            HubWatchEvent::Bookmark { resource_version, .. } => {
                assert!(resource_version >= last_bookmark, "bookmarks went backwards");
                assert!(
                    resource_version < rv(&here),
                    "a bookmark at {resource_version} before the event at {}",
                    rv(&here)
                );
                last_bookmark = resource_version;
            }
            HubWatchEvent::Added(o) => {
                assert_eq!(rv(&o), rv(&here));
                assert!(rv(&o) > last_bookmark);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    // The watch that did not ask for bookmarks got none, progress or not.
    match next(&mut plain).await {
        HubWatchEvent::Added(o) => assert_eq!(rv(&o), rv(&here)),
        other => panic!("expected only the ADDED event, got {other:?}"),
    }
}

pub async fn send_initial_events(storage: Arc<dyn Storage>) {
    let s = store(storage);
    for name in ["i1", "i2", "i3"] {
        s.create(Some(NS), pizza(name, "large"), &admin(), false).await.unwrap();
    }
    let params = ListParams {
        send_initial_events: Some(true),
        allow_watch_bookmarks: true,
        resource_version_match: Some(piazza::registry::params::ResourceVersionMatch::NotOlderThan),
        ..Default::default()
    };
    let mut w = s.watch(Some(NS), &params).await.unwrap();
    let mut names = Vec::new();
    let marker = loop {
        match next(&mut w).await {
            HubWatchEvent::Added(o) => names.push(o.metadata.name.clone().unwrap()),
            HubWatchEvent::Bookmark { resource_version, initial_events_end: true } => break resource_version,
            HubWatchEvent::Bookmark { .. } => {}
            other => panic!("{other:?}"),
        }
    };
    names.sort();
    assert_eq!(names, ["i1", "i2", "i3"]);
    let later = s.create(Some(NS), pizza("i4", "large"), &admin(), false).await.unwrap();
    assert!(rv(&later) > marker);
    match next_change(&mut w).await {
        HubWatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("i4")),
        other => panic!("{other:?}"),
    }
}

pub async fn compacted_start(storage: Arc<dyn Storage>) {
    let s = store(Arc::clone(&storage));
    let first = s.create(Some(NS), pizza("c1", "large"), &admin(), false).await.unwrap();
    for i in 0..5 {
        let mut p = s.get(Some(NS), "c1", piazza::storage::ReadRevision::Latest).await.unwrap();
        p.metadata.labels = Some([("round".to_owned(), i.to_string())].into());
        s.update(Some(NS), "c1", p, &admin(), false).await.unwrap();
    }
    let current = storage.current_revision().await.unwrap();
    storage.compact(current).await.unwrap();
    let params = ListParams { resource_version: Some(rv(&first).to_string()), ..Default::default() };
    let mut w = s.watch(Some(NS), &params).await.unwrap();
    match next(&mut w).await {
        HubWatchEvent::Error(e) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, piazza::core::StatusReason::Expired);
        }
        other => panic!("expected a 410 ERROR, got {other:?}"),
    }
    let end = tokio::time::timeout(Duration::from_secs(10), w.next()).await.unwrap();
    assert!(end.is_none(), "ERROR must be the last event");
}

pub async fn slow_watcher(storage: Arc<dyn Storage>) {
    let s = store(storage);
    let _slow = s.watch(Some(NS), &from_now()).await.unwrap(); // never read
    let mut fast = s.watch(Some(NS), &from_now()).await.unwrap();
    const WRITES: usize = 600;
    let writer = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            for i in 0..WRITES {
                s.create(Some(NS), pizza(&format!("s{i}"), "large"), &admin(), false).await.unwrap();
            }
        })
    };
    let mut last = 0;
    for _ in 0..WRITES {
        match next_change(&mut fast).await {
            HubWatchEvent::Added(o) => {
                assert!(rv(&o) > last);
                last = rv(&o);
            }
            other => panic!("{other:?}"),
        }
    }
    tokio::time::timeout(Duration::from_secs(60), writer).await.expect("writers are never stalled").unwrap();
}

pub async fn concurrent_updates(storage: Arc<dyn Storage>) {
    let s = store(storage);
    s.create(Some(NS), pizza("counter", "large"), &admin(), false).await.unwrap();
    const TASKS: usize = 8;
    const EACH: usize = 5;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                for i in 0..EACH {
                    // Each merge patch adds its own label; the loop re-applies it on conflict.
                    let patch = format!(r#"{{"metadata":{{"labels":{{"t{t}-{i}":"x"}}}}}}"#);
                    s.patch(
                        Some(NS),
                        "counter",
                        "v1beta1",
                        piazza::registry::PatchType::Merge,
                        patch.as_bytes(),
                        piazza::codec::FieldValidation::Strict,
                        &admin(),
                        false,
                    )
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let result = s.get(Some(NS), "counter", piazza::storage::ReadRevision::Latest).await.unwrap();
    let labels = result.metadata.labels.unwrap();
    assert_eq!(labels.len(), 1 + TASKS * EACH, "no update may be lost: {labels:?}");
    assert_eq!(result.metadata.generation, Some(1), "label changes do not bump the generation");
}
