//! Jobs and channels: the YAML files astronomers write, validated before
//! anything runs. Errors name the file, the key path and what was expected,
//! and all problems of a job are reported together.
//!
//! Channel files follow AMPEL's channel template:
//! ```yaml
//! channel: DEMO_SN09IP
//! version: 1
//! contact: someone@example.org
//! access: [ZTF, ZTF_PUB]
//! t0_filter: {unit: DecentFilter, config: {...}, on_stock_match: bypass}
//! t2_compute: [{unit: T2LightCurveSummary, config: {}}]
//! t3_supervise:
//!   - name: candidates
//!     schedule: every 10 minutes
//!     filter: {t2: [{unit: T2TutorialDecision, match: {decision: true}}]}
//!     run: [{unit: T3ChannelSummary, config: {path: selected.jsonl}}]
//! ```
//! A job names `name`, `source: {paths: [...]}`, `store: {archive:
//! "sqlite:PATH"}`, optional `catalogs: {NAME: PATH}` and `channels` (file
//! paths or inline channels). Relative paths are relative to the job file.
//! Files that T3 units write (T3ChannelSummary's `path`) are relative to
//! `output_dir` (itself relative to the job file), by default the working
//! directory.

mod schedule;

pub use schedule::{Cron, Schedule};

use crate::survey::document::{serves, SURVEYS};
use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// What to do with an alert of a stock the channel already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnStockMatch {
    /// Accept without running the filter.
    Bypass,
    /// Run the filter, log a rejection, accept anyway.
    Overrule,
    /// Run the filter, accept anyway, log nothing.
    SilentOverrule,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    pub unit: String,
    #[serde(default = "empty_config")]
    pub config: Json,
    #[serde(default)]
    pub on_stock_match: Option<OnStockMatch>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitSpec {
    pub unit: String,
    #[serde(default = "empty_config")]
    pub config: Json,
}

fn empty_config() -> Json {
    Json::Object(Default::default())
}

/// A T2 condition of a T3 selection: Mongo-style `match` on the latest body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T2Match {
    pub unit: String,
    #[serde(rename = "match")]
    pub condition: Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T3Filter {
    #[serde(default)]
    pub t2: Vec<T2Match>,
    /// Stocks carrying all these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Only stocks updated within this many days before the run.
    #[serde(default)]
    pub updated_within_days: Option<f64>,
    /// Only stocks updated since this process last selected (AMPEL's
    /// `time_last_run` match): a scheduled T3 then reads what changed, not
    /// every stock its channel ever had. The first run selects all.
    #[serde(default)]
    pub updated_since_last_run: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T3Process {
    pub name: String,
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub filter: T3Filter,
    pub run: Vec<UnitSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub channel: String,
    #[serde(default)]
    pub version: Option<Json>,
    #[serde(default)]
    pub contact: Option<String>,
    pub access: Vec<String>,
    pub t0_filter: FilterSpec,
    #[serde(default)]
    pub t2_compute: Vec<UnitSpec>,
    #[serde(default)]
    pub t3_supervise: Vec<T3Process>,
}

/// Alerts from Kafka topics (consumed by the runtime, `ampel-actors`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSourceConfig {
    /// Bootstrap brokers (AMPEL_KAFKA_BROKERS overrides).
    pub brokers: String,
    /// Topic names, or regular expressions starting with `^`
    /// (ZTF: `^ztf_.*_programid1$`).
    pub topics: Vec<String>,
    /// Consumer group: processes of one group share the partitions.
    pub group: String,
    /// Extra librdkafka properties (`AMPEL_KAFKA_PROPERTY_<KEY>` overrides,
    /// `.` written as `_`).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// End the run after this long without a message (catch-up runs);
    /// without it the run is live: it goes on until SIGTERM.
    #[serde(default)]
    pub stop_after_idle_seconds: Option<f64>,
    /// Messages taken but not yet stored, at most; beyond it the consumer
    /// stops taking messages (backpressure) until the archive catches up,
    /// and pauses its partitions if that lasts. 4,000 ZTF packets with
    /// their cutouts are about 240 MB; 2,000 held a 2-core machine to
    /// about 3,000 alerts/s flat out.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
    /// T2 documents queued, at most, before the consumer pauses too.
    #[serde(default = "default_t2_backlog")]
    pub max_t2_backlog: u64,
    /// How long a full in-flight window holds the consumer back before it
    /// pauses its partitions. A pause drops librdkafka's prefetched
    /// messages (they are fetched again on resume), so a window that fills
    /// and drains between two archive writes should not pause.
    #[serde(default = "default_hold")]
    pub pause_after_seconds: f64,
}

