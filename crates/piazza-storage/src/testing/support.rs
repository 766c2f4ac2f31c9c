//! Helpers shared by the conformance cases.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use crate::Storage;
use crate::error::StorageError;
use crate::types::{Event, EventType, KeyValue, ListOptions, ListResult, ReadRevision, WatchStream};

/// How long to wait for an event that must come.
pub(crate) const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long to watch for an event that must not come.
pub(crate) const QUIET_PERIOD: Duration = Duration::from_millis(300);

/// Bytes from a string.
pub(crate) fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Creates `key` with `value`, panicking on failure.
pub(crate) async fn put(store: &dyn Storage, key: &str, value: &str) -> KeyValue {
    store.create(key, b(value)).await.unwrap_or_else(|e| panic!("create {key}: {e}"))
}

/// Replaces `key`'s value, whatever its revision, panicking on failure.
pub(crate) async fn set(store: &dyn Storage, key: &str, value: &str) -> KeyValue {
    let current = store.get(key, ReadRevision::Latest).await.unwrap_or_else(|e| panic!("get {key}: {e}"));
    store.update(key, current.mod_revision, b(value)).await.unwrap_or_else(|e| panic!("update {key}: {e}"))
}

/// Deletes `key` unconditionally, panicking on failure.
pub(crate) async fn remove(store: &dyn Storage, key: &str) -> KeyValue {
    store.delete(key, None).await.unwrap_or_else(|e| panic!("delete {key}: {e}"))
}

/// Lists `prefix` with `options`, panicking on failure. Every list is also made with
/// [`Storage::list_shared`], which must return the same page.
pub(crate) async fn list(store: &dyn Storage, prefix: &str, options: ListOptions) -> ListResult {
    let page = store.list(prefix, options.clone()).await.unwrap_or_else(|e| panic!("list {prefix}: {e}"));
    // A consistent list may see a later revision than the first; only compare equal revisions.
    let shared =
        store.list_shared(prefix, options).await.unwrap_or_else(|e| panic!("list_shared {prefix}: {e}"));
    if shared.revision == page.revision {
        let items: Vec<KeyValue> = shared.items.iter().map(|item| item.kv.clone()).collect();
        let shared =
            ListResult { items, revision: shared.revision, more: shared.more, remaining: shared.remaining };
        assert_eq!(shared, page, "list_shared {prefix} differs from list");
    }
    page
}

/// Lists `prefix` at `revision`.
pub(crate) async fn list_at(store: &dyn Storage, prefix: &str, revision: ReadRevision) -> ListResult {
    list(store, prefix, ListOptions { revision, ..Default::default() }).await
}

/// The keys of a list page.
pub(crate) fn keys(result: &ListResult) -> Vec<&str> {
    result.items.iter().map(|kv| kv.key.as_str()).collect()
}

/// The current revision, panicking on failure.
pub(crate) async fn current(store: &dyn Storage) -> u64 {
    store.current_revision().await.expect("current_revision")
}

/// Opens a watch, panicking on failure.
pub(crate) async fn watch(store: &dyn Storage, prefix: &str, after: u64) -> WatchStream {
    store.watch(prefix, after).await.unwrap_or_else(|e| panic!("watch {prefix} after {after}: {e}"))
}

/// The next item of a watch that is not a progress marker (those may come anywhere, and the
/// progress cases check them), which must come within [`EVENT_TIMEOUT`].
pub(crate) async fn next_item(w: &mut WatchStream) -> Option<Result<Event, StorageError>> {
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        let item = tokio::time::timeout_at(deadline, w.next()).await;
        match item.expect("timed out waiting for a watch event") {
            Some(Ok(event)) if event.is_progress() => continue,
            other => return other,
        }
    }
}

/// The next event of a watch, which must be an event.
pub(crate) async fn next_event(w: &mut WatchStream) -> Event {
    match next_item(w).await {
        Some(Ok(event)) => event,
        Some(Err(e)) => panic!("watch failed: {e}"),
        None => panic!("watch ended"),
    }
}

/// Asserts that the next event is `event_type` on `key` at `mod_revision`, and returns it.
pub(crate) async fn expect_event(
    w: &mut WatchStream,
    event_type: EventType,
    key: &str,
    mod_revision: u64,
) -> Event {
    let event = next_event(w).await;
    assert_eq!(
        (event.event_type, event.kv.key.as_str(), event.kv.mod_revision),
        (event_type, key, mod_revision),
        "unexpected event {event:?}"
    );
    event
}

/// Asserts that no event (progress markers aside) arrives for [`QUIET_PERIOD`].
pub(crate) async fn expect_quiet(w: &mut WatchStream) {
    let deadline = tokio::time::Instant::now() + QUIET_PERIOD;
    while let Ok(item) = tokio::time::timeout_at(deadline, w.next()).await {
        match item {
            Some(Ok(event)) if event.is_progress() => continue,
            item => panic!("expected no watch event, got {item:?}"),
        }
    }
}

/// Asserts that the watch yields `Err(Compacted)` and then ends.
pub(crate) async fn expect_compacted_then_end(w: &mut WatchStream) {
    match next_item(w).await {
        Some(Err(StorageError::Compacted { .. })) => {}
        other => panic!("expected Err(Compacted), got {other:?}"),
    }
    let after = next_item(w).await;
    assert!(after.is_none(), "the stream must end after an error, got {after:?}");
}
