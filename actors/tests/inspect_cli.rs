//! Inspection as a new user tries it: on an archive file nobody may write,
//! by the job file, with stock names and code names, with an unknown unit
//! or store scheme, and `--version`.

mod serve_support;

use serve_support::tutorial_archive;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

fn ampel(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ampel"))
        .current_dir(dir)
        .args(args)
        .env_remove("AMPEL_STORE")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(1)
        == 0
}

#[test]
fn inspection_works_on_an_archive_nobody_may_write() {
    let d = tempfile::tempdir().unwrap();
    tutorial_archive(d.path(), None);
    let ro = d.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::copy(d.path().join("ampel.sqlite"), ro.join("a.sqlite")).unwrap();
    let before = std::fs::read(ro.join("a.sqlite")).unwrap();
    std::fs::set_permissions(ro.join("a.sqlite"), std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = format!("sqlite:{}", ro.join("a.sqlite").display());
    for args in [
        vec!["stock", "show", "ZTF23abfcbgc"],
        vec!["t2", "show", "--unit", "T2TemplateMatch"],
        vec!["event", "show"],
        vec!["log", "show", "--limit", "5"],
        vec!["trouble", "show"],
    ] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ampel"));
        c.args(&args).args(["--store", &store]).current_dir("/");
        if is_root() {
            // Root writes anything: run as nobody, for whom the file is
            // read-only as it is for a user of a shared archive.
            c.uid(65534).gid(65534);
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    let names: Vec<String> = std::fs::read_dir(&ro)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.sqlite"], "no WAL or shared-memory file left");
    assert_eq!(
        std::fs::read(ro.join("a.sqlite")).unwrap(),
        before,
        "not a byte changed"
    );
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn inspection_reads_the_jobs_archive_and_takes_names() {
    let d = tempfile::tempdir().unwrap();
    tutorial_archive(d.path(), None);
    let dir = d.path();
    let ev = ampel(dir, &["event", "show", "--json", "--job", "job.yml"]);
    assert!(ev.status.success(), "{}", text(&ev));
    assert!(
        text(&ev).contains("\"process\":\"tutorial\""),
        "{}",
        text(&ev)
    );
    let logs = ampel(
        dir,
        &["log", "show", "--stock", "ZTF23abfcbgc", "--job", "job.yml"],
    );
    assert!(
        logs.status.success(),
        "log show takes a ZTF name: {}",
        text(&logs)
    );
    let ok = ampel(
        dir,
        &["t2", "show", "--code", "OK", "--json", "--job", "job.yml"],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    let n = String::from_utf8_lossy(&ok.stdout).lines().count();
    let by_number = ampel(
        dir,
        &["t2", "show", "--code", "0", "--json", "--job", "job.yml"],
    );
    assert_eq!(
        n,
        String::from_utf8_lossy(&by_number.stdout).lines().count()
    );
    assert!(n > 0);
    let bad_code = ampel(dir, &["t2", "show", "--code", "FINE", "--job", "job.yml"]);
    assert!(!bad_code.status.success());
    assert!(
        text(&bad_code).contains("not a T2 code"),
        "{}",
        text(&bad_code)
    );
    let unit = ampel(
        dir,
        &["t2", "show", "--unit", "T2Nonesuch", "--job", "job.yml"],
    );
    assert!(
        !unit.status.success(),
        "an unknown unit is said, not an empty table"
    );
    let t = text(&unit);
    assert!(
        t.contains("T2Nonesuch") && t.contains("T2TemplateMatch"),
        "{t}"
    );
}

#[test]
fn an_unknown_store_scheme_is_an_error_not_a_new_file() {
    let d = tempfile::tempdir().unwrap();
    tutorial_archive(d.path(), None);
    for args in [
        vec!["stock", "show", "ZTF23abfcbgc", "--store", "bogus:thing"],
        vec!["run", "--job", "job.yml", "--store", "bogus:thing"],
    ] {
        let out = ampel(d.path(), &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            text(&out).contains("bogus:thing"),
            "{args:?}: {}",
            text(&out)
        );
        assert!(
            !d.path().join("bogus:thing").exists(),
            "{args:?} created a file"
        );
    }
}

#[test]
fn the_version_names_the_commit() {
    let out = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .arg("--version")
        .output()
        .unwrap();
    let v = String::from_utf8_lossy(&out.stdout);
    let commit = v
        .split("(commit ")
        .nth(1)
        .and_then(|r| r.strip_suffix(")\n"));
    assert!(
        commit.is_some_and(
            |c| c == "unknown" || (c.len() == 12 && c.chars().all(|x| x.is_ascii_hexdigit()))
        ),
        "{v}"
    );
}
