//! Jobs through all tiers on the embedded archive: shared T2 documents with
//! Python AMPEL's bodies, deterministic replays, the tutorial, and bad input
//! (job typos, missing files, unknown units, corrupt alerts, failing units).

mod common;

use ampel::job::Job;
use ampel::run::{Pipeline, RunSummary, Version};
use ampel::store::{code, open_embedded, Archive, LogQuery, SqliteArchive, T2Query};
use ampel::t2::{T2Input, T2Kind, T2Outcome, T2Unit, T2UnitRegistration};
use ampel::units::UnitContext;
use common::*;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn version() -> Version {
    Version {
        version: "test".into(),
        commit: None,
    }
}

fn standard() -> Json {
    decent_configs()["standard"].clone()
}

/// Writes a job file in `dir` and returns its path.
fn job_file(dir: &Path, yaml: &str) -> PathBuf {
    let p = dir.join("job.yml");
    std::fs::write(&p, yaml).unwrap();
    p
}

fn run(job: &Path, archive: &mut SqliteArchive) -> RunSummary {
    let job = Job::load(job).unwrap_or_else(|e| panic!("{e}"));
    let mut p = Pipeline::build(job).unwrap_or_else(|e| panic!("{e}"));
    p.replay(archive, &version(), &mut |_| {}).unwrap()
}

fn archive(dir: &Path, name: &str) -> SqliteArchive {
    open_embedded(&format!("sqlite:{}", dir.join(name).display())).unwrap()
}

fn two_channel_job(dir: &Path) -> PathBuf {
    let data = data("ztf_public_20231018_v4.02.tar.gz");
    job_file(
        dir,
        &format!(
            "name: two\nsource: {{paths: [{}]}}\nchannels:\n\
             - {{channel: A, access: [ZTF, ZTF_PUB], t0_filter: {{unit: DecentFilter, config: {}}}, t2_compute: [{{unit: T2LightCurveSummary}}]}}\n\
             - {{channel: B, access: [ZTF, ZTF_PUB], t0_filter: {{unit: SimpleDecentFilter, config: {{min_ndet: 1}}}}, t2_compute: [{{unit: T2LightCurveSummary, config: {{}}}}]}}\n",
            data.display(),
            standard()
        ),
    )
}

#[test]
fn two_channels_share_one_t2_document_with_pythons_body() {
    let dir = tempfile::tempdir().unwrap();
    let job = two_channel_job(dir.path());
    let mut a = archive(dir.path(), "a.sqlite");
    let s = run(&job, &mut a);
    assert_eq!(s.alerts, 172);
    assert_eq!(s.failed, 0);
    assert_eq!(
        s.accepted["A"], 14,
        "Python AMPEL accepts 14 with the standard config"
    );

    let docs = a
        .t2(&T2Query {
            unit: Some("T2LightCurveSummary".into()),
            ..Default::default()
        })
        .unwrap();
    let keys: BTreeSet<(i64, i64)> = docs.iter().map(|d| (d.stock, d.link)).collect();
    assert_eq!(keys.len(), docs.len(), "one document per (stock, link)");
    assert!(docs.iter().all(|d| d.code == code::OK && d.body.len() == 1));
    let shared = docs.iter().filter(|d| d.channel.len() == 2).count();
    assert!(shared >= 10, "{shared} documents carry both channels");
    assert_eq!(s.t2_runs as usize, docs.len(), "computed once each");

    // Bodies equal Python AMPEL's for the same states.
    let expected: BTreeMap<(i64, i64), Json> = expected(ZTF_SETS[2])
        .into_iter()
        .map(|e| {
            (
                (e["stock"].as_i64().unwrap(), e["link"].as_i64().unwrap()),
                e["t2_lightcurve_summary"].clone(),
            )
        })
        .collect();
    let mut compared = 0;
    for d in &docs {
        if let Some(want) = expected.get(&(d.stock, d.link)) {
            assert_eq!(d.latest_body().unwrap(), want, "stock {}", d.stock);
            compared += 1;
        }
    }
    assert_eq!(
        compared,
        docs.len(),
        "every state is an alert's public state here"
    );
}

