//! The command line (clap). Turning arguments into clients lives in [`crate::setup`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Load tool for Kubernetes-style API servers, with the baselines that bound them.
#[derive(Debug, Parser)]
#[command(name = "piazza-bench", version)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drive any URL, like `hey`.
    Http(HttpArgs),
    /// Run a named workload against a Piazza pizza-apiserver (seeds its own objects).
    Scenario(ScenarioArgs),
    /// Measure a physical limit: the transport, raw etcd, or the embedded engine.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Run every scenario and its limit; print (and write) a Markdown table.
    Suite(SuiteArgs),
    /// Start-up time, RSS and LIST latency at growing object counts (starts the server itself).
    Scaling(ScalingArgs),
    /// The mixed workload for a long time, sampling the server's RSS (leak check).
    Soak(SoakArgs),
}

/// How long and how hard.
#[derive(Clone, Debug, Args)]
pub struct LoadArgs {
    /// Number of concurrent workers.
    #[arg(short = 'c', long = "concurrency", default_value_t = 16)]
    pub concurrency: usize,
    /// How long to run (e.g. 10s, 500ms, 1m). Default 10s; with -n alone, at most 10m.
    #[arg(short = 'z', long = "duration", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many requests.
    #[arg(short = 'n', long = "requests")]
    pub requests: Option<u64>,
}

/// HTTP version and connections.
#[derive(Clone, Debug, Default, Args)]
pub struct ProtocolArgs {
    /// Speak HTTP/1.1, one connection per worker.
    #[arg(long, conflicts_with = "h2")]
    pub h1: bool,
    /// Speak HTTP/2, workers multiplexed over --connections connections (the default).
    #[arg(long)]
    pub h2: bool,
    /// HTTP/2 connection pool size.
    #[arg(long, default_value_t = 2)]
    pub connections: usize,
    /// Per-request timeout, including the whole body.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub timeout: Duration,
}

/// Credentials and trust.
#[derive(Clone, Debug, Default, Args)]
pub struct AuthArgs {
    /// Take the server, CA, client certificate/key or token from this kubeconfig's current
    /// context. The flags below override it.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// CA certificate (PEM) to trust.
    #[arg(long)]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM).
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Bearer token.
    #[arg(long)]
    pub token: Option<String>,
    /// Do not verify the server certificate.
    #[arg(long)]
    pub insecure: bool,
}

/// `http`: one request shape, repeated.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// The URL (http:// or https://).
    #[arg(long)]
    pub url: String,
    /// Method.
    #[arg(short = 'X', long = "method", default_value = "GET")]
    pub method: String,
    /// Request body.
    #[arg(short = 'd', long = "data", conflicts_with = "data_file")]
    pub data: Option<String>,
    /// Request body from a file.
    #[arg(short = 'D', long = "data-file")]
    pub data_file: Option<PathBuf>,
    /// Extra header, 'Name: value' (repeatable). Content-Type defaults to application/json
    /// when there is a body.
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Treat the body as a template: {n} becomes a request counter, {run} an id of this
    /// invocation (for unique CREATE names).
    #[arg(long)]
    pub body_template: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub load: LoadArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub protocol: ProtocolArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub auth: AuthArgs,
    /// Report the RSS (VmRSS) of this process before and after.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScenarioName {
    /// GET one pizza.
    Get,
    /// LIST N pizzas, consistent and with resourceVersion=0.
    List,
    /// LIST the first page (limit=500) of N pizzas.
    ListLimit,
    /// CREATE pizzas with unique names.
    Create,
    /// GET + PUT compare-and-swap on a set of pizzas; conflicts are retried and counted.
    Update,
    /// 70 % get, 20 % list of 100, 5 % create, 5 % update.
    Mixed,
    /// M watchers, W writes/s: commit-to-delivery latency and missed events.
    Watch,
}

/// The wire format of what a scenario measures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum WireFormat {
    /// application/json.
    #[default]
    Json,
    /// application/vnd.kubernetes.protobuf for everything measured: GET and LIST answers,
    /// CREATE and UPDATE bodies and answers, and the watch stream; seeding stays JSON.
    Protobuf,
}

