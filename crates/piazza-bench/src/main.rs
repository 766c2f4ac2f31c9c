//! The `piazza-bench` binary.

use std::process::ExitCode;

use clap::Parser;
use piazza_bench::baseline::transport::{self, PIZZA_BODY_SIZE, ServeMode};
use piazza_bench::baseline::{self, Placement};
use piazza_bench::cli::{BaselineCommand, Cli, Command};
use piazza_bench::{BenchError, http_cmd, output, scaling, scenario, soak, suite};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("piazza-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), BenchError> {
    match cli.command {
        Command::Http(args) => output::print(&[http_cmd::run(&args).await?], args.json),
        Command::Scenario(args) => output::print(&scenario::command(&args).await?, args.json),
        Command::Baseline(BaselineCommand::Transport(args)) => {
            let size = args.body_size.unwrap_or(PIZZA_BODY_SIZE);
            let placement = if args.in_process { Placement::InProcess } else { Placement::ChildProcess };
            output::print(
                &[baseline::transport(size, placement, &args.etcd_endpoints, &args.load, &args.protocol)
                    .await?],
                args.json,
            )
        }
        Command::Baseline(BaselineCommand::TransportServe(args)) => {
            let mode = match args.fan_out {
                true => ServeMode::FanOut,
                false => ServeMode::etcd_when_given(&args.etcd_endpoints),
            };
            transport::serve_forever(args.body_size, &args.ca_out, mode).await?
        }
        Command::Baseline(BaselineCommand::Watch(args)) => {
            let placement = if args.in_process { Placement::InProcess } else { Placement::ChildProcess };
            let config =
                scenario::watch_config(&args.watch, baseline::limits(&args.load).duration, args.format);
            output::print(&[baseline::watch(placement, config, &args.protocol).await?], args.json)
        }
        Command::Baseline(BaselineCommand::Etcd(args)) if args.reads => output::print(
            &[baseline::etcd_reads(&args.endpoints, !args.serializable, &args.load).await?],
            args.json,
        ),
        Command::Baseline(BaselineCommand::Etcd(args)) => output::print(
            &[baseline::etcd(&args.endpoints, PIZZA_BODY_SIZE, &args.load, args.clean_up, args.with_watcher)
                .await?],
            args.json,
        ),
        Command::Baseline(BaselineCommand::Embedded(args)) => {
            let report = baseline::embedded(args.dir.as_deref(), PIZZA_BODY_SIZE, &args.load).await?;
            output::print(&[report], args.json)
        }
        Command::Suite(args) => println!("{}", suite::run(&args).await?),
        Command::Scaling(args) => println!("{}", scaling::run(&args).await?),
        Command::Soak(args) => println!("{}", soak::run(&args).await?),
    }
    Ok(())
}
