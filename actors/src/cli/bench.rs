//! `ampel bench t0`: throughput of decode + shape + filter, in one process.
//!
//! The inputs are read into memory first (reported as `load_seconds`), so
//! the timed loop measures the T0 work itself, not the disk or gunzip.
//! The schema cache lives across rounds, as it does in a live process.

use super::filter::UnitArgs;
use super::input::{decode_reported, decoder, load_all, Tally};
use super::InputArgs;
use clap::Args;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct BenchT0Args {
    #[command(flatten)]
    unit: UnitArgs,
    /// How many times to process the whole input.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    #[command(flatten)]
    input: InputArgs,
}

pub fn run(args: BenchT0Args) -> anyhow::Result<ExitCode> {
    let filter = args.unit.build()?;
    let decoder = decoder(&args.input)?;

    let mut load_tally = Tally::default();
    let (messages, load_seconds) = load_all(&args.input.paths, &mut load_tally);
    let bytes: usize = messages.iter().map(|m| m.bytes.len()).sum();
    eprintln!(
        "loaded {} messages ({:.1} MB) in {load_seconds:.3} s",
        messages.len(),
        bytes as f64 / 1e6
    );

    let mut tally = Tally::default();
    let mut accepted = 0u64;
    let start = Instant::now();
    for round in 1..=args.rounds {
        let r0 = Instant::now();
        let before = tally.alerts;
        for raw in &messages {
            for alert in decode_reported(&decoder, raw.clone(), &mut tally) {
                if filter.process(&alert).accepted() {
                    accepted += 1;
                }
            }
        }
        let n = tally.alerts - before;
        let dt = r0.elapsed().as_secs_f64();
        eprintln!(
            "round {round}/{}: {n} alerts in {dt:.4} s ({:.0} alerts/s)",
            args.rounds,
            n as f64 / dt
        );
    }
    let seconds = start.elapsed().as_secs_f64();
    let summary = serde_json::json!({
        "unit": args.unit.unit,
        "rounds": args.rounds,
        "alerts": tally.alerts,
        "accepted": accepted,
        "failed": tally.failed + load_tally.failed,
        "seconds": seconds,
        "alerts_per_s": tally.alerts as f64 / seconds,
        "load_seconds": load_seconds,
        "schemas_parsed": decoder.schemas_parsed(),
        "threads": 1,
    });
    println!("{summary}");
    Ok(Tally {
        alerts: tally.alerts,
        failed: tally.failed + load_tally.failed,
    }
    .exit_code())
}

#[derive(Debug, Args)]
pub struct BenchReplayArgs {
    /// Job file; its archive setting is ignored (a fresh embedded archive
    /// in a temporary directory is used).
    #[arg(long)]
    job: std::path::PathBuf,
}

/// The full pipeline (T0..T3 with storage) on a fresh archive. The job's
/// archives are read into memory first (`load_seconds`), as `bench t0` does
/// and as the Python loop it is compared with is timed; `ampel run` reads
/// them as a stream instead, inflating on a second thread.
pub fn replay(args: BenchReplayArgs) -> anyhow::Result<ExitCode> {
    let mut pipeline = super::run::pipeline(&args.job)?;
    let mut tally = Tally::default();
    let (messages, load_seconds) = load_all(&pipeline.job.source.paths, &mut tally);
    let dir = std::env::temp_dir().join(format!("ampel-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("bench.sqlite");
    let mut archive = ampel::store::open_embedded(&path.display().to_string())?;
    let summary = pipeline.replay_from(
        ampel::run::Input::Memory(messages),
        &mut archive,
        &super::run::version(),
        &mut |_| {},
    );
    drop(archive);
    let _ = std::fs::remove_dir_all(&dir);
    let summary = summary?;
    eprintln!(
        "{} alerts ({} failed) in {:.3} s after {load_seconds:.3} s loading; {} T2 runs, {} T3 runs",
        summary.alerts, summary.failed, summary.seconds, summary.t2_runs, summary.t3_runs
    );
    println!(
        "{}",
        serde_json::json!({
            "job": summary.job, "alerts": summary.alerts, "failed": summary.failed + tally.failed,
            "accepted": summary.accepted, "t2": summary.t2, "t2_runs": summary.t2_runs,
            "t3_runs": summary.t3_runs, "seconds": summary.seconds,
            "alerts_per_s": summary.alerts_per_s, "load_seconds": load_seconds,
        })
    );
    Ok(ExitCode::SUCCESS)
}
