//! The alerting rules against the code: the plain rules file and the
//! PrometheusRule hold the same groups, every metric and label the rules
//! use is one the runtime exports (`actors/src/metrics.rs`), and every
//! alert has its runbook section. (`promtool check/test rules` runs in
//! `.ci/run`.)

use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &str) -> Json {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `ampel_...` names in a PromQL expression (histogram series suffixes
/// dropped).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("ampel_") {
        let start = i + at;
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        let name = &expr[start..end];
        let name = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        out.insert(name.to_string());
        i = end;
    }
    out
}

/// Label names in selectors (`{a="..", b=~".."}`) and `by (...)`/`on(...)`.
fn label_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for part in expr.split('{').skip(1) {
        let sel = part.split('}').next().unwrap_or("");
        for m in sel.split(',') {
            let name: String = m
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    for kw in ["by (", "on(", "on ("] {
        for part in expr.split(kw).skip(1) {
            for n in part.split(')').next().unwrap_or("").split(',') {
                let n = n.trim();
                if !n.is_empty() {
                    out.insert(n.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn alerting_rules_match_the_exported_metrics_and_have_runbooks() {
    let plain = yaml("k8s/alerts/ampel.rules.yml");
    let operator = yaml("k8s/base/prometheusrule.yaml");
    assert_eq!(operator["kind"], "PrometheusRule");
    assert_eq!(
        operator["spec"]["groups"], plain["groups"],
        "the two rule files differ"
    );

    let metrics_rs = std::fs::read_to_string(root().join("actors/src/metrics.rs")).unwrap();
    let runbook = std::fs::read_to_string(root().join("docs/runbook.md")).unwrap();
    let mut alerts = Vec::new();
    for g in plain["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            let name = r["alert"].as_str().unwrap();
            let expr = r["expr"].as_str().unwrap();
            for m in metric_names(expr) {
                assert!(
                    metrics_rs.contains(&format!("\"{m}\"")),
                    "{name}: metric {m} is not exported by actors/src/metrics.rs"
                );
            }
            // `le`: the bucket label every histogram has.
            for l in label_names(expr).into_iter().filter(|l| l != "le") {
                assert!(
                    metrics_rs.contains(&format!("\"{l}\"")),
                    "{name}: label {l} is not a label of any exported metric"
                );
            }
            let anchor = name.to_lowercase();
            assert_eq!(
                r["annotations"]["runbook"].as_str(),
                Some(format!("docs/runbook.md#{anchor}").as_str())
            );
            assert!(
                runbook.contains(&format!("\n## {name}\n")),
                "{name}: no runbook section"
            );
            alerts.push(name.to_string());
        }
    }
    assert_eq!(alerts.len(), 10, "{alerts:?}");
}
