//! Names in PromQL expressions, for the tests that check alerting rules and
//! autoscalers against the metrics the runtime exports.

use std::collections::BTreeSet;

/// `ampel_...` names in a PromQL expression (histogram series suffixes
/// dropped).
pub fn metric_names(expr: &str) -> BTreeSet<String> {
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
pub fn label_names(expr: &str) -> BTreeSet<String> {
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
