//! Cheap habits kept by a test: every Rust file opens with a `//!` module
//! doc, no test is skipped with an ignore attribute, no trailing whitespace,
//! and no source file grows past the split size of STYLE.md.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target" && n != "data") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn tidy() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for d in ["src", "actors/src", "actors/tests", "tests", "benches"] {
        rust_files(&root.join(d), &mut files);
    }
    assert!(files.len() > 30, "found {} files", files.len());
    let ignore_attr = concat!("#[", "ignore");
    let mut problems = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let rel = f.strip_prefix(root).unwrap().display();
        if !text.trim_start().starts_with("//!") {
            problems.push(format!("{rel}: no //! module doc at the top"));
        }
        for (i, line) in text.lines().enumerate() {
            if line.ends_with(' ') || line.ends_with('\t') {
                problems.push(format!("{rel}:{}: trailing whitespace", i + 1));
            }
            if line.trim_start().starts_with(ignore_attr) {
                problems.push(format!("{rel}:{}: ignored test", i + 1));
            }
        }
        let code_lines = text.split("#[cfg(test)]").next().unwrap().lines().count();
        if code_lines > 1000 {
            problems.push(format!(
                "{rel}: {code_lines} lines before its tests; split it"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
