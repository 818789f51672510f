//! A replay runs T2 beside T0 on a second thread (`src/run/beside.rs`):
//! the archive it leaves must be the one T2-after-T0 leaves, including for
//! a stock unit (which must see the whole stock, so it waits for T0).

mod common;

use ampel::job::Job;
use ampel::run::{Pipeline, RunSummary, Version};
use ampel::store::{code, open_embedded, Archive, SqliteArchive, T2Query};
use ampel::t2::{T2Input, T2Kind, T2Outcome, T2Unit, T2UnitRegistration};
use ampel::units::UnitContext;
use common::*;
use serde_json::{json, Value as Json};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A stock unit whose body says how much of the stock it saw.
struct CountsStock;
impl T2Unit for CountsStock {
    fn kind(&self) -> T2Kind {
        T2Kind::Stock
    }
    fn config(&self) -> Json {
        json!({})
    }
    fn process(&self, i: &T2Input) -> T2Outcome {
        T2Outcome::Ok(json!({"ndp": i.datapoints.len()}))
    }
}
inventory::submit! { T2UnitRegistration { name: "T2BesideCountsStock", build: |_, _: &UnitContext| Ok(Box::new(CountsStock)), schema: ampel::units::no_config } }

/// Every shared ZTF set (four objects have two alerts or more), accepted
/// as far as DecentFilter can, one alert per transaction so that T2 has
/// work between an object's alerts.
fn replay(dir: &Path, name: &str, beside: bool) -> (SqliteArchive, RunSummary) {
    replay_until(dir, name, beside, None)
}

/// [`replay`], stopped (as by a signal) once T0 has read `stop_at` alerts.
fn replay_until(
    dir: &Path,
    name: &str,
    beside: bool,
    stop_at: Option<u64>,
) -> (SqliteArchive, RunSummary) {
    let paths: Vec<String> = ZTF_SETS
        .iter()
        .map(|s| data(&format!("{s}.tar.gz")).display().to_string())
        .collect();
    let job = dir.join(format!("{name}.yml"));
    std::fs::write(
        &job,
        format!(
            "name: beside\nbatch_size: 1\nsource: {{paths: [{}]}}\nchannels:\n\
             - {{channel: ALL, access: [ZTF, ZTF_PUB], t0_filter: {{unit: DecentFilter, config: {}}}, \
             t2_compute: [{{unit: T2LightCurveSummary}}, {{unit: T2BesideCountsStock}}]}}\n",
            paths.join(", "),
            decent_configs()["accept_all"]
        ),
    )
    .unwrap();
    let address = format!("sqlite:{}", dir.join(format!("{name}.sqlite")).display());
    let mut archive = open_embedded(&address).unwrap();
    let job = Job::load(&job).unwrap_or_else(|e| panic!("{e}"));
    let stop = Arc::new(AtomicBool::new(false));
    let mut p = Pipeline::build(job)
        .unwrap_or_else(|e| panic!("{e}"))
        .with_t2_beside(beside)
        .with_stop(stop.clone());
    let version = Version {
        version: "test".into(),
        commit: None,
    };
    let s = p
        .replay(&mut archive, &version, &mut |at| {
            if stop_at.is_some_and(|n| at.alerts >= n) {
                stop.store(true, Ordering::Relaxed);
            }
        })
        .unwrap();
    (archive, s)
}

/// Everything of the T2 documents but times and run ids.
fn t2_fingerprint(a: &dyn Archive) -> Vec<Json> {
    a.t2(&T2Query::default())
        .unwrap()
        .into_iter()
        .map(|d| json!([d.stock, d.unit, d.config, d.link, d.code, d.body, d.channel, d.trials]))
        .collect()
}

#[test]
fn t2_beside_t0_leaves_the_archive_t2_after_t0_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let (after, s_after) = replay(dir.path(), "after", false);
    let (beside, s_beside) = replay(dir.path(), "beside", true);
    let docs = t2_fingerprint(&after);
    assert!(docs.len() > 100, "{} T2 documents", docs.len());
    assert_eq!(t2_fingerprint(&beside), docs);
    assert_eq!(s_beside.t2_runs, s_after.t2_runs);
    assert_eq!(s_beside.t2_runs as usize, docs.len(), "each run once");
    assert_eq!(beside.counts().unwrap(), after.counts().unwrap());
    // The stock unit saw each stock whole: as many datapoints as stored.
    for d in beside
        .t2(&T2Query {
            unit: Some("T2BesideCountsStock".into()),
            ..Default::default()
        })
        .unwrap()
    {
        let stored = beside.datapoints(d.stock).unwrap().len();
        assert_eq!(d.latest_body().unwrap()["ndp"], stored, "stock {}", d.stock);
    }
}

#[test]
fn an_archive_in_memory_replays_with_t2_after_t0() {
    // No second handle on an in-memory archive: the same replay, on one
    // thread.
    let dir = tempfile::tempdir().unwrap();
    let (file, s_file) = replay(dir.path(), "file", true);
    let mut memory = open_embedded("sqlite::memory:").unwrap();
    assert!(memory.another().unwrap().is_none());
    let job = Job::load(&dir.path().join("file.yml")).unwrap();
    let mut p = Pipeline::build(job).unwrap().with_t2_beside(true);
    let version = Version {
        version: "test".into(),
        commit: None,
    };
    let s = p.replay(&mut memory, &version, &mut |_| {}).unwrap();
    assert_eq!(s.t2_runs, s_file.t2_runs);
    assert_eq!(t2_fingerprint(&memory), t2_fingerprint(&file));
}

#[test]
fn a_replay_stopped_while_t2_runs_beside_t0_leaves_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, _) = replay(dir.path(), "whole", false);
    let (mut a, s) = replay_until(dir.path(), "stopped", true, Some(128));
    assert!(s.interrupted);
    // What the reader had queued (up to two queues of 256 messages: all 356
    // alerts when T0 is slow) is still stored after a stop, so T0 may end
    // with every alert; what a stop always leaves is T2 work: the stock
    // unit runs only in the drain, which a stop skips.
    let left = a
        .count_t2(&T2Query {
            code: Some(code::NEW),
            ..Default::default()
        })
        .unwrap();
    assert!(left > 0, "the stop left T2 work ({} alerts read)", s.alerts);
    let running = a
        .t2(&T2Query {
            code: Some(code::RUNNING),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(running.len(), 0, "claimed work went back to NEW");
    // The next run reads everything again and finishes the work: the
    // archive of one uninterrupted replay.
    let job = Job::load(&dir.path().join("stopped.yml")).unwrap();
    let mut p = Pipeline::build(job).unwrap();
    let version = Version {
        version: "test".into(),
        commit: None,
    };
    let again = p.replay(&mut a, &version, &mut |_| {}).unwrap();
    assert!(!again.interrupted);
    assert_eq!(t2_fingerprint(&a), t2_fingerprint(&whole));
}
