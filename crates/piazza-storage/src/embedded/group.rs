//! Group commit: writes that arrive while a commit is in progress are applied together, in
//! arrival order, in the next redb transaction, which is committed durably once (one fsync for
//! the whole batch).
//!
//! Each write still takes its own revision, checks its own precondition against the state
//! left by the writes before it (so compare-and-swap stays atomic), and gets its own answer: a
//! refused write changes nothing and does not affect the others. Only a failure of the
//! transaction itself fails every write of the batch, none of which is then written.
//!
//! No answer is sent before the batch's commit has returned, so an acknowledged write is on
//! disk. Events are published in revision order after the commit, before the answers.
//!
//! There is no committer thread: the write that finds no commit in progress becomes the
//! committer on the blocking pool and keeps committing batches until the queue is empty.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use redb::Database;
use tokio::sync::{broadcast, oneshot};

use super::write::{self, Op, Outcome};
use crate::error::StorageError;
use crate::types::{Event, KeyValue};

/// At most this many writes share one transaction, which bounds a batch's latency.
const MAX_BATCH: usize = 256;

/// A write waiting for its batch, with where its answer goes.
struct Pending {
    op: Op,
    answer: oneshot::Sender<Result<KeyValue, StorageError>>,
}

/// The queue of writes and whether a committer is draining it.
#[derive(Default)]
struct Queue {
    pending: Vec<Pending>,
    committing: bool,
}

/// The embedded store's writer. See the [module docs](self).
pub(crate) struct GroupCommit {
    db: Arc<Database>,
    /// The latest committed revision (updated before each event is published).
    current: Arc<AtomicU64>,
    /// The live feed of committed events.
    events: broadcast::Sender<Arc<Event>>,
    queue: Mutex<Queue>,
    /// How many transactions have been committed (or attempted) for writes.
    batches: AtomicU64,
}

impl GroupCommit {
    /// A writer for `db` that advances `current` and publishes to `events`.
    pub(crate) fn new(
        db: Arc<Database>,
        current: Arc<AtomicU64>,
        events: broadcast::Sender<Arc<Event>>,
    ) -> GroupCommit {
        GroupCommit { db, current, events, queue: Mutex::default(), batches: AtomicU64::new(0) }
    }

