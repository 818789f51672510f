//! A run's record in the archive (its `event` document): RUNNING from its
//! start, with the process that runs it and a heartbeat, finished with
//! counts and code. A run whose process died (SIGKILL, OOM, a lost node)
//! cannot finish its own record: the next run of any job on the archive
//! closes it, so no record stays "running" for ever.

use super::{now, RunSummary, Version};
use crate::store::{code, Archive, EventDoc, LogDoc, StoreError, WriteOp};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::path::Path;

/// How often a live process says it is alive (see `heartbeat_op`).
pub const HEARTBEAT_SECONDS: f64 = 30.0;
/// A run on another host whose heartbeat is older than this is dead.
pub const DEAD_AFTER_SECONDS: f64 = 4.0 * HEARTBEAT_SECONDS;

/// A run's event document: written RUNNING when the run starts (with the
/// configs of its units), finished with its counts and code.
pub struct RunRecord {
    event: EventDoc,
}

impl RunRecord {
    pub fn begin(
        archive: &mut dyn Archive,
        process: &str,
        job_file: &Path,
        configs: &[(i64, Json)],
        version: &Version,
    ) -> Result<RunRecord, StoreError> {
        let run = archive.next_run_id()?;
        let start = now();
        let event = EventDoc {
            run,
            process: process.to_string(),
            tier: None,
            start,
            end: None,
            code: code::RUNNING,
            counts: BTreeMap::new(),
            version: version.version.clone(),
            commit: version.commit.clone(),
            job: Some(job_file.display().to_string()),
            host: Some(host_name()),
            pid: Some(std::process::id()),
            heartbeat: Some(start),
            note: None,
        };
        let mut ops: Vec<WriteOp> = vec![WriteOp::Event(event.clone())];
        ops.extend(close_dead_runs(archive, &event)?);
        ops.extend(configs.iter().map(|(id, c)| WriteOp::Config {
            id: *id,
            config: c.clone(),
        }));
        archive.write(ops)?;
        Ok(RunRecord { event })
    }

    pub fn run(&self) -> i64 {
        self.event.run
    }

    /// A summary for this run, to be filled while it works.
    pub fn summary(&self, job: &str, archive: &dyn Archive) -> RunSummary {
        RunSummary {
            job: job.to_string(),
            run: self.event.run,
            archive: archive.location(),
            ..Default::default()
        }
    }

    /// Completes `summary` from the archive and records the run's end.
    pub fn finish(
        mut self,
        archive: &mut dyn Archive,
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        let counts = archive.counts()?;
        summary.datapoints = counts.get("t0").copied().unwrap_or(0);
        summary.states = counts.get("t1").copied().unwrap_or(0);
        summary.t2.clear();
        for (c, n) in archive.t2_codes()? {
            *summary.t2.entry(code::name(c)).or_default() += n as i64;
        }
        let end = now();
        summary.seconds = end - self.event.start;
        summary.alerts_per_s = summary.alerts as f64 / summary.seconds.max(1e-9);
        let run = self.event.run;
        self.event.end = Some(end);
        self.event.code = if summary.interrupted {
            code::INTERRUPTED
        } else if summary.failed > 0 || summary.t3_failed > 0 {
            code::ERROR
        } else {
            code::OK
        };
        if summary.interrupted {
            self.event.note = Some(format!(
                "interrupted after {} alert(s) and {} T2 run(s): what was read is stored, \
                 T2 documents it had claimed are NEW again, T3 did not run",
                summary.alerts, summary.t2_runs
            ));
        }
        self.event.counts = BTreeMap::from([
            ("alerts".to_string(), summary.alerts as i64),
            ("failed".to_string(), summary.failed as i64),
            (
                "accepted".to_string(),
                summary.accepted.values().sum::<u64>() as i64,
            ),
            ("t2_runs".to_string(), summary.t2_runs as i64),
            ("t3_runs".to_string(), summary.t3_runs as i64),
        ]);
        if summary.t3_failed > 0 {
            self.event
                .counts
                .insert("t3_failed".to_string(), summary.t3_failed as i64);
        }
        let other: u64 = summary.other_survey.values().sum();
        if other > 0 {
            self.event
                .counts
                .insert("other_survey".to_string(), other as i64);
        }
        // Alerts a channel did not filter because they are another
        // survey's: said per channel, so a count in the event is explained.
        let mut ops: Vec<WriteOp> = summary
            .other_survey
            .iter()
            .map(|(channel, n)| {
                WriteOp::Log(LogDoc {
                    run,
                    ts: end,
                    level: "info".into(),
                    tier: Some(0),
                    stock: None,
                    channel: Some(channel.clone()),
                    alert: None,
                    msg: "alerts of a survey the channel's access does not name: not filtered"
                        .into(),
                    extra: Some(json!({"alerts": n})),
                })
            })
            .collect();
        ops.extend([
            WriteOp::Event(self.event),
            WriteOp::Log(LogDoc {
                run,
                ts: end,
                level: "info".into(),
                tier: None,
                stock: None,
                channel: None,
                alert: None,
                msg: if summary.interrupted {
                    "run interrupted".into()
                } else {
                    "run finished".into()
                },
                extra: Some(json!({"alerts": summary.alerts, "failed": summary.failed})),
            }),
        ]);
        archive.write(ops)
    }
}

/// The op a live process writes every [`HEARTBEAT_SECONDS`] for its run.
pub fn heartbeat_op(run: i64) -> WriteOp {
    WriteOp::Heartbeat { run, ts: now() }
}

/// This machine's name (a pod's name on Kubernetes).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Closes the records of runs whose process is gone: on this host, its pid
/// no longer exists; elsewhere (or without /proc), its heartbeat is older
/// than [`DEAD_AFTER_SECONDS`]. They end ERROR at their last sign of life,
/// with a note saying so.
fn close_dead_runs(archive: &dyn Archive, me: &EventDoc) -> Result<Vec<WriteOp>, StoreError> {
    let host = me.host.as_deref().unwrap_or_default();
    let now = me.start;
    let proc_fs = Path::new("/proc/self").exists();
    let mut ops = Vec::new();
    for mut e in archive.events()? {
        if e.code != code::RUNNING || e.run == me.run {
            continue;
        }
        let last = e.heartbeat.unwrap_or(e.start);
        let dead = match (e.host.as_deref(), e.pid) {
            (Some(h), Some(pid)) if h == host && proc_fs => {
                !Path::new(&format!("/proc/{pid}")).exists() || now - last > DEAD_AFTER_SECONDS
            }
            _ => now - last > DEAD_AFTER_SECONDS,
        };
        if dead {
            e.code = code::ERROR;
            e.end = Some(last);
            e.note = Some(format!(
                "the process died (pid {} on {}, last alive {last:.0}); closed by run {}",
                e.pid.map_or("?".into(), |p| p.to_string()),
                e.host.as_deref().unwrap_or("?"),
                me.run
            ));
            ops.push(WriteOp::Event(e));
        }
    }
    Ok(ops)
}
