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
use ampel::store::{code, open_embedded, Archive, DataPointProjection, SqliteArchive, T2Query};
use ampel::t2::T2Outcome;
use ampel::units::CatalogSpec;
use common::*;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

fn replay(set: &str, dir: &std::path::Path) -> (SqliteArchive, ampel::run::RunSummary) {
    replay_with(set, dir, "{unit: T2LightCurveSummary}")
}

fn replay_with(
    set: &str,
    dir: &std::path::Path,
    units: &str,
) -> (SqliteArchive, ampel::run::RunSummary) {
    replay_job(set, dir, "", units)
}

/// An accept-all replay of `set` with `units`; `head` adds job settings.
fn replay_job(
    set: &str,
    dir: &std::path::Path,
    head: &str,
    units: &str,
) -> (SqliteArchive, ampel::run::RunSummary) {
    let job = dir.join(format!("{set}.yml"));
    std::fs::write(
        &job,
        format!(
            "name: accept-all\n{head}source: {{paths: [{}]}}\nchannels:\n\
             - {{channel: ALL, access: [ZTF, ZTF_PUB], t0_filter: {{unit: DecentFilter, config: {}}}, \
             t2_compute: [{units}]}}\n",
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

/// Units that name the body fields they read run on datapoints cut down to
/// what all the worker's units read (`T2Unit::body_fields`), some of them
/// held from an earlier state's load. Each stored result must equal what
/// the same unit computes on the whole datapoints, and on datapoints cut
/// down to its own fields alone.
#[test]
fn units_reading_some_fields_compute_what_they_compute_on_whole_datapoints() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = BTreeMap::<String, usize>::new();
    for set in ZTF_SETS {
        let units = "{unit: T2LightCurveSummary}, {unit: T2TemplateMatch}, \
                     {unit: T2LightCurveSummary, config: {cols: [magpsf, rb, fwhm], limiting_magnitude: 19}}";
        let (archive, summary) = replay_with(set, dir.path(), units);
        assert_eq!(summary.failed, 0, "{set}");
        let ctx = ampel::units::UnitContext::new();
        check_cut_results(&archive, set, &ctx, &mut checked);
    }
    eprintln!("results checked: {checked:?}");
    // Fits, not only "too few points", and both summaries.
    assert!(checked["T2TemplateMatch OK"] > 20, "{checked:?}");
    assert!(checked["T2LightCurveSummary OK"] > 100, "{checked:?}");
}

/// The same for the tutorial's units (a point unit, a state unit and a
/// tied one) and a catalogue match of each datapoint.
#[test]
fn the_tutorial_units_compute_on_cut_datapoints_what_they_compute_on_whole_ones() {
    let dir = tempfile::tempdir().unwrap();
    let regions =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/bench/neutrino_regions.yml");
    let mut checked = BTreeMap::<String, usize>::new();
    for set in ZTF_SETS {
        // A catalogue entry at every tenth alert's position, so that
        // matches and misses are both checked.
        let mut csv = String::from("ra,dec,mag\n");
        for (i, (_, a)) in alerts(set).iter().enumerate().step_by(10) {
            let b = &a.latest().body;
            let (ra, dec) = (b.f64("ra").unwrap(), b.f64("dec").unwrap());
            csv += &format!("{ra},{dec},{}\n", 15.0 + i as f64 / 100.0);
        }
        let cat = dir.path().join(format!("{set}.csv"));
        std::fs::write(&cat, csv).unwrap();
        let tm = "{target_model_name: SN2009ip, base_model_name: SNIa, chi2dof_cut: 2.0}";
        let mm = format!(
            "{{regions: {}, temporal_pull_scaling: 10, spatial_pull_scaling: 0.3, \
             energy_pull_scaling: 1000, match_where: latest}}",
            regions.display()
        );
        let units = format!(
            "{{unit: T2TemplateMatch, config: {tm}}}, {{unit: T2MultiMessMatch, config: {mm}}}, \
             {{unit: T2TutorialDecision, config: {{template_match: {tm}, multimess_match: {mm}}}}}, \
             {{unit: T2CatalogMatch, config: {{catalogs: {{LOCAL: {{rs_arcsec: 2, keys_to_append: [mag]}}}}}}}}"
        );
        let head = format!("catalogs: {{LOCAL: {}}}\n", cat.display());
        let (archive, summary) = replay_job(set, dir.path(), &head, &units);
        assert_eq!(summary.failed, 0, "{set}");
        let spec = CatalogSpec {
            name: "LOCAL".into(),
            path: cat.clone(),
        };
        let ctx = ampel::units::UnitContext::new()
            .with_catalogs(&[spec])
            .unwrap();
        check_cut_results(&archive, set, &ctx, &mut checked);
        let q = T2Query {
            unit: Some("T2CatalogMatch".into()),
            ..Default::default()
        };
        *checked.entry("catalogue matches".into()).or_default() += archive
            .t2(&q)
            .unwrap()
            .iter()
            .filter(|d| d.latest_body().is_some_and(|b| !b["LOCAL"].is_null()))
            .count();
    }
    eprintln!("results checked: {checked:?}");
    assert!(checked["catalogue matches"] > 10, "{checked:?}");
    for unit in ["T2MultiMessMatch", "T2TutorialDecision", "T2CatalogMatch"] {
        assert!(checked[&format!("{unit} OK")] > 100, "{checked:?}");
    }
}

/// Recomputes every stored T2 result on whole and on cut datapoints (with
/// its dependencies' stored results) and asserts both equal it.
fn check_cut_results(
    archive: &SqliteArchive,
    set: &str,
    ctx: &ampel::units::UnitContext,
    checked: &mut BTreeMap<String, usize>,
) {
    let all = archive.t2(&T2Query::default()).unwrap();
    for d in &all {
        let config = archive.config(d.config).unwrap().unwrap();
        let unit = ampel::t2::build_t2(&d.unit, &config, ctx).unwrap();
        let own = DataPointProjection::body(unit.body_fields().expect("fields named"));
        let stored = archive.datapoints(d.stock).unwrap();
        let state = archive.state(d.stock, d.link).unwrap();
        let point = [d.link];
        let ids: &[i64] = match unit.kind() {
            ampel::t2::T2Kind::Point => &point,
            _ => &state.as_ref().unwrap().dps,
        };
        let whole: Vec<std::sync::Arc<_>> = ids
            .iter()
            .map(|id| stored.iter().find(|p| p.id == *id).unwrap().clone().into())
            .collect();
        assert!(whole.iter().any(|p| !p.meta.is_empty()), "whole datapoints");
        let cut: Vec<std::sync::Arc<_>> = whole
            .iter()
            .map(|p| own.apply((**p).clone()).into())
            .collect();
        let deps: BTreeMap<String, Json> = all
            .iter()
            .filter(|x| x.stock == d.stock && x.link == d.link && x.unit != d.unit)
            .filter_map(|x| Some((x.unit.clone(), x.latest_body()?.clone())))
            .collect();
        for dps in [&whole, &cut] {
            let input = ampel::t2::T2Input {
                stock: d.stock,
                datapoints: dps,
                state: state.as_ref(),
                stock_doc: None,
                dependencies: &deps,
            };
            let body = match unit.process(&input) {
                T2Outcome::Ok(b) | T2Outcome::Code(_, b) => b,
                other => panic!("{set} stock {}: {other:?}", d.stock),
            };
            assert_eq!(
                d.latest_body(),
                Some(&body),
                "{set} {} stock {}",
                d.unit,
                d.stock
            );
        }
        *checked
            .entry(format!("{} {}", d.unit, code::name(d.code)))
            .or_default() += 1;
    }
}
