//! A job turned into runnable units, and the replay loop.

use super::beside::{t2_beside, Beside, Commits};
use super::ingest::Ingester;
use super::progress::Progress;
use super::record::RunRecord;
use super::summary::RunSummary;
use super::t0::{ChannelRt, T0};
use super::t0_loop::{decode_stage, Chunks, DecodedMessage, T0Loop, CHUNK};
use super::t2::{T2Spec, T2Units, T2Worker};
use super::t3::T3Process;
use super::telemetry::{NoTelemetry, Telemetry};
use super::Version;
use crate::avro::SchemaRegistry;
use crate::hot::HotState;
use crate::id::config_id;
use crate::job::{Job, JobError, JobProblem};
use crate::source::{for_each_alert_counted, measure, InputSize, RawAlert, SourceError};
use crate::store::{Archive, StoreError};
use crate::survey::document::{serves, SURVEYS};
use crate::t2::{build_t2, T2Unit};
use crate::t3::{build_t3, query};
use crate::units::{build_filter, CatalogSpec, UnitContext};
use crate::AlertDecoder;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

/// Where a replay's alerts come from.
pub enum Input {
    /// The job's source paths, read as a stream.
    Paths(Vec<std::path::PathBuf>),
    /// Messages already in memory (benchmarks).
    Memory(Vec<RawAlert>),
}

/// A pipeline taken apart (see [`Pipeline::into_parts`]).
pub struct PipelineParts {
    pub job: Job,
    pub t0: Arc<T0>,
    pub worker: Arc<T2Worker>,
    pub t3: Vec<T3Process>,
    /// Every unit config of the job, by config id (recorded per run).
    pub configs: Vec<(i64, Json)>,
    pub hot: Option<Box<dyn HotState>>,
    pub telemetry: Arc<dyn Telemetry>,
}

/// A job's units, built and validated.
pub struct Pipeline {
    pub job: Job,
    telemetry: Arc<dyn Telemetry>,
    hot: Option<Box<dyn HotState>>,
    t0: Arc<T0>,
    worker: Arc<T2Worker>,
    t3: Vec<T3Process>,
    configs: Vec<(i64, Json)>,
    /// Whether a replay runs T2 beside T0 (see `beside.rs`).
    beside: bool,
    /// Set (by a signal handler) to stop a replay early; see
    /// [`Pipeline::with_stop`].
    stop: Arc<AtomicBool>,
}

/// A filter naming a field that a survey of its channel does not have:
/// one problem per field and survey.
fn field_problems(
    filter: &dyn crate::units::AlertFilter,
    ch: &crate::job::ChannelConfig,
    file: &Path,
    at: String,
) -> Vec<JobProblem> {
    let fields = filter.fields_read();
    SURVEYS
        .iter()
        .filter(|(_, survey)| serves(&ch.access, *survey))
        .flat_map(|(tag, survey)| crate::survey::fields::check(&fields, *survey, tag))
        .map(|message| JobProblem {
            file: file.to_path_buf(),
            path: format!("{at}.config"),
            message: format!("{}: {message}", ch.t0_filter.unit),
        })
        .collect()
}

fn unit_problem(file: &Path, at: String, e: crate::config::UnitConfigError) -> Vec<JobProblem> {
    e.problems
        .into_iter()
        .map(|p| JobProblem {
            file: file.to_path_buf(),
            path: match p.path.as_str() {
                "unit" => format!("{at}.unit"),
                "(config)" => format!("{at}.config"),
                other => format!("{at}.config.{other}"),
            },
            message: p.message,
        })
        .collect()
}

impl Pipeline {
    /// The job's T3 processes (their reaction destinations, schedules).
    pub fn t3_processes(&self) -> &[T3Process] {
        &self.t3
    }

