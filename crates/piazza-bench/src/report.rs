//! What one run measured: a [`Recorder`] per worker while running, merged into a [`Report`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::rss::RssReport;

/// Latencies are recorded in microseconds, from 1 µs to 1 hour, with 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// The result of one operation of a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Which kind of operation (`get`, `list`, …); reports break figures down by it.
    pub label: &'static str,
    /// The HTTP status, or an HTTP-like code for storage baselines (201 created, 409 exists).
    pub status: u16,
    /// Response bytes read.
    pub bytes: u64,
    /// Compare-and-swap conflicts met (and retried) on the way.
    pub conflicts: u64,
}

impl Sample {
    /// A sample with no conflicts.
    pub fn new(label: &'static str, status: u16, bytes: u64) -> Sample {
        Sample { label, status, bytes, conflicts: 0 }
    }
}

/// Collects samples of one worker.
pub struct Recorder {
    all: Histogram<u64>,
    labels: BTreeMap<&'static str, Histogram<u64>>,
    statuses: BTreeMap<u16, u64>,
    errors: BTreeMap<String, u64>,
    bytes: u64,
    conflicts: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            all: histogram(),
            labels: BTreeMap::new(),
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            bytes: 0,
            conflicts: 0,
        }
    }
}

// === impl Recorder ===

impl Recorder {
    /// Records a completed operation and how long it took.
    pub fn sample(&mut self, sample: &Sample, latency: Duration) {
        let micros = (latency.as_micros() as u64).clamp(1, 3_600_000_000);
        self.all.saturating_record(micros);
        self.labels.entry(sample.label).or_insert_with(histogram).saturating_record(micros);
        *self.statuses.entry(sample.status).or_default() += 1;
        self.bytes += sample.bytes;
        self.conflicts += sample.conflicts;
    }

    /// Records a failed operation (no status). Messages are cut to keep the report readable.
    pub fn error(&mut self, message: &str) {
        let mut key: String = message.chars().take(100).collect();
        if key.len() < message.len() {
            key.push('…');
        }
        *self.errors.entry(key).or_default() += 1;
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: Recorder) {
        self.all.add(&other.all).expect("same histogram bounds");
        for (label, hist) in other.labels {
            self.labels.entry(label).or_insert_with(histogram).add(&hist).expect("same histogram bounds");
        }
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        for (error, n) in other.errors {
            *self.errors.entry(error).or_default() += n;
        }
        self.bytes += other.bytes;
        self.conflicts += other.conflicts;
    }

