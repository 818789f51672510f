//! The JSON API checked against its OpenAPI document by schemathesis (PyPI;
//! `tests/run` installs it into a venv and names it in AMPEL_SCHEMATHESIS):
//! every check, once with the tutorial's stock and channel as parameters
//! (tests/api/schemathesis.toml) so the answers carry data, once with
//! generated ones (404s and 400s must match the document too).

mod serve_support;

use serve_support::{repo, tutorial_archive, Server};
use std::process::Command;

fn st() -> String {
    std::env::var("AMPEL_SCHEMATHESIS").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/ampel-test/schemathesis/bin/st")
    })
}

#[test]
fn the_api_answers_as_its_openapi_document_says() {
    let d = tempfile::tempdir().unwrap();
    let store = tutorial_archive(d.path(), None);
    let s = Server::start(&store, &[]);
    let schema = format!("{}/api/v1/openapi.json", s.base);
    let config = repo().join("tests/api/schemathesis.toml");
    let config = config.to_str().unwrap();
    for pre in [vec!["--config-file", config], vec![]] {
        let out = Command::new(st())
            .args(&pre)
            .args(["run", &schema, "--checks", "all", "--max-examples", "40"])
            .args(["--seed", "1"])
            .current_dir(d.path())
            .output()
            .unwrap_or_else(|e| panic!("{}: {e} (tests/run installs schemathesis)", st()));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis {pre:?}:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("5 selected"),
            "all five operations tested: {text}"
        );
    }
}