    /// How many batches have been applied so far (each at most one fsync).
    pub(crate) fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Queues `op` and waits for the commit of its batch.
    pub(crate) async fn submit(self: &Arc<Self>, op: Op) -> Result<KeyValue, StorageError> {
        let (answer, answered) = oneshot::channel();
        let lead = {
            let mut queue = self.queue();
            queue.pending.push(Pending { op, answer });
            !std::mem::replace(&mut queue.committing, true)
        };
        if lead {
            let committer = Committer { group: Arc::clone(self), finished: false };
            tokio::task::spawn_blocking(move || committer.run());
        }
        answered.await.map_err(|_| StorageError::internal("committing a write", "the committer stopped"))?
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits batches until the queue is empty, then steps down.
    fn drain(&self) {
        loop {
            let batch: Vec<Pending> = {
                let mut queue = self.queue();
                if queue.pending.is_empty() {
                    queue.committing = false;
                    return;
                }
                let n = queue.pending.len().min(MAX_BATCH);
                queue.pending.drain(..n).collect()
            };
            self.commit(batch);
        }
    }

    /// Applies and commits one batch, publishes its events, answers its writers.
    fn commit(&self, batch: Vec<Pending>) {
        let (ops, answers): (Vec<Op>, Vec<_>) = batch.into_iter().map(|p| (p.op, p.answer)).unzip();
        self.batches.fetch_add(1, Ordering::Relaxed);
        match write::apply_batch(&self.db, ops) {
            Ok(outcomes) => {
                let answers_now: Vec<_> = outcomes.into_iter().map(|o| self.publish(o)).collect();
                for (answer, result) in answers.into_iter().zip(answers_now) {
                    // A writer that stopped waiting does not mind.
                    let _ = answer.send(result);
                }
            }
            Err(error) => {
                let reason = error.to_string();
                for answer in answers {
                    let _ = answer.send(Err(StorageError::internal("committing a write", reason.clone())));
                }
            }
        }
    }

    /// Publishes a committed write's event and turns its outcome into its answer.
    fn publish(&self, outcome: Outcome) -> Result<KeyValue, StorageError> {
        let written = outcome?;
        if let Some(event) = written.event {
            self.current.store(event.revision(), Ordering::Release);
            // No receivers is fine: nobody is watching.
            let _ = self.events.send(Arc::new(event));
        }
        Ok(written.kv)
    }
}

/// The task that drains the queue. If it never runs (its runtime shut down first) or panics,
/// dropping it leaves the queue usable: the writes still queued fail (their answers are
/// dropped) and the next write becomes the committer.
struct Committer {
    group: Arc<GroupCommit>,
    finished: bool,
}

impl Committer {
    fn run(mut self) {
        self.group.drain();
        self.finished = true;
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        if !self.finished {
            let mut queue = self.group.queue();
            queue.pending.clear();
            queue.committing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use bytes::Bytes;
    use futures::StreamExt;

    use super::super::{EmbeddedOptions, EmbeddedStore};
    use super::*;
    use crate::Storage;
    use crate::types::EventType;

    const WRITERS: usize = 64;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writers_share_commits_and_keep_their_own_revisions() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let base = store.current_revision().await.unwrap();
        let victim = store.create("/k/victim", Bytes::from_static(b"0")).await.unwrap();
        let mut watch = store.watch("/k/", victim.mod_revision).await.unwrap();

        // Many creates, and a pair of compare-and-swaps on the same revision of one key:
        // exactly one of the pair may win, whatever batch they land in.
        let mut tasks = Vec::new();
        for i in 0..WRITERS {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                store.create(&format!("/k/{i:03}"), Bytes::from(format!("v{i}"))).await
            }));
        }
        for value in ["a", "b"] {
            let store = Arc::clone(&store);
            let expected = victim.mod_revision;
            tasks.push(tokio::spawn(async move {
                store.update("/k/victim", expected, Bytes::from_static(value.as_bytes())).await
            }));
        }
        let mut revisions = HashSet::new();
        let mut conflicts = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(kv) => assert!(revisions.insert(kv.mod_revision), "revision {} twice", kv.mod_revision),
                Err(StorageError::Conflict { key, .. }) => {
                    assert_eq!(key, "/k/victim");
                    conflicts += 1;
                }
                Err(other) => panic!("unexpected {other}"),
            }
        }
        assert_eq!(conflicts, 1);
        assert_eq!(revisions.len(), WRITERS + 1);
        // Revisions are dense: the refused swap took none.
        let last = store.current_revision().await.unwrap();
        assert_eq!(last, base + 1 + (WRITERS as u64) + 1);
        assert_eq!(revisions.iter().min(), Some(&(base + 2)));
        assert_eq!(revisions.iter().max(), Some(&last));

        // Watchers see every write once, in revision order.
        let mut seen = Vec::new();
        while seen.len() < WRITERS + 1 {
            let event = watch.next().await.unwrap().unwrap();
            assert_ne!(event.event_type, EventType::Progress);
            seen.push(event.revision());
        }
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert_eq!(seen.iter().copied().collect::<HashSet<_>>(), revisions);
        // Every acknowledged write is readable.
        assert_eq!(store.list("/k/", Default::default()).await.unwrap().items.len(), WRITERS + 1);
    }

    #[tokio::test]
    async fn writes_queued_during_a_commit_share_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let before = store.write_commits();
        // One poll of `join_all` queues every write within microseconds, while the first
        // batch is still being fsynced: the rest must not each pay their own commit.
        let keys: Vec<String> = (0..WRITERS).map(|i| format!("/g/{i:03}")).collect();
        let writes = keys.iter().map(|key| store.create(key, Bytes::from_static(b"x")));
        let results = futures::future::join_all(writes).await;
        assert!(results.iter().all(Result::is_ok));
        let batches = store.write_commits() - before;
        assert!(batches < WRITERS as u64 / 2, "{batches} commits for {WRITERS} writes");
    }

    #[tokio::test]
    async fn a_committer_that_never_ran_fails_its_writes_and_steps_down() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let group = Arc::clone(&store.writer);
        let (answer, answered) = oneshot::channel();
        {
            let mut queue = group.queue();
            queue.pending.push(Pending { op: Op::Create { key: "/x".into(), value: Bytes::new() }, answer });
            queue.committing = true;
        }
        // As when its runtime shuts down before the blocking task starts.
        drop(Committer { group: Arc::clone(&group), finished: false });
        assert!(answered.await.is_err(), "the queued write must not be left waiting");
        // The next write commits normally.
        let kv = store.create("/y", Bytes::from_static(b"1")).await.unwrap();
        assert_eq!(store.get("/y", crate::ReadRevision::Latest).await.unwrap(), kv);
        assert!(matches!(
            store.get("/x", crate::ReadRevision::Latest).await,
            Err(StorageError::NotFound { .. })
        ));
    }

    #[test]
    fn a_refused_write_inside_a_batch_does_not_affect_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("db.redb")).unwrap();
        super::super::init_schema(&db).unwrap();
        let ops = vec![
            Op::Create { key: "/a".into(), value: Bytes::from_static(b"1") },
            Op::Create { key: "/a".into(), value: Bytes::from_static(b"again") },
            Op::Update { key: "/a".into(), expected: 2, value: Bytes::from_static(b"2") },
            Op::Update { key: "/a".into(), expected: 2, value: Bytes::from_static(b"stale") },
            Op::Delete { key: "/missing".into(), expected: None },
            Op::Create { key: "/b".into(), value: Bytes::from_static(b"1") },
        ];
        let outcomes = write::apply_batch(&db, ops).unwrap();
        let revs: Vec<_> = outcomes.iter().map(|o| o.as_ref().ok().map(|w| w.kv.mod_revision)).collect();
        assert_eq!(revs, [Some(2), None, Some(3), None, None, Some(4)]);
        assert!(matches!(outcomes[1], Err(StorageError::AlreadyExists { .. })));
        assert!(matches!(outcomes[3], Err(StorageError::Conflict { current_revision: 3, .. })));
        assert!(matches!(outcomes[4], Err(StorageError::NotFound { .. })));
        // The batch was committed: a second transaction sees it.
        let again = write::apply_batch(
            &db,
            vec![Op::Update { key: "/a".into(), expected: 3, value: Bytes::from_static(b"3") }],
        )
        .unwrap();
        assert_eq!(again[0].as_ref().unwrap().kv.mod_revision, 5);
    }
}
