//! Every shared ZTF set replayed through a public channel whose DecentFilter
//! accepts everything it can (`accept_all`: every threshold open) and that
//! runs T2LightCurveSummary. Upper limits shared by several stocks must not
//! leave any stock's state short of a datapoint: zero T2 documents end with
//! a code other than OK, and every state and body equals what Python AMPEL's
//! own units compute for the same ingestion (tests/reference/
//! replay_reference.py, stored in tests/data/expected/replay_accept_all.jsonl).

mod common;

use ampel::job::Job;
use ampel::run::{Pipeline, Version};
use ampel::store::{code, open_embedded, Archive, SqliteArchive, T2Query};
use common::*;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

fn replay(set: &str, dir: &std::path::Path) -> (SqliteArchive, ampel::run::RunSummary) {
    let job = dir.join(format!("{set}.yml"));
    std::fs::write(
        &job,
        format!(
            "name: accept-all\nsource: {{paths: [{}]}}\nchannels:\n\
             - {{channel: ALL, access: [ZTF, ZTF_PUB], t0_filter: {{unit: DecentFilter, config: {}}}, \
             t2_compute: [{{unit: T2LightCurveSummary}}]}}\n",
            data(&format!("{set}.tar.gz")).display(),
            decent_configs()["accept_all"]
        ),
    )
    .unwrap();
    let mut archive = open_embedded(&format!(
        "sqlite:{}",
        dir.join(format!("{set}.sqlite")).display()
    ))
    .unwrap();
    let job = Job::load(&job).unwrap_or_else(|e| panic!("{e}"));
    let mut p = Pipeline::build(job).unwrap_or_else(|e| panic!("{e}"));
    let version = Version {
        version: "test".into(),
        commit: None,
    };
    let s = p.replay(&mut archive, &version, &mut |_| {}).unwrap();
    (archive, s)
}

#[test]
fn accept_all_replays_match_python_ampel_with_shared_upper_limits() {
    let text = std::fs::read_to_string(data("expected/replay_accept_all.jsonl")).unwrap();
    let mut want: BTreeMap<&str, BTreeMap<(i64, i64), Json>> = BTreeMap::new();
    let lines: Vec<Json> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for e in &lines {
        let key = (e["stock"].as_i64().unwrap(), e["link"].as_i64().unwrap());
        want.entry(e["set"].as_str().unwrap())
            .or_default()
            .insert(key, e.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let mut shared_total = 0;
    for set in ZTF_SETS {
        let (archive, summary) = replay(set, dir.path());
        assert_eq!(summary.failed, 0, "{set}");
        let docs = archive.t2(&T2Query::default()).unwrap();
        let bad: Vec<String> = docs
            .iter()
            .filter(|d| d.code != code::OK)
            .map(|d| format!("stock {} link {}: {}", d.stock, d.link, code::name(d.code)))
            .collect();
        assert!(
            bad.is_empty(),
            "{set}: {} T2 documents not OK: {bad:?}",
            bad.len()
        );
        let expected = want.get(set).cloned().unwrap_or_default();
        let got: BTreeSet<(i64, i64)> = docs.iter().map(|d| (d.stock, d.link)).collect();
        assert_eq!(
            got,
            expected.keys().copied().collect::<BTreeSet<_>>(),
            "{set}: the states (stock, link) Python AMPEL makes"
        );
        for d in &docs {
            let e = &expected[&(d.stock, d.link)];
            assert_eq!(d.latest_body(), Some(&e["body"]), "{set} stock {}", d.stock);
            let state = archive
                .states(d.stock)
                .unwrap()
                .into_iter()
                .find(|s| s.link == d.link)
                .expect("the state of a T2 document exists");
            assert_eq!(
                Json::from(state.dps.clone()),
                e["dps"],
                "{set} stock {}",
                d.stock
            );
            assert_eq!(Json::from(state.tag.clone()), e["tag"], "t1 tags");
            assert_eq!(Json::from(d.tag.clone()), e["tag"], "t2 tags");
            // The config id of the validated config, and `conf` holds it.
            assert_eq!(Json::from(d.config), e["config"], "config id");
            assert_eq!(archive.config(d.config).unwrap().as_ref(), Some(&e["conf"]));
        }
        // Every stock reads each of its datapoints, shared ones included.
        let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
        for d in &docs {
            let points = archive.datapoints(d.stock).unwrap();
            let state = archive.states(d.stock).unwrap();
            let ids: BTreeSet<i64> = points.iter().map(|p| p.id).collect();
            for s in &state {
                assert!(s.dps.iter().all(|i| ids.contains(i)), "{set} {}", d.stock);
            }
            for p in points.iter().filter(|p| p.stock.len() > 1) {
                assert!(p.stock.contains(&d.stock));
                *seen.entry(p.id).or_default() += 1;
            }
        }
        shared_total += seen.len();
        eprintln!(
            "{set}: {} alerts, {} T2 documents all OK, {} shared datapoints",
            summary.alerts,
            docs.len(),
            seen.len()
        );
    }
    assert!(
        shared_total > 40,
        "shared upper limits are exercised ({shared_total})"
    );
}
