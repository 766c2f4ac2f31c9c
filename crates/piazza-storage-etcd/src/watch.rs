//! Watches: an etcd watch per consumer, drained by a task into a bounded buffer.
//!
//! Each [`stream`] runs a pump task that owns one etcd watch (`start_revision = seen + 1`,
//! `prev_kv`, the key range of the scope) and reads it as fast as etcd sends, so a consumer
//! that does not read never holds up the gRPC connection that every other watch and request
//! share. The pump tracks `seen`, the revision up to which it has buffered (or skipped as out
//! of scope) every event, and only ever cuts between revisions.
//!
//! - **Slow consumer.** When the buffer cannot take the next revision's events, the pump drops
//!   the etcd watch, waits until the consumer has drained half the buffer, and watches again
//!   from `seen + 1`: nothing is skipped, and etcd's history, not memory, holds the backlog.
//! - **Transient failures** (etcd restarted, no leader, a broken stream): the pump re-watches
//!   from `seen + 1` with backoff, and gives up with an error only after failing for longer
//!   than the request timeout.
//! - **Compaction.** Before every (re)watch the pump checks, with a count-only range at `seen`,
//!   that `seen` is not below the compacted revision (etcd would accept a watch from exactly
//!   the compacted revision, whose tombstones may be gone). If it is, or etcd cancels the watch
//!   as compacted, the consumer gets `Err(Compacted)` and the stream ends.
//! - **Progress.** With [`Settings::progress_notify`] the etcd watch asks for progress
//!   notifications, and one (a response with a header and no events that is not the
//!   `created` one) at a revision above everything the consumer has been given becomes a
//!   progress marker ([`Event::progress`]). etcd sends it after every event it covers, so the
//!   marker is queued after them too; when the buffer is full it is simply dropped. It never
//!   moves `seen`: a re-watch resumes from the last *event*, so an untrustworthy notification
//!   (etcd before 3.4.31 / 3.5.13, see [`ProgressNotify`](crate::ProgressNotify)) could at
//!   worst make a marker early, never lose an event. An event at or below a marker already
//!   given is delivered anyway, and logged.

use std::time::{Duration, Instant};

use etcd_client::{EventType as EtcdEventType, WatchOptions};
use piazza_storage::{Event, EventType, Revision, StorageError, WatchStream, in_watch_scope};
use tokio::sync::{mpsc, watch};

use crate::bounds;
use crate::client::{Conn, header_revision};
use crate::error::{EtcdError, unexpected};
use crate::keys::{convert, from_etcd, to_etcd, watch_range};

/// The first pause before re-watching after a failure.
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// The longest pause between re-watch attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What the consumer receives.
type Item = Result<Event, StorageError>;

/// How every watch of a store behaves.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// How many items the consumer's buffer holds.
    pub(crate) buffer: usize,
    /// Ask etcd for progress notifications and pass them on as progress markers.
    pub(crate) progress_notify: bool,
}

