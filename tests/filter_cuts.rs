//! Every DecentFilter / SimpleDecentFilter check, on real alerts, on both
//! sides of its threshold: the threshold is set to the alert's own value
//! (the boundary) and just past it, all other cuts loose.

mod common;

use ampel::alert::{Alert, Value};
use ampel::astro::icrs_to_galactic;
use ampel::catalog::Catalog;
use ampel::units::{build_filter, FilterVerdict, UnitContext};
use common::*;
use serde_json::{json, Value as Json};
use std::path::Path;

const EPS: f64 = 1e-6;

fn loose() -> Json {
    decent_configs()["loose"].clone()
}

fn run(alert: &Alert, overrides: Json, ctx: &UnitContext) -> FilterVerdict {
    let mut cfg = loose();
    for (k, v) in overrides.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    build_filter("DecentFilter", &cfg, ctx)
        .unwrap()
        .process(alert)
}

fn accepts(alert: &Alert, overrides: Json) -> bool {
    run(alert, overrides, &UnitContext::new()).accepted()
}

fn rejected_by(alert: &Alert, overrides: Json) -> &'static str {
    match run(alert, overrides, &UnitContext::new()) {
        FilterVerdict::Reject(r) => r.cut,
        v => panic!("expected a rejection, got {v:?}"),
    }
}

/// Real alerts the loose config accepts.
fn accepted() -> Vec<Alert> {
    let out: Vec<Alert> = ZTF_SETS
        .iter()
        .flat_map(|s| alerts(s))
        .map(|(_, a)| a)
        .filter(|a| accepts(a, json!({})))
        .collect();
    assert!(out.len() > 30);
    out
}

fn f(a: &Alert, k: &str) -> f64 {
    a.latest().body.f64(k).unwrap()
}

fn jd_span(a: &Alert) -> f64 {
    let jds: Vec<f64> = a.detections().map(|d| d.body.f64("jd").unwrap()).collect();
    jds.iter().cloned().fold(f64::MIN, f64::max) - jds.iter().cloned().fold(f64::MAX, f64::min)
}

#[test]
fn history_cuts() {
    let all = accepted();
    let a = all.iter().find(|a| a.detections().count() >= 3).unwrap();
    let n = a.detections().count() as i64;
    assert!(accepts(a, json!({"min_ndet": n})));
    assert_eq!(rejected_by(a, json!({"min_ndet": n + 1})), "min_ndet");

    let t = jd_span(a);
    assert!(t > 0.0);
    assert!(
        accepts(a, json!({"min_tspan": t, "max_tspan": t})),
        "span bounds are inclusive"
    );
    assert_eq!(rejected_by(a, json!({"min_tspan": t + EPS})), "min_tspan");
    assert_eq!(rejected_by(a, json!({"max_tspan": t - EPS})), "max_tspan");
}

#[test]
fn image_quality_cuts() {
    let all = accepted();
    let a = &all[0];
    for (key, cut, greater_rejects) in [
        ("rb", "min_rb", false),
        ("fwhm", "max_fwhm", true),
        ("elong", "max_elong", true),
    ] {
        let v = f(a, key);
        let param = cut;
        if greater_rejects {
            assert!(accepts(a, json!({ param: v })), "{key} at the bound");
            assert_eq!(rejected_by(a, json!({ param: v - EPS })), cut);
        } else {
            assert!(accepts(a, json!({ param: v })), "{key} at the bound");
            assert_eq!(rejected_by(a, json!({ param: v + EPS })), cut);
        }
    }
    let m = f(a, "magdiff").abs();
    assert!(accepts(a, json!({"max_magdiff": m})));
    assert_eq!(
        rejected_by(a, json!({"max_magdiff": m - EPS})),
        "max_magdiff"
    );
}

#[test]
fn drb_cut_where_present_and_absent() {
    let all = accepted();
    let a = all
        .iter()
        .find(|a| a.latest().body.f64("drb").is_some())
        .unwrap();
    let drb = f(a, "drb");
    assert!(accepts(a, json!({"min_drb": drb})));
    assert_eq!(rejected_by(a, json!({"min_drb": drb + EPS})), "min_drb");
    // Schema 3.0 has no drb: the cut does not apply.
    let old = all
        .iter()
        .find(|a| !a.latest().body.contains("drb"))
        .unwrap();
    assert!(accepts(old, json!({"min_drb": 0.999})));
    // A null drb rejects (Python AMPEL would raise on `None < min_drb`).
    let mut nulled = a.clone();
    nulled.datapoints[0].body.set("drb", Value::Null);
    assert_eq!(rejected_by(&nulled, json!({"min_drb": 0.5})), "min_drb");
    assert!(accepts(&nulled, json!({})), "min_drb 0 skips the check");
}

