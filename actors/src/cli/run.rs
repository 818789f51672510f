//! `ampel run`: a job through all tiers, a replay of its alert files (with
//! a progress bar on a terminal) or live from Kafka (the actors of
//! `ampel_actors::live`); a JSON summary is printed last. `ampel worker
//! t2`: T2 workers sharing a live job's queue.

use super::progress::{ProgressMode, ProgressView};
use ampel::job::Job;
use ampel::run::{Pipeline, Version};
use ampel_actors::live::LiveOptions;
use ampel_actors::metrics::Metrics;
use ampel_actors::react::{deliver_queued, Prepared};
use ampel_actors::store::open_archive;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What a long-running command serves and where its state lives.
#[derive(Debug, Args)]
pub struct ServiceArgs {
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

/// A job built, with its metrics served and its addresses resolved.
struct Service {
    pipeline: Pipeline,
    metrics: Arc<Metrics>,
    archive: String,
    hot: Option<String>,
}

impl ServiceArgs {
    fn start(self) -> anyhow::Result<Service> {
        let metrics = Metrics::new();
        if let Some(addr) = &self.metrics {
            let bound = metrics
                .serve(addr)
                .with_context(|| format!("serving metrics on {addr}"))?;
            eprintln!("metrics on http://{bound}/metrics");
        }
        let pipeline = pipeline(&self.job)?.with_telemetry(metrics.clone());
        let hot = self.hot.or_else(|| pipeline.job.hot.clone());
        let archive = self.store.unwrap_or_else(|| pipeline.job.archive.clone());
        Ok(Service {
            pipeline,
            metrics,
            archive,
            hot,
        })
    }
}

impl Service {
    /// Options for the live runtime; SIGTERM and SIGINT set its stop flag.
    fn live_options(&self) -> anyhow::Result<LiveOptions> {
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(sig, stop.clone())
                .with_context(|| format!("installing the handler of signal {sig}"))?;
        }
        Ok(LiveOptions {
            archive: self.archive.clone(),
            hot: self.hot.clone(),
            version: version(),
            metrics: self.metrics.clone(),
            stop,
            t3: true,
            t2_workers: None,
        })
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// Live runs: leave the job's T3 processes and reactions to an `ampel
    /// worker t3` process (scaled-out consumers run T0 and T2 only).
    #[arg(long, env = "AMPEL_NO_T3")]
    no_t3: bool,
    /// Live runs: T2 worker threads, overriding the job's `t2.workers` (0
    /// leaves T2 to `ampel worker t2` processes).
    #[arg(long, env = "AMPEL_T2_WORKERS")]
    t2_workers: Option<usize>,
    /// No T3 lines on stderr (T3LogSummary's, T3ChannelSummary's); the t3
    /// documents keep them. Errors, progress and the summary remain.
    #[arg(long, short)]
    quiet: bool,
    /// Replays: how progress is shown (alerts done of the total, rate,
    /// time left; then T2 runs).
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    progress: ProgressMode,
    /// Replays: seconds between progress lines (`--progress lines`, or
    /// `auto` when stderr is not a terminal).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    progress_interval: f64,
}

pub fn version() -> Version {
    let commit = env!("AMPEL_GIT_COMMIT");
    Version {
        version: env!("CARGO_PKG_VERSION").to_string(),
        commit: (!commit.is_empty()).then(|| commit.to_string()),
    }
}

/// Loads and builds a job; every problem is listed (exit 2). A replay runs
/// T2 beside T0 unless `AMPEL_T2_BESIDE_T0=0` keeps it after T0 (for
/// side-by-side measurements; the results are the same).
pub fn pipeline(job: &std::path::Path) -> anyhow::Result<Pipeline> {
    let job = Job::load(job)?;
    let beside = std::env::var("AMPEL_T2_BESIDE_T0").map_or(true, |v| v != "0");
    Ok(Pipeline::build(job)?.with_t2_beside(beside))
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut s = args.service.start()?;
    s.pipeline = s.pipeline.quiet(args.quiet);
    let _alive = ampel_actors::heartbeat::Heartbeat::start(&s.archive);
    if let Some(hot) = &s.hot {
        let archive_id = open_archive(&s.archive)
            .and_then(|mut a| a.archive_id())
            .with_context(|| format!("opening the archive {}", s.archive))?;
        let namespace = ampel_actors::hot::namespace(&s.pipeline.job.name, archive_id);
        let state = ampel_actors::hot::open_hot(hot, &namespace)?;
        s.pipeline = s.pipeline.with_hot_state(state);
    }
    if let Some(kafka) = s.pipeline.job.source.kafka.clone() {
        let mut opts = s.live_options()?;
        opts.t3 = !args.no_t3;
        opts.t2_workers = args.t2_workers;
        let outcome = ampel_actors::live::run(s.pipeline, kafka, opts)?;
        println!("{}", serde_json::to_string(&outcome.summary)?);
        return Ok(match outcome.exit {
            0 if outcome.summary.failed > 0 => ExitCode::from(3),
            0 if outcome.summary.t3_failed > 0 => t3_failed(outcome.summary.t3_failed),
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

    if args.no_t3 || args.t2_workers.is_some() {
        anyhow::bail!("--no-t3 and --t2-workers are for live runs (a job with source.kafka); this job replays files");
    }
    let mut archive =
        open_archive(&s.archive).with_context(|| format!("opening the archive {}", s.archive))?;
    let reactions = Prepared::new(s.pipeline.t3_processes())?;
    if !reactions.is_empty() && s.archive.contains(":memory:") {
        anyhow::bail!("this job's T3 reacts (its couriers read the archive from their own threads): {} is private to one connection; use sqlite:PATH or mongodb://", s.archive);
    }
    // Ctrl-C (or SIGTERM) stops the replay cleanly; a second one quits
    // at once.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())
            .and_then(|_| signal_hook::flag::register(sig, stop.clone()))
            .with_context(|| format!("installing the handler of signal {sig}"))?;
    }
    s.pipeline = s.pipeline.with_stop(stop);
    let mut view = ProgressView::new(args.progress, args.progress_interval);
    s.metrics.set_ready(true);
    let input = ampel::run::Input::Paths(s.pipeline.job.source.paths.clone());
    let summary = s
        .pipeline
        .replay_from(input, archive.as_mut(), &version(), &mut |p| view.report(p))?;
    s.metrics.set_ready(false);
    view.finish();
    if summary.interrupted {
        println!("{}", serde_json::to_string(&summary)?);
        eprintln!(
            "interrupted: {} alert(s) read and stored, {} T2 run(s); T2 documents claimed and not finished are NEW again, T3 did not run. The next `ampel run` takes up the T2 work left.",
            super::progress::thousands(summary.alerts),
            super::progress::thousands(summary.t2_runs)
        );
        return Ok(ExitCode::from(130));
    }
    let undelivered = !reactions.is_empty() && {
        let (tally, left) = deliver_queued(reactions, &s.archive, s.metrics.clone());
        eprintln!("reactions: {}, {left} left", tally.line());
        tally.incomplete(left)
    };
    println!("{}", serde_json::to_string(&summary)?);
    Ok(if summary.failed > 0 {
        ExitCode::from(3)
    } else if summary.t3_failed > 0 {
        t3_failed(summary.t3_failed)
    } else if undelivered {
        eprintln!("error: some reactions were not delivered; they are recorded (`ampel reactions list`) and tried again at the next run");
        ExitCode::from(6)
    } else {
        ExitCode::SUCCESS
    })
}

/// Exit 8: T3 units failed, so their output (files, reactions) is missing.
fn t3_failed(n: u64) -> ExitCode {
    eprintln!("error: {n} T3 unit run(s) failed; their output is missing (`ampel event show`, the t3 documents say why)");
    ExitCode::from(8)
}

#[derive(Debug, Args)]
pub struct WorkerT2Args {
    /// The job's T2 units are the ones run; --hot (or store.hot) must be
    /// the job's Redis.
    #[command(flatten)]
    service: ServiceArgs,
    /// Worker threads (default: the cores).
    #[arg(long)]
    threads: Option<usize>,
}

/// `ampel worker t2`.
pub fn worker_t2(args: WorkerT2Args) -> anyhow::Result<ExitCode> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    if threads == 0 {
        anyhow::bail!("--threads must be at least 1");
    }
    let s = args.service.start()?;
    let _alive = ampel_actors::heartbeat::Heartbeat::start(&s.archive);
    let opts = s.live_options()?;
    let runs = ampel_actors::live::run_t2_workers(s.pipeline, opts, threads)?;
    println!("{}", serde_json::json!({"t2_runs": runs}));
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct WorkerT3Args {
    /// The job's T3 processes (t3_supervise) are the ones run, against its
    /// archive (--store overrides).
    #[command(flatten)]
    service: ServiceArgs,
}

/// `ampel worker t3`.
pub fn worker_t3(args: WorkerT3Args) -> anyhow::Result<ExitCode> {
    let s = args.service.start()?;
    let _alive = ampel_actors::heartbeat::Heartbeat::start(&s.archive);
    let opts = s.live_options()?;
    let (runs, reactions) = ampel_actors::live::run_t3_worker(s.pipeline, opts)?;
    eprintln!("reactions: {reactions}");
    println!("{}", serde_json::json!({"t3_runs": runs}));
    Ok(ExitCode::SUCCESS)
}
