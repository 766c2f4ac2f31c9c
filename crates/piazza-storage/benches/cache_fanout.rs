//! Watch-cache fan-out: the time from one write through a [`CachedStorage`] (over an
//! [`EmbeddedStore`] in a temporary directory) until every one of N watchers has received it.
//! N = 1 is the baseline (commit plus one delivery); N = 100 adds the fan-out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion};
use futures::StreamExt;
use piazza_storage::cache::{CacheOptions, CachedStorage};
use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use piazza_storage::{EventType, Revision, Storage};
use tokio::sync::mpsc;

const PREFIX: &str = "/registry/pizzas/";
const KEY: &str = "/registry/pizzas/default/margherita";

/// A cache with `watchers` watch tasks on [`PREFIX`], each reporting every revision it sees.
struct Fixture {
    cache: Arc<CachedStorage>,
    revision: Revision,
    watchers: usize,
    delivered: mpsc::UnboundedReceiver<Revision>,
    writes: u64,
    _dir: tempfile::TempDir,
}

/// A Pizza-sized value; `n` makes every write differ (an unchanged value is not written).
fn value(n: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"apiVersion":"restaurant.programming-kubernetes.info/v1beta1","kind":"Pizza","metadata":{{"name":"margherita","namespace":"default","uid":"6f1c2d9e-3b4a-4c5d-8e7f-9a0b1c2d3e4f","labels":{{"app":"pizza"}}}},"spec":{{"toppings":[{{"name":"mozzarella","quantity":1}},{{"name":"tomato","quantity":1}}]}},"status":{{"cost":{n}}}}}"#
    ))
}

impl Fixture {
    async fn new(watchers: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let options =
            CacheOptions { progress_interval: None, consistency_check_interval: None, ..Default::default() };
        let cache = CachedStorage::start(store, options).await.unwrap();
        let created = cache.create(KEY, value(0)).await.unwrap();
        let (tx, delivered) = mpsc::unbounded_channel();
        for _ in 0..watchers {
            let mut stream = cache.watch(PREFIX, created.mod_revision).await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(event) = stream.next().await {
                    let event = event.unwrap();
                    if event.event_type != EventType::Progress && tx.send(event.kv.mod_revision).is_err() {
                        break;
                    }
                }
            });
        }
        Fixture { cache, revision: created.mod_revision, watchers, delivered, writes: 0, _dir: dir }
    }

    /// Runs `iters` writes, one at a time, and returns the total time from each write call to
    /// its delivery at the last watcher.
    async fn run(&mut self, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            self.writes += 1;
            let start = Instant::now();
            let kv = self.cache.update(KEY, self.revision, value(self.writes)).await.unwrap();
            for _ in 0..self.watchers {
                let revision = self.delivered.recv().await.unwrap();
                assert_eq!(revision, kv.mod_revision);
            }
            total += start.elapsed();
            self.revision = kv.mod_revision;
        }
        total
    }
}

fn cache_fanout(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("cache_fanout");
    group.sample_size(10);
    for watchers in [1, 100] {
        let mut fixture = runtime.block_on(Fixture::new(watchers));
        group.bench_function(BenchmarkId::new("write_to_all_delivered", watchers), |b| {
            b.iter_custom(|iters| runtime.block_on(fixture.run(iters)))
        });
        runtime.block_on(async move { drop(fixture) });
    }
    group.finish();
}

// `criterion_group!` would generate an undocumented `pub fn`, which `missing_docs` rejects.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    cache_fanout(&mut criterion);
    criterion.final_summary();
}
