//! `ampel bench scale`: one `ampel run` process against a scaled-out
//! layout (N `ampel run --no-t3` consumers in one consumer group and M
//! `ampel worker t2` processes sharing the job's Redis T2 queue) on the
//! same topic of distinct synthetic alerts, produced before the clocks
//! start. Each layout is a catch-up run into its own fresh embedded
//! archive; the two archives must be identical (`ampel::store::fingerprint`).
//! Reports each layout's time and throughput, and the speed-up.

use super::bench_live::{create_topic, offer, synthetic};
use ampel::job::Job;
use ampel::store::{fingerprint, open_embedded};
use anyhow::{bail, Context};
use clap::Args;
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct BenchScaleArgs {
    /// Job file: its channels and alert paths (source, store and name are
    /// replaced per layout).
    #[arg(long, default_value = "config/bench/replay.yml")]
    job: PathBuf,
    /// Kafka bootstrap brokers.
    #[arg(long, env = "AMPEL_KAFKA_BROKERS")]
    brokers: String,
    /// The Redis shared by the processes (dedup, T2 queue): redis://HOST:PORT.
    #[arg(long)]
    hot: String,
    /// Distinct copies of each alert (172 v4.02 alerts x 58 = 9,976).
    #[arg(long, default_value_t = 58)]
    copies: u64,
    /// Partitions of the benchmark topic (the most consumers that get work).
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// The consumers' assignor (`partition.assignment.strategy`):
    /// cooperative-sticky, the runtime's default, or `range` for brokers
    /// whose coordinator carries no cooperative rebalances (tansu 0.6).
    #[arg(long, default_value = ampel_actors::kafka::ASSIGNOR)]
    pub assignor: String,
    /// `ampel run` consumer processes of the scaled-out layout.
    #[arg(long, default_value_t = 3)]
    consumers: usize,
    /// `ampel worker t2` processes of the scaled-out layout.
    #[arg(long, default_value_t = 2)]
    t2_processes: usize,
    /// Threads of each `ampel worker t2`.
    #[arg(long, default_value_t = 1)]
    t2_threads: usize,
    /// Keep the work directory (job files, process logs, both archives).
    #[arg(long)]
    keep: bool,
}

/// Seconds without a message after which a catch-up consumer ends (once
/// its group has committed everything); taken off each layout's wall
/// time. Longer than a consumer waits between its assignment and the
/// first message (the bench produces once the group is stable).
const IDLE: f64 = 10.0;

