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

/// The tutorial over its night read `copies` times: a replay long enough
/// to watch (the later copies are re-ingestions).
fn long_replay(dir: &Path, copies: usize) -> PathBuf {
    let job = tutorial_in_conf(dir, "");
    let night = data("ztf_public_20231018_v4.02.tar.gz");
    let text = std::fs::read_to_string(&job).unwrap();
    let many = format!(
        "  paths: [{}]",
        vec![night.display().to_string(); copies].join(", ")
    );
    let text: Vec<String> = text
        .lines()
        .map(|l| match l.starts_with("  paths: [") {
            true => many.clone(),
            false => l.to_string(),
        })
        .collect();
    std::fs::write(&job, text.join("\n") + "\n").unwrap();
    job
}

fn last_json(o: &Output) -> serde_json::Value {
    let out = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(out.lines().last().expect("a summary")).expect("JSON")
}

#[test]
fn replay_progress_tells_total_rate_and_time_left_then_t2() {
    let d = tempfile::tempdir().unwrap();
    long_replay(d.path(), 3);
    let out = ampel(
        d.path(),
        &[
            "run",
            "--job",
            "conf/job.yml",
            "--progress",
            "lines",
            "--progress-interval",
            "0.05",
        ],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let t0: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("progress: T0"))
        .collect();
    assert!(!t0.is_empty(), "no T0 progress: {err}");
    // A gzipped night: the total is estimated from the bytes read.
    let mid = t0[0];
    assert!(mid.contains(" of ~"), "{mid}");
    assert!(mid.contains("alerts/s") && mid.contains(" left"), "{mid}");
    let done = t0.last().unwrap();
    assert!(
        done.contains("T0 516 of ~516 alerts (100%)") && done.ends_with("(done)"),
        "{done}"
    );
    let t2 = err
        .lines()
        .find(|l| l.starts_with("progress: T2") && l.ends_with("(done)"))
        .unwrap_or_else(|| panic!("no T2 progress: {err}"));
    let s = last_json(&out);
    let runs = s["t2_runs"].as_u64().unwrap();
    assert!(
        t2.contains(&format!("T2 {runs} of {runs} runs (100%)")),
        "{t2} / {s}"
    );
    // Never: nothing.
    let quiet = ampel(
        d.path(),
        &["run", "--job", "conf/job.yml", "--progress", "never"],
    );
    assert!(!stderr(&quiet).contains("progress:"), "{}", stderr(&quiet));
}

#[test]
fn ctrl_c_stores_what_was_read_and_marks_the_run_interrupted() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let d = tempfile::tempdir().unwrap();
    long_replay(d.path(), 60);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .current_dir(d.path())
        .args(["run", "--job", "conf/job.yml", "--progress", "lines"])
        .args(["--progress-interval", "0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // Once T0 is under way, Ctrl-C.
    while !seen.contains("progress: T0") {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "ended early: {seen}");
        seen.push_str(&line);
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{seen}{rest}");
    assert!(rest.contains("interrupted:"), "{rest}");
    let s = last_json(&out);
    assert_eq!(s["interrupted"], true, "{s}");
    // Counts in the same form as the progress lines (12,264, not 12264).
    let line = rest
        .lines()
        .find(|l| l.starts_with("interrupted:"))
        .unwrap();
    let read: String = line["interrupted: ".len()..]
        .chars()
        .take_while(|c| *c != ' ')
        .collect();
    let alerts = s["alerts"].as_u64().unwrap();
    assert_eq!(
        read.replace(',', "").parse::<u64>().unwrap(),
        alerts,
        "{line}"
    );
    if alerts >= 1000 {
        assert!(read.contains(','), "{line}");
    }
    assert!(alerts > 0 && alerts < 60 * 172, "{s}");
    assert_eq!(s["t3_runs"], 0, "T3 ran after Ctrl-C: {s}");

    // The run's record says so; nothing is left RUNNING.
    let ev = ampel(d.path(), &["event", "show", "--json"]);
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&ev.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["code"], -9, "{first}");
    assert!(first["end"].is_number(), "{first}");
    assert!(
        first["note"].as_str().unwrap().contains("interrupted"),
        "{first}"
    );
    // The table says why too, not only the code.
    let table = String::from_utf8_lossy(&ampel(d.path(), &["event", "show"]).stdout).to_string();
    assert!(
        table.contains("INTERRUPTED") && table.contains("interrupted after"),
        "{table}"
    );
    let running = ampel(d.path(), &["t2", "show", "--code", "RUNNING", "--json"]);
    assert!(running.status.success(), "{}", stderr(&running));
    assert!(running.stdout.is_empty(), "{}", stderr(&running));

    // What was accepted before Ctrl-C is in the archive: the datapoints of
    // the stocks accepted so far, each stored once.
    let accepted = s["accepted"]["DEMO_SN09IP_NU"].as_u64().unwrap_or(0);
    if accepted > 0 {
        assert!(s["datapoints"].as_i64().unwrap() > 0, "{s}");
    }
}
