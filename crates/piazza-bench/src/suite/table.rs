//! The suite's Markdown: absolute figures and the ratio of each scenario to its limit.

use std::fmt::Write as _;

use crate::report::Report;

/// One line of the table: a run and, when it has one, the limit it is compared to.
#[derive(Clone, Debug)]
pub struct Row {
    /// The run.
    pub report: Report,
    /// The name and throughput of its limit.
    pub limit: Option<(String, f64)>,
    /// The ratio of every round when the block ran more than once (`--rounds`); the run
    /// shown is the one of the median round.
    pub round_ratios: Vec<f64>,
}

impl Row {
    /// A row with no limit.
    pub fn plain(report: Report) -> Row {
        Row { report, limit: None, round_ratios: Vec::new() }
    }
}

/// Facts printed above the table.
#[derive(Clone, Debug, Default)]
pub struct Header {
    /// CPU model and count, kernel.
    pub machine: String,
    /// The command line.
    pub command: String,
    /// Protocol, concurrency, duration.
    pub settings: String,
}

fn ms(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.2}") }
}

fn rate(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

/// ` (median of N rounds: lo–hi %)`, or nothing for a single round.
fn spread(ratios: &[f64]) -> String {
    if ratios.len() < 2 {
        return String::new();
    }
    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(" (median of {} rounds: {:.0}–{:.0} %)", ratios.len(), 100.0 * lo, 100.0 * hi)
}

/// Renders the header, the main table, and the watch details when there are any.
pub fn render(header: &Header, rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### piazza-bench suite\n");
    let _ = writeln!(out, "- machine: {}", header.machine);
    let _ = writeln!(out, "- settings: {}", header.settings);
    let _ = writeln!(out, "- command: `{}`\n", header.command);
    let _ = writeln!(
        out,
        "| workload | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | non-2xx | limit | limit req/s | ratio | server RSS after (MiB) | server CPU (cores) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|");
    for row in rows {
        let r = &row.report;
        let (limit, limit_rate, ratio) = match &row.limit {
            Some((name, limit_rate)) if *limit_rate > 0.0 => {
                let ratio =
                    format!("{:.0} %{}", 100.0 * r.throughput / limit_rate, spread(&row.round_ratios));
                (name.clone(), rate(*limit_rate), ratio)
            }
            _ => ("—".into(), "—".into(), "—".into()),
        };
        let rss = r
            .server_rss
            .and_then(|u| u.after_kib)
            .map(|k| format!("{:.1}", k as f64 / 1024.0))
            .unwrap_or_else(|| "—".into());
        let cpu =
            r.server_rss.and_then(|u| u.cpu_cores).map(|c| format!("{c:.2}")).unwrap_or_else(|| "—".into());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {limit} | {limit_rate} | {ratio} | {rss} | {cpu} |",
            r.name,
            rate(r.throughput),
            ms(r.latency.p50_ms),
            ms(r.latency.p90_ms),
            ms(r.latency.p99_ms),
            ms(r.latency.max_ms),
            r.errors,
            r.non_2xx(),
        );
    }
    for row in rows.iter().filter(|r| r.report.notes.contains_key("missed")) {
        let r = &row.report;
        let note = |k: &str| r.notes.get(k).map(|v| v.to_string()).unwrap_or_else(|| "—".into());
        let create = &r.notes.get("create_latency");
        let create_p =
            |k: &str| create.and_then(|c| c.get(k)).and_then(|v| v.as_f64()).map(ms).unwrap_or_default();
        let _ = writeln!(
            out,
            "\n{}: delivery latency is measured at every watcher from the writer's send time, so it includes the CREATE (p50 {} ms, p99 {} ms).\n",
            r.name,
            create_p("p50_ms"),
            create_p("p99_ms")
        );
        let _ = writeln!(
            out,
            "| watchers connected | writes acked | writes/s | write errors | deliveries | expected | missed | duplicates | delivery p50 ms | p99 ms | max ms | load tool CPU (cores) |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let tool_cpu = r
            .notes
            .get("load_tool_cpu_cores")
            .and_then(|v| v.as_f64())
            .map_or_else(|| "—".to_owned(), |c| format!("{c:.2}"));
        let write_rate = r.notes.get("write_rate").and_then(|v| v.as_f64()).map(rate).unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {write_rate} | {} | {} | {} | {} | {} | {} | {} | {} | {tool_cpu} |",
            note("watchers_connected"),
            note("writes_acked"),
            note("write_errors"),
            r.requests - r.errors,
            note("expected_deliveries"),
            note("missed"),
            note("duplicates"),
            ms(r.latency.p50_ms),
            ms(r.latency.p99_ms),
            ms(r.latency.max_ms),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::report::{Recorder, Sample};

    fn report(name: &str, n: u64, status: u16) -> Report {
        let mut rec = Recorder::default();
        for i in 0..n {
            rec.sample(&Sample::new("x", status, 100), Duration::from_millis(1 + i % 3));
        }
        rec.report(name, 16, Duration::from_secs(1))
    }

    #[test]
    fn rows_show_ratios_to_their_limits() {
        let rows = vec![
            Row {
                report: report("GET one pizza", 800, 200),
                limit: Some(("transport".into(), 1000.0)),
                round_ratios: Vec::new(),
            },
            Row::plain(report("mixed", 50, 404)),
        ];
        let md = render(&Header::default(), &rows);
        assert!(md.contains("| GET one pizza | 800 | 2.00 |"), "{md}");
        assert!(md.contains("| transport | 1000 | 80 % |"), "{md}");
        assert!(md.contains("| mixed | 50.0 |"), "{md}");
        assert!(md.contains("| 0 | 50 | — | — | — | — | — |"), "{md}");
        assert!(!md.contains("watchers connected"));
    }

    #[test]
    fn repeated_rounds_show_the_spread_of_their_ratios() {
        let row = Row {
            report: report("GET one pizza", 700, 200),
            limit: Some(("transport".into(), 1000.0)),
            round_ratios: vec![0.62, 0.7, 0.81],
        };
        let md = render(&Header::default(), &[row]);
        assert!(md.contains("| transport | 1000 | 70 % (median of 3 rounds: 62–81 %) |"), "{md}");
    }

    #[test]
    fn watch_rows_get_their_own_table() {
        let mut r = report("watch (2 watchers, 10 writes/s)", 20, 200);
        r.notes.insert("missed".into(), serde_json::json!(0));
        r.notes.insert("writes_acked".into(), serde_json::json!(10));
        r.notes.insert("create_latency".into(), serde_json::json!({"p50_ms": 1.5, "p99_ms": 3.0}));
        let md = render(&Header::default(), &[Row::plain(r)]);
        assert!(md.contains("watchers connected"), "{md}");
        assert!(md.contains("(p50 1.50 ms, p99 3.00 ms)"), "{md}");
        assert!(md.contains("| — | 10 |"), "{md}");
    }
}
