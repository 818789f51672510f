//! What `ampel run` tells its user when part of the work fails: each
//! unreadable record on stderr with its file, member and tar offset; a T3
//! unit that fails makes the exit status 8 and the run's event not OK.

mod serve_support;

use serve_support::{data, tutorial_archive};
use std::process::Command;

#[test]
fn unreadable_records_are_named_on_stderr() {
    let d = tempfile::tempdir().unwrap();
    tutorial_archive(d.path(), None);
    // Two good alerts and two that are not Avro, in one tar.
    let src = data("ztf_public_20231018_v4.02.tar.gz");
    let mut good = Vec::new();
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(src).unwrap());
    for e in tar::Archive::new(gz).entries().unwrap().take(3) {
        let mut e = e.unwrap();
        if e.header().entry_type().is_file() {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut b).unwrap();
            good.push(b);
        }
    }
    let path = d.path().join("mixed.tar");
    let mut t = tar::Builder::new(std::fs::File::create(&path).unwrap());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, name, bytes).unwrap();
    };
    add("a.avro", &good[0]);
    add("broken1.avro", b"not avro at all");
    add("b.avro", &good[1]);
    add("broken2.avro", &good[0][..200]);
    t.finish().unwrap();
    drop(t);
    let job = std::fs::read_to_string(d.path().join("job.yml")).unwrap();
    let job = job.replace(
        &format!("{}/ztf_public_20231018_v4.02.tar.gz", data("").display()),
        path.to_str().unwrap(),
    );
    std::fs::write(d.path().join("mixed.yml"), job).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .current_dir(d.path())
        .args(["run", "--job", "mixed.yml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    for member in ["broken1.avro", "broken2.avro"] {
        let line = err
            .lines()
            .find(|l| l.contains(member))
            .unwrap_or_else(|| panic!("{member} not named: {err}"));
        assert!(
            line.contains("mixed.tar") && line.contains("tar offset"),
            "{line}"
        );
    }
}

#[test]
fn a_failing_t3_unit_fails_the_run() {
    let d = tempfile::tempdir().unwrap();
    tutorial_archive(d.path(), None);
    // The channel's T3ChannelSummary writes into a directory that does
    // not exist.
    let ch = std::fs::read_to_string(d.path().join("sn09ip_nu.yml")).unwrap();
    let ch = ch.replace(
        "{path: tutorial_selected.jsonl}",
        "{path: no/such/dir/selected.jsonl}",
    );
    std::fs::write(d.path().join("sn09ip_nu.yml"), ch).unwrap();
    std::fs::remove_file(d.path().join("ampel.sqlite")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .current_dir(d.path())
        .args(["run", "--job", "job.yml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains("T3ChannelSummary"),
        "the failing unit is named: {err}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(summary["t3_failed"], 1, "{summary}");
    let ev = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .current_dir(d.path())
        .args(["event", "show", "--json"])
        .output()
        .unwrap();
    let ev: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&ev.stdout).lines().last().unwrap()).unwrap();
    assert_ne!(ev["code"], 0, "the run's event is not OK: {ev}");
    assert_eq!(ev["counts"]["t3_failed"], 1, "{ev}");
}
