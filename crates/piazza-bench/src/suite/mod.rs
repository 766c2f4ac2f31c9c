//! `piazza-bench suite`: every scenario and its limit in one invocation, as one Markdown table.
//!
//! | scenario | limit |
//! |---|---|
//! | GET | transport with a body the size of the pizza served |
//! | LIST N (both paths), LIST limit | transport with a body the size of that list |
//! | CREATE, UPDATE | raw etcd transactions with `--etcd-endpoints`, else raw embedded commits |
//! | mixed, watch | none (absolute figures) |

pub mod table;

use std::time::Duration;

use crate::baseline::{self, Placement};
use crate::cli::{LoadArgs, ScenarioName, SuiteArgs};
use crate::error::BenchError;
use crate::report::Report;
use crate::runner::Limits;
use crate::scenario::{self, DEFAULT_UPDATE_OBJECTS, Scenarios};

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
    if wanted(ScenarioName::Get) {
        let limit =
            progress(baseline::transport(pizza_size, Placement::ChildProcess, &load, protocol).await?);
        let get = progress(scenarios.get(limits).await?);
        rows.push(Row { report: get, limit: Some(limit_of("transport", &limit)) });
        rows.push(Row { report: limit, limit: None });
    }
    for &n in &args.list_sizes {
        if !wanted(ScenarioName::List) {
            break;
        }
        let consistent = progress(scenarios.list(n, false, limits).await?);
        let cached = progress(scenarios.list(n, true, limits).await?);
        let limit = progress(
            baseline::transport(body_size(&consistent), Placement::ChildProcess, &load, protocol).await?,
        );
        rows.push(Row { report: consistent, limit: Some(limit_of("transport", &limit)) });
        rows.push(Row { report: cached, limit: Some(limit_of("transport", &limit)) });
        rows.push(Row { report: limit, limit: None });
    }
    if wanted(ScenarioName::ListLimit) {
        let n = args.list_sizes.iter().copied().max().unwrap_or(scenario::DEFAULT_LIST_LIMIT_OBJECTS);
        let page = progress(scenarios.list_limit(n, limits).await?);
        let limit =
            progress(baseline::transport(body_size(&page), Placement::ChildProcess, &load, protocol).await?);
        rows.push(Row { report: page, limit: Some(limit_of("transport", &limit)) });
        rows.push(Row { report: limit, limit: None });
    }
    if wanted(ScenarioName::Create) || wanted(ScenarioName::Update) {
        let embedded = progress(baseline::embedded(args.embedded_dir.as_deref(), pizza_size, &load).await?);
        let etcd = match args.etcd_endpoints.as_slice() {
            [] => None,
            endpoints => Some(progress(baseline::etcd(endpoints, pizza_size, &load, false, false).await?)),
        };
        // For reference, not a limit: the same transactions while one watcher receives them,
        // which etcd pays for any API server (its watch cache).
        let etcd_watched = match args.etcd_endpoints.as_slice() {
            [] => None,
            endpoints => Some(progress(baseline::etcd(endpoints, pizza_size, &load, false, true).await?)),
        };
        // The server's own backend is the limit: etcd when its endpoints are given.
        let limit = match &etcd {
            Some(etcd) => limit_of("etcd txn", etcd),
            None => limit_of("embedded commit", &embedded),
        };
        if wanted(ScenarioName::Create) {
            rows.push(Row { report: progress(scenarios.create(limits).await?), limit: Some(limit.clone()) });
        }
        if wanted(ScenarioName::Update) {
            let update = progress(scenarios.update(DEFAULT_UPDATE_OBJECTS, limits).await?);
            rows.push(Row { report: update, limit: Some(limit) });
        }
        rows.push(Row { report: embedded, limit: None });
        rows.extend(etcd.into_iter().chain(etcd_watched).map(|report| Row { report, limit: None }));
    }
    if wanted(ScenarioName::Mixed) {
        rows.push(Row { report: progress(scenarios.mixed(limits).await?), limit: None });
    }
    if wanted(ScenarioName::Watch) {
        let config = scenario::watch_config(&args.watch, limits.duration);
        rows.push(Row { report: progress(scenarios.watch(config).await?), limit: None });
    }

    let header = Header {
        machine: machine(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        settings: format!(
            "{}, -c {}, -z {:?}, h2 connections {}",
            scenarios.client().version().name(),
            load.concurrency,
            limits.duration,
            protocol.connections
        ),
    };
    let markdown = table::render(&header, &rows);
    if let Some(out) = &args.out {
        std::fs::write(out, &markdown)
            .map_err(|e| BenchError::io(format!("writing {}", out.display()), e))?;
    }
    Ok(markdown)
}

fn limit_of(name: &str, report: &Report) -> (String, f64) {
    (name.to_owned(), report.throughput)
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
