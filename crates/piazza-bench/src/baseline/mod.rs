//! The physical limits that bound a server on this machine, measured with the same runner and
//! concurrency as the scenarios: the transport, raw etcd, the embedded engine.

pub mod embedded;
pub mod etcd;
pub mod fan_out;
pub mod transport;

use std::path::Path;
use std::sync::Arc;

use http::HeaderMap;

use crate::cli::{LoadArgs, ProtocolArgs};
use crate::client::{Client, ClientOptions};
use crate::error::BenchError;
use crate::report::Report;
use crate::rss::Probe;
use crate::runner::{self, Limits};
use crate::scenario::watch::{self as watch_scenario, WatchConfig};
use crate::setup;
use crate::template::run_id;
use crate::workload::HttpWorkload;

use self::transport::{BASELINE_CREATE_PATH, BASELINE_PATH, Behind, ServeMode, TransportServer, fixed_body};

/// The limits of a run from the load flags.
pub fn limits(load: &LoadArgs) -> Limits {
    Limits::new(load.concurrency, load.duration, load.requests)
}

/// Where the transport server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A child process running this binary: its own runtime, as a real server has.
    ChildProcess,
    /// This process's runtime, shared with the client.
    InProcess,
}

/// Starts the transport server with a `body_size`-byte body and drives GETs at it. With
/// `etcd_endpoints`, drives POSTs of a `body_size`-byte body instead, each of which the server
/// writes to etcd before answering (see [`etcd::EtcdBehind`]).
pub async fn transport(
    body_size: usize,
    placement: Placement,
    etcd_endpoints: &[String],
    load: &LoadArgs,
    protocol: &ProtocolArgs,
) -> Result<Report, BenchError> {
    let server = start(placement, body_size, ServeMode::etcd_when_given(etcd_endpoints)).await?;
    let client = client_of(&server, protocol)?;
    let version = client.version();
    let (workload, name) = match etcd_endpoints {
        [] => (HttpWorkload::get(client, BASELINE_PATH.to_owned(), "get"), "baseline transport"),
        _ => (
            HttpWorkload::post(client, BASELINE_CREATE_PATH.to_owned(), fixed_body(body_size), "post"),
            "baseline transport → etcd txn",
        ),
    };
    let name = format!("{name} ({body_size} B body)");
    // The child's RSS and CPU, as the scenarios report the server's.
    let probe = server.pid().map(Probe::start);
    let mut report = runner::run(&name, Arc::new(workload), limits(load)).await;
    report.protocol = Some(version.name().to_owned());
    report.server_rss = probe.map(Probe::finish);
    drop(server);
    Ok(report)
}

/// The watch fan-out limit: the watch scenario's watchers and writers against the transport
/// server relaying every POSTed body to every watch (see [`fan_out`]), with nothing else.
pub async fn watch(
    placement: Placement,
    config: WatchConfig,
    protocol: &ProtocolArgs,
) -> Result<Report, BenchError> {
    let server = start(placement, 0, ServeMode::FanOut).await?;
    let client = client_of(&server, protocol)?;
    let probe = server.pid().map(Probe::start);
    let mut report = watch_scenario::run(&client, "piazza-bench-watch", config).await?;
    report.name = format!("baseline transport fan-out, {}", report.name);
    report.server_rss = probe.map(Probe::finish);
    drop(server);
    Ok(report)
}

/// Starts the transport server in `mode`, where `placement` says.
async fn start(
    placement: Placement,
    body_size: usize,
    mode: ServeMode<'_>,
) -> Result<TransportServer, BenchError> {
    match placement {
        Placement::InProcess => TransportServer::start(body_size, Behind::for_mode(mode).await?).await,
        Placement::ChildProcess => {
            let program = std::env::current_exe().map_err(|e| BenchError::io("finding this program", e))?;
            TransportServer::spawn(&program, body_size, mode).await
        }
    }
}

/// A client of the transport server with the protocol flags.
fn client_of(server: &TransportServer, protocol: &ProtocolArgs) -> Result<Client, BenchError> {
    let options = ClientOptions {
        version: setup::version(protocol),
        connections: protocol.connections.max(1),
        tls: server.tls_options(),
        token: None,
        headers: HeaderMap::new(),
        timeout: Some(protocol.timeout),
    };
    Client::new(crate::client::Target::parse(&server.url())?, options)
}

/// Put-if-absent transactions against etcd at `endpoints`. With `clean_up` the keys are
/// deleted afterwards (in one range delete, which slows etcd 3.4's later commits down until it
/// is compacted and defragmented, so the suite keeps them). With `watched`, one watcher
/// receives every write, as an API server's watch cache does.
pub async fn etcd(
    endpoints: &[String],
    value_size: usize,
    load: &LoadArgs,
    clean_up: bool,
    watched: bool,
) -> Result<Report, BenchError> {
    let value = fixed_body(value_size);
    let workload = Arc::new(etcd::EtcdWorkload::connect(endpoints, &run_id(), value, watched).await?);
    let name = match watched {
        true => "baseline etcd put-if-absent txn, one watcher",
        false => "baseline etcd put-if-absent txn",
    };
    let report = runner::run(name, Arc::clone(&workload), limits(load)).await;
    if clean_up {
        workload.clean_up().await?;
    }
    Ok(report)
}

/// Count-only ranges of one key against etcd at `endpoints`, linearizable or serializable.
pub async fn etcd_reads(
    endpoints: &[String],
    linearizable: bool,
    load: &LoadArgs,
) -> Result<Report, BenchError> {
    let workload = etcd::EtcdReadWorkload::connect(endpoints, &run_id(), linearizable).await?;
    let kind = if linearizable { "linearizable" } else { "serializable" };
    // One in flight is how a consistent read's shared revision probes reach etcd.
    let one_at_a_time = if load.concurrency == 1 { ", one in flight" } else { "" };
    let name = format!("baseline etcd {kind} range (count only{one_at_a_time})");
    Ok(runner::run(&name, Arc::new(workload), limits(load)).await)
}

/// Fsynced creates on an embedded store in `dir`, or in a temporary directory.
pub async fn embedded(dir: Option<&Path>, value_size: usize, load: &LoadArgs) -> Result<Report, BenchError> {
    let temp;
    let dir = match dir {
        Some(dir) => dir,
        None => {
            temp = tempfile::tempdir().map_err(|e| BenchError::io("creating a temporary directory", e))?;
            temp.path()
        }
    };
    let workload = embedded::EmbeddedWorkload::open(dir, &run_id(), fixed_body(value_size))?;
    Ok(runner::run("baseline embedded commit (fsync)", Arc::new(workload), limits(load)).await)
}