/// Defaults of [`KafkaSourceConfig`] that runtimes building one in code
/// (benchmarks) share with job files.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4000;
pub const DEFAULT_PAUSE_AFTER_SECONDS: f64 = 2.0;

fn default_in_flight() -> usize {
    DEFAULT_MAX_IN_FLIGHT
}
fn default_hold() -> f64 {
    DEFAULT_PAUSE_AFTER_SECONDS
}
fn default_t2_backlog() -> u64 {
    20_000
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Alert files, directories and archives.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// Or: Kafka topics.
    #[serde(default)]
    pub kafka: Option<KafkaSourceConfig>,
}

/// The default archive: an embedded file in the working directory.
pub const DEFAULT_ARCHIVE: &str = "sqlite:ampel.sqlite";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite:PATH` (relative to the job file); default [`DEFAULT_ARCHIVE`].
    #[serde(default)]
    pub archive: Option<String>,
    /// Hot state: `memory` or `redis://HOST:PORT` (AMPEL_HOT overrides);
    /// none by default.
    #[serde(default)]
    pub hot: Option<String>,
    /// Which alerts' stamps the `cutout` collection keeps.
    #[serde(default)]
    pub cutouts: CutoutPolicy,
}

/// Which alerts' cutouts are stored (`store: {cutouts: ...}`): the stamps
/// are ~94% of a ZTF packet, so keeping every alert's multiplies the
/// archive; people look at the stamps of what a channel accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CutoutPolicy {
    /// None.
    None,
    /// Those of alerts at least one channel accepted (the default).
    #[default]
    Accepted,
    /// Every alert's, accepted or not.
    All,
}

fn default_max_try() -> u32 {
    3
}
fn default_backoff() -> f64 {
    0.05
}
fn default_batch() -> usize {
    500
}

/// T2 processing settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T2Settings {
    /// Attempts before TOO_MANY_TRIALS.
    #[serde(default = "default_max_try")]
    pub max_try: u32,
    /// First back-off after a failure, seconds (doubles per attempt).
    #[serde(default = "default_backoff")]
    pub backoff_seconds: f64,
    /// T2 worker threads of a live `ampel run` (default: the cores; 0
    /// leaves T2 to `ampel worker t2` processes).
    #[serde(default)]
    pub workers: Option<usize>,
    /// A queued T2 document a worker took but has not finished after this
    /// long is taken over by another worker (its worker presumed dead).
    #[serde(default = "default_reclaim")]
    pub reclaim_after_seconds: f64,
    /// How long a catch-up run waits at its end for the T2 work of what it
    /// stored before it gives up with exit 7 (a signal cuts it to 30 s).
    #[serde(default = "default_catch_up_wait")]
    pub catch_up_wait_seconds: f64,
}

fn default_catch_up_wait() -> f64 {
    3600.0
}

fn default_reclaim() -> f64 {
    60.0
}

