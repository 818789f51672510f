//! Where the real alert files live: `../shared/data` beside the project
//! (every developer and CI has it), or the directory `AMPEL_DATA` names.
//! The project keeps no copies; only expected outputs that its own reference
//! scripts computed stay in `tests/data/expected`.
//!
//! Included by path from both crates' tests, so it knows only std.

#![allow(dead_code)] // each including test uses part of it

use std::path::PathBuf;

/// Every shared ZTF set (the first three keep their positions: tests index
/// them), schema 3.0 through 4.02, public and programid 2.
pub const ZTF_SETS: [&str; 5] = [
    "ztf_public_20180819_mod1000",
    "ztf_public_20200101_v3.3",
    "ztf_public_20231018_v4.02",
    "ztf_public_20210720_v3.5",
    "ztf_private_ZTF18abxhyqv_v3.1-3.2",
];

/// The shared data directory; a clear panic naming the path when missing.
pub fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("AMPEL_DATA") {
        Some(d) => PathBuf::from(d),
        None => root().join("../shared/data"),
    };
    if !dir.join("ztf").is_dir() {
        panic!(
            "real alert data not found: {} has no ztf/ directory; the tests read the shared \
             alert files from ../shared/data beside the project (or the directory AMPEL_DATA names)",
            dir.display()
        );
    }
    dir
}

/// A data file by name: `expected/...` from `tests/data/expected`, an alert
/// set (`ztf_...` or `lsst_...`, with its extension) from the shared data.
pub fn data(name: &str) -> PathBuf {
    if let Some(rest) = name.strip_prefix("expected/") {
        return root().join("tests/data/expected").join(rest);
    }
    let survey = if name.starts_with("lsst") {
        "lsst"
    } else {
        "ztf"
    };
    let path = shared_dir().join(survey).join(name);
    if !name.is_empty() && !path.exists() {
        panic!("real alert file not found: {}", path.display());
    }
    path
}

/// The repository root, from whichever crate includes this file.
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if manifest.join("actors").is_dir() {
        manifest
    } else {
        manifest.join("..")
    }
}
