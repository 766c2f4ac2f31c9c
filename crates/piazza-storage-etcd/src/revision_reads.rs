//! Reads of etcd's current revision, shared by the callers that ask at the same time.
//!
//! A consistent read (a GET or LIST without a resourceVersion) is served from the watch cache
//! once the cache has reached etcd's current revision, which takes one linearizable read of
//! etcd. That read must see every write that finished before the request began, so it must
//! start after the request arrived; it need not be the request's own. Callers that arrive
//! while a probe is in flight wait for the next one, which starts as soon as that probe
//! returns and answers them all. So at most one probe is in flight, a caller waits at most two
//! round trips, and at `-c 16` sixteen GETs cost one probe instead of sixteen. (etcd batches
//! its own ReadIndex requests the same way.)
//!
//! The probes run on a task of their own, so a caller that goes away (a client that hangs up)
//! stops nobody else's answer.

use std::error::Error;
use std::future::Future;
use std::mem;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use piazza_storage::{Revision, StorageError};
use tokio::sync::oneshot;

/// What a probe failed with, shared by everyone it answered.
pub(crate) type ProbeError = Arc<dyn Error + Send + Sync>;

/// What every caller's error says it was doing.
pub(crate) const CURRENT_REVISION: &str = "reading the current revision from etcd";

/// A linearizable read of the current revision.
pub(crate) trait RevisionProbe: Send + Sync + 'static {
    /// Reads the current revision; the read starts when the future is first polled.
    fn read_current(&self) -> impl Future<Output = Result<Revision, ProbeError>> + Send;
}

/// Current-revision reads that share probes (see the module docs).
pub(crate) struct RevisionReads<P> {
    shared: Arc<Shared<P>>,
}

struct Shared<P> {
    probe: P,
    queue: Mutex<Queue>,
    /// Probes made, for tests and debugging.
    probes: AtomicU64,
}

#[derive(Default)]
struct Queue {
    /// True while a task is probing for the waiting callers.
    probing: bool,
    /// Callers waiting for a probe that has not started yet.
    waiting: Vec<oneshot::Sender<Result<Revision, ProbeError>>>,
}

// === impl RevisionReads ===

impl<P: RevisionProbe> RevisionReads<P> {
    /// Reads through `probe`.
    pub(crate) fn new(probe: P) -> Self {
        let shared = Shared { probe, queue: Mutex::new(Queue::default()), probes: AtomicU64::new(0) };
        RevisionReads { shared: Arc::new(shared) }
    }

    /// The current revision, from a probe that started after this call.
    pub(crate) async fn current(&self) -> Result<Revision, StorageError> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queue = self.shared.queue();
            queue.waiting.push(answer);
            !mem::replace(&mut queue.probing, true)
        };
        if start {
            tokio::spawn(probe_while_waited(Arc::clone(&self.shared)));
        }
        match answered.await {
            Ok(Ok(revision)) => Ok(revision),
            Ok(Err(error)) => Err(StorageError::internal(CURRENT_REVISION, error)),
            Err(_) => {
                Err(StorageError::internal(CURRENT_REVISION, "the revision probe stopped before answering"))
            }
        }
    }

    /// Probes made so far.
    #[cfg(test)]
    pub(crate) fn probes(&self) -> u64 {
        self.shared.probes.load(Ordering::Relaxed)
    }
}

impl<P> Shared<P> {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // The lock guards plain data and no code that can panic runs under it.
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Probes for the waiting callers until none are left. Each probe answers exactly the callers
/// that were waiting when it started.
async fn probe_while_waited<P: RevisionProbe>(shared: Arc<Shared<P>>) {
    let mut guard = StopGuard { shared: &shared, armed: true };
    loop {
        let batch = {
            let mut queue = shared.queue();
            if queue.waiting.is_empty() {
                queue.probing = false;
                guard.armed = false;
                return;
            }
            mem::take(&mut queue.waiting)
        };
        if batch.iter().all(oneshot::Sender::is_closed) {
            continue;
        }
        shared.probes.fetch_add(1, Ordering::Relaxed);
        let result = shared.probe.read_current().await;
        for answer in batch {
            let _ = answer.send(result.clone());
        }
    }
}

/// If the probing task ends any other way than by running out of callers (a panic, or the
/// runtime dropping it), lets the next caller start a new one and fails the waiting callers
/// rather than leaving them waiting forever.
struct StopGuard<'a, P> {
    shared: &'a Shared<P>,
    armed: bool,
}

