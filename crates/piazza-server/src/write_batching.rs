//! Write batching for a client connection: the HTTP layer's writes gather in one buffer
//! and leave in one TLS record and one system call per flush. Before it writes, a flush
//! lets the other ready tasks run, and again as long as they keep adding frames (at most
//! [`MAX_FLUSH_YIELDS`] times), so the frames that many streams of one connection produce
//! at once leave together.
//!
//! Why it matters: hyper's HTTP/2 connection flushes each time it is woken, and tokio runs
//! a task woken by the running one next. A watch event fanned out to 100 streams of one
//! connection was written as up to 100 TLS records and `writev`s, and 16 concurrent GETs
//! cost a `writev` each. When nothing else is ready the yield costs one more poll of the
//! connection's task.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most bytes gathered before the buffer is written out without waiting for a flush:
/// the largest TLS record's plaintext, so a full buffer is one record.
pub const BATCH_CAPACITY: usize = 16 * 1024;

/// The most times one flush lets other tasks run before it writes. Each round only follows
/// one in which more bytes arrived, so an idle connection yields once; the bound keeps a
/// busy connection's flush from waiting long.
pub const MAX_FLUSH_YIELDS: u32 = 16;

/// An I/O stream whose writes are gathered, and whose flushes let other tasks add theirs
/// first.
#[derive(Debug)]
pub struct BatchedWrites<T> {
    inner: T,
    buffer: Vec<u8>,
    /// Bytes of `buffer` already written to `inner`.
    written: usize,
    /// How many times the current flush has yielded.
    flush_yields: u32,
    /// True when bytes arrived since the current flush last yielded.
    grew_since_yield: bool,
}

impl<T> BatchedWrites<T> {
    /// Wraps `inner`. The buffer is allocated by the first write after a flush and given
    /// back by the flush, so an idle connection holds none.
    pub fn new(inner: T) -> Self {
        Self { inner, buffer: Vec::new(), written: 0, flush_yields: 0, grew_since_yield: false }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// Bytes accepted but not yet written to the wrapped stream.
    pub fn pending(&self) -> usize {
        self.buffer.len() - self.written
    }
}

impl<T: AsyncWrite + Unpin> BatchedWrites<T> {
    /// Writes the whole buffer to the wrapped stream.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buffer.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buffer[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.buffer.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// True when a flush should let other tasks run first: something is buffered, and this
    /// is the flush's first round or the last round brought more bytes.
    fn should_yield(&self) -> bool {
        self.pending() > 0
            && (self.flush_yields == 0 || (self.grew_since_yield && self.flush_yields < MAX_FLUSH_YIELDS))
    }

    /// Makes room for `len` more bytes: drains the buffer if they would overflow it. The
    /// buffer is allocated at its full size, so a connection holds at most
    /// [`BATCH_CAPACITY`] bytes of it.
    fn poll_room(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<()>> {
        if self.buffer.len() + len > BATCH_CAPACITY && !self.buffer.is_empty() {
            ready!(self.poll_drain(cx))?;
        }
        if self.buffer.capacity() == 0 && len < BATCH_CAPACITY {
            self.buffer.reserve_exact(BATCH_CAPACITY);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for BatchedWrites<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for BatchedWrites<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(data)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = slices.iter().map(|s| s.len()).sum();
        ready!(self.poll_room(cx, total))?;
        if total >= BATCH_CAPACITY {
            let n = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, slices))?;
            self.grew_since_yield = true;
            return Poll::Ready(Ok(n));
        }
        for slice in slices {
            self.buffer.extend_from_slice(slice);
        }
        self.grew_since_yield = true;
        Poll::Ready(Ok(total))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.should_yield() {
            // Let the tasks that are ready now (other streams of this connection among
            // them) add their frames first: a task that wakes itself runs again after them.
            self.flush_yields += 1;
            self.grew_since_yield = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.flush_yields = 0;
        ready!(self.poll_drain(cx))?;
        self.buffer = Vec::new();
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A sink that records every write it receives and accepts at most `limit` bytes each.
    #[derive(Debug, Default)]
    struct RecordingSink {
        writes: Vec<Vec<u8>>,
        limit: Option<usize>,
        flushes: usize,
        shut_down: bool,
    }

    impl AsyncWrite for RecordingSink {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
            let n = self.limit.map_or(data.len(), |limit| limit.min(data.len()));
            self.writes.push(data[..n].to_vec());
            Poll::Ready(Ok(n))
        }

        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.shut_down = true;
            Poll::Ready(Ok(()))
        }
    }

    /// A sink that accepts nothing.
    struct ZeroSink;

    impl AsyncWrite for ZeroSink {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(0))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn flush_once<T: AsyncWrite + Unpin>(stream: &mut BatchedWrites<T>) -> Poll<io::Result<()>> {
        let waker = std::task::Waker::noop();
        Pin::new(stream).poll_flush(&mut Context::from_waker(waker))
    }

    #[tokio::test]
    async fn small_writes_leave_together_on_flush() {
        let mut stream = BatchedWrites::new(RecordingSink::default());
        stream.write_all(b"HEADERS").await.unwrap();
        stream.write_all(b"DATA").await.unwrap();
        let slices = [io::IoSlice::new(b"frame-"), io::IoSlice::new(b"payload")];
        assert_eq!(stream.write_vectored(&slices).await.unwrap(), 13);
        assert!(stream.get_ref().writes.is_empty(), "nothing is written before a flush");
        assert_eq!(stream.pending(), 24);
        stream.flush().await.unwrap();
        assert_eq!(stream.get_ref().writes, vec![b"HEADERSDATAframe-payload".to_vec()]);
        assert_eq!(stream.get_ref().flushes, 1);
        assert_eq!(stream.pending(), 0);
    }

