//! Alert sources: single files, directories (recursive, sorted), tar and
//! tar.gz archives, streamed; errors name the file and member, and a broken
//! archive does not stop the other inputs.

mod common;

use ampel::source::{for_each_alert, RawAlert, SourceError};
use common::*;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

fn collect(paths: &[PathBuf]) -> (Vec<RawAlert>, Vec<SourceError>) {
    let (mut ok, mut err) = (Vec::new(), Vec::new());
    for_each_alert(paths, |r| {
        match r {
            Ok(a) => ok.push(a),
            Err(e) => err.push(e),
        }
        ControlFlow::Continue(())
    });
    (ok, err)
}

fn write_tar(path: &Path, members: &[(String, Vec<u8>)], gzip: bool) {
    let file = std::fs::File::create(path).unwrap();
    let w: Box<dyn Write> = if gzip {
        Box::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(file)
    };
    let mut b = tar::Builder::new(w);
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap().flush().unwrap();
}

#[test]
fn files_directories_and_archives() {
    let msgs = raw_messages(ZTF_SETS[0]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("b/nested")).unwrap();
    std::fs::write(root.join("b/nested/2.avro"), &msgs[2].bytes).unwrap();
    std::fs::write(root.join("a.avro"), &msgs[0].bytes).unwrap();
    std::fs::write(root.join("notes.txt"), b"not an alert").unwrap();
    let members: Vec<(String, Vec<u8>)> = msgs[3..6]
        .iter()
        .map(|m| (m.origin.member.clone().unwrap(), m.bytes.to_vec()))
        .collect();
    write_tar(&root.join("c.tar"), &members, false);
    write_tar(&root.join("d.tar.gz"), &members, true);

    let (ok, err) = collect(&[root.to_path_buf()]);
    assert!(err.is_empty(), "{err:?}");
    let names: Vec<String> = ok
        .iter()
        .map(|a| {
            a.origin
                .to_string()
                .replace(&root.display().to_string(), "")
        })
        .collect();
    assert_eq!(ok.len(), 1 + 1 + 3 + 3, "{names:?}");
    assert!(names[0].ends_with("/a.avro"), "{names:?}");
    assert!(
        names[1].ends_with("/b/nested/2.avro"),
        "sorted, recursive: {names:?}"
    );
    assert!(names[2].contains("c.tar [member"), "{names:?}");
    assert_eq!(ok[2].bytes, msgs[3].bytes);
    assert_eq!(ok[7].bytes, msgs[5].bytes);

    // A file given explicitly is read whatever its name.
    let (ok, _) = collect(&[root.join("notes.txt")]);
    assert_eq!(ok.len(), 1);
}

#[test]
fn broken_archives_are_reported_and_others_continue() {
    let msgs = raw_messages(ZTF_SETS[1]);
    let dir = tempfile::tempdir().unwrap();
    let members: Vec<(String, Vec<u8>)> = msgs
        .iter()
        .map(|m| (m.origin.member.clone().unwrap(), m.bytes.to_vec()))
        .collect();
    let full = dir.path().join("full.tar.gz");
    write_tar(&full, &members, true);
    let bytes = std::fs::read(&full).unwrap();
    let cut = dir.path().join("cut.tar.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let missing = dir.path().join("missing.avro");

    let (ok, err) = collect(&[cut.clone(), missing.clone(), full.clone()]);
    assert_eq!(err.len(), 2, "{err:?}");
    assert!(err[0].to_string().contains("cut.tar.gz"), "{}", err[0]);
    assert!(matches!(&err[1], SourceError::NotFound(p) if *p == missing));
    let from_cut = ok.iter().filter(|a| a.origin.path == cut).count();
    assert!(
        from_cut > 10 && from_cut < msgs.len(),
        "{from_cut} members before the cut"
    );
    assert_eq!(
        ok.iter().filter(|a| a.origin.path == full).count(),
        msgs.len()
    );
}

#[test]
fn can_stop_early() {
    let mut n = 0;
    for_each_alert(&[data("ztf_public_20231018_v4.02.tar.gz")], |_| {
        n += 1;
        if n == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    assert_eq!(n, 3);
}