/// Starts a watch of `scope` for events after `seen`. `verify_start` asks for the compaction
/// check before the first watch (not needed when `seen` was just read as the current revision).
pub(crate) fn stream(
    conn: Conn,
    scope: &str,
    seen: Revision,
    verify_start: bool,
    settings: Settings,
    shutdown: watch::Receiver<()>,
) -> WatchStream {
    let (tx, rx) = mpsc::channel(settings.buffer.max(2));
    let pump = Pump {
        conn,
        scope: scope.to_owned(),
        seen,
        progressed: seen,
        progress_notify: settings.progress_notify,
        verify_start,
        tx,
        shutdown,
    };
    tokio::spawn(pump.run());
    Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

/// The task behind one watch stream.
struct Pump {
    conn: Conn,
    scope: String,
    /// Every revision up to here has been buffered or skipped.
    seen: Revision,
    /// The highest progress marker buffered (or the start): the next must be above it.
    progressed: Revision,
    /// Ask etcd for progress notifications.
    progress_notify: bool,
    /// Check for compaction before the next etcd watch.
    verify_start: bool,
    tx: mpsc::Sender<Item>,
    /// Changes (closes) when the store is dropped.
    shutdown: watch::Receiver<()>,
}

/// Why one etcd watch ended.
enum Ended {
    /// The consumer or the store is gone.
    Done,
    /// The buffer is full.
    Lagged,
    /// A transient failure; watching again may work.
    Broken(StorageError),
}

/// Backoff between attempts to re-establish a broken watch.
#[derive(Default)]
struct Retry {
    /// When the current run of failures began.
    failing_since: Option<Instant>,
    /// The pause before the next attempt.
    backoff: Duration,
}

impl Retry {
    /// The pause before the next attempt, or `None` once failures have lasted `give_up`.
    fn next_pause(&mut self, give_up: Duration) -> Option<Duration> {
        match self.failing_since {
            None => self.failing_since = Some(Instant::now()),
            Some(since) if since.elapsed() > give_up => return None,
            Some(_) => {}
        }
        self.backoff = (self.backoff * 2).clamp(MIN_BACKOFF, MAX_BACKOFF);
        Some(self.backoff)
    }
}

/// How a batch of events went into the buffer.
enum Delivered {
    /// Every event is buffered.
    All,
    /// The buffer had no room; nothing of the revision that did not fit is buffered.
    Lagged,
    /// The consumer is gone.
    Closed,
}

// === impl Pump ===

impl Pump {
    async fn run(mut self) {
        let mut retry = Retry::default();
        loop {
            let ended = match self.watch_once(&mut retry).await {
                Ok(ended) => ended,
                Err(terminal) => return self.finish(terminal).await,
            };
            match ended {
                Ended::Done => return,
                Ended::Lagged => {
                    tracing::debug!(scope = %self.scope, after = self.seen, "watch consumer fell behind");
                    if !self.wait_for_room().await {
                        return;
                    }
                }
                Ended::Broken(error) => {
                    let Some(pause) = retry.next_pause(self.conn.timeout()) else {
                        return self.finish(error).await;
                    };
                    tracing::warn!(scope = %self.scope, after = self.seen, ?error, "etcd watch broke; watching again");
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = self.tx.closed() => return,
                        _ = self.shutdown.changed() => return,
                    }
                }
            }
        }
    }

    /// Runs one etcd watch until it ends. `Err` is terminal for the stream.
    async fn watch_once(&mut self, retry: &mut Retry) -> Result<Ended, StorageError> {
        if self.verify_start {
            match self.conn.probe(to_etcd(self.seen)).await {
                Ok(_) | Err(EtcdError::FutureRevision) => {}
                Err(EtcdError::Compacted) => return Err(bounds::compacted(&self.conn, self.seen).await),
                Err(e) => {
                    return Ok(Ended::Broken(e.into_storage("checking an etcd watch's start revision")));
                }
            }
        }
        self.verify_start = true;
        let (start, end) = watch_range(&self.scope);
        let mut options =
            WatchOptions::new().with_range(end).with_start_revision(to_etcd(self.seen + 1)).with_prev_key();
        if self.progress_notify {
            options = options.with_progress_notify();
        }
        let mut stream = match self.conn.watch(start, options).await {
            Ok(stream) => stream,
            Err(e) => return Ok(Ended::Broken(e.into_storage("opening an etcd watch"))),
        };
        loop {
            let message = tokio::select! {
                () = self.tx.closed() => return Ok(Ended::Done),
                _ = self.shutdown.changed() => return Ok(Ended::Done),
                message = stream.message() => message,
            };
            let response = match message {
                Ok(Some(response)) => response,
                Ok(None) => return Ok(Ended::Broken(broken("etcd closed the watch stream"))),
                Err(e) => return Ok(Ended::Broken(EtcdError::classify(e).into_storage("watching etcd"))),
            };
            if response.compact_revision() > 0 {
                let compacted = from_etcd(response.compact_revision());
                return Err(StorageError::Compacted { requested: self.seen, compacted });
            }
            if response.canceled() {
                let reason = format!("etcd cancelled the watch: {}", response.cancel_reason());
                return Ok(Ended::Broken(broken(&reason)));
            }
            if response.created() {
                *retry = Retry::default();
            } else if self.progress_notify && response.events().is_empty() {
                if let Delivered::Closed = self.report_progress(header_revision(response.header())) {
                    return Ok(Ended::Done);
                }
                continue;
            }
            match self.deliver(response.events()).await? {
                Delivered::All => {}
                Delivered::Lagged => return Ok(Ended::Lagged),
                Delivered::Closed => return Ok(Ended::Done),
            }
        }
    }

    /// Buffers the events of one response, a whole revision at a time.
    async fn deliver(&mut self, events: &[etcd_client::Event]) -> Result<Delivered, StorageError> {
        let mut rest = events;
        while let Some(first) = rest.first() {
            let revision = event_revision(first);
            let len = rest.iter().take_while(|e| event_revision(e) == revision).count();
            let (group, tail) = rest.split_at(len);
            rest = tail;
            if revision <= self.seen {
                continue; // already delivered before a re-watch
            }
            if revision <= self.progressed {
                tracing::warn!(
                    scope = %self.scope,
                    revision,
                    progress = self.progressed,
                    "etcd sent an event below a progress notification it had already sent; delivering it"
                );
            }
            let mut batch = Vec::with_capacity(group.len());
            for event in group {
                if let Some(event) = translate(event, &self.scope)? {
                    batch.push(event);
                }
            }
            match self.push(batch).await {
                Delivered::All => self.seen = revision,
                other => return Ok(other),
            }
        }
        Ok(Delivered::All)
    }

    /// Puts one revision's events into the buffer, all or none.
    async fn push(&self, batch: Vec<Event>) -> Delivered {
        if batch.is_empty() {
            return Delivered::All;
        }
        if batch.len() > self.tx.max_capacity() {
            // A transaction wider than the buffer: wait for the consumer, event by event.
            for event in batch {
                if self.tx.send(Ok(event)).await.is_err() {
                    return Delivered::Closed;
                }
            }
            return Delivered::All;
        }
        match self.tx.try_reserve_many(batch.len()) {
            Ok(permits) => {
                permits.zip(batch).for_each(|(permit, event)| permit.send(Ok(event)));
                Delivered::All
            }
            Err(mpsc::error::TrySendError::Full(())) => Delivered::Lagged,
            Err(mpsc::error::TrySendError::Closed(())) => Delivered::Closed,
        }
    }

    /// Passes a progress notification at `revision` on as a progress marker, if it is above
    /// everything the consumer has been given. A full buffer drops it: markers are optional.
    fn report_progress(&mut self, revision: Option<Revision>) -> Delivered {
        let Some(revision) = revision.filter(|&r| r > self.seen.max(self.progressed)) else {
            return Delivered::All;
        };
        match self.tx.try_send(Ok(Event::progress(revision))) {
            Ok(()) => {
                self.progressed = revision;
                Delivered::All
            }
            Err(mpsc::error::TrySendError::Full(_)) => Delivered::All,
            Err(mpsc::error::TrySendError::Closed(_)) => Delivered::Closed,
        }
    }

    /// Waits, with no etcd watch open, until the consumer has drained half the buffer.
    /// False if the consumer or the store went away.
    async fn wait_for_room(&mut self) -> bool {
        let half = (self.tx.max_capacity() / 2).max(1);
        tokio::select! {
            room = self.tx.reserve_many(half) => room.is_ok(),
            _ = self.shutdown.changed() => false,
        }
    }

    /// Hands the consumer a terminal error; the stream ends after it.
    async fn finish(mut self, error: StorageError) {
        tokio::select! {
            _ = self.tx.send(Err(error)) => {}
            _ = self.shutdown.changed() => {}
        }
    }
}

