//! The k8s/ overlays, rendered with `kubectl kustomize` (Debian's
//! kubernetes-client; `tests/run` installs it when missing).

use super::repo_root as root;
use serde::Deserialize;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every overlay directory in `k8s/overlays/`, sorted.
pub fn overlays() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("k8s/overlays"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("kustomization.yaml").is_file())
        .collect();
    out.sort();
    assert!(
        out.len() >= 2,
        "a small and a survey-scale overlay: {out:?}"
    );
    out
}

/// `kubectl kustomize DIR`, as parsed documents.
pub fn render(dir: &Path) -> Vec<Json> {
    let kubectl = super::find("kubectl", "KUBECTL");
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|d| Json::deserialize(d).unwrap())
        .filter(|d| !d.is_null())
        .collect()
}
