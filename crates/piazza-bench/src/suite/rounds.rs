//! Repeated rounds of a limit and the scenarios compared to it.
//!
//! On a shared machine the throughput of one run moves by ±20 % from one moment to the next,
//! so a scenario and its limit measured once each can land on different sides of the noise.
//! With `--rounds N` the suite runs each block (its limit, then the scenarios compared to it,
//! back to back) N times; for every scenario it shows the round whose ratio is the median,
//! and the spread of the ratios of all rounds.

use crate::report::Report;

use super::table::Row;

/// One round of a block: the limit's run and the runs compared to it, in the block's order.
#[derive(Clone, Debug)]
pub struct Round {
    /// The limit's run.
    pub limit: Report,
    /// The scenarios compared to it.
    pub runs: Vec<Report>,
}

/// The table rows of a block run once or more: for each scenario, the run of its median
/// round with that round's limit (and every round's ratio when there was more than one),
/// then the limit's run of the first scenario's median round.
pub fn rows(limit_name: &str, rounds: &[Round]) -> Vec<Row> {
    let Some(first) = rounds.first() else {
        return Vec::new();
    };
    let mut rows = Vec::with_capacity(first.runs.len() + 1);
    let mut limit_round = None;
    for scenario in 0..first.runs.len() {
        let ratios: Vec<f64> =
            rounds.iter().map(|round| ratio(&round.runs[scenario], &round.limit)).collect();
        let median = median_index(&ratios);
        limit_round.get_or_insert(median);
        let round = &rounds[median];
        rows.push(Row {
            report: round.runs[scenario].clone(),
            limit: Some((limit_name.to_owned(), round.limit.throughput)),
            round_ratios: if rounds.len() > 1 { ratios } else { Vec::new() },
        });
    }
    let limit = &rounds[limit_round.unwrap_or(0)].limit;
    rows.push(Row { report: limit.clone(), limit: None, round_ratios: Vec::new() });
    rows
}

/// A run's throughput over its limit's (0 when the limit did nothing).
fn ratio(run: &Report, limit: &Report) -> f64 {
    if limit.throughput > 0.0 { run.throughput / limit.throughput } else { 0.0 }
}

/// The index of the median of `values` (the lower one of an even count).
fn median_index(values: &[f64]) -> usize {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    order[(values.len().saturating_sub(1)) / 2]
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::report::{Recorder, Sample};

    /// A report of `name` that did `per_second` requests in one second.
    fn report(name: &str, per_second: u64) -> Report {
        let mut rec = Recorder::default();
        for _ in 0..per_second {
            rec.sample(&Sample::new("x", 200, 10), Duration::from_millis(1));
        }
        rec.report(name, 16, Duration::from_secs(1))
    }

    fn round(limit: u64, runs: &[u64]) -> Round {
        Round { limit: report("transport", limit), runs: runs.iter().map(|&n| report("GET", n)).collect() }
    }

    #[test]
    fn one_round_keeps_its_runs_and_lists_no_spread() {
        let rows = rows("transport", &[round(1000, &[700])]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].report.requests, 700);
        assert_eq!(rows[0].limit, Some(("transport".into(), 1000.0)));
        assert!(rows[0].round_ratios.is_empty());
        assert_eq!(rows[1].report.requests, 1000);
        assert_eq!(rows[1].limit, None);
    }

    #[test]
    fn each_scenario_shows_its_median_round_against_that_rounds_limit() {
        // Ratios of the first scenario: 0.5, 0.9, 0.7 -> the median is round 2 (0.7).
        // Ratios of the second: 0.2, 0.1, 0.3 -> the median is round 0 (0.2).
        let rounds = [round(1000, &[500, 200]), round(1000, &[900, 100]), round(2000, &[1400, 600])];
        let rows = rows("etcd txn", &rounds);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].report.requests, 1400);
        assert_eq!(rows[0].limit, Some(("etcd txn".into(), 2000.0)));
        assert_eq!(rows[0].round_ratios, vec![0.5, 0.9, 0.7]);
        assert_eq!(rows[1].report.requests, 200);
        assert_eq!(rows[1].limit, Some(("etcd txn".into(), 1000.0)));
        // The limit listed is the one of the first scenario's median round.
        assert_eq!(rows[2].report.requests, 2000);
    }

    #[test]
    fn an_even_count_takes_the_lower_median_and_a_dead_limit_counts_as_zero() {
        let rounds = [round(1000, &[800]), round(0, &[800]), round(1000, &[600]), round(1000, &[900])];
        let rows = rows("transport", &rounds);
        // Ratios 0.8, 0 (no limit), 0.6, 0.9: sorted 0, 0.6, 0.8, 0.9 -> lower median 0.6.
        assert_eq!(rows[0].report.requests, 600);
        assert_eq!(rows[0].round_ratios[1], 0.0);
    }

    #[test]
    fn no_rounds_no_rows() {
        assert!(rows("transport", &[]).is_empty());
    }
}