impl Default for T2Settings {
    fn default() -> Self {
        T2Settings {
            max_try: default_max_try(),
            backoff_seconds: default_backoff(),
            workers: None,
            reclaim_after_seconds: default_reclaim(),
            catch_up_wait_seconds: default_catch_up_wait(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFile {
    name: String,
    source: SourceConfig,
    #[serde(default)]
    store: StoreConfig,
    #[serde(default)]
    catalogs: BTreeMap<String, PathBuf>,
    channels: Vec<Json>,
    #[serde(default)]
    t2: T2Settings,
    /// Alerts per archive transaction.
    #[serde(default = "default_batch")]
    batch_size: usize,
    /// Where T3 units write their files (T3ChannelSummary's `path`),
    /// relative to the job file; default: the working directory.
    #[serde(default)]
    output_dir: Option<PathBuf>,
}

/// A loaded job: paths resolved against the job file's directory.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub file: PathBuf,
    pub dir: PathBuf,
    pub source: SourceConfig,
    /// Resolved archive address.
    pub archive: String,
    /// Hot state address, if any.
    pub hot: Option<String>,
    pub catalogs: BTreeMap<String, PathBuf>,
    pub channels: Vec<(PathBuf, ChannelConfig)>,
    pub t2: T2Settings,
    pub batch_size: usize,
    /// Whose stamps the archive keeps.
    pub cutouts: CutoutPolicy,
    /// The base of relative output paths in unit configs (T3 files): the
    /// job's `output_dir`, else the working directory, like the default
    /// archive. Not the job file's directory: configs are often read-only
    /// (a Kubernetes ConfigMap), and output does not belong beside them.
    pub output_dir: PathBuf,
}

/// One problem in a job or channel file.
#[derive(Debug, Clone, PartialEq)]
pub struct JobProblem {
    pub file: PathBuf,
    pub path: String,
    pub message: String,
}

impl fmt::Display for JobProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.path,
                self.message
            )
        }
    }
}

/// Every problem found in a job, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct JobError(pub Vec<JobProblem>);

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the job has {} problem(s):", self.0.len())?;
        for p in &self.0 {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for JobError {}

fn read_yaml(file: &Path) -> Result<Json, JobProblem> {
    let problem = |message: String| JobProblem {
        file: file.to_path_buf(),
        path: String::new(),
        message,
    };
    let text = std::fs::read_to_string(file).map_err(|e| problem(format!("cannot read: {e}")))?;
    serde_norway::from_str(&text).map_err(|e| problem(format!("not valid YAML: {e}")))
}

fn typed<T: serde::de::DeserializeOwned>(
    file: &Path,
    prefix: &str,
    value: Json,
) -> Result<T, JobProblem> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (prefix.is_empty(), inner.as_str()) {
            (true, ".") => String::new(),
            (true, _) => inner,
            (false, ".") => prefix.to_string(),
            (false, _) => format!("{prefix}.{inner}"),
        };
        JobProblem {
            file: file.to_path_buf(),
            path,
            message: e.into_inner().to_string(),
        }
    })
}

