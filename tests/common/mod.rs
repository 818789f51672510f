//! Helpers shared by the integration tests: the real alerts in ../shared/data
//! and the expected values Python AMPEL produced for them (tests/reference,
//! stored in tests/data/expected).

#![allow(dead_code)]

use ampel::alert::Alert;
use ampel::source::{for_each_alert, Origin, RawAlert};
use ampel::AlertDecoder;
use std::ops::ControlFlow;
use std::path::PathBuf;

#[path = "shared_data.rs"]
mod shared_data;
#[allow(unused_imports)]
pub use shared_data::{data, ZTF_SETS};

pub const LSST_SET: &str = "lsst_v9.0_20250905";

/// Every message of an archive, undecoded, in archive order.
pub fn raw_messages(set: &str) -> Vec<RawAlert> {
    let mut out = Vec::new();
    for_each_alert(&[data(&format!("{set}.tar.gz"))], |m| {
        out.push(m.expect("test archives read cleanly"));
        ControlFlow::Continue(())
    });
    assert!(!out.is_empty(), "{set} holds alerts");
    out
}

/// Every alert of an archive, decoded and shaped, with its origin.
pub fn alerts(set: &str) -> Vec<(Origin, Alert)> {
    let decoder = AlertDecoder::new();
    raw_messages(set)
        .into_iter()
        .flat_map(|m| {
            let alerts = decoder
                .decode(m.bytes)
                .unwrap_or_else(|e| panic!("{}: {e}", m.origin));
            alerts.into_iter().map(move |a| (m.origin.clone(), a))
        })
        .collect()
}

/// The expected lines for a set (tests/data/expected/SET.jsonl).
pub fn expected(set: &str) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(data(&format!("expected/{set}.jsonl"))).expect("expected file");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// DecentFilter configs shared with the Python reference script.
pub fn decent_configs() -> serde_json::Map<String, serde_json::Value> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/decent_configs.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v.as_object().unwrap().clone()
}
