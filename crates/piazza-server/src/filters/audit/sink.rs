//! Where audit events go: the [`AuditSink`] hook, and the JSON-lines log backend
//! (`--audit-log-path`, `-` for standard output).
//!
//! The log backend never blocks a request: events are serialized and handed to a bounded
//! queue drained by a writer thread; when the queue is full the event is dropped and counted
//! (`apiserver_audit_error_total{plugin="log"}`).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};

use super::event::Event;
use super::metrics::{AuditMetrics, BackendCounters};
use super::rotate::{RotatingFile, Rotation};
use crate::handlers::metrics::MetricsSource;

/// The default number of events the log backend queues before it drops.
pub const DEFAULT_LOG_BUFFER_EVENTS: usize = 10_000;

/// Receives audit events. Must not block: it runs on the request path.
pub trait AuditSink: Send + Sync + 'static {
    /// Takes one event.
    fn process(&self, event: &Event);
}

/// Discards every event.
impl AuditSink for () {
    fn process(&self, _event: &Event) {}
}

/// A closure is a sink (handy in tests).
impl<F: Fn(&Event) + Send + Sync + 'static> AuditSink for F {
    fn process(&self, event: &Event) {
        self(event)
    }
}

/// Several sinks: each event goes to every one, in order.
pub struct AuditSinks(pub Vec<std::sync::Arc<dyn AuditSink>>);

impl AuditSink for AuditSinks {
    fn process(&self, event: &Event) {
        for sink in &self.0 {
            sink.process(event);
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    events: AtomicU64,
    dropped: AtomicU64,
}

/// Writes events as JSON lines to a file or standard output, from a bounded queue.
#[derive(Clone)]
pub struct LogBackend {
    queue: SyncSender<Vec<u8>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for LogBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBackend").field("counters", &self.counters).finish_non_exhaustive()
    }
}

impl LogBackend {
    /// Opens `path` for appending (`-` is standard output) and starts the writer thread, with
    /// room for `buffer` queued events.
    pub fn open(path: &Path, buffer: usize) -> std::io::Result<Self> {
        Self::open_rotating(path, buffer, Rotation::default())
    }

    /// Like [`open`](Self::open), rotating the file as `rotation` says (standard output is
    /// never rotated).
    pub fn open_rotating(path: &Path, buffer: usize, rotation: Rotation) -> std::io::Result<Self> {
        if path == Path::new("-") {
            return Self::with_writer(std::io::stdout(), buffer);
        }
        Self::with_writer(RotatingFile::open(path, rotation)?, buffer)
    }

    /// Writes to `out` from a writer thread, with room for `buffer` queued events.
    pub fn with_writer(out: impl Write + Send + 'static, buffer: usize) -> std::io::Result<Self> {
        let (queue, lines) = sync_channel::<Vec<u8>>(buffer.max(1));
        let counters = Arc::new(Counters::default());
        let writer_counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("audit-log".to_owned())
            .spawn(move || write_lines(lines, std::io::BufWriter::new(out), &writer_counters))?;
        Ok(Self { queue, counters })
    }

    /// Events dropped so far (queue full, or a write failed).
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }
}

/// The writer thread: drains the queue, flushing whenever it is empty; ends when every sender
/// is gone.
fn write_lines(lines: Receiver<Vec<u8>>, mut out: impl Write, counters: &Counters) {
    loop {
        let line = match lines.try_recv() {
            Ok(line) => line,
            Err(TryRecvError::Empty) => {
                let _ = out.flush();
                match lines.recv() {
                    Ok(line) => line,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        if let Err(error) = out.write_all(&line) {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, "audit log write failed");
        }
    }
    let _ = out.flush();
}

impl AuditSink for LogBackend {
    fn process(&self, event: &Event) {
        self.counters.events.fetch_add(1, Ordering::Relaxed);
        let mut line = match serde_json::to_vec(event) {
            Ok(line) => line,
            Err(_) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        line.push(b'\n');
        match self.queue.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                if self.counters.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!("audit log queue full; dropping events");
                }
            }
        }
    }
}

impl BackendCounters for LogBackend {
    fn plugin(&self) -> &'static str {
        "log"
    }

    fn events(&self) -> u64 {
        self.counters.events.load(Ordering::Relaxed)
    }

    fn errors(&self) -> u64 {
        self.dropped()
    }
}

impl MetricsSource for LogBackend {
    fn render(&self, out: &mut String) {
        AuditMetrics(vec![Arc::new(self.clone())]).render(out);
    }
}
