//! `ampel bench night` on a small night: it reports every slice, and the
//! night it made has the structure it promises (objects seen more than
//! once with their earlier detections in the history, upper limits shared
//! by the objects of one exposure), stored without failures; a fifth of
//! it Rubin packets, taken by the Rubin channel alone, with their own
//! growing histories (earlier detections and forced photometry).

mod services;

use ampel::store::{open_embedded, Archive, StockQuery};
use serde_json::Value;
use std::collections::BTreeMap;

#[test]
fn a_small_night_is_replayed_slice_by_slice_with_its_structure() {
    let dir = tempfile::tempdir().unwrap();
    let job = services::repo_root().join("config/bench/night.yml");
    let out = services::ampel()
        .args([
            "bench", "night", "--alerts", "600", "--slices", "3", "--job",
        ])
        .arg(&job)
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(report["alerts"], 600, "{report}");
    let slices = report["slices"].as_array().unwrap();
    assert_eq!(slices.len(), 3);
    for s in slices {
        assert_eq!(s["failed"], 0, "{s}");
        assert!(s["alerts_per_s"].as_f64().unwrap() > 0.0);
        assert!(s["peak_rss_bytes"].as_u64().unwrap() > 0);
    }
    assert_eq!(report["at_100_percent"]["alerts"], 600);
    // The open channel takes what AMPEL's DecentFilter with every
    // threshold open takes (55 of the 172 real templates), the standard
    // settings fewer.
    let all: u64 = slices
        .iter()
        .map(|s| s["accepted_by_channel"]["NIGHT_ALL"].as_u64().unwrap_or(0))
        .sum();
    let decent: u64 = slices
        .iter()
        .map(|s| {
            s["accepted_by_channel"]["NIGHT_DECENT"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();
    assert!(all >= 120, "the open channel accepted {all} of 600");
    assert!(
        decent > 0 && decent < all,
        "DecentFilter accepted {decent}, the open one {all}"
    );

    let a = open_embedded(&format!(
        "sqlite:{}",
        dir.path().join("night.sqlite").display()
    ))
    .unwrap();
    let stocks = a
        .stocks(&StockQuery {
            channel: Some("NIGHT_ALL".into()),
            ..StockQuery::default()
        })
        .unwrap();
    let alerts_per_stock: Vec<usize> = stocks
        .iter()
        .map(|s| {
            s.journal
                .iter()
                .filter(|j| j.tier == 0 && j.channel.iter().any(|c| c == "NIGHT_ALL"))
                .count()
        })
        .collect();
    assert!(
        alerts_per_stock.iter().any(|n| *n >= 3),
        "objects recur in the night: {alerts_per_stock:?}"
    );
    // A recurring object's latest state holds its earlier detections, and
    // an upper limit of its exposure is one datapoint for several objects.
    let mut holders: BTreeMap<i64, usize> = BTreeMap::new();
    for s in &stocks {
        for d in a.datapoints(s.stock).unwrap() {
            if d.id < 0 {
                *holders.entry(d.id).or_default() += 1;
            } else {
                // A detection is one object's (its candid is its own).
                assert_eq!(d.stock.len(), 1, "detection {} held by {:?}", d.id, d.stock);
            }
        }
    }
    let shared = holders.values().filter(|n| **n >= 2).count();
    assert!(shared > 0, "no upper limit shared by two objects");

    // The ZTF channels hold ZTF stocks only.
    assert!(
        stocks.iter().all(|s| s.tag == ["ZTF"]),
        "a Rubin stock in NIGHT_ALL"
    );

    // Rubin: a share of the night, the Rubin channel's alone.
    assert_eq!(report["rubin_share"], 0.2, "{report}");
    let rubin = a
        .stocks(&StockQuery {
            channel: Some("NIGHT_RUBIN".into()),
            ..StockQuery::default()
        })
        .unwrap();
    assert!(rubin.len() >= 10, "{} Rubin stocks", rubin.len());
    assert!(rubin
        .iter()
        .all(|s| s.tag == ["LSST"] && s.channel == ["NIGHT_RUBIN"]));
    let histories: Vec<(usize, usize)> = rubin
        .iter()
        .map(|s| {
            let dps = a.datapoints(s.stock).unwrap();
            let tagged = |t: &str| dps.iter().filter(|d| d.tag.iter().any(|x| x == t)).count();
            (tagged("LSST_DP"), tagged("LSST_FP"))
        })
        .collect();
    assert!(
        histories.iter().any(|(det, fp)| *det >= 2 && *fp >= 1),
        "no Rubin object with earlier detections and forced photometry: {histories:?}"
    );
    // Each Rubin detection got its catalogue match.
    let matched = a
        .t2(&ampel::store::T2Query {
            unit: Some("T2CatalogMatch".into()),
            ..Default::default()
        })
        .unwrap();
    let detections: usize = histories.iter().map(|(d, _)| d).sum();
    assert!(matched.len() >= rubin.len() && matched.len() <= detections);
    assert!(matched.iter().all(|t| t.code == 0), "{matched:?}");

    // A second night into the same directory would measure re-ingestion
    // (no new documents, no T2 runs) without saying so: refused.
    let again = services::ampel()
        .args(["bench", "night", "--alerts", "10", "--job"])
        .arg(&job)
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{err}");
    assert!(err.contains("left from an earlier night"), "{err}");
}
