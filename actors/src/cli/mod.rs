//! Command-line front end: raw flags (clap) -> validated objects -> core calls.

mod alert_show;
mod bench;
mod config_hash;
mod filter;
mod input;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "ampel", version, about = "AMPEL alert broker (Rust)")]
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
}

#[derive(Debug, Subcommand)]
enum AlertCommand {
    /// One JSON object per alert: candid, objectId, stock, datapoints, link, schema.
    Show(alert_show::ShowArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print AMPEL's config id (signed 64-bit) of a JSON config (or @file.yml).
    Hash { config: String },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Decode, shape and filter alerts N times; prints a JSON summary last.
    T0(bench::BenchT0Args),
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
        Command::Config {
            command: ConfigCommand::Hash { config },
        } => config_hash::run(&config),
        Command::Bench {
            command: BenchCommand::T0(a),
        } => bench::run(a),
    }
}
