//! `piazza-bench`: the load tool of Piazza.
//!
//! - `http`: drive any URL like `hey` (HTTP/1.1 or HTTP/2 over TLS, client certificates or a
//!   bearer token, a body template for unique CREATE names).
//! - `scenario`: GET, LIST, LIST with limit, CREATE, UPDATE (compare-and-swap), mixed and
//!   WATCH fan-out against pizza-apiserver, seeding their own objects.
//! - `baseline`: the limits: a minimal hyper + rustls server, raw etcd transactions, raw
//!   embedded-engine commits.
//! - `suite`: all of them, as a Markdown table with ratios to the limits.
//! - `scaling`: start-up time, RSS and LIST latency at 1k/10k/100k objects (starts the
//!   server itself).
//! - `soak`: the mixed workload for minutes while the server's RSS is sampled (leak check).
//!
//! Latencies go into HdrHistograms (1 µs to 1 h, 3 significant digits); the server's RSS and
//! CPU come from `/proc/<pid>`. See the crate's README for the commands.

pub mod baseline;
pub mod cli;
pub mod client;
pub mod error;
pub mod http_cmd;
pub mod kubeconfig;
pub mod output;
pub mod report;
pub mod rss;
pub mod runner;
pub mod scaling;
pub mod scenario;
pub mod setup;
pub mod soak;
pub mod suite;
pub mod template;
pub mod workload;

pub use error::BenchError;
