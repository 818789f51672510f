//! `ampel run`, the inspection commands and `bench replay`, as a user runs
//! them: the tutorial job in a scratch directory.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../../tests/common/shared_data.rs"]
mod shared_data;
use shared_data::data;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ampel(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ampel"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn json_lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The tutorial job, copied so its outputs stay in `dir`.
fn tutorial(dir: &Path) -> PathBuf {
    let src = repo().join("config/tutorial");
    for f in ["sn09ip_nu.yml", "neutrino_regions.yml"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let job = std::fs::read_to_string(src.join("job.yml"))
        .unwrap()
        .replace(
            "../../../shared/data/ztf/",
            &format!("{}/", data("").display()),
        );
    std::fs::write(dir.join("job.yml"), job).unwrap();
    dir.join("job.yml")
}

#[test]
fn run_then_inspect() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    tutorial(dir);
    let out = ampel(dir, &["run", "--job", "job.yml"]);
    assert!(out.status.success(), "{}", err(&out));
    let summary = json_lines(&out).pop().unwrap();
    for k in [
        "alerts",
        "failed",
        "accepted",
        "datapoints",
        "states",
        "t2",
        "t3_runs",
    ] {
        assert!(summary.get(k).is_some(), "summary lacks {k}: {summary}");
    }
    assert_eq!(summary["alerts"], 172);
    assert_eq!(summary["t2"]["OK"], 40);
    assert!(
        dir.join("ampel.sqlite").exists(),
        "default archive in the working directory"
    );
    assert!(
        err(&out).contains("ZTF23abfcbgc"),
        "T3 names the selected transient: {}",
        err(&out)
    );

    let t2 = json_lines(&ampel(
        dir,
        &["t2", "show", "--json", "--unit", "T2TutorialDecision"],
    ));
    assert_eq!(t2.len(), 10);
    for k in ["stock", "unit", "config", "link", "channel", "code", "body"] {
        assert!(t2[0].get(k).is_some(), "{k}");
    }
    let table = ampel(dir, &["t2", "show", "--code", "0"]);
    assert!(
        String::from_utf8_lossy(&table.stdout).starts_with("stock"),
        "a table by default"
    );

    let s = json_lines(&ampel(dir, &["stock", "show", "--json", "ZTF23abfcbgc"]))
        .pop()
        .unwrap();
    assert_eq!(s["stock"]["name"][0], "ZTF23abfcbgc");
    assert_eq!(s["t3"].as_array().unwrap().len(), 2);
    assert_eq!(s["t2"].as_array().unwrap().len(), 4);
    let s = ampel(dir, &["stock", "show", "ZTF23abfcbgc"]);
    assert!(String::from_utf8_lossy(&s.stdout).contains("journal"));
    let missing = ampel(dir, &["stock", "show", "ZTF99zzzzzzz"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(err(&missing).contains("no stock ZTF99zzzzzzz"));

    let events = json_lines(&ampel(dir, &["event", "show", "--json"]));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["counts"]["alerts"], 172);
    let logs = json_lines(&ampel(dir, &["log", "show", "--json", "--limit", "5"]));
    assert_eq!(logs.len(), 5);
    assert_eq!(logs[0]["msg"], "rejected");

    let reset = ampel(dir, &["t2", "reset", "--unit", "T2TemplateMatch"]);
    assert!(reset.status.success(), "{}", err(&reset));
    assert!(err(&reset).contains("reset 10 T2 document(s)"));
    let again = json_lines(&ampel(dir, &["run", "--job", "job.yml"]))
        .pop()
        .unwrap();
    assert_eq!(again["t2"]["OK"], 40, "the reset documents ran again");
    assert!(
        ampel(dir, &["t2", "reset"]).status.code() == Some(2),
        "reset needs a selection"
    );
    let nothing = ampel(dir, &["event", "show", "--store", "sqlite:nope.sqlite"]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(err(&nothing).contains("no archive at nope.sqlite"));
}

#[test]
fn bad_jobs_exit_2_with_every_problem() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(
        dir.join("job.yml"),
        "name: x\nsource: {paths: [nothere.tar.gz]}\nchannels: [{channel: A, access: [ZTF], t0_filter: {unit: DecentFilter}, t2_compute: [{unit: T2Nope}]}]\n",
    )
    .unwrap();
    let out = ampel(dir, &["run", "--job", "job.yml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(err(&out).contains("source.paths[0]"), "{}", err(&out));
    assert!(
        !dir.join("ampel.sqlite").exists(),
        "nothing runs before the job is valid"
    );
    let out = ampel(dir, &["run", "--job", "missing.yml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err(&out).contains("missing.yml: cannot read"),
        "{}",
        err(&out)
    );
}

#[test]
fn bench_replay_prints_json_last() {
    let out = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .args(["bench", "replay", "--job"])
        .arg(repo().join("config/bench/replay.yml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    let last = json_lines(&out).pop().unwrap();
    assert_eq!(last["alerts"], 172);
    assert_eq!(last["accepted"]["BENCH_DECENT"], 14);
    assert!(last["alerts_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn dead_letters_keep_the_message_and_export_it() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // A good alert file and a truncated one in a directory source.
    let good = data("ztf_public_20180819_mod1000.tar.gz");
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(good).unwrap(),
    ));
    let mut first = Vec::new();
    std::io::Read::read_to_end(
        &mut ar.entries().unwrap().next().unwrap().unwrap(),
        &mut first,
    )
    .unwrap();
    std::fs::create_dir(dir.join("in")).unwrap();
    std::fs::write(dir.join("in/a.avro"), &first).unwrap();
    std::fs::write(dir.join("in/b.avro"), &first[..300]).unwrap();
    std::fs::write(
        dir.join("job.yml"),
        "name: d\nsource: {paths: [in]}\nchannels: [{channel: A, access: [ZTF, ZTF_PUB], t0_filter: {unit: SimpleDecentFilter, config: {min_ndet: 1}}}]\n",
    )
    .unwrap();
    let out = ampel(dir, &["run", "--job", "job.yml"]);
    assert_eq!(out.status.code(), Some(3), "a record failed: {}", err(&out));
    let summary = json_lines(&out).pop().unwrap();
    assert_eq!(
        (summary["alerts"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(1))
    );

    let shown = ampel(dir, &["trouble", "show", "--export", "dead"]);
    assert!(shown.status.success(), "{}", err(&shown));
    let table = String::from_utf8_lossy(&shown.stdout);
    assert!(
        table.contains("dead_letter") && table.contains("b.avro"),
        "{table}"
    );
    let exported = std::fs::read(dir.join("dead/000000.avro")).unwrap();
    assert_eq!(exported, &first[..300], "the message itself, byte for byte");
    let json = json_lines(&ampel(dir, &["trouble", "show", "--json"]));
    assert_eq!(json[0]["bytes"], 300);
}
