//! `piazza-bench suite`: every scenario and its limit in one invocation, as one Markdown table.
//!
//! | scenario | limit |
//! |---|---|
//! | GET | transport with a body the size of the pizza served |
//! | LIST N (both paths), LIST limit | transport with a body the size of that list |
//! | CREATE, UPDATE | raw etcd transactions with `--etcd-endpoints`, else raw embedded commits |
//! | CREATE on etcd, again | the transport with etcd behind it (each POST one put-if-absent, one watcher) |
//! | mixed | none (absolute figures) |
//! | watch | the transport relaying each write to every watch, shown beside it (latency and CPU; throughput is fixed by the writes and watchers) |
//!
//! With `--etcd-endpoints`, the GET block adds etcd's linearizable count-only ranges (at the
//! suite's concurrency and one in flight) for reference.
//!
//! `--rounds N` repeats each block of a limit and its scenarios N times (see [`rounds`]).

pub mod rounds;
pub mod table;

use std::time::Duration;

use crate::baseline::{self, Placement};
use crate::cli::{LoadArgs, ScenarioName, SuiteArgs};
use crate::error::BenchError;
use crate::report::Report;
use crate::runner::Limits;
use crate::scenario::{self, DEFAULT_UPDATE_OBJECTS, Scenarios};

use self::rounds::Round;
use self::table::{Header, Row};

/// Runs the suite; returns the Markdown (also written to `--out`).
pub async fn run(args: &SuiteArgs) -> Result<String, BenchError> {
    let load = LoadArgs {
        duration: Some(args.load.duration.unwrap_or(Duration::from_secs(10))),
        ..args.load.clone()
    };
    let limits = Limits::new(load.concurrency, load.duration, load.requests);
    let wanted = |s: ScenarioName| args.only.is_empty() || args.only.contains(&s);
    let scenarios = Scenarios::new(&args.target, load.concurrency)?;
    let protocol = &args.target.protocol;
    let mut rows = Vec::new();

    let pizza_size = scenarios.pizza_size().await?;
    let transport = |size: usize| baseline::transport(size, Placement::ChildProcess, &[], &load, protocol);
    if wanted(ScenarioName::Get) {
        let mut rounds = Vec::new();
        for _ in 0..args.rounds {
            let limit = progress(transport(pizza_size).await?);
            let get = progress(scenarios.get(limits).await?);
            rounds.push(Round { limit, runs: vec![get] });
        }
        rows.extend(rounds::rows("transport", &rounds));
        if !args.etcd_endpoints.is_empty() {
            // Not limits: what etcd's linearizable reads cost, one per GET (as upstream reads)
            // and one in flight (as the shared revision probes of consistent reads go).
            let one = LoadArgs { concurrency: 1, ..load.clone() };
            for load in [&load, &one] {
                rows.push(Row::plain(progress(
                    baseline::etcd_reads(&args.etcd_endpoints, true, load).await?,
                )));
            }
        }
    }
    for &n in &args.list_sizes {
        if !wanted(ScenarioName::List) {
            break;
        }
        let mut rounds = Vec::new();
        for _ in 0..args.rounds {
            let consistent = progress(scenarios.list(n, false, limits).await?);
            let cached = progress(scenarios.list(n, true, limits).await?);
            let limit = progress(transport(body_size(&consistent)).await?);
            rounds.push(Round { limit, runs: vec![consistent, cached] });
        }
        rows.extend(rounds::rows("transport", &rounds));
    }
    if wanted(ScenarioName::ListLimit) {
        let n = args.list_sizes.iter().copied().max().unwrap_or(scenario::DEFAULT_LIST_LIMIT_OBJECTS);
        let mut rounds = Vec::new();
        for _ in 0..args.rounds {
            let page = progress(scenarios.list_limit(n, limits).await?);
            let limit = progress(transport(body_size(&page)).await?);
            rounds.push(Round { limit, runs: vec![page] });
        }
        rows.extend(rounds::rows("transport", &rounds));
    }
    if wanted(ScenarioName::Create) || wanted(ScenarioName::Update) {
        let endpoints = args.etcd_endpoints.as_slice();
        // The server's own backend is the limit: etcd when its endpoints are given. The
        // other figures are for reference and run once.
        let mut references = Vec::new();
        let mut rounds = Vec::new();
        // On etcd, CREATE is also compared to the transport with etcd behind it: the same
        // write and watch with nothing else in the server.
        let mut behind_transport = Vec::new();
        let embedded = || baseline::embedded(args.embedded_dir.as_deref(), pizza_size, &load);
        for round in 0..args.rounds {
            let (limit, behind) = if endpoints.is_empty() {
                (progress(embedded().await?), None)
            } else {
                if round == 0 {
                    references.push(progress(embedded().await?));
                }
                let raw = progress(baseline::etcd(endpoints, pizza_size, &load, false, false).await?);
                let placement = Placement::ChildProcess;
                let behind = baseline::transport(pizza_size, placement, endpoints, &load, protocol).await?;
                (raw, Some(progress(behind)))
            };
            let mut runs = Vec::new();
            if wanted(ScenarioName::Create) {
                let create = progress(scenarios.create(limits).await?);
                if let Some(behind) = behind {
                    behind_transport.push(Round { limit: behind, runs: vec![create.clone()] });
                }
                runs.push(create);
            }
            if wanted(ScenarioName::Update) {
                runs.push(progress(scenarios.update(DEFAULT_UPDATE_OBJECTS, limits).await?));
            }
            rounds.push(Round { limit, runs });
        }
        if !endpoints.is_empty() {
            // Not a limit: the same transactions while one watcher receives them, which
            // etcd pays for any API server (its watch cache).
            references.push(progress(baseline::etcd(endpoints, pizza_size, &load, false, true).await?));
        }
        let limit_name = if endpoints.is_empty() { "embedded commit" } else { "etcd txn" };
        rows.extend(rounds::rows(limit_name, &rounds));
        rows.extend(rounds::rows("transport → etcd txn", &behind_transport));
        rows.extend(references.into_iter().map(Row::plain));
    }
    if wanted(ScenarioName::Mixed) {
        rows.push(Row::plain(progress(scenarios.mixed(limits).await?)));
    }
    if wanted(ScenarioName::Watch) {
        let config = scenario::watch_config(&args.watch, limits.duration, args.target.format);
        for _ in 0..args.rounds {
            let limit = baseline::watch(Placement::ChildProcess, config, protocol).await?;
            rows.push(Row::plain(progress(limit)));
            rows.push(Row::plain(progress(scenarios.watch(config).await?)));
        }
    }

    let header = Header {
        machine: machine(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        settings: format!(
            "{}, {}, -c {}, -z {:?}, h2 connections {}, rounds {}",
            scenarios.client().version().name(),
            args.target.format.name(),
            load.concurrency,
            limits.duration,
            protocol.connections,
            args.rounds
        ),
    };
    let markdown = table::render(&header, &rows);
    if let Some(out) = &args.out {
        std::fs::write(out, &markdown)
            .map_err(|e| BenchError::io(format!("writing {}", out.display()), e))?;
    }
    Ok(markdown)
}

/// Average response body size of a run.
fn body_size(report: &Report) -> usize {
    let responses = (report.requests - report.errors).max(1);
    (report.bytes / responses) as usize
}

/// Prints the report to stderr as the suite goes.
fn progress(report: Report) -> Report {
    eprintln!("{}", report.to_text());
    report
}

/// CPU model, count and kernel, from /proc.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("unknown CPU");
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpus} × {model}, Linux {}", kernel.trim())
}
