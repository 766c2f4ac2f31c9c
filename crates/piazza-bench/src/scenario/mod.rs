//! The scenarios against pizza-apiserver. Each seeds what it needs (idempotently: existing
//! objects are kept) in a namespace of its own, `<prefix>-<what>`:
//!
//! | scenario | namespace | objects |
//! |---|---|---|
//! | get | `-get` | `pizza-0` |
//! | list, list-limit (N objects) | `-n<N>` | `pizza-0` … `pizza-<N-1>` |
//! | create | `-create` | new ones named `c-<run>-<n>` |
//! | update | `-update` | `pizza-0` … (`--objects`, default 100) |
//! | mixed | the above | |
//! | watch | `-watch` | new ones named `w-<run>-<n>` |

pub mod api;
pub mod proto;
pub mod watch;
pub mod workloads;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};

use self::api::{JSON, object_name, pizza_json, pizza_path, pizzas_path, seed_pizzas, seed_toppings};
use self::proto::{PROTOBUF, pizza_protobuf};
use self::watch::WatchConfig;
use self::workloads::{MixedWorkload, UpdateWorkload};
use crate::cli::{ScenarioArgs, ScenarioName, TargetArgs, WireFormat};
use crate::client::Client;
use crate::error::BenchError;
use crate::report::Report;
use crate::rss::Probe;
use crate::runner::{self, Limits, Workload};
use crate::setup;
use crate::template::{Template, run_id};
use crate::workload::{Body, Encoder, HttpWorkload};

/// Default object count of the `list` scenario.
pub const DEFAULT_LIST_OBJECTS: usize = 100;
/// Default object count of the `list-limit` scenario.
pub const DEFAULT_LIST_LIMIT_OBJECTS: usize = 10_000;
/// Default object count of the `update` scenario (and of the updates in `mixed`).
pub const DEFAULT_UPDATE_OBJECTS: usize = 100;
/// Page size of `list-limit`.
pub const PAGE: usize = 500;

/// Runs the scenarios against one server.
pub struct Scenarios {
    client: Client,
    prefix: String,
    server_pid: Option<u32>,
    seed_concurrency: usize,
    format: WireFormat,
}

// === impl Scenarios ===

