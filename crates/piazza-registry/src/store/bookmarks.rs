//! Periodic BOOKMARK events for watches that allow them. A bookmark carries the
//! resourceVersion of the last event delivered (or the watch's starting revision), so
//! bookmarks never go backwards and never claim a revision whose events are still to come.

use std::time::Duration;

use futures::StreamExt;
use piazza_core::Object;

use super::watch::{HubWatchEvent, HubWatchStream};

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

/// Interleaves a bookmark every `interval` into `events`, starting from `start_revision`.
/// The stream ends when `events` ends.
pub fn with_bookmarks<H: Object>(
    events: HubWatchStream<H>,
    start_revision: u64,
    interval: Duration,
) -> HubWatchStream<H> {
    struct State<H> {
        events: HubWatchStream<H>,
        ticker: tokio::time::Interval,
        last: u64,
    }
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = State { events, ticker, last: start_revision };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        tokio::select! {
            biased;
            next = state.events.next() => {
                let event = next?;
                if let Some(rv) = event_revision(&event) {
                    state.last = state.last.max(rv);
                }
                Some((event, state))
            }
            _ = state.ticker.tick() => {
                let bookmark = HubWatchEvent::Bookmark { resource_version: state.last, initial_events_end: false };
                Some((bookmark, state))
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

    #[tokio::test(start_paused = true)]
    async fn bookmarks_are_monotonic_and_follow_events() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<HubWatchEvent<Thing>>();
        let events: HubWatchStream<Thing> = Box::pin(tokio_stream_from(rx));
        let mut stream = with_bookmarks(events, 7, Duration::from_secs(1));
        tokio::time::advance(Duration::from_millis(1500)).await;
        match stream.next().await.unwrap() {
            HubWatchEvent::Bookmark { resource_version, .. } => assert_eq!(resource_version, 7),
            other => panic!("{other:?}"),
        }
        tx.send(HubWatchEvent::Added(thing(9))).unwrap();
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

    fn tokio_stream_from<T: Send + 'static>(
        mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
    ) -> impl futures::Stream<Item = T> + Send {
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
