//! The scaling table, in Markdown.

use std::fmt::Write;
use std::time::Duration;

use super::Point;
use crate::cli::ScalingArgs;
use crate::report::Report;

const HEADER: &str = "| objects | first start (ms) | restart to /readyz (ms) | seed (obj/s) | idle RSS after restart (MiB) | LIST consistent p50 / p99 ms (req/s) | LIST rv=0 p50 / p99 ms (req/s) | RSS after LISTs (MiB) |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n";

/// The whole table with its settings.
pub fn render(points: &[Point], command: &str, args: &ScalingArgs) -> String {
    let mut out = String::from("### piazza-bench scaling\n\n");
    let _ = writeln!(out, "- command: `{command}`");
    let _ = writeln!(
        out,
        "- LIST: {} workers for {:?} per path, HTTP/2; seeding with {} workers\n",
        args.list_concurrency, args.list_duration, args.seed_concurrency
    );
    out.push_str(HEADER);
    for point in points {
        out.push_str(&row(point));
        out.push('\n');
    }
    out
}

/// One line of the table.
pub fn row(point: &Point) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} |",
        point.objects,
        ms(point.first_start),
        ms(point.restart),
        point.seed_rate.map_or_else(|| "—".to_owned(), |r| format!("{r:.0}")),
        mib(point.idle_rss_kib),
        list(point.list_consistent.as_ref()),
        list(point.list_cached.as_ref()),
        mib(point.rss_after_lists_kib),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn list(report: Option<&Report>) -> String {
    match report {
        None => "—".to_owned(),
        Some(r) if r.ok == 0 => format!("failed ({} errors, {} non-2xx)", r.errors, r.non_2xx()),
        Some(r) => format!("{:.1} / {:.1} ({:.1})", r.latency.p50_ms, r.latency.p99_ms, r.throughput),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_without_lists_show_dashes() {
        let point = Point {
            objects: 0,
            first_start: Duration::from_micros(15_250),
            restart: Duration::from_millis(9),
            seed_rate: None,
            idle_rss_kib: Some(12 * 1024),
            list_consistent: None,
            list_cached: None,
            rss_after_lists_kib: None,
        };
        assert_eq!(row(&point), "| 0 | 15.2 | 9.0 | — | 12.0 | — | — | ? |");
    }
}
