//! `piazza-bench soak`: the mixed workload for a long time while the server's RSS is sampled
//! at a fixed interval, to show whether memory settles (no leak) or keeps growing. Every
//! pizza the mix creates is deleted right after, so the stored data does not grow with time.

use std::fmt::Write;
use std::time::{Duration, Instant};

use crate::cli::SoakArgs;
use crate::error::BenchError;
use crate::report::Report;
use crate::rss::rss_kib;
use crate::runner::Limits;
use crate::scenario::Scenarios;

/// One RSS sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Seconds since the load started.
    pub at_s: f64,
    /// VmRSS, KiB.
    pub rss_kib: u64,
}

/// Runs the soak; returns the Markdown (also written to `--out`).
pub async fn run(args: &SoakArgs) -> Result<String, BenchError> {
    let scenarios = Scenarios::new(&args.target, args.concurrency)?;
    let limits = Limits::new(args.concurrency, Some(args.duration), None);
    let pid = args
        .target
        .server_pid
        .ok_or_else(|| BenchError::Usage("soak needs --server-pid: the point is the server's RSS".into()))?;
    let interval = args.sample_every;
    let started = Instant::now();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        let mut tick = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = &mut stopped => break,
            }
            let Some(rss_kib) = rss_kib(pid) else { break };
            samples.push(Sample { at_s: started.elapsed().as_secs_f64(), rss_kib });
        }
        samples
    });
    let report = scenarios.steady_mixed(limits).await;
    let _ = stop.send(());
    let mut samples = sampler.await.map_err(|e| BenchError::Http(format!("RSS sampler: {e}")))?;
    samples.extend(rss_kib(pid).map(|rss_kib| Sample { at_s: started.elapsed().as_secs_f64(), rss_kib }));
    let markdown = render(&report?, &samples, args.duration);
    if let Some(out) = &args.out {
        std::fs::write(out, &markdown)
            .map_err(|e| BenchError::io(format!("writing {}", out.display()), e))?;
    }
    Ok(markdown)
}

/// Least-squares slope of RSS over time, in MiB per minute.
pub fn slope_mib_per_min(samples: &[Sample]) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let n = samples.len() as f64;
    let mean_t = samples.iter().map(|s| s.at_s).sum::<f64>() / n;
    let mean_r = samples.iter().map(|s| s.rss_kib as f64).sum::<f64>() / n;
    let cov: f64 = samples.iter().map(|s| (s.at_s - mean_t) * (s.rss_kib as f64 - mean_r)).sum();
    let var: f64 = samples.iter().map(|s| (s.at_s - mean_t).powi(2)).sum();
    (var > 0.0).then(|| cov / var * 60.0 / 1024.0)
}

fn render(report: &Report, samples: &[Sample], duration: Duration) -> String {
    let mib = |kib: u64| kib as f64 / 1024.0;
    let mut out = String::from("### piazza-bench soak\n\n");
    let _ = writeln!(out, "- command: `{}`", std::env::args().collect::<Vec<_>>().join(" "));
    let _ = writeln!(
        out,
        "- load: {} for {duration:?}: {} requests, {:.0} req/s, {} errors, {} non-2xx, p50 {:.2} ms, p99 {:.2} ms\n",
        report.name,
        report.requests,
        report.throughput,
        report.errors,
        report.non_2xx(),
        report.latency.p50_ms,
        report.latency.p99_ms
    );
    let second_half: Vec<Sample> =
        samples.iter().copied().filter(|s| s.at_s >= duration.as_secs_f64() / 2.0).collect();
    let first_half_max =
        samples.iter().filter(|s| s.at_s < duration.as_secs_f64() / 2.0).map(|s| s.rss_kib).max();
    let second_half_max = second_half.iter().map(|s| s.rss_kib).max();
    if let (Some(first), Some(second)) = (first_half_max, second_half_max) {
        let _ = writeln!(
            out,
            "- RSS max, first half: {:.1} MiB; second half: {:.1} MiB; slope over the second half: {} MiB/min\n",
            mib(first),
            mib(second),
            slope_mib_per_min(&second_half).map_or_else(|| "?".to_owned(), |s| format!("{s:+.2}"))
        );
    }
    out.push_str("| t (s) | RSS (MiB) |\n|---:|---:|\n");
    for sample in samples {
        let _ = writeln!(out, "| {:.0} | {:.1} |", sample.at_s, mib(sample.rss_kib));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_and_of_a_plateau() {
        let line: Vec<Sample> = (0..10)
            .map(|i| Sample { at_s: f64::from(i) * 60.0, rss_kib: 1024 * (100 + 2 * i as u64) })
            .collect();
        let slope = slope_mib_per_min(&line).unwrap();
        assert!((slope - 2.0).abs() < 1e-9, "{slope}");
        let flat: Vec<Sample> = (0..10).map(|i| Sample { at_s: f64::from(i), rss_kib: 4096 }).collect();
        assert_eq!(slope_mib_per_min(&flat), Some(0.0));
        assert_eq!(slope_mib_per_min(&flat[..1]), None);
    }
}