#[test]
fn required_fields_and_isdiffpos() {
    let all = accepted();
    for key in ["fwhm", "sgscore3", "ssdistnr", "isdiffpos"] {
        let mut a = all[0].clone();
        assert!(a.datapoints[0].body.set(key, Value::Null));
        assert_eq!(rejected_by(&a, json!({})), "keys_to_check", "{key}");
    }
    let negative = ZTF_SETS
        .iter()
        .flat_map(|s| alerts(s))
        .map(|(_, a)| a)
        .find(|a| a.latest().body.str("isdiffpos") == Some("f"))
        .unwrap();
    assert_eq!(rejected_by(&negative, json!({})), "isdiffpos");
    let mut zero = all[0].clone();
    zero.datapoints[0]
        .body
        .set("isdiffpos", Value::Str("0".into()));
    assert_eq!(rejected_by(&zero, json!({})), "isdiffpos");
    assert_eq!(all[0].latest().body.str("isdiffpos"), Some("t"));
}

#[test]
fn archive_span_is_strict() {
    let all = accepted();
    let a = all
        .iter()
        .find(|a| a.latest().body.f64("jdendhist").is_some())
        .unwrap();
    let span = f(a, "jdendhist") - f(a, "jdstarthist");
    assert!(accepts(
        a,
        json!({"min_archive_tspan": span - EPS, "max_archive_tspan": span + EPS})
    ));
    assert_eq!(
        rejected_by(a, json!({"min_archive_tspan": span})),
        "min_archive_tspan"
    );
    assert_eq!(
        rejected_by(a, json!({"max_archive_tspan": span})),
        "max_archive_tspan"
    );
}

#[test]
fn solar_system_and_galactic_plane() {
    let all = accepted();
    let a = all.iter().find(|a| f(a, "ssdistnr") >= 0.0).unwrap();
    let d = f(a, "ssdistnr");
    assert!(accepts(a, json!({"min_sso_dist": d})));
    assert_eq!(
        rejected_by(a, json!({"min_sso_dist": d + EPS})),
        "min_sso_dist"
    );
    let far = all.iter().find(|a| f(a, "ssdistnr") < 0.0).unwrap();
    assert!(
        accepts(far, json!({"min_sso_dist": 1e9})),
        "ssdistnr -999: no known object"
    );

    let (_, b) = icrs_to_galactic(f(a, "ra"), f(a, "dec"));
    assert!(accepts(a, json!({"min_gal_lat": b.abs()})));
    assert_eq!(
        rejected_by(a, json!({"min_gal_lat": b.abs() + EPS})),
        "min_gal_lat"
    );
}

#[test]
fn ps1_star_and_confusion() {
    let all = accepted();
    let a = &all[0];
    let (d1, sg1) = (f(a, "distpsnr1"), f(a, "sgscore1"));
    let star = json!({"ps1_sgveto_rad": d1 + EPS, "ps1_sgveto_th": sg1 - EPS});
    assert_eq!(rejected_by(a, star), "ps1_sgveto");
    assert!(accepts(
        a,
        json!({"ps1_sgveto_rad": d1, "ps1_sgveto_th": sg1 - EPS})
    ));
    assert!(accepts(
        a,
        json!({"ps1_sgveto_rad": d1 + EPS, "ps1_sgveto_th": sg1})
    ));

    let dmax = ["distpsnr1", "distpsnr2", "distpsnr3"]
        .map(|k| f(a, k))
        .into_iter()
        .fold(f64::MIN, f64::max);
    let tol = ["sgscore1", "sgscore2", "sgscore3"]
        .map(|k| (f(a, k) - 0.5).abs())
        .into_iter()
        .fold(f64::MIN, f64::max);
    assert_eq!(
        rejected_by(
            a,
            json!({"ps1_confusion_rad": dmax + EPS, "ps1_confusion_sg_tol": tol + EPS})
        ),
        "ps1_confusion"
    );
    assert!(accepts(
        a,
        json!({"ps1_confusion_rad": dmax, "ps1_confusion_sg_tol": tol + EPS})
    ));
    assert!(accepts(
        a,
        json!({"ps1_confusion_rad": dmax + EPS, "ps1_confusion_sg_tol": tol})
    ));
}

fn gaia_ctx(a: &Alert, rows: &[&str]) -> UnitContext {
    let (ra, dec) = (f(a, "ra"), f(a, "dec"));
    let mut text =
        String::from("ra,dec,Mag_G,PMRA,ErrPMRA,PMDec,ErrPMDec,Plx,ErrPlx,ExcessNoiseSig\n");
    for r in rows {
        // Each row: "dra_arcsec,ddec_arcsec,rest..." relative to the alert.
        let (off, rest) = r.split_once(';').unwrap();
        let (dra, ddec) = off.split_once(',').unwrap();
        let ddec: f64 = ddec.parse::<f64>().unwrap() / 3600.0;
        let dra: f64 = dra.parse::<f64>().unwrap() / 3600.0 / dec.to_radians().cos();
        text.push_str(&format!("{},{},{rest}\n", ra + dra, dec + ddec));
    }
    let mut ctx = UnitContext::new();
    ctx.add_catalog(Catalog::parse("GAIADR2", Path::new("test.csv"), &text).unwrap());
    ctx
}