impl WireFormat {
    /// The format's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            WireFormat::Json => "JSON",
            WireFormat::Protobuf => "protobuf",
        }
    }

    /// The Accept header of requests; `None` keeps the default (JSON).
    pub fn accept(self) -> Option<&'static str> {
        match self {
            WireFormat::Json => None,
            WireFormat::Protobuf => Some("application/vnd.kubernetes.protobuf"),
        }
    }
}

/// What every scenario needs to reach the server.
#[derive(Clone, Debug, Args)]
pub struct TargetArgs {
    /// Server URL; default: the kubeconfig's.
    #[arg(long)]
    pub server: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub auth: AuthArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub protocol: ProtocolArgs,
    /// Namespaces used are named `<prefix>-<scenario>`.
    #[arg(long, default_value = "piazza-bench")]
    pub namespace_prefix: String,
    /// Wire format.
    #[arg(long, value_enum, default_value_t = WireFormat::Json)]
    pub format: WireFormat,
    /// Report the RSS (VmRSS) of this process before and after.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// Scenario-specific sizes.
#[derive(Clone, Debug, Args)]
pub struct WatchArgs {
    /// Watchers for the watch scenario.
    #[arg(long, default_value_t = 1000)]
    pub watchers: usize,
    /// Writes per second for the watch scenario.
    #[arg(long, default_value_t = 100)]
    pub writes_per_sec: u32,
}

/// `scenario`.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// Which scenario.
    #[arg(value_enum)]
    pub name: ScenarioName,
    /// Objects to seed (list: N listed; update: the set updated). Default: list 100,
    /// list-limit 10000, update 100.
    #[arg(long)]
    pub objects: Option<usize>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub load: LoadArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub watch: WatchArgs,
    /// Print the reports as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `baseline`.
#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// A minimal hyper + rustls server in a child process (or this one), returning a fixed body.
    Transport(TransportArgs),
    /// The child side of `transport`: serve a fixed body on 127.0.0.1 until killed.
    #[command(hide = true)]
    TransportServe(TransportServeArgs),
    /// The watch scenario against the transport server relaying each POSTed body to every
    /// watch, and doing nothing else.
    Watch(WatchBaselineArgs),
    /// Raw etcd put-if-absent transactions.
    Etcd(EtcdArgs),
    /// Raw fsynced commits to the embedded engine.
    Embedded(EmbeddedArgs),
}

