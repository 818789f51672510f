//! `ampel run`: a job through all tiers on the archive, with a progress bar
//! on a terminal and a JSON summary printed last.

use ampel::job::Job;
use ampel::run::{Pipeline, Progress, Version};
use ampel_actors::store::open_archive;
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Job file (YAML).
    #[arg(long)]
    job: PathBuf,
    /// Serve Prometheus /metrics, /healthz and /readyz on this address
    /// (e.g. 0.0.0.0:9100) while running.
    #[arg(long, env = "AMPEL_METRICS_ADDR")]
    metrics: Option<String>,
    /// Hot state, overriding the job's (`memory` or redis://HOST:PORT).
    #[arg(long, env = "AMPEL_HOT")]
    hot: Option<String>,
    /// Archive address, overriding the job's (sqlite:PATH or mongodb://...).
    #[arg(long, env = "AMPEL_STORE")]
    store: Option<String>,
}

pub fn version() -> Version {
    let commit = env!("AMPEL_GIT_COMMIT");
    Version {
        version: env!("CARGO_PKG_VERSION").to_string(),
        commit: (!commit.is_empty()).then(|| commit.to_string()),
    }
}

/// Loads and builds a job; every problem is listed (exit 2).
pub fn pipeline(job: &std::path::Path) -> anyhow::Result<Pipeline> {
    let job = Job::load(job)?;
    Ok(Pipeline::build(job)?)
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let metrics = ampel_actors::metrics::Metrics::new();
    if let Some(addr) = &args.metrics {
        let bound = metrics
            .serve(addr)
            .with_context(|| format!("serving metrics on {addr}"))?;
        eprintln!("metrics on http://{bound}/metrics");
    }
    let mut pipeline = pipeline(&args.job)?.with_telemetry(metrics.clone());
    if let Some(hot) = args.hot.clone().or_else(|| pipeline.job.hot.clone()) {
        let state = ampel_actors::hot::open_hot(&hot, &pipeline.job.name)?;
        pipeline = pipeline.with_hot_state(state);
    }
    let address = args.store.unwrap_or_else(|| pipeline.job.archive.clone());
    let mut archive =
        open_archive(&address).with_context(|| format!("opening the archive {address}"))?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("valid template"),
        );
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    });
    let mut report = |p: Progress| {
        if let Some(b) = &bar {
            b.set_message(format!(
                "{}: {} alerts, {} accepted, {} failed",
                p.stage, p.alerts, p.accepted, p.failed
            ));
        }
    };
    if let Some(kafka) = pipeline.job.source.kafka.clone() {
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(sig, stop.clone())
                .with_context(|| format!("installing the handler of signal {sig}"))?;
        }
        drop(archive);
        let hot = args.hot.clone().or_else(|| pipeline.job.hot.clone());
        let outcome = ampel_actors::live::run(
            pipeline,
            kafka,
            ampel_actors::live::LiveOptions {
                archive: address,
                hot,
                version: version(),
                metrics: metrics.clone(),
                stop,
            },
        )?;
        println!("{}", serde_json::to_string(&outcome.summary)?);
        return Ok(match outcome.exit {
            0 if outcome.summary.failed > 0 => ExitCode::from(3),
            0 => ExitCode::SUCCESS,
            4 => {
                eprintln!(
                    "error: no message received and the brokers failed {} time(s); last: {}",
                    outcome.broker_errors,
                    outcome.last_broker_error.unwrap_or_default()
                );
                ExitCode::from(4)
            }
            n => ExitCode::from(n),
        });
    }
    metrics.set_ready(true);
    let input = ampel::run::Input::Paths(pipeline.job.source.paths.clone());
    let summary = pipeline.replay_from(input, archive.as_mut(), &version(), &mut report)?;
    metrics.set_ready(false);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    println!("{}", serde_json::to_string(&summary)?);
    Ok(if summary.failed > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Debug, Args)]
pub struct WorkerT2Args {
    /// Job file (YAML): its T2 units are the ones run.
    #[arg(long)]
    job: PathBuf,
    /// Worker threads (default: the cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Serve Prometheus /metrics, /healthz and /readyz on this address.
    #[arg(long, env = "AMPEL_METRICS_ADDR")]
    metrics: Option<String>,
    /// Hot state with the T2 queue, overriding the job's (redis://HOST:PORT).
    #[arg(long, env = "AMPEL_HOT")]
    hot: Option<String>,
    /// Archive address, overriding the job's (sqlite:PATH or mongodb://...).
    #[arg(long, env = "AMPEL_STORE")]
    store: Option<String>,
}

/// `ampel worker t2`.
pub fn worker_t2(args: WorkerT2Args) -> anyhow::Result<ExitCode> {
    let metrics = ampel_actors::metrics::Metrics::new();
    if let Some(addr) = &args.metrics {
        let bound = metrics
            .serve(addr)
            .with_context(|| format!("serving metrics on {addr}"))?;
        eprintln!("metrics on http://{bound}/metrics");
    }
    let pipeline = pipeline(&args.job)?.with_telemetry(metrics.clone());
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone())
            .with_context(|| format!("installing the handler of signal {sig}"))?;
    }
    let hot = args.hot.clone().or_else(|| pipeline.job.hot.clone());
    let archive = args.store.unwrap_or_else(|| pipeline.job.archive.clone());
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    if threads == 0 {
        anyhow::bail!("--threads must be at least 1");
    }
    let runs = ampel_actors::live::run_t2_workers(
        pipeline,
        ampel_actors::live::LiveOptions {
            archive,
            hot,
            version: version(),
            metrics,
            stop,
        },
        threads,
    )?;
    println!("{}", serde_json::json!({"t2_runs": runs}));
    Ok(ExitCode::SUCCESS)
}
