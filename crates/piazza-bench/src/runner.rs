//! The closed-loop load runner: `concurrency` workers, each running one operation after the
//! other, until a request count or a deadline (always both: every run is bounded in time).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::client::RequestError;
use crate::report::{Recorder, Report, Sample};

/// A run of at most 10 minutes when only a request count is given.
pub const DEFAULT_MAX_TIME: Duration = Duration::from_secs(600);

/// One kind of operation that workers repeat.
pub trait Workload: Send + Sync + 'static {
    /// What each worker keeps between operations (a connection, a storage handle).
    type Worker: Send + 'static;

    /// The state of worker number `index`, ready before the clock starts (connections made).
    fn worker(&self, index: usize) -> impl Future<Output = Self::Worker> + Send;

    /// Runs operation number `seq` (unique across workers, from 0).
    fn call(
        &self,
        worker: &mut Self::Worker,
        seq: u64,
    ) -> impl Future<Output = Result<Sample, RequestError>> + Send;
}

/// When a run stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Workers.
    pub concurrency: usize,
    /// Stop after this long (in-flight operations are abandoned and not counted).
    pub duration: Duration,
    /// Stop after this many operations.
    pub requests: Option<u64>,
}

impl Limits {
    /// From the `-c`, `-z` and `-n` flags: `-n` alone runs at most [`DEFAULT_MAX_TIME`].
    pub fn new(concurrency: usize, duration: Option<Duration>, requests: Option<u64>) -> Limits {
        let duration = match (duration, requests) {
            (Some(d), _) => d,
            (None, Some(_)) => DEFAULT_MAX_TIME,
            (None, None) => Duration::from_secs(10),
        };
        Limits { concurrency: concurrency.max(1), duration, requests }
    }
}

/// Runs `workload` within `limits`; `name` titles the report.
pub async fn run<W: Workload>(name: &str, workload: Arc<W>, limits: Limits) -> Report {
    let mut workers = Vec::with_capacity(limits.concurrency);
    for index in 0..limits.concurrency {
        workers.push(workload.worker(index).await);
    }
    let next = Arc::new(AtomicU64::new(0));
    let max = limits.requests.unwrap_or(u64::MAX);
    let start = Instant::now();
    let deadline = tokio::time::Instant::from_std(start + limits.duration);
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            let (workload, next) = (Arc::clone(&workload), Arc::clone(&next));
            tokio::spawn(async move {
                let mut recorder = Recorder::default();
                loop {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    if seq >= max || tokio::time::Instant::now() >= deadline {
                        break;
                    }
                    let began = Instant::now();
                    let outcome = tokio::select! {
                        outcome = workload.call(&mut worker, seq) => outcome,
                        _ = tokio::time::sleep_until(deadline) => break,
                    };
                    match outcome {
                        Ok(sample) => recorder.sample(&sample, began.elapsed()),
                        Err(e) => recorder.error(&e.0),
                    }
                }
                recorder
            })
        })
        .collect();
    let mut total = Recorder::default();
    for task in tasks {
        match task.await {
            Ok(recorder) => total.merge(recorder),
            Err(e) => total.error(&format!("worker panicked: {e}")),
        }
    }
    let elapsed = start.elapsed().min(limits.duration);
    total.report(name, limits.concurrency, elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counting;

    impl Workload for Counting {
        type Worker = u64;

        async fn worker(&self, _index: usize) -> u64 {
            0
        }

        async fn call(&self, worker: &mut u64, seq: u64) -> Result<Sample, RequestError> {
            *worker += 1;
            if seq % 10 == 9 { Err(RequestError("boom".into())) } else { Ok(Sample::new("op", 200, 1)) }
        }
    }

    #[tokio::test]
    async fn stops_at_the_request_count() {
        let report = run("count", Arc::new(Counting), Limits::new(4, None, Some(100))).await;
        assert_eq!(report.requests, 100);
        assert_eq!(report.errors, 10);
        assert_eq!(report.ok, 90);
        assert_eq!(report.error_messages["boom"], 10);
    }

    struct Slow;

    impl Workload for Slow {
        type Worker = ();

        async fn worker(&self, _index: usize) {}

        async fn call(&self, _worker: &mut (), _seq: u64) -> Result<Sample, RequestError> {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(Sample::new("op", 200, 0))
        }
    }

    #[tokio::test]
    async fn stops_at_the_deadline() {
        let began = Instant::now();
        let report =
            run("time", Arc::new(Slow), Limits::new(2, Some(Duration::from_millis(200)), None)).await;
        assert!(began.elapsed() < Duration::from_secs(2));
        assert!(report.requests >= 4 && report.requests <= 22, "{}", report.requests);
        assert!(report.latency.p50_ms >= 20.0, "{:?}", report.latency);
    }

    #[test]
    fn limits_are_always_bounded_in_time() {
        assert_eq!(Limits::new(0, None, Some(5)).duration, DEFAULT_MAX_TIME);
        assert_eq!(Limits::new(0, None, Some(5)).concurrency, 1);
        assert_eq!(Limits::new(3, None, None).duration, Duration::from_secs(10));
        assert_eq!(Limits::new(3, Some(Duration::from_secs(1)), Some(9)).requests, Some(9));
    }
}