/// What must be equal between replays: everything but times and run ids.
fn t2_fingerprint(a: &dyn Archive) -> Vec<Json> {
    a.t2(&T2Query::default())
        .unwrap()
        .into_iter()
        .map(|d| json!([d.stock, d.unit, d.config, d.link, d.code, d.body, d.channel]))
        .collect()
}

#[test]
fn replays_are_deterministic_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let tut = tutorial_copy(dir.path());
    let mut a = archive(dir.path(), "a.sqlite");
    let mut b = archive(dir.path(), "b.sqlite");
    run(&tut, &mut a);
    run(&tut, &mut b);
    assert_eq!(
        t2_fingerprint(&a),
        t2_fingerprint(&b),
        "identical T2 bodies, links and codes"
    );
    let states = |x: &dyn Archive| -> Vec<_> {
        let mut v = Vec::new();
        for s in x.stocks(&Default::default()).unwrap() {
            v.extend(
                x.states(s.stock)
                    .unwrap()
                    .into_iter()
                    .map(|t| (t.stock, t.link, t.dps)),
            );
        }
        v
    };
    assert_eq!(states(&a), states(&b));

    // The same alerts again into the same archive: no new documents, nothing recomputed.
    let before = a.counts().unwrap();
    let again = run(&tut, &mut a);
    let after = a.counts().unwrap();
    for c in ["stock", "t0", "t1", "t2"] {
        assert_eq!(before[c], after[c], "{c}");
    }
    assert_eq!(again.t2_runs, 0);
    assert_eq!(t2_fingerprint(&a), t2_fingerprint(&b));
    let runs: Vec<i64> = a.events().unwrap().iter().map(|e| e.run).collect();
    assert_eq!(runs, [1, 2]);
}