/// The revision of an etcd event (a delete's is the revision of the delete).
fn event_revision(event: &etcd_client::Event) -> Revision {
    event.kv().map_or(0, |kv| from_etcd(kv.mod_revision()))
}

/// An etcd event as the trait's, or `None` if its key is out of `scope`.
fn translate(event: &etcd_client::Event, scope: &str) -> Result<Option<Event>, StorageError> {
    let context = "translating an etcd watch event";
    let kv = event.kv().ok_or_else(|| unexpected(context, "an event without a key-value"))?;
    match std::str::from_utf8(kv.key()) {
        Ok(key) if !in_watch_scope(scope, key) => return Ok(None),
        _ => {}
    }
    let prev = event.prev_kv().cloned().map(convert).transpose()?;
    let kv = convert(kv.clone())?;
    let event = match event.event_type() {
        EtcdEventType::Put if kv.create_revision == kv.mod_revision => {
            Event { event_type: EventType::Added, kv, prev: None }
        }
        EtcdEventType::Put => Event { event_type: EventType::Modified, kv, prev },
        EtcdEventType::Delete => {
            let Some(prev) = prev else {
                let what = format!("the delete of {:?} at {} has no previous value", kv.key, kv.mod_revision);
                return Err(unexpected(context, what));
            };
            let last = piazza_storage::KeyValue { mod_revision: kv.mod_revision, ..prev.clone() };
            Event { event_type: EventType::Deleted, kv: last, prev: Some(prev) }
        }
    };
    Ok(Some(event))
}

/// A transient failure with no etcd error behind it.
fn broken(what: &str) -> StorageError {
    unexpected("watching etcd", what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap_then_gives_up() {
        let mut retry = Retry::default();
        let pauses: Vec<_> = (0..8).map(|_| retry.next_pause(Duration::from_secs(60)).unwrap()).collect();
        assert_eq!(pauses[0], MIN_BACKOFF);
        assert_eq!(pauses[1], MIN_BACKOFF * 2);
        assert_eq!(*pauses.last().unwrap(), MAX_BACKOFF);
        assert!(pauses.windows(2).all(|p| p[0] <= p[1]));
        let mut retry = Retry::default();
        assert!(retry.next_pause(Duration::ZERO).is_some(), "the first failure always retries");
        std::thread::sleep(Duration::from_millis(5));
        assert!(retry.next_pause(Duration::ZERO).is_none());
    }
}
