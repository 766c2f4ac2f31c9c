//! Streams that end when a signal fires (a watch's timeout, the server's shutdown), checking
//! the signal cheaply on each poll.
//!
//! `futures`' `take_until` polls its stop future on every poll of the stream: twice per
//! delivered watch event (the event, then the `Pending` after it). For a timer or a shutdown
//! notice that is a waker registration each time, ~0.3–0.6k instructions per delivery.
//! [`StopWhen`] polls the signal only to register the waker it is polled with (again only
//! when that waker changes: a registered waker stays registered while the signal lives) and
//! otherwise asks [`Signal::fired`], so a fired signal still ends the stream at its next
//! poll, even when its items never run out.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures::Stream;

/// A future that says, without being polled, whether it has completed.
pub trait Signal: Future<Output = ()> {
    /// True once the signal has fired. It may lag the wake-up that announces it, never lead.
    fn fired(&self) -> bool;
}

impl Signal for tokio::time::Sleep {
    fn fired(&self) -> bool {
        self.is_elapsed()
    }
}

/// `inner`, ending when `signal` fires.
pub fn stop_when<S: Stream + Unpin, G: Signal>(inner: S, signal: G) -> StopWhen<S, G> {
    StopWhen { inner, signal: Box::pin(signal), registered: None, ended: false }
}

/// A stream that ends when its signal fires (see the module docs).
pub struct StopWhen<S, G> {
    inner: S,
    signal: Pin<Box<G>>,
    /// The waker the signal will wake.
    registered: Option<Waker>,
    ended: bool,
}

impl<S: Stream + Unpin, G: Signal> Stream for StopWhen<S, G> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if !this.registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            if this.signal.as_mut().poll(cx).is_ready() {
                this.ended = true;
                return Poll::Ready(None);
            }
            this.registered = Some(cx.waker().clone());
        }
        if this.signal.fired() {
            this.ended = true;
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(None) => {
                this.ended = true;
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    use futures::StreamExt;
    use futures::task::{ArcWake, waker};

    use super::*;

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl ArcWake for Counting {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A signal fired by hand, remembering the last waker it was polled with.
    #[derive(Default)]
    struct Manual {
        fired: AtomicBool,
        waker: std::sync::Mutex<Option<Waker>>,
        polls: AtomicUsize,
    }

    impl Manual {
        fn fire(&self) {
            self.fired.store(true, Ordering::SeqCst);
            if let Some(w) = self.waker.lock().unwrap().take() {
                w.wake();
            }
        }
    }

    /// A handle to a shared [`Manual`] signal.
    struct Handle(Arc<Manual>);

    impl Future for Handle {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.0.polls.fetch_add(1, Ordering::SeqCst);
            if self.0.fired.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    impl Signal for Handle {
        fn fired(&self) -> bool {
            self.0.fired.load(Ordering::SeqCst)
        }
    }

    fn poll_with<S: Stream + Unpin>(stream: &mut S, waker: &Waker) -> Poll<Option<S::Item>> {
        Pin::new(stream).poll_next(&mut Context::from_waker(waker))
    }

    #[test]
    fn items_pass_and_the_signal_is_polled_once_per_waker() {
        let signal = Arc::new(Manual::default());
        let mut stream = stop_when(futures::stream::iter(0..100u32), Handle(Arc::clone(&signal)));
        let w = waker(Arc::new(Counting::default()));
        for expected in 0..100 {
            assert_eq!(poll_with(&mut stream, &w), Poll::Ready(Some(expected)));
        }
        assert_eq!(signal.polls.load(Ordering::SeqCst), 1, "registered once, then only asked");
        assert_eq!(poll_with(&mut stream, &w), Poll::Ready(None), "the inner stream's end");
    }

    #[test]
    fn the_current_waker_is_the_one_woken() {
        let signal = Arc::new(Manual::default());
        let mut stream = stop_when(futures::stream::pending::<()>(), Handle(Arc::clone(&signal)));
        let (first, second) = (Arc::new(Counting::default()), Arc::new(Counting::default()));
        assert!(poll_with(&mut stream, &waker(Arc::clone(&first))).is_pending());
        assert!(poll_with(&mut stream, &waker(Arc::clone(&first))).is_pending());
        // The stream moved to another task: the signal must wake that one now.
        assert!(poll_with(&mut stream, &waker(Arc::clone(&second))).is_pending());
        assert_eq!(signal.polls.load(Ordering::SeqCst), 2);
        signal.fire();
        assert_eq!(second.0.load(Ordering::SeqCst), 1, "the latest waker was woken");
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(poll_with(&mut stream, &waker(second)), Poll::Ready(None));
    }

    #[test]
    fn a_stream_whose_items_never_run_out_still_ends_when_the_signal_fires() {
        let signal = Arc::new(Manual::default());
        let mut stream = stop_when(futures::stream::repeat(7u8), Handle(Arc::clone(&signal)));
        let w = waker(Arc::new(Counting::default()));
        assert_eq!(poll_with(&mut stream, &w), Poll::Ready(Some(7)));
        signal.fire();
        assert_eq!(poll_with(&mut stream, &w), Poll::Ready(None));
        assert_eq!(poll_with(&mut stream, &w), Poll::Ready(None), "and stays ended");
    }

    #[test]
    fn a_signal_fired_before_the_first_poll_ends_the_stream_at_once() {
        let signal = Arc::new(Manual::default());
        signal.fire();
        let mut stream = stop_when(futures::stream::repeat(1u8), Handle(signal));
        assert_eq!(poll_with(&mut stream, &waker(Arc::new(Counting::default()))), Poll::Ready(None));
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_ends_a_waiting_stream() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let inner =
            Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) }));
        let mut stream = stop_when(inner, tokio::time::sleep(Duration::from_secs(30)));
        tx.send(1).unwrap();
        assert_eq!(stream.next().await, Some(1));
        let started = tokio::time::Instant::now();
        assert_eq!(stream.next().await, None, "no more items: the timer ends it");
        assert_eq!(started.elapsed().as_secs(), 30);
        drop(tx);
    }
}
