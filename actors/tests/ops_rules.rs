//! The alerting rules against the code: the plain rules file and the
//! PrometheusRule hold the same groups, every metric and label the rules
//! use is one the runtime exports (`actors/src/metrics.rs`), and every
//! alert has its runbook section. (`promtool check/test rules` runs in
//! `.ci/run`.)

mod services;

use serde_json::Value as Json;
use services::promql::{label_names, metric_names};
use services::repo_root as root;

fn yaml(path: &str) -> Json {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
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