/// The tutorial files, copied so that outputs land in `dir`.
fn tutorial_copy(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tutorial");
    for f in ["sn09ip_nu.yml", "neutrino_regions.yml"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let job = std::fs::read_to_string(src.join("job.yml"))
        .unwrap()
        .replace(
            "../../../shared/data/ztf/",
            &format!("{}/", data("").display()),
        );
    // T3 files beside the job, not in the test's working directory.
    job_file(dir, &format!("{job}output_dir: .\n"))
}

#[test]
fn tutorial_job_selects_and_reports_transients() {
    let dir = tempfile::tempdir().unwrap();
    let job = tutorial_copy(dir.path());
    let mut a = archive(dir.path(), "t.sqlite");
    let s = run(&job, &mut a);
    assert_eq!(s.accepted["DEMO_SN09IP_NU"], 10);
    assert_eq!(s.t3_runs, 2);
    let t3 = a.t3(None).unwrap();
    assert_eq!(t3.len(), 2);
    let stock = a.stock_by_name("ZTF23abfcbgc").unwrap().unwrap();
    assert!(t3
        .iter()
        .all(|d| d.code == code::OK && d.stock == [stock.stock]));
    assert!(t3[0].body["lines"][0]
        .as_str()
        .unwrap()
        .starts_with("ZTF23abfcbgc"));
    let written = std::fs::read_to_string(dir.path().join("tutorial_selected.jsonl")).unwrap();
    assert!(written.contains("\"name\":\"ZTF23abfcbgc\""));
    assert!(
        stock.journal.iter().any(|j| j.tier == 3),
        "T3 wrote to the journal"
    );
    // The tied decision waited for, then used, its dependencies.
    let d = a
        .t2(&T2Query {
            stock: Some(stock.stock),
            unit: Some("T2TutorialDecision".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(d[0].latest_body().unwrap()["decision"], true);
    assert_eq!(d[0].meta.last().unwrap().code, Some(code::OK));
    assert!(d[0]
        .meta
        .iter()
        .any(|m| m.code == Some(code::T2_PENDING_DEPENDENCY)));
    // Exactly the stocks with decision true were selected.
    let yes = a
        .t2(&T2Query {
            unit: Some("T2TutorialDecision".into()),
            ..Default::default()
        })
        .unwrap()
        .iter()
        .filter(|d| d.latest_body().unwrap()["decision"] == true)
        .count();
    assert_eq!(yes, 1);
}

#[test]
fn bad_jobs_list_every_problem_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("chan.yml"),
        "channel: C\naccess: [ZTF]\nt0_filtr: {unit: DecentFilter}\n",
    )
    .unwrap();
    let job = job_file(
        dir.path(),
        "name: bad\nsource: {paths: [missing.tar.gz]}\nchannels:\n  - chan.yml\n  - nofile.yml\n  - {channel: D, access: [ZTF], t0_filter: {unit: DecentFiltr}}\n",
    );
    let e = Job::load(&job).unwrap_err();
    let text = e.to_string();
    assert_eq!(e.0.len(), 3, "{text}");
    assert!(
        text.contains("chan.yml: t0_filtr: unknown field `t0_filtr`, expected one of"),
        "{text}"
    );
    assert!(text.contains("nofile.yml: cannot read"), "{text}");
    assert!(text.contains("job.yml: source.paths[0]:"), "{text}");

    // Structurally fine, but units and conditions are wrong: all reported.
    let job = job_file(
        dir.path(),
        &format!(
            "name: bad2\nsource: {{paths: [{}]}}\nchannels:\n  - channel: D\n    access: [ZTF]\n    t0_filter: {{unit: DecentFiltr}}\n    t2_compute: [{{unit: T2LightCurveSummary, config: {{cols: 3}}}}, {{unit: T2Nope}}]\n    t3_supervise:\n      - {{name: x, schedule: every 5 fortnights, filter: {{t2: [{{unit: T2LightCurveSummary, match: {{a: {{$regex: b}}}}}}]}}, run: [{{unit: T3LogSummary}}]}}\n",
            data("ztf_public_20231018_v4.02.tar.gz").display()
        ),
    );
    let e = Job::load(&job).unwrap_err();
    assert!(
        e.to_string()
            .contains("channels[0].t3_supervise[0].schedule: unknown unit \"fortnights\""),
        "{e}"
    );
    let text = std::fs::read_to_string(&job)
        .unwrap()
        .replace("every 5 fortnights", "every 5 minutes");
    std::fs::write(&job, text).unwrap();
    let e = Pipeline::build(Job::load(&job).unwrap())
        .err()
        .unwrap()
        .to_string();
    for want in [
        "channels[0].t0_filter.unit: unknown unit \"DecentFiltr\" (did you mean DecentFilter?)",
        "channels[0].t2_compute[0].config.cols: invalid type: integer `3`, expected a sequence",
        "channels[0].t2_compute[1].unit: unknown unit \"T2Nope\"",
        "channels[0].t3_supervise[0].filter.t2[0].match: a: unknown operator $regex",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
}

#[test]
fn a_corrupt_alert_is_reported_and_the_rest_stored() {
    let dir = tempfile::tempdir().unwrap();
    let msgs = raw_messages(ZTF_SETS[2]);
    let tgz = dir.path().join("mixed.tar.gz");
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(&tgz).unwrap(),
        flate2::Compression::fast(),
    ));
    for (i, m) in msgs.iter().enumerate() {
        let bytes: &[u8] = if i == 3 { &m.bytes[..500] } else { &m.bytes };
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, m.origin.member.as_ref().unwrap(), bytes)
            .unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
    let job = job_file(
        dir.path(),
        &format!(
            "name: c\nsource: {{paths: [{}]}}\nchannels:\n  - {{channel: A, access: [ZTF, ZTF_PUB], t0_filter: {{unit: SimpleDecentFilter, config: {{min_ndet: 1}}}}, t2_compute: [{{unit: T2LightCurveSummary}}]}}\n",
            tgz.display()
        ),
    );
    let mut a = archive(dir.path(), "c.sqlite");
    let s = run(&job, &mut a);
    assert_eq!((s.alerts, s.failed), (171, 1));
    assert!(a.counts().unwrap()["trouble"] == 1);
    // The dead letter keeps the message itself, byte for byte.
    let dead = &a.troubles().unwrap()[0];
    use base64::Engine;
    let kept = base64::engine::general_purpose::STANDARD
        .decode(dead["payload_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(kept, &msgs[3].bytes[..500]);
    assert!(
        dead["error"].as_str().unwrap().contains("truncated"),
        "{dead}"
    );
    let logs = a
        .logs(&LogQuery {
            run: Some(s.run),
            ..Default::default()
        })
        .unwrap();
    assert!(logs.iter().any(|l| l.level == "error"
        && l.msg.contains(&format!(
            "[member {} at tar offset ",
            msgs[3].origin.member.as_ref().unwrap()
        ))));
    assert!(a.counts().unwrap()["t2"] > 10, "the others went through T2");
}

// Test-only units, registered from this test crate.
struct Panics;
impl T2Unit for Panics {
    fn kind(&self) -> T2Kind {
        T2Kind::State
    }
    fn config(&self) -> serde_json::Value {
        json!({})
    }
    fn process(&self, _: &T2Input) -> T2Outcome {
        panic!("deliberate test panic")
    }
}
struct Flaky;
impl T2Unit for Flaky {
    fn kind(&self) -> T2Kind {
        T2Kind::State
    }
    fn config(&self) -> serde_json::Value {
        json!({})
    }
    fn process(&self, _: &T2Input) -> T2Outcome {
        T2Outcome::Retry("service unavailable".into())
    }
}
struct CountsStock;
impl T2Unit for CountsStock {
    fn kind(&self) -> T2Kind {
        T2Kind::Stock
    }
    fn config(&self) -> serde_json::Value {
        json!({})
    }
    fn process(&self, i: &T2Input) -> T2Outcome {
        T2Outcome::Ok(json!({"ndp": i.datapoints.len(), "has_stock": i.stock_doc.is_some()}))
    }
}
inventory::submit! { T2UnitRegistration { name: "T2TestPanics", build: |_, _: &UnitContext| Ok(Box::new(Panics)), schema: ampel::units::no_config } }
inventory::submit! { T2UnitRegistration { name: "T2TestFlaky", build: |_, _: &UnitContext| Ok(Box::new(Flaky)), schema: ampel::units::no_config } }
inventory::submit! { T2UnitRegistration { name: "T2TestCountsStock", build: |_, _: &UnitContext| Ok(Box::new(CountsStock)), schema: ampel::units::no_config } }

#[test]
fn failing_units_are_recorded_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // A catalogue with a source at the first accepted alert's position.
    let first = alerts(ZTF_SETS[2])
        .into_iter()
        .map(|(_, a)| a)
        .find(|a| a.name == "ZTF23abfcbgc")
        .unwrap();
    let (ra, dec) = (
        first.latest().body.f64("ra").unwrap(),
        first.latest().body.f64("dec").unwrap(),
    );
    std::fs::write(
        dir.path().join("cat.csv"),
        format!("ra,dec,mag\n{ra},{dec},17.5\n"),
    )
    .unwrap();
    let job = job_file(
        dir.path(),
        &format!(
            "name: f\nsource: {{paths: [{}]}}\ncatalogs: {{LOCAL: cat.csv}}\nt2: {{max_try: 2, backoff_seconds: 0.01}}\nchannels:\n  - channel: A\n    access: [ZTF, ZTF_PUB]\n    t0_filter: {{unit: SimpleDecentFilter, config: {{min_ndet: 5, min_gal_lat: 15}}}}\n    t2_compute:\n      - {{unit: T2TestPanics}}\n      - {{unit: T2TestFlaky}}\n      - {{unit: T2TestCountsStock}}\n      - {{unit: T2LightCurveSummary}}\n      - {{unit: T2CatalogMatch, config: {{catalogs: {{LOCAL: {{rs_arcsec: 5, keys_to_append: [mag]}}}}}}}}\n",
            data("ztf_public_20231018_v4.02.tar.gz").display()
        ),
    );
    let mut a = archive(dir.path(), "f.sqlite");
    let s = run(&job, &mut a);
    let by_unit = |u: &str| {
        a.t2(&T2Query {
            unit: Some(u.into()),
            ..Default::default()
        })
        .unwrap()
    };
    let n = s.accepted["A"] as usize;
    assert!(n > 5);
    let panics = by_unit("T2TestPanics");
    assert!(
        panics.iter().all(|d| d.code == code::EXCEPTION),
        "{panics:?}"
    );
    assert!(
        panics[0].meta.last().unwrap().extra.as_ref().unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("deliberate test panic")
    );
    let flaky = by_unit("T2TestFlaky");
    assert!(
        flaky
            .iter()
            .all(|d| d.code == code::TOO_MANY_TRIALS && d.trials == 2),
        "{flaky:?}"
    );
    assert!(by_unit("T2LightCurveSummary")
        .iter()
        .all(|d| d.code == code::OK));
    let stock_docs = by_unit("T2TestCountsStock");
    assert!(stock_docs
        .iter()
        .all(|d| d.code == code::OK && d.col.as_deref() == Some("stock") && d.link == d.stock));
    assert!(stock_docs
        .iter()
        .all(|d| d.latest_body().unwrap()["has_stock"] == true));
    let cat = by_unit("T2CatalogMatch");
    assert!(cat
        .iter()
        .all(|d| d.col.as_deref() == Some("t0") && d.code == code::OK));
    let hit = cat.iter().find(|d| d.stock == first.stock).unwrap();
    assert_eq!(hit.latest_body().unwrap()["LOCAL"][0]["mag"], 17.5);
    assert!(cat
        .iter()
        .filter(|d| d.stock != first.stock)
        .all(|d| d.latest_body().unwrap()["LOCAL"].is_null()));
    let logs = a
        .logs(&LogQuery {
            run: Some(s.run),
            ..Default::default()
        })
        .unwrap();
    assert!(logs.iter().any(|l| l
        .msg
        .contains("T2TestPanics panicked: deliberate test panic")));
    assert!(logs
        .iter()
        .any(|l| l.msg.contains("T2TestFlaky failed 2 times, giving up")));
}

#[test]
fn on_stock_match_bypass_overrule_and_silent_overrule() {
    // ZTF18acvqmmq has two alerts in the sample night: 12 datapoints, then 13.
    // The filter `ndp == 12` accepts the first and rejects the second.
    let dir = tempfile::tempdir().unwrap();
    let chan = |name: &str, mode: &str| {
        format!(
            "  - {{channel: {name}, access: [ZTF, ZTF_PUB], t0_filter: {{unit: ExpressionFilter, config: {{expression: 'ndp == 12'}}{mode}}}, t2_compute: [{{unit: T2LightCurveSummary}}]}}\n"
        )
    };
    let job = job_file(
        dir.path(),
        &format!(
            "name: osm\nsource: {{paths: [{}]}}\nchannels:\n{}{}{}{}",
            data("ztf_public_20231018_v4.02.tar.gz").display(),
            chan("PLAIN", ""),
            chan("BYPASS", ", on_stock_match: bypass"),
            chan("OVERRULE", ", on_stock_match: overrule"),
            chan("SILENT", ", on_stock_match: silent_overrule"),
        ),
    );
    let mut a = archive(dir.path(), "o.sqlite");
    let s = run(&job, &mut a);
    let stock = a.stock_by_name("ZTF18acvqmmq").unwrap().unwrap();
    let actions = |ch: &str| -> Vec<String> {
        stock
            .journal
            .iter()
            .filter(|j| j.channel == [ch])
            .map(|j| j.action.clone())
            .collect()
    };
    assert_eq!(actions("PLAIN"), ["accept"]);
    assert_eq!(actions("BYPASS"), ["accept", "bypass"]);
    assert_eq!(actions("OVERRULE"), ["accept", "overrule"]);
    assert_eq!(actions("SILENT"), ["accept", "accept"]);
    for ch in ["BYPASS", "OVERRULE", "SILENT"] {
        assert_eq!(s.accepted[ch], s.accepted["PLAIN"] + 1, "{ch}");
    }
    let logs = a
        .logs(&LogQuery {
            stock: Some(stock.stock),
            ..Default::default()
        })
        .unwrap();
    let msgs = |ch: &str| {
        logs.iter()
            .filter(|l| l.channel.as_deref() == Some(ch))
            .map(|l| l.msg.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(msgs("PLAIN"), ["rejected"]);
    assert_eq!(msgs("OVERRULE"), ["overruled"]);
    assert!(msgs("BYPASS").is_empty() && msgs("SILENT").is_empty());
    assert!(logs[0].extra.as_ref().unwrap()["reason"]
        .as_str()
        .unwrap()
        .contains("`ndp == 12` is false"));
    // The second alert grew the state for the channels that took it.
    let states = a.states(stock.stock).unwrap();
    assert_eq!(states.len(), 2);
    let grown = states.iter().find(|t| t.dps.len() > 12).unwrap();
    assert_eq!(grown.channel, ["BYPASS", "OVERRULE", "SILENT"]);
    let first = states.iter().find(|t| t.dps.len() == 12).unwrap();
    assert_eq!(first.channel.len(), 4);
}

/// AMPEL's `time_last_run` selection: a T3 with `updated_since_last_run`
/// reads only stocks updated since it last selected (so a scheduled T3's
/// cost follows what changed, not the channel's whole history); without
/// it, every stock of the channel again.
#[test]
fn a_t3_since_its_last_run_selects_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&empty).unwrap(),
        flate2::Compression::fast(),
    );
    tar::Builder::new(gz)
        .into_inner()
        .unwrap()
        .finish()
        .unwrap();
    let job = |name: &str, paths: &Path, since: bool| {
        std::fs::write(
            dir.path().join(name),
            format!(
                "name: since\nsource: {{paths: [{}]}}\nchannels:\n\
                 - {{channel: A, access: [ZTF, ZTF_PUB], t0_filter: {{unit: DecentFilter, config: {}}},\n   \
                 t3_supervise: [{{name: recent, filter: {{updated_since_last_run: {since}}}, run: [{{unit: T3LogSummary}}]}}]}}\n",
                paths.display(),
                standard()
            ),
        )
        .unwrap();
        dir.path().join(name)
    };
    let night = data("ztf_public_20231018_v4.02.tar.gz");
    let mut a = archive(dir.path(), "a.sqlite");
    run(&job("full.yml", &night, true), &mut a);
    run(&job("quiet.yml", &empty, true), &mut a);
    run(&job("all.yml", &empty, false), &mut a);
    let t3 = a.t3(None).unwrap();
    assert_eq!(t3.len(), 3);
    assert_eq!(t3[0].stock.len(), 14, "first run: every accepted stock");
    assert!(
        t3[1].stock.is_empty(),
        "nothing changed since: {:?}",
        t3[1].stock
    );
    assert_eq!(t3[2].stock.len(), 14, "without the option: all again");
    let at = |i: usize| {
        t3[i].meta.extra.as_ref().unwrap()["selected_at"]
            .as_f64()
            .unwrap()
    };
    assert!(at(0) < at(1));
    assert_eq!(a.t3_last_selected("A:recent").unwrap(), Some(at(2)));
}

/// A replay stopped when T2 starts (Ctrl-C in `ampel run`): T0's work is
/// stored, no T2 document is left RUNNING, T3 does not run, the event says
/// INTERRUPTED; the next run takes up the T2 work and finishes.
#[test]
fn a_stopped_replay_leaves_its_t2_work_to_the_next_run() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let job = tutorial_copy(dir.path());
    let mut a = archive(dir.path(), "t.sqlite");
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    // T2 after T0 only, so that the stop falls into the drain (a stop
    // while T2 runs beside T0: tests/t2_beside.rs).
    let mut p = Pipeline::build(Job::load(&job).unwrap())
        .unwrap()
        .with_t2_beside(false)
        .with_stop(stop.clone());
    let s = p
        .replay(&mut a, &version(), &mut |at| {
            if at.stage == "T2" {
                stop.store(true, Ordering::Relaxed);
            }
        })
        .unwrap();
    assert!(s.interrupted);
    assert_eq!(s.alerts, 172);
    assert_eq!((s.t2_runs, s.t3_runs), (0, 0), "{s:?}");
    let count = |a: &SqliteArchive, c: i64| {
        a.t2(&T2Query {
            code: Some(c),
            ..Default::default()
        })
        .unwrap()
        .len()
    };
    assert_eq!(count(&a, code::RUNNING), 0);
    assert!(count(&a, code::NEW) > 0);
    let ev = a.events().unwrap();
    assert_eq!(ev[0].code, code::INTERRUPTED);
    assert!(ev[0].end.is_some());

    let s = run(&job, &mut a);
    assert!(!s.interrupted);
    assert_eq!(s.t2_runs, 50, "{s:?}");
    assert_eq!(s.t3_runs, 2);
    assert_eq!(s.t2.get("OK"), Some(&40), "{s:?}");
}