pub fn run(args: BenchScaleArgs) -> anyhow::Result<ExitCode> {
    if !ampel_actors::hot::is_redis(&args.hot) {
        bail!("--hot must be a Redis (redis://HOST:PORT): processes share their T2 queue and dedup state there");
    }
    if args.consumers == 0 {
        bail!("--consumers must be at least 1");
    }
    let job = Job::load(&args.job)?;
    let messages = synthetic(&job, args.copies)?;
    let stamp = ampel::run::now() as u64;

    let dir = std::env::temp_dir().join(format!("ampel-bench-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let base = job_template(&args.job, &dir)?;
    let layout = |name: &str, consumers: usize, workers: usize| Layout {
        name: format!("{name}-{stamp}"),
        messages: &messages,
        partitions: args.partitions,
        dir: dir.clone(),
        base: base.clone(),
        brokers: args.brokers.clone(),
        hot: args.hot.clone(),
        assignor: args.assignor.clone(),
        consumers,
        workers,
        threads: args.t2_threads,
    };
    let single = layout("single", 1, 0).run()?;
    let scaled = layout("scaled", args.consumers, args.t2_processes).run()?;
    let a = fingerprint(&open_embedded(&single.archive)?)?;
    let b = fingerprint(&open_embedded(&scaled.archive)?)?;
    let identical = a == b;
    if args.keep {
        eprintln!("job files, logs and archives kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = json!({
        "alerts": messages.len(),
        "partitions": args.partitions,
        "single": single.report(),
        "scaled": scaled.report(),
        "speedup": single.work / scaled.work.max(1e-9),
        "identical_archives": identical,
        "stocks": a["stocks"].as_array().map_or(0, Vec::len),
        "t2_documents": a["t2"].as_array().map_or(0, Vec::len),
        "threads": std::thread::available_parallelism().map_or(0, |n| n.get()),
    });
    eprintln!(
        "one process: {:.2} s ({:.0} alerts/s); {} consumers + {} T2 workers: {:.2} s ({:.0} alerts/s); archives {}",
        single.work,
        single.alerts as f64 / single.work.max(1e-9),
        args.consumers,
        args.t2_processes,
        scaled.work,
        scaled.alerts as f64 / scaled.work.max(1e-9),
        if identical { "identical" } else { "DIFFER" }
    );
    println!("{report}");
    if !identical {
        eprintln!("error: the scaled-out layout stored another archive than one process");
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// The job file as a value for layouts whose job files are written into
/// `into`: its channel and catalogue paths made absolute, and the files
/// beside it copied there, since unit configs name files relative to the
/// job file (regions, catalogues, outputs).
fn job_template(file: &Path, into: &Path) -> anyhow::Result<Json> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut v: Json = serde_norway::from_str(&text)
        .with_context(|| format!("{}: not valid YAML", file.display()))?;
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = parent
        .unwrap_or(Path::new("."))
        .canonicalize()
        .with_context(|| format!("the directory of {}", file.display()))?;
    for e in std::fs::read_dir(&dir)? {
        let p = e?.path();
        if p.is_file() {
            std::fs::copy(&p, into.join(p.file_name().expect("a file name")))
                .with_context(|| format!("copying {}", p.display()))?;
        }
    }
    let absolute = |p: &mut Json| {
        if let Some(s) = p.as_str() {
            *p = json!(dir.join(s).display().to_string());
        }
    };
    if let Some(chs) = v.get_mut("channels").and_then(Json::as_array_mut) {
        chs.iter_mut().for_each(absolute);
    }
    if let Some(cats) = v.get_mut("catalogs").and_then(Json::as_object_mut) {
        cats.values_mut().for_each(absolute);
    }
    Ok(v)
}

struct Layout<'a> {
    name: String,
    /// The alerts, produced into the layout's own topic once its consumer
    /// group is stable (joins and rebalances are a start-up cost, not
    /// throughput).
    messages: &'a [(String, Vec<u8>)],
    partitions: i32,
    dir: PathBuf,
    base: Json,
    brokers: String,
    hot: String,
    assignor: String,
    consumers: usize,
    workers: usize,
    threads: usize,
}

struct Outcome {
    consumers: usize,
    workers: usize,
    alerts: u64,
    /// Alerts each consumer took (its share of the partitions).
    shares: Vec<u64>,
    wall: f64,
    work: f64,
    archive: String,
}

impl Outcome {
    fn report(&self) -> Json {
        json!({
            "consumers": self.consumers,
            "t2_processes": self.workers,
            "alerts": self.alerts,
            "per_consumer": self.shares,
            "wall_seconds": self.wall,
            "seconds": self.work,
            "alerts_per_s": self.alerts as f64 / self.work.max(1e-9),
        })
    }
}

impl Layout<'_> {
    fn run(&self) -> anyhow::Result<Outcome> {
        let topic = format!("ampel_{}", self.name);
        create_topic(&self.brokers, &topic, self.partitions)?;
        let archive = format!(
            "sqlite:{}",
            self.dir.join(format!("{}.sqlite", self.name)).display()
        );
        let mut job = self.base.clone();
        job["name"] = json!(self.name);
        job["source"] = json!({"kafka": {
            "brokers": self.brokers, "topics": [topic], "group": self.name,
            "stop_after_idle_seconds": IDLE,
            "properties": {"partition.assignment.strategy": self.assignor},
        }});
        job["store"] = json!({"archive": archive, "hot": self.hot});
        if self.workers > 0 {
            job["t2"]["workers"] = json!(0);
        }
        let file = self.dir.join(format!("{}.yml", self.name));
        std::fs::write(&file, serde_json::to_string_pretty(&job)?)?;
        let f = file.display().to_string();
        let threads = self.threads.to_string();
        let workers = (0..self.workers)
            .map(|i| {
                self.spawn(
                    &format!("t2-{i}"),
                    &["worker", "t2", "--job", &f, "--threads", &threads],
                )
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut args = vec!["run", "--job", f.as_str()];
        if self.consumers > 1 || self.workers > 0 {
            args.push("--no-t3");
        }
        let consumers = (0..self.consumers)
            .map(|i| self.spawn(&format!("run-{i}"), &args))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let holders = self.consumers.min(self.partitions as usize);
        let logs: Vec<PathBuf> = (0..self.consumers)
            .map(|i| self.log(&format!("run-{i}")))
            .collect();
        let group = Group {
            brokers: &self.brokers,
            name: &self.name,
        };
        let (joined, source) = wait_stable(&group, &logs, self.partitions as usize, holders)?;
        eprintln!(
            "{}: group stable after {joined:.1} s (assignments from {source})",
            self.name
        );
        let t = Instant::now();
        let produced = offer(&self.brokers, &topic, self.messages, 0.0)?;
        eprintln!(
            "{}: {} alerts produced at {produced:.0}/s into {topic} ({} partitions)",
            self.name,
            self.messages.len(),
            self.partitions
        );
        let mut shares = Vec::new();
        for (i, c) in consumers.into_iter().enumerate() {
            let out = c.wait_with_output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let summary: Json = text
                .lines()
                .last()
                .and_then(|l| serde_json::from_str(l).ok())
                .unwrap_or(Json::Null);
            if !out.status.success() {
                bail!(
                    "{} consumer {i} ended with {}: see {}",
                    self.name,
                    out.status,
                    self.log(&format!("run-{i}")).display()
                );
            }
            shares.push(summary["alerts"].as_u64().unwrap_or(0));
        }
        let wall = t.elapsed().as_secs_f64();
        let alerts = shares.iter().sum();
        for mut w in workers {
            let _ = Command::new("kill")
                .args(["-TERM", &w.id().to_string()])
                .status();
            let t = Instant::now();
            while w.try_wait()?.is_none() && t.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = w.kill();
            let _ = w.wait();
        }
        eprintln!(
            "{}: {} consumer(s), {} T2 process(es): {alerts} alerts in {wall:.2} s wall",
            self.name, self.consumers, self.workers
        );
        Ok(Outcome {
            consumers: self.consumers,
            workers: self.workers,
            alerts,
            shares,
            wall,
            work: (wall - IDLE).max(1e-9),
            archive,
        })
    }

    fn log(&self, who: &str) -> PathBuf {
        self.dir.join(format!("{}-{who}.log", self.name))
    }

    fn spawn(&self, who: &str, args: &[&str]) -> anyhow::Result<Child> {
        let log = std::fs::File::create(self.log(who))?;
        Command::new(std::env::current_exe()?)
            .args(args)
            // T3 files land in the work directory, not the caller's.
            .current_dir(&self.dir)
            // Plain log lines: wait_stable reads them.
            .env_remove("AMPEL_LOG_FORMAT")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {who}"))
    }
}

/// A consumer group and where its coordinator is.
struct Group<'a> {
    brokers: &'a str,
    name: &'a str,
}

/// Waits until the consumers' partitions settle: `with` of them hold
/// partitions, together all `partitions` of the topic, each once. Read
/// from the group coordinator (DescribeGroups) where the broker answers
/// it, else from the members' logs (each assignment and revocation is
/// logged; tansu describes no groups). Answers the seconds waited and
/// which source said so.
fn wait_stable(
    group: &Group,
    logs: &[PathBuf],
    partitions: usize,
    with: usize,
) -> anyhow::Result<(f64, &'static str)> {
    let t = Instant::now();
    let mut last = Vec::new();
    while t.elapsed() < Duration::from_secs(90) {
        let (held, source) =
            match ampel_actors::kafka::assignment::describe(group.brokers, group.name) {
                Some(members) if members.len() == logs.len() => (members, "the group coordinator"),
                _ => (
                    logs.iter()
                        .map(|l| {
                            ampel_actors::kafka::assignment::held_partitions(
                                &std::fs::read_to_string(l).unwrap_or_default(),
                            )
                        })
                        .collect(),
                    "the consumers' logs",
                ),
            };
        let all: std::collections::BTreeSet<&String> = held.iter().flatten().collect();
        let holders = held.iter().filter(|h| !h.is_empty()).count();
        let total: usize = held.iter().map(Vec::len).sum();
        if holders == with && all.len() == partitions && total == partitions {
            return Ok((t.elapsed().as_secs_f64(), source));
        }
        last = held;
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the consumers' partitions did not settle in 90 s (last seen: {last:?}); a broker whose group coordinator runs no cooperative rebalances (tansu) needs --assignor range")
}