impl<P> Drop for StopGuard<'_, P> {
    fn drop(&mut self) {
        if self.armed {
            let mut queue = self.shared.queue();
            queue.probing = false;
            queue.waiting.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU64 as AtomicRevision};
    use std::time::Duration;

    use tokio::sync::Semaphore;

    use super::*;

    /// A probe whose answers the test releases one at a time; it answers with the revision
    /// current when the probe started.
    struct HeldProbe {
        revision: AtomicRevision,
        release: Arc<Semaphore>,
        fail: AtomicBool,
        panic: AtomicBool,
    }

    impl RevisionProbe for Arc<HeldProbe> {
        fn read_current(&self) -> impl Future<Output = Result<Revision, ProbeError>> + Send {
            let this = Arc::clone(self);
            async move {
                let seen = this.revision.load(Ordering::SeqCst);
                this.release.acquire().await.expect("semaphore open").forget();
                if this.panic.load(Ordering::SeqCst) {
                    panic!("probe panicked");
                }
                if this.fail.load(Ordering::SeqCst) {
                    return Err(Arc::from(Box::<dyn Error + Send + Sync>::from("etcdserver: no leader")));
                }
                Ok(seen)
            }
        }
    }

    fn reads() -> (Arc<RevisionReads<Arc<HeldProbe>>>, Arc<HeldProbe>) {
        let probe = Arc::new(HeldProbe {
            revision: AtomicRevision::new(0),
            release: Arc::new(Semaphore::new(0)),
            fail: AtomicBool::new(false),
            panic: AtomicBool::new(false),
        });
        (Arc::new(RevisionReads::new(Arc::clone(&probe))), probe)
    }

    /// Lets the spawned tasks run until they wait.
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    fn spawn_reads(
        reads: &Arc<RevisionReads<Arc<HeldProbe>>>,
        n: usize,
    ) -> Vec<tokio::task::JoinHandle<Result<Revision, StorageError>>> {
        (0..n)
            .map(|_| {
                let reads = Arc::clone(reads);
                tokio::spawn(async move { reads.current().await })
            })
            .collect()
    }

    /// Awaits every read and checks that each failed, caused by `source`.
    async fn assert_failed(
        reads: Vec<tokio::task::JoinHandle<Result<Revision, StorageError>>>,
        source: &str,
    ) {
        for read in reads {
            let error = read.await.unwrap().unwrap_err();
            assert_eq!(error.to_string(), format!("storage backend failure: {CURRENT_REVISION}"));
            assert_eq!(Error::source(&error).map(ToString::to_string).as_deref(), Some(source));
        }
    }

    #[tokio::test]
    async fn callers_waiting_together_share_one_probe() {
        let (reads, probe) = reads();
        probe.revision.store(5, Ordering::SeqCst);
        let first = spawn_reads(&reads, 1);
        settle().await;
        // Sixteen arrive while the first probe is in flight: they wait for the next one.
        let later = spawn_reads(&reads, 16);
        settle().await;
        assert_eq!(reads.probes(), 1);
        probe.release.add_permits(2);
        for read in first.into_iter().chain(later) {
            assert_eq!(read.await.unwrap().unwrap(), 5);
        }
        assert_eq!(reads.probes(), 2, "one probe for the first caller, one for the sixteen");
    }

    #[tokio::test]
    async fn a_caller_never_gets_a_probe_that_started_before_it_arrived() {
        let (reads, probe) = reads();
        probe.revision.store(10, Ordering::SeqCst);
        let early = spawn_reads(&reads, 1);
        settle().await;
        // A write commits (revision 11) after the first probe started, then a caller arrives.
        probe.revision.store(11, Ordering::SeqCst);
        let late = spawn_reads(&reads, 1);
        settle().await;
        probe.release.add_permits(1);
        assert_eq!(early.into_iter().next().unwrap().await.unwrap().unwrap(), 10);
        settle().await;
        assert_eq!(reads.probes(), 2, "the late caller needs a probe of its own");
        probe.release.add_permits(1);
        assert_eq!(late.into_iter().next().unwrap().await.unwrap().unwrap(), 11);
    }

    #[tokio::test]
    async fn a_failed_probe_fails_its_callers_and_the_next_one_is_fresh() {
        let (reads, probe) = reads();
        probe.fail.store(true, Ordering::SeqCst);
        let failing = spawn_reads(&reads, 3);
        settle().await;
        probe.release.add_permits(1);
        assert_failed(failing, "etcdserver: no leader").await;
        probe.fail.store(false, Ordering::SeqCst);
        probe.revision.store(3, Ordering::SeqCst);
        probe.release.add_permits(1);
        assert_eq!(reads.current().await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_leaves_the_others_answered() {
        let (reads, probe) = reads();
        probe.revision.store(7, Ordering::SeqCst);
        let mut handles = spawn_reads(&reads, 4);
        settle().await;
        handles.remove(0).abort();
        settle().await;
        probe.release.add_permits(1);
        for read in handles {
            assert_eq!(read.await.unwrap().unwrap(), 7);
        }
        // Callers that all went away before their probe started cost no probe.
        let answered = spawn_reads(&reads, 2);
        settle().await;
        let aborted = spawn_reads(&reads, 2);
        settle().await;
        aborted.iter().for_each(|h| h.abort());
        probe.release.add_permits(1);
        for read in answered {
            assert_eq!(read.await.unwrap().unwrap(), 7);
        }
        settle().await;
        assert_eq!(reads.probes(), 2, "the aborted callers' batch was skipped");
    }

    #[tokio::test]
    async fn a_panicking_probe_fails_its_callers_and_does_not_wedge_the_next() {
        let (reads, probe) = reads();
        probe.panic.store(true, Ordering::SeqCst);
        let doomed = spawn_reads(&reads, 2);
        settle().await;
        probe.release.add_permits(1);
        assert_failed(doomed, "the revision probe stopped before answering").await;
        probe.panic.store(false, Ordering::SeqCst);
        probe.revision.store(9, Ordering::SeqCst);
        probe.release.add_permits(1);
        let answer = tokio::time::timeout(Duration::from_secs(5), reads.current()).await;
        assert_eq!(answer.expect("not wedged").unwrap(), 9);
    }
}

#[cfg(all(test, feature = "testing"))]
mod etcd_tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::client::Conn;
    use crate::testing::EtcdServer;
    use crate::write;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_etcd_every_read_sees_the_writes_that_finished_before_it() {
        let server = EtcdServer::start();
        let client = etcd_client::Client::connect([server.endpoint()], None).await.unwrap();
        let conn = Conn::new(&client, Duration::from_secs(10), "/registry".to_owned());
        let reads = Arc::new(RevisionReads::new(conn.clone()));
        let (writers, writes, readers, reads_each) = (8, 40, 8, 150);

        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..writers {
            let (conn, reads) = (conn.clone(), Arc::clone(&reads));
            tasks.spawn(async move {
                for i in 0..writes {
                    let key = format!("/registry/k-{w}-{i}");
                    let written = write::create(&conn, &key, Bytes::from_static(b"v")).await.unwrap();
                    let seen = reads.current().await.unwrap();
                    assert!(seen >= written.mod_revision, "read {seen} after write {}", written.mod_revision);
                }
            });
        }
        for _ in 0..readers {
            let reads = Arc::clone(&reads);
            tasks.spawn(async move {
                let mut last = 0;
                for _ in 0..reads_each {
                    let seen = reads.current().await.unwrap();
                    assert!(seen >= last, "the revision went back from {last} to {seen}");
                    last = seen;
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        let calls = (writers * writes + readers * reads_each) as u64;
        let probes = reads.probes();
        assert!(probes > 0 && probes < calls, "{probes} probes for {calls} concurrent reads");
    }
}
