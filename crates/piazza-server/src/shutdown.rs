//! Graceful shutdown state, shared by the accept loop, `/readyz` and open watches.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use piazza_registry::stop_when::{Signal, StopWhen, stop_when};
use tokio::sync::watch;

/// A cloneable shutdown signal.
#[derive(Clone, Debug)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

/// The side that triggers shutdown.
#[derive(Debug)]
pub struct ShutdownTrigger {
    sender: watch::Sender<bool>,
}

impl Shutdown {
    /// A new signal and its trigger.
    pub fn new() -> (Shutdown, ShutdownTrigger) {
        let (sender, receiver) = watch::channel(false);
        (Shutdown { receiver }, ShutdownTrigger { sender })
    }

    /// True once shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Resolves when shutdown begins.
    pub async fn wait(mut self) {
        let _ = self.receiver.wait_for(|v| *v).await;
    }

    /// `stream`, ending when shutdown begins: what open watches are wrapped in. The signal is
    /// polled only when the stream's waker changes (see [`piazza_registry::stop_when`]).
    pub fn until<S: Stream + Unpin>(&self, stream: S) -> StopWhen<S, ShutdownSignal> {
        stop_when(stream, ShutdownSignal { shutdown: self.clone(), wait: Box::pin(self.clone().wait()) })
    }

    /// The raw receiver (for health checks).
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.receiver.clone()
    }
}

impl ShutdownTrigger {
    /// Begins shutdown.
    pub fn trigger(&self) {
        let _ = self.sender.send(true);
    }
}

/// Shutdown as a [`Signal`]: a future that completes when shutdown begins, and a flag.
pub struct ShutdownSignal {
    shutdown: Shutdown,
    wait: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Future for ShutdownSignal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.wait.as_mut().poll(cx)
    }
}

impl Signal for ShutdownSignal {
    /// Shutdown has begun, or its trigger is gone (as [`Shutdown::wait`] resolves then too).
    fn fired(&self) -> bool {
        self.shutdown.is_shutting_down() || self.shutdown.receiver.has_changed().is_err()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;

    use super::*;

    #[tokio::test]
    async fn a_watch_waiting_for_items_ends_when_shutdown_begins() {
        let (shutdown, trigger) = Shutdown::new();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let inner =
            Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) }));
        let mut stream = shutdown.until(inner);
        tx.send(1).unwrap();
        assert_eq!(stream.next().await, Some(1));
        let waiting = tokio::spawn(async move { stream.next().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "no item and no shutdown: still waiting");
        trigger.trigger();
        let ended =
            tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("woken by the shutdown");
        assert_eq!(ended.unwrap(), None);
        drop(tx);
    }

    #[tokio::test]
    async fn a_watch_ends_when_the_trigger_is_dropped() {
        let (shutdown, trigger) = Shutdown::new();
        let mut stream = shutdown.until(Box::pin(futures::stream::pending::<u8>()));
        let waiting = tokio::spawn(async move { stream.next().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        drop(trigger);
        let ended = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("woken by the drop");
        assert_eq!(ended.unwrap(), None);
    }

    #[tokio::test]
    async fn a_busy_stream_ends_at_shutdown_and_one_made_after_it_never_starts() {
        let (shutdown, trigger) = Shutdown::new();
        let mut busy = shutdown.until(futures::stream::repeat(7u8));
        assert_eq!(busy.next().await, Some(7));
        trigger.trigger();
        assert_eq!(busy.next().await, None);
        assert_eq!(shutdown.until(futures::stream::repeat(1u8)).next().await, None);
    }
}
