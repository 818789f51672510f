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

/// A filter naming a field its channel's survey does not have would reject
/// every alert, blaming the alert: the job is refused when built, naming
/// the file, the key, the field and the closest real one.
#[test]
fn a_filter_field_the_survey_lacks_is_a_build_error() {
    let d = tempfile::tempdir().unwrap();
    let night = data("ztf_public_20231018_v4.02.tar.gz");
    let job = |access: &str, filter: &str| {
        format!(
            "name: fields\nsource: {{paths: [{}]}}\nchannels:\n  - channel: CH\n    access: {access}\n    t0_filter: {filter}\n",
            night.display()
        )
    };
    let cases = [
        (
            "[ZTF, ZTF_PUB]",
            "{unit: ExpressionFilter, config: {expression: 'candidate.rb > 0.3 && candidate.magpfs < 19'}}",
            "ZTF alerts have no field `magpfs`",
            Some("`magpsf`"),
        ),
        (
            "[LSST]",
            "{unit: ExpressionFilter, config: {expression: 'diaSource.rb > 0.3'}}",
            "LSST alerts have no field `rb`",
            None,
        ),
        (
            "[LSST]",
            "{unit: DecentFilter, config: {min_ndet: 1, min_tspan: 0, max_tspan: 10000, min_rb: 0.3, max_fwhm: 5.5, max_elong: 1.4, max_magdiff: 1, max_nbad: 2, min_sso_dist: 20, min_gal_lat: 7, ps1_sgveto_rad: 1, ps1_sgveto_th: 0.8, ps1_confusion_rad: 3, ps1_confusion_sg_tol: 0.1, gaia_rs: 0, gaia_pm_signif: 3, gaia_plx_signif: 3, gaia_veto_gmag_min: 9, gaia_veto_gmag_max: 20, gaia_excessnoise_sig_max: 999}}",
            "DecentFilter: LSST alerts have no field `fwhm`",
            None,
        ),
    ];
    for (access, filter, want, hint) in cases {
        std::fs::write(d.path().join("job.yml"), job(access, filter)).unwrap();
        for cmd in [
            &["config", "check", "--job", "job.yml"][..],
            &["run", "--job", "job.yml"],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_ampel"))
                .current_dir(d.path())
                .args(cmd)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{cmd:?} {access} {filter}: {err}"
            );
            let line = err
                .lines()
                .find(|l| l.contains(want))
                .unwrap_or_else(|| panic!("{want}: {err}"));
            assert!(
                line.contains("job.yml: channels[0].t0_filter.config"),
                "{line}"
            );
            if let Some(h) = hint {
                assert!(line.contains(h), "{line}");
            }
        }
        assert!(
            !d.path().join("ampel.sqlite").exists(),
            "an archive was made"
        );
    }
    // The same channel with real fields builds.
    std::fs::write(
        d.path().join("job.yml"),
        job(
            "[ZTF, ZTF_PUB]",
            "{unit: ExpressionFilter, config: {expression: 'candidate.magpsf < 19'}}",
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .current_dir(d.path())
        .args(["config", "check", "--job", "job.yml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
