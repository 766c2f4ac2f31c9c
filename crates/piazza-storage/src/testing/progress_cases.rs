//! Progress markers ([`EventType::Progress`](crate::EventType::Progress)): the contract documented on
//! [`Storage::watch`]. A backend may emit them or not; when it does, they never go backwards,
//! no event follows a marker at or below its revision, a marker never exceeds the store's
//! current revision, and a watch resumed from a marker misses nothing. Every check here is
//! vacuous for a backend that never emits one, so such a backend passes.
//!
//! These cases leave the store quiet for [`PROGRESS_PAUSE`] at a time, so a backend that
//! reports progress on a timer (the watch cache does, every second by default) gets to.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::support::{EVENT_TIMEOUT, b, current, next_event, put, watch};
use crate::Storage;
use crate::types::{Revision, WatchStream};

/// How long the progress cases leave the store quiet, for timer-driven progress to show up.
pub const PROGRESS_PAUSE: Duration = Duration::from_millis(1500);

/// The watched scope, and keys just outside it (`ns1/` is not under `ns/`).
const SCOPE: &str = "/pods/ns/";
const OUTSIDE: [&str; 2] = ["/pods/other/", "/pods/ns1/"];

/// What a watch yielded, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item {
    Event(Revision),
    Progress(Revision),
}

impl Item {
    fn revision(self) -> Revision {
        match self {
            Item::Event(r) | Item::Progress(r) => r,
        }
    }
}

/// Reads `w` until the event on `last_key`, then for [`PROGRESS_PAUSE`] more; checks each
/// progress marker against the store's current revision as it arrives.
async fn collect(store: &dyn Storage, w: &mut WatchStream, last_key: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut until = None;
    loop {
        let deadline = until.unwrap_or_else(|| tokio::time::Instant::now() + EVENT_TIMEOUT);
        let next = match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(next) => next,
            Err(_) if until.is_some() => return items,
            Err(_) => panic!("timed out waiting for the event on {last_key}; got {items:?}"),
        };
        let event = match next {
            Some(Ok(event)) => event,
            other => panic!("expected an event or a progress marker, got {other:?} after {items:?}"),
        };
        if event.is_progress() {
            let now = current(store).await;
            assert!(
                event.revision() <= now,
                "progress {} is ahead of the store's revision {now}",
                event.revision()
            );
            items.push(Item::Progress(event.revision()));
            continue;
        }
        items.push(Item::Event(event.revision()));
        if event.kv.key == last_key {
            until = Some(tokio::time::Instant::now() + PROGRESS_PAUSE);
        }
    }
}

/// Checks what a watch after `after` yielded against the in-scope writes: revisions strictly
/// increase from above `after` (so progress never goes backwards, and no event follows a marker
/// at or below its revision), and the events are exactly the in-scope writes after `after`.
fn check(items: &[Item], after: Revision, in_scope: &[Revision]) {
    let mut last = after;
    for item in items {
        assert!(item.revision() > last, "{item:?} is not above {last}: {items:?}");
        last = item.revision();
    }
    let events: Vec<Revision> =
        items.iter().filter_map(|i| if let Item::Event(r) = i { Some(*r) } else { None }).collect();
    let expected: Vec<Revision> = in_scope.iter().copied().filter(|&r| r > after).collect();
    assert_eq!(events, expected, "the events of the watch after {after}: {items:?}");
}

/// A watch resumed from the first progress marker of `items` (if any) yields exactly the
/// events that came after that marker, then a new write: the marker claimed nothing it had not
/// delivered.
async fn resume_from_first_progress(store: &dyn Storage, items: &[Item]) {
    let Some(marker) = items.iter().find_map(|i| if let Item::Progress(r) = i { Some(*r) } else { None })
    else {
        return;
    };
    let mut resumed = watch(store, SCOPE, marker).await;
    let fresh = put(store, &format!("{SCOPE}resumed-{marker}"), "v").await;
    let mut expected: Vec<Revision> = items
        .iter()
        .filter_map(|i| if let Item::Event(r) = i { Some(*r) } else { None })
        .filter(|&r| r > marker)
        .collect();
    expected.push(fresh.mod_revision);
    for want in expected {
        let got = next_event(&mut resumed).await;
        assert_eq!(
            got.revision(),
            want,
            "resumed from progress {marker}: expected the event at {want}, got {got:?}"
        );
    }
}

/// Writes out of scope move the store while a watch's scope is quiet: a backend may report
/// that progress, on a watch from now and on one from a future revision, and whatever it
/// reports is monotonic, never ahead of the store or of the events, and safe to resume from.
pub async fn progress_is_monotonic_and_never_ahead(store: Arc<dyn Storage>) {
    let start = current(&*store).await;
    let future = start + 3;
    let mut from_now = watch(&*store, SCOPE, 0).await;
    let mut from_future = watch(&*store, SCOPE, future).await;
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut in_scope = Vec::new();
            for round in 0..2 {
                for (n, outside) in OUTSIDE.iter().enumerate() {
                    for i in 0..3 {
                        put(&*store, &format!("{outside}r{round}-{n}-{i}"), "v").await;
                    }
                }
                in_scope.push(put(&*store, &format!("{SCOPE}r{round}"), "v").await.mod_revision);
                put(&*store, &format!("{}after-r{round}", OUTSIDE[0]), "v").await;
                tokio::time::sleep(PROGRESS_PAUSE).await;
            }
            in_scope.push(put(&*store, &format!("{SCOPE}zz-last"), "v").await.mod_revision);
            put(&*store, &format!("{}zz-after", OUTSIDE[1]), "v").await;
            in_scope
        })
    };
    let last_key = format!("{SCOPE}zz-last");
    let (now_items, future_items) = tokio::join!(
        collect(&*store, &mut from_now, &last_key),
        collect(&*store, &mut from_future, &last_key)
    );
    let in_scope = writer.await.expect("the writer");
    check(&now_items, start, &in_scope);
    check(&future_items, future, &in_scope);
    resume_from_first_progress(&*store, &now_items).await;
}

/// Progress reported while writers race in and out of the scope is still never ahead of the
/// events: the watch gets every in-scope write, in order, and nothing at or below a marker
/// after it.
pub async fn progress_under_concurrent_writes_is_never_ahead(store: Arc<dyn Storage>) {
    let start = current(&*store).await;
    let mut w = watch(&*store, SCOPE, 0).await;
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut in_scope = Vec::new();
                for i in 0..48 {
                    let outside = OUTSIDE[i % 2];
                    store.create(&format!("{outside}t{t}-{i}"), b("v")).await.expect("create outside");
                    if i % 6 == t {
                        let kv =
                            store.create(&format!("{SCOPE}t{t}-{i}"), b("v")).await.expect("create inside");
                        in_scope.push(kv.mod_revision);
                    }
                    if i % 4 == 3 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                in_scope
            })
        })
        .collect();
    let last_key = format!("{SCOPE}zz-last");
    let collector = collect(&*store, &mut w, &last_key);
    let writers = async {
        let mut in_scope = Vec::new();
        for task in tasks {
            in_scope.extend(task.await.expect("a writer"));
        }
        in_scope.push(put(&*store, &last_key, "v").await.mod_revision);
        put(&*store, &format!("{}zz-after", OUTSIDE[0]), "v").await;
        in_scope.sort_unstable();
        in_scope
    };
    let (items, in_scope) = tokio::join!(collector, writers);
    check(&items, start, &in_scope);
    resume_from_first_progress(&*store, &items).await;
}
