//! The live runtime: a job running from Kafka as supervised actix actors.
//!
//! ```text
//!  AlertConsumer ──Decode──▶ Decoder pool ──Filter──▶ ChannelFilter (one per channel)
//!   (sync, own thread)      (sync, one per core)  │            │ Verdict
//!        ▲   ▲                                    └─Decoded──▶ IngestActor ──▶ archive (T0+T1)
//!        │   └── ledger: stored up to N ◀─────────────────────────┘   │ tickets
//!        └ commit stored offsets, pause when full                     ▼
//!                                   T3Reactor ◀── T2 runs ── T2Actor pool ◀── T2 queue
//! ```
//!
//! Every actor delegates to the core (`ampel::run`): the ingester is
//! `Ingester`, the T2 actors run `T2Worker`, the reactor `run_process`. The
//! conductor (this module's [`run`]) starts them, publishes queue depths,
//! and ends the run: on SIGTERM/SIGINT, after `stop_after_idle_seconds`
//! without messages, or on a fatal archive error.

mod consumer;
mod decode;
mod filter;
mod ingest;
mod ledger;
mod supervise;
mod t2;
mod t2_wait;
mod t3;

use crate::kafka::SourceHealth;
use crate::metrics::Metrics;
use actix::prelude::*;
use ampel::hot::{InProcessT2Queue, T2Queue};
use ampel::job::KafkaSourceConfig;
use ampel::run::{Ingester, Pipeline, RunRecord, RunSummary, Telemetry, Version};
use anyhow::{bail, Context as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// State the actors of one process share (counters and flags; the
/// messages themselves travel as actor messages).
pub struct Shared {
    pub ledger: Arc<ledger::Ledger>,
    /// Stop taking messages (drain).
    pub stopping: AtomicBool,
    /// The consumer stored, committed and stopped.
    pub consumer_done: AtomicBool,
    /// T2 documents queued or in work (all units).
    pub t2_backlog: AtomicU64,
    pub t2_stop: AtomicBool,
    pub t2_busy: AtomicU64,
    pub t2_runs: AtomicU64,
    pub t3_runs: AtomicU64,
    /// T3 unit runs that failed (their output is missing).
    pub t3_failed: AtomicU64,
    pub fatal: Mutex<Option<String>>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<SourceHealth>,
    /// The run's log span (run id, job): entered by every actor handler.
    pub span: tracing::Span,
}

impl Shared {
    fn new(metrics: Arc<Metrics>, span: tracing::Span) -> Arc<Shared> {
        Arc::new(Shared {
            ledger: Arc::default(),
            stopping: AtomicBool::new(false),
            consumer_done: AtomicBool::new(false),
            t2_backlog: AtomicU64::new(0),
            t2_stop: AtomicBool::new(false),
            t2_busy: AtomicU64::new(0),
            t2_runs: AtomicU64::new(0),
            t3_runs: AtomicU64::new(0),
            t3_failed: AtomicU64::new(0),
            fatal: Mutex::new(None),
            metrics,
            health: Arc::default(),
            span,
        })
    }

    /// Something the run cannot go on without failed: stop.
    pub fn fail(&self, why: String) {
        let mut f = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
        f.get_or_insert(why);
        self.stopping.store(true, Ordering::SeqCst);
    }

    fn fatal(&self) -> Option<String> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// How the live run is set up beyond the job.
pub struct LiveOptions {
    /// Archive address (every actor that touches the archive opens its own
    /// connection to it).
    pub archive: String,
    /// Hot state address (`memory`, redis://...); Redis also carries the T2
    /// queue, shared with other processes.
    pub hot: Option<String>,
    pub version: Version,
    pub metrics: Arc<Metrics>,
    /// Set to stop (SIGTERM/SIGINT handlers set it).
    pub stop: Arc<AtomicBool>,
    /// Run the job's T3 processes and deliver their reactions here; off
    /// when they run in their own process (`ampel worker t3`).
    pub t3: bool,
    /// T2 worker threads, overriding the job's `t2.workers`.
    pub t2_workers: Option<usize>,
}

/// How a live run ended.
pub struct LiveOutcome {
    pub summary: RunSummary,
    /// 0 normal, 4 catch-up run that never reached its brokers, 5 archive
    /// failure (nothing unstored was committed), 7 T2 work left undone by a
    /// catch-up run, 8 a fatal Kafka client error (e.g. fenced: another
    /// process uses the same `group.instance.id`).
    pub exit: u8,
    /// Kafka errors seen, and the last one.
    pub broker_errors: u64,
    pub last_broker_error: Option<String>,
}

/// Opens the T2 queue of a hot-state address: Redis Streams for redis://
/// (keys under `namespace`, [`crate::hot::namespace`]), else the in-process
/// queue `local`.
pub fn queue_factory(
    hot: Option<&str>,
    job: &str,
    units: Vec<String>,
    reclaim_after: Duration,
    local: InProcessT2Queue,
) -> Arc<dyn Fn() -> Result<Box<dyn T2Queue>, String> + Send + Sync> {
    match hot {
        Some(a) if crate::hot::is_redis(a) => {
            let (a, job) = (a.to_string(), job.to_string());
            Arc::new(move || {
                crate::hot::RedisT2Queue::connect(&a, &job, &units, reclaim_after)
                    .map(|q| Box::new(q) as Box<dyn T2Queue>)
                    .map_err(|e| e.to_string())
            })
        }
        _ => Arc::new(move || Ok(Box::new(local.clone()) as Box<dyn T2Queue>)),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Runs `pipeline` live from `kafka` until stopped.
pub fn run(
    pipeline: Pipeline,
    kafka: KafkaSourceConfig,
    opts: LiveOptions,
) -> anyhow::Result<LiveOutcome> {
    if opts.archive.contains(":memory:") {
        bail!("a live run needs an archive its actors can share: {} is private to one connection; use sqlite:PATH or mongodb://", opts.archive);
    }
    let parts = pipeline.into_parts();
    let job = parts.job;
    let telemetry: Arc<dyn Telemetry> = parts.telemetry.clone();
    let mut archive = crate::store::open_archive(&opts.archive)
        .with_context(|| format!("opening the archive {}", opts.archive))?;
    let record = RunRecord::begin(
        archive.as_mut(),
        &job.name,
        &job.file,
        &parts.configs,
        &opts.version,
    )?;
    let run_id = record.run();
    let summary = record.summary(&job.name, archive.as_ref());
    let local = InProcessT2Queue::default();
    let redis_queue = opts.hot.as_deref().is_some_and(crate::hot::is_redis);
    if !redis_queue {
        // One process owns this archive's T2 work: documents left RUNNING
        // by a crash of it run again.
        parts.worker.reset_running(archive.as_mut())?;
    }
    let namespace = crate::hot::namespace(&job.name, archive.archive_id()?);
    let queues = queue_factory(
        opts.hot.as_deref(),
        &namespace,
        parts.worker.unit_names().to_vec(),
        Duration::from_secs_f64(job.t2.reclaim_after_seconds),
        local,
    );
    let mut conductor_queue = queues().map_err(|e| anyhow::anyhow!("opening the T2 queue: {e}"))?;
    let ingest_queue = queues().map_err(|e| anyhow::anyhow!("opening the T2 queue: {e}"))?;
    let span = tracing::info_span!("run", run = run_id, job = %job.name);
    let shared = Shared::new(opts.metrics.clone(), span);
    // The decoders' handles on the hot state, made from one kept aside.
    let hot_proto = std::sync::Mutex::new(parts.hot.as_ref().and_then(|h| h.another()));
    let ingester = Ingester::new(
        parts.t0.clone(),
        run_id,
        summary,
        parts.hot,
        telemetry.clone(),
    );
    let ingest_archive = crate::store::open_archive(&opts.archive)?;
    let channels = parts.t0.channels().len();
    let t2_workers = opts.t2_workers.or(job.t2.workers).unwrap_or_else(cores);
    let idle_stop = kafka.stop_after_idle_seconds.map(Duration::from_secs_f64);
    let t3_processes = if opts.t3 { parts.t3 } else { Vec::new() };
    let reactions = crate::react::Prepared::new(&t3_processes)?;
    let patience = reactions.patience();
    let worker = parts.worker.clone();
    let t0 = parts.t0.clone();
    let batch_size = job.batch_size;
    let archive_address = opts.archive.clone();

    tracing::info!(job = %job.name, run = run_id, archive = %opts.archive, hot = ?opts.hot, t2_workers, channels, "live run starting");
    let sys = System::new();
    let started = Instant::now();
    let (summary, exit, broker_errors, last_broker_error) = sys.block_on(async move {
        let ingest_arbiter = Arbiter::new();
        let sh = shared.clone();
        let ingest = IngestActor::start_in_arbiter(&ingest_arbiter.handle(), move |_| {
            IngestActor::new(ingester, ingest_archive, ingest_queue, sh, batch_size)
        });
        let filters: Vec<Addr<filter::ChannelFilter>> = (0..channels)
            .map(|i| {
                let restarts = supervise::Restarts::new("channel_filter", 1, telemetry.clone());
                SyncArbiter::start(
                    1,
                    filter::ChannelFilter::factory(
                        t0.clone(),
                        i,
                        ingest.clone(),
                        restarts,
                        shared.span.clone(),
                    ),
                )
            })
            .collect();
        let filters = Arc::new(filters);
        let n_decoders = cores();
        let decoder_restarts = supervise::Restarts::new("decoder", n_decoders, telemetry.clone());
        let (f2, i2) = (filters.clone(), ingest.clone());
        let keep_raw = t0.needs_raw();
        let decoders = SyncArbiter::start(n_decoders, move || {
            decoder_restarts.built();
            let hot = hot_proto
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .and_then(|h| h.another());
            decode::Decoder::new(f2.clone(), i2.clone(), hot, keep_raw)
        });
        // Every address is held until the end: a SyncArbiter whose last
        // address is dropped stops its threads.
        let mut t2_pool = None;
        if t2_workers > 0 {
            let pool = Arc::new(t2::T2Pool {
                worker: worker.clone(),
                archive: archive_address.clone(),
                queue: queues.clone(),
                shared: shared.clone(),
                telemetry: telemetry.clone(),
                run: run_id,
                restarts: supervise::Restarts::new("t2_worker", t2_workers, telemetry.clone()),
                last_sweep: Mutex::new(Instant::now() - Duration::from_secs(60)),
            });
            t2_pool = Some(SyncArbiter::start(t2_workers, t2::T2Actor::factory(pool)));
        }
        let t3_arbiter = Arbiter::new();
        let reactor = {
            let (sh, tel, addr) = (shared.clone(), telemetry.clone(), archive_address.clone());
            let restarts = supervise::Restarts::new("t3_reactor", 1, telemetry.clone());
            Supervisor::start_in_arbiter(&t3_arbiter.handle(), move |_| {
                t3::T3Reactor::new(
                    t3_processes,
                    addr,
                    sh,
                    tel,
                    run_id,
                    restarts,
                    t3::Trigger::Local,
                )
            })
        };
        let couriers =
            crate::react::Couriers::start(reactions, &archive_address, telemetry.clone());
        let consumer_restarts = supervise::Restarts::new("alert_consumer", 1, telemetry.clone());
        let (sh, kc) = (shared.clone(), kafka.clone());
        let consumer = SyncArbiter::start(1, move || {
            consumer_restarts.built();
            consumer::AlertConsumer::new(kc.clone(), sh.clone(), decoders.clone())
        });
        shared.metrics.set_ready(true);

        // The conductor: publish depths, watch for the end.
        let group_watch = idle_stop.and_then(|_| {
            crate::kafka::group::GroupWatch::start(
                crate::kafka::client_config(&kafka),
                kafka.topics.clone(),
            )
            .map_err(|e| tracing::warn!(error = %e, "no watch on the group's progress: a catch-up run ends on idleness alone"))
            .ok()
        });
        let mut last_group_log = Instant::now() - Duration::from_secs(10);
        let mut exit = 0u8;
        let mut last_depth = Instant::now() - Duration::from_secs(10);
        let reason = loop {
            actix::clock::sleep(Duration::from_millis(100)).await;
            if last_depth.elapsed() >= Duration::from_millis(500) {
                publish_depth(conductor_queue.as_mut(), &shared);
                last_depth = Instant::now();
            }
            if let Some(why) = shared.fatal() {
                exit = 5;
                break format!("archive failure: {why}");
            }
            if opts.stop.load(Ordering::SeqCst) {
                break "signal received".to_string();
            }
            if let Some(why) = shared.health.fatal.lock().ok().and_then(|f| f.clone()) {
                exit = 8;
                break format!("kafka: {why}");
            }
            if let Some(idle) = idle_stop {
                // With the group watched, an assignment does not restart
                // the idle clock: the watch already keeps a member whose
                // partitions still hold messages, and a member handed a
                // drained peer's partitions at the end would otherwise
                // wait one more idle period per peer that leaves.
                let idle_for = if group_watch.is_some() {
                    shared.ledger.quiet_since(started)
                } else {
                    shared.ledger.idle_since(started)
                };
                if shared.ledger.in_flight() == 0 && idle_for >= idle {
                    // Idle here, but the group may still hold messages
                    // (partitions moving at a rebalance, or promised to a
                    // member that left): end once it has committed all.
                    match group_watch.as_ref().map(|w| {
                        w.want();
                        w.left()
                    }) {
                        Some(None) => {}
                        Some(Some(left)) if left > 0 => {
                            if last_group_log.elapsed() >= Duration::from_secs(10) {
                                tracing::info!(left, "idle, but the consumer group has messages not yet committed: waiting for them");
                                last_group_log = Instant::now();
                            }
                        }
                        _ => break format!("no message for {} s", idle.as_secs_f64()),
                    }
                }
            }
        };
        tracing::info!(reason = %reason, "stopping: storing and committing what was taken");
        shared.stopping.store(true, Ordering::SeqCst);
        let _ = ingest.send(ingest::FlushNow).await;
        while !shared.consumer_done.load(Ordering::SeqCst) && (exit == 0 || exit == 8) {
            actix::clock::sleep(Duration::from_millis(50)).await;
        }
        if exit == 0 && (t2_workers > 0 || redis_queue) {
            let signalled = opts.stop.load(Ordering::SeqCst);
            let done = t2_wait::wait_for_t2(&shared, &worker, &archive_address, &opts.stop, t2_wait::catch_up_limit(idle_stop, signalled, job.t2.catch_up_wait_seconds), conductor_queue.as_mut()).await;
            if !done && idle_stop.is_some() && !opts.stop.load(Ordering::SeqCst) {
                // A catch-up run owns its T2 work: ending without it (or
                // without knowing) is a failure, not a success.
                exit = 7;
            }
        }
        shared.t2_stop.store(true, Ordering::SeqCst);
        if exit == 0 && idle_stop.is_some() {
            // A catch-up run ends like a replay: T3 once over the result.
            let _ = reactor.send(t3::RunAll).await;
        }
        if !couriers.is_empty() {
            // A catch-up run delivers everything it decided (or records
            // its failure); a signalled one gives its couriers 10 s, and
            // what is left is delivered by the next start.
            let limit = if idle_stop.is_some() && !opts.stop.load(Ordering::SeqCst) {
                patience
            } else {
                Duration::from_secs(10)
            };
            let left = couriers.drain(limit).await;
            tracing::info!(reactions = %couriers.tally.line(), left, "couriers stopping");
            if exit == 0 && idle_stop.is_some() && couriers.tally.incomplete(left) {
                exit = 6;
            }
        }
        couriers.shutdown().await;
        let mut summary = ingest.send(ingest::GetSummary).await.unwrap_or_default();
        summary.t2_runs = shared.t2_runs.load(Ordering::SeqCst);
        summary.t3_runs = shared.t3_runs.load(Ordering::SeqCst);
        summary.t3_failed = shared.t3_failed.load(Ordering::SeqCst);
        summary.in_flight_peak = Some(shared.ledger.peak_in_flight());
        shared.metrics.set_ready(false);
        if exit == 0 && idle_stop.is_some() {
            let h = &shared.health;
            if h.delivered.load(Ordering::Relaxed) == 0 && h.errors.load(Ordering::Relaxed) > 0 {
                exit = 4;
            }
        }
        drop((consumer, t2_pool, filters));
        ingest_arbiter.stop();
        t3_arbiter.stop();
        System::current().stop();
        let errors = shared.health.errors.load(Ordering::Relaxed);
        let last = shared.health.last_error.lock().ok().and_then(|l| l.clone());
        (summary, exit, errors, last)
    });
    let mut summary = summary;
    record.finish(archive.as_mut(), &mut summary)?;
    Ok(LiveOutcome {
        summary,
        exit,
        broker_errors,
        last_broker_error,
    })
}

use ingest::IngestActor;

/// `ampel worker t2`: T2 worker threads of a job in their own process,
/// sharing the job's Redis T2 queue with its `ampel run` processes, until
/// SIGTERM/SIGINT. Returns the unit runs.
pub fn run_t2_workers(
    pipeline: Pipeline,
    opts: LiveOptions,
    threads: usize,
) -> anyhow::Result<u64> {
    let Some(hot) = opts.hot.clone().filter(|h| crate::hot::is_redis(h)) else {
        bail!("a T2 worker process takes its work from the job's Redis queue: give --hot redis://HOST:PORT (or store.hot in the job)");
    };
    let parts = pipeline.into_parts();
    let job = parts.job;
    let (mut archive, record) = begin_worker(&opts, &job, &parts.configs, "t2")?;
    let run_id = record.run();
    let namespace = crate::hot::namespace(&job.name, archive.archive_id()?);
    let queues = queue_factory(
        Some(&hot),
        &namespace,
        parts.worker.unit_names().to_vec(),
        Duration::from_secs_f64(job.t2.reclaim_after_seconds),
        InProcessT2Queue::default(),
    );
    queues().map_err(|e| anyhow::anyhow!("opening the T2 queue at {hot}: {e}"))?;
    let span = tracing::info_span!("run", run = run_id, job = %job.name);
    let shared = Shared::new(opts.metrics.clone(), span);
    let telemetry = parts.telemetry.clone();
    let (worker, address) = (parts.worker.clone(), opts.archive.clone());
    tracing::info!(job = %job.name, run = run_id, threads, queue = %hot, "T2 workers starting");
    let sys = System::new();
    let runs = sys.block_on(async move {
        let pool = Arc::new(t2::T2Pool {
            worker,
            archive: address,
            queue: queues,
            shared: shared.clone(),
            telemetry: telemetry.clone(),
            run: run_id,
            restarts: supervise::Restarts::new("t2_worker", threads, telemetry),
            last_sweep: Mutex::new(Instant::now() - Duration::from_secs(60)),
        });
        let addr = SyncArbiter::start(threads, t2::T2Actor::factory(pool));
        shared.metrics.set_ready(true);
        while !opts.stop.load(Ordering::SeqCst) {
            actix::clock::sleep(Duration::from_millis(100)).await;
        }
        tracing::info!("stopping: finishing the entries in work");
        shared.t2_stop.store(true, Ordering::SeqCst);
        while shared.t2_busy.load(Ordering::SeqCst) > 0 {
            actix::clock::sleep(Duration::from_millis(50)).await;
        }
        shared.metrics.set_ready(false);
        drop(addr);
        System::current().stop();
        shared.t2_runs.load(Ordering::SeqCst)
    });
    let mut summary = record.summary(&job.name, archive.as_ref());
    summary.t2_runs = runs;
    record.finish(archive.as_mut(), &mut summary)?;
    Ok(runs)
}

/// A worker process's archive and its run record (an event named
/// "<job> <tier> worker").
fn begin_worker(
    opts: &LiveOptions,
    job: &ampel::job::Job,
    configs: &[(i64, serde_json::Value)],
    tier: &str,
) -> anyhow::Result<(Box<dyn ampel::store::Archive>, RunRecord)> {
    let mut archive = crate::store::open_archive(&opts.archive)
        .with_context(|| format!("opening the archive {}", opts.archive))?;
    let record = RunRecord::begin(
        archive.as_mut(),
        &format!("{} {tier} worker", job.name),
        &job.file,
        configs,
        &opts.version,
    )?;
    Ok((archive, record))
}

/// `ampel worker t3`: the job's T3 processes (on their schedules, or after
/// new T2 results, read from the archive) and the couriers delivering
/// their reactions, in their own process, until SIGTERM/SIGINT: the
/// place for T3 when `ampel run` consumers are scaled out with `--no-t3`.
/// Returns the T3 unit runs and the reactions' tally line.
pub fn run_t3_worker(pipeline: Pipeline, opts: LiveOptions) -> anyhow::Result<(u64, String)> {
    let parts = pipeline.into_parts();
    let job = parts.job;
    if parts.t3.is_empty() {
        bail!(
            "the job {} has no T3 process (t3_supervise) to run",
            job.name
        );
    }
    let reactions = crate::react::Prepared::new(&parts.t3)?;
    let (mut archive, record) = begin_worker(&opts, &job, &parts.configs, "t3")?;
    let run_id = record.run();
    let span = tracing::info_span!("run", run = run_id, job = %job.name);
    let shared = Shared::new(opts.metrics.clone(), span);
    let telemetry: Arc<dyn Telemetry> = parts.telemetry.clone();
    let (processes, worker, address) = (parts.t3, parts.worker.clone(), opts.archive.clone());
    tracing::info!(job = %job.name, run = run_id, processes = processes.len(), "T3 worker starting");
    let sys = System::new();
    let ((runs, failed), tally) = sys.block_on(async move {
        let arbiter = Arbiter::new();
        let _reactor = {
            let (sh, tel, addr) = (shared.clone(), telemetry.clone(), address.clone());
            let restarts = supervise::Restarts::new("t3_reactor", 1, telemetry.clone());
            Supervisor::start_in_arbiter(&arbiter.handle(), move |_| {
                t3::T3Reactor::new(
                    processes,
                    addr,
                    sh,
                    tel,
                    run_id,
                    restarts,
                    t3::Trigger::Archive(worker),
                )
            })
        };
        let couriers = crate::react::Couriers::start(reactions, &address, telemetry.clone());
        shared.metrics.set_ready(true);
        while !opts.stop.load(Ordering::SeqCst) {
            actix::clock::sleep(Duration::from_millis(100)).await;
        }
        tracing::info!("stopping: the couriers get 10 s, what is left goes at the next start");
        shared.metrics.set_ready(false);
        let left = couriers.drain(Duration::from_secs(10)).await;
        let tally = format!("{}, {left} left", couriers.tally.line());
        couriers.shutdown().await;
        arbiter.stop();
        System::current().stop();
        let t3 = (
            shared.t3_runs.load(Ordering::SeqCst),
            shared.t3_failed.load(Ordering::SeqCst),
        );
        (t3, tally)
    });
    let mut summary = record.summary(&job.name, archive.as_ref());
    summary.t3_runs = runs;
    summary.t3_failed = failed;
    record.finish(archive.as_mut(), &mut summary)?;
    Ok((runs, tally))
}

fn publish_depth(queue: &mut dyn T2Queue, shared: &Shared) {
    match queue.depth() {
        Ok(d) => {
            let m = &shared.metrics.t2_queue_depth;
            m.reset();
            for (unit, n) in &d {
                m.with_label_values(&[unit]).set(*n as i64);
            }
            shared.t2_backlog.store(d.values().sum(), Ordering::SeqCst);
        }
        Err(e) => tracing::debug!(error = %e, "T2 queue depth unavailable"),
    }
}