/// `baseline transport`.
#[derive(Debug, Args)]
pub struct TransportArgs {
    /// Size of the fixed response body (default: one encoded Pizza, 339 bytes).
    #[arg(long)]
    pub body_size: Option<usize>,
    /// Run the server on this process's runtime instead of a child process (client and server
    /// then share one scheduler, unlike a real server and its clients).
    #[arg(long)]
    pub in_process: bool,
    /// Put etcd behind the server: POST a body of `--body-size` bytes, which the server writes
    /// to etcd with one put-if-absent (while one watcher receives every write) before it
    /// answers. The limit of a CREATE with nothing else in the server.
    #[arg(long, value_delimiter = ',')]
    pub etcd_endpoints: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub load: LoadArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub protocol: ProtocolArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `baseline transport-serve` (internal).
#[derive(Debug, Args)]
pub struct TransportServeArgs {
    /// Size of the fixed response body.
    #[arg(long)]
    pub body_size: usize,
    /// Write the CA's PEM here before printing the address.
    #[arg(long)]
    pub ca_out: PathBuf,
    /// Write each request's body to etcd here before answering.
    #[arg(long, value_delimiter = ',')]
    pub etcd_endpoints: Vec<String>,
    /// Serve watches and relay each POSTed body to them.
    #[arg(long, conflicts_with = "etcd_endpoints")]
    pub fan_out: bool,
}

/// `baseline watch`.
#[derive(Debug, Args)]
pub struct WatchBaselineArgs {
    /// Run the server on this process's runtime instead of a child process.
    #[arg(long)]
    pub in_process: bool,
    /// The format the writers send and the watchers accept.
    #[arg(long, value_enum, default_value_t = WireFormat::Json)]
    pub format: WireFormat,
    /// How long the writers write (`-z`).
    #[command(flatten)]
    pub load: LoadArgs,
    /// Watchers and writes per second.
    #[command(flatten)]
    pub watch: WatchArgs,
    /// HTTP version and timeout; the watchers take one connection per 100.
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `baseline etcd`.
#[derive(Debug, Args)]
pub struct EtcdArgs {
    /// etcd endpoints.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    pub endpoints: Vec<String>,
    /// Delete the keys written (under `/piazza-bench/<run>/`) afterwards. Off by default: etcd
    /// 3.4 commits more slowly after a large delete until it is compacted and defragmented.
    #[arg(long)]
    pub clean_up: bool,
    /// Keep one watch on the written keys open during the run, as every API server's watch
    /// cache does (etcd then also encodes and sends each event).
    #[arg(long)]
    pub with_watcher: bool,
    /// Read instead of write: count-only ranges of one key, linearizable (a consistent read's
    /// revision probe) unless `--serializable`.
    #[arg(long, conflicts_with_all = ["clean_up", "with_watcher"])]
    pub reads: bool,
    /// With `--reads`: serializable ranges (served from the member's own state, no ReadIndex).
    #[arg(long, requires = "reads")]
    pub serializable: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub load: LoadArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `baseline embedded`.
#[derive(Debug, Args)]
pub struct EmbeddedArgs {
    /// Directory for the store (default: a fresh temporary directory, removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub load: LoadArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `suite`.
#[derive(Debug, Args)]
pub struct SuiteArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub load: LoadArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub watch: WatchArgs,
    /// Object counts for the LIST scenarios.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    pub list_sizes: Vec<usize>,
    /// Directory for the embedded-engine baseline (default: a temporary directory).
    #[arg(long)]
    pub embedded_dir: Option<PathBuf>,
    /// Also run the raw etcd baseline against these endpoints.
    #[arg(long, value_delimiter = ',')]
    pub etcd_endpoints: Vec<String>,
    /// Scenarios to run (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<ScenarioName>,
    /// Run each scenario and its limit this many times, alternating, and report the round
    /// with the median ratio and the spread of all rounds (for noisy machines).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
    /// Write the Markdown table here as well.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `scaling`.
#[derive(Debug, Args)]
pub struct ScalingArgs {
    /// The server binary; it must take `--bind-address`, `--secure-port` and `--data-dir`.
    #[arg(long, default_value = "target/release/pizza-apiserver")]
    pub server_bin: PathBuf,
    /// Extra server arguments (repeatable), e.g. `--server-arg=--watch-cache=false`.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    pub server_args: Vec<String>,
    /// The server's port.
    #[arg(long, default_value_t = 27490)]
    pub port: u16,
    /// Object counts; each gets a fresh data directory.
    #[arg(long, value_delimiter = ',', default_value = "0,1000,10000,100000")]
    pub sizes: Vec<usize>,
    /// Where the data directories go (`<dir>/n<N>`, replaced on each run).
    #[arg(long)]
    pub work_dir: PathBuf,
    /// Workers for the LISTs. The Go reference figures for LIST 10,000 imply about 4 in
    /// flight (Little's law: 9.1 req/s × 0.425 s).
    #[arg(long, default_value_t = 4)]
    pub list_concurrency: usize,
    /// How long each LIST runs.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub list_duration: Duration,
    /// Workers for seeding.
    #[arg(long, default_value_t = 16)]
    pub seed_concurrency: usize,
    /// Write the Markdown table here as well.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `soak`.
#[derive(Debug, Args)]
pub struct SoakArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub target: TargetArgs,
    /// Workers.
    #[arg(short = 'c', long = "concurrency", default_value_t = 16)]
    pub concurrency: usize,
    /// How long the load runs.
    #[arg(short = 'z', long = "duration", value_parser = parse_duration, default_value = "10m")]
    pub duration: Duration,
    /// RSS sampling interval.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub sample_every: Duration,
    /// Write the Markdown here as well.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Parses `10s`, `500ms`, `1m30s`, `2h`, `250us`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return secs_to_duration(secs, text);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let unit_len =
            rest[digits..].find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len() - digits);
        let (number, unit) = (&rest[..digits], &rest[digits..digits + unit_len]);
        let value: f64 = number.parse().map_err(|_| format!("invalid duration {text:?}"))?;
        let scale = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(format!("invalid duration {text:?}: unknown unit {unit:?}")),
        };
        total += secs_to_duration(value * scale, text)?;
        rest = &rest[digits + unit_len..];
    }
    if text.is_empty() {
        return Err("empty duration".into());
    }
    Ok(total)
}

fn secs_to_duration(secs: f64, text: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid duration {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("piazza-bench").chain(args.iter().copied()))
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn http_mode_like_hey() {
        let cli = parse(&[
            "http",
            "--url",
            "https://127.0.0.1:8443/x",
            "-X",
            "POST",
            "-d",
            "{}",
            "-H",
            "A: b",
            "-H",
            "C: d",
            "-c",
            "32",
            "-z",
            "5s",
            "--h1",
            "--insecure",
            "--body-template",
            "--server-pid",
            "42",
            "--json",
        ])
        .unwrap();
        let Command::Http(http) = cli.command else { panic!("not http") };
        assert_eq!(http.method, "POST");
        assert_eq!(http.data.as_deref(), Some("{}"));
        assert_eq!(http.headers, ["A: b", "C: d"]);
        assert_eq!(http.load.concurrency, 32);
        assert_eq!(http.load.duration, Some(Duration::from_secs(5)));
        assert!(http.protocol.h1 && !http.protocol.h2);
        assert!(http.auth.insecure && http.body_template && http.json);
        assert_eq!(http.server_pid, Some(42));
        assert_eq!(http.protocol.timeout, Duration::from_secs(60));
    }

    #[test]
    fn conflicting_and_incomplete_flags_are_rejected() {
        assert!(parse(&["http", "--url", "u", "--h1", "--h2"]).is_err());
        assert!(parse(&["http", "--url", "u", "-d", "x", "-D", "f"]).is_err());
        assert!(parse(&["http", "--url", "u", "--cert", "c.pem"]).is_err());
        assert!(parse(&["http"]).is_err());
        assert!(parse(&["scenario", "nope"]).is_err());
    }

    #[test]
    fn scenarios_baselines_and_suite() {
        let cli = parse(&["scenario", "list-limit", "--kubeconfig", "k", "--objects", "10000", "-n", "50"])
            .unwrap();
        let Command::Scenario(s) = cli.command else { panic!("not scenario") };
        assert_eq!(s.name, ScenarioName::ListLimit);
        assert_eq!(s.objects, Some(10_000));
        assert_eq!(s.load.requests, Some(50));
        assert_eq!(s.load.concurrency, 16);
        assert_eq!(s.target.format, WireFormat::Json);
        assert_eq!(s.target.format.accept(), None);
        assert_eq!((s.watch.watchers, s.watch.writes_per_sec), (1000, 100));

        let cli = parse(&["scenario", "list", "--kubeconfig", "k", "--format", "protobuf"]).unwrap();
        let Command::Scenario(s) = cli.command else { panic!("not scenario") };
        assert_eq!(s.target.format.accept(), Some("application/vnd.kubernetes.protobuf"));

        let cli = parse(&["baseline", "etcd", "-c", "8"]).unwrap();
        let Command::Baseline(BaselineCommand::Etcd(e)) = cli.command else { panic!("not etcd") };
        assert_eq!(e.endpoints, ["http://127.0.0.1:2379"]);
        assert_eq!(e.load.concurrency, 8);
        assert!(!e.with_watcher);
        let cli = parse(&["baseline", "etcd", "--with-watcher"]).unwrap();
        let Command::Baseline(BaselineCommand::Etcd(e)) = cli.command else { panic!("not etcd") };
        assert!(e.with_watcher);
        let cli = parse(&["baseline", "etcd", "--reads", "--serializable"]).unwrap();
        let Command::Baseline(BaselineCommand::Etcd(e)) = cli.command else { panic!("not etcd") };
        assert!(e.reads && e.serializable);
        // Reads write nothing to watch or clean up; serializable only qualifies reads.
        assert!(parse(&["baseline", "etcd", "--reads", "--with-watcher"]).is_err());
        assert!(parse(&["baseline", "etcd", "--reads", "--clean-up"]).is_err());
        assert!(parse(&["baseline", "etcd", "--serializable"]).is_err());

        let cli = parse(&["baseline", "transport", "--etcd-endpoints", "http://a:1,http://b:2"]).unwrap();
        let Command::Baseline(BaselineCommand::Transport(t)) = cli.command else { panic!("not transport") };
        assert_eq!(t.etcd_endpoints, ["http://a:1", "http://b:2"]);

        let cli = parse(&["baseline", "transport", "--body-size", "100", "--h1"]).unwrap();
        let Command::Baseline(BaselineCommand::Transport(t)) = cli.command else { panic!("not transport") };
        assert_eq!(t.body_size, Some(100));

        let cli =
            parse(&["baseline", "watch", "--watchers", "7", "--format", "protobuf", "-z", "2s"]).unwrap();
        let Command::Baseline(BaselineCommand::Watch(w)) = cli.command else { panic!("not watch") };
        assert_eq!((w.watch.watchers, w.watch.writes_per_sec, w.format), (7, 100, WireFormat::Protobuf));
        assert_eq!(w.load.duration, Some(Duration::from_secs(2)));
        assert!(!w.in_process);
        for hostile in [&["--watchers", "-3"][..], &["--writes-per-sec", "4294967296"], &["--format", "yaml"]]
        {
            assert!(parse(&[&["baseline", "watch"][..], hostile].concat()).is_err(), "{hostile:?}");
        }
        let serve = ["baseline", "transport-serve", "--body-size", "1", "--ca-out", "ca.pem", "--fan-out"];
        let cli = parse(&serve).unwrap();
        let Command::Baseline(BaselineCommand::TransportServe(t)) = cli.command else { panic!("not serve") };
        assert!(t.fan_out && t.etcd_endpoints.is_empty());
        assert!(parse(&[&serve[..], &["--etcd-endpoints", "http://a:1"]].concat()).is_err(), "one mode only");

        let cli = parse(&[
            "suite",
            "--kubeconfig",
            "k",
            "--out",
            "o.md",
            "--list-sizes",
            "10,20",
            "--only",
            "get,watch",
        ])
        .unwrap();
        let Command::Suite(s) = cli.command else { panic!("not suite") };
        assert_eq!(s.list_sizes, [10, 20]);
        assert_eq!(s.only, [ScenarioName::Get, ScenarioName::Watch]);
        assert_eq!(s.out, Some(PathBuf::from("o.md")));
        assert_eq!(s.rounds, 1);

        let cli = parse(&["suite", "--kubeconfig", "k", "--rounds", "5"]).unwrap();
        let Command::Suite(s) = cli.command else { panic!("not suite") };
        assert_eq!(s.rounds, 5);
        for hostile in ["0", "101", "-1", "many", "4294967296"] {
            assert!(parse(&["suite", "--kubeconfig", "k", "--rounds", hostile]).is_err(), "{hostile}");
        }
    }

    #[test]
    fn scaling_and_soak() {
        let cli = parse(&[
            "scaling",
            "--work-dir",
            "/tmp/w",
            "--sizes",
            "0,10",
            "--server-arg=--watch-cache=false",
            "--server-arg",
            "--etcd-servers=http://127.0.0.1:2379",
        ])
        .unwrap();
        let Command::Scaling(s) = cli.command else { panic!("not scaling") };
        assert_eq!(s.sizes, [0, 10]);
        assert_eq!(s.server_args, ["--watch-cache=false", "--etcd-servers=http://127.0.0.1:2379"]);
        assert_eq!((s.list_concurrency, s.port), (4, 27490));
        assert!(parse(&["scaling"]).is_err(), "--work-dir is required");

        let cli = parse(&["soak", "--kubeconfig", "k", "--server-pid", "7", "-z", "30s"]).unwrap();
        let Command::Soak(s) = cli.command else { panic!("not soak") };
        assert_eq!(s.target.server_pid, Some(7));
        assert_eq!((s.duration, s.sample_every), (Duration::from_secs(30), Duration::from_secs(10)));
    }
}