#[test]
fn gaia_veto_with_a_local_catalogue() {
    let all = accepted();
    let a = &all[0];
    let gaia = json!({"gaia_rs": 20, "gaia_pm_signif": 3, "gaia_plx_signif": 3,
        "gaia_veto_gmag_min": 9, "gaia_veto_gmag_max": 20, "gaia_excessnoise_sig_max": 2});
    let verdict = |rows: &[&str]| run(a, gaia.clone(), &gaia_ctx(a, rows));
    // A bright star 1" away with a significant proper motion: vetoed.
    assert_eq!(
        verdict(&["1,0;15,10,1,0,1,0,1,0"]).rejection().unwrap().cut,
        "gaia"
    );
    // ... significant parallax only: vetoed.
    assert_eq!(
        verdict(&["0,1;15,0,1,0,1,5,1,0"]).rejection().unwrap().cut,
        "gaia"
    );
    // No significant motion: kept.
    assert!(verdict(&["1,0;15,1,1,1,1,1,1,0"]).accepted());
    // Faint (G 19.5): its radius is 1.8 + 0.6 exp(0.5/2.05) = 2.57", and it is 3" away.
    assert!(verdict(&["3,0;19.5,10,1,0,1,0,1,0"]).accepted());
    assert_eq!(
        verdict(&["2,0;19.5,10,1,0,1,0,1,0"])
            .rejection()
            .unwrap()
            .cut,
        "gaia"
    );
    // Outside the magnitude window, or astrometrically noisy: not trusted.
    assert!(verdict(&["1,0;8,10,1,0,1,0,1,0"]).accepted());
    assert!(verdict(&["1,0;15,10,1,0,1,0,1,5"]).accepted());
    // Missing values (NaN) never veto, as in Python.
    assert!(verdict(&["1,0;15,,,,,,,"]).accepted());
    // Beyond gaia_rs: not even found.
    assert!(verdict(&["30,0;15,10,1,0,1,0,1,0"]).accepted());
    // gaia_rs 0 disables the veto whatever the catalogue says.
    let off = run(
        a,
        json!({"gaia_rs": 0}),
        &gaia_ctx(a, &["1,0;15,10,1,0,1,0,1,0"]),
    );
    assert!(off.accepted());
}

#[test]
fn gaia_veto_without_catalogue_is_a_config_error() {
    let mut cfg = loose();
    cfg["gaia_rs"] = json!(20);
    let e = build_filter("DecentFilter", &cfg, &UnitContext::new())
        .err()
        .unwrap();
    assert_eq!(e.problems[0].path, "gaia_rs");
    assert!(e.to_string().contains("GAIADR2"), "{e}");
}

#[test]
fn simple_decent_filter_defaults_and_detection_rule() {
    let ctx = UnitContext::new();
    let simple = build_filter("SimpleDecentFilter", &json!({}), &ctx).unwrap();
    let mut defaults = loose();
    for (k, v) in [
        ("min_ndet", json!(2)),
        ("min_tspan", json!(0.02)),
        ("max_tspan", json!(25.0)),
        ("min_rb", json!(0.3)),
        ("max_fwhm", json!(5.0)),
        ("max_elong", json!(1.4)),
        ("max_magdiff", json!(0.4)),
        ("min_sso_dist", json!(20.0)),
        ("min_gal_lat", json!(0.0)),
        ("ps1_sgveto_rad", json!(2.0)),
        ("ps1_sgveto_th", json!(0.8)),
        ("ps1_confusion_rad", json!(1.0)),
        ("ps1_confusion_sg_tol", json!(0.5)),
    ] {
        defaults[k] = v;
    }
    let decent = build_filter("DecentFilter", &defaults, &ctx).unwrap();
    let mut n_accept = 0;
    for set in ZTF_SETS {
        for (origin, a) in alerts(set) {
            // ZTF detections always carry magpsf, so the two detection rules agree.
            let (s, d) = (simple.process(&a), decent.process(&a));
            assert_eq!(s.accepted(), d.accepted(), "{origin}: {s:?} vs {d:?}");
            n_accept += usize::from(s.accepted());
        }
    }
    assert!(n_accept > 0);
    // An unknown parameter is named.
    let e = build_filter("SimpleDecentFilter", &json!({"min_rbb": 0.2}), &ctx)
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains("min_rbb: unknown parameter (did you mean min_rb?)"),
        "{e}"
    );
}