fn resolve(dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

impl Job {
    /// Reads a job and its channel files; structural problems only (unit
    /// configs are checked when the units are built, see `crate::run`).
    pub fn load(file: &Path) -> Result<Job, JobError> {
        let raw = read_yaml(file).map_err(|p| JobError(vec![p]))?;
        let jf: JobFile = typed(file, "", raw).map_err(|p| JobError(vec![p]))?;
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut problems = Vec::new();
        let mut channels = Vec::new();
        for (i, entry) in jf.channels.into_iter().enumerate() {
            let (cfile, value, prefix) = match entry {
                Json::String(p) => {
                    let cfile = resolve(&dir, Path::new(&p));
                    match read_yaml(&cfile) {
                        Ok(v) => (cfile, v, String::new()),
                        Err(mut e) => {
                            e.message =
                                format!("{} (channels[{i}] of {})", e.message, file.display());
                            problems.push(e);
                            continue;
                        }
                    }
                }
                v @ Json::Object(_) => (file.to_path_buf(), v, format!("channels[{i}]")),
                other => {
                    problems.push(JobProblem {
                        file: file.to_path_buf(),
                        path: format!("channels[{i}]"),
                        message: format!(
                            "expected a channel file path or an inline channel, got {other}"
                        ),
                    });
                    continue;
                }
            };
            match typed::<ChannelConfig>(&cfile, &prefix, value) {
                Ok(c) => {
                    let at = |k: &str| {
                        if prefix.is_empty() {
                            k.to_string()
                        } else {
                            format!("{prefix}.{k}")
                        }
                    };
                    for (j, p) in c.t3_supervise.iter().enumerate() {
                        if let Some(s) = &p.schedule {
                            if let Err(e) = s.parse::<Schedule>() {
                                problems.push(JobProblem {
                                    file: cfile.clone(),
                                    path: at(&format!("t3_supervise[{j}].schedule")),
                                    message: e,
                                });
                            }
                        }
                    }
                    if c.access.is_empty() {
                        problems.push(JobProblem {
                            file: cfile.clone(),
                            path: at("access"),
                            message: "a channel needs access rights (e.g. [ZTF, ZTF_PUB])".into(),
                        });
                    } else if !SURVEYS.iter().any(|(_, s)| serves(&c.access, *s)) {
                        problems.push(JobProblem {
                            file: cfile.clone(),
                            path: at("access"),
                            message: format!(
                                "{:?} names no survey: give the survey whose alerts the channel takes ({})",
                                c.access,
                                SURVEYS.map(|(t, _)| t).join(" or ")
                            ),
                        });
                    }
                    if channels
                        .iter()
                        .any(|(_, o): &(PathBuf, ChannelConfig)| o.channel == c.channel)
                    {
                        problems.push(JobProblem {
                            file: cfile.clone(),
                            path: at("channel"),
                            message: format!("channel {:?} appears twice in the job", c.channel),
                        });
                    }
                    channels.push((cfile, c));
                }
                Err(p) => problems.push(p),
            }
        }
        let source = SourceConfig {
            paths: jf.source.paths.iter().map(|p| resolve(&dir, p)).collect(),
            kafka: jf.source.kafka.clone(),
        };
        match (&source.kafka, source.paths.is_empty()) {
            (Some(_), false) | (None, true) => problems.push(JobProblem {
                file: file.to_path_buf(),
                path: "source".into(),
                message: "give exactly one of `paths` (alert files) or `kafka` (topics)".into(),
            }),
            (Some(k), true) => {
                let mut bad = |key: &str, why: &str| {
                    problems.push(JobProblem {
                        file: file.to_path_buf(),
                        path: format!("source.kafka.{key}"),
                        message: why.into(),
                    })
                };
                if k.brokers.trim().is_empty() {
                    bad("brokers", "no brokers given");
                }
                if k.topics.is_empty() {
                    bad("topics", "name at least one topic");
                }
                if k.group.trim().is_empty() {
                    bad("group", "a consumer group is needed to commit offsets");
                }
                if k.stop_after_idle_seconds
                    .is_some_and(|s| s.is_nan() || s <= 0.0)
                {
                    bad("stop_after_idle_seconds", "must be positive");
                }
                if k.max_in_flight == 0 {
                    bad("max_in_flight", "must be at least 1");
                }
                if !(k.pause_after_seconds >= 0.0 && k.pause_after_seconds.is_finite()) {
                    bad("pause_after_seconds", "must be zero or more seconds");
                }
            }
            (None, false) => {}
        }
        for (i, p) in source.paths.iter().enumerate() {
            if !p.exists() {
                problems.push(JobProblem {
                    file: file.to_path_buf(),
                    path: format!("source.paths[{i}]"),
                    message: format!("{} does not exist", p.display()),
                });
            }
        }
        let catalogs: BTreeMap<String, PathBuf> = jf
            .catalogs
            .into_iter()
            .map(|(k, p)| (k, resolve(&dir, &p)))
            .collect();
        if channels.is_empty() && problems.is_empty() {
            problems.push(JobProblem {
                file: file.to_path_buf(),
                path: "channels".into(),
                message: "a job needs at least one channel".into(),
            });
        }
        if !problems.is_empty() {
            return Err(JobError(problems));
        }
        let hot = jf.store.hot.clone();
        let cutouts = jf.store.cutouts;
        let archive = match jf.store.archive {
            None => DEFAULT_ARCHIVE.to_string(),
            Some(a) => match a.strip_prefix("sqlite:") {
                Some(p) if p != ":memory:" => {
                    format!("sqlite:{}", resolve(&dir, Path::new(p)).display())
                }
                _ => a,
            },
        };
        let output_dir = jf
            .output_dir
            .map_or_else(PathBuf::new, |p| resolve(&dir, &p));
        Ok(Job {
            output_dir,
            name: jf.name,
            file: file.to_path_buf(),
            dir,
            source,
            archive,
            hot,
            catalogs,
            channels,
            t2: jf.t2,
            batch_size: jf.batch_size.max(1),
            cutouts,
        })
    }
}
