//! Re-ingesting: an alert carried again (its history in later alerts, the
//! same alert redelivered or replayed) must not make documents grow with
//! every copy. As AMPEL's ZiMongoMuxer does, only datapoints new to a stock
//! are written; an alert a channel already ingested adds a log line and
//! nothing else, so N copies cost N times one alert (the archive's
//! documents stay the same size; only the log grows, one line a copy).

mod common;

use ampel::job::Job;
use ampel::run::{Input, Pipeline, RunSummary, Version};
use ampel::source::RawAlert;
use ampel::store::{open_embedded, Archive, LogQuery, SqliteArchive};
use common::*;
use std::path::Path;

fn version() -> Version {
    Version {
        version: "test".into(),
        commit: None,
    }
}

/// A job with an accept-all channel (every DecentFilter threshold open)
/// and a standard one, each with T2LightCurveSummary.
fn pipeline(dir: &Path) -> Pipeline {
    let configs = decent_configs();
    let yaml = format!(
        "name: reingest\nsource: {{paths: [{}]}}\nchannels:\n\
         - {{channel: OPEN, access: [ZTF, ZTF_PUB], t0_filter: {{unit: DecentFilter, config: {}}}, t2_compute: [{{unit: T2LightCurveSummary}}]}}\n\
         - {{channel: STD, access: [ZTF, ZTF_PUB], t0_filter: {{unit: DecentFilter, config: {}}}, t2_compute: [{{unit: T2LightCurveSummary}}]}}\n",
        data("ztf_public_20231018_v4.02.tar.gz").display(),
        configs["accept_all"],
        configs["standard"],
    );
    let file = dir.join("job.yml");
    std::fs::write(&file, yaml).unwrap();
    Pipeline::build(Job::load(&file).unwrap()).unwrap_or_else(|e| panic!("{e}"))
}

fn replay(p: &mut Pipeline, a: &mut SqliteArchive, messages: Vec<RawAlert>) -> RunSummary {
    p.replay_from(Input::Memory(messages), a, &version(), &mut |_| {})
        .unwrap()
}

/// Bytes of every stored stock, datapoint, state and T2 document: what a
/// re-ingest must not grow.
fn document_bytes(a: &dyn Archive) -> usize {
    let mut n = 0;
    for s in a.stocks(&Default::default()).unwrap() {
        n += serde_json::to_string(&s).unwrap().len();
        for d in a.datapoints(s.stock).unwrap() {
            n += serde_json::to_string(&d).unwrap().len();
        }
        for t in a.states(s.stock).unwrap() {
            n += serde_json::to_string(&t).unwrap().len();
        }
    }
    n + serde_json::to_string(&a.t2(&Default::default()).unwrap())
        .unwrap()
        .len()
}

#[test]
fn the_same_alert_again_stores_nothing_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(dir.path());
    let mut a =
        open_embedded(&format!("sqlite:{}", dir.path().join("a.sqlite").display())).unwrap();
    let all = raw_messages("ztf_public_20231018_v4.02");
    let first = replay(&mut p, &mut a, all.clone());
    assert_eq!(first.reingested, 0);
    let counts = a.counts().unwrap();
    let bytes = document_bytes(&a);

    // One alert 40 times in one run (no hot state: every copy reaches T0),
    // then the whole file again in a second run.
    let one = all[0].clone();
    let copies = replay(&mut p, &mut a, vec![one; 40]);
    assert_eq!(copies.reingested, 40, "{copies:?}");
    let again = replay(&mut p, &mut a, all.clone());
    let accepted_somewhere = first.accepted["OPEN"];
    assert_eq!(again.reingested, accepted_somewhere);
    assert_eq!(again.t2_runs, 0);
    let after = a.counts().unwrap();
    for c in ["stock", "t0", "t1", "t2"] {
        assert_eq!(counts[c], after[c], "{c}");
    }
    assert_eq!(document_bytes(&a), bytes, "no document grew");
    let logged = a
        .logs(&LogQuery::default())
        .unwrap()
        .into_iter()
        .filter(|l| l.msg.starts_with("already ingested"))
        .count() as u64;
    assert_eq!(logged, 40 + accepted_somewhere, "one log line a copy");
}

#[test]
fn history_points_carried_again_keep_one_meta_record_per_stock() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(dir.path());
    let mut a =
        open_embedded(&format!("sqlite:{}", dir.path().join("a.sqlite").display())).unwrap();
    // Every set: the 2021 set's upper limits are shared by several
    // objects, ZTF18abxhyqv's four alerts carry each other's points.
    for set in ZTF_SETS {
        replay(&mut p, &mut a, raw_messages(set));
    }
    let mut shared = 0;
    for s in a.stocks(&Default::default()).unwrap() {
        for d in a.datapoints(s.stock).unwrap() {
            // One ingest record per stock that brought the datapoint, not
            // one per alert that carried it.
            assert_eq!(d.meta.len(), d.stock.len(), "datapoint {}", d.id);
            shared += usize::from(d.stock.len() > 1);
        }
    }
    assert!(shared > 0, "the set has shared upper limits");
}
