//! The `pizza-apiserver` binary.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use piazza::server::{Server, ServerOptions, shutdown_signal};
use piazza::storage::embedded::{EmbeddedOptions, EmbeddedStore};

/// Serves restaurant.programming-kubernetes.info (Pizzas and Toppings). With no flags it
/// runs standalone: embedded storage and self-signed certificates under --data-dir, and a
/// kubeconfig for kubectl at <data-dir>/kubeconfig.
#[derive(Debug, Parser)]
#[command(name = "pizza-apiserver", version)]
struct Cli {
    #[command(flatten)]
    server: ServerOptions,
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
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pizza-apiserver: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let options = cli.server;
    let storage = EmbeddedStore::open(
        &options.data_dir.join("db"),
        EmbeddedOptions {
            history_window: Duration::from_secs(options.history_window_seconds),
            ..EmbeddedOptions::default()
        },
    )?;
    let resources = pizza_apiserver::resources(storage.clone())?;
    let server = Server::bind(&options, storage, resources).await?;
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
