//! `piazza-bench scaling`: how start-up time, memory and LIST latency grow with the number of
//! stored objects. For each size N the tool starts a fresh server on an empty data directory,
//! seeds N pizzas through the API, restarts the server (the start-up that counts: N objects
//! on disk), samples its idle RSS, then lists all N pizzas, consistently and with
//! `resourceVersion=0`.

pub mod process;
pub mod table;

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

use self::process::{ServerCommand, ServerProcess};
use crate::cli::{ProtocolArgs, ScalingArgs};
use crate::error::BenchError;
use crate::kubeconfig::read_kubeconfig;
use crate::report::Report;
use crate::rss::{Probe, rss_kib};
use crate::runner::{self, Limits};
use crate::scenario::api::{pizzas_path, seed_pizzas, seed_toppings};
use crate::setup;
use crate::workload::HttpWorkload;

/// The namespace the pizzas are seeded in.
const NAMESPACE: &str = "piazza-bench-scaling";
/// How long the server idles before its RSS is read.
const SETTLE: Duration = Duration::from_secs(2);

/// The figures of one size.
#[derive(Clone, Debug)]
pub struct Point {
    /// Objects stored.
    pub objects: usize,
    /// Start-up to `/readyz` on a new data directory (certificates generated).
    pub first_start: Duration,
    /// Start-up to `/readyz` with the objects on disk.
    pub restart: Duration,
    /// Seeding throughput, objects per second (none for 0 objects).
    pub seed_rate: Option<f64>,
    /// RSS after the restart, idle, KiB.
    pub idle_rss_kib: Option<u64>,
    /// LIST of all objects, consistent.
    pub list_consistent: Option<Report>,
    /// LIST of all objects, `resourceVersion=0`.
    pub list_cached: Option<Report>,
    /// RSS after the lists, KiB.
    pub rss_after_lists_kib: Option<u64>,
}

/// Runs every size; returns the Markdown table (also written to `--out`).
pub async fn run(args: &ScalingArgs) -> Result<String, BenchError> {
    let command = ServerCommand {
        binary: args.server_bin.clone(),
        port: args.port,
        extra_args: args.server_args.clone(),
    };
    let mut points = Vec::new();
    for &objects in &args.sizes {
        let point = measure(args, &command, objects).await?;
        eprintln!("{}", table::row(&point));
        points.push(point);
    }
    let markdown = table::render(&points, &std::env::args().collect::<Vec<_>>().join(" "), args);
    if let Some(out) = &args.out {
        std::fs::write(out, &markdown)
            .map_err(|e| BenchError::io(format!("writing {}", out.display()), e))?;
    }
    Ok(markdown)
}

async fn measure(args: &ScalingArgs, command: &ServerCommand, objects: usize) -> Result<Point, BenchError> {
    let data_dir = args.work_dir.join(format!("n{objects}"));
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .map_err(|e| BenchError::io(format!("removing {}", data_dir.display()), e))?;
    }
    let first = ServerProcess::start(command, &data_dir).await?;
    let first_start = first.startup;
    let creds = read_kubeconfig(&data_dir.join("kubeconfig"))?;
    let url = format!("https://127.0.0.1:{}", args.port);
    let protocol = ProtocolArgs { timeout: Duration::from_secs(300), ..ProtocolArgs::default() };
    let seed_rate = if objects > 0 {
        let client = setup::client(&url, &creds, &protocol, HeaderMap::new())?;
        seed_toppings(&client).await?;
        let started = std::time::Instant::now();
        seed_pizzas(&client, NAMESPACE, objects, args.seed_concurrency).await?;
        Some(objects as f64 / started.elapsed().as_secs_f64())
    } else {
        None
    };
    first.stop().await?;

    let server = ServerProcess::start(command, &data_dir).await?;
    let restart = server.startup;
    tokio::time::sleep(SETTLE).await;
    let idle_rss_kib = rss_kib(server.pid());
    let (mut list_consistent, mut list_cached) = (None, None);
    if objects > 0 {
        // A fresh client: its connections are made after the restart.
        let client = setup::client(&url, &creds, &protocol, HeaderMap::new())?;
        let limits = Limits::new(args.list_concurrency, Some(args.list_duration), None);
        for (query, slot, how) in [
            ("", &mut list_consistent, "consistent"),
            ("?resourceVersion=0", &mut list_cached, "resourceVersion=0"),
        ] {
            let path = format!("{}{query}", pizzas_path(NAMESPACE));
            let workload = Arc::new(HttpWorkload::get(client.clone(), path, "list"));
            let probe = Probe::start(server.pid());
            let mut report = runner::run(&format!("LIST {objects} pizzas ({how})"), workload, limits).await;
            report.server_rss = Some(probe.finish());
            *slot = Some(report);
        }
    }
    let rss_after_lists_kib = rss_kib(server.pid());
    server.stop().await?;
    Ok(Point {
        objects,
        first_start,
        restart,
        seed_rate,
        idle_rss_kib,
        list_consistent,
        list_cached,
        rss_after_lists_kib,
    })
}
