//! `ampel produce`: push archive alerts into a Kafka topic (replays, tests).

use super::input::Tally;
use super::InputArgs;
use ampel::avro::SchemaRegistry;
use anyhow::Context;
use clap::Args;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Bootstrap brokers: host:port, comma-separated.
    #[arg(long, env = "AMPEL_KAFKA_BROKERS")]
    brokers: String,
    /// Topic to write to (created by the broker if it allows that).
    #[arg(long)]
    topic: String,
    /// Extra librdkafka properties KEY=VALUE (e.g. security.protocol=SASL_SSL).
    #[arg(long = "property", value_name = "KEY=VALUE")]
    properties: Vec<String>,
    #[command(flatten)]
    input: InputArgs,
}

pub fn run(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    let registry = match &args.input.schemas {
        Some(dir) => SchemaRegistry::from_dir(dir)?,
        None => SchemaRegistry::builtin(),
    };
    let properties = args
        .properties
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--property {p:?}: expected KEY=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut tally = Tally::default();
    let summary = ampel_actors::kafka::produce(
        &args.brokers,
        &args.topic,
        &properties,
        &args.input.paths,
        &registry,
        &mut |origin, e| {
            tally.failed += 1;
            eprintln!("error: {origin}: {e}");
        },
    )
    .with_context(|| format!("producing to {} on {}", args.topic, args.brokers))?;
    println!("{}", serde_json::to_string(&summary)?);
    tally.alerts = summary.produced;
    Ok(tally.exit_code())
}