    /// Builds every unit of the job; all problems are reported together,
    /// each with its file and key path.
    pub fn build(job: Job) -> Result<Pipeline, JobError> {
        let mut problems = Vec::new();
        let specs: Vec<CatalogSpec> = job
            .catalogs
            .iter()
            .map(|(n, p)| CatalogSpec {
                name: n.clone(),
                path: p.clone(),
            })
            .collect();
        let ctx = match UnitContext::new()
            .with_base_dir(&job.dir)
            .with_output_dir(&job.output_dir)
            .with_catalogs(&specs)
        {
            Ok(c) => c,
            Err(e) => {
                return Err(JobError(vec![JobProblem {
                    file: job.file.clone(),
                    path: "catalogs".into(),
                    message: e.to_string(),
                }]))
            }
        };
        let mut channels = Vec::new();
        let mut units = T2Units::default();
        let mut built = BuiltT2::new();
        let mut configs: Vec<(i64, Json)> = Vec::new();
        let mut t3 = Vec::new();
        for (i, (file, ch)) in job.channels.iter().enumerate() {
            // Key paths: inside the job file for inline channels.
            let pre = |k: &str| {
                if *file == job.file {
                    format!("channels[{i}].{k}")
                } else {
                    k.to_string()
                }
            };
            let filter = match build_filter(&ch.t0_filter.unit, &ch.t0_filter.config, &ctx) {
                Ok(f) => {
                    problems.extend(field_problems(&*f, ch, file, pre("t0_filter")));
                    Some(f)
                }
                Err(e) => {
                    problems.extend(unit_problem(file, pre("t0_filter"), e));
                    None
                }
            };
            let mut specs = Vec::new();
            for (i, u) in ch.t2_compute.iter().enumerate() {
                match add_t2(
                    &u.unit,
                    &u.config,
                    &ctx,
                    &mut built,
                    &mut units,
                    &mut configs,
                    &mut specs,
                ) {
                    Ok(_) => {}
                    Err(e) => {
                        problems.extend(unit_problem(file, pre(&format!("t2_compute[{i}]")), e))
                    }
                }
            }
            for (j, p) in ch.t3_supervise.iter().enumerate() {
                for (k, m) in p.filter.t2.iter().enumerate() {
                    if let Err(e) = query::validate(&m.condition) {
                        problems.push(JobProblem {
                            file: file.clone(),
                            path: pre(&format!("t3_supervise[{j}].filter.t2[{k}].match")),
                            message: e,
                        });
                    }
                }
                let mut run = Vec::new();
                for (k, u) in p.run.iter().enumerate() {
                    match build_t3(&u.unit, &u.config, &ctx) {
                        Ok(unit) => {
                            let id = config_id(&u.config).unwrap_or_default();
                            configs.push((id, u.config.clone()));
                            run.push((u.unit.clone(), id, unit));
                        }
                        Err(e) => problems.extend(unit_problem(
                            file,
                            pre(&format!("t3_supervise[{j}].run[{k}]")),
                            e,
                        )),
                    }
                }
                t3.push(T3Process {
                    channel: ch.channel.clone(),
                    access: ch.access.clone(),
                    name: p.name.clone(),
                    filter: p.filter.clone(),
                    run,
                    // Validated with the job.
                    schedule: p.schedule.as_deref().and_then(|s| s.parse().ok()),
                    echo: true,
                });
            }
            if let Ok(id) = config_id(&ch.t0_filter.config) {
                configs.push((id, ch.t0_filter.config.clone()));
            }
            if let Some(filter) = filter {
                channels.push(ChannelRt {
                    name: ch.channel.clone(),
                    access: ch.access.clone(),
                    filter,
                    on_stock_match: ch.t0_filter.on_stock_match,
                    t2: specs,
                });
            }
        }
        if !problems.is_empty() {
            return Err(JobError(problems));
        }
        let worker = Arc::new(T2Worker::new(units, job.t2.clone()));
        Ok(Pipeline {
            telemetry: Arc::new(NoTelemetry),
            hot: None,
            t0: Arc::new(T0::new(channels, job.name.clone()).with_cutouts(job.cutouts)),
            worker,
            t3,
            configs,
            job,
            stop: Arc::new(AtomicBool::new(false)),
            beside: true,
        })
    }

    /// The built parts, for a runtime that drives the tiers itself (the
    /// live actors).
    pub fn into_parts(self) -> PipelineParts {
        PipelineParts {
            job: self.job,
            t0: self.t0,
            worker: self.worker,
            t3: self.t3,
            configs: self.configs,
            hot: self.hot,
            telemetry: self.telemetry,
        }
    }

    /// De-duplicates alerts with this hot state (see [`crate::hot`]).
    pub fn with_hot_state(mut self, hot: Box<dyn HotState>) -> Self {
        self.hot = Some(hot);
        self
    }

