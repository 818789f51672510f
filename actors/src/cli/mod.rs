//! Command-line front end: raw flags (clap) -> validated objects -> core calls.

mod alert_show;
mod bench;
mod bench_live;
mod bench_night;
mod bench_scale;
mod bench_serve;
mod config_check;
mod config_hash;
mod filter;
mod input;
mod inspect;
mod produce;
mod progress;
mod reactions;
mod run;
mod serve;
mod units;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `ampel --version`: the package version and the commit it was built
/// from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("AMPEL_VERSION_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(name = "ampel", version = VERSION, about = "AMPEL alert broker (Rust)")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect alerts.
    Alert {
        #[command(subcommand)]
        command: AlertCommand,
    },
    /// Run a T0 filter unit over alerts: one JSON verdict per line.
    Filter(filter::FilterArgs),
    /// The registered units of each tier with their config fields.
    Units(units::UnitsArgs),
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Run a job (channels over an alert archive) through all tiers.
    Run(run::RunArgs),
    /// Web view of an archive: light curves, cutouts, T2 results (read-only).
    Serve(serve::ServeArgs),
    /// Push archive alerts into a Kafka topic in the survey's wire format.
    Produce(produce::ProduceArgs),
    /// Worker processes that share a live job's work.
    Worker {
        #[command(subcommand)]
        command: WorkerCommand,
    },
    /// Inspect stocks in an archive.
    Stock {
        #[command(subcommand)]
        command: StockCommand,
    },
    /// Inspect or reset T2 documents.
    T2 {
        #[command(subcommand)]
        command: T2Command,
    },
    /// Process runs recorded in an archive.
    Event {
        #[command(subcommand)]
        command: EventCommand,
    },
    /// Logs stored in an archive.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// The outbox of T3 reactions (Slack, GCN, Kafka, webhooks).
    Reactions {
        #[command(subcommand)]
        command: ReactionsCommand,
    },
    /// Dead letters (unprocessable messages, kept with their reason).
    Trouble {
        #[command(subcommand)]
        command: TroubleCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ReactionsCommand {
    /// Reactions with their destination, state, attempts and last error.
    List(reactions::ListArgs),
    /// Make failed (and with --uncertain, uncertain) reactions pending again.
    Retry(reactions::RetryArgs),
}

#[derive(Debug, Subcommand)]
enum TroubleCommand {
    /// Dead letters: what could not be processed, where it came from and
    /// why.
    Show(inspect::TroubleShowArgs),
}

#[derive(Debug, Subcommand)]
enum StockCommand {
    /// Journal, datapoints, states, T2 results and T3 records of a stock.
    Show(inspect::StockShowArgs),
}

#[derive(Debug, Subcommand)]
enum T2Command {
    /// T2 documents: stock, unit, config, link, channel, code, body.
    Show(inspect::T2ShowArgs),
    /// Set matching T2 documents back to NEW.
    Reset(inspect::T2ResetArgs),
}

#[derive(Debug, Subcommand)]
enum EventCommand {
    /// Runs with their process, start, duration, code (OK, ERROR,
    /// INTERRUPTED, RUNNING) and counts.
    Show(inspect::StoreArg),
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// Log lines stored in the archive, by run, stock or channel.
    Show(inspect::LogShowArgs),
}

#[derive(Debug, Subcommand)]
enum AlertCommand {
    /// One JSON object per alert: candid, objectId, stock, datapoints, link, schema.
    Show(alert_show::ShowArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print AMPEL's config id (signed 64-bit) of a JSON config (or @file.yml).
    Hash {
        /// The config as JSON (`'{"min_rb": 0.3}'`), or `@FILE` (YAML or JSON).
        config: String,
    },
    /// Load a job and build all its units without connecting to anything:
    /// every problem with its file and key path (exit 2), or a summary.
    Check {
        /// Job file (YAML).
        #[arg(long)]
        job: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum WorkerCommand {
    /// T2 workers taking the job's T2 queue (Redis Streams) until SIGTERM.
    T2(run::WorkerT2Args),
    /// The job's T3 processes and reaction couriers, until SIGTERM (for
    /// `ampel run --no-t3` consumers).
    T3(run::WorkerT3Args),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Decode, shape and filter alerts N times; prints a JSON summary last.
    T0(bench::BenchT0Args),
    /// The whole pipeline of a job on a fresh embedded archive.
    Replay(bench::BenchReplayArgs),
    /// How long the web view renders a stock page of N datapoints.
    Serve(bench_serve::BenchServeArgs),
    /// The live runtime through a Kafka broker: throughput and latency.
    Live(bench_live::BenchLiveArgs),
    /// One process against N consumers + M T2 worker processes on one
    /// topic: time, throughput, and whether their archives are identical.
    Scale(bench_scale::BenchScaleArgs),
    /// A night made from real alerts (recurring objects, growing histories,
    /// shared upper limits), replayed slice by slice into one archive:
    /// throughput, T2 runs/s, RSS and archive size as the archive grows.
    Night(bench_night::BenchNightArgs),
}

/// Where alerts come from, shared by the commands that read alerts.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Alert files (.avro), directories, or .tar/.tar.gz archives.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Schema registry directory for Confluent-framed (Rubin) messages
    /// (a registry.json mapping ids to .avsc files); built-in schemas otherwise.
    #[arg(long, env = "AMPEL_SCHEMAS", value_name = "DIR")]
    schemas: Option<PathBuf>,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Alert {
            command: AlertCommand::Show(a),
        } => alert_show::run(a),
        Command::Filter(a) => filter::run(a),
        Command::Units(a) => units::run(a),
        Command::Config {
            command: ConfigCommand::Hash { config },
        } => config_hash::run(&config),
        Command::Config {
            command: ConfigCommand::Check { job },
        } => config_check::run(&job),
        Command::Bench {
            command: BenchCommand::T0(a),
        } => bench::run(a),
        Command::Bench {
            command: BenchCommand::Replay(a),
        } => bench::replay(a),
        Command::Bench {
            command: BenchCommand::Serve(a),
        } => bench_serve::run(a),
        Command::Bench {
            command: BenchCommand::Live(a),
        } => bench_live::run(a),
        Command::Bench {
            command: BenchCommand::Scale(a),
        } => bench_scale::run(a),
        Command::Bench {
            command: BenchCommand::Night(a),
        } => bench_night::run(a),
        Command::Run(a) => run::run(a),
        Command::Serve(a) => serve::run_serve(a),
        Command::Produce(a) => produce::run(a),
        Command::Worker {
            command: WorkerCommand::T2(a),
        } => run::worker_t2(a),
        Command::Worker {
            command: WorkerCommand::T3(a),
        } => run::worker_t3(a),
        Command::Stock {
            command: StockCommand::Show(a),
        } => inspect::stock_show(a),
        Command::T2 {
            command: T2Command::Show(a),
        } => inspect::t2_show(a),
        Command::T2 {
            command: T2Command::Reset(a),
        } => inspect::t2_reset(a),
        Command::Event {
            command: EventCommand::Show(a),
        } => inspect::event_show(a),
        Command::Log {
            command: LogCommand::Show(a),
        } => inspect::log_show(a),
        Command::Trouble {
            command: TroubleCommand::Show(a),
        } => inspect::trouble_show(a),
        Command::Reactions { command } => match command {
            ReactionsCommand::List(a) => reactions::list(a),
            ReactionsCommand::Retry(a) => reactions::retry(a),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every subcommand and every flag or argument says what it is for
    /// (`--help` is a user's first documentation).
    #[test]
    fn every_command_and_flag_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let here = format!("{path} {}", cmd.get_name());
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{here} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() != "help" && sub.get_about().is_none() {
                    missing.push(format!("{here} {} (the command)", sub.get_name()));
                }
                walk(sub, &here, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(
            missing.is_empty(),
            "without help text:\n{}",
            missing.join("\n")
        );
    }
}
