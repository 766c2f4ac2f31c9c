//! Periodic BOOKMARK events for watches that allow them. A bookmark carries the highest
//! revision the watch is known to be complete up to: the watch's starting revision, the
//! resourceVersion of the last event delivered, or a [`Step::Progress`] (a storage progress
//! marker, or an event the selection dropped), whichever is highest. So bookmarks never go
//! backwards, never claim a revision whose events are still to come, and keep advancing while
//! the watched collection is quiet if the storage reports progress (the watch cache does).

use std::time::Duration;

use futures::StreamExt;
use piazza_core::Object;

use super::watch::{HubWatchEvent, HubWatchStream, Step, StepStream};

/// How often bookmarks are sent, as upstream's watch cache does.
pub const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

fn event_revision<H: Object>(event: &HubWatchEvent<H>) -> Option<u64> {
    let object = match event {
        HubWatchEvent::Added(o) | HubWatchEvent::Modified(o) | HubWatchEvent::Deleted(o) => o,
        HubWatchEvent::Bookmark { resource_version, .. } => return Some(*resource_version),
        HubWatchEvent::Error(_) => return None,
    };
    object.metadata().resource_version.as_deref().and_then(|rv| rv.parse().ok())
}

/// Interleaves a bookmark every `interval` into the events of `steps`, starting from
/// `start_revision`; progress steps only move the revision of the next bookmark. The stream
/// ends when `steps` ends.
pub(super) fn with_bookmarks<H: Object>(
    steps: StepStream<H>,
    start_revision: u64,
    interval: Duration,
) -> HubWatchStream<H> {
    struct State<H> {
        steps: StepStream<H>,
        ticker: tokio::time::Interval,
        last: u64,
    }
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = State { steps, ticker, last: start_revision };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        loop {
            tokio::select! {
                biased;
                next = state.steps.next() => match next? {
                    Step::Event(event) => {
                        if let Some(rv) = event_revision(&event) {
                            state.last = state.last.max(rv);
                        }
                        return Some((event, state));
                    }
                    Step::Progress(rv) => state.last = state.last.max(rv),
                },
                _ = state.ticker.tick() => {
                    let bookmark =
                        HubWatchEvent::Bookmark { resource_version: state.last, initial_events_end: false };
                    return Some((bookmark, state));
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use piazza_core::meta::ObjectMeta;

    #[derive(Clone, Debug)]
    struct Thing {
        metadata: ObjectMeta,
    }
    piazza_core::impl_object!(Thing);

    fn thing(rv: u64) -> Thing {
        Thing { metadata: ObjectMeta { resource_version: Some(rv.to_string()), ..Default::default() } }
    }

    fn bookmark(event: HubWatchEvent<Thing>) -> u64 {
        match event {
            HubWatchEvent::Bookmark { resource_version, initial_events_end: false } => resource_version,
            other => panic!("expected a bookmark, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn bookmarks_are_monotonic_and_follow_events() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Step<Thing>>();
        let steps: StepStream<Thing> = Box::pin(tokio_stream_from(rx));
        let mut stream = with_bookmarks(steps, 7, Duration::from_secs(1));
        tokio::time::advance(Duration::from_millis(1500)).await;
        match stream.next().await.unwrap() {
            HubWatchEvent::Bookmark { resource_version, .. } => assert_eq!(resource_version, 7),
            other => panic!("{other:?}"),
        }
        tx.send(Step::Event(HubWatchEvent::Added(std::sync::Arc::new(thing(9))))).unwrap();
        assert!(matches!(stream.next().await.unwrap(), HubWatchEvent::Added(_)));
        tokio::time::advance(Duration::from_secs(1)).await;
        match stream.next().await.unwrap() {
            HubWatchEvent::Bookmark { resource_version, .. } => assert_eq!(resource_version, 9),
            other => panic!("{other:?}"),
        }
        drop(tx);
        // The stream ends with its events.
        loop {
            match stream.next().await {
                None => break,
                Some(HubWatchEvent::Bookmark { resource_version, .. }) => assert_eq!(resource_version, 9),
                Some(other) => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn progress_moves_the_next_bookmark_but_is_never_an_event() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Step<Thing>>();
        let steps: StepStream<Thing> = Box::pin(tokio_stream_from(rx));
        let mut stream = with_bookmarks(steps, 7, Duration::from_secs(1));
        tx.send(Step::Progress(12)).unwrap();
        tx.send(Step::Progress(10)).unwrap(); // late and lower: ignored
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(bookmark(stream.next().await.unwrap()), 12, "progress alone moves the bookmark");
        tx.send(Step::Event(HubWatchEvent::Added(std::sync::Arc::new(thing(13))))).unwrap();
        tx.send(Step::Progress(20)).unwrap();
        assert!(matches!(stream.next().await.unwrap(), HubWatchEvent::Added(_)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(bookmark(stream.next().await.unwrap()), 20);
        drop(tx);
        while let Some(event) = stream.next().await {
            assert_eq!(bookmark(event), 20, "nothing but bookmarks, never lower");
        }
    }

    fn tokio_stream_from<T: Send + 'static>(
        mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
    ) -> impl futures::Stream<Item = T> + Send {
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