    /// Quiet: T3 units keep their lines in their documents and print
    /// nothing (`ampel run --quiet`).
    pub fn quiet(mut self, quiet: bool) -> Self {
        for p in &mut self.t3 {
            p.echo = !quiet;
        }
        self
    }

    /// Whether a replay runs T2 beside T0, on a thread of its own (the
    /// default, for an archive that can give a second handle), or after
    /// it. The results are the same either way.
    pub fn with_t2_beside(mut self, on: bool) -> Self {
        self.beside = on;
        self
    }

    /// Sends the run's events (metrics) to `t`.
    pub fn with_telemetry(mut self, t: Arc<dyn Telemetry>) -> Self {
        Arc::get_mut(&mut self.worker)
            .expect("a pipeline's worker is shared only while it replays")
            .set_telemetry(t.clone());
        self.telemetry = t;
        self
    }

    /// Replays the job's alert archives: T0+T1 for every alert (batched),
    /// with T2 beside it on a second thread where it can (see
    /// [`with_t2_beside`](Self::with_t2_beside)), then T2 until drained,
    /// then T3. Records an event and logs.
    pub fn replay(
        &mut self,
        archive: &mut dyn Archive,
        version: &Version,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<RunSummary, StoreError> {
        let input = Input::Paths(self.job.source.paths.clone());
        self.replay_from(input, archive, version, progress)
    }

    /// A replay stops early once `stop` is set: reading stops, what was
    /// read is stored, T2 stops after the batch it runs and gives back what
    /// it had claimed, T3 does not start; the run is recorded INTERRUPTED.
    pub fn with_stop(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = stop;
        self
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// [`replay`](Self::replay) from a given input.
    pub fn replay_from(
        &mut self,
        input: Input,
        archive: &mut dyn Archive,
        version: &Version,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<RunSummary, StoreError> {
        let record = RunRecord::begin(
            archive,
            &self.job.name,
            &self.job.file,
            &self.configs,
            version,
        )?;
        let run = record.run();
        let summary = record.summary(&self.job.name, archive);
        // A single-process run owns its RUNNING documents: those a killed
        // run left are this run's again (before T2 starts beside T0).
        self.worker.reset_running(archive)?;
        let beside = Beside::open(self.beside, &self.worker, archive)?;
        let (worker, stop) = (self.worker.clone(), self.stop.clone());
        let (t0, beside_runs) = t2_beside(&worker, beside, (archive, run), &stop, |a, commits| {
            self.t0_stage(input, a, run, summary, progress, commits)
        })?;
        let mut summary = t0?;
        let mut at = Progress::of(&summary, "T2");
        if !self.stopped() {
            summary.t2_runs = beside_runs
                + self.worker.drain_until(
                    archive,
                    run,
                    &|| self.stopped(),
                    &mut |done, total| {
                        // The runs made beside T0 count as done.
                        at.t2_done = beside_runs + done;
                        at.t2_total = beside_runs + total;
                        progress(at);
                    },
                )?;
        }
        if self.stopped() {
            // What this run claimed and did not finish goes back to NEW.
            self.worker.reset_running(archive)?;
            summary.interrupted = true;
        } else {
            progress(Progress { stage: "T3", ..at });
            for p in &self.t3 {
                let done = super::t3::run_process(p, archive, run, self.telemetry.as_ref())?;
                summary.t3_runs += done.runs;
                summary.t3_failed += done.failed;
            }
        }
        record.finish(archive, &mut summary)?;
        Ok(summary)
    }

    /// T0 (and T1) over the input, read and decoded on their own threads;
    /// what was accepted is stored whatever happens. Returns the summary
    /// so far.
    fn t0_stage(
        &mut self,
        input: Input,
        archive: &mut dyn Archive,
        run: i64,
        summary: RunSummary,
        progress: &mut dyn FnMut(Progress),
        commits: &Commits,
    ) -> Result<RunSummary, StoreError> {
        let decoder = AlertDecoder::new()
            .with_registry(SchemaRegistry::builtin())
            .keep_stamps(self.t0.needs_raw());
        let size = match &input {
            Input::Paths(paths) => measure(paths),
            Input::Memory(m) => InputSize {
                bytes: 0,
                alerts: Some(m.len() as u64),
            },
        };
        let read = AtomicU64::new(0);
        let ingester = Ingester::new(
            self.t0.clone(),
            run,
            summary,
            self.hot.take(),
            self.telemetry.clone(),
        );
        let mut t0 = T0Loop {
            archive: &mut *archive,
            ingester,
            progress: &mut *progress,
            batch_size: self.job.batch_size,
            size,
            read: &read,
            commits,
        };
        // Reading and gunzip run on their own thread (inflating an archive
        // is most of a replay's cost), feeding the tiers through a bounded
        // channel: at most QUEUE messages in flight.
        const QUEUE: usize = 256;
        let (tx, rx) = sync_channel::<Vec<Result<RawAlert, SourceError>>>(QUEUE / CHUNK);
        let (decoded_tx, decoded_rx) = sync_channel::<Vec<DecodedMessage>>(QUEUE / CHUNK);
        let decoder = &decoder;
        let (stop, read) = (&*self.stop, &read);
        let result = std::thread::scope(|scope| {
            scope.spawn(move || decode_stage(decoder, rx, decoded_tx));
            scope.spawn(move || {
                // Stopped (a signal) or the receiver gone (a store error):
                // stop reading; what is queued is still stored.
                let mut out = Chunks::new(tx);
                let mut send = |item| match stop.load(Ordering::Relaxed) || out.push(item).is_err()
                {
                    true => ControlFlow::Break(()),
                    false => ControlFlow::Continue(()),
                };
                match input {
                    Input::Paths(paths) => for_each_alert_counted(&paths, read, send),
                    Input::Memory(messages) => {
                        for m in messages {
                            if send(Ok(m)).is_break() {
                                break;
                            }
                        }
                    }
                }
            });
            t0.feed(decoded_rx)
        });
        // Whatever happened, keep what was already accepted.
        let flushed = t0.ingester.flush(t0.archive).map(|_| ());
        let last = t0.at("T0");
        (t0.progress)(last);
        let ingester = t0.ingester;
        let summary = ingester.summary.clone();
        self.hot = ingester.into_hot();
        result.and(flushed)?;
        Ok(summary)
    }
}

/// Registers a T2 unit (and, for tied units, its dependencies) once per
/// (unit, config id), and adds it to a channel's T2 list. The id is that of
/// the unit's full validated config (AMPEL's `hash_t2_config`), so a config
/// written out with its defaults and an empty one are the same T2. Returns
/// the id.
/// Units already built, by name and config as written: channels naming the
/// same T2 share one build (a build may read files, e.g. neutrino regions).
type BuiltT2 = HashMap<(String, String), Arc<dyn T2Unit>>;

fn add_t2(
    unit: &str,
    config: &Json,
    ctx: &UnitContext,
    cache: &mut BuiltT2,
    t2: &mut T2Units,
    configs: &mut Vec<(i64, Json)>,
    specs: &mut Vec<T2Spec>,
) -> Result<i64, crate::config::UnitConfigError> {
    let built = match cache.get(&(unit.to_string(), config.to_string())) {
        Some(u) => u.clone(),
        None => {
            let u: Arc<dyn T2Unit> = Arc::from(build_t2(unit, config, ctx)?);
            cache.insert((unit.to_string(), config.to_string()), u.clone());
            u
        }
    };
    let full = built.config();
    let id = config_id(&full).map_err(|e| crate::config::UnitConfigError {
        unit: unit.to_string(),
        problems: vec![crate::config::ConfigProblem::new("(config)", e.to_string())],
    })?;
    let key = (unit.to_string(), id);
    if !t2.units.contains_key(&key) {
        t2.units.insert(key.clone(), built.clone());
        configs.push((id, full));
    }
    // Dependencies first, so their tickets exist before the tied one runs.
    let mut deps = Vec::new();
    for dep in built.dependencies() {
        let dep_id = add_t2(&dep.unit, &dep.config, ctx, cache, t2, configs, specs)?;
        deps.push((dep.unit, dep_id));
    }
    if !deps.is_empty() {
        t2.dependencies.insert(key, deps);
    }
    if !specs.iter().any(|s| s.unit == unit && s.config == id) {
        specs.push(T2Spec {
            unit: unit.to_string(),
            config: id,
            kind: built.kind(),
        });
    }
    Ok(id)
}