impl Scenarios {
    /// Connects (lazily) to the server named by `target`.
    pub fn new(target: &TargetArgs, seed_concurrency: usize) -> Result<Scenarios, BenchError> {
        let creds = setup::credentials(&target.auth)?;
        let url = setup::server_url(target.server.as_deref(), &creds)?;
        let client = setup::client(&url, &creds, &target.protocol, HeaderMap::new())?;
        Ok(Scenarios {
            client,
            prefix: target.namespace_prefix.clone(),
            server_pid: target.server_pid,
            seed_concurrency,
            format: target.format,
        })
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn namespace(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }

    async fn seed(&self, namespace: &str, count: usize) -> Result<(), BenchError> {
        seed_toppings(&self.client).await?;
        seed_pizzas(&self.client, namespace, count, self.seed_concurrency).await
    }

    async fn measure<W: Workload>(&self, name: &str, workload: W, limits: Limits) -> Report {
        let probe = self.server_pid.map(Probe::start);
        let mut report = runner::run(name, Arc::new(workload), limits).await;
        report.protocol = Some(self.client.version().name().to_owned());
        report.server_rss = probe.map(Probe::finish);
        report
    }

    fn get_workload(&self) -> HttpWorkload {
        let path = pizza_path(&self.namespace("get"), &object_name(0));
        HttpWorkload::get(self.client.clone(), path, "get").accepting(self.format.accept())
    }

    fn list_workload(&self, objects: usize, query: &str) -> HttpWorkload {
        let path = format!("{}{query}", pizzas_path(&self.namespace(&format!("n{objects}"))));
        HttpWorkload::get(self.client.clone(), path, "list").accepting(self.format.accept())
    }

    fn create_workload(&self) -> HttpWorkload {
        self.create_workload_in_run(&run_id())
    }

    fn create_workload_in_run(&self, run: &str) -> HttpWorkload {
        let namespace = self.namespace("create");
        let path = pizzas_path(&namespace);
        let (body, content_type) = match self.format {
            WireFormat::Json => {
                (Body::Template(Template::new(&pizza_json(&namespace, "c-{run}-{n}", &[]), run)), JSON)
            }
            WireFormat::Protobuf => {
                let run = run.to_owned();
                let encode = move |n: u64| pizza_protobuf(&namespace, &format!("c-{run}-{n}"), &[]);
                (Body::Encoded(Encoder(Arc::new(encode))), PROTOBUF)
            }
        };
        HttpWorkload {
            client: self.client.clone(),
            method: Method::POST,
            path,
            body,
            content_type: Some(content_type),
            accept: self.format.accept(),
            label: "create",
        }
    }

    fn update_workload(&self, objects: usize) -> UpdateWorkload {
        UpdateWorkload {
            client: self.client.clone(),
            namespace: self.namespace("update"),
            objects,
            format: self.format,
        }
    }

    /// GET one pizza.
    pub async fn get(&self, limits: Limits) -> Result<Report, BenchError> {
        self.seed(&self.namespace("get"), 1).await?;
        Ok(self.measure("GET one pizza", self.get_workload(), limits).await)
    }

    /// LIST `objects` pizzas: consistent (`rv0` false) or from the cache (`resourceVersion=0`).
    pub async fn list(&self, objects: usize, rv0: bool, limits: Limits) -> Result<Report, BenchError> {
        self.seed(&self.namespace(&format!("n{objects}")), objects).await?;
        let (query, how) = if rv0 { ("?resourceVersion=0", "resourceVersion=0") } else { ("", "consistent") };
        let name = format!("LIST {objects} pizzas ({how})");
        Ok(self.measure(&name, self.list_workload(objects, query), limits).await)
    }

    /// The first page (`limit=500`) of `objects` pizzas.
    pub async fn list_limit(&self, objects: usize, limits: Limits) -> Result<Report, BenchError> {
        self.seed(&self.namespace(&format!("n{objects}")), objects).await?;
        let name = format!("LIST limit={PAGE} of {objects} pizzas");
        Ok(self.measure(&name, self.list_workload(objects, &format!("?limit={PAGE}")), limits).await)
    }

    /// CREATE pizzas with unique names.
    pub async fn create(&self, limits: Limits) -> Result<Report, BenchError> {
        seed_toppings(&self.client).await?;
        Ok(self.measure("CREATE pizza", self.create_workload(), limits).await)
    }

    /// GET + PUT compare-and-swap over `objects` pizzas.
    pub async fn update(&self, objects: usize, limits: Limits) -> Result<Report, BenchError> {
        self.seed(&self.namespace("update"), objects).await?;
        let name = format!("UPDATE pizza (GET+PUT CAS over {objects} objects)");
        Ok(self.measure(&name, self.update_workload(objects), limits).await)
    }

    /// 70 % GET, 20 % LIST of 100, 5 % CREATE, 5 % UPDATE.
    pub async fn mixed(&self, limits: Limits) -> Result<Report, BenchError> {
        self.mixed_workload(limits, false).await
    }

    /// The mix, with every created pizza deleted right after, so the stored data stays the
    /// same size however long it runs (for `soak`).
    pub async fn steady_mixed(&self, limits: Limits) -> Result<Report, BenchError> {
        self.mixed_workload(limits, true).await
    }

    async fn mixed_workload(&self, limits: Limits, delete_created: bool) -> Result<Report, BenchError> {
        self.seed(&self.namespace("get"), 1).await?;
        self.seed(&self.namespace(&format!("n{DEFAULT_LIST_OBJECTS}")), DEFAULT_LIST_OBJECTS).await?;
        self.seed(&self.namespace("update"), DEFAULT_UPDATE_OBJECTS).await?;
        let run = run_id();
        let workload = MixedWorkload {
            get: self.get_workload(),
            list: self.list_workload(DEFAULT_LIST_OBJECTS, ""),
            create: self.create_workload_in_run(&run),
            update: self.update_workload(DEFAULT_UPDATE_OBJECTS),
            delete_created: delete_created
                .then(|| (pizzas_path(&self.namespace("create")), format!("c-{run}-"))),
        };
        let name = if delete_created {
            "mixed, steady (70% GET, 20% LIST 100, 5% CREATE+DELETE, 5% UPDATE)"
        } else {
            "mixed (70% GET, 20% LIST 100, 5% CREATE, 5% UPDATE)"
        };
        Ok(self.measure(name, workload, limits).await)
    }

    /// WATCH fan-out.
    pub async fn watch(&self, config: WatchConfig) -> Result<Report, BenchError> {
        seed_toppings(&self.client).await?;
        let namespace = self.namespace("watch");
        let probe = self.server_pid.map(Probe::start);
        let mut report = watch::run(&self.client, &namespace, config).await?;
        report.server_rss = probe.map(Probe::finish);
        Ok(report)
    }

    /// The average body size of one GET of the seeded pizza (for the transport baseline).
    pub async fn pizza_size(&self) -> Result<usize, BenchError> {
        self.seed(&self.namespace("get"), 1).await?;
        let mut session = self.client.session(0);
        let path = pizza_path(&self.namespace("get"), &object_name(0));
        let got = session
            .fetch(self.client.request(Method::GET, &path, Bytes::new(), None))
            .await
            .map_err(|e| BenchError::Http(format!("GET {path}: {e}")))?;
        Ok(got.body.len())
    }
}

/// Runs `scenario` as the command line asks; `list` gives two reports (consistent, rv=0).
pub async fn command(args: &ScenarioArgs) -> Result<Vec<Report>, BenchError> {
    let scenarios = Scenarios::new(&args.target, args.load.concurrency)?;
    let limits = Limits::new(args.load.concurrency, args.load.duration, args.load.requests);
    Ok(match args.name {
        ScenarioName::Get => vec![scenarios.get(limits).await?],
        ScenarioName::List => {
            let n = args.objects.unwrap_or(DEFAULT_LIST_OBJECTS);
            vec![scenarios.list(n, false, limits).await?, scenarios.list(n, true, limits).await?]
        }
        ScenarioName::ListLimit => {
            vec![scenarios.list_limit(args.objects.unwrap_or(DEFAULT_LIST_LIMIT_OBJECTS), limits).await?]
        }
        ScenarioName::Create => vec![scenarios.create(limits).await?],
        ScenarioName::Update => {
            vec![scenarios.update(args.objects.unwrap_or(DEFAULT_UPDATE_OBJECTS), limits).await?]
        }
        ScenarioName::Mixed => vec![scenarios.mixed(limits).await?],
        ScenarioName::Watch => {
            vec![scenarios.watch(watch_config(&args.watch, limits.duration, args.target.format)).await?]
        }
    })
}

/// The watch scenario's settings from the flags.
pub fn watch_config(args: &crate::cli::WatchArgs, duration: Duration, format: WireFormat) -> WatchConfig {
    WatchConfig {
        format,
        watchers: args.watchers.max(1),
        writes_per_sec: args.writes_per_sec.max(1),
        duration,
        grace: Duration::from_secs(5),
    }
}
