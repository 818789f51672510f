//! What `ampel run` writes and prints for its user: T3 files under a
//! documented base (the working directory, or the job's `output_dir`)
//! without duplicate lines on a re-run; `--quiet`; replay progress (alerts
//! of total, rate, ETA, then T2); Ctrl-C during a replay.

mod serve_support;

use serve_support::{data, repo};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The tutorial job and channel copied into `dir/conf` (the configuration
/// directory a user would not want written into); returns the job file.
fn tutorial_in_conf(dir: &Path, extra_job_lines: &str) -> PathBuf {
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    let src = repo().join("config/tutorial");
    for f in ["sn09ip_nu.yml", "neutrino_regions.yml"] {
        std::fs::copy(src.join(f), conf.join(f)).unwrap();
    }
    let job = std::fs::read_to_string(src.join("job.yml"))
        .unwrap()
        .replace(
            "../../../shared/data/ztf/",
            &format!("{}/", data("").display()),
        );
    let file = conf.join("job.yml");
    std::fs::write(&file, format!("{job}{extra_job_lines}")).unwrap();
    file
}

fn ampel(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ampel"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn t3_files_land_in_the_working_directory_once() {
    let d = tempfile::tempdir().unwrap();
    tutorial_in_conf(d.path(), "");
    for _ in 0..2 {
        let out = ampel(d.path(), &["run", "--job", "conf/job.yml"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert!(
        !d.path().join("conf/tutorial_selected.jsonl").exists(),
        "written into the configuration directory"
    );
    let text = std::fs::read_to_string(d.path().join("tutorial_selected.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "a re-run appended the same line: {text}");
    assert!(lines[0].contains("\"name\":\"ZTF23abfcbgc\""), "{text}");

    // The second run says where it wrote, and that the line was there.
    let out = ampel(d.path(), &["run", "--job", "conf/job.yml"]);
    let err = stderr(&out);
    let want = std::path::absolute(d.path().join("tutorial_selected.jsonl")).unwrap();
    let line = err
        .lines()
        .find(|l| l.contains("T3ChannelSummary"))
        .unwrap_or_else(|| panic!("no T3ChannelSummary line: {err}"));
    assert!(line.contains(&want.display().to_string()), "{line}");
    assert!(
        line.contains("0 new line(s)") && line.contains("1 already there"),
        "{line}"
    );
}

#[test]
fn output_dir_is_relative_to_the_job_file() {
    let d = tempfile::tempdir().unwrap();
    tutorial_in_conf(d.path(), "output_dir: ../out\n");
    std::fs::create_dir_all(d.path().join("out")).unwrap();
    let out = ampel(d.path(), &["run", "--job", "conf/job.yml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(d.path().join("out/tutorial_selected.jsonl")).unwrap();
    assert!(text.contains("ZTF23abfcbgc"), "{text}");
    assert!(!d.path().join("tutorial_selected.jsonl").exists());
}

#[test]
fn quiet_silences_t3_lines() {
    let d = tempfile::tempdir().unwrap();
    tutorial_in_conf(d.path(), "");
    let loud = ampel(d.path(), &["run", "--job", "conf/job.yml"]);
    assert!(
        stderr(&loud).contains("[T3 DEMO_SN09IP_NU"),
        "{}",
        stderr(&loud)
    );
    let quiet = ampel(d.path(), &["run", "--job", "conf/job.yml", "--quiet"]);
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    assert!(
        !stderr(&quiet).contains("[T3 "),
        "--quiet printed T3 lines: {}",
        stderr(&quiet)
    );
    // The T3 documents keep the lines either way.
    let summary: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&quiet.stdout)
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(summary["t3_runs"], 2, "{summary}");
}
