//! The identities and DecentFilter verdicts on real alerts equal what Python
//! AMPEL computed for the same alerts (tests/reference/ampel_reference.py).

mod common;

use ampel::astro::icrs_to_galactic;
use ampel::id::t1_link;
use ampel::units::{build_filter, UnitContext};
use common::*;
use serde_json::Value;

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

#[test]
fn stock_ids_datapoints_and_links_match_python_ampel() {
    for set in ZTF_SETS {
        let got = alerts(set);
        let want = expected(set);
        assert_eq!(got.len(), want.len(), "{set}: alert count");
        for ((origin, alert), exp) in got.iter().zip(&want) {
            let member = origin.member.as_deref().unwrap();
            assert_eq!(member, exp["member"].as_str().unwrap(), "{set}: order");
            assert_eq!(alert.id, exp["candid"].as_i64().unwrap(), "{member}");
            assert_eq!(alert.name, exp["objectId"].as_str().unwrap(), "{member}");
            assert_eq!(
                alert.stock,
                exp["stock"].as_i64().unwrap(),
                "{member}: stock"
            );
            assert_eq!(
                alert.datapoint_ids(true),
                ids(&exp["datapoints"]),
                "{member}: datapoints"
            );
            assert_eq!(
                i64::from(t1_link(&alert.datapoint_ids(false))),
                exp["link"].as_i64().unwrap(),
                "{member}: public link"
            );
            assert_eq!(
                i64::from(t1_link(&alert.datapoint_ids(true))),
                exp["link_priv"].as_i64().unwrap(),
                "{member}: private link"
            );
        }
    }
}

/// Every datapoint body T0 writes is the body ZiDataPointShaper makes:
/// the stored JSON, read back and written as Python's `json.dumps` writes
/// it, has the digest the reference computed over Python's body.
#[test]
fn stored_datapoint_bodies_match_zi_datapoint_shaper() {
    use ampel::id::pyjson;
    use ampel::survey::document::datapoint_body;
    let mut checked = 0;
    for set in ZTF_SETS {
        for ((origin, alert), exp) in alerts(set).iter().zip(expected(set)) {
            let want: Vec<u64> = exp["t0_body_digests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap())
                .collect();
            assert_eq!(want.len(), alert.datapoints.len(), "{origin}");
            for (dp, want) in alert.datapoints.iter().zip(want) {
                let stored = serde_json::to_string(&datapoint_body(alert, dp)).unwrap();
                let mut text = String::new();
                pyjson::write_value(&mut text, &serde_json::from_str(&stored).unwrap());
                let got = xxhash_rust::xxh64::xxh64(text.as_bytes(), 0);
                assert_eq!(got, want, "{origin}: datapoint {}: {text}", dp.id);
                checked += 1;
            }
        }
    }
    assert!(checked > 5000, "{checked}");
}

#[test]
fn galactic_latitude_matches_astropy() {
    let mut worst: f64 = 0.0;
    for set in ZTF_SETS {
        for ((_, alert), exp) in alerts(set).iter().zip(expected(set)) {
            let body = &alert.latest().body;
            let (_, b) = icrs_to_galactic(body.f64("ra").unwrap(), body.f64("dec").unwrap());
            worst = worst.max((b - exp["gal_b"].as_f64().unwrap()).abs());
        }
    }
    // 1e-8 deg = 36 microarcseconds.
    assert!(worst < 1e-8, "largest difference to astropy: {worst} deg");
}

#[test]
fn decent_filter_verdicts_match_python_ampel() {
    let ctx = UnitContext::new();
    for (name, config) in decent_configs() {
        let filter = build_filter("DecentFilter", &config, &ctx).unwrap();
        let mut accepted = 0;
        for set in ZTF_SETS {
            for ((origin, alert), exp) in alerts(set).iter().zip(expected(set)) {
                let want = exp["verdicts"][&name].as_bool().unwrap();
                let got = filter.process(alert);
                assert_eq!(got.accepted(), want, "config {name}, {origin}: {got:?}");
                accepted += usize::from(want);
            }
        }
        eprintln!("config {name}: {accepted} of 252 accepted");
    }
}

/// Python AMPEL's pydantic models coerce `1.0` to an int and `"0.3"` to a
/// float; such configs give the same verdicts here.
#[test]
fn lax_numbers_as_in_pydantic() {
    let mut cfg = decent_configs()["standard"].clone();
    cfg["min_ndet"] = serde_json::json!(1.0);
    cfg["max_nbad"] = serde_json::json!("2");
    cfg["min_rb"] = serde_json::json!("0.3");
    let filter = build_filter("DecentFilter", &cfg, &UnitContext::new()).unwrap();
    for ((origin, alert), exp) in alerts(ZTF_SETS[2]).iter().zip(expected(ZTF_SETS[2])) {
        let want = exp["verdicts"]["standard"].as_bool().unwrap();
        assert_eq!(filter.process(alert).accepted(), want, "{origin}");
    }
    cfg["min_ndet"] = serde_json::json!(1.5);
    let e = build_filter("DecentFilter", &cfg, &UnitContext::new())
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains("min_ndet: invalid value: floating point `1.5`, expected an integer"),
        "{e}"
    );
}

/// T2LightCurveSummary on each alert's public state equals Python AMPEL's
/// body (ZiDataPointShaper bodies, T1 dps sorted, LightCurve.build).
#[test]
fn lightcurve_summary_bodies_match_python_ampel() {
    use ampel::store::DataPointDoc;
    use ampel::survey::document::{datapoint_body, visible};
    use ampel::t2::{build_t2, T2Input, T2Outcome};
    let unit = build_t2(
        "T2LightCurveSummary",
        &serde_json::json!({}),
        &UnitContext::new(),
    )
    .unwrap();
    let access = vec!["ZTF".to_string(), "ZTF_PUB".to_string()];
    let (mut with_nondetection, mut python_with_nondetection) = (0, 0);
    for set in ZTF_SETS {
        for ((origin, alert), exp) in alerts(set).iter().zip(expected(set)) {
            let mut docs: Vec<DataPointDoc> = alert
                .datapoints
                .iter()
                .map(|dp| DataPointDoc {
                    id: dp.id,
                    stock: vec![alert.stock],
                    channel: vec![],
                    tag: dp.tags.iter().map(|t| t.to_string()).collect(),
                    meta: vec![],
                    body: datapoint_body(alert, dp),
                })
                .filter(|d| visible(&d.tag, &access))
                .collect();
            docs.sort_by_key(|d| d.id);
            let docs: Vec<std::sync::Arc<DataPointDoc>> =
                docs.into_iter().map(Into::into).collect();
            let deps = Default::default();
            let input = T2Input {
                stock: alert.stock,
                datapoints: &docs,
                state: None,
                stock_doc: None,
                dependencies: &deps,
            };
            let T2Outcome::Ok(body) = unit.process(&input) else {
                panic!("{origin}")
            };
            assert_eq!(body, exp["t2_lightcurve_summary"], "{origin}");
            assert_eq!(
                serde_json::to_string(&body).unwrap().len(),
                serde_json::to_string(&exp["t2_lightcurve_summary"])
                    .unwrap()
                    .len()
            );
            with_nondetection +=
                usize::from(body.get("last_significant_nondetection_jd").is_some());
            python_with_nondetection += usize::from(
                exp["t2_lightcurve_summary"]
                    .get("last_significant_nondetection_jd")
                    .is_some(),
            );
        }
    }
    // Upper limits are exercised, not only detections.
    assert_eq!(with_nondetection, python_with_nondetection);
    assert!(with_nondetection > 100, "{with_nondetection}");
}