    #[tokio::test]
    async fn a_flush_yields_then_writes_when_nothing_more_came() {
        let mut stream = BatchedWrites::new(RecordingSink::default());
        stream.write_all(b"frame").await.unwrap();
        assert!(flush_once(&mut stream).is_pending(), "the first flush lets other tasks run");
        assert!(stream.get_ref().writes.is_empty());
        assert!(matches!(flush_once(&mut stream), Poll::Ready(Ok(()))));
        assert_eq!(stream.get_ref().writes, vec![b"frame".to_vec()]);
        // With nothing buffered a flush never yields.
        assert!(matches!(flush_once(&mut stream), Poll::Ready(Ok(()))));
        // And the yield is armed again by the next batch.
        stream.write_all(b"next").await.unwrap();
        assert!(flush_once(&mut stream).is_pending());
    }

    #[tokio::test]
    async fn a_flush_keeps_yielding_while_frames_arrive_up_to_its_bound() {
        let mut stream = BatchedWrites::new(RecordingSink::default());
        stream.write_all(b"f").await.unwrap();
        for round in 0..MAX_FLUSH_YIELDS {
            assert!(flush_once(&mut stream).is_pending(), "round {round} yields");
            stream.write_all(b"f").await.unwrap();
        }
        assert!(matches!(flush_once(&mut stream), Poll::Ready(Ok(()))), "the bound is reached");
        assert_eq!(stream.get_ref().writes, vec![vec![b'f'; MAX_FLUSH_YIELDS as usize + 1]]);
        // The next flush starts counting afresh.
        stream.write_all(b"f").await.unwrap();
        assert!(flush_once(&mut stream).is_pending());
    }

    #[tokio::test]
    async fn a_flush_gives_the_buffer_back() {
        let mut stream = BatchedWrites::new(RecordingSink::default());
        stream.write_all(b"response").await.unwrap();
        assert_eq!(stream.buffer.capacity(), BATCH_CAPACITY);
        stream.flush().await.unwrap();
        assert_eq!(stream.buffer.capacity(), 0, "a flushed connection holds no buffer");
        stream.write_all(b"next").await.unwrap();
        stream.flush().await.unwrap();
        assert_eq!(stream.get_ref().writes, vec![b"response".to_vec(), b"next".to_vec()]);
    }

    #[tokio::test]
    async fn a_yielding_flush_wakes_its_task() {
        let mut stream = BatchedWrites::new(RecordingSink::default());
        stream.write_all(b"frame").await.unwrap();
        // `flush` is only woken by the stream itself; finishing at all shows it wakes.
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            poll_fn(|cx| Pin::new(&mut stream).poll_flush(cx)),
        )
        .await
        .expect("the flush finishes")
        .unwrap();
        assert_eq!(stream.get_ref().writes.len(), 1);
    }

    #[tokio::test]
    async fn an_overflowing_write_drains_the_buffer_first() {
        let mut stream = BatchedWrites::new(RecordingSink::default());
        stream.write_all(&[b'a'; BATCH_CAPACITY - 10]).await.unwrap();
        stream.write_all(&[b'b'; 20]).await.unwrap();
        let writes = &stream.get_ref().writes;
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0], vec![b'a'; BATCH_CAPACITY - 10]);
        assert_eq!(stream.pending(), 20);
        assert_eq!(stream.buffer.capacity(), BATCH_CAPACITY, "the buffer never grows past its size");
    }

    #[tokio::test]
    async fn a_write_as_large_as_the_buffer_goes_straight_through_in_order() {
        let mut stream = BatchedWrites::new(RecordingSink::default());
        stream.write_all(b"head").await.unwrap();
        let large = vec![b'x'; BATCH_CAPACITY * 2];
        stream.write_all(&large).await.unwrap();
        stream.flush().await.unwrap();
        let writes = &stream.get_ref().writes;
        assert_eq!(writes[0], b"head".to_vec());
        assert_eq!(writes[1..].concat(), large);
    }

    #[tokio::test]
    async fn partial_writes_of_the_inner_stream_lose_nothing() {
        let sink = RecordingSink { limit: Some(3), ..RecordingSink::default() };
        let mut stream = BatchedWrites::new(sink);
        stream.write_all(b"0123456789").await.unwrap();
        stream.flush().await.unwrap();
        assert_eq!(stream.get_ref().writes.concat(), b"0123456789".to_vec());
        assert_eq!(stream.get_ref().writes.len(), 4);
    }

    #[tokio::test]
    async fn shutdown_writes_what_is_buffered_first() {
        let mut stream = BatchedWrites::new(RecordingSink::default());
        stream.write_all(b"last frame").await.unwrap();
        stream.shutdown().await.unwrap();
        assert_eq!(stream.get_ref().writes, vec![b"last frame".to_vec()]);
        assert!(stream.get_ref().shut_down);
    }

    #[tokio::test]
    async fn an_inner_stream_that_accepts_nothing_is_an_error() {
        let mut stream = BatchedWrites::new(ZeroSink);
        stream.write_all(b"frame").await.unwrap();
        let error = stream.flush().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WriteZero);
    }

    #[tokio::test]
    async fn reads_pass_through() {
        let (client, server) = tokio::io::duplex(64);
        let mut server = BatchedWrites::new(server);
        let mut client = client;
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        server.write_all(b"pong").await.unwrap();
        server.flush().await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
    }
}
