//! The `pizza-apiserver` binary.

use std::process::ExitCode;

use clap::Parser;
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
    let resources = pizza_apiserver::resources_with_prefix(opened.storage.clone(), cli.storage.key_prefix())?;
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
