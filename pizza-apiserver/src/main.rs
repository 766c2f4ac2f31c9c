//! The `pizza-apiserver` binary.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's allocator: the request path allocates and frees many small
/// objects across threads, where glibc spent ~19 % of GET's CPU (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use piazza::server::{Server, ServerOptions, StorageOptions, shutdown_signal};

/// Serves restaurant.programming-kubernetes.info (Pizzas and Toppings) and the same Pizzas as
/// menu.piazza.dev. With no flags it runs standalone: embedded storage and self-signed
/// certificates under --data-dir, and a kubeconfig for kubectl at <data-dir>/kubeconfig.
/// With --etcd-servers it stores in etcd; several replicas may share one etcd.
#[derive(Debug, Parser)]
#[command(name = "pizza-apiserver", version)]
struct Cli {
    #[command(flatten)]
    server: ServerOptions,
    #[command(flatten)]
    storage: StorageOptions,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Writes the `.proto` files of a group (one per version, `<group>/<version>/generated.proto`)
    /// and the apimachinery files they import under --out-dir, or prints one version's file.
    ExportProto {
        /// The API group.
        #[arg(long)]
        group: String,
        /// Print only this version's file to standard output.
        #[arg(long, conflicts_with = "out_dir")]
        version: Option<String>,
        /// Write the files under this directory.
        #[arg(long)]
        out_dir: Option<std::path::PathBuf>,
    },
}

/// `export-proto`: prints or writes the group's `.proto` files.
fn export_proto(group: &str, version: Option<&str>, out_dir: Option<&std::path::Path>) -> Result<(), String> {
    use pizza_apiserver::apis::proto;
    let files = proto::group_files(group)
        .ok_or_else(|| format!("unknown group {group:?}; served groups: {}", proto::GROUPS.join(", ")))?;
    if let Some(dir) = out_dir {
        for (path, contents) in piazza::codec::protobuf::export::apimachinery_files().into_iter().chain(files)
        {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap_or(dir))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("{}", path.display());
        }
        return Ok(());
    }
    let wanted = match version {
        Some(v) => files.into_iter().find(|(path, _)| path.ends_with(&format!("/{v}/generated.proto"))),
        None if files.len() == 1 => files.into_iter().next(),
        None => return Err(format!("{group} has several versions: pass --version or --out-dir")),
    };
    let (_, contents) = wanted.ok_or_else(|| format!("{group} has no version {version:?}"))?;
    print!("{contents}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Some(Command::ExportProto { group, version, out_dir }) = &cli.command {
        return match export_proto(group, version.as_deref(), out_dir.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pizza-apiserver: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = e.to_string();
            let mut source = e.source();
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("pizza-apiserver: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let options = cli.server;
    let opened = cli.storage.open(&options.data_dir).await?;
    let resources = pizza_apiserver::resources_with(opened.storage.clone(), &cli.storage.layout())?;
    let mut server = Server::bind(&options, opened.storage, resources).await?;
    for source in opened.metrics {
        server.add_metrics(source);
    }
    let addr = server.local_addr()?;
    tracing::info!(%addr, "serving restaurant.programming-kubernetes.info");
    if let Some(standalone) = server.standalone() {
        let kubeconfig =
            std::fs::canonicalize(&standalone.kubeconfig).unwrap_or_else(|_| standalone.kubeconfig.clone());
        println!("pizza-apiserver is serving on https://127.0.0.1:{}", addr.port());
        println!("Use it with:\n  kubectl --kubeconfig {} api-resources", kubeconfig.display());
    }
    server.run(shutdown_signal()).await;
    Ok(())
}