    /// The report of a run that lasted `elapsed`.
    pub fn report(&self, name: &str, concurrency: usize, elapsed: Duration) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let errors: u64 = self.errors.values().sum();
        let responses = self.all.len();
        let ok = self.statuses.iter().filter(|(s, _)| (200..300).contains(*s)).map(|(_, n)| n).sum();
        let by_label = if self.labels.len() > 1 {
            self.labels
                .iter()
                .map(|(label, hist)| {
                    let n = hist.len();
                    (
                        label.to_string(),
                        LabelReport { requests: n, throughput: n as f64 / secs, latency: Latency::of(hist) },
                    )
                })
                .collect()
        } else {
            BTreeMap::new()
        };
        Report {
            name: name.to_owned(),
            protocol: None,
            concurrency,
            duration_s: secs,
            requests: responses + errors,
            ok,
            errors,
            throughput: (responses + errors) as f64 / secs,
            latency: Latency::of(&self.all),
            statuses: self.statuses.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            error_messages: self.errors.clone(),
            bytes: self.bytes,
            conflicts: self.conflicts,
            by_label,
            server_rss: None,
            notes: BTreeMap::new(),
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Latency {
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

impl Latency {
    /// The percentiles of a histogram of microseconds (all zero when empty).
    pub fn of(hist: &Histogram<u64>) -> Latency {
        if hist.is_empty() {
            return Latency::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Latency {
            mean_ms: hist.mean() / 1000.0,
            p50_ms: ms(hist.value_at_quantile(0.50)),
            p90_ms: ms(hist.value_at_quantile(0.90)),
            p99_ms: ms(hist.value_at_quantile(0.99)),
            max_ms: ms(hist.max()),
        }
    }
}

/// Figures of one kind of operation in a mixed workload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabelReport {
    /// Completed operations of this kind.
    pub requests: u64,
    /// Per second.
    pub throughput: f64,
    /// Their latency.
    pub latency: Latency,
}

/// The figures of one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// What ran.
    pub name: String,
    /// `h2`, `http/1.1`, or none for storage baselines.
    pub protocol: Option<String>,
    /// Workers.
    pub concurrency: usize,
    /// Measured time.
    pub duration_s: f64,
    /// Operations finished: responses plus errors.
    pub requests: u64,
    /// 2xx responses.
    pub ok: u64,
    /// Operations that failed without a status.
    pub errors: u64,
    /// `requests / duration_s`.
    pub throughput: f64,
    /// Latency of the operations that got a status.
    pub latency: Latency,
    /// Count per status code.
    pub statuses: BTreeMap<String, u64>,
    /// Count per error message.
    pub error_messages: BTreeMap<String, u64>,
    /// Response bytes read.
    pub bytes: u64,
    /// Compare-and-swap conflicts retried.
    pub conflicts: u64,
    /// Per kind of operation, when there was more than one.
    pub by_label: BTreeMap<String, LabelReport>,
    /// The server's RSS before and after, when a PID was given.
    pub server_rss: Option<RssReport>,
    /// Scenario-specific figures (watch delivery, missed events, …).
    pub notes: BTreeMap<String, serde_json::Value>,
}

// === impl Report ===

impl Report {
    /// Responses that were not 2xx.
    pub fn non_2xx(&self) -> u64 {
        self.requests - self.errors - self.ok
    }

    /// Human-readable, `hey`-like.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let protocol = self.protocol.as_deref().map(|p| format!("{p}, ")).unwrap_or_default();
        let _ = writeln!(out, "{} ({protocol}c={}, {:.1} s)", self.name, self.concurrency, self.duration_s);
        let _ = writeln!(
            out,
            "  requests    {} ({:.1}/s), 2xx {}, non-2xx {}, errors {}",
            self.requests,
            self.throughput,
            self.ok,
            self.non_2xx(),
            self.errors
        );
        let _ = writeln!(out, "  latency     {}", fmt_latency(&self.latency));
        for (label, figures) in &self.by_label {
            let _ = writeln!(
                out,
                "    {label:<9} {} ({:.1}/s)  {}",
                figures.requests,
                figures.throughput,
                fmt_latency(&figures.latency)
            );
        }
        let statuses: Vec<String> = self.statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        let _ = writeln!(
            out,
            "  statuses    {}",
            if statuses.is_empty() { "-".into() } else { statuses.join(", ") }
        );
        for (message, n) in &self.error_messages {
            let _ = writeln!(out, "  error       {n} × {message}");
        }
        let responses = (self.requests - self.errors).max(1);
        let _ = writeln!(out, "  bytes       {} ({} per response)", self.bytes, self.bytes / responses);
        if self.conflicts > 0 {
            let _ = writeln!(out, "  conflicts   {}", self.conflicts);
        }
        if let Some(rss) = &self.server_rss {
            let _ = writeln!(out, "  server RSS  {rss}");
        }
        for (key, value) in &self.notes {
            let _ = writeln!(out, "  {key:<11} {}", fmt_note(value));
        }
        out
    }
}

/// Numbers with at most two decimals; latency objects as percentiles.
fn fmt_note(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => format!("{:.2}", n.as_f64().unwrap_or_default()),
        serde_json::Value::Object(map) if map.contains_key("p50_ms") => {
            serde_json::from_value::<Latency>(value.clone()).map(|l| fmt_latency(&l)).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

fn fmt_latency(l: &Latency) -> String {
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms, mean {:.2} ms",
        l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let mut rec = Recorder::default();
        for i in 1..=1000 {
            rec.sample(&Sample::new("get", 200, 10), ms(i));
        }
        let report = rec.report("t", 4, Duration::from_secs(2));
        let l = report.latency;
        // 3 significant digits: values are exact to within 0.1 %.
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 0.001;
        assert!(close(l.p50_ms, 500.0), "{l:?}");
        assert!(close(l.p90_ms, 900.0), "{l:?}");
        assert!(close(l.p99_ms, 990.0), "{l:?}");
        assert!(close(l.max_ms, 1000.0), "{l:?}");
        assert!(close(l.mean_ms, 500.5), "{l:?}");
        assert_eq!(report.requests, 1000);
        assert_eq!(report.throughput, 500.0);
        assert_eq!(report.bytes, 10_000);
        assert!(report.by_label.is_empty(), "one label: no breakdown");
    }

    #[test]
    fn merge_adds_counts_statuses_and_errors() {
        let mut a = Recorder::default();
        a.sample(&Sample::new("get", 200, 1), ms(1));
        a.sample(&Sample { label: "put", status: 409, bytes: 2, conflicts: 3 }, ms(3));
        a.error("connect: refused");
        let mut b = Recorder::default();
        b.sample(&Sample::new("get", 200, 1), ms(2));
        b.error("connect: refused");
        b.error(&"x".repeat(300));
        a.merge(b);
        let report = a.report("t", 2, Duration::from_secs(1));
        assert_eq!((report.requests, report.ok, report.errors, report.non_2xx()), (6, 2, 3, 1));
        assert_eq!(report.statuses["200"], 2);
        assert_eq!(report.statuses["409"], 1);
        assert_eq!(report.error_messages["connect: refused"], 2);
        assert_eq!(report.conflicts, 3);
        assert_eq!(report.by_label["get"].requests, 2);
        assert!((report.by_label["put"].latency.max_ms - 3.0).abs() < 0.01);
        assert!(report.error_messages.keys().any(|k| k.ends_with('…') && k.chars().count() == 101));
        let text = report.to_text();
        assert!(text.contains("2xx 2, non-2xx 1, errors 3"), "{text}");
    }

    #[test]
    fn empty_run_reports_zeroes() {
        let report = Recorder::default().report("t", 1, Duration::ZERO);
        assert_eq!(report.latency, Latency::default());
        assert_eq!(report.requests, 0);
        assert!(report.to_text().contains("statuses    -"));
    }
}
